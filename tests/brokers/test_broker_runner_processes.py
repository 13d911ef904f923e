"""Reference services as real processes: a kill at each worst point loses and duplicates nothing.

Each service is a ``python -m sagaspec.examples.runner`` process; a restarted one is
armed to die (``os._exit``, no acknowledgement) at ``before-commit``, ``after-commit`` or
``after-publish`` of the next message it handles. The broker redelivers, the supervisor
restarts it, and the saga must still end exactly once: one charge, one reservation, one
email, no violation seen on the bus, the same in the services' own stores.
"""

from __future__ import annotations

import time

import pytest
from brokerenv import PG_URL, URLS, require
from sagaspec.adapters.base import World
from sagaspec.adapters.broker import BrokerAdapter
from sagaspec.conformance.monitor import SagaMonitor

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(180)]

CASES = {
    "nats": [("payment", "before-commit"), ("order", "after-commit"), ("notification", "after-publish")],
    "rabbitmq": [("inventory", "after-commit"), ("order", "after-publish")],
    "redis": [("payment", "after-publish"), ("inventory", "before-commit")],
}


@pytest.mark.parametrize("name", list(CASES))
def test_kill_at_each_point_loses_and_duplicates_nothing(run, name):
    url = require(URLS[name], {"nats": "NATS_URL", "rabbitmq": "AMQP_URL", "redis": "REDIS_URL"}[name])
    db = require(PG_URL, "PG_URL") if name == "nats" else None  # NATS runs on PostgreSQL stores
    adapter = BrokerAdapter(url, spawn="all", db=db)
    engine = SagaMonitor(timeout=60)
    t0 = time.monotonic()
    adapter.listeners.append(lambda item: engine.observe(item, now=time.monotonic() - t0))

    async def scenario() -> None:
        await adapter.start()
        try:
            await adapter.setup(World(stock={"sku-1": 10}))
            orders = []
            for i, (service, point) in enumerate(CASES[name]):
                restarts = adapter.cluster.restarts
                adapter.cluster.kill(service)
                adapter.cluster.start(service, crash_at=point)
                await adapter.wait_ready((service,), timeout=60)
                order = {"sagaId": f"saga-{i}", "orderId": f"order-{i}", "userId": "alice",
                         "amount": "20.00", "items": [{"sku": "sku-1", "quantity": 2, "unitPrice": "10.00"}]}
                orders.append(order)
                await adapter.place_order(order)
                await adapter.collect(5.0)
                assert adapter.cluster.restarts == restarts + 1, f"{service} did not die at {point}"
                assert engine.sagas[order["sagaId"]].state == "completed", engine.sagas[order["sagaId"]]
            assert engine.violations == []
            assert all(v.count("PaymentProcessed") == v.count("InventoryReserved") == v.count("NotificationSent") == 1
                       for v in engine.sagas.values())
            # The stores, as the spec's variables (the services are the interpreter running
            # the order spec): one charge, one reservation, one email per saga.
            ids = [o["sagaId"] for o in orders]
            got = await adapter.variables(ids)
            assert all(got["payment"]["sagas"][s]["charges"] == 1 for s in ids), got["payment"]
            assert all(got["inventory"]["sagas"][s]["reservations"] == 1 for s in ids), got["inventory"]
            assert all(got["notification"]["sagas"][s]["emails"] == 1 for s in ids), got["notification"]
            assert got["inventory"]["shared"]["free"] == 10 - 2 * len(ids)
            stock = await adapter.inspect("inventory", ["spec:shared"])
            assert stock["spec:shared"]["free"] == {"sku-1": 10 - 2 * len(ids)}
        finally:
            await adapter.close()

    run(scenario())


def test_a_poison_message_is_dead_lettered_once_not_redelivered_forever(run):
    """A consumer that raises reports it, dead-letters and acknowledges the message and
    exits; the acknowledgement must reach the broker before the exit, or the restarted
    process gets the same poison message again and again."""
    import asyncio

    from sagaspec.adapters.base import RawMessage

    url = require(URLS["nats"], "NATS_URL")
    adapter = BrokerAdapter(url, spawn="payment", participant="payment",
                            mutant="malformed-input-crashes-consumer")

    async def scenario() -> None:
        await adapter.start()
        try:
            await adapter.deliver_raw(b"{not json")
            out = await adapter.collect(5.0)
            assert [type(x) for x in out] == [RawMessage] and out[0].reason.startswith("consumer crashed")
            await asyncio.sleep(adapter.config.ack_wait + 1.5)  # a lost ack would redeliver by now
            await adapter.wait_ready(("payment",), timeout=30)
            assert adapter.cluster.restarts == 1
            assert await adapter.transport.backlog("payment", ["OrderCreated"]) == 0
            assert await adapter.collect(0.5) == []
        finally:
            await adapter.close()

    run(scenario())
