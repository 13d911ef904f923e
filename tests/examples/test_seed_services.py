"""The seed design's hand-written services reproduce the seed's holes on real code."""

from __future__ import annotations

import functools

import pytest
from sagaspec.examples import make_system as _make_system
from sagaspec.examples.samples import sample_order
from sagaspec.spec.designs import get_design

pytestmark = pytest.mark.timeout(60)
make_system = functools.partial(_make_system, engine="hand-written")

WORLD = {"stock": {"sku-1": 5, "sku-2": 1}, "declined_users": ["mallory"]}


def saga(system, order):
    system.place_order(order)
    return [e["eventType"] for e in system.drain()]


def test_seed_services_subscribe_exactly_as_the_seed_table():
    system = make_system("seed")
    design = get_design("seed")
    for name, svc in system.services.items():
        assert svc.subscribes == frozenset(design.service(name).subscribes), name


def test_seed_happy_path_and_section_4_compensation_work():
    system = make_system("seed", world=WORLD)
    assert saga(system, sample_order(1)) == ["OrderCreated", "PaymentProcessed", "InventoryReserved",
                                             "OrderCompleted", "NotificationSent"]
    assert saga(system, sample_order(2, sku="sku-2", qty=2)) == [
        "OrderCreated", "PaymentProcessed", "InventoryReservationFailed",
        "PaymentRefunded", "OrderCancelled"]


def test_nobody_handles_payment_failed_so_the_saga_never_ends_and_stock_leaks():
    system = make_system("seed", world=WORLD)
    out = saga(system, sample_order(1, user="mallory", qty=2))
    assert out == ["OrderCreated", "PaymentFailed", "InventoryReserved"]  # and then: silence
    assert "OrderCancelled" not in out and "OrderCompleted" not in out
    assert system.service("inventory").stock()["sku-1"] == 3  # reserved forever
    corrected = make_system("corrected", world=WORLD)
    assert saga(corrected, sample_order(1, user="mallory", qty=2))[-2:] == ["OrderCancelled", "InventoryReleased"]
    assert corrected.service("inventory").stock()["sku-1"] == 5


def test_refund_without_a_charge_when_payment_declined_and_stock_short():
    system = make_system("seed", world=WORLD)
    out = saga(system, sample_order(1, user="mallory", sku="sku-2", qty=2))
    assert sorted(out) == sorted(["OrderCreated", "PaymentFailed", "InventoryReservationFailed",
                                  "PaymentRefunded", "OrderCancelled"])
    assert system.service("payment").account("order-1")["charges"] == []
    assert system.service("payment").account("order-1")["refunds"][0]["amount"] == "20.00"


def test_seed_late_order_created_after_a_reservation_failure_charges_and_never_refunds():
    # With a reordering bus, Payment can see InventoryReservationFailed before
    # OrderCreated: it refunds nothing-yet-charged, then charges for a cancelled order.
    leaked = 0
    for seed in range(60):
        system = make_system("seed", world=WORLD, seed=seed)
        system.place_order(sample_order(1, sku="sku-2", qty=2))
        out = [e["eventType"] for e in system.drain()]
        charges = system.service("payment").account("order-1")["charges"]
        if out.index("PaymentRefunded") < out.index("PaymentProcessed") and charges:
            leaked += 1
    assert leaked > 0
