"""The oracle: the set of model states consistent with what a service was seen doing."""

from __future__ import annotations

import pytest
from sagaspec.conformance.checks import CheckFailed
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.oracle import Oracle
from sagaspec.model.participant import Msg

OC = Msg("OrderCreated", 0, "order")
CANCEL = Msg("OrderCancelled", 0, "order")
PAID = Msg("PaymentProcessed", 0, "payment")
DECLINED = Msg("PaymentFailed", 0, "payment")
REFUND = Msg("PaymentRefunded", 0, "payment")


def oracle(design: str = "corrected", sut=("payment",), sagas: int = 1) -> Oracle:
    return Oracle(suite_model(design, sagas).participants, sut)


@pytest.mark.parametrize("outcome", [PAID, DECLINED])
def test_both_branches_of_a_payment_are_allowed(outcome):
    o = oracle()
    o.deliver(OC, "payment")
    o.observe(outcome)
    o.quiet()
    assert len(o.states()) == 1  # the observation chose the branch


def test_a_publication_the_model_does_not_allow_names_what_it_allowed():
    o = oracle()
    o.deliver(OC, "payment")
    with pytest.raises(CheckFailed) as err:
        o.observe(REFUND)
    assert err.value.check == "model"
    assert set(err.value.allowed) == {"PaymentProcessed[saga 0] from payment",
                                      "PaymentFailed[saga 0] from payment"}
    assert "delivered OrderCreated[saga 0] from order to payment" in err.value.message


def test_quiet_without_the_required_reaction_fails():
    o = oracle()
    o.deliver(OC, "payment")
    with pytest.raises(CheckFailed, match="still requires PaymentFailed"):
        o.quiet()


def test_a_duplicate_is_dropped_by_the_idempotency_store():
    o = oracle()
    o.deliver(OC, "payment")
    o.observe(PAID)
    o.quiet()
    o.deliver(OC, "payment")
    o.quiet()  # nothing required
    with pytest.raises(CheckFailed, match="again \\(a duplicate\\)"):
        o.observe(PAID)


def test_publications_may_lag_behind_deliveries():
    o = oracle()
    o.deliver(OC, "payment")
    o.deliver(CANCEL, "payment")
    o.observe(PAID)  # the charge, seen only after the cancellation was handed over
    with pytest.raises(CheckFailed, match="still requires PaymentRefunded"):
        o.quiet()
    o2 = oracle()
    o2.deliver(OC, "payment")
    o2.deliver(CANCEL, "payment")
    o2.observe(PAID)
    o2.observe(REFUND)
    o2.quiet()


def test_a_late_order_after_a_cancellation_is_ignored_in_corrected_but_not_in_seed():
    o = oracle()
    o.deliver(CANCEL, "payment")
    o.quiet()
    o.deliver(OC, "payment")
    o.quiet()  # remembered the cancellation: nothing to do
    seed = oracle("seed")  # the seed's payment does not even subscribe to OrderCancelled
    seed.deliver(CANCEL, "payment")
    seed.deliver(OC, "payment")
    with pytest.raises(CheckFailed):
        seed.quiet()


def test_the_whole_system_explains_publications_through_its_own_deliveries():
    o = oracle(sut=("order", "payment", "inventory", "notification"))
    o.trigger(OC)
    for m in (OC, Msg("InventoryReserved", 0, "inventory"), PAID,
              Msg("OrderCompleted", 0, "order"), Msg("NotificationSent", 0, "notification")):
        o.observe(m)
    o.quiet()
    with pytest.raises(CheckFailed):
        o.observe(Msg("OrderCancelled", 0, "order"))


def test_a_crash_may_lose_volatile_state_or_keep_it():
    # The seed's Order keeps its join memory in memory: after a crash the model forgets
    # the payment; a service that keeps it durably is a valid implementation too.
    o = oracle("seed", sut=("order",))
    o.trigger(OC)
    o.observe(OC)
    o.deliver(PAID, "order")
    o.quiet()
    o.crash("order")
    o.deliver(Msg("InventoryReserved", 0, "inventory"), "order")
    assert len(o.states()) == 2
    o.observe(Msg("OrderCompleted", 0, "order"))
    o.quiet()
