"""Mutants of a saga spec: operators that change one thing in its reactions or in how
its services run.

An operator changes one thing in a spec's reactions (a guard dropped, a compensation
skipped, a world decision swapped ...) or names a changed service behaviour (no
idempotency store, events sent to the wrong saga ...) that the reference side's mutant
services implement. :func:`mutants` lists every mutant of a spec under a stable name
(``OPERATOR-N``); the conformance suite's mutation score runs them, and the reference
services serve them by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sagaspec.spec.sagafile import Alternative, SagaSpec, SpecParticipant, SpecReaction

__all__ = ["Mutant", "OPERATORS", "OPERATOR_NAMES", "mutants"]

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
