"""The oracle: the set of model states consistent with what a service was seen doing."""

from __future__ import annotations

import pytest
from sagaspec.adapters.base import World
from sagaspec.conformance.checks import CheckFailed
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.oracle import Oracle
from sagaspec.conformance.world import judged_participants
from sagaspec.model.participant import Msg

OC = Msg("OrderCreated", 0, "order")
CANCEL = Msg("OrderCancelled", 0, "order")
PAID = Msg("PaymentProcessed", 0, "payment")
DECLINED = Msg("PaymentFailed", 0, "payment")
REFUND = Msg("PaymentRefunded", 0, "payment")


def oracle(design: str = "corrected", sut=("payment",), sagas: int = 1) -> Oracle:
    model = suite_model(design, sagas)
    return Oracle(model.participants, sut, triggers=model.triggers)


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


# -- the world's decisions (stock, payment rules), judged when the world is known -------
def world_oracle(world: World, sagas: list[SagaInfo], sut=("inventory",)) -> Oracle:
    model = suite_model("corrected", len(sagas))
    return Oracle(judged_participants(model, world, sagas), sut, triggers=model.triggers)


def saga(i: int, *lines: tuple[str, int], user: str = "alice", amount: str = "10.00") -> SagaInfo:
    items = [{"sku": sku, "quantity": n, "unitPrice": "1.00"} for sku, n in lines]
    return SagaInfo(i, f"saga-{i}", {"orderId": f"order-{i}", "userId": user, "amount": amount,
                                     "items": items})


def inv(t: str, i: int) -> Msg:
    return Msg(t, i, "inventory")


TWO_OF_SKU1 = [saga(0, ("sku-1", 2)), saga(1, ("sku-1", 2))]


def test_an_order_that_fits_must_be_reserved_and_one_that_does_not_must_fail():
    o = world_oracle(World(stock={"sku-1": 3}), TWO_OF_SKU1)
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    o.observe(inv("InventoryReserved", 0))
    o.quiet()
    o.deliver(Msg("OrderCreated", 1, "order"), "inventory")
    with pytest.raises(CheckFailed) as err:
        o.observe(inv("InventoryReserved", 1))  # 2 more units, only 1 left
    assert err.value.check == "stock"
    assert "do not fit the free stock" in err.value.message
    assert "free now sku-1: 1" in err.value.message
    assert err.value.allowed == ("InventoryReservationFailed[saga 1] from inventory",)


def test_a_short_answer_for_an_order_that_fits_is_a_stock_failure():
    o = world_oracle(World(stock={"sku-1": 2}), TWO_OF_SKU1[:1])
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    with pytest.raises(CheckFailed) as err:
        o.observe(inv("InventoryReservationFailed", 0))
    assert err.value.check == "stock" and "must be reserved" in err.value.message


def test_the_service_may_serve_concurrent_orders_in_either_order():
    # Both delivered before anything was published: whichever it took first gets the stock.
    for first, second in ((0, 1), (1, 0)):
        o = world_oracle(World(stock={"sku-1": 3}), TWO_OF_SKU1)
        o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
        o.deliver(Msg("OrderCreated", 1, "order"), "inventory")
        o.observe(inv("InventoryReserved", first))
        o.observe(inv("InventoryReservationFailed", second))
        o.quiet()
    o = world_oracle(World(stock={"sku-1": 3}), TWO_OF_SKU1)
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    o.deliver(Msg("OrderCreated", 1, "order"), "inventory")
    o.observe(inv("InventoryReserved", 1))
    with pytest.raises(CheckFailed, match=r"\[stock\]"):
        o.observe(inv("InventoryReserved", 0))


def test_a_release_gives_the_units_back():
    o = world_oracle(World(stock={"sku-1": 2}), TWO_OF_SKU1)
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    o.observe(inv("InventoryReserved", 0))
    o.deliver(Msg("OrderCancelled", 0, "order"), "inventory")
    o.observe(inv("InventoryReleased", 0))
    o.quiet()
    o.deliver(Msg("OrderCreated", 1, "order"), "inventory")
    with pytest.raises(CheckFailed) as err:
        o.observe(inv("InventoryReservationFailed", 1))
    assert err.value.check == "stock" and "free now sku-1: 2" in err.value.message


def test_every_line_must_fit_and_an_unlisted_sku_is_not_judged():
    mixed = [saga(0, ("sku-1", 1), ("sku-2", 1))]
    o = world_oracle(World(stock={"sku-1": 5, "sku-2": 0}), mixed)
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    with pytest.raises(CheckFailed, match=r"\[stock\].*1 x sku-1, 1 x sku-2"):
        o.observe(inv("InventoryReserved", 0))
    for outcome in ("InventoryReserved", "InventoryReservationFailed"):
        o = world_oracle(World(stock={"sku-1": 5}), mixed)  # sku-2: the world does not say
        o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
        o.observe(inv(outcome, 0))
        o.quiet()
    o = world_oracle(World(stock={"sku-1": 0}), mixed)  # a listed line is short: must fail
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    with pytest.raises(CheckFailed, match=r"\[stock\]"):
        o.observe(inv("InventoryReserved", 0))


@pytest.mark.parametrize(("world", "user", "amount", "approved"), [
    (World(declined_users=frozenset({"mallory"})), "mallory", "10.00", False),
    (World(declined_users=frozenset({"mallory"})), "alice", "10.00", True),
    (World(decline_over="10.00"), "alice", "10.00", True),  # at the limit: not over it
    (World(decline_over="10.00"), "alice", "10.01", False),
])
def test_payment_rules_decide_approve_or_decline(world, user, amount, approved):
    o = world_oracle(world, [saga(0, ("sku-1", 1), user=user, amount=amount)], sut=("payment",))
    right, wrong = (PAID, DECLINED) if approved else (DECLINED, PAID)
    o.deliver(OC, "payment")
    with pytest.raises(CheckFailed) as err:
        o.observe(wrong)
    assert err.value.check == "world-rules"
    assert f"must be {'approved' if approved else 'declined'}" in err.value.message
    o = world_oracle(world, [saga(0, ("sku-1", 1), user=user, amount=amount)], sut=("payment",))
    o.deliver(OC, "payment")
    o.observe(right)
    o.quiet()


def test_world_judgement_keeps_the_designs_guards():
    # A duplicate OrderCreated is still dropped, and a cancellation that overtook the
    # order still means "reserve nothing", whatever the stock says.
    o = world_oracle(World(stock={"sku-1": 9}), TWO_OF_SKU1[:1])
    o.deliver(Msg("OrderCancelled", 0, "order"), "inventory")
    o.quiet()
    o.deliver(Msg("OrderCreated", 0, "order"), "inventory")
    o.quiet()
    with pytest.raises(CheckFailed) as err:
        o.observe(inv("InventoryReserved", 0))
    assert err.value.check == "model"
