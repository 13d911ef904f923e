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

>>> c = {"eventId": "c", "causationId": "d"}
>>> d = {"eventId": "d"}
>>> [e["eventId"] for e in canonical_order([c, d])]
['d', 'c']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["canonical_order"]


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
