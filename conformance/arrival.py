"""The order in which the suite judges what one ``collect`` returned.

Over a broker the service's outputs reach the suite's observer through several streams
and consumers, so the order they arrive in within one collect window varies from run
to run and need not be the order they happened in: an effect may even arrive before its
cause, which the oracle and the history checks (they read events one at a time) would
take for a reaction to nothing. So a batch is judged causes first: an event whose
``causationId`` names another event of the same batch comes after it (a stable
topological sort: otherwise arrival order). Timestamps are not used: clocks of services
on several hosts disagree, and arrival order is the better evidence then.
:class:`~sagaspec.adapters.base.RawMessage` items (not events) keep their positions.
An already ordered batch (in-process services, one stream) is left as it is.

:func:`nothing_more` says when a collect may stop waiting: once what arrived so far is
observed, no configuration the model still allows owes another publication (instead of
a quiet window after every delivery).

>>> c = {"eventId": "c", "causationId": "d"}
>>> d = {"eventId": "d"}
>>> [e["eventId"] for e in canonical_order([c, d])]
['d', 'c']
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["canonical_order", "nothing_more", "done_predicate"]


def _causes_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {e.get("eventId"): i for i, e in enumerate(events) if isinstance(e.get("eventId"), str)}
    cause = [ids.get(e.get("causationId")) for e in events]
    if all(c is None for c in cause):
        return events
    out: list[dict[str, Any]] = []
    placed = [False] * len(events)
    while len(out) < len(events):
        progressed = False
        for i, e in enumerate(events):
            c = cause[i]
            # A cause cycle (a broken service) cannot be ordered: leave it as it came.
            if not placed[i] and (c is None or c == i or placed[c]):
                placed[i] = True
                out.append(e)
                progressed = True
                break
        if not progressed:
            out.extend(e for i, e in enumerate(events) if not placed[i])
            break
    return out


def canonical_order(items: Sequence[Any]) -> list[Any]:
    """``items`` (events and raw messages of one collect) in the order to judge them."""
    slots = [i for i, x in enumerate(items) if isinstance(x, dict)]
    if len(slots) < 2:
        return list(items)
    events = _causes_first([items[i] for i in slots])
    out = list(items)
    for i, e in zip(slots, events, strict=True):
        out[i] = e
    return out


def nothing_more(oracle: Any, msgs: Iterable[Any]) -> bool:
    """Whether the SUT can publish nothing more, by the model: ``oracle`` (an
    :class:`~sagaspec.conformance.oracle.Oracle`, left untouched) told of ``msgs`` (what
    arrived, in judging order) owes nothing in any configuration it can still reach. A
    message the model does not allow also ends the wait: the judge fails on it anyway."""
    from sagaspec.conformance.checks import CheckFailed
    from sagaspec.conformance.oracle import BeliefTooLarge

    probe = copy.copy(oracle)
    probe.log = []  # observe() appends to it: not to the judge's
    try:
        for m in msgs:
            probe.observe(m)
        return not any(c.owed for c in probe._closure(probe.belief))
    except (CheckFailed, BeliefTooLarge):
        return True


def done_predicate(oracle: Any, to_msg: Callable[[Any], Any]) -> Callable[[Sequence[Any]], bool]:
    """``done(items)`` for a collect: :func:`nothing_more` of the events among ``items``
    (read in :func:`canonical_order`; ``to_msg`` gives an event's model message, or
    ``None`` for one the model does not track: a re-send, a saga of no case). Anything
    that is not an event ends the wait: the judge fails on it."""
    def done(items: Sequence[Any]) -> bool:
        msgs, seen = [], set()
        for item in canonical_order(items):
            if not isinstance(item, dict):
                return True
            eid = item.get("eventId")
            if isinstance(eid, str):
                if eid in seen:
                    continue  # the same event again (a re-send): observed once
                seen.add(eid)
            m = to_msg(item)
            if m is not None:
                msgs.append(m)
        return nothing_more(oracle, msgs)
    return done
