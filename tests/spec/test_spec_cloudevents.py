"""CloudEvents 1.0 mapping: round trips in structured and binary mode, clear errors."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from sagaspec.spec import (
    all_examples,
    examples_for,
    from_binary,
    from_cloudevent,
    parse_event,
    schema_for,
    to_binary,
    to_cloudevent,
)
from sagaspec.spec.strategies import events

from sagaspec.errors import SchemaError

_NULLABLE_ENVELOPE = ("causationId", "correlationId")


def _without_null_envelope(event):
    return {k: v for k, v in event.items() if not (k in _NULLABLE_ENVELOPE and v is None)}


def test_mapping_of_a_payment_event():
    event = examples_for("PaymentProcessed")[0]
    event["correlationId"] = "checkout-42"
    ce = to_cloudevent(event)
    assert ce == {
        "specversion": "1.0",
        "id": event["eventId"],
        "source": "/sagaspec/payment",
        "type": "dev.sagaspec.PaymentProcessed.v1",
        "time": event["timestamp"],
        "subject": event["orderId"],
        "dataschema": "https://sagaspec.dev/schemas/v1/PaymentProcessed.json",
        "datacontenttype": "application/json",
        "sagaid": event["sagaId"],
        "correlationid": "checkout-42",
        "causationid": event["causationId"],
        "data": {"paymentId": event["paymentId"], "amount": "100.00", "currency": "USD", "status": "SUCCESS"},
    }
    assert ce["dataschema"] == schema_for("PaymentProcessed")["$id"]
    assert to_cloudevent(event, "urn:shop:payments")["source"] == "urn:shop:payments"


def test_sources_follow_the_design_table():
    sources = {e["eventType"]: to_cloudevent(e)["source"] for e in all_examples()}
    assert sources == {
        "OrderCreated": "/sagaspec/order", "OrderCompleted": "/sagaspec/order",
        "OrderCancelled": "/sagaspec/order", "PaymentProcessed": "/sagaspec/payment",
        "PaymentFailed": "/sagaspec/payment", "PaymentRefunded": "/sagaspec/payment",
        "InventoryReserved": "/sagaspec/inventory",
        "InventoryReservationFailed": "/sagaspec/inventory",
        "InventoryReleased": "/sagaspec/inventory", "NotificationSent": "/sagaspec/notification",
    }


def test_examples_round_trip_both_modes():
    for event in all_examples():
        assert from_cloudevent(to_cloudevent(event)) == event
        headers, body = to_binary(event)
        assert all(isinstance(v, str) for v in headers.values()) and isinstance(body, bytes)
        assert from_binary(headers, body) == event
        # header names are case-insensitive; byte values (NATS, Kafka) work too
        shouted = {k.upper(): v.encode() for k, v in headers.items()}
        assert from_binary(shouted, body) == event
        kafka_headers, kafka_body = to_binary(event, prefix="ce_")
        assert "ce_id" in kafka_headers
        assert from_binary(kafka_headers, kafka_body, prefix="ce_") == event


def test_models_are_accepted_and_null_envelope_fields_become_absent():
    model = parse_event(examples_for("OrderCreated")[0])
    ce = to_cloudevent(model)
    assert "causationid" not in ce and "correlationid" not in ce
    assert ce["data"]["currency"] == "USD"  # the model's default travels in data
    assert parse_event(from_cloudevent(ce)) == model


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(events())
def test_generated_events_round_trip(event):
    expected = _without_null_envelope(event)
    ce = to_cloudevent(event)
    assert from_cloudevent(json.loads(json.dumps(ce))) == expected
    headers, body = to_binary(event)
    assert from_binary(headers, body) == expected


def test_header_values_are_percent_encoded():
    event = examples_for("OrderCancelled")[0]
    headers, body = to_binary(event, source='/shop/ordér "main" 100%')
    assert headers["ce-source"] == "/shop/ord%C3%A9r%20%22main%22%20100%25"
    assert json.loads(body)["reason"] == event["reason"]
    assert from_binary(headers, body) == event


def test_structured_mode_variants_are_accepted():
    event = examples_for("OrderCancelled")[0]
    ce = to_cloudevent(event)
    data = ce.pop("data")
    b64 = dict(ce, data_base64=base64.b64encode(json.dumps(data).encode()).decode())
    assert from_cloudevent(b64) == event
    assert from_cloudevent(dict(ce, data=json.dumps(data))) == event
    extra = dict(ce, data=data, traceparent="00-abc-def-01", datacontenttype="application/json; charset=utf-8")
    assert from_cloudevent(extra) == event
    assert from_cloudevent(dict(ce, data=data, dataschema="https://registry.example/x")) == event


def _ce():
    return to_cloudevent(examples_for("OrderCreated")[0])


def _drop(key):
    ce = _ce()
    del ce[key]
    return ce


@pytest.mark.parametrize("bad,message", [
    ("nope", 'CloudEvent: expected a JSON object, got string "nope"'),
    (dict(_ce(), specversion="0.3"), 'CloudEvent: specversion must be "1.0", got string "0.3"'),
    (_drop("specversion"), 'CloudEvent: specversion must be "1.0", got missing'),
    (_drop("id"), "CloudEvent: missing required attribute 'id'"),
    (_drop("source"), "CloudEvent: missing required attribute 'source'"),
    (dict(_ce(), id=7), "CloudEvent: attribute 'id' must be a non-empty string, got number 7"),
    (dict(_ce(), type="com.example.order"), "CloudEvent evt-1: type 'com.example.order' is "
     "not a sagaspec event type (expected dev.sagaspec.<EventType>.v<N>, e.g. "
     "dev.sagaspec.OrderCreated.v1)"),
    (dict(_ce(), type="dev.sagaspec.OrderShipped.v1"), "CloudEvent evt-1: unknown event type "
     "'OrderShipped' in type 'dev.sagaspec.OrderShipped.v1'; expected one of OrderCreated, "),
    (dict(_ce(), type="dev.sagaspec.OrderCreated.v2", dataschema=None),
     "CloudEvent evt-1 (dev.sagaspec.OrderCreated.v2): attribute 'type': unsupported "
     "schemaVersion 2; this sagaspec knows OrderCreated version 1"),
    (dict(_ce(), dataschema="https://sagaspec.dev/schemas/v1/OrderCancelled.json"),
     "CloudEvent evt-1: dataschema 'https://sagaspec.dev/schemas/v1/OrderCancelled.json' does "
     "not match type 'dev.sagaspec.OrderCreated.v1'"),
    (dict(_ce(), datacontenttype="application/xml"),
     "CloudEvent evt-1: datacontenttype 'application/xml' is not JSON"),
    (_drop("sagaid"), "CloudEvent evt-1 (dev.sagaspec.OrderCreated.v1): missing required "
     "attribute 'sagaid'"),
    (_drop("subject"), "CloudEvent evt-1 (dev.sagaspec.OrderCreated.v1): missing required "
     "attribute 'subject'"),
    (dict(_ce(), time="yesterday"), "CloudEvent evt-1 (dev.sagaspec.OrderCreated.v1): "
     "attribute 'time': expected an RFC 3339 timestamp"),
    (dict(_ce(), data=[1]), "CloudEvent evt-1: data must be a JSON object, got array [1]"),
    (dict(_ce(), data="{oops"), "CloudEvent evt-1: data is text but not JSON"),
    (dict(_ce(), data_base64="!!"), "CloudEvent evt-1: has both 'data' and 'data_base64'"),
    (dict(_ce(), data=dict(_ce()["data"], eventId="x")), "CloudEvent evt-1: data must not "
     "contain envelope field 'eventId' (it travels as the 'id' attribute)"),
    (dict(_ce(), data=dict(_ce()["data"], amount=100.0)), "CloudEvent evt-1 "
     "(dev.sagaspec.OrderCreated.v1): data /amount: expected a decimal string"),
    (dict(_ce(), data={}), "CloudEvent evt-1 (dev.sagaspec.OrderCreated.v1): data /userId: "
     'missing required field "userId" (+2 more)'),
])
def test_bad_cloudevents_raise_one_clear_line(bad, message):
    with pytest.raises(SchemaError) as info:
        from_cloudevent(bad)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_bad_binary_input():
    headers, body = to_binary(examples_for("OrderCreated")[0])
    cases = [
        (headers, b"{nope", "CloudEvent evt-1: body is not valid JSON"),
        (headers, b"\xff", "CloudEvent evt-1: body is not UTF-8 text"),
        (dict(headers, **{"content-type": "text/plain"}), body,
         "CloudEvent evt-1: content-type 'text/plain' is not JSON"),
        (dict(headers, **{"ce-bad_name": "x"}), body, "CloudEvent header 'ce-bad_name'"),
        ({"ce-id": "x"}, body, 'CloudEvent: specversion must be "1.0", got missing'),
        ([("ce-id", "x")], body, "CloudEvent headers: expected a mapping"),
    ]
    for h, b, message in cases:
        with pytest.raises(SchemaError) as info:
            from_binary(h, b)
        assert str(info.value).startswith(message), str(info.value)


def test_invalid_events_are_not_mapped():
    event = examples_for("OrderCreated")[0]
    event["amount"] = 5
    with pytest.raises(SchemaError, match="^invalid OrderCreated evt-1: /amount: expected a decimal"):
        to_cloudevent(event)
    with pytest.raises(SchemaError, match="expected an event"):
        to_cloudevent(["not", "an", "event"])
