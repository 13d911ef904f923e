"""On every broker, a mapped event goes out under the service's own routing key / subject
(it went out as ``unknown``), and a message whose type is only in its routing key, or in
a header, comes back as the spec's event (it was an error)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from brokerenv import namespace
from sagaspec.adapters.broker import BrokerAdapter, open_transport
from sagaspec.adapters.mapping import MappedAdapter, Mapping, load_mapping
from sagaspec.spec.sagafile import load_spec

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
SHOP = load_spec(ROOT / "examples" / "sagas" / "shop.saga.yaml")
RESERVED = {"eventId": "e1", "eventType": "StockReserved", "schemaVersion": 1, "sagaId": "s1",
            "timestamp": "2026-01-01T00:00:00.000Z", "orderId": "order-1", "reservationId": "r1",
            "sku": "sku-1", "amount": "100.00"}


@pytest.mark.parametrize("type_from", ["route", "header"])
def test_mapped_routes_and_types_outside_the_body(broker, run, type_from):
    ns = namespace("map")
    config = load_mapping(ROOT / "examples" / "foreign_billing.toml", SHOP).config
    config["type_from"] = type_from
    config["type_field"] = "x-billing-type"
    mapping = Mapping(config, spec=SHOP)

    async def go():
        adapter = MappedAdapter(BrokerAdapter(broker, participant="payment", namespace=ns, create="1",
                                              control="off"), mapping)
        await adapter.start()
        side = open_transport(broker, namespace=ns)
        await side.connect()
        got = []

        async def handler(msg):
            got.append(msg)
            await msg.ack()

        try:
            await side.consume("billing", ["warehouse.stock.reserved"], handler)
            await adapter.deliver(RESERVED)
            for _ in range(100):
                if got:
                    break
                await __import__("asyncio").sleep(0.05)
            assert [m.route for m in got] == ["warehouse.stock.reserved"]
            body = json.loads(got[0].body)
            assert body["order_ref"] == "s1" and body["price"] == 100.0 and "type" not in body
            assert "eventType" not in body and "x-billing-type" not in body
            if type_from == "header":
                assert got[0].headers.get("x-billing-type") == "warehouse.stock.reserved"
            headers = {"x-billing-type": "billing.charge.declined"} if type_from == "header" else {}
            await side.publish("billing.charge.declined",
                               json.dumps({"msg_id": "m9", "order_ref": "s1", "decline_code": "no",
                                           "sent_at": 1_700_000_000_000, "cause": "e1"}).encode(), headers)
            out = await adapter.collect(2.0)
            assert len(out) == 1 and isinstance(out[0], dict), out
            assert out[0]["eventType"] == "PaymentDeclined" and out[0]["sagaId"] == "s1"
            assert out[0]["orderId"] == "order-1" and out[0]["eventId"] == "m9"  # carried, mapped
            # Garbage goes where the target consumes, under their routing key.
            await adapter.deliver_raw(b"\x00garbage")
            for _ in range(100):
                if len(got) == 2:
                    break
                await __import__("asyncio").sleep(0.05)
            assert got[1].body == b"\x00garbage" and got[1].route == "warehouse.stock.reserved"
        finally:
            await side.destroy()
            await side.close()
            await adapter.close()

    run(go())


def test_a_redis_service_with_its_own_entry_fields(run):
    from brokerenv import URLS, require

    url = require(URLS["redis"], "REDIS_URL")
    stream = namespace("map") + ":billing"
    config = load_mapping(ROOT / "examples" / "foreign_billing.toml", SHOP).config
    mapping = Mapping(config, spec=SHOP)
    sep = "&" if "?" in url else "?"
    own = f"{url}{sep}stream={stream}&route_field=event&data_field=payload"

    async def go():
        import redis.asyncio as redis

        client = redis.from_url(url)
        await client.xadd(stream, {"event": "boot", "payload": b"{}"})  # their stream exists
        adapter = MappedAdapter(BrokerAdapter(own, control="off"), mapping)
        await adapter.start()
        try:
            await adapter.deliver(RESERVED)
            entries = await client.xrange(stream)
            fields = entries[-1][1]
            assert fields[b"event"] == b"warehouse.stock.reserved"
            assert json.loads(fields[b"payload"])["order_ref"] == "s1"
            await client.xadd(stream, {"event": "billing.charge.declined", "payload": json.dumps(
                {"msg_id": "m9", "order_ref": "s1", "decline_code": "no", "sent_at": 0})})
            out = await adapter.collect(2.0)
            assert [e["eventType"] for e in out] == ["PaymentDeclined"] and out[0]["sagaId"] == "s1"
        finally:
            await adapter.close()
            await client.delete(stream)
            await client.aclose()

    run(go())
