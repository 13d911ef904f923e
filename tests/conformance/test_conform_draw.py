"""A trigger's ``draw:`` declaration: what the suite draws for a per-key world.

The differential test keeps the code the declaration replaced (the order saga's
catalogue, hard-coded in ``conformance/payloads.py`` and ``choosers.py`` until the
declaration): for every shipped saga that declares a draw, a seed draws exactly the
sagas and the per-key world it drew before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sagaspec.adapters.base import World
from sagaspec.conformance.choosers import _demand, _rule_data
from sagaspec.conformance.payloads import (
    declared_draw,
    declared_fields,
    declared_saga,
    fresh_saga,
    key_pool,
    simplest_saga,
)
from sagaspec.conformance.runner import _no_local_constants
from sagaspec.spec.sagafile import load_spec, parse_spec

from sagaspec.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*ROOT.glob("spec/sagas/*.saga.yaml"), *ROOT.glob("examples/sagas/*.saga.yaml")])
DECLARED = [p for p in SHIPPED if declared_draw(load_spec(p))]


# -- the code the declaration replaced, kept here only --------------------------------
OLD_SKUS = ("sku-1", "sku-2")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _old_money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _old_saga_fields() -> st.SearchStrategy[tuple]:
    line = st.fixed_dictionaries({
        "sku": st.sampled_from(OLD_SKUS),
        "quantity": st.integers(1, 3),
        "unitPrice": st.integers(1, 999_999).map(_old_money),
    })
    user = st.tuples(st.sampled_from(_ALNUM), st.text(_ALNUM + "._:-", max_size=7)).map("".join)
    return st.tuples(user, st.lists(line, min_size=1, max_size=2, unique_by=lambda x: x["sku"]),
                     st.sampled_from(("USD", "EUR", "GBP")))


def _old_make_saga(spec, index, token, drawn):
    user, lines, currency = drawn
    cents = sum(int(x["unitPrice"].replace(".", "")) * x["quantity"] for x in lines)
    return fresh_saga(spec, index, token, {
        "userId": f"u{index}-{user}", "amount": _old_money(cents), "currency": currency,
        "items": [dict(x) for x in lines]})


def _old_demand(saga, key):
    return sum(int(x.get("quantity", 0)) for x in saga.fields.get("items", ()) if x.get("sku") == key)


def _old_amount_limit(draw, sagas):
    if draw(st.integers(0, 2)) != 2:
        return None
    k = draw(st.integers(0, 2 * len(sagas) - 1))
    cents = int(str(sagas[k % len(sagas)].fields["amount"]).replace(".", ""))
    cents -= k >= len(sagas)
    return _old_money(cents)


def _old_case(d, spec, serial):
    sagas = [_old_make_saga(spec, i, "t", d(_old_saga_fields())) for i in range(d(st.integers(1, 4)))]
    stock = {sku: _old_demand(sagas[0], sku) + d(st.integers(0, 1)) if serial else d(st.integers(0, 6))
             for sku in OLD_SKUS}
    declined = frozenset(s.fields["userId"] for s in sagas if d(st.booleans()))
    return sagas, World(stock=stock, declined_users=declined, decline_over=_old_amount_limit(d, sagas))


def _new_case(d, spec, serial):
    sagas = [declared_saga(spec, i, "t", d(declared_fields(spec))) for i in range(d(st.integers(1, 4)))]
    stock = {key: _demand(spec, sagas[0], key) + d(st.integers(0, 1)) if serial else d(st.integers(0, 6))
             for key in key_pool(spec)}
    return sagas, World.from_json({"stock": stock, **_rule_data(d, spec, sagas)})


#: Enough for every shape (two lines, a declined user, a limit) on each seed, checked below.
EXAMPLES = 30


def _cases(make, spec, serial: bool, s: int) -> list:
    out = []

    @seed(s)
    @settings(max_examples=EXAMPLES, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        sagas, world = make(data.draw, spec, serial)
        out.append(([(x.sagaId, x.fields) for x in sagas], world.to_json()))

    with _no_local_constants():
        run()
    return out


def test_every_shipped_saga_whose_trigger_was_catalogue_shaped_declares_a_draw():
    """The order-shaped sagas (spec/sagas and examples/sagas) declare one; the others
    (travel, shop) draw from their schemas."""
    assert [p.name for p in DECLARED] == ["order-shipping-buggy.saga.yaml", "order-shipping.saga.yaml",
                                          "order-corrected.saga.yaml", "order-seed.saga.yaml"]


@pytest.mark.parametrize("path", DECLARED, ids=lambda p: p.name)
@pytest.mark.parametrize("serial", [False, True], ids=["concurrent", "serial"])
def test_a_seed_draws_the_cases_the_hard_coded_catalogue_drew(path, serial):
    spec = load_spec(path)
    s = 3 + 8 * serial + DECLARED.index(path)
    old, new = _cases(_old_case, spec, serial, s), _cases(_new_case, spec, serial, s)
    assert len(old) == EXAMPLES and old == new
    # The draws are varied: both skus, two lines, a declined user, a limit.
    flat = [f for sagas, _w in old for _i, f in sagas]
    assert {line["sku"] for f in flat for line in f["items"]} == set(OLD_SKUS)
    assert any(len(f["items"]) == 2 for f in flat)
    assert any(w["declined_users"] for _s, w in old) and any(w["decline_over"] for _s, w in old)


def test_the_simplest_saga_is_what_shrinking_goes_to():
    spec = load_spec(ROOT / "spec/sagas/order-corrected.saga.yaml")
    assert simplest_saga(spec, 1, "r").fields == {
        "orderId": "order-r-1", "userId": "u1-a", "amount": "0.01", "currency": "USD",
        "items": [{"sku": "sku-1", "quantity": 1, "unitPrice": "0.01"}]}
    assert _cases(_new_case, spec, False, 3)[0][0][0][1] == simplest_saga(spec, 0, "t").fields


# -- load errors: one line naming file, line, field and what was expected ---------------
ORDER = (ROOT / "spec/sagas/order-corrected.saga.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, expected", [
    ("sku: {one_of: [sku-1, sku-2]}", "sku: {one_of: [sku-1, 'not a key']}",
     "draw sku: one_of: 'not a key' is not a valid value of the field"),
    ("quantity: {between: [1, 3]}", "quantity: {between: [3, 1]}",
     "draw quantity: between: 3 is above 1; expected [LOW, HIGH]"),
    ("quantity: {between: [1, 3]}", "quantity: {between: [0, 3]}",
     "draw quantity: between: 0 is not a valid value of the field"),
    ("quantity: {between: [1, 3]}\n", "quantity: {between: [1, 3]}\n          qty: {between: [1, 3]}\n",
     "draw: an entry of OrderCreated.items has no field 'qty'"),
    ("      currency: {one_of: [USD, EUR, GBP]}\n", "",
     None),  # an optional field may be left out
    ("      amount: {sum: items.unitPrice, times: quantity, decimals: 2}\n", "",
     "draw: required field 'amount' of OrderCreated is not declared"),
    ("amount: {sum: items.unitPrice,", "amount: {sum: lines.unitPrice,",
     "draw amount: sum: 'lines' is not a list drawn here (lists drawn with each: items)"),
    ("times: quantity, decimals", "times: sku, decimals",
     "draw amount: times: 'sku' is not a number drawn (between) for an entry of items"),
    ("unique_by: sku", "unique_by: price", "draw items: unique_by: 'price' is not a field drawn"),
    ('text: "a-zA-Z0-9._:-"', 'text: "z-a"', "draw userId: z-a is not a range"),
    ("amount: {sum: items.unitPrice, times: quantity, decimals: 2}",
     "amount: {sum: items.unitPrice, times: quantity}",
     "draw amount: sum: 0 is not a valid value of the field"),
    ('prefix: "u{saga}-"', 'prefix: "-u{saga}-"',
     "draw userId: text: '-u0-a' is not a valid value of the field"),
    ("[sku-1, sku-2]}\n          quantity: {between: [1, 3]}\n"
     "          unitPrice: {between: [1, 999999], decimals: 2}\n        min_items: 1",
     "[sku-1]}\n          quantity: {between: [1, 3]}\n"
     "          unitPrice: {between: [1, 999999], decimals: 2}\n        min_items: 2",
     "draw items: min_items 2 entries cannot each have another sku (its one_of has 1)"),
    ("amount: {sum: items.unitPrice, times: quantity, decimals: 2}",
     "amount: {sum: items.unitPrice, times: quantity, round: 2}",
     "amount: unknown key 'round'; expected one of sum, times, decimals"),
])
def test_a_bad_draw_is_one_line_naming_the_place(old, new, expected):
    assert old in ORDER
    text = ORDER.replace(old, new, 1)
    if expected is None:
        assert not any(g.name == "currency" for g in parse_spec(text, "t.saga.yaml").event("OrderCreated").draw)
        return
    with pytest.raises(SpecError) as err:
        parse_spec(text, "t.saga.yaml")
    message = str(err.value)
    assert message.startswith("t.saga.yaml:") and "\n" not in message
    assert expected in message, message


def test_only_a_trigger_is_drawn():
    text = ORDER.replace("    role: step\n    description: Payment charged the customer.\n",
                         "    role: step\n    description: Payment charged the customer.\n"
                         "    draw: {paymentId: {one_of: [p-1]}}\n", 1)
    with pytest.raises(SpecError, match=r"^t\.saga\.yaml:\d+:\d+: draw: only a trigger is drawn; "
                                        "PaymentProcessed is a step$"):
        parse_spec(text, "t.saga.yaml")


# -- the world rules, read from the spec (no order field names in conformance/world.py) --
def _payment_failure(world: World, user: str, amount: str) -> str:
    from sagaspec.conformance.checks import CheckFailed
    from sagaspec.conformance.history import SagaInfo
    from sagaspec.conformance.models import suite_model
    from sagaspec.conformance.oracle import Oracle
    from sagaspec.conformance.world import judged_participants
    from sagaspec.model.participant import Msg

    model = suite_model("corrected", 1)
    saga = SagaInfo(0, "saga-0", {"orderId": "order-0", "userId": user, "amount": amount,
                                  "items": [{"sku": "sku-1", "quantity": 1, "unitPrice": amount}]})
    o = Oracle(judged_participants(model, world, [saga]), ("payment",), triggers=model.triggers)
    o.deliver(Msg("OrderCreated", 0, "order"), "payment")
    with pytest.raises(CheckFailed) as err:
        o.observe(Msg("PaymentProcessed", 0, "payment"))
    assert err.value.check == "world-rules"
    return err.value.message


def test_a_payment_rules_failure_says_what_each_rule_of_the_spec_found():
    listed = _payment_failure(World(declined_users=frozenset({"eve"})), "eve", "5.00")
    assert "but userId 'eve' is in the world's declined_users and the world sets no " \
           "decline_over, so it must be declined (PaymentFailed)" in listed
    over = _payment_failure(World(decline_over="4.99"), "bob", "5.00")
    assert "but userId 'bob' is not in the world's declined_users and amount 5.00 is over " \
           "decline_over 4.99, so it must be declined" in over


def test_a_limit_that_is_not_a_decimal_is_a_usage_error_naming_it():
    from sagaspec.conformance.history import SagaInfo
    from sagaspec.conformance.world import declines

    from sagaspec.errors import UsageError

    spec = load_spec(ROOT / "spec/sagas/order-corrected.saga.yaml")
    saga = SagaInfo(0, "s", {"userId": "bob", "amount": "5.00"})
    with pytest.raises(UsageError, match=r"^world: decline_over must be a decimal limit like "
                                         r"'100.00', got 'lots'$"):
        declines(World(decline_over="lots"), saga, spec)
    assert not declines(World(decline_over="lots"), saga, None)  # no rules: nothing declines
