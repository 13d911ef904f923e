"""Mutants of any saga spec, and the mutation score of the black-box suite against them.

A mutation operator changes one thing in a spec's reactions (a guard dropped, a
compensation skipped, a world decision swapped ...) or in how its reference services
run (no idempotency store, events sent to the wrong saga ...). Each mutant is the
spec's interpreter (the ``reference`` entry point of ``sagaspec.interpreters``, see
:mod:`sagaspec.adapters.plugins`) running the changed spec
or with the changed behaviour; :func:`score` drives every mutant with seeded random
schedules (several sagas interleaved, duplicates, crashes at every crash point, random
worlds) and judges each with :class:`~sagaspec.conformance.spec_oracle.SpecOracle` on
the ORIGINAL spec. A mutant is caught when the oracle reports a failure.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.spec.sagafile import Alternative, SagaSpec, SpecParticipant, SpecReaction

__all__ = ["Mutant", "OPERATORS", "OPERATOR_NAMES", "mutants", "Score", "score", "reference_failure", "run_schedule", "taken_alternatives", "observably_equivalent"]


@dataclass(frozen=True)
class Mutant:
    """A faulty variant: which operator, where, and how to build its services."""

    name: str
    operator: str
    description: str
    spec: SagaSpec
    #: Service behaviours changed (see :data:`BEHAVIOURS`).
    behaviour: frozenset[str] = frozenset()
    #: The alternatives changed: ``(participant, reaction index, alternative index)``.
    sites: tuple[tuple[str, int, int], ...] = ()
    #: The participants whose services have ``behaviour`` (empty: every one).
    participants: frozenset[str] = frozenset()


def _replace_alt(spec: SagaSpec, p: SpecParticipant, r: SpecReaction, j: int, alt: Alternative | None) -> SagaSpec:
    alts = list(r.alternatives)
    if alt is None:
        del alts[j]
    else:
        alts[j] = alt
    return _replace_reaction(spec, p, r, dataclasses.replace(r, alternatives=tuple(alts)))


def _replace_reaction(spec: SagaSpec, p: SpecParticipant, r: SpecReaction, new: SpecReaction) -> SagaSpec:
    reactions = tuple(new if x is r else x for x in p.reactions)
    part = dataclasses.replace(p, reactions=reactions)
    parts = tuple(part if x is p else x for x in spec.participants)
    return dataclasses.replace(spec, participants=parts, name=spec.name + "~mutant")


def _sites(spec: SagaSpec) -> Iterator[tuple[SpecParticipant, SpecReaction, int, Alternative]]:
    for p in spec.participants:
        for r in p.reactions:
            for j, a in enumerate(r.alternatives):
                yield p, r, j, a


def _site(p: SpecParticipant, r: SpecReaction, j: int) -> tuple[tuple[str, int, int], ...]:
    return ((p.name, p.reactions.index(r), j),)


def _where(p: SpecParticipant, r: SpecReaction, a: Alternative) -> str:
    on = "trigger" if r.kind == "trigger" else "+".join(r.on)
    return f"{p.name} on {on}: {a.label}"


def _first(spec: SagaSpec, p: Any, r: Any, j: int, changed: Any) -> SagaSpec:
    """``spec`` with alternative ``j`` of reaction ``r`` replaced by ``changed`` and moved
    first: a weakened alternative wins wherever it now applies."""
    alts = [changed] + [x for n, x in enumerate(r.alternatives) if n != j]
    return _replace_reaction(spec, p, r, dataclasses.replace(r, alternatives=tuple(alts)))


def _drop_guard(spec: SagaSpec) -> Iterator[Mutant]:
    for p, r, j, a in _sites(spec):
        if a.when is not None and len(r.alternatives) > 1:
            new = _first(spec, p, r, j, dataclasses.replace(a, when=None))
            yield Mutant("", "drop-guard", f"{_where(p, r, a)}: guard `{a.when.text}` dropped", new,
                         sites=_site(p, r, j))


def _skip_compensation(spec: SagaSpec) -> Iterator[Mutant]:
    roles = {e.name: e.role for e in spec.events}
    for p, r, j, a in _sites(spec):
        comp = [e for e in a.emit if roles.get(e) == "compensation"]
        if comp:
            new = _replace_alt(spec, p, r, j, dataclasses.replace(a, emit=tuple(e for e in a.emit if e not in comp)))
            yield Mutant("", "skip-compensation", f"{_where(p, r, a)}: does not publish {', '.join(comp)}", new,
                         sites=_site(p, r, j))


def _wrong_event(spec: SagaSpec) -> Iterator[Mutant]:
    for p, r, j, a in _sites(spec):
        if len(a.emit) != 1:
            continue
        others = [e for e in p.publishes if e != a.emit[0]]
        if others:
            new = _replace_alt(spec, p, r, j, dataclasses.replace(a, emit=(others[0],)))
            yield Mutant("", "wrong-event", f"{_where(p, r, a)}: publishes {others[0]} instead of {a.emit[0]}", new,
                         sites=_site(p, r, j))


def _forget_update(spec: SagaSpec) -> Iterator[Mutant]:
    for p, r, j, a in _sites(spec):
        ghosts = {v.name for v in p.state if v.ghost}
        for var, _e in a.updates:
            if var in ghosts:
                continue  # a ghost records the world for properties; the service has no such field
            new = _replace_alt(spec, p, r, j, dataclasses.replace(a, updates=tuple(u for u in a.updates if u[0] != var)))
            yield Mutant("", "forget-update", f"{_where(p, r, a)}: forgets to set {var}", new,
                         sites=_site(p, r, j))


def _swap_world(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        for r in p.reactions:
            decided = [(j, a) for j, a in enumerate(r.alternatives) if a.world]
            if len(decided) < 2:
                continue
            (j1, a1), (j2, a2) = decided[0], decided[1]
            alts = list(r.alternatives)
            alts[j1] = dataclasses.replace(a1, world=a2.world)
            alts[j2] = dataclasses.replace(a2, world=a1.world)
            new = _replace_reaction(spec, p, r, dataclasses.replace(r, alternatives=tuple(alts)))
            yield Mutant("", "swap-world", f"{p.name} on {'+'.join(r.on) or 'trigger'}: {a1.label} and {a2.label} swapped", new,
                         sites=(*_site(p, r, j1), *_site(p, r, j2)))


def _behaviours(spec: SagaSpec) -> Iterator[Mutant]:
    yield Mutant("", "no-idempotency", "every service processes a redelivered event again", spec, frozenset({"no-idempotency"}))
    yield Mutant("", "wrong-saga", "every service publishes with a wrong sagaId", spec, frozenset({"wrong-saga"}))
    yield Mutant("", "re-emit", "a redelivered event makes the service publish its outcome again", spec, frozenset({"re-emit"}))


def _conjuncts(text: str) -> list[str]:
    """``text`` split at its top-level ``&&`` (not inside brackets or quotes)."""
    out, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and text.startswith("&&", i):
            out.append(text[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    out.append(text[start:].strip())
    return out


def _guard_env(spec: SagaSpec, p: SpecParticipant):
    from sagaspec.spec._cel import CelEnv

    names = {"sagas": "int", **{x.name: x.type for x in spec.params}}
    names.update({v.name: v.cel_type for v in (*p.state, *p.shared)})
    return CelEnv(names)


def _drop_conjunct(spec: SagaSpec) -> Iterator[Mutant]:
    for p, r, j, a in _sites(spec):
        if a.when is None or not hasattr(a.when, "program"):
            continue
        parts = _conjuncts(a.when.text)
        if len(parts) < 2:
            continue
        env = _guard_env(spec, p)
        for k, dropped in enumerate(parts):
            rest = " && ".join(x for n, x in enumerate(parts) if n != k)
            when = env.compile(rest, lambda _off, w=a.when.where: w, "bool")
            new = _first(spec, p, r, j, dataclasses.replace(a, when=when))
            yield Mutant("", "drop-conjunct", f"{_where(p, r, a)}: `{dropped}` dropped from its guard", new,
                         sites=_site(p, r, j))


def _drop_join(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        for r in p.reactions:
            if r.kind != "join" or len(r.memory) < 2:
                continue
            for ev, _var in r.memory:
                new = _replace_reaction(spec, p, r, dataclasses.replace(
                    r, memory=tuple(m for m in r.memory if m[0] != ev)))
                yield Mutant("", "drop-join", f"{p.name} on {'+'.join(r.on)}: goes on without waiting for {ev}", new)


def _drop_subscription(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        for r in p.reactions:
            if r.kind != "event":
                continue
            for ev in r.on:
                rest = tuple(e for e in r.on if e != ev)
                reactions = tuple(x for x in p.reactions if x is not r) if not rest else tuple(
                    dataclasses.replace(x, on=rest) if x is r else x for x in p.reactions)
                part = dataclasses.replace(p, subscribes=tuple(e for e in p.subscribes if e != ev), reactions=reactions)
                new = dataclasses.replace(spec, participants=tuple(part if x is p else x for x in spec.participants),
                                          name=spec.name + "~mutant")
                yield Mutant("", "drop-subscription", f"{p.name} does not subscribe to {ev} (never reacts to it)", new)


def _fixed_world(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        for r in p.reactions:
            decided = [(j, a) for j, a in enumerate(r.alternatives) if a.world]
            if len(decided) < 2:
                continue
            for j, a in decided:
                new = _first(spec, p, r, j, dataclasses.replace(a, world=()))
                world = ", ".join(f"{k}={v}" for k, v in a.world)
                yield Mutant("", "fixed-world", f"{_where(p, r, a)}: taken whatever the world says (not only {world})",
                             new, sites=_site(p, r, j))


@dataclass(frozen=True)
class _Fresh:
    """An expression read on a fresh record: the per-saga variables at their initial values."""

    inner: Any
    initial: tuple[tuple[str, Any], ...]

    @property
    def text(self) -> str:
        return self.inner.text

    @property
    def where(self) -> str:
        return self.inner.where

    @property
    def refs(self) -> frozenset[str]:
        return frozenset(self.inner.refs) - {n for n, _v in self.initial}

    def __call__(self, data: dict) -> object:
        return self.inner({**data, **dict(self.initial)})


def _upsert(spec: SagaSpec) -> Iterator[Mutant]:
    from sagaspec.model.compile import SpecParticipantModel
    from sagaspec.spec._cel import Literal

    starts = {e.name for e in spec.events if e.role == "trigger"}
    params = spec.resolve_params(spec.default_sagas)
    for p in spec.participants:
        kept = [v for v in p.state if not v.ghost]  # a ghost records the world (charges made): it stays
        if not kept:
            continue
        init = SpecParticipantModel(p, 1, params, frozenset())._init_slot  # as the model starts a record
        initial = tuple((v.name, getattr(init, v.name)) for v in kept)
        for r in p.reactions:
            if r.kind != "event" or r.on[0] not in starts:
                continue
            alts = []
            for a in r.alternatives:
                set_here = {var for var, _e in a.updates}
                updates = tuple((var, _Fresh(e, initial)) for var, e in a.updates)
                resets = tuple((n, Literal(val, a.where)) for n, val in initial if n not in set_here)
                alts.append(dataclasses.replace(a, when=None if a.when is None else _Fresh(a.when, initial),
                                                updates=updates + resets))
            new = _replace_reaction(spec, p, r, dataclasses.replace(r, alternatives=tuple(alts)))
            yield Mutant("", "upsert", f"{p.name} on {r.on[0]}: upserts a fresh record, forgetting what "
                         "earlier events of the saga left (a late start overwrites a cancellation)", new)


def _redo_duplicate(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        if p.subscribes:
            yield Mutant("", "redo-duplicate", f"{p.name} handles a redelivered event again, as new: no idempotency "
                         "store and no state guard (it re-applies what it did the first time)",
                         spec, frozenset({"redo-duplicate"}), participants=frozenset({p.name}))


def _wrong_type(spec: SagaSpec) -> Iterator[Mutant]:
    for p in spec.participants:
        if any(spec.event(e).fields for e in p.publishes):  # an empty payload has no field to get wrong
            yield Mutant("", "wrong-type", f"{p.name} publishes a field of the wrong JSON type "
                         "(a decimal string such as money as 100.0)",
                         spec, frozenset({"wrong-type"}), participants=frozenset({p.name}))


def _pipeline(description: str, behaviour: str) -> Callable[[SagaSpec], Iterator[Mutant]]:
    def make(spec: SagaSpec) -> Iterator[Mutant]:
        yield Mutant("", behaviour, description, spec, frozenset({behaviour}))

    return make


#: Operator name -> generator of mutants of a spec.
OPERATORS: dict[str, Callable[[SagaSpec], Iterator[Mutant]]] = {
    "drop-guard": _drop_guard,
    "skip-compensation": _skip_compensation,
    "wrong-event": _wrong_event,
    "forget-update": _forget_update,
    "swap-world": _swap_world,
    "service": _behaviours,
    # Appended after the first ones so that their mutants keep their names.
    "drop-conjunct": _drop_conjunct,
    "drop-join": _drop_join,
    "drop-subscription": _drop_subscription,
    "fixed-world": _fixed_world,
    "upsert": _upsert,
    "redo-duplicate": _redo_duplicate,
    "wrong-type": _wrong_type,
    "volatile-idempotency": _pipeline("every service keeps processed eventIds in memory: after a restart a "
                                      "redelivered event is handled again, as new", "volatile-idempotency"),
    "mark-before-work": _pipeline("every service commits the processed eventId before the state change: a "
                                  "crash in between loses the event", "mark-before-work"),
    "publish-before-commit": _pipeline("every service publishes straight to the bus, not through the outbox: "
                                       "a crash before the commit has published anyway", "publish-before-commit"),
    "trusts-input": _pipeline("every service dispatches on eventType before validating: malformed input "
                              "raises out of the handler", "trusts-input"),
}

#: Groups of operators that :data:`OPERATORS` generates together -> the operators in them.
_GROUPS = {"service": ("no-idempotency", "wrong-saga", "re-emit")}

#: Every operator name a user may select.
OPERATOR_NAMES: tuple[str, ...] = tuple(n for op in OPERATORS for n in _GROUPS.get(op, (op,)))


def mutants(spec: SagaSpec, operators: tuple[str, ...] | None = None) -> list[Mutant]:
    """Every mutant of ``spec`` (named ``OPERATOR-N``), in a stable order."""
    out = []
    for op, make in OPERATORS.items():
        if operators and not set(_GROUPS.get(op, (op,))) & set(operators):
            continue
        for k, m in enumerate(make(spec), 1):
            if operators and m.operator not in operators:
                continue
            out.append(dataclasses.replace(m, name=f"{m.operator}-{k}"))
    return out


# ------------------------------------------------------------------------------ running


def _services(m: Mutant, world: dict, params: dict) -> dict[str, Any]:
    out = {}
    for p in m.spec.participants:
        svc = _MutantService(m.spec, p.name, world=world, params=params, lenient=True)
        if not m.participants or p.name in m.participants:
            svc.behaviour = m.behaviour
        out[p.name] = svc
    return out


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


def _mutant_class():
    import json

    from sagaspec.adapters.plugins import INTERPRETERS, load_plugin

    SpecService = load_plugin(INTERPRETERS)  # noqa: N806 - a class, found by name

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

    return MutantService


_UNGUARDED: dict[tuple[int, int], Any] = {}


def _unguarded(reaction: SpecReaction, alt: Alternative) -> SpecReaction:
    """``reaction`` with only ``alt``, unguarded (kept alive: the model memoizes by id)."""
    key = (id(reaction), id(alt))
    if key not in _UNGUARDED:
        _UNGUARDED[key] = (reaction, alt, dataclasses.replace(
            reaction, alternatives=(dataclasses.replace(alt, when=None, otherwise=False),)))
    return _UNGUARDED[key][2]


class _Lazy:
    cls = None


def _MutantService(*args, lenient: bool = False, **kwargs):  # noqa: N802 - a class factory
    if _Lazy.cls is None:
        _Lazy.cls = _mutant_class()
    svc = _Lazy.cls(*args, **kwargs)
    if lenient:
        # A faulty service may take a value out of its domain (stock below zero); it does
        # not stop there: the oracle is what must notice.
        svc.model.domains = {k: _Lenient(d) for k, d in svc.model.domains.items()}
    return svc


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


def run_schedule(spec: SagaSpec, services: dict[str, Any], seed: int, *, sagas: int = 2,
                 crashes: bool = True, duplicates: bool = True) -> list[Failure]:
    """One seeded run: start ``sagas`` sagas, deliver in random order with duplicates and
    crashes until quiet; the failures the oracle on ``spec`` reports."""
    from sagaspec.adapters.crash import CRASH_POINTS, SimulatedCrash

    rng = random.Random(seed)
    saga_ids = [f"s{seed}-{i}" for i in range(sagas)]
    world = {s: {k: rng.choice(v) for k, v in spec.world.items()} for s in saga_ids}
    for svc in services.values():
        svc.configure({"sagas": world})
    params = {k: v for k, v in next(iter(services.values())).model.params.items() if k != "sagas"}
    oracle = SpecOracle(spec, saga_ids, params, world)
    pool: list[tuple[str, dict]] = []
    delivered: dict[tuple[str, str], int] = {}
    # Routed as the spec says: a service that does not subscribe to an event it should
    # handle is still given it (and must react as the spec does).
    subscribers = {p.name: frozenset(p.subscribes) for p in spec.participants}
    # Malformed input is drawn from its own stream, so the schedule is the same as without it.
    garbage = random.Random(seed * 7919 + 1)

    def relay(name: str) -> list[dict]:
        out: list[dict] = []

        def publish(event: dict) -> None:
            out.append(event)
            for dest in services:
                if event["eventType"] in subscribers.get(dest, ()):
                    pool.append((dest, event))

        services[name].relay(publish)
        return out

    starter = next((n for n, s in services.items() if any(r.kind == "trigger" for r in s.part.reactions)), None)
    if starter is None:
        return []
    for s in saga_ids:
        services[starter].start(s)
        oracle.started(starter, s, relay(starter))
    steps = 0
    while pool and steps < 5000 and not oracle.failures:
        steps += 1
        dest, event = pool.pop(rng.randrange(len(pool)))
        if duplicates and rng.random() < 0.15:
            pool.append((dest, event))
        point = rng.choice(CRASH_POINTS) if crashes and rng.random() < 0.08 else None
        if point is not None:
            services[dest].arm_crash(point)
        key = (dest, event["eventId"])
        emitted: list[dict] = []
        if garbage.random() < 0.03:
            _malformed(oracle, dest, services, event, garbage, relay)
            if oracle.failures:
                break
        try:
            services[dest].handle(event)
            emitted = relay(dest)
        except SimulatedCrash:
            # Not acknowledged: the broker redelivers it. Killed before the commit, the
            # handling never happened; after it, it did (and its outbox is sent now).
            services[dest] = services[dest].restarted()
            emitted = relay(dest)
            pool.append((dest, event))
            if point == "before-commit":
                if emitted:
                    oracle.failures.append(Failure(
                        "model", dest, event["sagaId"], event["eventType"],
                        f"{dest} published {', '.join(e['eventType'] for e in emitted)} while handling "
                        f"{event['eventType']} of saga {event['sagaId']}, a handling a crash before the commit "
                        "rolled back: what does not commit must not be published"))
                continue
        services[dest]._crash_at = None
        first = key not in delivered
        delivered[key] = delivered.get(key, 0) + 1
        oracle.handled(dest, event, duplicate=not first, emitted=emitted)
    if not oracle.failures and not pool:
        oracle.check_properties()
    return oracle.failures


def _malformed(oracle: SpecOracle, dest: str, services: dict[str, Any], event: dict, rng: random.Random,
               relay: Callable[[str], list[dict]]) -> None:
    """Give ``dest`` a malformed message made from ``event``: it must be refused (dead-lettered),
    not raise out of the handler nor publish anything."""
    kind = rng.choice(["not-json", "no-eventType", "no-sagaId"])
    message: Any
    if kind == "not-json":
        message = b'{"eventType": ' + event["eventType"].encode()
    else:
        field = "eventType" if kind == "no-eventType" else "sagaId"
        message = {k: v for k, v in event.items() if k != field}
        message["eventId"] = event["eventId"] + "-malformed"
    quiet = logging.getLogger("sagaspec.service")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # a dead-lettered message is expected here, not news
    try:
        services[dest].handle(message)
    except Exception as exc:  # noqa: BLE001 - any exception out of the handler is the failure
        oracle.failures.append(Failure(
            "malformed-input", dest, event["sagaId"], event["eventType"],
            f"{dest} raised {type(exc).__name__} on a malformed message ({kind}); it must dead-letter it"))
        services[dest] = services[dest].restarted()
        return
    finally:
        quiet.setLevel(level)
    out = relay(dest)
    if out:
        oracle.failures.append(Failure(
            "malformed-input", dest, event["sagaId"], event["eventType"],
            f"{dest} published {', '.join(e['eventType'] for e in out)} on a malformed message ({kind})"))


def taken_alternatives(spec: SagaSpec, sagas: int | None = None, limit: int = 300_000) -> frozenset[tuple[str, int, int]]:
    """The alternatives the spec's model takes in some reachable state (exhaustively, at
    the spec's default bounds, symmetry off): a mutant that only changes alternatives
    outside this set behaves like the original (an equivalent mutant)."""
    from collections import deque

    from sagaspec.model import Config, Engine
    from sagaspec.model.compile import spec_system
    from sagaspec.model.participant import Msg

    system = spec_system(spec, sagas)
    engine = Engine(system, Config(symmetry=False))
    start = engine.initial()
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        succ, _quiet, _ = engine.expand(state)
        for nxt in succ:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
        if len(seen) > limit:
            raise RuntimeError(f"{spec.name}: more than {limit} states; cannot tell equivalent mutants")
    taken: set[tuple[str, int, int]] = set()
    for i, part in enumerate(system.participants):
        locals_ = {engine.local(i, s[i]) for s in seen}
        index = {id(a): (part.name, ri, j) for ri, r in enumerate(part.spec.reactions) for j, a in enumerate(r.alternatives)}
        shared_slots = [part._split(loc) for loc in locals_]
        for loc, (shared, slots) in zip(locals_, shared_slots, strict=True):
            for k in range(system.sagas):
                for event in part.subscribes:
                    for alt, _out in part.choices(loc, Msg(event, k, "?")):
                        if alt is not None:
                            taken.add(index[id(alt)])
                for reaction in part.spec.reactions:
                    if reaction.kind == "trigger":
                        for *_rest, alt in part._run(reaction, slots[k], shared):
                            if alt is not None:
                                taken.add(index[id(alt)])
    return frozenset(taken)


def observably_equivalent(spec: SagaSpec, mutant: Mutant, limit: int = 200_000) -> bool | None:
    """See :func:`distinguishing_history`; ``True`` when there is none."""
    found = distinguishing_history(spec, mutant, limit)
    return found if isinstance(found, bool) or found is None else False


def distinguishing_history(spec: SagaSpec, mutant: Mutant, limit: int = 200_000):
    """The shortest history of deliveries that tells the mutant's model from the spec's
    (a test that delivers events and watches what comes out), at the default bounds.

    Explores both models in lock step (symmetry off, the spec's bus, duplicates and
    crashes): states reached by the same observable history are paired, and at every
    pair both must offer the same observable moves (an action's kind, participant and
    message, with the messages it publishes). Returns the history as a list of moves
    ``(kind, participant, msg, published, lost)``, ``True`` when there is none (the
    mutant is equivalent), ``False`` for mutants outside the model, ``None`` when
    undecided within ``limit`` pairs or when the mutant leaves the model.
    """
    from collections import deque

    from sagaspec.model import Config, Engine
    from sagaspec.model.compile import spec_system

    from sagaspec.errors import ModelError

    if mutant.behaviour - {"no-idempotency"} or mutant.operator in ("swap-world", "fixed-world"):
        # Outside what the model's moves show: events for unknown sagas, re-published
        # outcomes, and which world value an alternative answers (the model takes both).
        return False
    bounds = spec.bounds
    cfg = dict(symmetry=False, bus=bounds.get("bus", "unordered-dup"), crashes=bounds.get("crashes", 0))
    if "duplicates" in bounds:
        cfg["duplicates"] = bounds["duplicates"]
    e1 = Engine(spec_system(spec), Config(**cfg))
    e2 = Engine(spec_system(mutant.spec), Config(**cfg, idempotency="no-idempotency" not in mutant.behaviour))

    def moves(engine, state):
        succ, _quiet, descr = engine.expand(state, actions=True, canonical=False)
        out: dict[tuple, list] = {}
        for nxt, d in zip(succ, descr, strict=True):
            kind, who, msg, _label = engine.describe_move(d)
            pubs, lost = engine.published(state, d)
            kind = "deliver" if kind == "drop" else kind  # the store drops it, or the handler ignores it: alike
            key = (kind, who, msg, tuple(sorted((m.type, m.saga) for m in pubs)), len(lost))
            out.setdefault(key, []).append(nxt)
        return out

    try:
        start = (e1.initial(canonical=False), e2.initial(canonical=False))
        parent: dict[tuple, tuple | None] = {start: None}
        queue = deque([start])
        while queue:
            pair = queue.popleft()
            s1, s2 = pair
            m1, m2 = moves(e1, s1), moves(e2, s2)
            if set(m1) != set(m2):
                # The shortest history after which one model can do what the other cannot,
                # ending with that move (the mutant's, when it has one of its own).
                extra = sorted(set(m2) - set(m1), key=repr) or sorted(set(m1) - set(m2), key=repr)
                history = [extra[0]]
                while parent[pair] is not None:
                    pair, key = parent[pair]
                    history.append(key)
                return history[::-1]
            for key, targets in m1.items():
                for n1 in targets:
                    for n2 in m2[key]:
                        nxt = (n1, n2)
                        if nxt not in parent:
                            parent[nxt] = (pair, key)
                            queue.append(nxt)
            if len(parent) > limit:
                return None
    except ModelError:
        return None
    return True


def run_history(spec: SagaSpec, services: dict[str, Any], history: list, world: dict[str, dict[str, str]]) -> list[Failure]:
    """Drive ``services`` along a model history (see :func:`distinguishing_history`):
    sagas are started, the real events that the history's messages stand for delivered,
    participants crashed and restarted; the oracle on ``spec`` judges every step."""
    from sagaspec.adapters.crash import SimulatedCrash

    sagas = 1 + max((k[2].saga for k in history if k[2] is not None), default=0)
    sagas = max(sagas, 1 + sum(1 for k in history if k[0] == "internal") - 1)
    saga_ids = [f"h-{i}" for i in range(sagas)]
    for svc in services.values():
        svc.configure({"sagas": world})
    params = {k: v for k, v in next(iter(services.values())).model.params.items() if k != "sagas"}
    oracle = SpecOracle(spec, saga_ids, params, world)
    sent: dict[tuple[str, int, str], dict] = {}
    handled: set[tuple[str, str]] = set()
    started = 0

    def relay(name: str) -> list[dict]:
        out: list[dict] = []

        def publish(event: dict) -> None:
            out.append(event)
            tail = event["sagaId"].rpartition("-")[2]
            if tail.isdigit():
                sent[(event["eventType"], int(tail), name)] = event

        services[name].relay(publish)
        return out

    for kind, who, msg, _pubs, _lost in history:
        if oracle.failures:
            break
        if kind == "internal":
            saga = saga_ids[min(started, len(saga_ids) - 1)]
            started += 1
            try:
                services[who].start(saga)
            except Exception:  # noqa: BLE001 - a trigger the mutant does not offer
                return oracle.failures
            oracle.started(who, saga, relay(who))
        elif kind == "crash":
            services[who] = services[who].restarted()
            relay(who)
        elif msg is not None:
            event = sent.get((msg.type, msg.saga, msg.src))
            if event is None:
                break  # the services never published it: their difference shows earlier
            key = (who, event["eventId"])
            try:
                if kind == "crash-in-handler":
                    services[who].arm_crash("after-commit")
                services[who].handle(event)
                out = relay(who)
            except SimulatedCrash:
                services[who] = services[who].restarted()
                out = relay(who)
            oracle.handled(who, event, duplicate=key in handled, emitted=out)
            handled.add(key)
    return oracle.failures


def _worlds(spec: SagaSpec, sagas: int) -> list[dict[str, dict[str, str]]]:
    from itertools import product

    knobs = sorted(spec.world)
    per_saga = [dict(zip(knobs, values, strict=True)) for values in product(*(spec.world[k] for k in knobs))]
    return [
        {f"h-{i}": w for i, w in enumerate(combo)} for combo in product(per_saga, repeat=sagas)
    ][:64]


@dataclass(frozen=True)
class Score:
    """One mutant's result: caught, after how many runs, the first failure and its seed.

    ``equivalent`` says why a surviving mutant cannot be told apart (``""``: it can).
    """

    mutant: Mutant
    caught: bool
    runs: int
    failure: Failure | None
    seed: int | None
    equivalent: str = ""
    #: Caught by the model-directed case (the shortest distinguishing history), not a random one.
    directed: bool = False


#: Operators that let an alternative run where the spec does not (see :func:`score`).
_WEAKENING = frozenset({"drop-guard", "drop-conjunct", "fixed-world"})


def reference_failure(spec: SagaSpec, *, examples: int = 30, seed: int = 0) -> tuple[Failure, int] | None:
    """The first failure (and its schedule's seed) of the spec's own reference services on
    the schedules :func:`score` runs: a design that breaks its own properties (a buggy
    spec) fails here, and then every mutant would be "caught" for nothing."""
    params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
    reference = Mutant("reference", "none", "the spec itself", spec)
    for k in range(examples):
        run_seed = seed * 100_003 + k
        failures = run_schedule(spec, _services(reference, {}, params), run_seed, sagas=1 + run_seed % 3)
        if failures:
            return failures[0], run_seed
    return None


def score(spec: SagaSpec, *, examples: int = 30, operators: tuple[str, ...] | None = None,
          seed: int = 0, on_mutant: Callable[[Score], None] | None = None,
          known_equivalent: dict[str, str] | None = None, names: tuple[str, ...] | None = None) -> list[Score]:
    """Run every mutant of ``spec`` for up to ``examples`` seeded schedules each.

    ``known_equivalent`` (mutant name -> why, as an expectations file records it): such a
    mutant that no schedule catches is reported equivalent for that reason, without the
    model-directed search (the slow part on a large spec). ``names``: only these mutants."""
    out = []
    params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
    taken_once: list[frozenset] = []

    def taken() -> frozenset:  # explored once, and only when a mutant survives the schedules
        if not taken_once:
            taken_once.append(taken_alternatives(spec))
        return taken_once[0]

    for m in mutants(spec, operators):
        if names is not None and m.name not in names:
            continue
        result = Score(m, False, examples, None, None)
        for k in range(examples):
            run_seed = seed * 100_003 + k
            failures = run_schedule(spec, _services(m, {}, params), run_seed,
                                    sagas=1 + run_seed % 3)
            if failures:
                result = Score(m, True, k + 1, failures[0], run_seed)
                break
        if not result.caught and known_equivalent and m.name in known_equivalent:
            result = dataclasses.replace(result, equivalent=known_equivalent[m.name])
        elif not result.caught:
            # An alternative the spec never takes changes nothing, unless the mutant weakened
            # its guard (or world): then it may be taken where it was not.
            never_taken = (bool(m.sites) and m.operator not in _WEAKENING
                           and not any(site in taken() for site in m.sites))
            history = None if never_taken else distinguishing_history(spec, m)
            if never_taken:
                why = "the changed alternative is never taken in any reachable state of the spec"
            elif history is True:
                why = "no sequence of deliveries tells it apart: the models publish the same events after every history"
            else:
                why = ""
            if isinstance(history, list):
                # Random schedules missed it; the model knows the shortest history that
                # tells the mutant apart: drive it, under each world.
                sagas = 1 + max((k[2].saga for k in history if k[2] is not None), default=0)
                for world in _worlds(spec, sagas):
                    failures = run_history(spec, _services(m, {}, params), history, world)
                    if failures:
                        result = Score(m, True, examples + 1, failures[0], None, directed=True)
                        break
            if not result.caught:
                result = dataclasses.replace(result, equivalent=why)
        out.append(result)
        if on_mutant is not None:
            on_mutant(result)
    return out
