"""Adapter URLs, naming defaults and the CloudEvents codec of the broker adapters (no broker needed)."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.broker import (
    BrokerConfig,
    decode_message,
    encode_event,
    open_transport,
    redact,
)
from sagaspec.adapters.spec import load_adapter
from sagaspec.spec.examples import examples_for

from sagaspec.errors import UsageError


@pytest.mark.parametrize("module", [
    "sagaspec.adapters.broker", "sagaspec.examples.runner", "sagaspec.examples.pgstore",
    "sagaspec.conformance.faults",
])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("url, ns, expected", [
    ("nats://127.0.0.1:4222", "", {"stream": "SAGA", "subjects": "saga.>", "subject_prefix": "saga"}),
    ("nats://127.0.0.1:4222?ns=t1", "t1", {"stream": "SAGA_t1", "subjects": "t1.saga.>"}),
    ("nats://127.0.0.1:4222?stream=ORDERS&subject_prefix=shop.ev", "", {"stream": "ORDERS", "subjects": "shop.ev.>"}),
    ("amqp://guest:guest@127.0.0.1:5672/", "", {"exchange": "saga.events", "queue_prefix": "saga.events",
                                                 "control": "saga.events.control"}),
    ("amqp://guest:guest@127.0.0.1:5672/?ns=t1&queue_prefix=q", "t1", {"exchange": "t1.saga.events", "queue_prefix": "q"}),
    ("redis://127.0.0.1:6379/0", "", {"stream": "saga:events", "control": "saga:events:control"}),
    ("redis://127.0.0.1:6379/0?namespace=t1", "t1", {"stream": "t1:saga:events"}),
])
def test_documented_default_names(url, ns, expected):
    transport = open_transport(url)
    assert transport.config.namespace == ns
    names = transport.names()
    assert {k: names[k] for k in expected} == expected


def test_each_broker_route_and_queue_names():
    nats = open_transport("nats://127.0.0.1:4222?ns=x")
    assert nats.subject("OrderCreated") == "x.saga.OrderCreated"
    # A service's own dotted subject keeps its tokens; what no token may hold becomes _.
    assert nats.subject("bad type.with dots") == "x.saga.bad_type.with_dots"
    assert nats.subject("a..b*") == "x.saga.a._.b_"
    assert nats.durable("payment", "OrderCreated") == "payment_OrderCreated"
    rabbit = open_transport("amqp://guest:guest@127.0.0.1:5672/")
    assert rabbit.queue_name("payment") == "saga.events.payment"
    redis_single = open_transport("redis://127.0.0.1:6379/0")
    redis_typed = open_transport("redis://127.0.0.1:6379/0?streams=per-type")
    assert redis_single.stream_for("OrderCreated") == "saga:events"
    assert redis_typed.stream_for("OrderCreated") == "saga:events:OrderCreated"
    assert redis_typed.consumer_name("payment") == "payment-1"


@pytest.mark.parametrize("url, fragment", [
    ("nats://127.0.0.1:4222?colour=red", "unknown parameter 'colour'"),
    ("nats://127.0.0.1:4222?mode=xml", "expected structured or binary"),
    ("nats://127.0.0.1:4222?timeout=-1", "a positive number of seconds"),
    ("nats://127.0.0.1:4222?ns=bad.name", "letters, digits"),
    ("nats://127.0.0.1:4222?spawn=auto,payment", "auto, all or a comma list"),
    ("redis://127.0.0.1:6379/0?streams=many", "expected single or per-type"),
    ("nats://127.0.0.1:4222?create=maybe", "expected 1 or 0"),
])
def test_bad_parameters_are_one_line_usage_errors(url, fragment):
    with pytest.raises(UsageError) as info:
        open_transport(url)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_spawn_names_the_designs_participants():
    """The names in spawn= are checked against the adapter's design, not a fixed list."""
    with pytest.raises(UsageError) as info:
        load_adapter("nats://127.0.0.1:4222?spawn=billing", participant="system")
    assert "auto, all or a comma list of payment, inventory, notification, order" in str(info.value)
    travel = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "travel.saga.yaml")
    adapter = load_adapter("nats://127.0.0.1:4222?spawn=all", participant="system", design=travel)
    # Those that only react first, in the spec's order; the one that starts sagas last.
    assert adapter.config.spawn == ("flight", "hotel", "car", "payment", "trip")


def test_client_params_pass_through_and_passwords_are_redacted():
    cfg = BrokerConfig.from_url("amqp://u:secret@127.0.0.1:5672/?heartbeat=5&ns=a&mode=binary")
    assert cfg.client_url == "amqp://u:secret@127.0.0.1:5672/?heartbeat=5"
    assert cfg.display == "amqp://u:***@127.0.0.1:5672/?heartbeat=5&ns=a&mode=binary"
    assert "secret" not in open_transport(cfg).describe()
    assert redact("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


def test_child_url_carries_the_namespace_and_naming():
    cfg = BrokerConfig.from_url("nats://127.0.0.1:4222?ns=t9&stream=S&ack_wait=2&spawn=all")
    child = BrokerConfig.from_url(cfg.url_for_child())
    assert (child.namespace, child.names, child.ack_wait, child.spawn) == ("t9", {"stream": "S"}, 2.0, ())


def test_adapter_strings_resolve_to_broker_adapters():
    for url, cls in [("nats://127.0.0.1:4222", "NatsAdapter"),
                     ("amqp://guest:guest@127.0.0.1:5672/", "RabbitAdapter"),
                     ("redis://127.0.0.1:6379/0", "RedisAdapter")]:
        adapter = load_adapter(url, participant="payment")
        assert type(adapter).__name__ == cls
        assert adapter.capabilities == frozenset({"deliver_raw"})  # nothing running yet
    spawned = load_adapter("nats://127.0.0.1:4222?spawn=1", participant="payment")
    assert spawned.config.spawn == ("payment",)
    assert spawned.config.namespace  # a spawned run gets its own names
    assert spawned.capabilities == frozenset({"deliver_raw", "setup", "crash"})
    system = load_adapter("nats://127.0.0.1:4222?spawn=1", participant="system")
    assert system.config.spawn == ("payment", "inventory", "notification", "order")
    # NATS consumers keep what they hold alive: a killed one's messages come back in 0.5 s.
    assert "place_order" in system.capabilities and system.config.ack_wait == 0.5
    assert load_adapter("redis://127.0.0.1:6379/0?spawn=1").config.ack_wait == 2.0


@pytest.mark.parametrize("mode", ["structured", "binary"])
@pytest.mark.parametrize("event_type", ["OrderCreated", "PaymentRefunded", "NotificationSent"])
def test_codec_round_trips_events(mode, event_type):
    event = examples_for(event_type)[0]
    body, headers = encode_event(event, mode)
    if mode == "binary":
        assert headers["ce-id"] == event["eventId"] and headers["content-type"] == "application/json"
        assert "specversion" not in json.loads(body)
    else:
        assert headers == {"content-type": "application/cloudevents+json"}
        assert json.loads(body)["specversion"] == "1.0"
    assert decode_message(body, headers) == event


def test_invalid_events_travel_bare_and_garbage_is_a_raw_message():
    event = dict(examples_for("PaymentProcessed")[0], amount=100.0)  # a JSON number: invalid
    body, headers = encode_event(event, "structured")
    assert headers == {"content-type": "application/json"}
    assert decode_message(body, headers) == event  # the receiver judges it
    for garbage, why in [(b"{not json", "not a CloudEvent"), (b"[1, 2]", "not an object"),
                         (b'{"hello": 1}', "without specversion or eventType"),
                         (b'{"specversion": "1.0", "id": "x", "source": "/s", "type": "nope"}', "bad CloudEvent")]:
        item = decode_message(garbage, {})
        assert isinstance(item, RawMessage) and why in item.reason
    bad_binary = decode_message(b"{}", {"ce-specversion": "1.0", "ce-type": "x"})
    assert isinstance(bad_binary, RawMessage)


def test_names_can_be_given_as_constructor_arguments():
    from sagaspec.adapters.nats import NatsAdapter
    from sagaspec.adapters.rabbitmq import RabbitAdapter
    from sagaspec.adapters.redis_streams import RedisAdapter

    nats = NatsAdapter("nats://127.0.0.1:4222", stream="ORDERS", subject_prefix="shop.events", mode="binary")
    assert nats.transport.names()["subjects"] == "shop.events.>" and nats.config.mode == "binary"
    rabbit = RabbitAdapter(exchange="shop", queue_prefix="shop.q", namespace="t2")
    assert (rabbit.transport.names()["exchange"], rabbit.transport.queue_name("order")) == ("shop", "shop.q.order")
    redis = RedisAdapter(stream="shop:ev", streams="per-type")
    assert redis.transport.stream_for("OrderCreated") == "shop:ev:OrderCreated"
    with pytest.raises(UsageError, match="unknown broker option 'exchange'"):
        NatsAdapter(exchange="x")
