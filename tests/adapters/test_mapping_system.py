"""The ``[system]`` table of a mapping (driving a whole foreign system) and the trace judge.

Checked at load with file:line errors; the trigger steered toward a world value and the
world their rules give judged exactly; a trace of a whole system explained handling by
handling (no broker here: ``tests/brokers/test_foreign_system.py`` runs the real one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sagaspec.adapters.mapping import load_mapping
from sagaspec.adapters.spec_system import SystemConfig
from sagaspec.conformance.spec_oracle import SpecOracle
from sagaspec.conformance.spec_system import explain
from sagaspec.spec.sagafile import resolve_spec

from sagaspec.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SHOP = resolve_spec(str(ROOT / "examples" / "sagas" / "shop.saga.yaml"))
MAPPING = ROOT / "examples" / "foreign_shop.toml"


def _config(tmp_path, old: str, new: str) -> SystemConfig:
    text = MAPPING.read_text()
    assert old in text
    path = tmp_path / "m.toml"
    path.write_text(text.replace(old, new))
    return SystemConfig(load_mapping(path, SHOP), SHOP)


def _line(tmp_path, needle: str) -> int:
    return next(n for n, line in enumerate((tmp_path / "m.toml").read_text().splitlines(), 1) if needle in line)


def test_the_shipped_system_table_loads():
    config = SystemConfig(load_mapping(MAPPING, SHOP), SHOP)
    assert config.trigger[0] == "POST" and config.id_field == "order_number"
    assert set(config.rules) == {"payment", "shipping"} and config.health == "/health"


@pytest.mark.parametrize("old, new, needle, says", [
    ('payment = "double(amount) > 200.0', 'paymnt = "double(amount) > 200.0', "paymnt =", "no world knob 'paymnt'"),
    ('total = "double(amount)"', 'total = "double(amont)"', "total =", "undeclared reference to 'amont'"),
    ('"payment.decline" = { amount', '"payment.maybe" = { amount', "payment.maybe", "expected KNOB.VALUE"),
    ('method = "PUT"', 'method = "FETCH"', 'method = "FETCH"', "expected one of GET"),
    ('types = { completed = "order.completed"', 'types = { completed = "order.done"', "order.done",
     "'order.done' is not a type of theirs"),
    ('body = { available = "stock" }', 'body = { available = "stok" }', "stok", "undeclared reference to 'stok'"),
    ('shipping = "address.startsWith', 'shipping = "1 + address.startsWith', "shipping =", "shipping"),
])
def test_a_bad_system_key_is_an_error_naming_file_and_line(tmp_path, old, new, needle, says):
    with pytest.raises(InputError) as err:
        _config(tmp_path, old, new)
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'm.toml'}:{_line(tmp_path, needle)}: system."), text
    assert says in text, text


def test_a_missing_trigger_id_is_named(tmp_path):
    with pytest.raises(InputError, match=r"system.trigger: missing 'id'"):
        _config(tmp_path, 'id = "order_number"', "")


def test_a_rule_must_give_a_string(tmp_path):
    with pytest.raises(InputError, match="expected string"):
        _config(tmp_path, "payment = \"double(amount) > 200.0 ? 'decline' : 'approve'\"",
                'payment = "double(amount) > 200.0"')


def test_steering_makes_the_world_and_the_rules_read_it_back():
    config = SystemConfig(load_mapping(MAPPING, SHOP), SHOP)
    base = {"customerId": "c1", "sku": "s1", "amount": "10.00", "address": "1 Elm St"}
    for payment in ("approve", "decline"):
        for shipping in ("ship", "fail"):
            fields = config.steered(base, {"payment": payment, "shipping": shipping})
            assert config.world_of(fields) == {"payment": payment, "shipping": shipping}
    # The rule judges what was sent, whatever was wanted: 200.01 is declined.
    assert config.world_of({**base, "amount": "200.01"})["payment"] == "decline"
    assert config.world_of({**base, "amount": "200.00"})["payment"] == "approve"


def _ev(n: int, kind: str, saga: str = "s0", **fields):
    return {"eventId": f"e{n}", "eventType": kind, "schemaVersion": 1, "sagaId": saga, "orderId": "ORD-1",
            "timestamp": "2026-01-01T00:00:00Z", **fields}


def _declined_trace(charged: bool):
    placed = _ev(1, "OrderPlaced", customerId="c1", sku="W", amount="250.00", address="1 Elm St")
    reserved = _ev(2, "StockReserved", reservationId="R1", sku="W", amount="250.00")
    if charged:
        return [placed, reserved, _ev(3, "PaymentCharged", paymentId="ch1", amount="250.00", address="1 Elm St"),
                _ev(4, "OrderShipped", trackingId="T1"), _ev(5, "OrderCompleted", trackingId="T1")]
    return [placed, reserved, _ev(3, "PaymentDeclined", reason="over limit"), _ev(4, "StockReleased", reservationId="R1"),
            _ev(5, "OrderCancelled", reason="declined")]


def _judge(trace, world):
    oracle = SpecOracle(SHOP, ["s0"], {"stock": 1}, {"s0": world})
    steps = explain(oracle, SHOP, ["s0"], trace)
    if not oracle.failures:
        oracle.check_properties()
    return oracle.failures, steps


def test_a_whole_trace_is_explained_handling_by_handling():
    failures, steps = _judge(_declined_trace(charged=False), {"payment": "decline", "shipping": "ship"})
    assert failures == [] and steps == 4


def test_the_world_the_rules_give_decides_the_verdict():
    """The same trace is right under the world the rule gives and wrong under the other."""
    assert _judge(_declined_trace(charged=True), {"payment": "approve", "shipping": "ship"})[0] == []
    failures, _ = _judge(_declined_trace(charged=True), {"payment": "decline", "shipping": "ship"})
    assert failures and failures[0].check == "model"
    assert "payment on StockReserved" in failures[0].message and "[PaymentCharged]" in failures[0].message


def test_an_event_no_handling_explains_is_a_failure():
    trace = _declined_trace(charged=False)
    trace.append(_ev(6, "StockReleased", reservationId="R1"))  # released twice
    failures, _ = _judge(trace, {"payment": "decline", "shipping": "ship"})
    assert [f.check for f in failures] == ["model"] and "no event it was given explains" in failures[0].message


def test_an_event_of_a_saga_never_started_is_named():
    trace = _declined_trace(charged=False) + [_ev(9, "OrderPlaced", saga="other", customerId="c", sku="W",
                                                  amount="1.00", address="x")]
    failures, _ = _judge(trace, {"payment": "decline", "shipping": "ship"})
    assert failures[0].check == "unknown-saga"


def test_a_trigger_published_on_their_broker_names_the_field_that_carries_the_saga(tmp_path):
    by_message = ('publish = "shop.order.requested"\n'
                  'body = { request_id = "sagaId", customer = "customerId", total = "double(amount)" }\n')
    text = MAPPING.read_text()
    start = text.index('method = "POST"')
    end = text.index('id = "order_number"')
    good = text[:start] + by_message + text[end:].replace('id = "order_number"', 'id = "request_id"', 1)
    (tmp_path / "m.toml").write_text(good)
    config = SystemConfig(load_mapping(tmp_path / "m.toml", SHOP), SHOP)
    assert config.publish == "shop.order.requested" and config.id_field == "request_id"
    (tmp_path / "m.toml").write_text(good.replace('id = "request_id"', 'id = "ref"', 1))
    with pytest.raises(InputError, match=r"m.toml:\d+: system.trigger.id: 'ref' is not a field of the body"):
        SystemConfig(load_mapping(tmp_path / "m.toml", SHOP), SHOP)


def test_a_state_path_placeholder_must_be_a_known_id(tmp_path):
    with pytest.raises(InputError, match=r"system.state.path: no value for \{order_no\}"):
        _config(tmp_path, 'path = "/orders/{order_number}"', 'path = "/orders/{order_no}"')


def test_every_world_knob_needs_their_rule(tmp_path):
    """Without a rule the oracle would judge by a world value their system never saw."""
    with pytest.raises(InputError, match=r"m.toml:\d+: system.rules: no rule for the world knob 'shipping'"):
        _config(tmp_path, "shipping = \"address.startsWith('PO Box') ? 'fail' : 'ship'\"\n", "")


class _FakeSystem:
    """A black-box system that answers every saga with a canned trace (a plain order
    completes) until ``broken``; then nothing comes out."""

    black_box = True
    params = {"stock": 1}

    def __init__(self, probe: bool, url_sick: str | None = None) -> None:
        self.probe, self.url_sick, self.broken, self.sagas = probe, url_sick, False, 0

    def health(self):
        return self.url_sick

    def reset(self):
        pass

    def prepare(self, fields, wanted):
        return fields, wanted

    def trigger(self, saga, fields, world):
        self.saga = saga
        self.sagas += 1
        return "their-1"

    def observe(self, saga):
        if self.broken:
            return [_ev(1, "OrderPlaced", saga, customerId="c", sku="W", amount="1.00", address="x")]
        return [_ev(1, "OrderPlaced", saga, customerId="c", sku="W", amount="1.00", address="x"),
                _ev(2, "StockReserved", saga, reservationId="R1", sku="W", amount="1.00"),
                _ev(3, "PaymentCharged", saga, paymentId="p1", amount="1.00", address="x"),
                _ev(4, "OrderShipped", saga, trackingId="T1"), _ev(5, "OrderCompleted", saga, trackingId="T1")]


def test_the_probe_saga_is_plain_and_blames_only_new_damage():
    from sagaspec.conformance.spec_system import HealthCheck

    system = _FakeSystem(probe=True)
    check = HealthCheck(SHOP, system)
    assert check.probe and system.sagas == 1  # run once before the first case, and it passed
    assert check.after() is None
    system.broken = True
    sick = check.after()
    assert sick is not None and "the probe saga, which passed before the first case, now fails" in sick


def test_a_probe_that_fails_before_the_first_case_is_not_used():
    from sagaspec.conformance.spec_system import HealthCheck

    system = _FakeSystem(probe=True)
    system.broken = True
    check = HealthCheck(SHOP, system)
    assert not check.probe and check.after() is None and system.sagas == 1


def test_a_health_url_that_fails_is_reported_without_a_probe():
    from sagaspec.conformance.spec_system import HealthCheck

    system = _FakeSystem(probe=False, url_sick="GET /health answered 503")
    check = HealthCheck(SHOP, system)
    assert check.after() == "GET /health answered 503" and system.sagas == 0
