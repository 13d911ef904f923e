"""A billing service written by "another team", over RabbitMQ, NATS or Redis, in its own vocabulary.

It plays the payment step of the sequential shop saga (``examples/sagas/shop.saga.yaml``)
the way a real service would, knowing nothing of sagaspec:

* its own routing keys on its own topic exchange: it consumes ``warehouse.stock.reserved``
  and ``carrier.parcel.refused``, and publishes ``billing.charge.captured``,
  ``billing.charge.declined`` and ``billing.charge.refunded``; the type is only in the
  routing key, never in the body;
* its own fields: ``msg_id``, ``order_ref``, ``sent_at`` (Unix milliseconds), ``price``
  as a JSON number, refunds in integer cents; no ``sagaId``;
* its own ids: a charge gets ``ch_<hex>``, and a refund names only that charge (no order);
* its own business rule: a card number decides (Stripe's test cards: ``4000000000000002``
  is declined, any other is charged);
* idempotent by ``msg_id``; a message it cannot read is logged and dropped (acknowledged,
  nothing published).

``foreign_billing.toml`` next to this file is the mapping that lets the conformance suite
drive it with no Python glue::

    python -m sagaspec.examples.foreign_billing --url amqp://guest:guest@127.0.0.1:5672/ --exchange billing-demo &
    sagaspec conform --spec examples/sagas/shop.saga.yaml --participant payment \\
        --adapter 'amqp://guest:guest@127.0.0.1:5672/?exchange=billing-demo' \\
        --mapping examples/foreign_billing.toml --faults duplicates,reorder,invalid -n 20

On NATS JetStream (``--url nats://...``) it keeps its own stream and subjects
(``<prefix>.warehouse.stock.reserved``, ...) and the same mapping drives it:
``--adapter 'nats://127.0.0.1:4222?stream=PREFIX&subject_prefix=prefix'``. On Redis
Streams (``--url redis://...``) its entries are ``{event: ROUTING KEY, payload: JSON}`` on
``<prefix>:events``: ``--adapter 'redis://127.0.0.1:6379/0?stream=prefix:events&route_field=event&data_field=payload'``.

``--bug NAME`` runs a faulty variant (see :data:`BUGS`), which the suite must catch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["BillingService", "BUGS", "main"]

log = logging.getLogger("billing")

DECLINED_CARD = "4000000000000002"
CONSUMES = ("warehouse.stock.reserved", "carrier.parcel.refused")

#: Faulty variants: name -> what is wrong.
BUGS = {
    "ignores-card": "charges every order, even on the card that must be declined",
    "refunds-again": "refunds once more on every parcel refusal, even a redelivered one",
    "refund-in-dollars": "puts the refund in dollars into the field that holds cents",
    "refunds-again-late": "refunds once more on a redelivered parcel refusal, half a second later (after the "
                          "suite stopped waiting for that saga)",
}

#: Seconds the ``refunds-again-late`` variant waits before its second refund.
LATE = 0.5


class BillingService:
    """The service's logic, on plain dicts (the broker loop is :func:`serve`)."""

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r}; expected one of {', '.join(BUGS)}")
        self.bug = bug
        self.seen: set[str] = set()
        self.orders: dict[str, dict[str, Any]] = {}
        self.dead_letters = 0
        self.late: set[str] = set()  # msg_ids of what it sends LATE seconds late (a bug)
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, publish: Any, key: str, body: dict[str, Any]) -> None:
        """``await publish(key, body)``, now or (a late message) in the background later."""
        if body["msg_id"] not in self.late:
            await publish(key, body)
            return

        async def later() -> None:
            await asyncio.sleep(LATE)
            await publish(key, body)
        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)  # a reference, so the task is not collected before it runs
        task.add_done_callback(self._tasks.discard)

    def handle(self, key: str, body: bytes) -> list[tuple[str, dict[str, Any]]]:
        """The messages to publish (routing key, body) for one received message."""
        try:
            msg = json.loads(body)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
            msg_id, ref = msg["msg_id"], msg["order_ref"]
            if not (isinstance(msg_id, str) and msg_id and isinstance(ref, str) and ref):
                raise ValueError("msg_id and order_ref must be non-empty strings")
            price = None
            if key == "warehouse.stock.reserved":
                if isinstance(msg.get("price"), bool) or not isinstance(msg.get("price"), (int, float)):
                    raise ValueError("price must be a number")
                price = Decimal(str(msg["price"]))
        except (ValueError, KeyError, InvalidOperation) as exc:
            self.dead_letters += 1
            log.warning("billing: dead-lettered a %s message: %s", key, exc)
            return []
        again = self.bug in ("refunds-again", "refunds-again-late")
        if msg_id in self.seen and not again:
            return []
        self.seen.add(msg_id)
        order = self.orders.setdefault(ref, {"status": "new"})
        out: list[tuple[str, dict[str, Any]]] = []

        def emit(kind: str, **fields: Any) -> None:
            out.append((f"billing.charge.{kind}", {"msg_id": uuid.uuid4().hex, "sent_at": int(time.time() * 1000),
                                                   "cause": msg_id, **fields}))

        if key == "warehouse.stock.reserved" and order["status"] == "new":
            if msg.get("card") == DECLINED_CARD and self.bug != "ignores-card":
                order["status"] = "declined"
                emit("declined", order_ref=ref, decline_code="card_declined: do not honor")
            else:
                order.update(status="charged", charge=f"ch_{uuid.uuid4().hex[:16]}", price=price)
                emit("captured", order_ref=ref, charge_id=order["charge"], captured=float(price))
        elif key == "carrier.parcel.refused" and (order["status"] == "charged" or
                                                  again and order["status"] == "refunded"):
            slow = order["status"] == "refunded" and self.bug == "refunds-again-late"
            order["status"] = "refunded"
            cents = int(order["price"] * (1 if self.bug == "refund-in-dollars" else 100))
            emit("refunded", charge_id=order["charge"], refunded_cents=cents)
            if slow:
                self.late.add(out[-1][1]["msg_id"])
        return out


async def serve(url: str, exchange: str, bug: str | None = None) -> None:
    """Consume from ``exchange`` (declared here, as a team declares its own) until cancelled."""
    import aio_pika

    service = BillingService(bug)
    conn = await aio_pika.connect(url)
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=1)
        # Not durable: a watcher that declared it again with other flags would be refused.
        # Auto-delete: gone with the last queue bound to it (a demo leaves nothing behind).
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=False, auto_delete=True)
        queue = await channel.declare_queue(f"{exchange}.billing", exclusive=True)
        for key in CONSUMES:
            await queue.bind(ex, routing_key=key)

        async def publish(key: str, body: dict[str, Any]) -> None:
            await ex.publish(aio_pika.Message(json.dumps(body).encode(), content_type="application/json"),
                             routing_key=key)
        print(f"billing service ready on exchange {exchange}", flush=True)
        async with queue.iterator() as messages:
            async for message in messages:
                for key, body in service.handle(message.routing_key or "", message.body):
                    await service.send(publish, key, body)
                await message.ack()  # after publishing: at least once, never lost


async def serve_nats(url: str, prefix: str, bug: str | None = None) -> None:
    """The same service on NATS JetStream: its stream ``<PREFIX>`` holds ``<prefix>.>``;
    it pulls ``<prefix>.warehouse.stock.reserved`` and ``<prefix>.carrier.parcel.refused``."""
    import nats
    from nats.js.api import ConsumerConfig, StreamConfig

    service = BillingService(bug)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        stream = prefix.upper().replace("-", "_")
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.>"]))
        subs = [await js.pull_subscribe(f"{prefix}.{key}", durable=f"billing_{i}", stream=stream,
                                        config=ConsumerConfig(ack_wait=5))
                for i, key in enumerate(CONSUMES)]
        lock = asyncio.Lock()

        async def publish(key: str, body: dict[str, Any]) -> None:
            await js.publish(f"{prefix}.{key}", json.dumps(body).encode(), stream=stream)

        async def pull(sub: Any) -> None:
            while True:
                try:
                    messages = await sub.fetch(1, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                for message in messages:
                    async with lock:
                        for key, body in service.handle(message.subject[len(prefix) + 1:], message.data):
                            await service.send(publish, key, body)
                        await message.ack()

        print(f"billing service ready on stream {stream}", flush=True)
        await asyncio.gather(*(pull(sub) for sub in subs))
    finally:
        await nc.close()


async def serve_redis(url: str, prefix: str, bug: str | None = None) -> None:
    """The same service on Redis Streams: one stream ``<prefix>:events`` of entries
    ``{event: ROUTING KEY, payload: JSON}``, read by its consumer group ``billing``."""
    import redis.asyncio as redis
    from redis.exceptions import ResponseError

    service = BillingService(bug)
    client = redis.from_url(url)
    stream = f"{prefix}:events"
    try:
        try:
            await client.xgroup_create(stream, "billing", "$", mkstream=True)
        except ResponseError:
            pass  # the group exists: carry on where it was

        async def publish(key: str, body: dict[str, Any]) -> None:
            await client.xadd(stream, {"event": key, "payload": json.dumps(body)})
        print(f"billing service ready on stream {stream}", flush=True)
        while True:
            reply = await client.xreadgroup("billing", "billing-1", {stream: ">"}, count=8, block=1000)
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    key = fields.get(b"event", b"").decode(errors="replace")
                    if key in CONSUMES:
                        for out_key, body in service.handle(key, fields.get(b"payload", b"")):
                            await service.send(publish, out_key, body)
                    await client.xack(stream, "billing", entry_id)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="The billing team's payment service (a sagaspec example).")
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/",
                    help="amqp://... (RabbitMQ), nats://... (NATS JetStream) or redis://... (Redis Streams)")
    ap.add_argument("--exchange", default="billing",
                    help="its topic exchange (RabbitMQ), its subject prefix and stream (NATS), "
                         "or its stream's prefix (Redis: PREFIX:events)")
    ap.add_argument("--bug", choices=sorted(BUGS), default=None, help="run a faulty variant")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    run = {"nats": serve_nats, "redis": serve_redis}.get(args.url.split(":", 1)[0], serve)
    try:
        asyncio.run(run(args.url, args.exchange, args.bug))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
