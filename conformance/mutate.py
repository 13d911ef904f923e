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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.model.mutation import OPERATOR_NAMES, OPERATORS, Mutant, mutants
from sagaspec.spec.sagafile import SagaSpec

__all__ = ["Mutant", "OPERATORS", "OPERATOR_NAMES", "mutants", "Score", "score", "reference_failure", "run_schedule", "taken_alternatives", "observably_equivalent"]


# ------------------------------------------------------------------------------ running


def _services(m: Mutant, world: dict, params: dict) -> dict[str, Any]:
    out = {}
    for p in m.spec.participants:
        svc = _MutantService(m.spec, p.name, world=world, params=params, lenient=True)
        if not m.participants or p.name in m.participants:
            svc.behaviour = m.behaviour
        out[p.name] = svc
    return out



def _MutantService(*args, lenient: bool = False, **kwargs):  # noqa: N802 - a class factory
    """A mutant's service: the reference side's (the ``mutant`` entry point of
    ``sagaspec.interpreters``), found by name."""
    from sagaspec.adapters.plugins import INTERPRETERS, load_plugin

    return load_plugin(INTERPRETERS, "mutant")(*args, lenient=lenient, **kwargs)


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
