"""The suite's model is the spec compiled; what the suite cannot see is made permissive."""

from __future__ import annotations

from sagaspec.conformance.models import AnyStock, reads_shared, suite_model, world_alternatives
from sagaspec.model.participant import Msg
from sagaspec.model.saga import saga_system


def test_the_suite_model_is_the_compiled_spec_with_the_designs_routing():
    m = suite_model("corrected", 1)
    assert [p.name for p in m.participants] == ["order", "payment", "inventory", "notification"]
    assert m.publisher("PaymentRefunded") == "payment" and m.triggers == {"OrderCreated"}
    assert m.spec is not None and m.spec.name == "order-corrected"


def test_permissive_and_world_decided_participants_are_found_from_the_spec():
    parts = saga_system("corrected", orders=1).participants
    assert [p.name for p in parts if reads_shared(p)] == ["inventory"]  # guards read `free`
    assert [p.name for p in parts if world_alternatives(p)] == ["payment"]  # world: payment
    m = suite_model("corrected", 1)
    assert [p.name for p in m.participants if isinstance(p, AnyStock)] == ["inventory"]


def test_any_stock_may_reserve_or_run_out_and_keeps_plenty():
    inv = suite_model("corrected", 2).participant("inventory")
    created = Msg("OrderCreated", 0, "order")
    outs = inv.on_event(inv.init(), created)
    assert sorted(o.label for o in outs) == ["out of stock", "reserve"]
    reserved = next(o.state for o in outs if o.label == "reserve")
    # Both sagas may still reserve: the model's stock of 1 does not limit the service's.
    assert "reserve" in [o.label for o in inv.on_event(reserved, Msg("OrderCreated", 1, "order"))]
    released = inv.on_event(reserved, Msg("OrderCancelled", 0, "order"))
    assert [o.label for o in released] == ["release"]
    assert released[0].state.free == inv.init().free  # pinned: never limits anything
