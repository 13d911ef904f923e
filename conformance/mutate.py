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
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.spec.sagafile import Alternative, SagaSpec, SpecParticipant, SpecReaction

__all__ = ["Mutant", "OPERATORS", "mutants", "Score", "score", "run_schedule", "taken_alternatives", "observably_equivalent"]


@dataclass(frozen=True)
class Mutant:
    """A faulty variant: which operator, where, and how to build its services."""

    name: str
    operator: str
    description: str
    spec: SagaSpec
    #: Service behaviours changed (``no-idempotency``, ``wrong-saga``, ``re-emit``).
    behaviour: frozenset[str] = frozenset()
    #: The alternatives changed: ``(participant, reaction index, alternative index)``.
    sites: tuple[tuple[str, int, int], ...] = ()


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


def _drop_guard(spec: SagaSpec) -> Iterator[Mutant]:
    for p, r, j, a in _sites(spec):
        if a.when is not None and len(r.alternatives) > 1:
            # Moved first, so the unguarded alternative wins wherever it now applies.
            alts = list(r.alternatives)
            alts.pop(j)
            alts.insert(0, dataclasses.replace(a, when=None))
            new = _replace_reaction(spec, p, r, dataclasses.replace(r, alternatives=tuple(alts)))
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


#: Operator name -> generator of mutants of a spec.
OPERATORS: dict[str, Callable[[SagaSpec], Iterator[Mutant]]] = {
    "drop-guard": _drop_guard,
    "skip-compensation": _skip_compensation,
    "wrong-event": _wrong_event,
    "forget-update": _forget_update,
    "swap-world": _swap_world,
    "service": _behaviours,
}


def mutants(spec: SagaSpec, operators: tuple[str, ...] | None = None) -> list[Mutant]:
    """Every mutant of ``spec`` (named ``OPERATOR-N``), in a stable order."""
    out = []
    for op, make in OPERATORS.items():
        if operators and op not in operators and not (op == "service" and set(operators) & {"no-idempotency", "wrong-saga", "re-emit"}):
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
        svc.behaviour = m.behaviour
        out[p.name] = svc
    return out


def _mutant_class():
    from sagaspec.adapters.plugins import INTERPRETERS, load_plugin

    SpecService = load_plugin(INTERPRETERS)  # noqa: N806 - a class, found by name

    class MutantService(SpecService):
        """The interpreter with a changed behaviour (see :data:`OPERATORS`)."""

        behaviour: frozenset[str] = frozenset()

        def process(self, event):
            if "no-idempotency" in self.behaviour or "re-emit" in self.behaviour:
                with self.store.transaction() as tx:
                    seen = tx.processed(event["eventId"])
                if seen and "re-emit" in self.behaviour:
                    last = getattr(self, "_last", {}).get(event["eventId"])
                    if last:
                        with self.store.transaction() as tx:
                            for e in last:
                                tx.emit(dict(e, eventId=e["eventId"] + "-again"))
                    return "duplicate"
                if seen and "no-idempotency" in self.behaviour:
                    with self.store.transaction() as tx:
                        self._react(tx, event)
                    return "processed"
            before = len(self.decisions)
            result = super().process(event)
            if len(self.decisions) > before:
                self.__dict__.setdefault("_last", {})[event["eventId"]] = self.decisions[-1].emitted
            return result

        def _build(self, record, cause, event_type, given=None):
            out = super()._build(record, cause, event_type, given)
            if "wrong-saga" in self.behaviour:
                out["sagaId"] = out["sagaId"] + "-x"
            return out

        def restarted(self):
            fresh = super().restarted()
            fresh.__class__ = type(self)
            fresh.behaviour = self.behaviour
            if any(isinstance(d, _Lenient) for d in self.model.domains.values()):
                fresh.model.domains = {k: _Lenient(d) for k, d in fresh.model.domains.items()}
            return fresh

    return MutantService


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

    def relay(name: str) -> list[dict]:
        out: list[dict] = []

        def publish(event: dict) -> None:
            out.append(event)
            for dest, svc in services.items():
                if event["eventType"] in svc.subscribes:
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
                continue
        services[dest]._crash_at = None
        first = key not in delivered
        delivered[key] = delivered.get(key, 0) + 1
        oracle.handled(dest, event, duplicate=not first, emitted=emitted)
    if not oracle.failures and not pool:
        oracle.check_properties()
    return oracle.failures


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

    if mutant.behaviour - {"no-idempotency"} or mutant.operator == "swap-world":
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


def score(spec: SagaSpec, *, examples: int = 30, operators: tuple[str, ...] | None = None,
          seed: int = 0, on_mutant: Callable[[Score], None] | None = None) -> list[Score]:
    """Run every mutant of ``spec`` for up to ``examples`` seeded schedules each."""
    out = []
    params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
    taken = taken_alternatives(spec)
    for m in mutants(spec, operators):
        result = Score(m, False, examples, None, None)
        for k in range(examples):
            run_seed = seed * 100_003 + k
            failures = run_schedule(spec, _services(m, {}, params), run_seed,
                                    sagas=1 + run_seed % 3)
            if failures:
                result = Score(m, True, k + 1, failures[0], run_seed)
                break
        if not result.caught:
            history = None if (m.sites and not any(site in taken for site in m.sites)) else distinguishing_history(spec, m)
            if m.sites and not any(site in taken for site in m.sites):
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
