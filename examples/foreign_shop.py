"""A whole shop written by "another team": REST in front, RabbitMQ behind, its own vocabulary.

It plays every participant of the sequential shop saga (``examples/sagas/shop.saga.yaml``)
the way a real system would, knowing nothing of sagaspec:

* orders come in over REST: ``POST /orders {customer, item, total, ship_to}`` answers
  ``{"order_number": "ORD-..."}`` (its own id; no ``sagaId`` anywhere), or as a message
  ``shop.order.requested`` with the same fields and a ``request_id`` its
  ``shop.order.placed`` repeats;
* stock is seeded over REST (``PUT /stock/ITEM {"available": N}``), one level per item;
* its four services talk over its own topic exchange with its own routing keys
  (``shop.order.placed``, ``warehouse.stock.reserved``, ``billing.charge.captured``,
  ``carrier.parcel.refused``, ...), the type only in the routing key;
* an order's outcome is never published: it is the state ``GET /orders/NUMBER`` shows
  (``{"status": "completed", "tracking": ...}`` or ``{"status": "cancelled", "reason": ...}``);
* fixed business rules: billing declines a total above 200; the carrier refuses a
  ``ship_to`` that starts with ``PO Box``;
* ``GET /health`` answers 200 while its consumers run, 503 once one has stopped.

``foreign_shop.toml`` next to this file is the mapping that lets the conformance suite
drive the whole system with no Python glue::

    python -m sagaspec.examples.foreign_shop --port 8181 --exchange shop-demo &
    sagaspec conform --spec examples/sagas/shop.saga.yaml --participant system \\
        --adapter 'amqp://guest:guest@127.0.0.1:5672/?exchange=shop-demo&http=http://127.0.0.1:8181' \\
        --mapping examples/foreign_shop.toml -n 10

``--bug NAME`` runs a faulty variant (see :data:`BUGS`), which the suite must catch.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import sys
import time
import uuid
from typing import Any

__all__ = ["BUGS", "Shop", "main"]

log = logging.getLogger("shop")

#: Faulty variants: name -> what is wrong.
BUGS = {
    "ships-declined": "ships an order whose payment was declined (billing says captured anyway)",
    "no-release": "does not give the stock back when a payment is declined or refunded",
    "consumer-dies": "its warehouse consumer stops for good once it has given stock back",
    "ships-twice": "its carrier ships again when a captured charge is delivered twice",
    "ships-twice-late": "its carrier ships again when a captured charge is delivered twice, a second "
                        "later (after the suite stopped watching that case)",
    "chokes-on-garbage": "its billing consumer stops for good on a message it cannot read",
}

#: Seconds the ``ships-twice-late`` variant waits before its second shipment.
LATE = 1.0

#: Which service consumes which routing key.
CONSUMES = {
    "warehouse": ("shop.order.placed", "billing.charge.declined", "billing.charge.refunded"),
    "billing": ("warehouse.stock.reserved", "carrier.parcel.refused"),
    "carrier": ("billing.charge.captured",),
    "orders": ("shop.order.requested", "carrier.parcel.shipped", "warehouse.stock.none", "warehouse.stock.released"),
}


class Shop:
    """The four services' logic on plain dicts; :func:`serve` wires them to RabbitMQ and HTTP."""

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r}; expected one of {', '.join(BUGS)}")
        self.bug = bug
        self.numbers = itertools.count(1001)
        self.orders: dict[str, dict[str, Any]] = {}
        self.stock: dict[str, int] = {}
        self.reservations: dict[str, str] = {}  # order -> reservation
        self.charges: dict[str, dict[str, Any]] = {}  # order -> {charge_id, total, status}
        self.shipped: set[str] = set()
        self.seen: set[tuple[str, str]] = set()  # (service, event_id): idempotent consumers
        self.dead = False
        self.late: set[str] = set()  # event_ids it publishes LATE seconds late (a bug)

    @staticmethod
    def _msg(order: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": uuid.uuid4().hex, "at": int(time.time() * 1000), "order_number": order, **fields}

    def place(self, body: dict[str, Any]) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        number = f"ORD-{next(self.numbers)}"
        self.orders[number] = {"status": "pending", **body}
        return number, [("shop.order.placed", self._msg(number, customer=body["customer"], item=body["item"],
                                                        total=body["total"], ship_to=body["ship_to"]))]

    def handle(self, service: str, key: str, msg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        twice = self.bug in ("ships-twice", "ships-twice-late")
        if (service, msg["event_id"]) in self.seen and not (twice and service == "carrier"):
            return []
        self.seen.add((service, msg["event_id"]))
        if key == "shop.order.requested":  # an order placed by a message instead of over REST
            _, out = self.place({k: msg[k] for k in ("customer", "item", "total", "ship_to")})
            return [(k, {**m, "request_id": msg["request_id"]}) for k, m in out]
        return getattr(self, f"_{service}")(key, msg, msg["order_number"])

    def _warehouse(self, key: str, msg: dict[str, Any], order: str) -> list[tuple[str, dict[str, Any]]]:
        if key == "shop.order.placed" and order not in self.reservations:
            if self.stock.get(msg["item"], 0) < 1:
                self.reservations[order] = ""
                return [("warehouse.stock.none", self._msg(order, item=msg["item"], why="out of stock"))]
            self.stock[msg["item"]] -= 1
            self.reservations[order] = f"R-{uuid.uuid4().hex[:10]}"
            return [("warehouse.stock.reserved", self._msg(order, reservation=self.reservations[order],
                                                           item=msg["item"], total=msg["total"]))]
        if key in ("billing.charge.declined", "billing.charge.refunded") and self.reservations.get(order) \
                and self.bug != "no-release":
            reservation, self.reservations[order] = self.reservations[order], ""
            self.stock[self.orders[order]["item"]] += 1
            if self.bug == "consumer-dies":
                self.dead = True  # the warehouse consumer stops (see serve)
            return [("warehouse.stock.released", self._msg(order, reservation=reservation))]
        return []

    def _billing(self, key: str, msg: dict[str, Any], order: str) -> list[tuple[str, dict[str, Any]]]:
        charge = self.charges.get(order)
        if key == "warehouse.stock.reserved" and charge is None:
            if msg["total"] > 200 and self.bug != "ships-declined":
                self.charges[order] = {"status": "declined"}
                return [("billing.charge.declined", self._msg(order, decline_code="over_limit: total above 200"))]
            self.charges[order] = {"status": "captured", "charge_id": f"ch_{uuid.uuid4().hex[:12]}",
                                   "total": msg["total"]}
            return [("billing.charge.captured", self._msg(order, charge_id=self.charges[order]["charge_id"],
                                                          captured=msg["total"],
                                                          ship_to=self.orders[order]["ship_to"]))]
        if key == "carrier.parcel.refused" and charge is not None and charge["status"] == "captured":
            charge["status"] = "refunded"
            return [("billing.charge.refunded", self._msg(order, charge_id=charge["charge_id"],
                                                          refunded=charge["total"]))]
        return []

    def _carrier(self, key: str, msg: dict[str, Any], order: str) -> list[tuple[str, dict[str, Any]]]:
        again = order in self.shipped
        if again and self.bug not in ("ships-twice", "ships-twice-late"):
            return []
        self.shipped.add(order)
        if msg["ship_to"].startswith("PO Box"):
            return [("carrier.parcel.refused", self._msg(order, why="carrier does not deliver to PO boxes"))]
        out = [("carrier.parcel.shipped", self._msg(order, tracking=f"TRK{uuid.uuid4().hex[:10].upper()}"))]
        if again and self.bug == "ships-twice-late":
            self.late.add(out[0][1]["event_id"])
        return out

    def _orders(self, key: str, msg: dict[str, Any], order: str) -> list[tuple[str, dict[str, Any]]]:
        state = self.orders[order]
        if state["status"] == "pending":
            if key == "carrier.parcel.shipped":
                state.update(status="completed", tracking=msg["tracking"])
            else:
                state.update(status="cancelled", reason="out of stock" if key == "warehouse.stock.none"
                             else "payment or delivery failed; stock released")
        return []

    def view(self, order: str) -> dict[str, Any] | None:
        state = self.orders.get(order)
        if state is None:
            return None
        out = {"order_number": order, "status": state["status"]}
        for key in ("tracking", "reason"):
            if key in state:
                out[key] = state[key]
        return out


async def _http(shop: Shop, publish: Any, alive: Any, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    """One HTTP/1.1 request per connection (what the demo needs: JSON in, JSON out)."""
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        length = next((int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")), 0)
        body = json.loads(await reader.readexactly(length)) if length else {}
        status, reply = 404, {"error": "not found"}
        parts = target.split("?", 1)[0].strip("/").split("/")
        if method == "POST" and parts == ["orders"]:
            try:
                fields = {k: body[k] for k in ("customer", "item", "total", "ship_to")}
                if not isinstance(fields["total"], (int, float)) or isinstance(fields["total"], bool):
                    raise TypeError("total must be a number")
            except (KeyError, TypeError) as exc:
                status, reply = 422, {"error": str(exc)}
            else:
                number, out = shop.place(fields)
                for key, msg in out:
                    await publish(key, msg)
                status, reply = 201, {"order_number": number}
        elif method == "PUT" and len(parts) == 2 and parts[0] == "stock":
            shop.stock[parts[1]] = int(body["available"])
            status, reply = 200, {"item": parts[1], "available": shop.stock[parts[1]]}
        elif method == "GET" and len(parts) == 2 and parts[0] == "orders":
            view = shop.view(parts[1])
            status, reply = (200, view) if view is not None else (404, {"error": "no such order"})
        elif method == "GET" and parts == ["health"]:
            status, reply = (200, {"ok": True}) if alive() else (503, {"ok": False, "error": "a consumer stopped"})
        data = json.dumps(reply).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + data)
        await writer.drain()
    except (ValueError, asyncio.IncompleteReadError, ConnectionError) as exc:
        log.warning("shop: bad request: %s", exc)
    finally:
        writer.close()


async def serve(url: str, exchange: str, port: int, bug: str | None = None) -> None:
    """Its four consumers on ``exchange`` and its REST API on 127.0.0.1:``port``, until cancelled."""
    import aio_pika

    shop = Shop(bug)
    conn = await aio_pika.connect(url)
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=1)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=False, auto_delete=True)

        async def publish(key: str, msg: dict[str, Any]) -> None:
            await ex.publish(aio_pika.Message(json.dumps(msg).encode(), content_type="application/json"),
                             routing_key=key)

        lock = asyncio.Lock()  # one process plays four services: one handling at a time
        pending: set[asyncio.Task[None]] = set()

        def later(sending: Any) -> None:
            async def go() -> None:
                await asyncio.sleep(LATE)
                await sending
            task = asyncio.create_task(go())
            pending.add(task)  # a reference, so the task is not collected before it runs
            task.add_done_callback(pending.discard)

        queues = {}
        for service, keys in CONSUMES.items():  # bound before the API takes an order
            queues[service] = await channel.declare_queue(f"{exchange}.{service}", exclusive=True)
            for key in keys:
                await queues[service].bind(ex, routing_key=key)

        async def consume(service: str) -> None:
            async with queues[service].iterator() as messages:
                async for message in messages:
                    try:
                        msg = json.loads(message.body)
                        async with lock:
                            out = shop.handle(service, message.routing_key or "", msg)
                    except (ValueError, KeyError, TypeError) as exc:
                        if shop.bug == "chokes-on-garbage" and service == "billing":
                            raise  # the bug: the consumer dies with it, its queue fills up
                        log.warning("shop: %s dead-lettered a %s message: %s", service, message.routing_key, exc)
                        await message.ack()
                        continue
                    for key, body in out:
                        if body["event_id"] in shop.late:  # the bug: sent later, in the background
                            later(publish(key, body))
                        else:
                            await publish(key, body)
                    await message.ack()  # after publishing: at least once, never lost
                    if service == "warehouse" and shop.dead:
                        # The bug: that consumer is gone and its queue fills up. It leaves by
                        # returning, not by task.cancel(): a cancel landing during the consumer's
                        # Basic.Cancel makes aiormq close the channel every service shares.
                        return

        tasks = {s: asyncio.create_task(consume(s)) for s in CONSUMES}
        consumers = list(tasks.values())
        server = await asyncio.start_server(
            lambda r, w: _http(shop, publish, lambda: not any(t.done() for t in consumers), r, w), "127.0.0.1", port)
        async with server:
            print(f"shop ready on http://127.0.0.1:{port}, exchange {exchange}", flush=True)
            await asyncio.gather(server.serve_forever(), *consumers, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Another team's shop: REST in front, RabbitMQ behind (a sagaspec example).")
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/", help="its RabbitMQ")
    ap.add_argument("--exchange", default="shop", help="its topic exchange")
    ap.add_argument("--port", type=int, default=8181, help="its REST port on 127.0.0.1")
    ap.add_argument("--bug", choices=sorted(BUGS), default=None, help="run a faulty variant")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        asyncio.run(serve(args.url, args.exchange, args.port, args.bug))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
