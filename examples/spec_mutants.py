"""Faulty reference services: the spec interpreter running a mutant of a spec.

A :class:`~sagaspec.model.mutation.Mutant` changes the spec (its services then simply
run the changed spec) or names changed behaviours, implemented here: no idempotency
store, a duplicate handled again, the processed mark committed before the work, events
published before the commit, the wrong saga id or JSON type, input not validated. The
conformance suite finds :func:`mutant_service` by name (the ``mutant`` entry point of
``sagaspec.interpreters``); it never imports this module.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sagaspec.examples.interpreter import SpecService
from sagaspec.spec.sagafile import Alternative, SpecReaction

__all__ = ["MutantService", "mutant_service"]


class _WireTx:
    """A store transaction whose ``emit`` goes straight to the wire (no outbox)."""

    def __init__(self, tx, wire: list) -> None:
        self._tx = tx
        self._wire = wire

    def __getattr__(self, name: str):
        return getattr(self._tx, name)

    def emit(self, event: dict) -> None:
        self._wire.append(event)


def _as_number(event: dict, fields: tuple[str, ...]) -> dict:
    """``event`` with one field of ``fields`` of the wrong JSON type: a decimal string as a
    number if there is one (money as 100.0), else the first string as a number, else the
    first field as a string."""
    import re

    present = [k for k in fields if k in event]
    strings = [k for k in present if isinstance(event[k], str)]
    decimal = [k for k in strings if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", event[k])]
    if decimal:
        return dict(event, **{decimal[0]: float(event[decimal[0]])})
    if strings:
        return dict(event, **{strings[0]: len(event[strings[0]])})
    if present:
        return dict(event, **{present[0]: str(event[present[0]])})
    return event


class MutantService(SpecService):
    """The interpreter with a changed behaviour (see :data:`OPERATORS`)."""

    behaviour: frozenset[str] = frozenset()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # What each handled eventId did (the alternative taken): kept over restarts,
        # as a handler's code path is; ``_here`` is process memory, lost on a restart.
        self._taken: dict[str, Any] = {}
        self._here: set[str] = set()
        self._wire: list[dict] = []

    def handle(self, message):
        if "trusts-input" not in self.behaviour:
            return super().handle(message)
        data = json.loads(message) if isinstance(message, (bytes, str)) else message
        if data["eventType"] not in self.subscribes:
            return "ignored"
        return self.process(data)

    def process(self, event):
        b = self.behaviour
        eid = event["eventId"]
        if b & {"redo-duplicate", "volatile-idempotency"}:
            with self.store.transaction() as tx:
                seen = tx.processed(eid)
            if seen and eid in self._taken and ("redo-duplicate" in b or eid not in self._here):
                self._redo(event, self._taken[eid])
                self._here.add(eid)
                return "processed"
        if "mark-before-work" in b:
            with self.store.transaction() as tx:
                if tx.processed(eid):
                    return "duplicate"
                tx.mark_processed(eid, event["sagaId"])
            with self.store.transaction() as tx:
                self._react(tx, event)
                self.checkpoint("before-commit")
            self.checkpoint("after-commit")
            return "processed"
        if "publish-before-commit" in b:
            with self.store.transaction() as tx:
                if tx.processed(eid):
                    return "duplicate"
                tx.mark_processed(eid, event["sagaId"])
                self._react(_WireTx(tx, self._wire), event)
                self.checkpoint("before-commit")
            self.checkpoint("after-commit")
            return "processed"
        if "no-idempotency" in b or "re-emit" in b:
            with self.store.transaction() as tx:
                seen = tx.processed(eid)
            if seen and "re-emit" in b:
                last = getattr(self, "_last", {}).get(eid)
                if last:
                    with self.store.transaction() as tx:
                        for e in last:
                            tx.emit(dict(e, eventId=e["eventId"] + "-again"))
                return "duplicate"
            if seen and "no-idempotency" in b:
                with self.store.transaction() as tx:
                    self._react(tx, event)
                return "processed"
        before = len(self.decisions)
        result = super().process(event)
        if len(self.decisions) > before:
            self.__dict__.setdefault("_last", {})[eid] = self.decisions[-1].emitted
            self._taken[eid] = self.decisions[-1].alternative
        self._here.add(eid)
        return result

    def _redo(self, event, alt) -> None:
        """Apply ``alt`` (what the first delivery did) again, whatever the state now."""
        if alt is None:
            return
        reaction = _unguarded(self.model.by_event[event["eventType"]], alt)
        with self.store.transaction() as tx:
            record, shared = self._load(tx, event["sagaId"])
            slot = self.model._split(self._state(record, shared))[1][0]
            ((label, new_slot, new_shared, emit, _alt),) = self.model._run(reaction, slot, shared)
            emitted = [self._build(record, event, e) for e in emit]
            for e in emitted:
                tx.emit(e)
            self._save(tx, event["sagaId"], record, self.model._join(new_shared, (new_slot,)))
            self.checkpoint("before-commit")
        self.checkpoint("after-commit")

    def relay(self, publish=None):
        wire, self._wire[:] = list(self._wire), []
        for e in wire:
            (publish or self.publisher)(e)
        return len(wire) + super().relay(publish)

    def _build(self, record, cause, event_type, given=None):
        out = super()._build(record, cause, event_type, given)
        if "wrong-saga" in self.behaviour:
            out["sagaId"] = out["sagaId"] + "-x"
        if "wrong-type" in self.behaviour:
            out = _as_number(out, tuple(f.name for f in self.spec.event(event_type).fields))
        return out

    def restarted(self):
        fresh = super().restarted()
        fresh.__class__ = type(self)
        fresh.behaviour = self.behaviour
        fresh._taken = self._taken
        fresh._here = set()
        fresh._wire = self._wire  # published before the crash: already on the wire
        if "re-emit" in self.behaviour:
            fresh._last = getattr(self, "_last", {})
        if any(isinstance(d, _Lenient) for d in self.model.domains.values()):
            fresh.model.domains = {k: _Lenient(d) for k, d in fresh.model.domains.items()}
        return fresh


_UNGUARDED: dict[tuple[int, int], Any] = {}


def _unguarded(reaction: SpecReaction, alt: Alternative) -> SpecReaction:
    """``reaction`` with only ``alt``, unguarded (kept alive: the model memoizes by id)."""
    key = (id(reaction), id(alt))
    if key not in _UNGUARDED:
        _UNGUARDED[key] = (reaction, alt, dataclasses.replace(
            reaction, alternatives=(dataclasses.replace(alt, when=None, otherwise=False),)))
    return _UNGUARDED[key][2]


class _Lenient:
    """A variable's domain that lets an out-of-domain value through (a faulty service's)."""

    def __init__(self, domain) -> None:
        self.domain = domain

    def __getattr__(self, name: str):
        # Its bounds (a key not set yet starts at ``low``) are the domain's; not the
        # dunders copy looks up on a copy that has no ``domain`` yet.
        if name.startswith("__") or name == "domain":
            raise AttributeError(name)
        return getattr(self.domain, name)

    def check(self, value, where, what):
        try:
            return self.domain.check(value, where, what)
        except Exception:  # noqa: BLE001 - the mutant keeps the out-of-domain value
            return value


def mutant_service(*args: Any, lenient: bool = False, **kwargs: Any) -> MutantService:
    """A :class:`MutantService` (arguments as :class:`SpecService`'s); ``lenient``: its
    variables take values out of their domains (stock below zero) instead of raising."""
    svc = MutantService(*args, **kwargs)
    if lenient:
        # A faulty service may take a value out of its domain (stock below zero); it does
        # not stop there: the oracle is what must notice.
        svc.model.domains = {k: _Lenient(d) for k, d in svc.model.domains.items()}
    return svc
