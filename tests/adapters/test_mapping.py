"""The mapping layer: config validation, both directions, and a foreign-vocabulary service."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sagaspec.adapters import RawMessage, World, load_adapter
from sagaspec.adapters.http import HttpAdapter
from sagaspec.adapters.mapping import Correlation, MappedAdapter, Mapping, load_mapping
from sagaspec.examples.foreign import MAPPING_FILE, make_target
from sagaspec.examples.httpserver import SagaHTTPServer
from sagaspec.examples.samples import sample_created, sample_event
from sagaspec.spec.events import parse_event
from sagaspec.spec.sagafile import shipped_spec

from sagaspec.errors import InputError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING_FILE, shipped_spec("corrected"))


def knows(order: str, saga: str) -> Correlation:
    """A run that delivered an event of ``order`` in saga ``saga``."""
    state = Correlation()
    state.sagas[("order_id", order)] = saga
    return state


def test_our_order_created_in_their_vocabulary(mapping):
    ours = sample_created(1, qty=2, price="12.50")
    theirs = mapping.to_theirs(ours)
    assert theirs["type"] == "order.created"
    assert theirs["id"] == ours["eventId"] and theirs["order_id"] == "order-1"
    assert theirs["customer_id"] == "alice" and theirs["total"] == 25.0
    assert theirs["lines"] == [{"product_id": "sku-1", "qty": 2, "price": 12.5}]
    assert isinstance(theirs["occurred_at"], int)
    for gone in ("sagaId", "schemaVersion", "correlationId", "eventType", "items", "amount"):
        assert gone not in theirs


@pytest.mark.parametrize("event", [
    sample_created(3, qty=3, price="0.10"),
    sample_event("OrderCancelled", 3, reason="payment failed"),
    sample_event("PaymentProcessed", 3, paymentId="pay-1", amount="0.30"),
    sample_event("PaymentFailed", 3, amount="99.99", reason="declined"),
    sample_event("PaymentRefunded", 3, paymentId="pay-1", amount="1000000.00", reason="cancelled"),
    sample_event("InventoryReserved", 3, reservationId="r1",
                 items=[{"sku": "a", "quantity": 1, "unitPrice": "1.00"}]),  # unlisted: keeps its name
])
def test_round_trip_restores_every_field_they_keep(mapping, event):
    back = mapping.to_ours(mapping.to_theirs(event), state=knows("order-3", "saga-3"))
    expected = {k: v for k, v in event.items() if k != "correlationId"}  # they drop it
    # epoch-ms keeps milliseconds; the instant is the same
    when = [datetime.fromisoformat(d.pop("timestamp").replace("Z", "+00:00")) for d in (back, expected)]
    assert when[0] == when[1].replace(microsecond=when[1].microsecond // 1000 * 1000)
    assert back == expected
    parse_event({**back, "timestamp": "2024-01-01T00:00:00Z"})


def test_sagaId_comes_from_the_delivered_event_then_from_the_template(mapping):
    theirs = mapping.to_theirs(sample_event("OrderCancelled", 4, prefix="x-", reason="r"))
    assert mapping.to_ours(theirs, state=knows("x-order-4", "x-saga-4"))["sagaId"] == "x-saga-4"
    assert mapping.to_ours(theirs)["sagaId"] == "saga-x-order-4"


@pytest.mark.parametrize("message, reason", [
    ({"type": "order.shipped", "order_id": "o"}, "unmapped event type 'order.shipped'"),
    ({"order_id": "o"}, "no 'type' field"),
    ({"type": 7}, "'type' is not a string"),
    (["not", "an", "object"], "not a JSON object but list"),
    ({"type": "payment.captured", "id": "i", "order_id": "o", "total": "lots",
      "occurred_at": 0}, "field amount: 'lots' is not a number"),
    ({"type": "payment.captured", "id": "i", "order_id": "o", "total": 1,
      "occurred_at": "yesterday"}, "field timestamp: expected a Unix time"),
])
def test_untranslatable_messages_become_raw_messages_with_a_reason(mapping, message, reason):
    out = mapping.to_ours(message)
    assert isinstance(out, RawMessage)
    assert reason in out.reason
    assert json.loads(out.payload) == message


def test_a_template_naming_a_missing_field_is_reported():
    m = Mapping.from_dict({"derive": {"sagaId": "saga-{order}"},
                           "events": {"OrderCancelled": {"type": "cancel"}}})
    out = m.to_ours({"eventType": "cancel", "orderId": "o"})
    assert isinstance(out, RawMessage) and "cannot derive sagaId: no field 'order'" in out.reason


@pytest.mark.parametrize("config, message", [
    ({"colour": 1}, "colour: unknown key"),
    ({"events": {"OrderShipped": {}}}, "events.OrderShipped: unknown event type"),
    ({"events": {"OrderCreated": {"type": "x"}, "OrderCancelled": {"type": "x"}}}, "one to one"),
    ({"convert": {"amount": "roman-numerals"}}, "unknown converter 'roman-numerals'"),
    ({"envelope": {"a..b": "c"}}, "invalid field path"),
    ({"envelope": {"orderId": "a.b"}}, "expected their field name"),
    ({"events": {"OrderCreated": {"typo": 1}}}, "events.OrderCreated.typo: unknown key"),
    ({"ignore_types": "x"}, "ignore_types: expected a list of strings"),
    ({"ignore_types": ["x"], "events": {"OrderCreated": {"type": "x"}}}, "also mapped"),
    ({"derive": {"sagaId": "saga-{}"}}, "invalid placeholder"),
])
def test_bad_mapping_configs_are_one_line_errors(config, message):
    with pytest.raises(InputError) as info:
        Mapping.from_dict(config, spec=shipped_spec("corrected"))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_mapping_files(tmp_path):
    good = tmp_path / "m.json"
    good.write_text(json.dumps({"type_field": "kind"}))
    assert load_mapping(good).type_field == "kind"
    for name, text, message in [
        ("bad.toml", "type_field = ", "not valid TOML"),
        ("bad.json", "{", "not valid JSON"),
        ("m.yaml", "x: 1", "unknown mapping format '.yaml'"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError, match=message) as info:
            load_mapping(path)
        assert str(path) in str(info.value)
    with pytest.raises(InputError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "absent.toml")


def types(items):
    return [i["eventType"] if isinstance(i, dict) else f"raw:{i.reason}" for i in items]


def exercise(adapter, run):
    """Drive the legacy service in our vocabulary; return what we collected."""
    run(adapter.setup(World(declined_users=frozenset({"mallory"}))))
    created = sample_created(1)
    run(adapter.deliver(created))
    run(adapter.deliver(created))  # duplicate
    run(adapter.deliver(sample_created(2, user="mallory")))
    run(adapter.deliver(sample_event("OrderCancelled", 1, reason="inventory failed")))
    run(adapter.deliver(sample_event("OrderCancelled", 3, reason="overtaking")))
    run(adapter.deliver(sample_created(3)))  # late: must not charge
    run(adapter.deliver_raw(b"\x00garbage"))
    return run(adapter.collect(2.0))


def check_legacy_output(out):
    assert types(out) == ["PaymentProcessed", "PaymentFailed", "PaymentRefunded"]
    for e in out:
        parse_event(e)
    assert [e["sagaId"] for e in out] == ["saga-1", "saga-2", "saga-1"]
    assert out[2]["paymentId"] == out[0]["paymentId"] and out[2]["amount"] == out[0]["amount"]


def test_the_suite_vocabulary_drives_the_legacy_service_in_process(run):
    a = load_adapter("inprocess:sagaspec.examples.foreign:make_adapter", participant="payment")
    assert isinstance(a, MappedAdapter)
    assert a.capabilities == {"setup", "crash", "reset", "deliver_raw"}
    check_legacy_output(exercise(a, run))
    assert a.ignored == {"payment.audit": 2}  # dropped on purpose, and counted
    run(a.reset())
    run(a.deliver(sample_created(1)))
    assert types(run(a.collect(1.0))) == ["PaymentProcessed"]


def test_the_mapping_wraps_the_http_adapter_too(run):
    server = SagaHTTPServer(make_target(), port=0, participant="payment").start()
    try:
        a = load_adapter(server.url, participant="payment", mapping=MAPPING_FILE)
        assert isinstance(a, MappedAdapter) and isinstance(a.inner, HttpAdapter)
        run(a.start())
        check_legacy_output(exercise(a, run))
        run(a.close())
    finally:
        server.close()


def test_unmapped_publications_are_reported_not_dropped(run):
    from sagaspec.adapters.inprocess import InProcessAdapter

    def chatty(event):
        return [{"type": "payment.captured", "id": "m1", "order_id": event["order_id"],
                 "payment_ref": "p1", "total": 5, "occurred_at": 1_700_000_000_000},
                {"type": "fraud.suspected", "id": "m2", "order_id": event["order_id"]},
                b"\x00not json"]

    a = MappedAdapter(InProcessAdapter(chatty), MAPPING_FILE)
    run(a.deliver(sample_created(5)))
    out = run(a.collect(0.5))
    assert out[0]["eventType"] == "PaymentProcessed" and out[0]["sagaId"] == "saga-5"
    assert out[0]["amount"] == "5.00" and out[0]["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert isinstance(out[1], RawMessage) and "unmapped event type 'fraud.suspected'" in out[1].reason
    assert isinstance(out[2], RawMessage) and out[2].reason.startswith("not JSON")


def test_invalid_events_are_delivered_only_if_still_invalid_in_their_vocabulary(run):
    a = load_adapter("inprocess:sagaspec.examples.foreign:make_adapter", participant="payment")
    legacy = a.inner.target.service
    bad_version = {**sample_created(1), "schemaVersion": 99}  # they have no schemaVersion
    bad_amount = {**sample_created(2), "amount": 10.0}  # a number is right in their vocabulary
    run(a.deliver(bad_version))
    run(a.deliver(bad_amount))
    assert a.unrepresentable == 2 and legacy.store.pending_outbox() == []
    no_order = {k: v for k, v in sample_created(3).items() if k != "orderId"}
    extra = {**sample_created(4), "coupon": "FREE"}
    run(a.deliver(no_order))
    run(a.deliver(extra))
    assert a.unrepresentable == 2  # these were delivered, and refused by the service
    with legacy.store.transaction() as tx:
        assert tx.get("rejected:count") == 2
    assert run(a.collect(0.5)) == []
    # an invalid event never teaches the adapter a sagaId
    run(a.deliver({**sample_event("OrderCancelled", 5, reason="r"), "sagaId": 7}))
    assert ("order_id", "order-5") not in a.state.sagas
