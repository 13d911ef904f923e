"""What the three broker adapters share: configuration, the transport contract, the adapter.

A *transport* is the thin layer that knows one broker client (nats-py, aio-pika,
redis.asyncio): connect with a bounded timeout, check or declare the topology, publish
with a broker confirmation, run a *competing* consumer with manual acknowledgement (what
a service uses), run a *non-competing* observer (what the suite and the monitor use: it
never steals a message from a service), and a small broadcast *control* channel a
system's service processes may answer (see :class:`BrokerAdapter`). Everything above it,
the CloudEvents codec and the :class:`BrokerAdapter` the conformance suite drives, is
written once here.

The adapter reaches a system; it never runs one. With ``spawn=`` it asks a *launcher*
(:class:`Launcher`: passed as ``launcher=``, registered with :func:`register_launcher`,
or else the ``reference`` entry point of ``sagaspec.launchers``, the reference runners'
supervisor) to run the participants.

Names are derived from one optional *namespace*, so concurrent runs never collide; every
name can also be set explicitly (URL query parameters or constructor keywords):

>>> c = BrokerConfig.from_url("nats://127.0.0.1:4222?ns=t1&mode=binary")
>>> c.namespace, c.mode, c.client_url
('t1', 'binary', 'nats://127.0.0.1:4222')
>>> BrokerConfig.from_url("nats://127.0.0.1:4222?colour=red")
Traceback (most recent call last):
...
sagaspec.errors.UsageError: unknown parameter 'colour' in adapter URL nats://127.0.0.1:4222?colour=red; expected one of ack_wait, control, create, db, mode, ns, reconnect, settle, spawn, timeout, wait, and for nats: stream, subject_prefix
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sagaspec.adapters._bounded_wait import bounded, stop_tasks, within
from sagaspec.adapters.base import Adapter, RawMessage, World

from sagaspec.errors import AdapterError, BrokerUnavailable, UsageError

__all__ = [
    "BrokerConfig",
    "Received",
    "Transport",
    "BrokerAdapter",
    "adapter_factory",
    "ORIGIN_HEADER",
    "Launcher",
    "register_launcher",
    "registered_launcher",
    "participants",
    "encode_event",
    "decode_message",
    "register_transport",
    "transport_for",
    "open_transport",
    "redact",
    "new_namespace",
]

log = logging.getLogger("sagaspec.brokers")

#: Header (NATS, AMQP) or stream field (Redis) naming who published a message; the
#: adapter drops its own deliveries from :meth:`BrokerAdapter.collect`.
ORIGIN_HEADER = "sagaspec-origin"


_COMMON_PARAMS = {
    "ns": "namespace prefixed to every stream / subject / exchange / queue / key",
    "mode": "structured (CloudEvents JSON body, default) or binary (attributes in headers)",
    "create": "1 to declare a missing stream / exchange instead of failing (default 0)",
    "timeout": "seconds allowed to connect or to answer one broker call (default 3)",
    "ack_wait": "seconds before an unacknowledged message is redelivered "
                "(30; with spawn 2, on NATS 0.5)",
    "settle": "seconds of silence after which collect() counts the system quiet "
              "(0.3, or 0.03 with spawn)",
    "spawn": "participants a launcher runs as processes: auto (the target), all, "
             "or a comma list",
    "db": "database of spawned services: postgresql://... or a directory for SQLite",
    "control": "auto (default), on or off: use the reference runners' control channel",
    "reconnect": "seconds a lost connection is retried with backoff before the client gives "
                 "up (default 60; a service then exits 69 and its supervisor restarts it)",
    "wait": "model (default): a collect ends once the suite's model says nothing more can "
            "come (or the system is quiet); quiet: it always waits for the system's quiet",
}

_IDENT = re.compile(r"^[A-Za-z0-9_-]{1,48}$")


#: The broker clients, installed by the ``brokers`` extra: module -> distribution name.
CLIENTS = {"nats": "nats-py", "aio_pika": "aio-pika", "redis": "redis"}


def require_client(module: str, scheme: str) -> None:
    """Import the client ``module`` of the ``scheme://`` adapter, or say what to install.

    >>> require_client("json", "nats")
    """
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or module).split(".")[0] != module:
            raise  # the client is there; something it imports is not
        dist = CLIENTS.get(module, module)
        raise AdapterError(f"the {scheme}:// adapter needs the Python package {dist} (module "
                           f"{module}), which is not installed: pip install 'sagaspec[brokers]'"
                           ) from None


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for error messages and logs).

    >>> redact("amqp://guest:secret@127.0.0.1:5672/")
    'amqp://guest:***@127.0.0.1:5672/'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def new_namespace(tag: str = "t") -> str:
    """A fresh namespace for one test run: short, unique, valid on every broker."""
    return f"{tag}{uuid.uuid4().hex[:10]}"


@dataclass
class BrokerConfig:
    """Where the broker is and how its names are derived (see each transport for names)."""

    scheme: str
    client_url: str
    namespace: str = ""
    mode: str = "structured"
    create: bool = False
    timeout: float = 3.0
    ack_wait: float | None = None
    settle: float | None = None
    spawn: tuple[str, ...] = ()
    db: str | None = None
    control: str = "auto"
    reconnect: float = 60.0
    wait: str = "model"
    #: Broker-specific naming parameters (validated by the transport class).
    names: dict[str, str] = field(default_factory=dict)
    #: The URL exactly as the user wrote it (password redacted), for messages.
    display: str = ""

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> BrokerConfig:
        """Parse an adapter URL; sagaspec's own query parameters are removed from it."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _TRANSPORTS:
            _load_builtin_transports()
        transport = _TRANSPORTS.get(scheme)
        specific = tuple(transport.NAME_PARAMS) if transport else ()
        passthrough = transport.PASSTHROUGH_QUERY if transport else False
        kept: list[tuple[str, str]] = []
        values: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            key_n = "ns" if key == "namespace" else key
            if key_n in _COMMON_PARAMS or key_n in specific:
                values[key_n] = value
            elif passthrough:
                kept.append((key, value))
            else:
                allowed = ", ".join(sorted(_COMMON_PARAMS))
                extra = f", and for {transport.NAME}: {', '.join(specific)}" if transport else ""
                raise UsageError(
                    f"unknown parameter {key!r} in adapter URL {redact(url)}; "
                    f"expected one of {allowed}{extra}"
                )
        client_url = urlunsplit(parts._replace(query=urlencode(kept)))
        cfg = cls(scheme=scheme, client_url=client_url, display=redact(url))
        for key, value in values.items():
            cfg._set(key, value, url)
        for key, value in overrides.items():
            if value is None:
                continue
            if key in ("namespace",):
                key = "ns"
            if key in _COMMON_PARAMS:
                cfg._set(key, value, url)
            elif key in specific:
                cfg.names[key] = str(value)
            else:
                raise UsageError(f"unknown broker option {key!r} for {scheme}://")
        return cfg

    def _set(self, key: str, value: Any, url: str) -> None:
        where = f"in adapter URL {redact(url)}"
        try:
            if key == "ns":
                value = str(value)
                if value and not _IDENT.match(value):
                    raise ValueError("letters, digits, '_' and '-' only (at most 48)")
                self.namespace = value
            elif key == "mode":
                if value not in ("structured", "binary"):
                    raise ValueError("structured or binary")
                self.mode = value
            elif key == "create":
                self.create = _truthy(value)
            elif key in ("timeout", "ack_wait", "settle", "reconnect"):
                number = float(value)
                if not number > 0:
                    raise ValueError("a positive number of seconds")
                setattr(self, key, number)
            elif key == "spawn":
                spawn = tuple(value) if isinstance(value, (list, tuple)) else tuple(
                    s.strip() for s in str(value).split(",") if s.strip()
                )
                if spawn in (("1",), ("auto",), ("true",), ("yes",)):
                    spawn = ("auto",)
                elif spawn in (("0",), ("false",), ("no",), ()):
                    spawn = ()
                # Names are checked against the design's participants by the adapter.
                if ("auto" in spawn or "all" in spawn) and len(spawn) > 1 or not all(
                        _IDENT.match(s) for s in spawn):
                    raise ValueError("auto, all or a comma list of participants")
                self.spawn = spawn
            elif key == "db":
                self.db = str(value) or None
            elif key == "control":
                if value not in ("auto", "on", "off"):
                    raise ValueError("auto, on or off")
                self.control = value
            elif key == "wait":
                if value not in ("model", "quiet"):
                    raise ValueError("model or quiet")
                self.wait = value
            else:
                self.names[key] = str(value)
        except ValueError as exc:
            raise UsageError(f"bad value {value!r} for {key!r} {where}: expected {exc}") from None

    def query(self) -> str:
        """sagaspec's parameters as a query string (to hand this config to a subprocess)."""
        q: dict[str, str] = {}
        if self.namespace:
            q["ns"] = self.namespace
        if self.mode != "structured":
            q["mode"] = self.mode
        q["timeout"] = f"{self.timeout:g}"
        if self.ack_wait is not None:
            q["ack_wait"] = f"{self.ack_wait:g}"
        if self.reconnect != 60.0:
            q["reconnect"] = f"{self.reconnect:g}"
        q.update(self.names)
        return urlencode(q)

    def url_for_child(self) -> str:
        """The client URL plus sagaspec's naming parameters, for a spawned runner."""
        parts = urlsplit(self.client_url)
        query = "&".join(p for p in (parts.query, self.query()) if p)
        return urlunsplit(parts._replace(query=query))


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("1 or 0")


# --------------------------------------------------------------------------- codec


def encode_event(
    event: dict[str, Any], mode: str = "structured", *, source: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """One saga event as (body, headers) in CloudEvents structured or binary mode.

    Binary-mode attribute headers use the HTTP spelling (``ce-id``, ``ce-type``, ...);
    each transport maps them to its broker's convention. An event that cannot be a
    CloudEvent (it is schema-invalid: a negative test input, or a buggy service's
    output) travels as its bare JSON, so the receiver sees, and judges, what was sent.
    """
    from sagaspec.spec import cloudevents as ce

    from sagaspec.errors import SchemaError

    try:
        if mode == "binary":
            headers, body = ce.to_binary(event, source=source)
            return _as_bytes(body), {str(k).lower(): str(v) for k, v in headers.items()}
        document = ce.to_cloudevent(event, source=source)
    except (SchemaError, KeyError, TypeError, ValueError):
        try:
            body = json.dumps(event, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            body = repr(event).encode()
        return body, {"content-type": "application/json"}
    return (
        json.dumps(document, separators=(",", ":")).encode(),
        {"content-type": "application/cloudevents+json"},
    )


def decode_message(body: bytes, headers: dict[str, str] | None) -> dict[str, Any] | RawMessage:
    """A received message as a saga event dict, or a :class:`RawMessage` saying why not.

    Accepts binary mode (``ce-*`` headers), structured mode (``specversion`` in the
    body) and a bare event JSON object (a service that does not use CloudEvents). The
    event itself is *not* schema-validated here: the receiver (a service, the suite's
    oracle, the monitor) judges it and reports what is wrong with it.
    """
    from sagaspec.spec import cloudevents as ce
    from sagaspec.spec._jsonlimits import (
        MESSAGE_LIMITS,
        JSONLimitError,
        check_depth,
        check_size,
        loads,
    )

    headers = {k.lower(): v for k, v in (headers or {}).items()}
    try:
        if "ce-specversion" in headers:
            # The codec parses the body itself: bound it first.
            check_size(len(body), MESSAGE_LIMITS, "message")
            check_depth(bytes(body).decode("utf-8", errors="replace"), MESSAGE_LIMITS)
            return ce.from_binary(headers, body, validate=False)
        document = loads(body, MESSAGE_LIMITS)
    except JSONLimitError as exc:
        return RawMessage(bytes(body[:4096]), reason=f"refused: {exc}")
    except Exception as exc:  # not JSON, or a binary event the codec rejects
        return RawMessage(bytes(body), reason=f"not a CloudEvent or event JSON: {_short(exc)}")
    if not isinstance(document, dict):
        return RawMessage(bytes(body), reason=f"JSON {type(document).__name__}, not an object")
    if "specversion" in document:
        try:
            return ce.from_cloudevent(document, validate=False)
        except Exception as exc:
            return RawMessage(bytes(body), reason=f"bad CloudEvent: {_short(exc)}")
    if "eventType" in document:
        return document
    return RawMessage(bytes(body), reason="JSON object without specversion or eventType")


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# --------------------------------------------------------------------------- transport


@dataclass
class Received:
    """One message a consumer or observer received.

    ``route`` is the subject / routing key / event type the broker delivered it under;
    ``deliveries`` how often the broker has handed it out (1 on the first delivery, when
    the broker says); ``ack`` and ``nak`` settle it (no-ops for observers).
    """

    body: bytes
    headers: dict[str, str]
    route: str
    deliveries: int = 1
    ack: Callable[[], Awaitable[None]] = field(default=None)  # type: ignore[assignment]
    nak: Callable[[], Awaitable[None]] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.ack is None:
            self.ack = _noop
        if self.nak is None:
            self.nak = _noop


async def _noop() -> None:
    return None


Handler = Callable[[Received], Awaitable[None]]


class Transport:
    """Contract of one broker client. Subclasses implement the ``async`` methods.

    ``NAME_PARAMS`` maps each broker-specific naming parameter to its documentation;
    ``names()`` resolves them against the namespace.
    """

    NAME: ClassVar[str] = "broker"
    SCHEMES: ClassVar[tuple[str, ...]] = ()
    NAME_PARAMS: ClassVar[dict[str, str]] = {}
    PASSTHROUGH_QUERY: ClassVar[bool] = False
    #: Whether :meth:`backlog` also counts messages a consumer holds unacknowledged.
    EXACT_BACKLOG: ClassVar[bool] = True
    #: ``ack_wait`` for services spawned to be killed on purpose: what a killed one held
    #: comes back soon (shorter where a live consumer keeps what it holds from expiring).
    SPAWN_ACK_WAIT: ClassVar[float] = 2.0

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        # The observer's progress (see sync_observer): comparable and as the broker writes it.
        self._observed: dict[str, tuple[int, int]] = {}
        self._observed_text: dict[str, int | str] = {}

    # -- lifecycle ------------------------------------------------------------------
    async def connect(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def ensure_topology(self, create: bool) -> None:
        """Check the stream / exchange exists (declare it when ``create``)."""
        raise NotImplementedError

    async def destroy(self) -> None:
        """Delete everything under this configuration's names (test clean-up)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the broker and its stream / exchange, for humans."""
        raise NotImplementedError

    # -- messaging ------------------------------------------------------------------
    async def publish(self, route: str, body: bytes, headers: dict[str, str]) -> None:
        """Publish and wait for the broker's confirmation (raises on failure)."""
        raise NotImplementedError

    async def observe(self, handler: Handler, *, from_start: bool = False) -> None:
        """Call ``handler`` for every message on the bus, without taking it from anyone."""
        raise NotImplementedError

    async def consume(self, group: str, routes: Iterable[str], handler: Handler) -> None:
        """Compete in ``group`` for messages routed as ``routes``; ``handler`` must ack."""
        raise NotImplementedError

    async def reclaim(self, group: str, routes: Iterable[str]) -> int:
        """Before :meth:`consume`: have the broker redeliver now what ``group``'s consumer
        of ``routes`` still holds unacknowledged from a process that died, instead of
        after ``ack_wait``; returns how many messages were held. Call it only from the
        group's sole consumer process (a restarted one): what a live sibling holds would
        be handed back too. Nothing is acknowledged: a message comes back as a redelivery.

        The default does nothing: RabbitMQ requeues a closed channel's unacknowledged
        messages itself, and a restarted Redis consumer re-reads its own pending entries.
        """
        return 0

    async def sync_observer(self, timeout: float | None = None, poll: float = 0.02) -> dict[str, int | str] | None:
        """Wait until the observer's handler has returned from every message the broker
        had accepted on the bus when this was called (the monitor's start and stop
        handshake). Returns :meth:`observer_position` once there, or ``None`` if
        ``timeout`` seconds passed first; raises the observer's failure if it died."""
        target = await self._observer_target()
        deadline = None if timeout is None else time.monotonic() + timeout
        while any(self._observed.get(k, (0, 0)) < mark for k, mark in target.items()):
            if self.failure is not None:
                failure = self.failure
                raise failure if isinstance(failure, AdapterError) else self.unavailable("the observer stopped", failure)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            await asyncio.sleep(poll)
        return self.observer_position()

    def observer_position(self) -> dict[str, int | str]:
        """Per stream (or queue) observed, the position of the last message the observer's
        handler returned from, as the broker writes it: NATS stream sequence, Redis entry
        id, RabbitMQ count of messages handled."""
        return dict(self._observed_text)

    async def _observer_target(self) -> dict[str, tuple[int, int]]:
        """Per observed stream, the comparable position of its newest message now."""
        raise NotImplementedError

    def _mark_observed(self, stream: str, key: tuple[int, int], text: int | str) -> None:
        """Record that the observer's handler returned from the message at ``key``."""
        if stream not in self._observed or key > self._observed[stream]:
            self._observed[stream] = key
            self._observed_text[stream] = text

    async def backlog(self, group: str, routes: Iterable[str]) -> int | None:
        """Messages of ``group`` not yet acknowledged (``None`` if unknown)."""
        return None

    async def flush(self) -> None:
        """Return once everything sent so far (acknowledgements included) reached the broker."""

    async def control_send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def control_listen(self, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        raise NotImplementedError

    # -- helpers for subclasses ------------------------------------------------------
    def names(self) -> dict[str, str]:
        raise NotImplementedError

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.append(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._closed:
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s: background task %s failed: %s", self.NAME, task.get_name(), exc)
            self.failure = exc

    failure: BaseException | None = None

    async def _ride_out(self, outage: dict[str, float], exc: BaseException, what: str) -> None:
        """One failed round of a background loop: wait with backoff and jitter, or raise
        once the connection has been lost for ``config.reconnect`` seconds (a service
        then exits 69 and its supervisor restarts it).

        ``outage`` is the loop's own record (``since``, ``attempt``); :meth:`_recovered`
        clears it after a successful round.
        """
        now = time.monotonic()
        since = outage.setdefault("since", now)
        attempt = int(outage.get("attempt", 0))
        if now - since > self.config.reconnect:
            raise self.unavailable(f"{what}: lost the connection for {now - since:.0f}s", exc)
        if attempt == 0:
            log.warning("%s: %s failed, reconnecting: %s", self.NAME, what, _short(exc))
        outage["attempt"] = attempt + 1
        # Exponential backoff (0.1 s doubling, at most 2 s) with jitter down to half.
        await asyncio.sleep(min(2.0, 0.1 * 2 ** min(attempt, 30)) * (1.0 - 0.5 * random.random()))

    @staticmethod
    def _recovered(outage: dict[str, float], what: str) -> None:
        if outage:
            log.warning("%s: back after %.1fs", what, time.monotonic() - outage.get("since", 0.0))
            outage.clear()

    #: Seconds :meth:`_cancel_tasks` waits in all for the background tasks to end.
    STOP_TASKS_WITHIN: ClassVar[float] = 2.0

    async def _cancel_tasks(self) -> None:
        """Stop the background tasks (consumer and observer loops), within
        ``STOP_TASKS_WITHIN`` seconds: each is cancelled again until it ends, as a client
        that awaits through ``asyncio.wait_for`` (nats-py's ``fetch``) can swallow one
        cancellation and carry on. A task still running then is left cancelled (the
        client's close cuts it off). The caller's cancellation is raised at once."""
        self._closed = True
        tasks = list(self._tasks)
        if not await stop_tasks(tasks, self.STOP_TASKS_WITHIN):
            log.warning("%s: background tasks still running %gs after their cancellation: %s", self.NAME,
                        self.STOP_TASKS_WITHIN, ", ".join(t.get_name() for t in tasks if not t.done()))
        self._tasks = [t for t in self._tasks if t not in tasks]

    async def _bounded(self, awaitable: Awaitable[Any], what: str) -> Any:
        """Await a broker call for at most ``config.timeout`` seconds (and at most a
        second more for it to end once cancelled); a cancellation of the caller is always
        raised, even one landing as the call completes (``asyncio.wait_for`` returns the
        result then: a Ctrl-C lost)."""
        try:
            return await bounded(awaitable, self.config.timeout)
        except TimeoutError:
            raise BrokerUnavailable(
                f"{self.NAME} at {self.config.display}: {what} timed out after "
                f"{self.config.timeout:g}s"
            ) from None

    def unavailable(self, what: str, exc: BaseException | str, hint: str | None = None) -> BrokerUnavailable:
        reason = exc if isinstance(exc, str) else _short(exc) or type(exc).__name__
        return BrokerUnavailable(f"{self.NAME} at {self.config.display}: {what}: {reason}", hint=hint)


_TRANSPORTS: dict[str, type[Transport]] = {}


def register_transport(cls: type[Transport]) -> type[Transport]:
    """Class decorator: make ``cls`` the transport of each of its URL schemes."""
    for scheme in cls.SCHEMES:
        _TRANSPORTS[scheme] = cls
    return cls


def _load_builtin_transports() -> None:
    # Imported lazily so a missing optional client only breaks its own broker.
    for module in ("nats", "rabbitmq", "redis_streams"):
        with contextlib.suppress(ImportError):
            __import__(f"sagaspec.adapters.{module}")


def transport_for(scheme: str) -> type[Transport]:
    """The transport class of a URL scheme (``nats``, ``amqp``, ``redis``, ...)."""
    if scheme not in _TRANSPORTS:
        _load_builtin_transports()
    try:
        return _TRANSPORTS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(_TRANSPORTS))
        raise UsageError(f"no broker transport for {scheme}://; expected one of {known}") from None


def open_transport(url: str | BrokerConfig, **overrides: Any) -> Transport:
    """A (not yet connected) transport for ``url``."""
    if isinstance(url, BrokerConfig):
        config = url
    else:
        scheme = urlsplit(url).scheme.lower()
        transport_for(scheme)  # registers the class so its parameters parse
        config = BrokerConfig.from_url(url, **overrides)
    return transport_for(config.scheme)(config)


# --------------------------------------------------------------------------- launcher


class _Unanswerable(AdapterError):
    """A control command that a spawned service can no longer answer (see ``control``)."""


class Launcher(Protocol):
    """What runs a system's participants as processes for an adapter (``spawn=``).

    The adapter only asks it to start, kill and stop named participants and whether they
    are alive; the processes answer the control channel like any system may. The
    reference runners' supervisor (``Cluster`` of the reference services) is one.
    """

    services: tuple[str, ...]
    #: Restarts the launcher did on its own (a process that exited).
    restarts: int
    #: The ``crash_at`` points :meth:`start` accepts (where a process dies in its next handling).
    crash_points: tuple[str, ...]

    def start_all(self) -> None: ...
    def start(self, service: str, *, crash_at: str | None = None) -> None: ...
    def kill(self, service: str, sig: int = ...) -> None: ...
    def stop_all(self, timeout: float = ...) -> None: ...
    def cleanup(self) -> None: ...
    def check_alive(self) -> None: ...
    def wait_ready(self, services: Iterable[str] | None = None, timeout: float = ...) -> None: ...
    def restarting(self, service: str) -> bool: ...
    def log_tail(self, service: str, lines: int = ...) -> str: ...


#: ``factory(config, services, *, db, design, mutant) -> Launcher`` (``services`` None: every
#: participant); a launcher of any spec's participants also takes ``spec=FILE`` and
#: ``state_dir=``.
LauncherFactory = Callable[..., Launcher]

_LAUNCHER: list[LauncherFactory | str] = []


def register_launcher(factory: LauncherFactory | str) -> None:
    """Make ``spawn=`` use ``factory`` (a callable or ``"module:attribute"``, imported on
    first use) when no ``launcher=`` is given, instead of the ``reference`` entry point of
    ``sagaspec.launchers`` (the reference runners' supervisor, see
    :mod:`sagaspec.adapters.plugins`); the adapter itself knows no implementation."""
    _LAUNCHER[:] = [factory]


def registered_launcher() -> LauncherFactory:
    if not _LAUNCHER:
        from sagaspec.adapters.plugins import LAUNCHERS, load_plugin

        return load_plugin(LAUNCHERS)
    entry = _LAUNCHER[0]
    if isinstance(entry, str):
        import importlib

        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _LAUNCHER[:] = [entry]
    return entry


def participants(design: str) -> tuple[str, ...]:
    """The participants of ``design`` (a shipped name or spec file) in start order: those
    that only react first, those that start sagas (a trigger reaction) last."""
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(design)
    starts = {p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions)}
    names = [p.name for p in spec.participants]
    return tuple([n for n in names if n not in starts] + [n for n in names if n in starts])


# --------------------------------------------------------------------------- adapter


class BrokerAdapter(Adapter):
    """Drive a saga system that talks over a broker.

    ``deliver`` publishes an event as the bus would; ``collect`` returns what the system
    published since the last call (seen by a non-competing observer, minus the adapter's
    own deliveries) once the system is quiet.

    The control channel is a small JSON protocol any system's processes may answer (the
    reference runners do): the adapter broadcasts ``{"op", "id", "from", "to"?, ...}``
    and each service replies ``{"op": "reply", "id", "service", ...}`` (or ``error``).
    Ops: ``ping`` (reply ``routes``: the event types it consumes), ``status`` (``busy``),
    ``setup`` (``world``), ``place_order`` (``payload``: ``sagaId`` and the trigger
    event's fields, answered by the participant that starts sagas), ``inspect`` (``keys`` -> ``values``),
    ``variables`` (``sagas`` -> ``available``, and ``sagas``: each saga's spec variables,
    ``shared``, ``params``; or a ``reason`` they are not available); a service may also broadcast
    ``{"op": "crashed", "service", "reason", "payload"}``, and ``{"op": "ready", "service",
    "routes"}`` once it consumes (a ping waiting counts it as an answer). Answering services give
    ``setup`` and ``place_order``. With ``spawn=`` a :class:`Launcher` runs them as
    processes: ``crash`` SIGKILLs one and restarts it armed to die again at
    ``crash_point`` of its next message (which the broker then redelivers), and quiet
    means every service's consumer has nothing pending or unacknowledged.

    Parameters
    ----------
    url
        ``nats://...``, ``amqp://...`` or ``redis://...`` plus query parameters.
    participant
        The target (``system`` or a participant): which participants ``spawn=1`` starts
        and where ``deliver_raw`` puts garbage.
    design, mutant
        The saga (shipped name or spec file; default the corrected order design) and
        what spawned services run.
    launcher
        ``factory(config, services, *, db, design, mutant) -> Launcher`` for ``spawn=``
        (default: the one given to :func:`register_launcher`, else the ``reference``
        entry point of ``sagaspec.launchers``).
    **options
        Any query parameter as a keyword (``namespace="t1"``, ``spawn="all"``, ...).
    """

    #: Where a restarted service dies again (as the in-process reference harness).
    crash_point = "before-commit"
    #: Longest wait of one ``collect`` for spawned services that are still busy.
    quiet_max = 30.0

    def __init__(
        self,
        url: str | BrokerConfig,
        *,
        participant: str | None = "system",
        design: str | None = None,
        mutant: str | None = None,
        launcher: LauncherFactory | None = None,
        **options: Any,
    ) -> None:
        spawn = options.pop("spawn", None)
        self.transport = open_transport(url, **options)
        self.config = self.transport.config
        self.participant = participant or "system"
        self.design = design or "corrected"
        self.mutant = mutant or None
        self._launcher = launcher
        self._spec_cache: Any = None
        if spawn is not None:
            self.config._set("spawn", spawn, self.config.display)
        if self.config.spawn:
            every = participants(self.design)
            if self.config.spawn == ("all",) or self.config.spawn == ("auto",) and self.participant == "system":
                self.config.spawn = every
            elif self.config.spawn == ("auto",):
                self.config.spawn = (self.participant,)
            unknown = [s for s in self.config.spawn if s not in every]
            if unknown:
                raise UsageError(f"bad value {','.join(self.config.spawn)!r} for 'spawn' in adapter URL "
                                 f"{self.config.display}: expected auto, all or a comma list of "
                                 f"{', '.join(every)}")
            self.config.spawn = tuple(s for s in every if s in self.config.spawn)
        if self.mutant and not self.config.spawn:
            # Services already on the broker run what they were started with: the mutant
            # would be silently ignored, and the unmutated services reported as it.
            raise UsageError(f"--mutant {self.mutant}: a broker adapter runs a mutant only in the "
                             f"services it starts itself (spawn= in the adapter URL, e.g. "
                             f"?spawn=auto); {self.config.display} has no spawn=")
        self._own_namespace = False
        if self.config.spawn and not self.config.namespace:
            # A run that starts its own services gets its own names, removed at close.
            self.config.namespace = new_namespace("c")
            self._own_namespace = True
        self._settle_default = self.config.settle is None
        if self.config.settle is None:
            self.config.settle = 0.03 if self.config.spawn else 0.3
        if self.config.ack_wait is None and self.config.spawn:
            # Spawned services are killed on purpose: redeliver their messages quickly.
            self.config.ack_wait = self.transport.SPAWN_ACK_WAIT
        self.name = self.transport.NAME
        self.origin = f"sagaspec-{uuid.uuid4().hex[:12]}"
        self._seen: list[dict[str, Any] | RawMessage] = []
        self._last_arrival = 0.0
        self._arrived: asyncio.Event | None = None
        self._replies: dict[str, list[dict[str, Any]]] = {}
        self._reply_events: dict[str, asyncio.Event] = {}
        self._pings: set[str] = set()  # the ids of pings waiting for answers
        #: Services that answered a ping on the control channel.
        self.responders: set[str] = set()
        self._routes: dict[str, tuple[str, ...]] = {}
        #: The running :class:`Launcher` (with ``spawn=``).
        self.cluster: Launcher | None = None
        self._started = False
        #: Called with every observed item (event dict or RawMessage), e.g. a monitor.
        self.listeners: list[Callable[[dict[str, Any] | RawMessage], None]] = []
        #: Keep observed items for :meth:`collect` (off for long runs that only listen).
        self.record = True
        #: Reads each received message instead of the CloudEvents codec (a mapping sets it).
        self.decoder: Callable[[Received], dict[str, Any] | RawMessage] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.transport.describe()}>"

    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"deliver_raw"}
        if self.config.control != "off":
            running = set(self.config.spawn) | self.responders
            if running or self.config.control == "on":
                caps.add("setup")
            starters = self._starters()
            if running & starters or (self.config.control == "on"
                                      and (self.participant == "system" or self.participant in starters)):
                caps.add("place_order")
        if self.config.spawn:
            caps.add("crash")
        return frozenset(caps)

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._arrived = asyncio.Event()
        await self.transport.connect()
        try:
            await self.transport.ensure_topology(self.config.create or bool(self.config.spawn))
            await self.transport.observe(self._on_message)
            if self.config.control != "off":
                await self.transport.control_listen(self._on_control)
            if self.config.spawn:
                factory = self._launcher or registered_launcher()
                self.cluster = factory(self.config, self.config.spawn, db=self.config.db,
                                       design=self.design, mutant=self.mutant)
                await asyncio.to_thread(self.cluster.start_all)
                await self.wait_ready(self.config.spawn, timeout=max(30.0, self.config.timeout))
            elif self.config.control != "off":
                await self.ping(wait=min(0.5, self.config.timeout))
                if self._routes and self._settle_default:
                    self.config.settle = 0.03  # their consumers say when they are done
        except BaseException:
            await self.close()
            raise
        self._started = True

    async def close(self) -> None:
        """Stop spawned services, remove their files and this run's broker names, close.

        Runs to the end even when the task is cancelled meanwhile (a second Ctrl-C): the
        rest of the clean-up then finishes, and the cancellation is raised after it.
        """
        cancelled = False

        async def step(fn: Callable[[], Awaitable[Any]], sync: Callable[[], Any] | None = None) -> None:
            nonlocal cancelled
            try:
                await fn()
            except asyncio.CancelledError:
                cancelled = True
                if sync is not None:
                    sync()  # finish it blocking: nothing else runs any more
                else:
                    # Tried once more, within a bound that holds whatever fn does with
                    # its cancellation (asyncio.wait_for's does not); a further
                    # cancellation ends the try, and is raised after the rest too.
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await within(fn(), self.config.timeout)
            except Exception:
                if sync is None:
                    return
                raise

        cluster = self.cluster
        try:
            if cluster is not None:
                await step(lambda: asyncio.to_thread(cluster.stop_all), cluster.stop_all)
                await step(lambda: asyncio.to_thread(cluster.cleanup), cluster.cleanup)
                self.cluster = None
            if self._own_namespace and self.transport.failure is None:
                await step(self.transport.destroy)
        finally:
            await step(self.transport.close)
            self._started = False
        if cancelled:
            raise asyncio.CancelledError

    # -- required hooks ---------------------------------------------------------------
    async def deliver(self, event: dict[str, Any]) -> None:
        body, headers = encode_event(event, self.config.mode)
        headers[ORIGIN_HEADER] = self.origin
        route = event.get("eventType") if isinstance(event, dict) else None
        await self.transport.publish(route if isinstance(route, str) and route else "unknown",
                                     body, headers)

    async def publish_as(self, route: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Publish ``body`` as is under ``route``: a service's own routing key / subject
        (what a vocabulary mapping sends); the adapter still drops it from ``collect``."""
        await self.transport.publish(route, bytes(body), {**(headers or {}), ORIGIN_HEADER: self.origin})

    async def deliver_raw(self, payload: bytes) -> None:
        """Publish ``payload`` as is where the target consumes: the event types it said it
        consumes (ping), else those its spec gives it, the saga's trigger event first."""
        spec = self._spec()
        triggers = {e.name for e in spec.events if e.role == "trigger"}
        routes: tuple[str, ...] = self._routes.get(self.participant, ())
        if not routes and self.participant in {p.name for p in spec.participants}:
            routes = tuple(spec.participant(self.participant).subscribes)
        routes = tuple(sorted(routes or triggers, key=lambda t: (t not in triggers, t)))
        await self.transport.publish(routes[0] if routes else "unknown", bytes(payload),
                                     {ORIGIN_HEADER: self.origin})

    def _spec(self) -> Any:
        if self._spec_cache is None:
            from sagaspec.spec.sagafile import resolve_spec

            self._spec_cache = resolve_spec(self.design)
        return self._spec_cache

    def _starters(self) -> set[str]:
        """Participants that start sagas (a trigger reaction): who answers ``place_order``."""
        return {p.name for p in self._spec().participants if any(r.kind == "trigger" for r in p.reactions)}

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        """Wait until the system is quiet, then return what it published since the last call.

        Quiet means nothing arrived for ``settle`` seconds and every watched service
        consumer (spawned services, or runners that answered a ping) has nothing pending
        or unacknowledged, twice in a row ``settle`` apart (so an event relayed just
        before the last acknowledgement has reached the observer); it keeps waiting while
        a service is demonstrably busy (at most ``quiet_max`` seconds): a broker's
        redelivery after a crash is slower than any test step's timeout. With nothing to
        watch it waits at least one ``settle`` window and at most ``max(timeout, settle)``.
        """
        return await self._collect(timeout, None)

    async def collect_until(self, timeout: float, done: Callable[[list[Any]], bool]) -> list[dict[str, Any] | RawMessage]:
        """:meth:`collect`, ending as soon as ``done(what arrived so far)`` (the suite's
        model: nothing more can come); ``wait=quiet`` ignores ``done``."""
        return await self._collect(timeout, done if self.config.wait == "model" else None)

    async def _collect(self, timeout: float, done: Callable[[list[Any]], bool] | None) -> list[dict[str, Any] | RawMessage]:
        assert self._arrived is not None, "collect() before start()"
        settle = float(self.config.settle or 0.03)
        start = time.monotonic()
        soft = start + max(timeout, settle)
        exact = bool(self.watched)  # consumers we can ask whether they are done
        hard = start + max(timeout, self.quiet_max) if exact else soft
        idle_since: float | None = None
        judged, satisfied = -1, False  # how many arrivals done() last saw, and its answer
        while True:
            failure = self.transport.failure
            if failure is not None:
                raise failure if isinstance(failure, AdapterError) else BrokerUnavailable(
                    f"{self.name} at {self.config.display}: lost the broker: "
                    f"{type(failure).__name__}: {failure}")
            if done is not None and len(self._seen) != judged:
                judged = len(self._seen)
                satisfied = done(list(self._seen))
            now = time.monotonic()
            if now >= hard:
                break
            if satisfied:
                # The model expects nothing more. Once the watched consumers have
                # acknowledged everything (a service publishes before it acknowledges)
                # and the observer has read the bus up to now, whatever else they
                # published (a service the model did not foresee) is here too.
                # A backlog that misses a message on its way to a consumer (not
                # EXACT_BACKLOG) is asked twice in a row.
                if not exact or await self._services_idle() and (
                        self.transport.EXACT_BACKLOG or await self._services_idle()):
                    await self.transport.sync_observer(timeout=self.config.timeout)
                    if len(self._seen) == judged:
                        break
                    continue
                # Busy: typically its acknowledgement is a round trip behind what it
                # published, so ask again soon.
                self._arrived.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await bounded(self._arrived.wait(), max(0.002, min(settle / 10, hard - now)))
                continue
            # With no consumer to ask (nothing spawned, no runner answered a ping) only
            # silence tells: give the system at least one settle window from the call.
            since = max(self._last_arrival, start if not exact else start - settle)
            if now - since >= settle:
                if not exact:
                    break
                if await self._services_idle():
                    checked = time.monotonic()
                    if idle_since is not None and self._last_arrival < idle_since:
                        break
                    idle_since = checked
                else:
                    idle_since = None
                wait = settle
            else:
                wait = settle - (now - since)
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await bounded(self._arrived.wait(), max(0.005, min(wait, hard - now)))
        out, self._seen = self._seen, []
        return out

    @property
    def watched(self) -> dict[str, tuple[str, ...]]:
        """Services whose consumers tell when the system is quiet: the spawned ones, or
        the runners that answered a ping, with the event types they said they consume."""
        if self.cluster is not None:
            return {s: self._routes.get(s, ()) for s in self.cluster.services}
        return dict(self._routes)

    async def _services_idle(self) -> bool:
        watched = self.watched
        if not watched:
            return True
        if self.cluster is not None:
            self.cluster.check_alive()
            for service in watched:
                if self.cluster.restarting(service):
                    return False  # its messages wait for it
        # One round trip for all: the backlogs (and the runners' status) asked at once.
        asks = [self.transport.backlog(service, routes) for service, routes in watched.items()]
        if not self.transport.EXACT_BACKLOG:
            asks.append(self._busy(set(watched)))
        return not any(await asyncio.gather(*asks))

    async def _busy(self, services: set[str]) -> bool:
        """Whether a runner says it is handling a message (or does not answer)."""
        try:
            replies = await self.control("status", {}, expect=services, timeout=2.0, lost_if_restarted=True)
        except AdapterError:
            return True
        return any(r.get("busy") for r in replies)

    # -- optional hooks ---------------------------------------------------------------
    async def place_order(self, order: dict[str, Any]) -> None:
        """Ask the participant that starts sagas to place ``order``; retried while it is
        restarting (placing is idempotent by ``sagaId``: a repeat answers ``duplicate``)."""
        deadline = time.monotonic() + max(30.0, self.config.timeout)
        starters = sorted(self._starters())
        while True:
            try:
                await self.control("place_order", {"payload": order, "to": starters},
                                   expect=set(starters), timeout=min(5.0, max(2.0, self.config.timeout)),
                                   lost_if_restarted=True)
                return
            except AdapterError as exc:
                if "refused" in str(exc) or time.monotonic() > deadline:
                    raise
                if self.cluster is not None:
                    self.cluster.check_alive()
                    if isinstance(exc, _Unanswerable):  # ask again once it listens again
                        await self.wait_ready(starters, timeout=max(0.0, deadline - time.monotonic()))

    async def setup(self, world: World) -> None:
        expect = set(self.cluster.services) if self.cluster else set(self.responders)
        await self.control("setup", {"world": world.to_json()}, expect=expect or None)

    async def crash(self, participant: str) -> None:
        """SIGKILL ``participant``, restart it armed to die at ``crash_point`` of its next
        message, and return once it answers again."""
        if self.cluster is None or participant not in self.cluster.services:
            raise AdapterError(
                f"cannot crash {participant!r}: the adapter runs "
                f"{', '.join(self.config.spawn) or 'no services'} (use spawn=...)"
            )
        await asyncio.to_thread(self.cluster.kill, participant)
        await asyncio.to_thread(self.cluster.start, participant, crash_at=self.crash_point)
        await self.wait_ready((participant,), timeout=30.0)

    async def inspect(self, service: str, keys: list[str], chunk: int = 200) -> dict[str, Any]:
        """Read state keys of a running reference ``service`` (through its control channel)."""
        values: dict[str, Any] = {}
        for i in range(0, len(keys), chunk):
            replies = await self.control("inspect", {"keys": keys[i:i + chunk], "to": [service]},
                                         expect={service})
            values.update(replies[0].get("values") or {})
        return values

    async def variables(self, saga_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each running service's answer to the ``variables`` op for ``saga_ids``; a
        service that did not answer (or refused) is ``available: false`` with the reason."""
        expect = set(self.cluster.services) if self.cluster is not None else await self.ping()
        try:
            replies = await self.control("variables", {"sagas": list(saga_ids)}, expect=expect or None)
        except AdapterError as exc:
            return {s: {"available": False, "reason": str(exc)} for s in expect}
        return {str(r.get("service")): r for r in replies}

    # -- control channel --------------------------------------------------------------
    async def ping(self, wait: float = 0.5, want: set[str] | None = None) -> set[str]:
        """Services whose runner answers on the control channel within ``wait`` s (sooner
        once all of ``want`` answered)."""
        rid = uuid.uuid4().hex
        self._replies[rid] = []
        event = self._reply_events[rid] = asyncio.Event()
        self._pings.add(rid)
        try:
            await self.transport.control_send({"op": "ping", "id": rid, "from": self.origin})
            deadline = time.monotonic() + wait
            while (remaining := deadline - time.monotonic()) > 0:
                if want and want <= {r.get("service") for r in self._replies[rid]}:
                    break
                event.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await bounded(event.wait(), remaining)
            replies = self._replies.get(rid, [])
            found = {r.get("service", "") for r in replies} - {""}
            for r in replies:
                if r.get("service") and isinstance(r.get("routes"), list):
                    self._routes[str(r["service"])] = tuple(str(x) for x in r["routes"])
        finally:
            self._pings.discard(rid)
            self._replies.pop(rid, None)
            self._reply_events.pop(rid, None)
        self.responders |= found
        return found

    async def wait_ready(self, services: Iterable[str], timeout: float) -> None:
        """Return once every one of ``services`` answers a ping (raise after ``timeout``)."""
        wanted = set(services)
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = await self.ping(wait=0.15, want=wanted)
            except BrokerUnavailable:
                # The broker itself restarting (connection refused while it is down): the
                # services cannot answer yet either; ask again until the deadline.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            if wanted <= found:
                return
            if self.cluster is not None:
                self.cluster.check_alive()
            if time.monotonic() > deadline:
                tail = ""
                if self.cluster is not None:
                    missing = sorted(wanted - found)
                    tail = f"; last log line of {missing[0]}: {self.cluster.log_tail(missing[0], 1)}"
                raise AdapterError(
                    f"services {', '.join(sorted(wanted - found))} did not answer within "
                    f"{timeout:g}s on {self.config.display}{tail}"
                )

    async def control(
        self, op: str, payload: dict[str, Any], *, expect: set[str] | None,
        timeout: float | None = None, lost_if_restarted: bool = False,
    ) -> list[dict[str, Any]]:
        """Send a control command and wait for an answer from every expected service.

        ``lost_if_restarted``: raise :class:`_Unanswerable` as soon as an expected spawned
        service that has not answered was not consuming when the command went out, or has
        been restarted since (a control command is not redelivered: no answer can come)."""
        rid = uuid.uuid4().hex
        self._replies[rid] = []
        event = self._reply_events[rid] = asyncio.Event()
        limit = timeout if timeout is not None else max(10.0, self.config.timeout)
        deadline = time.monotonic() + limit
        cluster = self.cluster if lost_if_restarted and expect else None
        # A launcher that tells processes apart (optional: the Launcher protocol does not ask it).
        pid_of = getattr(cluster, "pid", None)
        ready = getattr(cluster, "ready", None)
        sent = ({s: (pid_of(s), ready(s)) for s in expect if s in cluster.services}
                if cluster is not None and pid_of is not None and ready is not None else {})
        try:
            await self.transport.control_send({"op": op, "id": rid, "from": self.origin, **payload})
            while True:
                replies = self._replies[rid]
                got = {r.get("service") for r in replies}
                errors = [r for r in replies if r.get("error")]
                if errors:
                    raise AdapterError(f"{errors[0].get('service')} refused {op}: {errors[0]['error']}")
                if (expect and expect <= got) or (not expect and replies):
                    return replies
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    missing = ", ".join(sorted((expect or {"any service"}) - got))
                    raise AdapterError(
                        f"no answer to {op} from {missing} within {limit:g}s on "
                        f"{self.config.display} (are the reference runners running?)"
                    )
                if sent:
                    lost = sorted(s for s, (pid, up) in sent.items()
                                  if s not in got and (not up or pid_of(s) != pid))
                    if lost:
                        raise _Unanswerable(f"{', '.join(lost)} restarted (or was not yet consuming) "
                                            f"before answering {op} on {self.config.display}")
                    # The supervisor tells no one of a restart: look again soon.
                    remaining = min(remaining, 0.02)
                event.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await bounded(event.wait(), remaining)
        finally:
            self._replies.pop(rid, None)
            self._reply_events.pop(rid, None)

    async def _on_control(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "reply":
            rid = str(message.get("id"))
            bucket = self._replies.get(rid)
            if bucket is not None:
                bucket.append(message)
                event = self._reply_events.get(rid)
                if event is not None:
                    event.set()
        elif op == "ready":
            # A runner that just started consuming says so unasked: every ping waiting
            # counts it as an answer (a service started after a ping went out missed it).
            for rid in self._pings:
                self._replies[rid].append(message)
                self._reply_events[rid].set()
        elif op == "crashed":
            # A service raised while handling a message: a finding, reported like the
            # in-process adapter does.
            try:
                payload = base64.b64decode(str(message.get("payload") or ""))
            except ValueError:
                payload = b""
            self._arrive(RawMessage(payload, str(message.get("service") or ""),
                                    str(message.get("reason") or "consumer crashed")))

    async def _on_message(self, msg: Received) -> None:
        if msg.headers.get(ORIGIN_HEADER) == self.origin:
            return
        if self.decoder is not None:  # a vocabulary mapping reads route, headers and body
            self._arrive(self.decoder(msg))
            return
        decoded = decode_message(msg.body, msg.headers)
        if isinstance(decoded, RawMessage):
            decoded = RawMessage(decoded.payload, source=msg.route, reason=decoded.reason)
        self._arrive(decoded)

    def _arrive(self, item: dict[str, Any] | RawMessage) -> None:
        for listener in self.listeners:
            listener(item)
        if self.record:
            self._seen.append(item)
        self._last_arrival = time.monotonic()
        if self._arrived is not None:
            self._arrived.set()


def adapter_factory(cls: type[BrokerAdapter]) -> Callable[..., BrokerAdapter]:
    """The ``from_spec(spec, participant=, design=, mutant=, **options)`` of a broker
    adapter class, as :mod:`sagaspec.adapters.spec` calls it."""

    def from_spec(spec: str, *, participant: str | None = "system", design: str | None = None,
                  mutant: str | None = None, **options: Any) -> BrokerAdapter:
        return cls(spec, participant=participant, design=design, mutant=mutant, **options)

    from_spec.__doc__ = f"A :class:`{cls.__name__}` from an adapter string."
    return from_spec
