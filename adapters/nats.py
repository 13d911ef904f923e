"""NATS JetStream transport and adapter (nats-py).

Topology (defaults; ``ns`` is the optional namespace of a run):

=================  ==========================  =======================================
what               default                     with ``?ns=t1``
=================  ==========================  =======================================
stream             ``SAGA``                    ``SAGA_t1``
event subject      ``saga.<eventType>``        ``t1.saga.<eventType>``
stream subjects    ``saga.>``                  ``t1.saga.>``
service consumer   durable pull ``<service>_<eventType>``, explicit ack, ``ack_wait``
observer           ephemeral ordered push consumer (no ack, steals nothing)
control            core NATS subject ``_sagaspec.<stream>.control`` (not stored)
=================  ==========================  =======================================

Override with ``?stream=ORDERS&subject_prefix=shop.events``. Binary mode puts the
CloudEvents attributes in NATS headers (``ce-id``, ``ce-type``, ...).

nats-server 2.9 has no multi-subject consumer filter, hence one durable consumer per
(service, event type); the runner serialises their handlers. What a consumer fetched is
kept alive (``+WPI``, every ``ack_wait / 4``) until its handler is done with it, so only
a dead consumer's messages are redelivered after ``ack_wait``; a restarted sole consumer
gets them back at once with :meth:`NatsTransport.reclaim` (it NAKs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sagaspec.adapters._bounded_wait import stop_task, within
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

__all__ = ["NatsTransport", "NatsAdapter", "from_spec"]

_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def _token(route: str) -> str:
    return _TOKEN.sub("_", route) or "_"


def _subject_tail(route: str) -> str:
    """``route`` as subject tokens: a service's own dotted subject (``billing.charge.done``)
    keeps its dots; what no subject token may hold (spaces, wildcards, empty) becomes ``_``."""
    return ".".join(_token(part) for part in route.split("."))


def _abort_socket(nc: Any) -> None:
    """Close the client's socket at once, waiting on nothing (no server answer, no
    flush), and stop it connecting again: a connect that missed its cancellation then
    ends on the closed socket instead of dialling anew. For a cut-short connect or close."""
    with contextlib.suppress(Exception):
        nc.options["allow_reconnect"] = False
    transport = getattr(nc, "_transport", None)
    for name in ("_io_writer", "_bare_io_writer"):  # the TLS one, and the TCP one under it
        writer = getattr(transport, name, None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.transport.abort()


def _headers(msg: Any) -> dict[str, str]:
    # Nats-* headers are the server's and the client's bookkeeping, not the event's.
    return {k: v for k, v in (msg.headers or {}).items() if not k.lower().startswith("nats-")}


@register_transport
class NatsTransport(Transport):
    NAME = "nats"
    #: Its consumers keep what they hold alive (``+WPI``): only a dead one's messages wait.
    SPAWN_ACK_WAIT = 0.5
    #: Widest stream-sequence range :meth:`reclaim` NAKs one by one (beyond: ``ack_wait``).
    RECLAIM_SPAN = 10_000
    SCHEMES = ("nats", "tls")
    NAME_PARAMS = {
        "stream": "JetStream stream name (default SAGA, or SAGA_<ns>)",
        "subject_prefix": "events go to <subject_prefix>.<eventType> (default saga, or <ns>.saga)",
    }

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config)
        self.nc: Any = None
        self.js: Any = None
        self._subs: list[Any] = []
        self._errors: list[BaseException] = []
        self._handler_lock = asyncio.Lock()

    # -- names ---------------------------------------------------------------------
    def names(self) -> dict[str, str]:
        ns = self.config.namespace
        stream = self.config.names.get("stream") or (f"SAGA_{ns}" if ns else "SAGA")
        prefix = self.config.names.get("subject_prefix") or (f"{ns}.saga" if ns else "saga")
        return {
            "stream": stream,
            "subject_prefix": prefix,
            "subjects": f"{prefix}.>",
            "control": f"_sagaspec.{stream}.control",
        }

    def subject(self, route: str) -> str:
        return f"{self.names()['subject_prefix']}.{_subject_tail(route)}"

    def describe(self) -> str:
        n = self.names()
        return f"NATS JetStream {self.config.display} stream {n['stream']} subjects {n['subjects']}"

    # -- lifecycle -----------------------------------------------------------------
    async def connect(self) -> None:
        require_client("nats", "nats")
        from nats.aio.client import Client
        from nats.errors import Error as NatsError

        async def on_error(exc: BaseException) -> None:
            self._errors.append(exc)

        nc = Client()
        attempt = asyncio.ensure_future(nc.connect(
            servers=[self.config.client_url],
            connect_timeout=self.config.timeout,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            allow_reconnect=True,
            error_cb=on_error,
            name="sagaspec",
        ))
        try:
            # Not asyncio.wait_for: on its timeout, and on a cancellation (Ctrl-C), it waits
            # for the attempt to end, and the attempt may not (see _bounded_wait).
            await asyncio.wait({attempt}, timeout=self.config.timeout + 1)
            if not attempt.done():
                raise TimeoutError(f"no answer within {self.config.timeout + 1:g}s")
            attempt.result()
        except BaseException as exc:
            # A connect cut short (a server that accepts but never speaks) or failed: its
            # socket is closed here, at once, and the attempt stopped, within a bound.
            _abort_socket(nc)
            with contextlib.suppress(Exception):
                await stop_task(attempt, 1.0)
                await within(nc.close(), 1.0)  # the client's tasks, had it started them
            _abort_socket(nc)
            if not isinstance(exc, (TimeoutError, OSError, NatsError)):
                raise
            cause = self._errors[-1] if self._errors else exc
            # The server refuses the credentials, then resets the retry: any refusal counts.
            refused = any("authorization" in str(e).lower() or "auth" in type(e).__name__.lower()
                          for e in (*self._errors, exc))
            if refused:
                raise self.unavailable("wrong credentials", "authorization violation",
                                       hint="check user:password in the URL") from None
            raise self.unavailable("cannot connect", cause,
                                   hint="is nats-server running with -js?") from None
        self.nc = nc
        # Connected once: from now on a lost connection is retried in the client (its
        # subscriptions are restored), for about config.reconnect seconds.
        self.nc.options["max_reconnect_attempts"] = max(1, int(self.config.reconnect / 0.5))
        self.nc.options["reconnect_time_wait"] = 0.5
        self.js = self.nc.jetstream(timeout=self.config.timeout)

    async def close(self) -> None:
        # Bounded for real (asyncio.wait_for waits for a close it timed out to end, and
        # nats-py's close may not): what did not finish in time is cut by closing the socket.
        # A cancellation meanwhile (a second Ctrl-C) is raised after the socket is closed.
        try:
            await self._cancel_tasks()
            for sub in self._subs:
                await within(sub.unsubscribe(), 1.0)
            if self.nc is not None:
                await within(self.nc.close(), 2.0)
        finally:
            self._subs.clear()
            if self.nc is not None:
                _abort_socket(self.nc)
                self.nc = None

    async def ensure_topology(self, create: bool) -> None:
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError, ServiceUnavailableError

        n = self.names()
        try:
            info = await self._bounded(self.js.stream_info(n["stream"]), "stream_info")
            subjects = set(info.config.subjects or ())
            if n["subjects"] not in subjects and not any(
                s.endswith(".>") and n["subjects"].startswith(s[:-1]) for s in subjects
            ):
                raise BrokerUnavailable(
                    f"nats at {self.config.display}: stream {n['stream']} does not capture "
                    f"{n['subjects']} (its subjects: {', '.join(sorted(subjects))})",
                    hint="set ?subject_prefix= to match the stream",
                )
        except NotFoundError:
            if not create:
                raise BrokerUnavailable(
                    f"nats at {self.config.display}: JetStream stream {n['stream']!r} not found",
                    hint="start the services first, pass ?stream=NAME, or ?create=1 to declare it",
                ) from None
            try:
                await self._bounded(
                    self.js.add_stream(
                        StreamConfig(
                            name=n["stream"], subjects=[n["subjects"]], storage=StorageType.FILE
                        )
                    ),
                    "add_stream",
                )
            except BrokerUnavailable:
                raise
            except Exception as exc:
                # Another runner may have created it at the same moment.
                with contextlib.suppress(NotFoundError):
                    await self._bounded(self.js.stream_info(n["stream"]), "stream_info")
                    return
                raise self.unavailable(f"cannot create stream {n['stream']}", exc) from None
        except ServiceUnavailableError:
            raise BrokerUnavailable(
                f"nats at {self.config.display}: JetStream is not enabled",
                hint="start nats-server with -js",
            ) from None
        except BrokerUnavailable:
            raise
        except Exception as exc:
            if "no responders" in str(exc).lower():
                raise BrokerUnavailable(
                    f"nats at {self.config.display}: JetStream is not enabled",
                    hint="start nats-server with -js",
                ) from None
            raise self.unavailable("stream check failed", exc) from None

    async def destroy(self) -> None:
        with contextlib.suppress(Exception):
            await self._bounded(self.js.delete_stream(self.names()["stream"]), "delete_stream")

    # -- messaging -----------------------------------------------------------------
    async def publish(self, route: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            await self._bounded(
                self.js.publish(self.subject(route), body, headers=headers or None,
                                stream=self.names()["stream"]),
                "publish",
            )
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable(f"publish to {self.subject(route)} failed", exc) from None

    async def observe(self, handler: Handler, *, from_start: bool = False) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        n = self.names()
        prefix_len = len(n["subject_prefix"]) + 1

        async def on_msg(msg: Any) -> None:
            await handler(Received(msg.data, _headers(msg), msg.subject[prefix_len:]))
            with contextlib.suppress(Exception):  # no metadata: not a JetStream delivery
                seq = int(msg.metadata.sequence.stream)
                self._mark_observed(n["stream"], (seq, 0), seq)

        if from_start:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        else:
            # Start right after the newest message now, and count it as seen: "new" is
            # then an exact sequence, so the stop handshake knows where the observer began.
            head = (await self._observer_target()).get(n["stream"], (0, 0))[0]
            self._mark_observed(n["stream"], (head, 0), head)
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=head + 1)
        try:
            sub = await self._bounded(
                # Heartbeats each second: a stalled ordered consumer (its server restarted) is
                # noticed after two missed ones and recreated; the client's default of 5 s
                # kept the observer blind for 10-20 s after a broker restart.
                self.js.subscribe(
                    n["subjects"], stream=n["stream"], ordered_consumer=True, cb=on_msg, config=config,
                    idle_heartbeat=1.0,
                ),
                "observer subscribe",
            )
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable("cannot create observer consumer", exc) from None
        self._subs.append(sub)

    async def _observer_target(self) -> dict[str, tuple[int, int]]:
        # The newest message on the observed subjects (the stream may hold others too).
        from nats.js.errors import NotFoundError

        n = self.names()
        try:
            last = await self._bounded(self.js.get_last_msg(n["stream"], n["subjects"]), "get_last_msg")
        except NotFoundError:
            return {}
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise self.unavailable("cannot read the stream's last sequence", exc) from None
        return {n["stream"]: (int(last.seq), 0)}

    def durable(self, group: str, route: str) -> str:
        return f"{_token(group)}_{_token(route)}"

    async def consume(self, group: str, routes: Iterable[str], handler: Handler) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        n = self.names()
        for route in routes:
            config = ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.config.ack_wait or 30.0,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=-1,
                max_ack_pending=1000,
            )
            try:
                sub = await self._bounded(
                    self.js.pull_subscribe(
                        self.subject(route), durable=self.durable(group, route),
                        stream=n["stream"], config=config,
                    ),
                    "pull_subscribe",
                )
            except BrokerUnavailable:
                raise
            except Exception as exc:
                raise self.unavailable(f"cannot create consumer {self.durable(group, route)}", exc) from None
            self._subs.append(sub)
            self._spawn(self._pull_loop(sub, route, handler), f"nats-pull-{group}-{route}")

    async def reclaim(self, group: str, routes: Iterable[str]) -> int:
        """NAK (``-NAK``: redeliver now) what each of ``group``'s durables holds unacknowledged.

        JetStream does not redeliver a dead consumer's messages before ``ack_wait``, and
        only their ack subjects can hand them back; the consumer's info gives their range:
        above its ack floor, up to the last delivered stream sequence. A NAK is published
        to the ack subject (``$JS.ACK.<stream>.<durable>.<delivered>.<stream seq>.<consumer
        seq>.<ts>.<pending>``) of every stream sequence in that range; the server ignores
        one naming a message the durable does not hold (another subject's, or acked).
        A range wider than ``RECLAIM_SPAN`` is left to ``ack_wait``.
        """
        from nats.js.errors import NotFoundError

        stream = self.names()["stream"]
        held = 0
        for route in routes:
            durable = self.durable(group, route)
            try:
                info = await self._bounded(self.js.consumer_info(stream, durable), "consumer_info")
            except NotFoundError:
                continue  # a new durable holds nothing
            pending = int(info.num_ack_pending or 0)
            low, high = int(info.ack_floor.stream_seq or 0), int(info.delivered.stream_seq or 0)
            if not pending or high - low > self.RECLAIM_SPAN:
                continue
            held += pending
            consumer_seq = int(info.delivered.consumer_seq or 0)
            for seq in range(low + 1, high + 1):
                await self.nc.publish(f"$JS.ACK.{stream}.{durable}.1.{seq}.{consumer_seq}.0.0", b"-NAK")
        if held:
            await self._flush()
        return held

    async def _pull_loop(self, sub: Any, route: str, handler: Handler) -> None:
        from nats.errors import Error as NatsError
        from nats.errors import TimeoutError as NatsTimeout

        outage: dict[str, float] = {}
        what = f"fetch {self.subject(route)}"
        while True:
            try:
                msgs = await sub.fetch(8, timeout=1.0)
            except (TimeoutError, NatsTimeout):
                if not self.nc.is_connected:
                    await self._ride_out(outage, ConnectionError("disconnected"), what)
                continue
            except (NatsError, OSError) as exc:
                await self._ride_out(outage, exc, what)
                continue
            self._recovered(outage, what)
            # The batch is kept alive while it waits for or is in its handler, so a short
            # ack_wait redelivers only what a dead consumer held.
            waiting = list(msgs)
            beat = asyncio.ensure_future(self._in_progress(waiting))
            try:
                for msg in msgs:
                    try:
                        deliveries = msg.metadata.num_delivered
                    except Exception:
                        deliveries = 1
                    received = Received(
                        msg.data, _headers(msg), route, deliveries,
                        ack=msg.ack, nak=msg.nak,
                    )
                    async with self._handler_lock:
                        await handler(received)
                    waiting.remove(msg)
            finally:
                beat.cancel()

    async def _in_progress(self, waiting: list[Any]) -> None:
        """Tell the server every ``ack_wait / 4`` that ``waiting`` is still being worked on
        (JetStream's ``+WPI``: its redelivery timer starts again)."""
        every = max(0.02, (self.config.ack_wait or 30.0) / 4)
        while waiting:
            await asyncio.sleep(every)
            for msg in list(waiting):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _flush(self) -> None:
        """``nc.flush()`` bounded by ``config.timeout``, without cancelling its PING.

        nats-py cancels the PING's future when ``flush`` times out, and a PONG arriving
        after that raises ``InvalidStateError`` in the client's read loop, which then
        dies silently (seen when the server is paused). The flush runs shielded with a
        long inner timeout; only the wait for it is bounded.
        """
        task = asyncio.ensure_future(self.nc.flush(timeout=120))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        await self._bounded(asyncio.shield(task), "flush")

    async def flush(self) -> None:
        # A PING/PONG round trip: every acknowledgement buffered before it reached the server.
        with contextlib.suppress(Exception):
            await self._flush()

    async def backlog(self, group: str, routes: Iterable[str]) -> int | None:
        from nats.js.errors import NotFoundError

        total = 0
        for route in routes:
            try:
                info = await self._bounded(
                    self.js.consumer_info(self.names()["stream"], self.durable(group, route)),
                    "consumer_info",
                )
            except NotFoundError:
                continue
            total += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return total

    async def control_send(self, message: dict[str, Any]) -> None:
        await self._bounded(
            self.nc.publish(self.names()["control"], json.dumps(message).encode()), "control publish"
        )
        await self._flush()

    async def control_listen(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        async def on_msg(msg: Any) -> None:
            with contextlib.suppress(ValueError):
                data = json.loads(msg.data)
                if isinstance(data, dict):
                    await handler(data)

        sub = await self._bounded(self.nc.subscribe(self.names()["control"], cb=on_msg), "subscribe")
        self._subs.append(sub)
        await self._flush()


class NatsAdapter(BrokerAdapter):
    """:class:`BrokerAdapter` over NATS JetStream: ``NatsAdapter("nats://127.0.0.1:4222")``."""

    def __init__(self, url: str = "nats://127.0.0.1:4222", **options: Any) -> None:
        super().__init__(url, **options)


#: Factory of ``nats://`` adapter strings (see :mod:`sagaspec.adapters.spec`).
from_spec = adapter_factory(NatsAdapter)
