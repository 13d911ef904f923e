"""Overtaken events on purpose: a later event of a saga reaching the target before an
earlier one (a cancellation before the creation), by the overtaking policy
(conformance/choosers.py OVERTAKE), not by a lucky interleaving."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sagaspec.conformance import choosers

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_overtaken.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_overtaken", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_overtaking_delivery_is_told_from_an_ordinary_one():
    bench = _bench()
    create = {"eventId": "e1", "eventType": "OrderCreated", "sagaId": "s"}
    cancel = {"eventId": "e2", "eventType": "OrderCancelled", "sagaId": "s"}
    other = {"eventId": "e3", "eventType": "OrderCreated", "sagaId": "t"}
    subs = frozenset({"OrderCreated", "OrderCancelled"})
    published = [{"op": "place", "emitted": [create]}, {"op": "place", "emitted": [other]},
                 {"op": "deliver", "to": "inventory", "emitted": [cancel]}]

    def deliver(ev):
        return {"op": "deliver", "to": "payment", "event": ev}

    assert bench.overtaken([*published, deliver(cancel), deliver(create)], subs, "payment") == 1
    assert bench.overtaken([*published, deliver(create), deliver(cancel)], subs, "payment") == 0
    # Another saga's earlier event still in flight is no overtaking.
    assert bench.overtaken([*published, deliver(create), deliver(cancel), deliver(other)],
                           subs, "payment") == 0


@pytest.mark.timeout(120)
def test_the_overtaking_policy_reaches_overtaken_events_more_often(monkeypatch):
    bench = _bench()
    cases, on = bench.measure("payment", 1, 100, "corrected")
    monkeypatch.setattr(choosers, "OVERTAKE", False)
    same, off = bench.measure("payment", 1, 100, "corrected")
    assert cases == same  # the policy reads draws every case makes: as many cases
    assert on > off, (on, off)


SHIPPING = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "order-shipping.saga.yaml")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mutant", ["drop-guard-23", "forget-update-22"])
def test_a_late_failure_overtakes_the_completion_on_every_seed(conform, mutant):
    """Notification emails a completion whose cancellation overtook it: the order paid
    and reserved, the carrier refusing it, the cancellation reaching Notification first.
    The policy leaned every played participant to its failures (Payment declined, no
    completion): missed on seed 1 of these five; one failing participant reaches it."""
    missed = []
    for seed in range(1, 6):
        r = conform(design=SHIPPING, participant="notification", mutant=mutant, seed=seed,
                    all_bugs=False, shrink=False)
        assert set(r.final.failures) <= {"model", "single-email"}, (seed, r.final.failures)
        if not r.final.failures:
            missed.append(seed)
    assert not missed, f"not found at the default example count on seeds {missed}"
