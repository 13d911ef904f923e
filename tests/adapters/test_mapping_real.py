"""What real services do, in a mapping: the type outside the body, values carried from
earlier events, correlation by the service's own ids, one item for a list, derived
eventIds that keep a copy a copy, the world as their rule reads it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from sagaspec.adapters import RawMessage
from sagaspec.adapters.mapping import Correlation, Mapping, load_mapping
from sagaspec.spec.sagafile import load_spec

from sagaspec.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SHOP = load_spec(ROOT / "examples" / "sagas" / "shop.saga.yaml")
TRAVEL = load_spec(ROOT / "examples" / "sagas" / "travel.saga.yaml")
BILLING = Path(resources.files("sagaspec.examples").joinpath("foreign_billing.toml"))


@pytest.fixture
def billing():
    return load_mapping(BILLING, SHOP)


def reserved(saga="s1", **extra):
    return {"eventId": "e1", "eventType": "StockReserved", "schemaVersion": 1, "sagaId": saga,
            "timestamp": "2026-01-01T00:00:00.000Z", "orderId": "order-1", "reservationId": "r1",
            "sku": "sku-1", "amount": "100.00", **extra}


def test_the_type_goes_out_as_the_routing_key_and_comes_back_from_it(billing):
    event = reserved()
    theirs = billing.to_theirs(event, world={"payment": "decline"})
    assert billing.route_of(event) == "warehouse.stock.reserved"
    assert "type" not in theirs and "eventType" not in theirs and "sagaId" not in theirs
    assert theirs["order_ref"] == "s1" and theirs["price"] == 100.0 and theirs["card"] == "4000000000000002"
    back = billing.to_ours({"msg_id": "m2", "order_ref": "s1", "decline_code": "no", "sent_at": 0},
                           route="billing.charge.declined", state=Correlation())
    assert back["eventType"] == "PaymentDeclined" and back["sagaId"] == "s1" and back["eventId"] == "m2"
    unknown = billing.to_ours({"msg_id": "m3"}, route="billing.charge.disputed")
    assert isinstance(unknown, RawMessage) and "unmapped event type 'billing.charge.disputed'" in unknown.reason
    assert "no routing key" in billing.to_ours({"msg_id": "m3"}).reason


def test_the_type_in_a_header():
    m = Mapping.from_dict({"type_from": "header", "type_field": "x-kind",
                           "events": {"TripCancelled": {"type": "trip.cancelled"}}}, spec=TRAVEL)
    event = {"eventType": "TripCancelled", "sagaId": "s", "reason": "r"}
    assert m.headers_of(event) == {"x-kind": "trip.cancelled"} and "x-kind" not in m.to_theirs(event)
    back = m.to_ours({"sagaId": "s", "reason": "r"}, headers={"X-Kind": "trip.cancelled"})
    assert back["eventType"] == "TripCancelled"
    assert "no 'x-kind' header" in m.to_ours({"sagaId": "s"}, headers={}).reason


def test_a_refund_naming_only_their_charge_finds_its_saga_and_carries_what_it_leaves_out(billing):
    state = Correlation()
    placed = {"eventId": "e0", "eventType": "OrderPlaced", "sagaId": "s1", "orderId": "order-7",
              "address": "1 Main St", "amount": "100.00"}
    billing.note(placed, None, state)  # published by another participant
    billing.note(reserved(orderId="order-7"), billing.to_theirs(reserved()), state)  # delivered to them
    captured = billing.to_ours({"msg_id": "m1", "order_ref": "s1", "charge_id": "ch_9", "captured": 100.0,
                                "sent_at": 1_700_000_000_000, "cause": "e1"},
                               route="billing.charge.captured", state=state)
    assert captured["sagaId"] == "s1" and captured["paymentId"] == "ch_9"
    assert captured["address"] == "1 Main St" and captured["orderId"] == "order-7"  # carried
    refunded = billing.to_ours({"msg_id": "m2", "charge_id": "ch_9", "refunded_cents": 10000, "sent_at": 0},
                               route="billing.charge.refunded", state=state)
    assert refunded["sagaId"] == "s1" and refunded["amount"] == "100.00" and refunded["orderId"] == "order-7"
    stranger = billing.to_ours({"msg_id": "m3", "charge_id": "ch_other", "refunded_cents": 1, "sent_at": 0},
                               route="billing.charge.refunded", state=state)
    assert "sagaId" not in stranger  # no saga of this run: the suite reports it


def test_one_item_for_a_list():
    m = Mapping.from_dict({"events": {"TripRequested": {"type": "trip", "fields": {"legs": "segments"},
                                                        "single": {"legs": "segment"}}}})
    event = {"eventType": "TripRequested", "sagaId": "s", "legs": [{"from": "A"}]}
    theirs = m.to_theirs(event)
    assert theirs == {"sagaId": "s", "segment": {"from": "A"}, "eventType": "trip"}
    assert m.to_ours(theirs) == event
    from sagaspec.adapters.mapping import MappingFailure

    with pytest.raises(MappingFailure, match="has 2 elements"):
        m.to_theirs({**event, "legs": [{"from": "A"}, {"from": "B"}]})


def test_a_copy_of_a_message_is_the_same_event_and_another_message_is_another():
    # Their messages have no id and no time: eventId and timestamp are derived. A
    # redelivered copy must come back as the very same event (the same eventId and the
    # same timestamp), never as "a different event reusing an eventId".
    m = Mapping.from_dict({"derive": {"eventId": "evt-{sha1}", "timestamp": "{now}", "sagaId": "{trip}"},
                           "events": {"TripCancelled": {"type": "cancelled"}}})
    state = Correlation()
    msg = {"eventType": "cancelled", "trip": "t1", "reason": "r"}
    first = m.to_ours(dict(msg), state=state)
    import time

    time.sleep(0.002)
    again = m.to_ours(dict(msg), state=state)
    assert again == first
    other = m.to_ours({**msg, "reason": "another"}, state=state)
    assert other["eventId"] != first["eventId"]
    # the same body under another type is another event
    m2 = Mapping.from_dict({"type_from": "route", "derive": {"eventId": "evt-{sha1}"},
                            "events": {"TripCancelled": {"type": "a"}, "TripConfirmed": {"type": "b"}}})
    assert m2.to_ours({"x": 1}, route="a")["eventId"] != m2.to_ours({"x": 1}, route="b")["eventId"]


@pytest.mark.parametrize("old, new, needle, message", [
    ('address = "OrderPlaced.address"', 'address = "OrderPlaced.adress"', "OrderPlaced.adress",
     "OrderPlaced has no field 'adress'"),
    ('address = "OrderPlaced.address"', 'address = "OrderPlased.address"', "OrderPlased",
     "unknown event 'OrderPlased'"),
    ("carry = { address", "carry = { adress", "adress", "no field 'adress' in this event"),
    ("[world.payment]", "[world.paymnt]", "[world.paymnt]", "no world knob 'paymnt'"),
    ('approve = "4242424242424242", ', "", "[world.payment]", "no value of theirs for 'approve'"),
    ('type_from = "route"', 'type_from = "topic"', "type_from", "type_from: expected one of body, route, header"),
    ('correlate = ["order_ref", "charge_id"]', 'correlate = ["order.ref"]', "correlate",
     "not a top-level field name"),
])
def test_mistakes_in_the_new_tables_name_file_and_line(tmp_path, old, new, needle, message):
    text = BILLING.read_text()
    assert old in text
    bad = tmp_path / "billing.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_mapping(bad, SHOP)
    error = str(info.value)
    assert message in error and "\n" not in error
    line = next(n for n, text_line in enumerate(bad.read_text().splitlines(), 1)
                if needle in text_line and not text_line.startswith("#"))
    assert error.startswith(f"{bad}:{line}: "), error


def test_no_saga_id_on_the_wire_at_all_the_cause_and_their_own_order_number_find_it():
    # They are never told the saga: their first reply names the message it answers
    # (cause = the id we delivered) and the order number they made up; a later event
    # names only that number.
    m = Mapping.from_dict({"type_from": "route", "correlate": ["cause=msg_id", "order_no"],
                           "envelope": {"eventId": "msg_id", "sagaId": False, "causationId": "cause"},
                           "events": {"TripRequested": {"type": "trip.requested"},
                                      "FlightBooked": {"type": "flight.booked"},
                                      "FlightCancelled": {"type": "flight.cancelled"}}}, spec=TRAVEL)
    state = Correlation()
    asked = {"eventId": "e1", "eventType": "TripRequested", "sagaId": "s1"}
    sent = m.to_theirs(asked)
    assert sent == {"msg_id": "e1"}
    m.note(asked, sent, state)
    booked = m.to_ours({"msg_id": "m1", "cause": "e1", "order_no": "FL-7"}, route="flight.booked", state=state)
    assert booked["sagaId"] == "s1" and booked["causationId"] == "e1"
    later = m.to_ours({"msg_id": "m2", "order_no": "FL-7"}, route="flight.cancelled", state=state)
    assert later["sagaId"] == "s1"
    assert "sagaId" not in m.to_ours({"msg_id": "m3", "order_no": "FL-8"}, route="flight.cancelled", state=state)


def test_a_valid_event_they_cannot_be_told_is_an_error_and_an_invalid_one_is_skipped(run):
    from sagaspec.adapters.base import Adapter
    from sagaspec.adapters.mapping import MappedAdapter
    from sagaspec.examples.samples import sample_created
    from sagaspec.spec.sagafile import shipped_spec

    from sagaspec.errors import AdapterError

    class Inner(Adapter):
        name = "inner"

        def __init__(self):
            self.got = []

        async def deliver(self, event):
            self.got.append(event)

    m = Mapping.from_dict({"events": {"OrderCreated": {"type": "order", "single": {"items": "line"}}}},
                          spec=shipped_spec("corrected"))
    inner = Inner()
    a = MappedAdapter(inner, m)
    one = sample_created(1)
    run(a.deliver(one))
    assert inner.got[0]["line"] == one["items"][0] and "items" not in inner.got[0]
    two = {**one, "items": one["items"] * 2}
    with pytest.raises(AdapterError, match="cannot say OrderCreated in their vocabulary: .*has 2 elements"):
        run(a.deliver(two))
    run(a.deliver({**two, "schemaVersion": 99}))  # invalid anyway: not said, counted
    assert len(inner.got) == 1 and a.unrepresentable == 1
