"""Shared variables' starting values (World.shared): the interpreter applies them and the
oracle judges the guards that read them exactly (check 'stock'), read from the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from sagaspec.adapters.base import World
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.spec_conform import spec_service_factory
from sagaspec.conformance.world import STOCK, WorldShared, judged_participants
from sagaspec.examples.spec_target import SpecTarget
from sagaspec.model.participant import Msg

from sagaspec.errors import InputError

SHOP = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml")
SAGAS = [SagaInfo(0, "s0", {}), SagaInfo(1, "s1", {})]


def _inventory(free: int) -> WorldShared:
    parts = judged_participants(suite_model(SHOP, 2), World(shared={"inventory.free": free}), SAGAS,
                                judge=frozenset({STOCK}))
    judge = next(p for p in parts if p.name == "inventory")
    assert isinstance(judge, WorldShared)
    return judge


def _published(judge, state, saga):
    outs = judge.on_event(state, Msg("OrderPlaced", saga, "order"))
    assert len(outs) == 1, outs  # decided, not either way
    return outs[0].state, [m.type for m in outs[0].publish]


@pytest.mark.parametrize(("free", "second"), [(1, ["StockUnavailable"]), (2, ["StockReserved"])])
def test_the_stock_the_world_set_up_decides_each_reservation(free, second):
    judge = _inventory(free)
    state, first = _published(judge, judge.init(), 0)
    assert first == ["StockReserved"]
    assert _published(judge, state, 1)[1] == second


def test_a_wrong_stock_decision_is_explained_with_the_shared_values():
    judge = _inventory(1)
    state, _ = _published(judge, judge.init(), 0)
    why = judge.explain(state, Msg("OrderPlaced", 1, "order"), Msg("StockReserved", 1, "inventory"))
    assert why and "free = 0 now" in why and "free = 1" in why and "StockUnavailable" in why
    assert judge.explain(state, Msg("OrderPlaced", 1, "order"), Msg("StockUnavailable", 1, "inventory")) is None


def test_without_shared_values_the_stock_stays_either_way():
    parts = judged_participants(suite_model(SHOP, 2), World(knobs={"s0": {"payment": "approve"}}), SAGAS,
                                judge=frozenset({STOCK}))
    assert not any(isinstance(p, WorldShared) for p in parts)


def _target() -> SpecTarget:
    return SpecTarget(spec_service_factory(suite_model(SHOP, 1).spec), "system")


def _reserved(target: SpecTarget, ids) -> list[str]:
    for i in ids:
        target.start({"sagaId": i})
    return [e["eventType"] for e in target.drain() if e["eventType"] in ("StockReserved", "StockUnavailable")]


def test_the_interpreter_starts_at_the_shared_values_and_keeps_them_over_a_crash():
    t = _target()
    # 3 units, above the bound of the spec's default params (stock 1): the domain widens.
    t.setup({"sagas": {}, "shared": {"inventory.free": 3}})
    assert _reserved(t, ["a", "b"]) == ["StockReserved", "StockReserved"]
    t.crash("inventory")
    assert _reserved(t, ["c", "d"]) == ["StockReserved", "StockUnavailable"]
    t.reset()
    t.setup({"shared": {"inventory.free": 0}})
    assert _reserved(t, ["e"]) == ["StockUnavailable"]


@pytest.mark.parametrize(("shared", "message"), [
    ({"inventory.free": 7}, "world: shared: inventory.free is 7; expected an integer from 0 to 6"),
    ({"inventory.free": -1}, "inventory.free is -1"),
    ({"order.free": 1}, "unknown shared variable 'order.free'; the spec has inventory.free"),
    ([1], "expected an object"),
])
def test_shared_values_are_checked_against_the_specs_domains(shared, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _target().setup({"shared": shared})


def test_the_world_round_trips_its_shared_values():
    w = World(knobs={"s": {"payment": "decline"}}, shared={"inventory.free": 2})
    assert World.from_json(w.to_json()) == w
    assert w.knob_values() == {"sagas": {"s": {"payment": "decline"}}, "shared": {"inventory.free": 2}}
