"""The hand-written order services of the corrected design, on concrete JSON events.

The order saga's reference services are the interpreter running the order spec
(tests/examples/test_interpreter.py, whose differential test compares the two); these
tests keep the hand-written classes honest while they remain.
"""

from __future__ import annotations

import functools
import json

import pytest
from sagaspec.examples import (
    DEAD_LETTERED,
    DUPLICATE,
    IGNORED,
    PROCESSED,
    SQLiteStore,
    make_service,
)
from sagaspec.examples import make_system as _make_system
from sagaspec.examples.samples import sample_created as created
from sagaspec.examples.samples import sample_event as event
from sagaspec.examples.samples import sample_order as order_dict
from sagaspec.spec.events import parse_event

from sagaspec.errors import InputError

make_system = functools.partial(_make_system, engine="hand-written")


def cancelled(n: int = 1, reason: str = "payment failed: declined") -> dict:
    return event("OrderCancelled", n, reason=reason)


def types(items) -> list:
    return [i["eventType"] if isinstance(i, dict) else f"raw:{i.reason}" for i in items]

pytestmark = pytest.mark.timeout(60)


def run(system, order):
    system.place_order(order)
    return system.drain()


def test_happy_path_completes_once_and_every_event_is_valid(world):
    system = make_system(world=world)
    out = run(system, order_dict(1, qty=2))
    assert types(out) == ["OrderCreated", "PaymentProcessed", "InventoryReserved",
                          "OrderCompleted", "NotificationSent"]
    by_type = {e["eventType"]: e for e in out}
    for e in out:
        parse_event(e)  # raises if schema-invalid
        assert (e["sagaId"], e["orderId"], e["correlationId"]) == ("saga-1", "order-1", "corr-1")
    # causation chain: each reaction names the event that caused it
    assert by_type["PaymentProcessed"]["causationId"] == by_type["OrderCreated"]["eventId"]
    assert by_type["NotificationSent"]["causationId"] == by_type["OrderCompleted"]["eventId"]
    assert len({e["eventId"] for e in out}) == 5
    assert by_type["OrderCompleted"]["paymentId"] == by_type["PaymentProcessed"]["paymentId"]
    assert system.service("inventory").stock()["sku-1"] == 3
    assert system.service("notification").email_count() == 1
    assert system.service("payment").account("order-1")["charges"][0]["amount"] == "20.00"


def test_declined_payment_cancels_and_releases_the_reservation(world):
    system = make_system(world=world)
    out = run(system, order_dict(1, user="mallory", qty=2))
    assert types(out) == ["OrderCreated", "PaymentFailed", "InventoryReserved",
                          "OrderCancelled", "InventoryReleased"]
    assert system.service("inventory").stock()["sku-1"] == 5  # back to where it was
    assert system.service("notification").email_count() == 0
    assert system.service("payment").account("order-1")["charges"] == []


def test_amount_over_the_limit_is_declined(world):
    system = make_system(world=world)
    out = run(system, order_dict(1, qty=1, price="1000.01"))
    assert "PaymentFailed" in types(out) and "OrderCancelled" in types(out)


def test_short_stock_refunds_the_charge_exactly_once(world):
    system = make_system(world=world)
    out = run(system, order_dict(1, sku="sku-2", qty=2))
    assert types(out) == ["OrderCreated", "PaymentProcessed", "InventoryReservationFailed",
                          "OrderCancelled", "PaymentRefunded"]
    refund = out[-1]
    charge = out[1]
    assert (refund["paymentId"], refund["amount"]) == (charge["paymentId"], charge["amount"])
    assert system.service("inventory").stock() == {"sku-1": 5, "sku-2": 1}
    assert "sku-2" in out[2]["reason"]


def test_reservation_is_all_or_nothing_across_lines(world):
    inv = make_service("inventory", world=world)
    e = created(1)
    e["items"] = [{"sku": "sku-1", "quantity": 2, "unitPrice": "1.00"},
                  {"sku": "sku-2", "quantity": 2, "unitPrice": "1.00"}]
    e["amount"] = "4.00"
    assert inv.handle(e) == PROCESSED
    published = []
    inv.relay(published.append)
    assert types(published) == ["InventoryReservationFailed"]
    assert inv.stock() == {"sku-1": 5, "sku-2": 1}


def test_same_sku_on_two_lines_is_summed(world):
    inv = make_service("inventory", world=world)
    e = created(1)
    e["items"] = [{"sku": "sku-2", "quantity": 1, "unitPrice": "1.00"},
                  {"sku": "sku-2", "quantity": 1, "unitPrice": "1.00"}]
    inv.handle(e)
    published = []
    inv.relay(published.append)
    assert types(published) == ["InventoryReservationFailed"]


def test_both_failures_cancel_once_and_compensate_nothing(world):
    system = make_system(world=world)
    out = run(system, order_dict(1, user="mallory", sku="sku-2", qty=3))
    assert types(out).count("OrderCancelled") == 1
    assert "PaymentRefunded" not in types(out) and "InventoryReleased" not in types(out)


@pytest.mark.parametrize("participant", ["payment", "inventory"])
def test_cancellation_overtaking_order_created_does_nothing_late(participant, world):
    svc = make_service(participant, world=world)
    published = []
    assert svc.handle(cancelled(1)) == PROCESSED
    assert svc.handle(created(1)) == PROCESSED
    svc.relay(published.append)
    assert published == []  # no charge / reservation, and nothing to compensate
    if participant == "inventory":
        assert svc.stock()["sku-1"] == 5
    else:
        assert svc.account("order-1")["charges"] == []


def test_cancellation_overtaking_in_a_reordering_bus_never_leaks(world):
    # A seeded bus delivers pending messages in random order; over many seeds the
    # outcome is always consistent: one outcome per saga, every charge refunded or
    # completed, stock conserved.
    for seed in range(40):
        system = make_system(world=world, seed=seed)
        for n in range(1, 4):
            system.place_order(order_dict(n, user="mallory" if n == 2 else "alice",
                                          sku="sku-2" if n == 3 else "sku-1", qty=2 if n == 3 else 1))
        out = system.drain()
        for n in range(1, 4):
            mine = [e["eventType"] for e in out if e["sagaId"] == f"saga-{n}"]
            assert mine.count("OrderCompleted") + mine.count("OrderCancelled") == 1, (seed, mine)
            assert mine.count("PaymentProcessed") == mine.count("PaymentRefunded") + mine.count("OrderCompleted")
        assert system.service("inventory").stock() == {"sku-1": 4, "sku-2": 1}, seed


def test_duplicates_are_absorbed_by_every_participant(world):
    system = make_system(world=world)
    out = run(system, order_dict(1))
    for e in out:
        system.deliver(e)  # the whole saga redelivered
    assert system.drain() == []
    assert system.service("notification").email_count() == 1
    assert len(system.service("payment").account("order-1")["charges"]) == 1


def test_place_order_twice_creates_one_order(world):
    system = make_system(world=world)
    run(system, order_dict(1))
    assert system.service("order").place_order(order_dict(1)) == DUPLICATE
    assert run(system, order_dict(1)) == []


def test_place_order_rejects_an_invalid_order_with_one_line():
    order = make_service("order")
    bad = order_dict(1)
    bad["amount"] = 10
    with pytest.raises(InputError, match=r"order 'order-1': .*amount"):
        order.place_order(bad)


def test_late_success_after_cancellation_changes_nothing(world):
    order = make_service("order")
    published = []
    order.place_order(order_dict(1))
    assert order.handle(event("PaymentFailed", 1, amount="10.00", reason="declined")) == PROCESSED
    assert order.handle(event("InventoryReserved", 1, reservationId="res-1",
                              items=order_dict(1)["items"])) == PROCESSED
    order.relay(published.append)
    assert types(published) == ["OrderCreated", "OrderCancelled"]


def test_events_of_unknown_sagas_are_ignored_and_counted():
    order = make_service("order")
    assert order.handle(event("PaymentProcessed", 9, paymentId="p", amount="1.00")) == PROCESSED
    assert order.read("orphans:count") == 1
    assert order.store.pending_outbox() == []


GARBAGE = [
    b"\xff\xfe not utf-8",
    b"{not json",
    b"[1, 2, 3]",
    b'{"eventType": "OrderShipped", "eventId": "e1"}',
    b'{"eventId": "e1"}',
    json.dumps({**created(1), "amount": 10.0}).encode(),
    json.dumps({**created(1), "extra": 1}).encode(),
    json.dumps(created(1)).encode()[:-20],
]


@pytest.mark.parametrize("participant", ["order", "payment", "inventory", "notification"])
def test_invalid_input_is_dead_lettered_without_effect(participant, world):
    svc = make_service(participant, world=world)
    for garbage in GARBAGE:
        assert svc.handle(garbage) == DEAD_LETTERED
    assert svc.handle({"eventType": ["not", "a", "string"]}) == DEAD_LETTERED
    assert svc.handle(None) == DEAD_LETTERED
    assert svc.dead_letter_count() == len(GARBAGE) + 2
    records = svc.dead_letters()
    assert "not UTF-8" in records[0]["reason"] and "not JSON" in records[1]["reason"]
    assert "unknown event type 'OrderShipped'" in records[3]["reason"]
    assert "amount" in records[5]["reason"]
    assert svc.store.pending_outbox() == []
    # no business effect: a valid event afterwards behaves as on a fresh service
    fresh = make_service(participant, world=world)
    e = created(1)
    assert svc.handle(e) == fresh.handle(e)


def test_unsubscribed_events_are_ignored(world):
    pay = make_service("payment", world=world)
    assert pay.handle(event("NotificationSent", 1, userId="alice")) == IGNORED
    assert pay.store.pending_outbox() == []


@pytest.mark.parametrize("point", ["before-commit", "after-commit", "after-publish"])
def test_crash_at_any_point_then_redelivery_is_invisible(point, world):
    orders = [order_dict(1), order_dict(2, sku="sku-2", qty=2)]

    def outcome(system):
        for o in orders:
            system.place_order(o)
        out = system.drain()
        unique = {e["eventId"]: e for e in out}  # after-publish re-sends the same eventIds
        return sorted((e["sagaId"], e["eventType"]) for e in unique.values())

    expected = outcome(make_system(world=world))
    for victim in ("order", "payment", "inventory", "notification"):
        system = make_system(world=world, crash_point=point)
        system.crash(victim)
        assert outcome(system) == expected, victim
        assert system.crashes == 2  # the immediate restart and the armed kill
        assert system.service("inventory").stock() == {"sku-1": 4, "sku-2": 1}
        assert system.service("notification").email_count() == 1


def test_durable_sqlite_store_survives_a_real_reopen(tmp_path, world):
    path = str(tmp_path / "payment.db")
    pay = make_service("payment", store=SQLiteStore(path), world=world)
    e = created(1)
    pay.handle(e)
    pay.store.close()
    again = make_service("payment", store=SQLiteStore(path))
    assert again.handle(e) == DUPLICATE
    assert len(again.account("order-1")["charges"]) == 1
    assert len(again.store.pending_outbox()) == 1  # not relayed before the "crash"
    again.store.close()


def test_sqlite_backed_system_runs_the_whole_saga(tmp_path, world):
    system = make_system(world=world, store_factory=lambda name: SQLiteStore(str(tmp_path / f"{name}.db")))
    out = run(system, order_dict(1))
    assert types(out)[-1] == "NotificationSent"
    system.close()
