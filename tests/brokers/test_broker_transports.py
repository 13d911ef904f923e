"""Each transport on its real broker: competing consumers, non-stealing observers,
redelivery of unacknowledged messages, backlog, control channel, both CloudEvents modes."""

from __future__ import annotations

import asyncio

import pytest
from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.broker import (
    BrokerAdapter,
    decode_message,
    encode_event,
    new_namespace,
    open_transport,
)
from sagaspec.spec.examples import examples_for

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(90)]


def _with(url: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return url + ("&" if "?" in url else "?") + query


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_consumers_compete_observers_do_not_steal(run, broker, mode):
    url = _with(broker, ns=new_namespace("tr"), mode=mode, ack_wait="1")

    async def scenario() -> None:
        publisher = open_transport(url)
        await publisher.connect()
        await publisher.ensure_topology(create=True)
        consumers = [open_transport(url), open_transport(_with(url, consumer="2") if "redis" in url else url)]
        observers = [open_transport(url), open_transport(url)]
        got: list[tuple[int, dict]] = []
        seen: list[list] = [[], []]
        try:
            for i, c in enumerate(consumers):
                await c.connect()

                async def handle(msg, i=i):
                    got.append((i, decode_message(msg.body, msg.headers)))
                    await msg.ack()

                await c.consume("payment", ["OrderCreated", "OrderCancelled"], handle)
            for i, o in enumerate(observers):
                await o.connect()

                async def watch(msg, i=i):
                    seen[i].append(decode_message(msg.body, msg.headers))

                await o.observe(watch)
            events = [examples_for("OrderCreated")[0], examples_for("PaymentProcessed")[0],
                      dict(examples_for("OrderCreated")[0], eventId="evt-second"),
                      examples_for("OrderCancelled")[0]]
            for event in events:
                body, headers = encode_event(event, mode)
                await publisher.publish(event["eventType"], body, headers)
            await _until(lambda: len(got) == 3 and all(len(s) == 4 for s in seen))
            await asyncio.sleep(0.3)  # nothing more arrives: each message went to one consumer
            assert sorted(e["eventId"] for _, e in got) == sorted(
                e["eventId"] for e in events if e["eventType"] != "PaymentProcessed")
            for s in seen:  # every observer sees every event, decoded back exactly
                assert s == events
        finally:
            for t in (*consumers, *observers, publisher):
                await t.close()
            cleanup = open_transport(url)
            await cleanup.connect()
            await cleanup.destroy()
            await cleanup.close()

    run(scenario())


def test_destroy_removes_every_name_of_the_namespace(run, broker):
    from sagaspec.errors import BrokerUnavailable

    url = _with(broker, ns=new_namespace("ds"))

    async def scenario() -> None:
        t = open_transport(url)
        await t.connect()
        await t.ensure_topology(create=True)

        async def ignore(msg):
            await msg.ack()

        await t.consume("custom-group", ["OrderCreated"], ignore)
        await t.destroy()
        await t.close()
        check = open_transport(url)
        await check.connect()
        try:
            with pytest.raises(BrokerUnavailable, match="not found"):
                await check.ensure_topology(create=False)
            if check.NAME == "rabbitmq":  # its queues outlive the exchange unless deleted
                assert await check.backlog("custom-group", ["OrderCreated"]) is None
        finally:
            await check.close()

    run(scenario())


def test_unacknowledged_messages_are_redelivered_and_counted(run, broker):
    url = _with(broker, ns=new_namespace("rd"), ack_wait="1")

    async def scenario() -> None:
        publisher = open_transport(url)
        await publisher.connect()
        await publisher.ensure_topology(create=True)
        first, second = open_transport(url), open_transport(url)
        taken: list = []
        again: list = []
        try:
            await first.connect()

            async def keep(msg):  # a consumer that dies before acknowledging
                taken.append(msg)

            await first.consume("inventory", ["OrderCreated"], keep)
            event = examples_for("OrderCreated")[0]
            await publisher.publish("OrderCreated", *encode_event(event))
            await _until(lambda: taken)
            if publisher.EXACT_BACKLOG:
                assert await publisher.backlog("inventory", ["OrderCreated"]) == 1
            await first.close()  # "crash": the message was never acknowledged
            await second.connect()

            async def ack(msg):
                again.append(msg)
                await msg.ack()

            await second.consume("inventory", ["OrderCreated"], ack)
            await _until(lambda: again, timeout=15)
            assert decode_message(again[0].body, again[0].headers)["eventId"] == event["eventId"]
            assert again[0].deliveries >= 2
            await _until(lambda: True)
            await asyncio.sleep(0.3)
            assert await publisher.backlog("inventory", ["OrderCreated"]) == 0
        finally:
            for t in (first, second, publisher):
                await t.close()
            cleanup = open_transport(url)
            await cleanup.connect()
            await cleanup.destroy()
            await cleanup.close()

    run(scenario())


def test_adapter_collects_what_others_publish_not_its_own_deliveries(run, broker):
    url = _with(broker, ns=new_namespace("ad"), create="1", control="off")

    async def scenario() -> None:
        adapter = BrokerAdapter(url)
        other = open_transport(url)
        await adapter.start()
        await other.connect()
        listened: list[dict] = []

        async def control(msg):
            listened.append(msg)

        await other.control_listen(control)
        try:
            mine = examples_for("OrderCreated")[0]
            theirs = examples_for("InventoryReserved")[0]
            await adapter.deliver(mine)
            await other.publish("InventoryReserved", *encode_event(theirs, "binary"))
            await other.publish("OrderCreated", b"\x00garbage", {})
            out = await adapter.collect(2.0)
            assert out[0] == theirs
            assert isinstance(out[1], RawMessage) and out[1].source == "OrderCreated"
            assert len(out) == 2 and await adapter.collect(0.1) == []
            await adapter.transport.control_send({"op": "ping", "id": "x"})
            await _until(lambda: listened)
            assert listened[0]["op"] == "ping"
        finally:
            await other.close()
            await adapter.transport.destroy()
            await adapter.close()

    run(scenario())


def test_redis_per_type_streams(run):
    from brokerenv import URLS, require

    url = _with(require(URLS["redis"], "REDIS_URL"), ns=new_namespace("pt"), streams="per-type")

    async def scenario() -> None:
        t = open_transport(url)
        await t.connect()
        try:
            await t.ensure_topology(create=True)
            assert await t.client.exists("{}:OrderCancelled".format(t.names()["stream"]))
            seen: list = []

            async def watch(msg):
                seen.append(decode_message(msg.body, msg.headers)["eventType"])

            await t.observe(watch)
            for etype in ("OrderCreated", "PaymentProcessed", "OrderCompleted"):
                await t.publish(etype, *encode_event(examples_for(etype)[0]))
            await _until(lambda: len(seen) == 3)
            assert seen == ["OrderCreated", "PaymentProcessed", "OrderCompleted"]  # merged in order
        finally:
            await t.destroy()
            await t.close()

    run(scenario())


def test_a_nats_consumer_keeps_what_it_holds_from_being_redelivered(run, nats_url):
    """A live consumer tells JetStream it is still working on what it fetched (``+WPI``):
    with a short ack_wait only a dead consumer's messages come back, not those a slow
    handler holds or that wait behind it in the same batch."""
    url = _with(nats_url, ns=new_namespace("wpi"), ack_wait="0.3")

    async def scenario() -> None:
        publisher, consumer = open_transport(url), open_transport(url)
        await publisher.connect()
        await publisher.ensure_topology(create=True)
        got: list[tuple[str, int]] = []
        try:
            await consumer.connect()

            async def handle(msg):
                got.append((decode_message(msg.body, msg.headers)["eventId"], msg.deliveries))
                await asyncio.sleep(1.0)  # held for more than three ack_waits
                await msg.ack()

            await consumer.consume("payment", ["OrderCreated"], handle)
            for i in range(2):
                body, headers = encode_event(dict(examples_for("OrderCreated")[0], eventId=f"evt-{i}"), "structured")
                await publisher.publish("OrderCreated", body, headers)
            await _until(lambda: len(got) == 2)
            await asyncio.sleep(1.5)  # a redelivery would have come by now
            assert got == [("evt-0", 1), ("evt-1", 1)]
            assert await publisher.backlog("payment", ["OrderCreated"]) == 0
        finally:
            await consumer.close()
            await publisher.destroy()
            await publisher.close()

    run(scenario())


def test_a_restarted_nats_consumer_gets_back_at_once_what_its_dead_predecessor_held(run, nats_url):
    """``reclaim`` NAKs what the durable still holds unacknowledged from a consumer that
    died: it comes back as a redelivery (nothing was acked), ahead of what was published
    after it. With ack_wait 60 s only the NAK can bring it back before the newer message;
    without it the first message the new consumer gets is the newer one (or nothing)."""
    url = _with(nats_url, ns=new_namespace("rc"), ack_wait="60")

    async def scenario() -> None:
        publisher, dead, restarted = open_transport(url), open_transport(url), open_transport(url)
        await publisher.connect()
        await publisher.ensure_topology(create=True)
        held: list = []
        got: list[tuple[str, int]] = []
        try:
            await dead.connect()

            async def keep(msg):  # fetched, never acknowledged: the process dies holding it
                held.append(msg)

            await dead.consume("payment", ["OrderCreated"], keep)
            for i in range(2):
                body, headers = encode_event(dict(examples_for("OrderCreated")[0], eventId=f"evt-{i}"))
                await publisher.publish("OrderCreated", body, headers)
                if i == 0:
                    await _until(lambda: held)
                    await dead.close()  # "SIGKILL": evt-0 unacknowledged, its ack_wait 60 s
            assert len(held) == 1
            await restarted.connect()
            # evt-0, and evt-1 too if the server handed it to the dead one's pull request
            # before it noticed the connection was gone.
            assert await restarted.reclaim("payment", ["OrderCreated"]) in (1, 2)

            async def ack(msg):
                got.append((decode_message(msg.body, msg.headers)["eventId"], msg.deliveries))
                await msg.ack()

            await restarted.consume("payment", ["OrderCreated"], ack)
            await _until(lambda: len(got) == 2, timeout=30)
            assert got[0] == ("evt-0", 2) and got[1][0] == "evt-1"
            # Everything acknowledged: nothing held, nothing handed back, nothing comes again.
            await restarted.flush()
            assert await publisher.backlog("payment", ["OrderCreated"]) == 0
            assert await restarted.reclaim("payment", ["OrderCreated"]) == 0
            await asyncio.sleep(0.3)
            assert len(got) == 2
        finally:
            for t in (dead, restarted):
                await t.close()
            await publisher.destroy()
            await publisher.close()

    run(scenario())


def test_reclaim_hands_back_nothing_where_the_broker_does_it_itself(run, broker):
    """RabbitMQ requeues a closed channel's messages and a Redis consumer re-reads its own
    pending entries: their ``reclaim`` does nothing and says so."""
    url = _with(broker, ns=new_namespace("rn"))

    async def scenario() -> None:
        t = open_transport(url)
        await t.connect()
        try:
            await t.ensure_topology(create=True)
            assert await t.reclaim("payment", ["OrderCreated"]) == 0
        finally:
            await t.destroy()
            await t.close()

    run(scenario())
