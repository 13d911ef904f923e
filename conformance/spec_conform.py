"""Conformance of any spec's services, through an adapter: ``sagaspec conform --spec``.

The suite plays the bus. Each case is a seeded schedule, as
:func:`~sagaspec.conformance.mutate.run_schedule` makes in-process: start one to three
sagas under a random world (set through the adapter), then deliver published events
one at a time to their subscribers in a random order, with duplicates and crashes at
every crash point. After each delivery the suite collects what the participant
published, until the model says nothing more can come (or a timeout), and
:class:`~sagaspec.conformance.spec_oracle.SpecOracle` judges the handling; when the
system is quiet, the spec's properties. A case depends only on its seed and on what
the services publish, never on the adapter: the same seed makes the same case
in-process and over HTTP.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sagaspec.adapters.crash import CRASH_POINTS
from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.model.participant import Msg
from sagaspec.spec.sagafile import SagaSpec

from sagaspec.errors import AdapterError, InputError, UsageError

__all__ = ["SpecAdapter", "InProcessSpecAdapter", "SplitSpecAdapter", "CaseResult", "run_case", "case_seed",
           "load_spec_adapter", "ServiceRaised"]


class ServiceRaised(Exception):  # noqa: N818 - what the service did, reported as a failure
    """A service under test in this process raised out of its handler (a real broker's
    consumer would die on it): the case fails naming it, the run goes on."""

    def __init__(self, participant: str, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()
        self.participant = participant
        self.what = f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
        super().__init__(f"{participant} raised {self.what}")

#: Deliveries per case before it is called incomplete.
MAX_STEPS = 5000


class SpecAdapter(Protocol):
    """What the suite needs of a system of a spec's services."""

    def reset(self) -> None: ...
    def configure(self, world: dict[str, Any]) -> None: ...
    def start(self, participant: str, saga_id: str) -> None: ...
    def arm_crash(self, participant: str, point: str) -> None: ...
    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool: ...
    def collect(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class InProcessSpecAdapter:
    """The reference interpreter (or a mutant of it) in this process, without a server."""

    name = "inprocess"

    def __init__(self, spec: SagaSpec, mutant: str | None = None) -> None:
        from sagaspec.adapters.plugins import TARGETS, load_plugin

        self.target = load_plugin(TARGETS, "interpreter")(spec_service_factory(spec, mutant))

    def reset(self) -> None:
        self.target.reset()

    def configure(self, world: dict[str, Any]) -> None:
        self.target.setup(world)

    def start(self, participant: str, saga_id: str) -> None:
        try:
            self.target.start({"sagaId": saga_id, "participant": participant, "route": False})
        except (AdapterError, InputError):
            raise
        except Exception as exc:  # noqa: BLE001 - the service's own failure, reported
            raise ServiceRaised(participant, exc) from exc

    def arm_crash(self, participant: str, point: str) -> None:
        self.target.crash(participant, point)

    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        from sagaspec.adapters.crash import ConsumerCrashed

        # The dead-letter log line of an invalid event the suite sent on purpose is noise
        # in the suite's output (a served service still logs it).
        log = logging.getLogger("sagaspec.service")
        quiet, log.disabled = log.disabled, log.disabled or invalid
        services = getattr(self.target, "services", {})
        before = services.get(participant)
        try:
            self.target.deliver_to(participant, event)
        except ConsumerCrashed:
            return False
        except (AdapterError, InputError):
            raise
        except Exception as exc:  # noqa: BLE001 - the service's own failure, reported
            raise ServiceRaised(participant, exc) from exc
        finally:
            log.disabled = quiet
            #: Whether the participant was killed (and restarted) during this delivery,
            #: also after its ack (a crash after publishing).
            self.restarted = before is not None and services.get(participant) is not before
        return True

    def collect(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        return [e for e in self.target.drain() if isinstance(e, dict)]

    def close(self) -> None:
        pass


def spec_service_factory(spec: SagaSpec, mutant: str | None = None,
                         store_factory: Callable[[str], Any] | None = None) -> Callable[[], dict[str, Any]]:
    """A maker of fresh services of ``spec``: the interpreter (each on a memory store, or
    on ``store_factory(participant)``), or the named mutant of
    :func:`sagaspec.conformance.mutate.mutants` (memory stores)."""
    from sagaspec.adapters.plugins import INTERPRETERS, load_plugin
    from sagaspec.conformance.mutate import _services, mutants

    service = load_plugin(INTERPRETERS)
    params = spec_params(spec)
    if not mutant and store_factory is not None:
        return lambda: {p.name: service(spec, p.name, store_factory(p.name), params=params)
                        for p in spec.participants}
    if not mutant:  # each on its own memory store
        return lambda: {p.name: service(spec, p.name, params=params) for p in spec.participants}
    if store_factory is not None:
        raise UsageError("a mutant runs on memory stores: leave out --store")
    found = {m.name: m for m in mutants(spec)}
    if mutant not in found:
        raise UsageError(f"unknown mutant {mutant!r} of {spec.name}; expected one of {', '.join(found)}")
    m = found[mutant]
    return lambda: _services(m, {}, params)


def spec_params(spec: SagaSpec) -> dict[str, Any]:
    """The parameters the services run with (the spec's defaults), as the oracle needs them."""
    return {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}


def load_spec_adapter(text: str, spec: SagaSpec, participant: str, mutant: str | None = None,
                      timeout: float = 3.0, mapping: str | None = None) -> Any:
    """``inprocess`` (the reference services here), ``http://...`` (served ones: the
    whole system, or one participant with the others' reference services here), or a
    broker URL (one participant consuming from it, in its own vocabulary with ``mapping``)."""
    names = [p.name for p in spec.participants]
    if participant != "system" and participant not in names:
        raise UsageError(f"--participant {participant!r}: {spec.name} has {', '.join(names)} (or system)")
    broker = text.split("://", 1)[0] in ("amqp", "amqps", "nats", "tls", "redis", "rediss")
    if mapping and not broker:  # checked first: the reference services here would ignore it
        raise UsageError("--mapping with --spec applies to a broker adapter (amqp://, nats://, redis://)")
    if text.rstrip(":") == "inprocess":
        return InProcessSpecAdapter(spec, mutant)
    if mutant:
        raise UsageError("--mutant applies to --adapter inprocess; serve the mutant with "
                         "sagaspec serve --spec FILE --mutant NAME instead")
    if broker:
        from sagaspec.adapters.mapping import load_mapping
        from sagaspec.adapters.spec_broker import SpecBrokerAdapter

        loaded = load_mapping(mapping, spec) if mapping else None
        if participant == "system" and loaded is not None and "system" in loaded.config:
            from sagaspec.adapters.spec_system import SystemAdapter

            # A whole foreign system: started and watched as its mapping's [system] says.
            return SystemAdapter(text, spec, mapping=loaded, timeout=timeout)
        return SpecBrokerAdapter(text, spec, participant, local=InProcessSpecAdapter(spec), timeout=timeout,
                                 mapping=loaded)
    if text.startswith(("http://", "https://")):
        from sagaspec.adapters.spec_http import SpecHttpAdapter

        remote = SpecHttpAdapter(text, participant=participant, timeout=timeout)
        return remote if participant == "system" else SplitSpecAdapter(remote, participant, InProcessSpecAdapter(spec))
    raise UsageError(f"--adapter {text!r} with --spec: expected inprocess, http://HOST:PORT or a broker URL "
                     "(amqp://, nats://, redis://)")


class SplitSpecAdapter:
    """One participant behind ``remote``; the others' reference services in this process."""

    def __init__(self, remote: Any, participant: str, local: InProcessSpecAdapter) -> None:
        self.remote, self.participant, self.local = remote, participant, local
        self._last: Any = local

    def _side(self, participant: str) -> Any:
        self._last = self.remote if participant == self.participant else self.local
        return self._last

    def reset(self) -> None:
        self.remote.reset()
        self.local.reset()

    def configure(self, world: dict[str, Any]) -> None:
        self.remote.configure(world)
        self.local.configure(world)

    def start(self, participant: str, saga_id: str) -> None:
        self._side(participant).start(participant, saga_id)

    def arm_crash(self, participant: str, point: str) -> None:
        self._side(participant).arm_crash(participant, point)

    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        return self._side(participant).deliver(participant, event, invalid)

    def collect(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        # One delivery at a time: what came out came from the side that had it.
        return self._last.collect(done)

    def close(self) -> None:
        self.remote.close()


@dataclass
class CaseResult:
    """One case: its seed, the failures, whether it ran to quiet, and what happened."""

    seed: int
    sagas: int
    failures: list[Failure] = field(default_factory=list)
    complete: bool = True
    steps: int = 0
    events: int = 0
    log: list[str] = field(default_factory=list)
    #: The adapter's tag for this case's sagas (see ``SpecBrokerAdapter``), if it has one.
    tag: str | None = None
    #: Judges what the service published for this case after it ended (its events,
    #: ``sagaId`` as the case named it); adds to ``failures``.
    late: Callable[[list[Any]], None] | None = field(default=None, repr=False, compare=False)


def case_seed(seed: int, k: int) -> int:
    """The seed of case ``k`` of a run with ``seed`` (as ``sagaspec mutate`` numbers them)."""
    return seed * 100_003 + k


def _allowed_start(oracle: SpecOracle, participant: str, saga: str) -> set[tuple[str, ...]]:
    model = oracle.models[participant]
    i = oracle.index[saga]
    out = set()
    for state in oracle.states[participant]:
        shared, slots = model._split(state)
        for reaction in model.triggers:
            for _label, _slot, _sh, emit, alt in model._run(reaction, slots[i], shared):
                if alt is not None and oracle._fits(saga, alt):
                    out.add(tuple(emit))
    return out


def _allowed(oracle: SpecOracle, participant: str, event: dict[str, Any]) -> set[tuple[str, ...]]:
    saga = event["sagaId"]
    if saga not in oracle.index:
        return {()}
    model = oracle.models[participant]
    msg = Msg(event["eventType"], oracle.index[saga], oracle._src(event))
    return {tuple(m.type for m in out.publish)
            for state in oracle.states[participant]
            for alt, out in model.choices(state, msg) if oracle._fits(saga, alt)}


def _done(allowed: set[tuple[str, ...]]) -> Callable[[list[dict[str, Any]]], bool]:
    """Nothing more can come: no allowed output still holds more than what came."""
    def done(got: list[dict[str, Any]]) -> bool:
        have = Counter(_unique_types(got))
        return not any(len(a) > sum(have.values()) and not (have - Counter(a)) for a in allowed)
    return done


def _unique(events: list[Any]) -> list[Any]:
    seen, out = set(), []
    for e in events:
        key = e.get("eventId") if isinstance(e, dict) else id(e)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _unique_types(events: list[Any]) -> list[str]:
    return [str(e.get("eventType")) if isinstance(e, dict) else "?" for e in _unique(events)]


def _negative(adapter: SpecAdapter, pool, rng: random.Random, oracle: SpecOracle, route, note) -> None:
    """An invalid copy of an event in flight (no ``sagaId``) to one of its subscribers: it
    must be dead-lettered (or refused with a 4xx) and publish nothing. Its own random
    stream, so the schedule that follows is the same as without it."""
    dest, event = pool[rng.randrange(len(pool))]
    bad = {k: v for k, v in event.items() if k != "sagaId"}
    bad["eventId"] = f"{event['eventId']}-invalid"
    try:
        adapter.deliver(dest, bad, invalid=True)
    except ServiceRaised as exc:
        note(f"an invalid {event['eventType']} (no sagaId) to {dest}, which raised {exc.what}", [])
        oracle.failures.append(Failure(
            "negative", dest, event["sagaId"], event["eventType"],
            f"{dest} raised {exc.what} on an invalid {event['eventType']} (no sagaId); an invalid "
            "event must be dead-lettered, publishing nothing"))
        return
    got = route(adapter.collect(_done({()})), dest, event["sagaId"])
    note(f"an invalid {event['eventType']} (no sagaId) to {dest}", got)
    if got:
        oracle.failures.append(Failure(
            "negative", dest, event["sagaId"], event["eventType"],
            f"{dest} published [{', '.join(_unique_types(got))}] on an invalid {event['eventType']} "
            "(no sagaId); an invalid event must be dead-lettered, publishing nothing"))


#: The fault kinds a case may inject, each switched on or off alone.
FAULTS = ("duplicates", "reorder", "crash", "invalid")


def run_case(spec: SagaSpec, adapter: SpecAdapter, seed: int, *, sagas: int = 2,
             crashes: bool = True, duplicates: bool = True, reorder: bool = True,
             invalid: bool | None = None, plain: bool = False,
             crash_points: tuple[str, ...] = CRASH_POINTS, steering: Any = None) -> CaseResult:
    """One seeded case against ``adapter`` (reset first); the oracle's verdict.

    ``reorder`` off delivers in publication order (the oldest in-flight event first);
    ``invalid`` (default: with crashes or duplicates) sends one invalid event;
    ``crash_points``: where crashes may land (a crash drawn at another point lands at
    one of these instead, so the rest of the schedule is the same as with all points).
    ``steering`` (:class:`~sagaspec.conformance.coverage.Steering`): the drawn delivery
    gives way to one whose model transition no earlier case made (same random draws).
    """
    mine = steering.open() if steering is not None else set()
    if invalid is None:
        invalid = crashes or duplicates
    rng = random.Random(seed)
    result = CaseResult(seed, sagas)
    saga_ids = [f"s{seed}-{i}" for i in range(sagas)]
    # plain: each world knob at its first value (the health probe's saga).
    world = {s: {k: v[0] if plain else rng.choice(v) for k, v in spec.world.items()} for s in saga_ids}
    adapter.reset()
    result.tag = getattr(adapter, "tag", None)
    adapter.configure({"sagas": world})
    oracle = SpecOracle(spec, saga_ids, spec_params(spec), world)
    result.failures = oracle.failures
    subscribers = {p.name: frozenset(p.subscribes) for p in spec.participants}
    pool: list[tuple[str, dict[str, Any]]] = []
    delivered: dict[tuple[str, str], int] = {}
    seen: set[Any] = set()  # the eventIds of every event published in this case
    last: dict[tuple[str, str], tuple[dict[str, Any], bool]] = {}  # (participant, saga) -> its latest event, first?

    def route(events: list[Any], who: str, saga: str) -> list[dict[str, Any]]:
        """Hand ``who``'s publications to their subscribers; anything that is not a JSON
        object is a failure (it cannot be an event)."""
        result.events += len(events)
        for e in events:
            if not isinstance(e, dict):
                oracle.failures.append(Failure("schema", who, saga, "?",
                                               f"{who} published something that is not a JSON object: {e!r:.120}"))
        events = [e for e in events if isinstance(e, dict)]
        for e in events:
            seen.add(e.get("eventId"))
            for dest, subs in subscribers.items():
                if e.get("eventType") in subs:
                    pool.append((dest, e))
        return events

    def note(text: str, emitted: list[dict[str, Any]]) -> None:
        result.log.append(f"{text} -> [{', '.join(_unique_types(emitted))}]")

    starter = next((p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions)), None)
    if starter is None:
        return result
    for s in saga_ids:
        try:
            adapter.start(starter, s)
        except ServiceRaised as exc:
            oracle.failures.append(Failure("model", starter, s, "?", f"{starter} raised {exc.what} starting saga {s}"))
            return result
        got = route(adapter.collect(_done(_allowed_start(oracle, starter, s))), starter, s)
        note(f"{starter} starts saga {s} (world {world[s]})", got)
        oracle.started(starter, s, _unique(got))
    if invalid and pool and not oracle.failures:
        _negative(adapter, pool, random.Random(seed ^ 0x5EED), oracle, route, note)
    while pool and not oracle.failures:
        if result.steps >= MAX_STEPS:
            result.complete = False
            return result
        result.steps += 1
        at = rng.randrange(len(pool)) if reorder else 0
        if steering is not None and reorder:
            from sagaspec.conformance.coverage import spec_transition

            at = steering.choose([spec_transition(oracle, d, e, (d, e["eventId"]) not in delivered)
                                  for d, e in pool], at, mine)
        dest, event = pool.pop(at)
        if duplicates and rng.random() < 0.15:
            pool.append((dest, event))
        point = rng.choice(CRASH_POINTS) if crashes and rng.random() < 0.08 else None
        if point is not None and point not in crash_points:
            point = crash_points[CRASH_POINTS.index(point) % len(crash_points)]
        if point is not None:
            adapter.arm_crash(dest, point)
        key = (dest, event["eventId"])
        first = key not in delivered
        try:
            acked = adapter.deliver(dest, event)
        except ServiceRaised as exc:
            note(f"{event['eventType']} of saga {event['sagaId']} to {dest}, which raised {exc.what}", [])
            oracle.failures.append(Failure(
                "model", dest, event["sagaId"], event["eventType"],
                f"{dest} raised {exc.what} handling a valid {event['eventType']} of saga {event['sagaId']}"))
            break
        crashed_before = not acked and point == "before-commit"
        allowed = {()} if crashed_before or not first else _allowed(oracle, dest, event)
        got = route(adapter.collect(_done(allowed)), dest, event["sagaId"])
        what = f"{event['eventType']} of saga {event['sagaId']} to {dest}" + ("" if first else " (again)")
        if not acked:
            note(f"{what}, killed at {point} (redelivered later)", got)
            pool.append((dest, event))
            if crashed_before:
                if got:  # nothing was committed, so nothing may be sent
                    oracle.failures.append(Failure(
                        "model", dest, event["sagaId"], event["eventType"],
                        f"{dest} published [{', '.join(_unique_types(got))}] on a {event['eventType']} of saga "
                        f"{event['sagaId']} it was killed handling before its commit; the spec allows []"))
                continue
        elif point is not None and getattr(adapter, "restarted", False):
            # Killed after its ack (after publishing): nothing is redelivered, and the
            # restarted process sends its outbox again (consumers deduplicate it).
            note(f"{what}, killed at {point} after its ack (restarted)", got)
        else:
            note(what, got)
        delivered[key] = delivered.get(key, 0) + 1
        last[(dest, event["sagaId"])] = (event, first)
        oracle.handled(dest, event, duplicate=not first, emitted=_unique(got))

    def judge_late(events: list[Any]) -> None:
        """What came after the case's last handling, judged as the output of the
        handling that caused it: its participant's latest event of that saga."""
        result.events += len(events)
        by_cause: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for e in events:
            if not isinstance(e, dict) or str(e.get("eventType")).startswith("<"):
                oracle.failures.append(Failure("schema", "the service", "?", "-",
                                               f"after the case ended, the service published something that is "
                                               f"not an event of the spec: {e!r:.200}"))
                continue
            if e.get("eventId") is not None and e.get("eventId") in seen:
                continue  # the same event again (an outbox re-send): at-least-once, allowed
            saga = e.get("sagaId")
            who = oracle.publishers.get(str(e.get("eventType"))) or ["the service"]
            cause = next(((p, saga) for p in who if (p, saga) in last), None)
            if cause is None:
                note(f"after the case: {who[0]} published", [e])
                oracle.failures.append(Failure(
                    "model", who[0], str(saga), "-",
                    f"{who[0]} published {e.get('eventType')} (eventId {e.get('eventId')}) after the case ended, "
                    f"for saga {saga}, which it was given no event of; the spec allows nothing"))
                continue
            by_cause.setdefault(cause, []).append(e)
        for (who, saga), emitted in by_cause.items():
            event, first = last[(who, saga)]
            note(f"after the case: {who} published, late, on {event['eventType']} of saga {saga}"
                 + ("" if first else " (again)"), emitted)
            if not first:
                oracle.handled(who, event, duplicate=True, emitted=_unique(emitted))
                continue
            oracle.failures.append(Failure(
                "model", who, saga, event["eventType"],
                f"{who} published [{', '.join(_unique_types(emitted))}] late on {event['eventType']} of saga "
                f"{saga}, after what the spec allows for it had come; the spec allows nothing more"))

    result.late = judge_late
    if not pool and not oracle.failures:
        late = getattr(adapter, "late", None)
        if callable(late):
            judge_late(late())
        if not oracle.failures:
            oracle.check_properties()
    return result
