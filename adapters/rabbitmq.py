"""RabbitMQ transport and adapter (aio-pika).

Topology (defaults; ``ns`` is the optional namespace of a run):

=================  ===============================  ======================================
what               default                          with ``?ns=t1``
=================  ===============================  ======================================
exchange           topic ``saga.events`` (durable)  ``t1.saga.events``
routing key        ``<eventType>``
service queue      durable ``<exchange>.<service>`` bound to the service's event types,
                   manual ack, prefetch 1; a dead consumer's unacked messages requeue
observer           exclusive auto-delete server-named queue bound with ``#`` (steals nothing)
control            fanout exchange ``<exchange>.control``, one exclusive queue per listener
=================  ===============================  ======================================

Override with ``?exchange=shop&queue_prefix=shop.q``. Publishing waits for publisher
confirms. Binary mode puts the CloudEvents attributes in AMQP headers
(``cloudEvents_id``, ``cloudEvents_type``, ...; ``cloudEvents:id`` is accepted too) and
the data content type in the ``content_type`` property. Other query parameters
(``heartbeat=``, ...) are passed to aio-pika.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sagaspec.adapters._bounded_wait import within
from sagaspec.adapters.broker import (
    BrokerAdapter,
    BrokerConfig,
    Handler,
    Received,
    Transport,
    adapter_factory,
    register_transport,
    require_client,
)

from sagaspec.errors import BrokerUnavailable

__all__ = ["RabbitTransport", "RabbitAdapter", "from_spec"]

# aiormq logs every refused connection at ERROR level before raising; we raise a clear
# BrokerUnavailable instead, so keep its log quiet unless the user configured it.
for _name in ("aiormq.connection", "aio_pika.robust_connection"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.CRITICAL)

_CE_PREFIXES = ("cloudEvents_", "cloudEvents:")
#: Header of the observer's own catch-up markers (never an event; see sync_observer).
_MARKER = "sagaspec-observer-marker"


def _to_amqp_headers(headers: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    out: dict[str, Any] = {}
    content_type = None
    for key, value in headers.items():
        if key == "content-type":
            content_type = value
        elif key.startswith("ce-"):
            out[f"cloudEvents_{key[3:]}"] = value
        else:
            out[key] = value
    return out, content_type


def _from_amqp_headers(headers: dict[str, Any] | None, content_type: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        for prefix in _CE_PREFIXES:
            if key.startswith(prefix):
                key = "ce-" + key[len(prefix):]
                break
        out[key.lower()] = str(value)
    if content_type:
        out["content-type"] = content_type
    return out


@register_transport
class RabbitTransport(Transport):
    NAME = "rabbitmq"
    SCHEMES = ("amqp", "amqps")
    PASSTHROUGH_QUERY = True
    # Queue depth counts only ready messages: collect() also asks the runners if busy.
    EXACT_BACKLOG = False
    NAME_PARAMS = {
        "exchange": "topic exchange of the events (default saga.events, or <ns>.saga.events)",
        "queue_prefix": "service queues are <queue_prefix>.<service> (default: the exchange name)",
    }

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config)
        self.conn: Any = None
        self._pub_channel: Any = None
        self._exchange: Any = None
        self._control_exchange: Any = None
        self._channels: list[tuple[Any, int | None]] = []
        self._backlog_channel: Any = None
        self._declared: set[str] = set()
        self._handler_lock = asyncio.Lock()
        self._observer_queue: tuple[Any, str] | None = None
        self._markers = 0
        self._handled = 0
        #: Whether this transport may declare exchanges (``ensure_topology(create=True)``).
        self._may_declare = True

    def names(self) -> dict[str, str]:
        ns = self.config.namespace
        exchange = self.config.names.get("exchange") or (f"{ns}.saga.events" if ns else "saga.events")
        return {
            "exchange": exchange,
            "queue_prefix": self.config.names.get("queue_prefix") or exchange,
            "control": f"{exchange}.control",
        }

    def queue_name(self, group: str) -> str:
        return f"{self.names()['queue_prefix']}.{group}"

    def describe(self) -> str:
        return f"RabbitMQ {self.config.display} exchange {self.names()['exchange']}"

    async def connect(self) -> None:
        require_client("aio_pika", "amqp")
        import aio_pika
        from aiormq.exceptions import AMQPError, ProbableAuthenticationError

        try:
            self.conn = await self._open(aio_pika)
        except ProbableAuthenticationError:
            raise self.unavailable("wrong credentials", "ACCESS_REFUSED",
                                   hint="check user:password in the URL") from None
        except (TimeoutError, OSError, AMQPError) as exc:
            text = str(exc)
            if "Connection.Close" in text or "NOT_ALLOWED" in text or "vhost" in text.lower():
                raise self.unavailable("connection refused by the broker", "unknown vhost or no access",
                                       hint="check the vhost path of the URL") from None
            raise self.unavailable("cannot connect", exc, hint="is rabbitmq-server running?") from None
        try:
            self._pub_channel = await self._bounded(self.conn.channel(publisher_confirms=True), "open channel")
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable("cannot open a channel", exc) from None

    async def _open(self, aio_pika):
        # aio_pika.connect drops a connection that failed to open without closing it; its
        # finalizer later schedules close() on the loop, and a loop closed after that finds
        # the task pending ("coroutine 'Connection.close' was never awaited"). So the
        # connection is made here and closed on any failure.
        conn = aio_pika.Connection(aio_pika.connection.make_url(self.config.client_url))
        try:
            await asyncio.wait_for(conn.connect(timeout=self.config.timeout), self.config.timeout + 1)
        except BaseException:
            await within(conn.close(), 1.0)
            raise
        return conn

    async def close(self) -> None:
        try:
            await self._cancel_tasks()
        finally:  # a cancellation (a second Ctrl-C) is raised after the connection is closed
            if self.conn is not None:
                conn, self.conn = self.conn, None
                await within(conn.close(), 2.0)

    async def ensure_topology(self, create: bool) -> None:
        import aio_pika

        n = self.names()
        self._may_declare = create
        if not create:
            # Their exchange, as they declared it (durable or not): only looked at, never
            # declared again; its control exchange too, if it has one.
            if not await self._exists(n["exchange"]):
                raise BrokerUnavailable(
                    f"rabbitmq at {self.config.display}: exchange {n['exchange']!r} not found",
                    hint="start the services first, pass ?exchange=NAME, or ?create=1 to declare it",
                )
            self._exchange = await self._bounded(self._pub_channel.get_exchange(n["exchange"], ensure=False),
                                                 "get exchange")
            if await self._exists(n["control"]):
                self._control_exchange = await self._bounded(
                    self._pub_channel.get_exchange(n["control"], ensure=False), "get exchange")
            return
        try:
            self._exchange = await self._bounded(
                self._pub_channel.declare_exchange(
                    n["exchange"], aio_pika.ExchangeType.TOPIC, durable=True
                ),
                "declare exchange",
            )
            await self._declare_control()
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable(f"cannot declare exchange {n['exchange']}", exc,
                                   hint="an exchange of that name with another type exists?") from None

    async def _exists(self, exchange: str) -> bool:
        """Whether ``exchange`` exists (a passive declaration, on a channel of its own: a
        failed one closes its channel)."""
        import aio_pika
        from aiormq.exceptions import ChannelNotFoundEntity

        probe = await self._bounded(self.conn.channel(), "open channel")
        try:
            await self._bounded(probe.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, passive=True),
                                "declare exchange")
            return True
        except ChannelNotFoundEntity:
            return False
        finally:
            await within(probe.close(), 1.0)

    async def destroy(self) -> None:
        n = self.names()
        channel = await self._bounded(self.conn.channel(), "open channel")
        try:
            # The queues of spawned participants (declared by their processes) and ours.
            spawned = set(self.config.spawn) - {"auto", "all"}
            for queue in sorted({self.queue_name(s) for s in spawned} | self._declared):
                with contextlib.suppress(Exception):
                    await self._bounded(channel.queue_delete(queue), "queue_delete")
            for name in (n["exchange"], n["control"]):
                with contextlib.suppress(Exception):
                    await self._bounded(channel.exchange_delete(name), "exchange_delete")
        finally:
            await within(channel.close(), 1.0)

    async def publish(self, route: str, body: bytes, headers: dict[str, str]) -> None:
        import aio_pika

        amqp_headers, content_type = _to_amqp_headers(headers)
        message = aio_pika.Message(
            body,
            headers=amqp_headers or None,
            content_type=content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        if self._exchange is None:
            await self.ensure_topology(self.config.create)
        try:
            await self._bounded(self._exchange.publish(message, routing_key=route), "publish")
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable(f"publish to {self.names()['exchange']}/{route} failed", exc) from None

    async def _channel(self, prefetch: int | None = None) -> Any:
        channel = await self._bounded(self.conn.channel(), "open channel")
        if prefetch:
            await self._bounded(channel.set_qos(prefetch_count=prefetch), "set_qos")
        self._channels.append((channel, prefetch))
        return channel

    async def observe(self, handler: Handler, *, from_start: bool = False) -> None:
        # A queue only sees what is published after it is bound: RabbitMQ keeps no
        # history for a new observer, so ``from_start`` cannot replay anything.
        channel = await self._channel(prefetch=256)
        queue = await self._bounded(channel.declare_queue(exclusive=True, auto_delete=True), "declare queue")
        await self._bounded(queue.bind(self.names()["exchange"], routing_key="#"), "bind")
        self._observer_queue = (channel, queue.name)
        self._spawn(self._iterate(queue, handler, observer=True), "rabbit-observer")

    async def _observer_target(self) -> dict[str, tuple[int, int]]:
        # No sequence to read: send a marker through the observer's own (exclusive) queue.
        # A queue is FIFO, so once the marker is handled, so is everything routed before it.
        import aio_pika

        if self._observer_queue is None:
            return {}
        channel, name = self._observer_queue
        self._markers += 1
        marker = aio_pika.Message(b"", headers={_MARKER: self._markers})
        await self._bounded(channel.default_exchange.publish(marker, routing_key=name), "publish marker")
        return {name: (self._markers, 0)}

    async def consume(self, group: str, routes: Iterable[str], handler: Handler) -> None:
        # Prefetch 1: a message is either in the queue (counted) or being handled (the
        # runner reports it busy), never invisible in a client-side buffer.
        channel = await self._channel(prefetch=1)
        queue = await self._bounded(
            channel.declare_queue(self.queue_name(group), durable=True), "declare queue"
        )
        self._declared.add(self.queue_name(group))
        for route in routes:
            await self._bounded(queue.bind(self.names()["exchange"], routing_key=route), "bind")
        self._spawn(self._iterate(queue, handler, observer=False), f"rabbit-consume-{group}")

    async def _iterate(self, queue: Any, handler: Handler, *, observer: bool) -> None:
        async with queue.iterator(no_ack=observer) as messages:
            async for message in messages:
                if observer and message.headers and _MARKER in message.headers:
                    self._mark_observed(queue.name, (int(message.headers[_MARKER]), 0), self._handled)
                    continue
                received = Received(
                    message.body,
                    _from_amqp_headers(message.headers, message.content_type),
                    message.routing_key or "",
                    2 if message.redelivered else 1,
                    ack=message.ack,
                    nak=lambda m=message: m.nack(requeue=True),
                )
                if observer:
                    await handler(received)
                    self._handled += 1
                else:
                    async with self._handler_lock:
                        await handler(received)
        if not self._closed:
            # The iterator ends when the broker closes the channel or connection: say so
            # (a runner exits 69 and its supervisor restarts it) instead of idling forever.
            raise self.unavailable(f"consumer of {queue.name} stopped", "the broker closed the channel")

    async def flush(self) -> None:
        # AMQP handles a channel's frames in order: a synchronous method's reply proves
        # every earlier frame on it (basic.ack included) was processed.
        for channel, prefetch in self._channels:
            with contextlib.suppress(Exception):
                await self._bounded(channel.set_qos(prefetch_count=prefetch or 0), "flush")

    async def backlog(self, group: str, routes: Iterable[str]) -> int | None:
        # One channel kept for these checks (opening one per check cost two more round
        # trips each); a passive declare of a missing queue closes it: opened again then.
        channel = self._backlog_channel
        if channel is None or channel.is_closed:
            channel = self._backlog_channel = await self._bounded(self.conn.channel(), "open channel")
        try:
            queue = await self._bounded(
                channel.declare_queue(self.queue_name(group), passive=True), "declare queue"
            )
            return int(queue.declaration_result.message_count or 0)
        except BrokerUnavailable:
            raise
        except Exception:
            if self._backlog_channel is channel:
                self._backlog_channel = None
            await within(channel.close(), 1.0)
            return None

    async def control_send(self, message: dict[str, Any]) -> None:
        import aio_pika

        if self._control_exchange is None:
            await self._declare_control()
        if self._control_exchange is None:
            return  # no control exchange on their broker: nobody would hear it
        await self._bounded(
            self._control_exchange.publish(aio_pika.Message(json.dumps(message).encode()), routing_key=""),
            "control publish",
        )

    async def _declare_control(self) -> None:
        import aio_pika

        if not self._may_declare and self.config.control != "on":
            return  # declared by whoever runs the services (or ?control=on), never by a watcher
        self._control_exchange = await self._bounded(
            self._pub_channel.declare_exchange(self.names()["control"], aio_pika.ExchangeType.FANOUT),
            "declare control exchange",
        )

    async def control_listen(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if self._control_exchange is None:
            await self._declare_control()
        if self._control_exchange is None:
            return
        channel = await self._channel(prefetch=64)
        queue = await self._bounded(channel.declare_queue(exclusive=True, auto_delete=True), "declare queue")
        await self._bounded(queue.bind(self.names()["control"]), "bind")

        async def loop() -> None:
            async with queue.iterator(no_ack=True) as messages:
                async for message in messages:
                    with contextlib.suppress(ValueError):
                        data = json.loads(message.body)
                        if isinstance(data, dict):
                            await handler(data)

        self._spawn(loop(), "rabbit-control")


class RabbitAdapter(BrokerAdapter):
    """:class:`BrokerAdapter` over RabbitMQ: ``RabbitAdapter("amqp://guest:guest@127.0.0.1:5672/")``."""

    def __init__(self, url: str = "amqp://guest:guest@127.0.0.1:5672/", **options: Any) -> None:
        super().__init__(url, **options)


#: Factory of ``amqp://`` adapter strings (see :mod:`sagaspec.adapters.spec`).
from_spec = adapter_factory(RabbitAdapter)

