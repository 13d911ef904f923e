"""The world's decisions judged from spec data: stock (shared variables), payment (a knob)."""

from __future__ import annotations

from sagaspec.adapters.base import World
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.world import WorldInventory, WorldRules, judged_participants
from sagaspec.model.participant import Msg

LINE = {"sku": "sku-1", "quantity": 2, "unitPrice": "1.00"}
SAGAS = [SagaInfo(i, f"s{i}", {"orderId": f"o{i}", "userId": f"u{i}", "amount": "2.00",
                               "items": [LINE]}) for i in range(2)]
CREATED = [Msg("OrderCreated", i, "order") for i in range(2)]


def _judged(world: World) -> dict:
    return {p.name: p for p in judged_participants(suite_model("corrected", 2), world, SAGAS)}


def test_stock_decides_reservations_and_a_release_gives_the_units_back():
    inv = _judged(World(stock={"sku-1": 3}))["inventory"]
    assert isinstance(inv, WorldInventory) and inv.unit == 1
    s0 = inv.init()
    assert [o.label for o in inv.on_event(s0, CREATED[0])] == ["reserve"]
    s1 = inv.on_event(s0, CREATED[0])[0].state
    assert s1.free == (1,)
    assert [o.label for o in inv.on_event(s1, CREATED[1])] == ["out of stock"]
    s2 = inv.on_event(s1, Msg("OrderCancelled", 0, "order"))[0].state
    assert s2.free == (3,)
    assert [o.label for o in inv.on_event(s2, CREATED[1])] == ["reserve"]


def test_the_payment_knob_follows_the_worlds_rules():
    pay = _judged(World(declined_users=frozenset({"u1"})))["payment"]
    assert isinstance(pay, WorldRules) and pay.knobs == {"payment": {False: "approve", True: "decline"}}
    assert [[o.label for o in pay.on_event(pay.init(), m)] for m in CREATED] == \
        [["approve"], ["decline"]]
    why = pay.explain(pay.init(), CREATED[1], Msg("PaymentProcessed", 1, "payment"))
    assert why is not None and "must be declined (PaymentFailed)" in why


def test_without_a_decision_to_make_the_models_outcomes_stand():
    pay = _judged(World(declined_users=frozenset({"u1"})))["payment"]
    charged = pay.on_event(pay.init(), CREATED[0])[0].state
    # A refund is no world decision: the model's outcome is kept as it is.
    assert [o.label for o in pay.on_event(charged, Msg("OrderCancelled", 0, "order"))] == ["refund"]
