"""The reference interpreter runs any spec's participants as real services.

Two proofs that it is the spec: every shortest counterexample the checker finds replays
on the services step by step with equal variables after every step (and the services
then violate the same property); and under random schedules with duplicates and crashes,
the correct specs' services end with every property holding.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sagaspec.examples.interpreter import (
    ReplayMismatch,
    SpecService,
    property_verdicts,
    replay_path,
    spec_services,
)
from sagaspec.examples.service import DEAD_LETTERED, DUPLICATE, IGNORED, PROCESSED, SimulatedCrash
from sagaspec.model import Config, explore
from sagaspec.model.saga import saga_system
from sagaspec.spec.sagafile import load_spec, shipped_spec

from sagaspec.errors import InputError

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
CORRECT = ["corrected", *(str(p) for p in sorted(SAGAS.glob("*.saga.yaml")) if "buggy" not in p.name)]
BUGGY = ["seed", *(str(p) for p in sorted(SAGAS.glob("*-buggy.saga.yaml")))]


def _spec(ref: str):
    return shipped_spec(ref) if ref in ("seed", "corrected") else load_spec(ref)


def _name(ref: str) -> str:
    return Path(ref).name


@pytest.mark.parametrize("ref", BUGGY, ids=_name)
def test_every_counterexample_replays_on_the_services_with_equal_state(ref):
    result = explore(saga_system(ref), Config())
    assert result.violations
    for v in result.violations:
        services = replay_path(_spec(ref), v.path)  # raises on any difference
        if v.property_kind in ("always", "at-rest"):
            verdicts = property_verdicts(services, [f"saga-{i}" for i in range(result.system.sagas)])
            assert verdicts[v.property] is False, (v.property, verdicts)


def test_a_crash_that_loses_volatile_join_memory_replays_too():
    result = explore(saga_system("seed", orders=1), Config(crashes=1))
    crashing = [v for v in result.violations if any(s.action.kind.startswith("crash") for s in v.path.steps)]
    assert crashing
    for v in crashing:
        replay_path(shipped_spec("seed"), v.path)


def test_a_trace_of_another_spec_does_not_replay():
    result = explore(saga_system("seed"), Config())
    v = result.violation("refund-needs-charge")
    with pytest.raises(ReplayMismatch):
        replay_path(shipped_spec("corrected"), v.path)


def _run_randomly(services: dict[str, SpecService], sagas: list[str], rng: random.Random) -> dict[str, int]:
    """Start every saga, deliver in random order with duplicates and crashes, until quiet."""
    pool: list[tuple[str, dict]] = []
    counts = {PROCESSED: 0, DUPLICATE: 0, "crashes": 0}

    def relay(name: str) -> None:
        def publish(event: dict) -> None:
            for dest, svc in services.items():
                if event["eventType"] in svc.subscribes:
                    pool.append((dest, event))

        services[name].relay(publish)

    starter = next(n for n, s in services.items() if any(r.kind == "trigger" for r in s.part.reactions))
    for saga in sagas:
        services[starter].start(saga)
    relay(starter)
    steps = 0
    while pool:
        steps += 1
        assert steps < 10_000
        dest, event = pool.pop(rng.randrange(len(pool)))
        if rng.random() < 0.15:
            pool.append((dest, event))  # at-least-once: a copy stays in flight
        if rng.random() < 0.1:
            services[dest].arm_crash(rng.choice(["before-commit", "after-commit", "after-publish"]))
        try:
            outcome = services[dest].handle(event)
            counts[outcome] = counts.get(outcome, 0) + 1
            relay(dest)
        except SimulatedCrash:
            counts["crashes"] += 1
            pool.append((dest, event))  # not acknowledged: redelivered
            services[dest] = services[dest].restarted()
            relay(dest)
        except Exception:
            raise
        if services[dest]._crash_at is not None:  # armed for a point this handling never reached
            services[dest]._crash_at = None
    return counts


@pytest.mark.parametrize("ref", CORRECT, ids=_name)
def test_correct_specs_hold_under_random_schedules_duplicates_and_crashes(ref):
    spec = _spec(ref)
    rng = random.Random(11)
    total = {PROCESSED: 0, DUPLICATE: 0, "crashes": 0}
    for run in range(12):
        sagas = [f"saga-{i}" for i in range(rng.randint(1, 3))]
        world = {"sagas": {s: {k: rng.choice(v) for k, v in spec.world.items()} for s in sagas}}
        services = spec_services(spec, world=world)
        counts = _run_randomly(services, sagas, rng)
        for k in total:
            total[k] += counts.get(k, 0)
        verdicts = property_verdicts(services, sagas)
        assert all(verdicts.values()), (run, {k: v for k, v in verdicts.items() if not v})
    # The schedules really exercised duplicates and crashes.
    assert total[DUPLICATE] > 0 and total["crashes"] > 0 and total[PROCESSED] > 20


def test_payloads_follow_the_spec_provenance_and_validate():
    from sagaspec.spec.schemas import validate_event

    spec = shipped_spec("corrected")
    services = spec_services(spec, world={"payment": "approve"})
    out = []
    services["order"].start("saga-0", {"orderId": "o-1", "userId": "u-1", "amount": "12.50",
                                       "items": [{"sku": "a", "quantity": 1, "unitPrice": "12.50"}]})
    services["order"].relay(out.append)
    (created,) = out
    assert created["amount"] == "12.50" and created["eventType"] == "OrderCreated"
    assert services["payment"].handle(created) == PROCESSED
    assert services["payment"].handle(created) == DUPLICATE
    services["payment"].relay(out.append)
    charge = out[-1]
    assert charge["eventType"] == "PaymentProcessed"
    assert charge["amount"] == "12.50"  # from: OrderCreated.amount
    assert charge["orderId"] == "o-1"  # a common field, from the cause
    assert charge["causationId"] == created["eventId"]
    assert charge["paymentId"] and charge["paymentId"] != created["eventId"]  # from: new
    for event in out:
        assert validate_event(event, spec=spec) == [], event


def test_bad_input_is_dead_lettered_and_other_events_ignored():
    svc = SpecService(shipped_spec("corrected"), "payment")
    assert svc.handle(b"{not json") == DEAD_LETTERED
    assert svc.handle({"eventType": "OrderCreated"}) == DEAD_LETTERED
    assert svc.dead_letter_count() == 2
    other = spec_services("corrected")["order"]
    other.start("s-1")
    sent = []
    other.relay(sent.append)
    assert SpecService(shipped_spec("corrected"), "notification").handle(sent[0]) == IGNORED


def test_world_knobs_are_checked_against_the_spec():
    with pytest.raises(InputError, match="unknown knob 'weather'"):
        SpecService(shipped_spec("corrected"), "payment", world={"weather": "sunny"})
    with pytest.raises(InputError, match="payment is 'maybe'; expected one of approve, decline"):
        SpecService(shipped_spec("corrected"), "payment", world={"sagas": {"s": {"payment": "maybe"}}})
