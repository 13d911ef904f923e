"""Run one reference service as a real OS process on a broker.

::

    python -m sagaspec.examples.runner --service payment --broker nats://127.0.0.1:4222
    python -m sagaspec.examples.runner --service order --broker amqp://guest:guest@127.0.0.1:5672/ \\
        --db postgresql://postgres@127.0.0.1:5432/test
    python -m sagaspec.examples.runner --service inventory --broker redis://127.0.0.1:6379/0 \\
        --db ./state/inventory.db --mutant no-idempotency

The process consumes the service's event types from its own durable consumer (NATS
durable pull consumer, RabbitMQ durable queue, Redis consumer group) and, for each
message, in this order:

1. ``service.handle(message)``: ONE store transaction records the ``eventId``, changes
   the state and queues the outgoing events in the outbox (or dead-letters garbage);
2. ``service.relay(publish)``: publishes the outbox with broker confirmation, then marks
   the rows sent;
3. acknowledges the message.

A kill between any two steps loses nothing: before 1 commits, the broker redelivers and
the work is redone; after 1 and before 3, the redelivery is a ``duplicate`` and the
outbox (relayed at start-up too) still holds what was not yet sent; between publishing
and marking sent, the same events (same ``eventId``) go out again and consumers
deduplicate them.

State lives in PostgreSQL (``--db postgresql://...``, schema ``sagaspec_<ns>_<service>``)
or, by default, in an SQLite file (``--db PATH``, default
``.sagaspec/state/<ns>/<service>.db``).

The runner also answers the control channel the broker adapter documents (ping, status,
world set-up, ``place_order``/``start`` by the participant that starts sagas, ``inspect``
of state keys, ``variables``: a spec participant's variables per saga and shared): this is how the broker adapter, the fault runner and the soak test drive
the reference services. Once consuming, it says so there unasked (``ready``, with the
event types it consumes), so whoever waits for it need not ask again.

Failures are told apart (:mod:`sagaspec.examples.retry`). A *transient* one (lost
database connection, lock timeout, serialisation failure, broker timeout) keeps the
message unacknowledged and retries it with exponential backoff and jitter for at most
``--retry-budget`` seconds; the stores reconnect by themselves. After the budget the
runner exits 69 *without* acknowledging, and the broker redelivers the message to its
next life. Any other failure is tried once more; if it repeats, the service raised on
this message (a bug, e.g. a mutant): it reports ``consumer crashed: ...`` on the control
channel, dead-letters the poison message (one log line naming its eventId, type and
reason), acknowledges it and exits with status 70, as a crashing consumer would; its
supervisor restarts it. A valid event is never acknowledged unprocessed.

Exit status: 0 after SIGTERM/SIGINT, 2 usage error, 69 broker or database unavailable,
70 the service raised, 75 killed at an armed ``--crash-at`` point.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sagaspec.adapters.broker import (
    ORIGIN_HEADER,
    BrokerConfig,
    Received,
    decode_message,
    encode_event,
    open_transport,
)
from sagaspec.examples.retry import Backoff, describe, is_transient

from sagaspec.errors import BrokerUnavailable, SagaspecError, UsageError

__all__ = [
    "ServiceRunner",
    "open_store",
    "subscriptions",
    "main",
    "EXIT_UNAVAILABLE",
    "EXIT_CONSUMER_BUG",
    "EXIT_CRASH_POINT",
]

#: Hand-written mutants whose operator mutants make their bug only within one process
#: (they remember what a handler did, and what it sent before its commit, over an
#: in-process restart; a killed process forgets both): a runner runs these hand-written.
HAND_WRITTEN_IN_PROCESSES = frozenset({"volatile-idempotency", "publish-before-commit"})

#: Store key of the per-key starts the world set up (what a restarted process judges by).
_SHARED_START = "runner:shared-start"
#: Store key of the world's knob values and data the last setup gave (the interpreter keeps
#: them in memory: a restarted process is configured with them again).
_WORLD = "runner:world"

EXIT_UNAVAILABLE = 69
EXIT_CONSUMER_BUG = 70
EXIT_CRASH_POINT = 75

log = logging.getLogger("sagaspec.runner")


def subscriptions(service: str, design: str = "corrected", mutant: str | None = None,
                  engine: str = "interpreter") -> tuple[str, ...]:
    """The event types ``service`` consumes (a mutant may subscribe to fewer).

    >>> subscriptions("payment")
    ('OrderCancelled', 'OrderCreated')
    >>> subscriptions("inventory", mutant="no-release-after-payment-failure")
    ('OrderCreated',)
    """
    from sagaspec.examples.system import operator_mutant, service_classes
    from sagaspec.spec.sagafile import resolve_spec

    if engine == "hand-written":
        classes = service_classes(design, mutant)
        if service not in classes:
            raise UsageError(f"unknown service {service!r}; expected one of {', '.join(classes)}")
        return tuple(sorted(classes[service].subscribes))
    spec = resolve_spec(design)
    if mutant:
        spec = operator_mutant(spec, mutant).spec
    names = [p.name for p in spec.participants]
    if service not in names:
        raise UsageError(f"unknown service {service!r}; expected one of {', '.join(names)}")
    return tuple(sorted(spec.participant(service).subscribes))


def open_store(db: str | None, service: str, namespace: str = "", state_dir: str | None = None,
               lock_timeout: float = 5.0) -> Any:
    """The store of ``service``: PostgreSQL for a ``postgresql://`` URL, else SQLite.

    ``db`` may be a ``.db`` file, a directory (``<dir>/<service>.db``) or ``None``
    (``<state_dir or .sagaspec/state>/<namespace or default>/<service>.db``).
    """
    from sagaspec.examples.pgstore import PostgresStore, is_postgres_url
    from sagaspec.examples.store import SQLiteStore

    if is_postgres_url(db):
        return PostgresStore(db, PostgresStore.schema_name(service, namespace))
    if db is None:
        base = Path(state_dir or ".sagaspec/state") / (namespace or "default")
        path = base / f"{service}.db"
    else:
        path = Path(db)
        if path.is_dir() or db.endswith(("/", os.sep)):
            path = path / f"{service}.db"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(str(path), timeout=lock_timeout)
    except Exception as exc:
        raise BrokerUnavailable(f"sqlite database {path}: cannot open: {exc}") from None


class ServiceRunner:
    """One reference service consuming from a broker (see the module docstring)."""

    def __init__(
        self,
        service: str,
        broker: str | BrokerConfig,
        *,
        db: str | None = None,
        design: str = "corrected",
        mutant: str | None = None,
        crash_at: str | None = None,
        state_dir: str | None = None,
        keep_going: bool = False,
        backoff: Backoff | None = None,
        lock_timeout: float = 5.0,
        spec: str | None = None,
        engine: str = "interpreter",
        reclaim: bool = False,
    ) -> None:
        from sagaspec.examples.service import CRASH_POINTS
        from sagaspec.examples.system import ENGINES, operator_mutant

        if engine not in ENGINES:
            raise UsageError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        if spec is None and mutant in HAND_WRITTEN_IN_PROCESSES:
            engine = "hand-written"
        if spec is None and engine == "interpreter":
            spec = design  # the design's spec (order-corrected, order-seed)
        #: A saga spec file (or shipped name) whose participant this runner interprets
        #: (:class:`~sagaspec.examples.interpreter.SpecService`); None: the hand-written services.
        self.spec = None
        #: The operator mutant it runs (a hand-written mutant's name resolves to its own).
        self.spec_mutant = None
        if spec is not None:
            from sagaspec.spec.sagafile import resolve_spec

            self.spec = resolve_spec(spec)
            names = [p.name for p in self.spec.participants]
            if service not in names:
                raise UsageError(f"unknown service {service!r} in spec {self.spec.name!r}; "
                                 f"expected one of {', '.join(names)}")
            if mutant:
                self.spec_mutant = operator_mutant(self.spec, mutant)
        if crash_at is not None and crash_at not in CRASH_POINTS:
            raise UsageError(f"unknown crash point {crash_at!r}; expected one of {', '.join(CRASH_POINTS)}")
        self.name = service
        self.config = broker if isinstance(broker, BrokerConfig) else BrokerConfig.from_url(broker)
        self.db = db
        self.design = design
        self.mutant = mutant or None
        self.crash_at = crash_at
        self.state_dir = state_dir
        self.keep_going = keep_going
        #: Before consuming, have the broker redeliver at once what a dead previous process
        #: left unacknowledged (``Transport.reclaim``): only for the service's sole process.
        self.reclaim = reclaim
        #: How many messages that handed back at start-up.
        self.reclaimed = 0
        #: How transient failures are retried (see :mod:`sagaspec.examples.retry`).
        self.backoff = backoff or Backoff()
        self.lock_timeout = lock_timeout
        self.retries = 0
        self._outbox_dirty = False
        runs = self.spec_mutant.spec if self.spec_mutant is not None else self.spec
        self.routes = (tuple(sorted(runs.participant(service).subscribes)) if runs is not None
                       else subscriptions(service, design, self.mutant, engine))
        self.transport = open_transport(self.config)
        self.service: Any = None
        self.busy = 0
        self.handled = 0
        self.published = 0
        #: Cumulative seconds spent per pipeline stage (reported by the ``status`` op).
        self.timings = {"handle": 0.0, "relay": 0.0, "ack": 0.0}
        self._loop: asyncio.AbstractEventLoop | None = None
        # One thread owns the store: handlers, relays and control commands serialise.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{service}")

    # -- start / stop ------------------------------------------------------------------
    async def start(self) -> None:
        from sagaspec.examples.system import make_service

        self._loop = asyncio.get_running_loop()
        await self.transport.connect()
        await self.transport.ensure_topology(create=True)
        store = await self._in_store(open_store, self.db, self.name, self.config.namespace,
                                     self.state_dir, self.lock_timeout)
        if self.spec is not None:
            from sagaspec.examples.system import spec_service

            self.service = spec_service(self.spec, self.name, self.spec_mutant, store, self._publish_sync)
            world = await self._in_store(self._saved_world)
            if world:
                await self._in_store(self.service.configure, world)
        else:
            self.service = make_service(self.name, design=self.design, mutant=self.mutant, store=store,
                                        publisher=self._publish_sync)
        if self.crash_at:
            self.service.arm_crash(self.crash_at)
        # A previous life may have committed events it never published: send them first.
        await self._relay()
        await self.transport.control_listen(self._on_control)
        if self.reclaim:
            self.reclaimed = await self.transport.reclaim(self.name, self.routes)
            if self.reclaimed:
                log.info("%s: %d message(s) a previous process left unacknowledged handed back for "
                         "redelivery", self.name, self.reclaimed)
        await self.transport.consume(self.name, self.routes, self._on_message)
        log.info("%s ready (pid %d) on %s, consuming %s", self.name, os.getpid(),
                 self.transport.describe(), ", ".join(self.routes))
        # Whoever waits for this service hears it is consuming without asking again.
        with contextlib.suppress(Exception):
            await self.transport.control_send({"op": "ready", "service": self.name, "pid": os.getpid(),
                                               "routes": list(self.routes)})

    async def close(self) -> None:
        await self.transport.close()
        if self.service is not None:
            with contextlib.suppress(Exception):
                await self._in_store(self.service.store.close)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the pipeline ------------------------------------------------------------------
    async def _in_store(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def _publish(self, event: dict[str, Any]) -> None:
        body, headers = encode_event(event, self.config.mode, source=f"/sagaspec/{self.name}")
        headers[ORIGIN_HEADER] = f"service:{self.name}"
        await self.transport.publish(str(event.get("eventType") or "unknown"), body, headers)
        self.published += 1

    def _publish_sync(self, event: dict[str, Any]) -> None:
        """Publish from the store thread (relay, or a mutant publishing in its handler)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._publish(event), self._loop)
        future.result(timeout=self.config.timeout * 3)

    async def _relay(self) -> None:
        self._outbox_dirty = True  # until a relay finished: the serve loop retries it
        await self._in_store(self.service.relay, self._publish_sync)
        self._outbox_dirty = False

    async def relay_if_pending(self) -> None:
        """Publish what a failed relay left in the outbox (after the broker came back)."""
        if self._outbox_dirty and self.busy == 0:
            try:
                await self._relay()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.info("%s: outbox not yet relayed: %s", self.name, describe(exc))

    async def _on_message(self, received: Received) -> None:
        self.busy += 1
        try:
            decoded = decode_message(received.body, received.headers)
            message: Any = decoded if isinstance(decoded, dict) else received.body
            if not await self._process(received, message):
                return
            t2 = time.perf_counter()
            await self._ack(received)
            self.timings["ack"] += time.perf_counter() - t2
            self.handled += 1
        finally:
            self.busy -= 1

    async def _ack(self, received: Received) -> None:
        """Acknowledge, retrying a broker that does not answer (the work is committed: a
        redelivery after giving up is only a ``duplicate``)."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await received.ack()
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() - started > self.backoff.budget:
                    raise
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1

    async def _process(self, received: Received, message: Any) -> bool:
        """Handle and relay ``message`` until it is done (``True``: acknowledge it).

        A transient failure (see :mod:`sagaspec.examples.retry`) is retried with backoff
        for at most ``backoff.budget`` seconds, then the runner gives up *without*
        acknowledging (exit 69: the broker redelivers to its next life). Any other
        failure is tried once more; if it repeats, the message is dead-lettered as a
        consumer bug (``False``).
        """
        from sagaspec.examples.service import SimulatedCrash

        started = time.monotonic()
        attempt = 0
        suspect: str | None = None
        while True:
            try:
                t0 = time.perf_counter()
                await self._in_store(self.service.handle, message)
                t1 = time.perf_counter()
                await self._relay()
                self.timings["handle"] += t1 - t0
                self.timings["relay"] += time.perf_counter() - t1
                return True
            except SimulatedCrash as crash:
                self._die(EXIT_CRASH_POINT, f"{self.name}: killed at armed crash point {crash.point}")
            except Exception as exc:
                if not is_transient(exc):
                    if suspect is None:
                        suspect = describe(exc)
                        log.warning("%s: %s on %s; trying once more to tell a bug from a "
                                    "passing failure", self.name, suspect, received.route)
                        await asyncio.sleep(self.backoff.delay(0))
                        continue
                    await self._consumer_bug(received, message, exc)
                    return False
                waited = time.monotonic() - started
                if waited > self.backoff.budget:
                    raise BrokerUnavailable(
                        f"{self.name}: gave up after {waited:.0f}s of transient failures "
                        f"(message left unacknowledged for redelivery): {describe(exc)}"
                    ) from None
                delay = self.backoff.delay(attempt)
                attempt += 1
                self.retries += 1
                log.warning("%s: transient failure on %s, retry %d in %.2fs: %s",
                            self.name, received.route, attempt, delay, describe(exc))
                await asyncio.sleep(delay)

    async def _consumer_bug(self, received: Received, message: Any, exc: BaseException) -> None:
        reason = f"consumer crashed: {describe(exc)}"[:300]
        payload = received.body[:2000]
        with contextlib.suppress(Exception):
            await self.transport.control_send({
                "op": "crashed", "service": self.name, "reason": reason,
                "payload": base64.b64encode(payload).decode("ascii"), "route": received.route,
            })
        # The poison message would crash every restart: dead-letter it (that logs one
        # line), then acknowledge. If the store cannot record it, it is not acknowledged.
        try:
            await self._in_store(self.service.dead_letter, message, reason)
        except Exception as dl_exc:
            log.error("%s: cannot dead-letter (%s); leaving the message unacknowledged: %s",
                      self.name, describe(dl_exc), reason)
            self._die(EXIT_CONSUMER_BUG, f"{self.name}: exiting after a consumer crash")
        with contextlib.suppress(Exception):
            await received.ack()
            await self.transport.flush()
        if not self.keep_going:
            self._die(EXIT_CONSUMER_BUG, f"{self.name}: exiting after a consumer crash")

    def _die(self, code: int, why: str) -> None:
        """Exit at once, like a killed process: no acknowledgement, no clean-up."""
        log.warning("%s", why)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(code)

    # -- control channel ---------------------------------------------------------------
    async def _reply(self, request: dict[str, Any], **fields: Any) -> None:
        await self.transport.control_send(
            {"op": "reply", "id": request.get("id"), "service": self.name, "pid": os.getpid(), **fields}
        )

    async def _on_control(self, msg: dict[str, Any]) -> None:
        from sagaspec.examples.service import SimulatedCrash

        op = msg.get("op")
        to = msg.get("to")
        if op in (None, "reply", "crashed", "ready") or (to and self.name not in to):
            return
        try:
            await self._control_op(op, msg)
        except SimulatedCrash as crash:
            self._die(EXIT_CRASH_POINT, f"{self.name}: killed at armed crash point {crash.point}")
        except Exception as exc:
            if is_transient(exc):
                # No answer: the caller times out and asks again (its ops are idempotent).
                log.warning("%s: control %s not done, store or broker unavailable: %s",
                            self.name, op, describe(exc))
            elif isinstance(exc, SagaspecError):
                await self._reply(msg, error=str(exc))
            else:
                await self._reply(msg, error=describe(exc))

    async def _store_call(self, fn: Any, *args: Any, budget: float = 5.0) -> Any:
        """``fn(*args)`` on the store thread, transient failures retried for ``budget`` s."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await self._in_store(fn, *args)
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() - started > budget:
                    raise
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1

    async def _control_op(self, op: Any, msg: dict[str, Any]) -> None:
        if op == "ping":
            await self._reply(msg, routes=list(self.routes), mutant=self.mutant)
        elif op == "status":
            await self._reply(msg, busy=self.busy, handled=self.handled, published=self.published,
                              retries=self.retries, reclaimed=self.reclaimed,
                              seconds={k: round(v, 6) for k, v in self.timings.items()})
        elif op == "setup":
            await self._store_call(self._setup, msg.get("world") or {})
            await self._reply(msg)
        elif op == "start" or op == "place_order" and self.spec is not None:
            # Any spec: the participant with a trigger reaction starts saga msg["saga"] (or
            # the payload's sagaId, with the rest as the trigger event's fields). A repeat
            # (an answer lost, a caller that asks again) is a duplicate, as for place_order.
            if self.spec is None or not any(r.kind == "trigger" for r in self.service.part.reactions):
                return
            fields = dict(msg.get("fields") or {}) if op == "start" else dict(msg.get("payload") or {})
            saga = str(msg.get("saga") if op == "start" else fields.pop("sagaId", ""))
            if await self._store_call(self._started, saga):
                await self._reply(msg, result=[], duplicate=True)
                return
            events = await self._store_call(self.service.start, saga, fields)
            await self._relay()
            await self._reply(msg, result=[e["eventId"] for e in events])
        elif op == "place_order":
            if not hasattr(self.service, "place_order"):
                return  # not the participant that starts sagas
            result = await self._store_call(self.service.place_order, msg.get("payload") or {})
            await self._relay()
            await self._reply(msg, result=result)
        elif op == "inspect":
            keys = [str(k) for k in (msg.get("keys") or [])]
            values = await self._store_call(self._read_keys, keys)
            await self._reply(msg, values=values)
        elif op == "variables":
            sagas = [str(s) for s in (msg.get("sagas") or [])]
            await self._reply(msg, **await self._store_call(self._variables, sagas))
        else:
            await self._reply(msg, error=f"unknown control op {op!r}")

    def _setup(self, world: dict[str, Any]) -> None:
        """The ``setup`` op: the world (knob values, or the per-key world: stock per key,
        the world rules' data), and this participant's share of its ``shared`` starts."""
        if self.spec is None:
            self.service.configure(world)
            return
        from sagaspec.adapters.base import check_shared
        from sagaspec.examples.interpreter import per_key_world

        if isinstance(world, dict) and any(k == "stock" or k in self.spec.world_data for k in world):
            world = per_key_world(self.spec, dict(world))
        every = check_shared(self.spec, world.get("shared") or {})
        knobs = {k: v for k, v in world.items() if k != "shared"}
        self.service.configure(knobs)
        with self.service.store.transaction() as tx:
            tx.put(_WORLD, knobs)
        self.service.set_shared(every.get(self.name) or {})
        starts = {var: v for values in every.values() for var, v in values.items() if isinstance(v, dict)}
        if starts:
            # Every participant reports the params the properties read (a stock total), and
            # the store keeps them: a restarted process reports the same.
            with self.service.store.transaction() as tx:
                tx.put(_SHARED_START, {**(tx.get(_SHARED_START) or {}), **starts})

    def _saved_world(self) -> dict[str, Any] | None:
        with self.service.store.transaction() as tx:
            return tx.get(_WORLD)

    def _started(self, saga: str) -> bool:
        """Whether the interpreter already started ``saga`` (its trigger's record is kept
        with the saga's state, committed with the trigger event in the outbox)."""
        with self.service.store.transaction() as tx:
            record = tx.get(f"spec:saga:{saga}") or {}
        return "__start__" in (record.get("events") or {})

    def _variables(self, sagas: list[str]) -> dict[str, Any]:
        """The ``variables`` op: the participant's spec variables per saga, the shared
        ones and the params it runs with (what the spec's properties read)."""
        if self.spec is None:
            return {"available": False,
                    "reason": "the hand-written order services keep their own records "
                              "(stock per sku), not the spec's variables"}
        from sagaspec.examples.interpreter import per_key_params

        model = self.service.model
        per: dict[str, Any] = {}
        values = self.service.variables(sagas[0] if sagas else "")
        for saga in sagas:
            values = self.service.variables(saga)
            per[saga] = {f: values[f] for f in model.slot_cls._fields}
        # A keyed variable held per key is judged by its total (its param: the total start).
        shared = {n: sum(values[n].values()) if isinstance(values[n], dict) else values[n]
                  for n in model.shared_names}
        with self.service.store.transaction() as tx:
            start = tx.get(_SHARED_START) or {}
        params = per_key_params(self.spec, {k: v for k, v in model.params.items() if k != "sagas"}, start)
        return {"available": True, "sagas": per, "shared": shared, "params": params}

    def _read_keys(self, keys: list[str]) -> dict[str, Any]:
        with self.service.store.transaction() as tx:
            return {k: tx.get(k) for k in keys}


async def _serve(runner: ServiceRunner) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        print(f"ready {runner.name} pid={os.getpid()}", flush=True)
        while not stop.is_set():
            failure = runner.transport.failure
            if failure is not None:
                if isinstance(failure, SagaspecError):
                    raise failure
                raise BrokerUnavailable(f"{runner.name}: consumer stopped: {type(failure).__name__}: {failure}")
            await runner.relay_if_pending()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        return 0
    finally:
        await runner.close()


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagaspec.examples.runner",
        description="Run one sagaspec reference service on a broker (NATS, RabbitMQ, Redis).",
    )
    parser.add_argument("--service", required=True,
                        help="the participant to run: one of --design's (default corrected) or --spec's")
    parser.add_argument("--broker", required=True,
                        help="nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/, redis://HOST:PORT/DB "
                             "(query parameters: ns, mode, stream, exchange, ...)")
    parser.add_argument("--db", default=None,
                        help="postgresql://... or an SQLite file/directory (default: "
                             ".sagaspec/state/<ns>/<service>.db)")
    parser.add_argument("--namespace", default=None, help="isolate names (overrides ?ns=)")
    parser.add_argument("--design", default="corrected", choices=("corrected", "seed"))
    parser.add_argument("--spec", default=None, metavar="FILE",
                        help="run a participant of this saga spec (the reference interpreter) "
                             "instead of the design's")
    parser.add_argument("--engine", default="interpreter", choices=("interpreter", "hand-written"),
                        help="the order design's services: the interpreter running its spec "
                             "(default) or the hand-written classes")
    parser.add_argument("--mutant", default=None,
                        help="run a mutant instead of the reference: a hand-written mutant's name "
                             "(its operator mutant) or one of the spec's (sagaspec serve --spec FILE --list-mutants)")
    parser.add_argument("--crash-at", default=None,
                        help="die (exit 75) at this point of the first handling: before-commit, "
                             "after-commit or after-publish")
    parser.add_argument("--state-dir", default=None, help="base directory of default SQLite files")
    parser.add_argument("--reclaim", action="store_true",
                        help="before consuming, have the broker redeliver at once what the service's "
                             "previous (dead) process left unacknowledged (NATS: NAK it) instead of "
                             "after ack_wait; only when this is the service's sole process, as under "
                             "a supervisor")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a consumer crash, dead-letter and continue instead of exiting")
    parser.add_argument("--retry-budget", type=_positive, default=60.0, metavar="SECONDS",
                        help="how long one message's transient failures are retried before "
                             "exiting 69 without acknowledging it (default 60)")
    parser.add_argument("--lock-timeout", type=_positive, default=5.0, metavar="SECONDS",
                        help="how long an SQLite write waits for another connection's lock "
                             "before it counts as a transient failure (default 5)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s {args.service}[%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    started = time.monotonic()
    try:
        config = BrokerConfig.from_url(args.broker, namespace=args.namespace)
        runner = ServiceRunner(
            args.service, config, db=args.db, design=args.design, mutant=args.mutant,
            crash_at=args.crash_at, state_dir=args.state_dir, keep_going=args.keep_going,
            backoff=Backoff(budget=args.retry_budget), lock_timeout=args.lock_timeout,
            spec=args.spec, engine=args.engine, reclaim=args.reclaim,
        )
        return asyncio.run(_serve(runner))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_UNAVAILABLE
    except SagaspecError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 0
    finally:
        log.debug("%s ran %.1fs", args.service, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
