"""A compiled participant says which spec alternative each outcome comes from."""

from __future__ import annotations

from sagaspec.model.participant import Msg
from sagaspec.model.saga import saga_system


def test_each_outcome_comes_with_its_alternative_and_matches_on_event():
    s = saga_system("corrected", orders=2)
    pay = s.participant("payment")
    created = Msg("OrderCreated", 0, "order")
    pairs = pay.choices(pay.init(), created)
    assert tuple(o for _a, o in pairs) == pay.on_event(pay.init(), created)
    assert [(a.world, a.emit) for a, _o in pairs] == [
        ((("payment", "approve"),), ("PaymentProcessed",)),
        ((("payment", "decline"),), ("PaymentFailed",)),
    ]


def test_no_alternative_when_nothing_ran():
    s = saga_system("corrected", orders=1)
    order = s.participant("order")
    # A join still waiting for its other event: no alternative ran.
    ((alt, out),) = order.choices(order.init(), Msg("PaymentProcessed", 0, "payment"))
    assert alt is None and out.label == "wait (join)"
    inv = s.participant("inventory")
    ((alt, out),) = inv.choices(inv.init(), Msg("PaymentProcessed", 0, "payment"))
    assert alt is None and out.label == "ignore (no reaction)"


def test_without_declines_only_the_approve_alternative_runs():
    s = saga_system("corrected", orders=1, declines=False)
    pay = s.participant("payment")
    pairs = pay.choices(pay.init(), Msg("OrderCreated", 0, "order"))
    assert [a.world for a, _o in pairs] == [(("payment", "approve"),)]
