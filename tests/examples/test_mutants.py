"""Every mutant really behaves differently from the reference on a concrete scenario.

Each scenario is run twice, on the reference and on the mutant, with the same inputs; the
test asserts the reference's result, the mutant's result, and that they differ. A new
mutant without a scenario here fails ``test_every_mutant_has_a_scenario``. Both engines:
the reference services are the interpreter running the order spec, where a hand-written
mutant's name runs its operator mutant, and the same scenario shows the same bug in the
hand-written classes.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.crash import ConsumerCrashed
from sagaspec.examples import MUTANTS, make_target
from sagaspec.examples.samples import sample_created, sample_event, sample_order
from sagaspec.spec.events import parse_event

pytestmark = pytest.mark.timeout(60)

WORLD = {"stock": {"sku-1": 5, "sku-2": 1}, "declined_users": ["mallory"]}
ITEMS = [{"sku": "sku-1", "quantity": 1, "unitPrice": "10.00"}]


ENGINES = ("interpreter", "hand-written")


def stock(t, sku: str) -> int:
    """Units of ``sku`` in stock: the interpreter's keyed variable, the hand-written
    service's own record."""
    svc = t.service("inventory")
    return svc.stock()[sku] if hasattr(svc, "stock") else svc.variables("")["free"].get(sku, 0)


def emails(t) -> int:
    svc = t.service("notification")
    return svc.email_count() if hasattr(svc, "email_count") else svc.variables("saga-1")["emails"]


def deliver(t, event) -> None:
    """As a broker: a delivery killed before its acknowledgement is redelivered."""
    for _ in range(4):
        try:
            t.deliver(event)
            return
        except ConsumerCrashed:
            continue


def summary(items) -> list[str]:
    out = []
    for i in items:
        if isinstance(i, RawMessage):
            out.append("crash" if i.reason.startswith("consumer crashed") else "raw")
        else:
            out.append(i["eventType"])
    return out


# Each scenario: (participant, drive(target) -> observation, reference obs, mutant obs)
def dup_created(t):
    e = sample_created(1)
    deliver(t, e)
    deliver(t, e)
    return summary(t.drain())


def declined_then_cancelled(t):
    deliver(t, sample_created(1, user="mallory"))
    deliver(t, sample_event("OrderCancelled", 1, reason="payment failed"))
    return summary(t.drain())


def reserved_before_paid(t):
    t.place_order(sample_order(1))
    deliver(t, sample_event("InventoryReserved", 1, reservationId="res-1", items=ITEMS))
    return summary(t.drain())


def reserved_then_cancelled(t):
    deliver(t, sample_created(1, qty=2))
    deliver(t, sample_event("OrderCancelled", 1, reason="payment failed: declined"))
    return summary(t.drain()) + [f"stock={stock(t, 'sku-1')}"]


def cancel_overtakes_create(t):
    deliver(t, sample_event("OrderCancelled", 1, reason="payment failed"))
    deliver(t, sample_created(1))
    return summary(t.drain())


def dup_completed(t):
    e = sample_event("OrderCompleted", 1, userId="alice")
    deliver(t, e)
    deliver(t, e)
    return summary(t.drain()) + [f"emails={emails(t)}"]


def schema_of_payment(t):
    deliver(t, sample_created(1))
    out = t.drain()
    try:
        parse_event(out[0])
    except ValueError:
        return ["invalid"]
    return ["valid"]


def crash_then_created(t):
    t.crash("payment")
    deliver(t, sample_created(1))
    return summary(t.drain())


def garbage(t):
    t.deliver_raw(b"\x00 not json")
    deliver(t, {"eventId": "no-type"})
    return summary(t.drain())


def saga_of_payment(t):
    deliver(t, sample_created(1))
    return [e["sagaId"] for e in t.drain()]


def both_fail(t):
    t.place_order(sample_order(1))
    deliver(t, sample_event("InventoryReservationFailed", 1, reason="short"))
    deliver(t, sample_event("PaymentFailed", 1, amount="10.00", reason="declined"))
    return summary(t.drain())


def created_crash_duplicate(t):
    e = sample_created(1)
    deliver(t, e)
    t.crash("payment")
    deliver(t, e)
    return summary(t.drain())


def short_then_cancelled(t):
    deliver(t, sample_created(1, sku="sku-2", qty=3))
    deliver(t, sample_event("OrderCancelled", 1, reason="inventory reservation failed"))
    return summary(t.drain()) + [f"stock={stock(t, 'sku-2')}"]


def created(t):
    deliver(t, sample_created(1))
    return summary(t.drain())


def short_created(t):
    deliver(t, sample_created(1, sku="sku-2", qty=3))
    return summary(t.drain()) + [f"stock={stock(t, 'sku-2')}"]


SCENARIOS: dict[str, tuple[str, Callable, list[str], list[str]]] = {
    "no-idempotency": ("payment", dup_created, ["PaymentProcessed"],
                       ["PaymentProcessed", "PaymentProcessed"]),
    "refund-without-charge": ("payment", declined_then_cancelled, ["PaymentFailed"],
                              ["PaymentFailed", "PaymentRefunded"]),
    "complete-before-payment": ("order", reserved_before_paid, ["OrderCreated"],
                                ["OrderCreated", "OrderCompleted"]),
    "no-release-after-payment-failure": ("inventory", reserved_then_cancelled,
                                         ["InventoryReserved", "InventoryReleased", "stock=5"],
                                         ["InventoryReserved", "stock=3"]),
    "late-success-overwrites-cancellation": ("payment", cancel_overtakes_create, [],
                                             ["PaymentProcessed"]),
    "email-per-duplicate": ("notification", dup_completed, ["NotificationSent", "emails=1"],
                            ["NotificationSent", "NotificationSent", "emails=2"]),
    "invalid-event-published": ("payment", schema_of_payment, ["valid"], ["invalid"]),
    "crash-loses-acked-event": ("payment", crash_then_created, ["PaymentProcessed"], []),
    "malformed-input-crashes-consumer": ("payment", garbage, [], ["crash", "crash"]),
    "wrong-sagaId-propagated": ("payment", saga_of_payment, ["saga-1"], None),
    "double-cancel": ("order", both_fail, ["OrderCreated", "OrderCancelled"],
                      ["OrderCreated", "OrderCancelled", "OrderCancelled"]),
    "volatile-idempotency": ("payment", created_crash_duplicate, ["PaymentProcessed"],
                             ["PaymentProcessed", "PaymentProcessed"]),
    "publish-before-commit": ("payment", crash_then_created, ["PaymentProcessed"],
                              ["PaymentProcessed", "PaymentProcessed"]),
    "release-without-reservation": ("inventory", short_then_cancelled,
                                    ["InventoryReservationFailed", "stock=1"],
                                    ["InventoryReservationFailed", "InventoryReleased", "stock=4"]),
    "late-reservation-after-cancel": ("inventory", cancel_overtakes_create, [],
                                      ["InventoryReserved"]),
    "never-reserves": ("inventory", created, ["InventoryReserved"],
                       ["InventoryReservationFailed"]),
    "oversell": ("inventory", short_created, ["InventoryReservationFailed", "stock=1"],
                 ["InventoryReserved", "stock=-2"]),
    "release-keeps-stock": ("inventory", reserved_then_cancelled,
                            ["InventoryReserved", "InventoryReleased", "stock=5"],
                            ["InventoryReserved", "InventoryReleased", "stock=3"]),
    "decline-everything": ("payment", created, ["PaymentProcessed"], ["PaymentFailed"]),
    "charges-declined-users": ("payment", declined_then_cancelled, ["PaymentFailed"],
                               ["PaymentProcessed", "PaymentRefunded"]),
}


def test_every_mutant_has_a_scenario():
    assert set(SCENARIOS) == set(MUTANTS)
    assert len(MUTANTS) >= 10


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_mutant_differs_from_the_reference(name, engine):
    participant, drive, expected_ref, expected_mut = SCENARIOS[name]
    mutant = MUTANTS[name]
    assert participant in mutant.affects, "the scenario must target a mutated participant"
    reference = drive(make_target(participant, world=WORLD, engine=engine))
    mutated = drive(make_target(participant, mutant=name, world=WORLD, engine=engine))
    assert reference == expected_ref
    if expected_mut is None:  # wrong-sagaId: any sagaId but the right one
        assert mutated != reference and mutated[0] != "saga-1"
    else:
        assert mutated == expected_mut
    assert mutated != reference


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutants_behave_like_the_reference_on_the_happy_path(name, engine):
    """A mutant is a *subtle* bug: one plain saga shows nothing (except the schema bug,
    which is in every payment event, wrong-sagaId, which breaks the join, and the two
    world-decision bugs that refuse every order: a refusal is a legal outcome, only the
    world says it is wrong)."""
    system = make_target("system", mutant=name, world=WORLD, engine=engine)
    system.place_order(sample_order(1))
    out = summary(system.drain())
    if name in ("invalid-event-published", "wrong-sagaId-propagated", "never-reserves",
                "decline-everything"):
        assert "OrderCompleted" not in out  # Order cannot use what Payment published
    else:
        assert out == ["OrderCreated", "PaymentProcessed", "InventoryReserved",
                       "OrderCompleted", "NotificationSent"]


def test_mutant_metadata_is_documented():
    for m in MUTANTS.values():
        assert m.summary and "\n" not in m.summary and m.scenario
        assert m.affects
    assert {n for n, m in MUTANTS.items() if "crash" in m.needs} == {
        "crash-loses-acked-event", "volatile-idempotency", "publish-before-commit"}
