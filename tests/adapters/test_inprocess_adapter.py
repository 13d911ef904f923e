"""The in-process adapter over the reference services, callables and factories."""

from __future__ import annotations

import pytest
from sagaspec.adapters import CAPABILITIES, InProcessAdapter, RawMessage, World, load_adapter
from sagaspec.examples.samples import sample_created, sample_order
from sagaspec.spec.events import parse_event

from sagaspec.errors import AdapterError, SagaspecError

pytestmark = pytest.mark.timeout(60)

WORLD = World(stock={"sku-1": 3}, declined_users=frozenset({"mallory"}))


def types(items):
    return [i["eventType"] if isinstance(i, dict) else f"raw:{i.reason}" for i in items]


def test_default_factory_is_the_whole_reference_system(run):
    a = load_adapter("inprocess:")
    assert set(CAPABILITIES) <= a.capabilities
    run(a.start())
    run(a.setup(WORLD))
    run(a.place_order(sample_order(1)))
    out = run(a.collect(1.0))
    assert types(out) == ["OrderCreated", "PaymentProcessed", "InventoryReserved",
                          "OrderCompleted", "NotificationSent"]
    for e in out:
        parse_event(e)
    # a duplicate injected on the bus changes nothing
    run(a.deliver(out[0]))
    assert run(a.collect(1.0)) == []
    run(a.close())


def test_one_participant_gets_deliveries_and_returns_only_what_it_published(run):
    a = load_adapter("inprocess:", participant="payment")
    assert "place_order" not in a.capabilities
    run(a.setup(WORLD))
    run(a.deliver(sample_created(1)))
    run(a.deliver(sample_created(2, user="mallory")))
    assert types(run(a.collect(0.5))) == ["PaymentProcessed", "PaymentFailed"]
    with pytest.raises(NotImplementedError):
        run(a.place_order(sample_order(3)))


def test_crash_keeps_the_store_and_redelivers_the_unacknowledged_event(run):
    a = load_adapter("inprocess:", participant="payment")
    created = sample_created(1)
    run(a.crash("payment"))
    run(a.deliver(created))  # killed mid-handling, restarted, redelivered
    run(a.deliver(created))  # a genuine duplicate
    assert types(run(a.collect(0.5))) == ["PaymentProcessed"]
    with pytest.raises(AdapterError, match="cannot crash 'order'"):
        run(a.crash("order"))


def test_crash_losing_an_acknowledged_event_is_visible(run):
    a = load_adapter("inprocess:?mutant=crash-loses-acked-event", participant="payment")
    run(a.crash("payment"))
    run(a.deliver(sample_created(1)))
    assert run(a.collect(0.5)) == []  # the charge decision was lost


def test_reset_forgets_everything(run):
    a = load_adapter("inprocess:", participant="payment")
    created = sample_created(1)
    run(a.deliver(created))
    run(a.reset())
    run(a.deliver(created))
    assert types(run(a.collect(0.5))) == ["PaymentProcessed"]


def test_garbage_is_dead_lettered_and_a_crashing_consumer_is_reported(run):
    ref = load_adapter("inprocess:", participant="inventory")
    run(ref.deliver_raw(b"\x00garbage"))
    run(ref.deliver({"eventType": "OrderCreated"}))
    assert run(ref.collect(0.5)) == []
    bad = load_adapter("inprocess:?mutant=malformed-input-crashes-consumer", participant="inventory")
    run(bad.deliver_raw(b"\x00garbage"))
    out = run(bad.collect(0.5))
    assert len(out) == 1 and isinstance(out[0], RawMessage)
    assert out[0].source == "inventory" and out[0].reason.startswith("consumer crashed: ")
    assert out[0].payload == b"\x00garbage"


def test_a_factory_returning_an_adapter_is_used_as_is(run):
    a = load_adapter("inprocess:sagaspec.adapters.inprocess:reference_adapter?mutant=no-idempotency",
                     participant="payment")
    assert isinstance(a, InProcessAdapter) and "no-idempotency" in repr(a)
    created = sample_created(1)
    run(a.deliver(created))
    run(a.deliver(created))
    assert types(run(a.collect(0.5))) == ["PaymentProcessed", "PaymentProcessed"]


def test_a_plain_callable_is_a_service_and_its_exceptions_are_findings(run):
    def echo(event):
        if event.get("eventType") == "Boom":
            raise RuntimeError("kaboom")
        return [{"eventType": "Echo", "of": event.get("eventId")}, b"not json"]

    a = InProcessAdapter(echo)
    assert a.capabilities == frozenset({"deliver_raw"})
    run(a.deliver({"eventId": "e1"}))
    run(a.deliver({"eventType": "Boom"}))
    out = run(a.collect(0.1))
    assert out[0] == {"eventType": "Echo", "of": "e1"}
    assert isinstance(out[1], RawMessage) and out[1].reason.startswith("not JSON")
    assert isinstance(out[2], RawMessage) and out[2].reason == "consumer crashed: RuntimeError: kaboom"
    with pytest.raises(NotImplementedError):
        run(a.setup(WORLD))


def test_async_callables_are_awaited(run):
    async def service(event):
        return {"eventType": "Seen", "id": event["eventId"]}

    a = InProcessAdapter(service)
    run(a.deliver({"eventId": "x"}))
    assert run(a.collect(0.1)) == [{"eventType": "Seen", "id": "x"}]


def test_a_bare_reference_service_object_is_wrapped(run):
    from sagaspec.examples import make_service

    a = InProcessAdapter(make_service("order"))
    assert {"place_order", "setup", "crash", "deliver_raw"} <= a.capabilities
    run(a.place_order(sample_order(1)))
    assert types(run(a.collect(0.1))) == ["OrderCreated"]


@pytest.mark.parametrize("spec, message", [
    ("", "empty adapter string"),
    ("::", "invalid adapter string"),
    ("gopher://x", "unknown adapter scheme 'gopher'"),
    ("inprocess:no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
    ("inprocess:sagaspec.examples:nope", "has no attribute 'nope'"),
    ("inprocess:sagaspec.examples", "expected 'pkg.module:factory'"),
    ("inprocess:?colour=blue", "does not accept option(s) colour"),
    ("inprocess:?mutant=zzz", "unknown mutant 'zzz'"),
    ("inprocess:?participant=bank", "unknown participant 'bank'"),
    ("nats://127.0.0.1:4222", None),
])
def test_bad_adapter_strings_are_one_line_errors(spec, message):
    try:
        load_adapter(spec)
    except SagaspecError as exc:
        text = str(exc)
        assert "\n" not in text
        if message is not None:
            assert message in text
    else:
        # nats:// only loads once the broker adapters exist; then it must not fail here.
        assert message is None


def test_register_scheme_adds_a_transport(monkeypatch):
    from sagaspec.adapters import register_scheme, schemes
    from sagaspec.adapters import spec as spec_module
    from sagaspec.adapters.inprocess import reference_adapter

    monkeypatch.setattr(spec_module, "_REGISTRY", dict(spec_module._REGISTRY))
    register_scheme("memtest", lambda spec, **opts: reference_adapter(opts.get("participant") or "system"))
    assert "memtest" in schemes()
    assert isinstance(load_adapter("memtest://anything", participant="order"), InProcessAdapter)
