"""Judging a whole system that runs its sagas by itself (``--participant system`` of a foreign one).

The suite cannot hand such a system its events one by one: it starts each saga the way
its users do (one at a time, so the order of their shared-state decisions is known),
watches until the saga ended, and then explains the trace: every event a participant
of the spec was given is matched with what that participant published after it in the
same saga (the longest output the model allows that the trace holds), and the oracle
judges each handling as if the suite had delivered it. What no handling explains is a
failure too (published twice, or for no reason).
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from sagaspec.conformance.spec_conform import (
    CaseResult,
    _allowed,
    _allowed_start,
    _unique,
    _unique_types,
)
from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.spec.sagafile import SagaSpec

__all__ = ["run_system_case", "explain", "HealthCheck", "BLACK_BOX_FAULTS"]

#: The fault kinds the suite can inject into a system that runs by itself, over its own
#: broker: a message it published, published again (a duplicate delivery), and a message
#: no service can read on one of its routes. It cannot crash its processes or hold its
#: messages back.
BLACK_BOX_FAULTS = ("duplicates", "invalid")

#: The probe's seed: the same saga every time, so a probe that passed before the first
#: case and fails after case K says case K left damage behind.
PROBE_SEED = 0x5EED


class HealthCheck:
    """Between cases: the adapter's own ``health()`` (a declared URL), and with
    ``probe`` one plain saga (each world knob at its first value), the same each time,
    started and judged. A probe that
    already fails before the first case is not used (the cases show that service's bugs)."""

    def __init__(self, spec: SagaSpec, adapter: Any) -> None:
        self.spec, self.adapter = spec, adapter
        self.probe = getattr(adapter, "probe", False) is True and not self._probe()

    def _probe(self) -> str | None:
        if getattr(self.adapter, "black_box", False):
            result = run_system_case(self.spec, self.adapter, PROBE_SEED, sagas=1, plain=True)
        else:  # one participant behind the adapter: the suite plays the bus, no faults
            from sagaspec.conformance.spec_conform import run_case

            result = run_case(self.spec, self.adapter, PROBE_SEED, sagas=1, crashes=False, duplicates=False,
                              reorder=False, invalid=False, plain=True)
        return result.failures[0].message if result.failures else None

    def after(self) -> str | None:
        """Why the system is not healthy now, or None."""
        check = getattr(self.adapter, "health", None)
        sick = check() if callable(check) else None
        if sick is None and self.probe:
            failed = self._probe()
            if failed:
                sick = f"the probe saga, which passed before the first case, now fails: {failed}"
        return sick


def run_system_case(spec: SagaSpec, adapter: Any, seed: int, *, sagas: int = 2, plain: bool = False,
                    faults: tuple[str, ...] = ()) -> CaseResult:
    """One seeded case against a black-box system ``adapter``: start ``sagas`` sagas,
    each under a random world their steering makes happen (``plain``: each knob's first
    value), and judge what came out. ``faults`` (of :data:`BLACK_BOX_FAULTS`): after a
    saga ended, publish one of its messages again, or an unreadable one on its routes;
    whatever the system publishes in answer is judged with the rest (a duplicate must
    change nothing), and damage shows in later sagas or the health check."""
    from sagaspec.spec.specschemas import example_value

    rng = random.Random(seed)
    result = CaseResult(seed, sagas)
    saga_ids = [f"s{seed}-{i}" for i in range(sagas)]
    trigger = next(e for e in spec.events if e.role == "trigger")
    base = {f.name: example_value(spec, f.schema, f.name) for f in trigger.fields}
    wanted = {s: {k: v[0] if plain else rng.choice(v) for k, v in spec.world.items()} for s in saga_ids}
    adapter.reset()
    result.tag = getattr(adapter, "tag", None)
    prepared = {s: adapter.prepare(base, wanted[s]) for s in saga_ids}
    world = {s: prepared[s][1] for s in saga_ids}
    oracle = SpecOracle(spec, saga_ids, dict(adapter.params), world)
    result.failures = oracle.failures
    trace: list[Any] = []
    # Fault decisions have their own stream: the sagas and worlds of a seed stay the same
    # whichever fault kinds are switched on (shrinking drops kinds, not sagas).
    chance = random.Random(seed ^ 0xFA17)
    for s in saga_ids:
        their = adapter.trigger(s, prepared[s][0], world[s])
        got = adapter.observe(s)
        result.log.append(f"start saga {s} (their {their}, world {world[s]}) -> [{', '.join(_unique_types(got))}]")
        trace += got
        duplicate, invalid = chance.random() < 0.6, chance.random() < 0.3
        if "duplicates" in faults and duplicate:
            sent = adapter.redeliver(s, chance)
            if sent is not None:
                known = {e.get("eventId") for e in trace if isinstance(e, dict)}
                got = adapter.observe(s)  # (its state read over HTTP shows the end again: not new)
                new = [e for e in got if not isinstance(e, dict) or e.get("eventId") not in known]
                result.log.append(f"publish {sent} of saga {s} again -> [{', '.join(_unique_types(new))}]")
                trace += got
        if "invalid" in faults and invalid:
            sent = adapter.publish_invalid(chance)
            if sent is not None:
                result.log.append(f"publish an unreadable message on {sent}")
    if faults:
        trace += adapter.stragglers()  # what a last fault made it publish
    result.events = len(trace)
    result.steps = explain(oracle, spec, saga_ids, trace)
    if not oracle.failures:
        oracle.check_properties()
    params = dict(adapter.params)

    def judge_late(events: list[Any]) -> None:
        """What the system published for this case after it ended: the whole trace is
        judged again with it (a late answer to a duplicate is still this case's)."""
        result.events += len(events)
        result.log.append(f"after the case: the system published [{', '.join(_unique_types(events))}]")
        again = SpecOracle(spec, saga_ids, params, world)
        explain(again, spec, saga_ids, trace + list(events))
        if not again.failures:
            again.check_properties()
        result.failures[:] = again.failures

    result.late = judge_late
    return result


def explain(oracle: SpecOracle, spec: SagaSpec, saga_ids: list[str], trace: list[Any]) -> int:
    """Match ``trace`` (events in arrival order) to handlings and let ``oracle`` judge
    them; the number of handlings."""
    events = _unique([e for e in trace if isinstance(e, dict)])
    for e in events:
        if not isinstance(e.get("eventType"), str) or e["eventType"] not in spec.event_names:
            oracle.failures.append(Failure("schema", "system", "?", str(e.get("eventType")),
                                           f"the system published something that is not an event of {spec.name}: "
                                           f"{e.get('eventType')}"))
        elif e.get("sagaId") not in oracle.index:
            oracle.failures.append(Failure("unknown-saga", "system", "?", e["eventType"],
                                           f"the system published {e['eventType']} for no saga the suite started "
                                           f"({e.get('sagaId')!r})"))
    events = [e for e in events if e.get("sagaId") in oracle.index and e.get("eventType") in spec.event_names]
    if oracle.failures:
        return 0
    publisher = {e.name: next((p.name for p in spec.participants if e.name in p.publishes), "?") for e in spec.events}
    subscribers = {e.name: [p.name for p in spec.participants if e.name in p.subscribes] for e in spec.events}
    claimed: set[int] = set()

    def take(saga: str, who: str, allowed: set[tuple[str, ...]], after: int) -> list[int]:
        """The longest allowed output of ``who`` that the trace holds after ``after``."""
        best: list[int] = []
        for types in allowed:
            picked: list[int] = []
            for t in types:
                i = next((i for i in range(after + 1, len(events)) if i not in claimed and i not in picked
                          and events[i]["sagaId"] == saga and events[i]["eventType"] == t and publisher[t] == who),
                         None)
                if i is None:
                    break
                picked.append(i)
            else:
                if len(picked) > len(best) or not best and not types:
                    best = picked
        if not best and () not in allowed:
            # Nothing allowed came: what it published instead, for the oracle to name.
            best = [i for i in range(after + 1, len(events)) if i not in claimed and events[i]["sagaId"] == saga
                    and publisher[events[i]["eventType"]] == who][:1]
        return best

    queue: list[tuple[int, int, str]] = []
    order = 0
    starter = next(p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions))
    for s in saga_ids:
        picked = take(s, starter, _allowed_start(oracle, starter, s), -1)
        claimed.update(picked)
        oracle.started(starter, s, [events[i] for i in picked])
        for i in picked:
            for dest in subscribers[events[i]["eventType"]]:
                heapq.heappush(queue, (i, order, dest))
                order += 1
    steps = 0
    while queue and not oracle.failures:
        i, _, dest = heapq.heappop(queue)
        event = events[i]
        picked = sorted(take(event["sagaId"], dest, _allowed(oracle, dest, event), i))
        claimed.update(picked)
        steps += 1
        oracle.handled(dest, event, duplicate=False, emitted=[events[j] for j in picked])
        for j in picked:
            for nxt in subscribers[events[j]["eventType"]]:
                heapq.heappush(queue, (j, order, nxt))
                order += 1
    for i, e in enumerate(events):
        if i not in claimed and not oracle.failures:
            who = publisher[e["eventType"]]
            oracle.failures.append(Failure("model", who, e["sagaId"], e["eventType"],
                                           f"{who} published {e['eventType']} of saga {e['sagaId']} that no event "
                                           "it was given explains (published twice, or unprompted)"))
    return steps
