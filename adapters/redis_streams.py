"""Redis Streams transport and adapter (redis.asyncio).

Topology (defaults; ``ns`` is the optional namespace of a run):

=================  ==============================  =====================================
what               default                         with ``?ns=t1``
=================  ==============================  =====================================
stream             ``saga:events`` (one stream)    ``t1:saga:events``
per-type streams   ``?streams=per-type``: ``<stream>:<eventType>``
service consumer   consumer group ``<service>``, consumer ``<service>-<n>``; XACK after the
                   handler; a restarted consumer first re-reads its own pending entries,
                   and entries idle longer than ``ack_wait`` are XAUTOCLAIMed
observer           plain ``XREAD`` from the current end (no group: steals nothing)
control            pub/sub channel ``<stream>:control``
=================  ==============================  =====================================

Entry fields: ``route`` (the event type, so consumers of the single stream filter
without decoding; ``?route_field=`` names a service's own), ``data`` (the body;
``?data_field=``) and, in structured mode,
``content-type: application/cloudevents+json``; binary mode adds one ``ce_<attribute>``
field per CloudEvents attribute (the Kafka-binding spelling). Other query parameters
(``?protocol=3``, ...) are passed to redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
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

__all__ = ["RedisTransport", "RedisAdapter", "from_spec"]

_BLOCK_MS = 1000


def _entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id ``"<milliseconds>-<sequence>"`` as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _fields_from_headers(route: str, body: bytes, headers: dict[str, str], route_field: str = "route",
                         data_field: str = "data") -> dict[str, Any]:
    fields: dict[str, Any] = {route_field: route}
    for key, value in headers.items():
        fields[f"ce_{key[3:]}" if key.startswith("ce-") else key] = value
    fields[data_field] = body
    return fields


def _headers_from_fields(fields: dict[bytes, bytes], route_field: str = "route",
                         data_field: str = "data") -> tuple[str, bytes, dict[str, str]]:
    route = ""
    body = b""
    headers: dict[str, str] = {}
    for raw_key, value in fields.items():
        key = raw_key.decode(errors="replace")
        if key == data_field:
            body = value
        elif key == route_field:
            route = value.decode(errors="replace")
        elif key.startswith("ce_"):
            headers[f"ce-{key[3:]}"] = value.decode(errors="replace")
        else:
            headers[key.lower()] = value.decode(errors="replace")
    return route, body, headers


@register_transport
class RedisTransport(Transport):
    NAME = "redis"
    SCHEMES = ("redis", "rediss")
    PASSTHROUGH_QUERY = True
    NAME_PARAMS = {
        "stream": "stream key (default saga:events, or <ns>:saga:events)",
        "streams": "single (default: one stream) or per-type (<stream>:<eventType>)",
        "consumer": "consumer name suffix within a service's group (default 1)",
        "route_field": "entry field holding the route / event type (default route)",
        "data_field": "entry field holding the message body (default data)",
    }

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config)
        self.client: Any = None
        self._pubsubs: list[Any] = []
        self._handler_lock = asyncio.Lock()
        per = config.names.get("streams", "single")
        if per not in ("single", "per-type"):
            from sagaspec.errors import UsageError

            raise UsageError(f"bad value {per!r} for 'streams' in adapter URL {config.display}: "
                             "expected single or per-type")
        self.per_type = per == "per-type"
        # A service's own entry layout (e.g. {"event": TYPE, "payload": JSON}).
        self._entry = (config.names.get("route_field") or "route", config.names.get("data_field") or "data")

    def names(self) -> dict[str, str]:
        ns = self.config.namespace
        stream = self.config.names.get("stream") or (f"{ns}:saga:events" if ns else "saga:events")
        return {"stream": stream, "control": f"{stream}:control"}

    def stream_for(self, route: str) -> str:
        base = self.names()["stream"]
        return f"{base}:{route}" if self.per_type else base

    def _all_streams(self) -> list[str]:
        from sagaspec.spec.events import EVENT_TYPES

        if self.per_type:
            return [self.stream_for(t) for t in EVENT_TYPES]
        return [self.names()["stream"]]

    def describe(self) -> str:
        kind = "per-type streams" if self.per_type else "stream"
        return f"Redis {self.config.display} {kind} {self.names()['stream']}"

    async def connect(self) -> None:
        require_client("redis", "redis")
        import redis.asyncio as aredis
        from redis.exceptions import AuthenticationError, RedisError, ResponseError

        try:
            self.client = aredis.Redis.from_url(
                self.config.client_url,
                socket_connect_timeout=self.config.timeout,
                socket_timeout=None,
                health_check_interval=0,
            )
            await asyncio.wait_for(self.client.ping(), self.config.timeout + 1)
        except AuthenticationError as exc:
            await self._drop_client()
            raise self.unavailable("wrong credentials", exc, hint="check user:password in the URL") from None
        except ResponseError as exc:
            await self._drop_client()
            if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
                raise self.unavailable("wrong credentials", exc, hint="check user:password in the URL") from None
            raise self.unavailable("cannot connect", exc) from None
        except (TimeoutError, OSError, RedisError, ValueError) as exc:
            await self._drop_client()
            raise self.unavailable("cannot connect", exc or "timed out", hint="is redis-server running?") from None

    async def _drop_client(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await within(client.aclose(), 1.0)

    async def close(self) -> None:
        try:
            await self._cancel_tasks()
            for ps in self._pubsubs:
                await within(ps.aclose(), 1.0)
        finally:  # a cancellation (a second Ctrl-C) is raised after the rest is closed
            self._pubsubs.clear()
            await self._drop_client()

    async def ensure_topology(self, create: bool) -> None:
        streams = self._all_streams()
        try:
            exists = [bool(await self._bounded(self.client.exists(s), "EXISTS")) for s in streams]
            missing = [s for s, ok in zip(streams, exists, strict=True) if not ok]
            if missing and not create:
                raise BrokerUnavailable(
                    f"redis at {self.config.display}: stream {missing[0]!r} not found",
                    hint="start the services first, pass ?stream=KEY, or ?create=1 to create it",
                )
            for s in missing:
                # An empty stream can only be made through a group; drop the group again.
                with contextlib.suppress(Exception):
                    await self._bounded(self.client.xgroup_create(s, "_sagaspec_init", "$", mkstream=True), "XGROUP")
                    await self._bounded(self.client.xgroup_destroy(s, "_sagaspec_init"), "XGROUP")
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable("stream check failed", exc) from None

    async def destroy(self) -> None:
        stream = self.names()["stream"]
        keys = [stream]
        with contextlib.suppress(Exception):
            async for key in self.client.scan_iter(match=f"{stream}:*", count=500):
                keys.append(key)
        with contextlib.suppress(Exception):
            await self._bounded(self.client.delete(*keys), "DEL")

    async def publish(self, route: str, body: bytes, headers: dict[str, str]) -> None:
        fields = _fields_from_headers(route, body, headers, *self._entry)
        try:
            await self._bounded(self.client.xadd(self.stream_for(route), fields), "XADD")
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable(f"XADD to {self.stream_for(route)} failed", exc) from None

    async def observe(self, handler: Handler, *, from_start: bool = False) -> None:
        positions: dict[str, str] = {}
        for s in self._all_streams():
            positions[s] = "0-0"
            if not from_start:
                with contextlib.suppress(Exception):
                    info = await self._bounded(self.client.xinfo_stream(s), "XINFO")
                    last = info.get("last-generated-id") or info.get(b"last-generated-id")
                    positions[s] = last.decode() if isinstance(last, bytes) else str(last or "0-0")
                # What the observer skips counts as seen (see sync_observer).
                self._mark_observed(s, _entry_key(positions[s]), positions[s])
        self._spawn(self._observe_loop(positions, handler), "redis-observer")

    async def _observer_target(self) -> dict[str, tuple[int, int]]:
        target: dict[str, tuple[int, int]] = {}
        for s in self._all_streams():
            last = await self._bounded(self.client.xrevrange(s, count=1), "XREVRANGE")
            if last:
                entry_id = last[0][0]
                target[s] = _entry_key(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
        return target

    async def _observe_loop(self, positions: dict[str, str], handler: Handler) -> None:
        outage: dict[str, float] = {}
        while True:
            try:
                reply = await asyncio.wait_for(
                    self.client.xread(positions, count=256, block=_BLOCK_MS),
                    _BLOCK_MS / 1000 + self.config.timeout,
                )
            except (ConnectionError, TimeoutError, OSError, _redis_error()) as exc:
                await self._ride_out(outage, exc, "XREAD (observer)")
                continue  # from the last position seen: nothing is skipped
            self._recovered(outage, "XREAD (observer)")
            entries: list[tuple[str, str, dict[bytes, bytes]]] = []
            for stream, items in reply or ():
                stream = stream.decode() if isinstance(stream, bytes) else stream
                for entry_id, fields in items:
                    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    positions[stream] = entry_id
                    entries.append((entry_id, stream, fields))
            # Merge several streams by entry id (millisecond time, then sequence).
            entries.sort(key=lambda e: _entry_key(e[0]))
            for entry_id, stream, fields in entries:
                route, body, headers = _headers_from_fields(fields, *self._entry)
                await handler(Received(body, headers, route))
                self._mark_observed(stream, _entry_key(entry_id), entry_id)

    def consumer_name(self, group: str) -> str:
        return f"{group}-{self.config.names.get('consumer', '1')}"

    async def consume(self, group: str, routes: Iterable[str], handler: Handler) -> None:
        routes = list(routes)
        streams = sorted({self.stream_for(r) for r in routes})
        for s in streams:
            try:
                await self._bounded(self.client.xgroup_create(s, group, "0", mkstream=True), "XGROUP CREATE")
            except BrokerUnavailable:
                raise
            except Exception as exc:
                if "BUSYGROUP" not in str(exc):
                    raise self.unavailable(f"cannot create group {group} on {s}", exc) from None
        self._spawn(self._consume_loop(group, streams, set(routes), handler), f"redis-consume-{group}")

    async def _consume_loop(self, group: str, streams: list[str], routes: set[str], handler: Handler) -> None:
        consumer = self.consumer_name(group)
        # First this consumer's own pending entries (delivered before a crash, never
        # acknowledged), read from its pending list by id; then new entries with ">".
        pending = {s: "0-0" for s in streams}
        last_claim = time.monotonic()
        outage: dict[str, float] = {}
        while True:
            try:
                pending, last_claim = await self._consume_round(
                    group, consumer, streams, routes, handler, pending, last_claim)
            except _HandlerFailed as failed:
                raise failed.__cause__ from None  # the service's own verdict, not an outage
            except (ConnectionError, TimeoutError, OSError, BrokerUnavailable, _redis_error()) as exc:
                await self._ride_out(outage, exc, f"XREADGROUP {group}")
                # Back on a new connection: re-read this consumer's pending entries first.
                pending = {s: "0-0" for s in streams}
                continue
            self._recovered(outage, f"XREADGROUP {group}")

    async def _consume_round(self, group: str, consumer: str, streams: list[str], routes: set[str],
                             handler: Handler, pending: dict[str, str],
                             last_claim: float) -> tuple[dict[str, str], float]:
        if pending:
            reply = await self._bounded(
                self.client.xreadgroup(group, consumer, dict(pending), count=16), "XREADGROUP"
            )
            advanced: set[str] = set()
            for stream, items in reply or ():
                stream = stream.decode() if isinstance(stream, bytes) else stream
                for entry_id, fields in items:
                    advanced.add(stream)
                    pending[stream] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    await self._dispatch(group, stream, entry_id, fields, routes, handler, redelivered=True)
            return {s: p for s, p in pending.items() if s in advanced}, last_claim
        reply = await asyncio.wait_for(
            self.client.xreadgroup(group, consumer, {s: ">" for s in streams}, count=16, block=_BLOCK_MS),
            _BLOCK_MS / 1000 + self.config.timeout,
        )
        for stream, items in reply or ():
            stream = stream.decode() if isinstance(stream, bytes) else stream
            for entry_id, fields in items:
                await self._dispatch(group, stream, entry_id, fields, routes, handler, redelivered=False)
        now = time.monotonic()
        if now - last_claim > max(0.5, (self.config.ack_wait or 30.0) / 2):
            last_claim = now
            await self._claim_stale(group, consumer, streams, routes, handler)
        return pending, last_claim

    async def _claim_stale(self, group: str, consumer: str, streams: list[str], routes: set[str],
                           handler: Handler) -> None:
        idle_ms = int((self.config.ack_wait or 30.0) * 1000)
        for s in streams:
            with contextlib.suppress(Exception):
                reply = await self._bounded(
                    self.client.xautoclaim(s, group, consumer, idle_ms, start_id="0-0", count=64),
                    "XAUTOCLAIM",
                )
                for entry_id, fields in (reply[1] if reply else ()):
                    if fields:
                        await self._dispatch(group, s, entry_id, fields, routes, handler, redelivered=True)

    async def _dispatch(self, group: str, stream: str, entry_id: Any, fields: dict[bytes, bytes] | None,
                        routes: set[str], handler: Handler, *, redelivered: bool) -> None:
        client = self.client

        async def ack() -> None:
            await self._bounded(client.xack(stream, group, entry_id), "XACK")

        if not fields:  # trimmed away while pending: nothing left to handle
            await ack()
            return
        route, body, headers = _headers_from_fields(fields, *self._entry)
        if not self.per_type and route not in routes:
            await ack()
            return
        received = Received(body, headers, route, 2 if redelivered else 1, ack=ack, nak=_nak)
        async with self._handler_lock:
            try:
                await handler(received)
            except Exception as exc:
                raise _HandlerFailed() from exc

    async def backlog(self, group: str, routes: Iterable[str]) -> int | None:
        total = 0
        for s in sorted({self.stream_for(r) for r in routes}):
            try:
                groups = await self._bounded(self.client.xinfo_groups(s), "XINFO GROUPS")
            except BrokerUnavailable:
                raise
            except Exception:
                continue
            for g in groups:
                name = g.get("name") or g.get(b"name")
                name = name.decode() if isinstance(name, bytes) else name
                if name == group:
                    total += int(g.get("pending") or 0) + int(g.get("lag") or 0)
        return total

    async def control_send(self, message: dict[str, Any]) -> None:
        try:
            await self._bounded(self.client.publish(self.names()["control"], json.dumps(message)),
                                "PUBLISH")
        except BrokerUnavailable:
            raise
        except Exception as exc:  # connection lost: the caller's retry decides
            raise self.unavailable("control PUBLISH failed", exc) from None

    async def control_listen(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        ps = self.client.pubsub(ignore_subscribe_messages=True)
        self._pubsubs.append(ps)
        await self._bounded(ps.subscribe(self.names()["control"]), "SUBSCRIBE")

        async def loop() -> None:
            outage: dict[str, float] = {}
            while True:
                try:
                    # The client reconnects and subscribes again on the next call.
                    msg = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except (ConnectionError, TimeoutError, OSError, _redis_error()) as exc:
                    await self._ride_out(outage, exc, "control SUBSCRIBE")
                    continue
                self._recovered(outage, "control SUBSCRIBE")
                if not msg or msg.get("type") != "message":
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(msg["data"])
                    if isinstance(data, dict):
                        await handler(data)

        self._spawn(loop(), "redis-control")


class _HandlerFailed(Exception):
    """The consumer's handler raised (its ``__cause__``): not a connection problem."""


def _redis_error() -> type[Exception]:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return RedisConnectionError


async def _nak() -> None:
    # Redis has no negative ack: an entry stays pending and is reclaimed after ack_wait.
    return None


class RedisAdapter(BrokerAdapter):
    """:class:`BrokerAdapter` over Redis Streams: ``RedisAdapter("redis://127.0.0.1:6379/0")``."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **options: Any) -> None:
        super().__init__(url, **options)


#: Factory of ``redis://`` adapter strings (see :mod:`sagaspec.adapters.spec`).
from_spec = adapter_factory(RedisAdapter)
