"""Keyed shared variables and world rules in the spec language.

A keyed shared variable (``key: sku``) holds one value per key in a real service; the
model keeps one key, so the checker's state vector is the one without keys. World rules
decide a knob from the world's data (declined users, an amount limit). Misuse is a load
error naming FILE:LINE.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest
from sagaspec.model import Config, explore
from sagaspec.model.compile import run_per_key, spec_system
from sagaspec.model.participant import Msg
from sagaspec.spec.sagafile import parse_spec, shipped_spec

from sagaspec.errors import ModelError, SpecError

CORRECTED = resources.files("sagaspec.spec").joinpath("sagas/order-corrected.saga.yaml").read_text()


def edited(old: str, new: str, text: str = CORRECTED) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.saga.yaml")
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_order_spec_declares_stock_per_sku_and_the_payment_rules():
    spec = shipped_spec("corrected")
    (sku,) = spec.keys
    assert (sku.name, sku.event, sku.field, sku.key, sku.quantity, sku.units) == \
        ("sku", "OrderCreated", "items", "sku", "quantity", "units")
    assert spec.participant("inventory").var("free").key == "sku"
    assert [(r.knob, r.value, r.event, r.field, r.test, r.data) for r in spec.rules] == [
        ("payment", "decline", "OrderCreated", "userId", "in", "declined_users"),
        ("payment", "decline", "OrderCreated", "amount", "above", "decline_over"),
    ]
    assert spec.world_data == {"declined_users": "list", "decline_over": "limit"}
    assert shipped_spec("seed").participant("inventory").var("free").key == "sku"


def _without_keys(text: str) -> str:
    text = re.sub(r"\nkeys:\n(?:  .*\n|    .*\n)+", "\n", text)
    text = re.sub(r"\n    rules:\n(?:      - .*\n)+", "\n", text)
    return text.replace(", key: sku,", ",")


@pytest.mark.parametrize("name", ["corrected", "seed"])
def test_keys_and_rules_leave_the_model_as_it_was(name):
    """The model has one key: the order spec with and without keys explores the same
    states and edges, with the same verdicts (so the checker's golden counts stand)."""
    text = resources.files("sagaspec.spec").joinpath(f"sagas/order-{name}.saga.yaml").read_text()
    plain = parse_spec(_without_keys(text), "plain.saga.yaml")
    assert not plain.keys and not plain.rules
    keyed = parse_spec(text, "keyed.saga.yaml")
    assert keyed.keys and keyed.rules
    got = [explore(spec_system(s, 2), Config(duplicates=1)) for s in (keyed, plain)]
    assert got[0].complete and got[1].complete
    assert got[0].stats.states == got[1].stats.states > 100
    assert got[0].stats.edges == got[1].stats.edges
    assert got[0].verdicts == got[1].verdicts


def _inventory():
    spec = shipped_spec("corrected")
    system = spec_system(spec, 1)
    return next(p for p in system.participants if p.name == "inventory")


def test_per_key_with_one_line_of_one_key_is_the_models_step():
    """run_per_key on one line of ``units`` units of one key is the model's own step, on
    every situation of Inventory's reactions (one definition of the semantics)."""
    inv = _inventory()
    units = inv.params["units"]
    seen = 0
    for status in inv.domains["status"].values:
        for held in (0, units):
            for free in range(0, inv.params["stock"] + 1):
                slot = inv._slot((status, held, 0, 0))
                for event in ("OrderCreated", "OrderCancelled"):
                    reaction = inv.by_event[event]
                    try:
                        model = [(label, s, sh[0]) for label, s, sh, _e, _a in inv._run(reaction, slot, (free,))]
                    except ModelError:
                        continue  # not a situation of the model (a second reservation past the bound)
                    keyed = [(label, s, k["free"].get("k", free))
                             for _a, label, s, _sh, k, _e in
                             run_per_key(inv, reaction, slot, (0,), {"free": {"k": free}}, {"sku": {"k": units}})]
                    assert keyed == model, (status, held, free, event)
                    seen += 1
    assert seen > 10


def _reserve(free: dict, lines: dict):
    inv = _inventory()
    slot = inv._slot(("none", 0, 0, 0))
    return inv.keyed_choices(slot, (0,), "OrderCreated", {"free": free}, {"sku": lines})


def test_a_reservation_takes_every_line_or_nothing_and_fails_on_one_short_sku():
    ((alt, label, slot, _sh, keyed, emit),) = _reserve({"a": 3, "b": 1}, {"a": 2, "b": 1})
    assert (label, emit, keyed["free"], slot.held) == ("reserve", ("InventoryReserved",), {"a": 1, "b": 0}, 3)
    ((alt, label, slot, _sh, keyed, emit),) = _reserve({"a": 3, "b": 0}, {"a": 2, "b": 1})
    assert (label, emit, keyed["free"], slot.held) == ("out of stock", ("InventoryReservationFailed",), {"a": 3, "b": 0}, 0)
    # A sku the world does not list has nothing in stock.
    ((_a, label, *_rest),) = _reserve({"a": 3}, {"c": 1})
    assert label == "out of stock"
    # A real stock above the model's bound is taken as it is.
    ((_a, label, slot, _sh, keyed, _e),) = _reserve({"a": 500}, {"a": 400})
    assert (label, keyed["free"], slot.held) == ("reserve", {"a": 100}, 400)


def test_a_release_gives_each_sku_its_own_units_back():
    inv = _inventory()
    slot = inv._slot(("reserved", 3, 1, 0))
    ((alt, label, new, _sh, keyed, emit),) = inv.keyed_choices(
        slot, (0,), "OrderCancelled", {"free": {"a": 1, "b": 0}}, {"sku": {"a": 2, "b": 1}})
    assert (label, emit, keyed["free"], new.held, new.releases) == \
        ("release", ("InventoryReleased",), {"a": 3, "b": 1}, 0, 1)


def test_without_known_lines_a_keyed_guard_does_not_hold():
    ((alt, label, *_rest),) = _reserve({"a": 3}, {})
    assert alt is None and label == "ignore (no alternative enabled)"


KEY_ERRORS = [
    # (old, new, expected message part, line needle)
    ("key: sku, description", "key: size, description", "unknown key 'size'; expected one of sku", "key: size"),
    ("    lines: OrderCreated.items", "    lines: OrderMade.items", "unknown event 'OrderMade'", "lines: OrderMade"),
    ("    lines: OrderCreated.items", "    lines: OrderCreated.userId", "must be a list field", "lines: OrderCreated.userId"),
    ("    lines: OrderCreated.items", "    lines: OrderCreated.things", "event OrderCreated has no field 'things'", "lines: OrderCreated.things"),
    ("    key: sku\n", "    key: product\n", "a line of OrderCreated.items has no field 'product'", "key: product"),
    ("    quantity: quantity\n", "    quantity: unitPrice\n", "field 'unitPrice' of a line must be an integer", "quantity: unitPrice"),
    ("    units: units\n", "    units: stocks\n", "'stocks' is not an int param", "units: stocks"),
    ("    units: units\n", "    units: declines\n", "'declines' is not an int param", "units: declines"),
    ("set: {status: reserved, held: held + units, reservations: reservations + 1, free: free - units}",
     "set: {status: reserved, held: free, reservations: reservations + 1, free: free - units}",
     "held is not keyed but its update reads keyed free", "held: free"),
    ("{value: decline, if: OrderCreated.userId, in: declined_users,",
     "{value: refuse, if: OrderCreated.userId, in: declined_users,",
     "'refuse' is not a value of world knob payment", "value: refuse"),
    ("{value: decline, if: OrderCreated.userId, in: declined_users,",
     "{value: decline, if: OrderCreated.user, in: declined_users,",
     "event OrderCreated has no field 'user'", "OrderCreated.user,"),
    ("{value: decline, if: OrderCreated.amount, above: decline_over,",
     "{value: decline, if: OrderCreated.amount, above: declined_users,",
     "world data 'declined_users' is a list (in)", "above: declined_users"),
]


@pytest.mark.parametrize(("old", "new", "expected", "needle"), KEY_ERRORS,
                         ids=[e[2][:40] for e in KEY_ERRORS])
def test_misuse_of_keys_and_rules_is_one_line_naming_file_and_line(old, new, expected, needle):
    text = edited(old, new)
    message = error_of(text)
    assert expected in message, message
    assert message.startswith(f"t.saga.yaml:{line_of(text, needle)}:"), message


def test_a_keyed_variable_counts_and_lives_where_the_lines_arrive():
    text = edited("      free: {type: int, min: 0, max: stock, initial: stock, key: sku,",
                  "      free: {type: enum, values: [a, b], key: sku,")
    assert "a keyed variable counts something per key: type int or counter, not enum" in error_of(text)
    # A per-saga variable cannot be keyed (the format has no such key).
    text = edited("      held: {type: int, min: 0, max: stock, description: units reserved for this order}",
                  "      held: {type: int, min: 0, max: stock, key: sku}")
    message = error_of(text)
    assert "unknown key 'key'" in message and message.startswith(f"t.saga.yaml:{line_of(text, 'max: stock, key: sku}')}:")
    # A participant that never sees the event with the lines cannot keep stock per key.
    text = edited("  notification:\n    description: Sends exactly one confirmation email per completed order.\n",
                  "  notification:\n    description: Sends exactly one confirmation email per completed order.\n"
                  "    shared:\n      sent: {type: counter, max: 2, key: sku}\n")
    message = error_of(text)
    assert "notification keeps sent per sku but never sees OrderCreated" in message
    assert message.startswith(f"t.saga.yaml:{line_of(text, 'sent: {type: counter')}:")


def test_a_units_param_stands_for_one_key_only():
    text = edited("    units: units\n", "    units: units\n  size:\n    lines: OrderCreated.items\n"
                  "    key: sku\n    quantity: quantity\n    units: units\n")
    assert "param 'units' already stands for key sku's units" in error_of(text)


def test_a_rule_needs_exactly_one_test():
    text = edited("{value: decline, if: OrderCreated.userId, in: declined_users,",
                  "{value: decline, if: OrderCreated.userId, in: declined_users, above: decline_over,")
    message = error_of(text)
    assert message.startswith("t.saga.yaml:") and "rules/0" in message


def test_the_model_ignores_a_guard_per_key_only_in_a_real_service():
    """The checker's reaction to OrderCreated reads one pool: the keyed variable is one
    value there (no dict in any explored state)."""
    system = spec_system(shipped_spec("corrected"), 2)
    inv = next(p for p in system.participants if p.name == "inventory")
    state = inv.init()
    assert isinstance(state.free, int)
    outs = inv.on_event(state, Msg("OrderCreated", 0, "order"))
    assert [o.label for o in outs] == ["reserve"] and isinstance(outs[0].state.free, int)


def test_lint_finds_a_keyed_release_that_gives_back_the_sagas_total():
    from sagaspec.spec.lint import lint_spec

    assert [f.rule for f in lint_spec(shipped_spec("corrected"))] == []
    text = edited("free: free + units}", "free: free + held}")
    (finding,) = [f for f in lint_spec(parse_spec(text, "t.saga.yaml")) if f.rule == "keyed-update-reads-total"]
    assert (finding.event, finding.service) == ("OrderCancelled", "inventory")
    assert finding.message.startswith(f"t.saga.yaml:{line_of(text, 'free: free + held}')}:")
    assert "reads held" in finding.message and "use units" in finding.message


def test_the_suites_per_key_world_is_read_through_the_spec():
    """The conformance suite's judges read a saga's lines by the spec's key and decide
    the knob by the spec's rules (a spec without keys has no lines, one without rules
    declines nothing)."""
    from sagaspec.adapters.base import World
    from sagaspec.conformance.history import SagaInfo
    from sagaspec.conformance.world import declines, lines
    from sagaspec.spec.sagafile import SpecKey

    key = SpecKey("part", "Start", "parts", "code", "n", "units")
    saga = SagaInfo(0, "s", {"parts": [{"code": "x", "n": 2}, {"code": "y", "n": 1}, {"n": 3}]})
    assert lines(saga, key) == [("x", 2), ("y", 1)]
    order = SagaInfo(0, "s", {"userId": "bob", "amount": "70.00",
                              "items": [{"sku": "a", "quantity": 1, "unitPrice": "70.00"}]})
    spec = shipped_spec("corrected")
    assert lines(order, spec.keys[0]) == [("a", 1)] and lines(order, None) == []
    world = World(decline_over="50.00")
    assert declines(world, order, spec) and not declines(world, order, None)
    only_users = parse_spec(edited(
        "      - {value: decline, if: OrderCreated.amount, above: decline_over, description: and any charge over the limit}\n",
        ""), "t.saga.yaml")
    assert not declines(world, order, only_users)  # this spec's provider has no amount limit
    assert declines(World(declined_users=frozenset({"bob"})), order, only_users)
    assert World.from_json({**World(declined_users=frozenset({"bob"})).to_json(), "vip": ["x"]}).rule_data() == \
        {"declined_users": ["bob"], "vip": ["x"]}  # only the data the world sets
