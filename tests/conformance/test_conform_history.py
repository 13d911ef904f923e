"""The spec's properties read on observed events (the model checker's names and definitions)."""

from __future__ import annotations

import pytest
from sagaspec.conformance.checks import CheckFailed
from sagaspec.conformance.history import History, SagaInfo
from sagaspec.conformance.models import suite_model

S0 = SagaInfo(0, "saga-0", {"orderId": "order-0", "userId": "user-0", "amount": "10.00"})
S1 = SagaInfo(1, "saga-1", {"orderId": "order-1", "userId": "user-1", "amount": "20.00"})
N = iter(range(10**6))


def ev(etype: str, saga: SagaInfo = S0, **fields) -> dict:
    base = {"eventId": f"e{next(N)}", "eventType": etype, "sagaId": saga.sagaId,
            "orderId": saga.fields["orderId"]}
    if etype in ("PaymentProcessed", "PaymentRefunded", "PaymentFailed", "OrderCreated"):
        base["amount"] = saga.fields["amount"]
    if etype in ("PaymentProcessed", "PaymentRefunded"):
        base["paymentId"] = "pay-1"
    if etype in ("OrderCreated", "OrderCompleted", "NotificationSent"):
        base["userId"] = saga.fields["userId"]
    base.update(fields)
    return base


def history(sagas) -> History:
    return History(sagas, suite_model("corrected", len(sagas)))


def play(*events, sagas=(S0, S1)) -> History:
    h = history(sagas)
    for e in events:
        h.check_consistency(e, h.by_id[e["eventId"]].event if e["eventId"] in h.by_id else None)
        h.add(e, "sut")
        h.check_safety(e)
    return h


def check_of(fn) -> str:
    with pytest.raises(CheckFailed) as err:
        fn()
    return err.value.check


def test_a_clean_completed_saga_satisfies_every_property():
    h = play(ev("OrderCreated"), ev("PaymentProcessed"), ev("InventoryReserved"),
             ev("OrderCompleted"), ev("NotificationSent"))
    h.check_quiet()


def test_safety_properties():
    assert check_of(lambda: play(ev("PaymentProcessed"), ev("PaymentProcessed"))) == "single-charge"
    assert check_of(lambda: play(ev("PaymentRefunded"))) == "refund-needs-charge"
    # A refund of another amount or another charge: the spec says both are copied from
    # the charge (from: PaymentProcessed.amount / .paymentId).
    assert check_of(lambda: play(ev("PaymentProcessed"),
                                 ev("PaymentRefunded", amount="1.00"))) == "saga-consistency"
    assert check_of(lambda: play(ev("PaymentProcessed"),
                                 ev("PaymentRefunded", paymentId="pay-2"))) == "saga-consistency"
    assert check_of(lambda: play(ev("PaymentProcessed"), ev("PaymentRefunded"),
                                 ev("PaymentRefunded"))) == "refund-needs-charge"
    assert check_of(lambda: play(ev("InventoryReserved"),
                                 ev("OrderCompleted"))) == "completed-paid-reserved"
    assert check_of(lambda: play(ev("PaymentProcessed"), ev("InventoryReserved"),
                                 ev("OrderCompleted"),
                                 ev("PaymentRefunded"))) == "completed-paid-reserved"
    assert check_of(lambda: play(ev("OrderCancelled"), ev("OrderCancelled"))) == "one-outcome"
    assert check_of(lambda: play(ev("PaymentProcessed"), ev("InventoryReserved"),
                                 ev("OrderCompleted"), ev("NotificationSent"),
                                 ev("NotificationSent"))) == "single-email"
    assert check_of(lambda: play(ev("NotificationSent"))) == "notify-only-completed"


def test_saga_consistency():
    assert check_of(lambda: play(ev("PaymentProcessed", sagaId="nope"))) == "saga-consistency"
    assert check_of(lambda: play(ev("PaymentProcessed", orderId="order-1"))) == "saga-consistency"
    assert check_of(lambda: play(ev("PaymentProcessed", amount="99.00"))) == "saga-consistency"
    first = ev("PaymentProcessed")
    assert check_of(lambda: play(first, dict(first, amount="10.00", paymentId="other"))) \
        == "saga-consistency"
    other = ev("OrderCreated", S1)
    h = history((S0, S1))
    h.note_received(other)
    with pytest.raises(CheckFailed, match="was caused by"):
        h.check_consistency(ev("PaymentProcessed", causationId=other["eventId"]), None)
    with pytest.raises(CheckFailed, match="never received"):
        h.check_consistency(ev("PaymentProcessed", causationId="ghost"), None)


def test_quiet_properties_read_held_charges_in_the_models_sense():
    # A refund that comes before the charge compensates nothing (the seed's hole).
    h = history((S0,))
    for e in (ev("OrderCreated"), ev("InventoryReservationFailed"), ev("OrderCancelled"),
              ev("PaymentRefunded"), ev("PaymentProcessed")):
        h.add(e, "sut")  # no safety checks: the refund alone breaks refund-needs-charge
    with pytest.raises(CheckFailed) as err:
        h.check_quiet()
    assert err.value.check == "no-charge-left"
    stuck = play(ev("OrderCreated"), ev("InventoryReserved"))
    with pytest.raises(CheckFailed) as err:
        stuck.check_quiet()
    assert err.value.check == "saga-terminates"
    assert "also violated: no-reservation-left" in err.value.message
    with pytest.raises(CheckFailed) as err:
        stuck.check_quiet(prefer="no-reservation-left")
    assert err.value.check == "no-reservation-left"
    stuck.check_quiet(skip=frozenset({"saga-terminates", "no-reservation-left"}))
    short = play(ev("OrderCreated"), ev("PaymentProcessed"), ev("InventoryReserved"),
                 ev("OrderCompleted"))
    with pytest.raises(CheckFailed, match="notification.emails = 0") as err:
        short.check_quiet()
    assert err.value.check == "completed-exactly-once"


def test_the_checks_are_the_specs_properties_with_the_checkers_names():
    h = history((S0,))
    judged = {sp.name for sp, _p in h.state.properties}
    assert judged == {"single-charge", "refund-needs-charge", "completed-paid-reserved",
                      "one-outcome", "single-email", "notify-only-completed",
                      "saga-terminates", "no-charge-left", "no-reservation-left",
                      "completed-exactly-once"}
    # The stock is the service's own: properties reading it are left to the stock check.
    assert set(h.state.not_judged) == {"stock-non-negative", "stock-conserved",
                                       "some-order-completes", "some-order-cancelled",
                                       "some-compensation-runs"}
    assert {p.name for p in h.spec.properties} == judged | set(h.state.not_judged)


def test_a_violation_is_reported_once():
    h = history((S0,))
    first, second, third = ev("PaymentProcessed"), ev("PaymentProcessed"), ev("PaymentFailed")
    h.add(first, "sut")
    h.check_safety(first)
    h.add(second, "sut")
    with pytest.raises(CheckFailed) as err:
        h.check_safety(second)
    assert str(err.value) == (
        f"[single-charge] saga saga-0 (order-0): never charged twice for one order, "
        f"broken by PaymentProcessed {second['eventId']}: payment.charges <= 1 is false with "
        f"payment.charges = 2 (events: PaymentProcessed {first['eventId']}, "
        f"PaymentProcessed {second['eventId']})")
    h.add(third, "sut")
    h.check_safety(third)  # still two charges, already reported
