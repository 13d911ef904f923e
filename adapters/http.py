"""The HTTP adapter and its wire contract (version 1).

A service (or a thin test shim in front of it) that speaks this contract can be tested
with ``sagaspec conform --adapter http://127.0.0.1:8080``; ``sagaspec serve`` hosts the
reference services behind it. All bodies are UTF-8 JSON unless noted; the base URL may
carry a path prefix (``http://host:port/saga``), every path below is relative to it.

Required
    ``POST /events``
        Deliver one event, as the bus would. Body: the event as plain JSON, or a
        CloudEvents 1.0 *structured* event (``Content-Type:
        application/cloudevents+json``), or a *binary* one (``ce-*`` headers, the data as
        the body), both in the mapping of :mod:`sagaspec.spec.cloudevents`. Answer ``2xx`` once the event is
        handled (``202 {"status": "processed"|"duplicate"|"ignored"|"dead-lettered"}``).
        Refusing an invalid message with ``4xx`` is fine; ``5xx`` or a dropped connection
        means the consumer crashed and is reported as such.
    ``GET /published?after=CURSOR&wait=SECONDS``
        What the service published after ``CURSOR`` (an opaque string from the previous
        answer; omit it for "from the start"), oldest first:
        ``{"events": [...], "cursor": "...", "more": false}``. Optional
        ``"errors": [{"source": PARTICIPANT, "reason": "consumer crashed: ...",
        "payload": "<base64>"}]`` reports crashes and anything published that was not a
        JSON event. The server may hold the request up to ``wait`` seconds until there is
        something new (long poll). ``more: true`` means call again at once.

Optional (advertised in ``GET /health``; absent hooks make the suite skip their checks)
    ``GET /health``
        ``{"status": "ok", "contract": 1, "participant": PARTICIPANT|"system",
        "capabilities": ["start_saga", "setup", "knobs", "crash", "reset",
        "deliver_raw", "webhook"], "world": "knobs"|"per-key", "synchronous": true}``.
        ``synchronous`` promises that when a ``POST`` returns, everything it caused has
        been published, so the adapter does not wait for quiet. Without ``/health`` the
        adapter assumes only the two required endpoints and an asynchronous service.
    ``POST /sagas``
        Start a saga (capability ``start_saga``; body: ``{"sagaId": ID, "fields":
        {...}}``, the fields of the saga's trigger event): the participant that starts
        sagas publishes that event.
    ``POST /orders``
        The older form of ``POST /sagas`` (capability ``place_order``; body: ``sagaId``
        and the trigger's fields at the top level), used when ``start_saga`` is not offered.
    ``POST /world``
        Set the world. With capability ``knobs`` (a spec interpreter): the spec's knob
        values per saga and the starting values of shared variables (a stock level),
        ``{"sagas": {ID: {KNOB: VALUE}}, "shared": {"PARTICIPANT.VAR": VALUE}}``; otherwise the per-key JSON form of :class:`~sagaspec.adapters.base.World`.
    ``POST /crash/{participant}``
        Kill and restart a participant (durable state kept, volatile state lost).
    ``POST /reset``
        Forget everything (cursors restart from the beginning).
    ``POST /raw``
        Deliver arbitrary bytes (``application/octet-stream``) as a message.
    ``POST /subscriptions`` / ``DELETE /subscriptions``
        Webhook mode: ``{"url": "http://127.0.0.1:PORT/hook"}`` asks the service to
        ``POST`` every event it publishes, as a structured CloudEvent, to that URL
        (plain JSON for something that is not a valid event; a CloudEvent of ``type``
        ``dev.sagaspec.error`` with ``data`` = an ``errors`` entry for crash reports);
        ``DELETE`` with the same body stops it (without a body: every webhook).

Adapter strings: ``http://HOST:PORT[/prefix][?collect=poll|webhook&format=plain|structured|binary&quiet=0.05&timeout=3&token=T]``.
``format`` is how ``POST /events`` bodies are sent (an invalid event always goes as plain
JSON: it has no CloudEvents form).
Query parameters configure the adapter and are not sent to the service. ``collect=webhook``
makes the adapter host a receiver on a free loopback port and register it through
``POST /subscriptions`` (or pass ``webhook_port=N`` to use a fixed port the service is
configured to call). An unreachable server is reported, naming the URL, within
``connect_timeout`` (3 s by default). ``token=T`` is sent as ``Authorization: Bearer T``;
without it, a loopback URL uses ``$SAGASPEC_SERVE_TOKEN`` or the token ``sagaspec serve``
saved for that port.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from sagaspec.adapters._token import read_token, token_path
from sagaspec.adapters.base import CAPABILITIES, KNOBS, Adapter, RawMessage, World
from sagaspec.spec.cloudevents import (
    STRUCTURED_CONTENT_TYPE,
    from_binary,
    from_cloudevent,
    to_binary,
    to_cloudevent,
)

from sagaspec.errors import AdapterError, SchemaError, UsageError

__all__ = [
    "HttpAdapter",
    "WebhookReceiver",
    "decode_published",
    "decode_item",
    "from_spec",
    "CONTRACT_VERSION",
    "ERROR_TYPE",
    "token_path",
    "read_token",
]

CONTRACT_VERSION = 1


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


#: CloudEvents type of a crash report pushed to a webhook (``data`` = an ``errors`` entry).
ERROR_TYPE = "dev.sagaspec.error"


def _is_ce(obj: Any) -> bool:
    return isinstance(obj, dict) and "specversion" in obj


#: Seconds a refused connection is retried when the adapter starts (a service that was
#: started just before may not listen yet); a service that never listens is an error then.
STARTUP_WAIT = 2.0


def decode_published(body: bytes, headers: dict[str, str], source: str) -> dict[str, Any] | RawMessage:
    """One published message as an event dict or a :class:`RawMessage` with the reason.

    Accepts a plain JSON event, a structured CloudEvent (``sagaspec.spec.cloudevents``
    mapping) or a binary CloudEvent (``ce-*`` headers). The event is *not* validated:
    judging it is the oracle's job.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if "ce-specversion" in lower:
        try:
            return from_binary(headers, body, validate=False)
        except SchemaError as exc:
            return RawMessage(body, source, str(exc))
    try:
        obj = json.loads(body)
    except ValueError as exc:
        return RawMessage(body, source, f"not JSON: {exc}")
    return decode_item(obj, source, body)


def decode_item(obj: Any, source: str, body: bytes | None = None) -> dict[str, Any] | RawMessage:
    """A decoded JSON value as an event dict (unwrapping a CloudEvent) or a RawMessage."""
    raw = body if body is not None else json.dumps(obj, default=repr).encode()
    if _is_ce(obj):
        if obj.get("type") == ERROR_TYPE:
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            try:
                payload = base64.b64decode(data.get("payload") or b"")
            except ValueError:
                payload = b""
            return RawMessage(payload, str(data.get("source", "")), str(data.get("reason", "")))
        try:
            return from_cloudevent(obj, validate=False)
        except SchemaError as exc:
            return RawMessage(raw, source, str(exc))
    if isinstance(obj, dict):
        return obj
    return RawMessage(raw, source, f"not a JSON object but {type(obj).__name__}")


class WebhookReceiver:
    """A loopback HTTP endpoint that collects what a service POSTs to it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/hook") -> None:
        self.path = path
        self._items: deque[dict[str, Any] | RawMessage] = deque()
        self._lock = threading.Lock()
        self.last_arrival = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes; without TCP_NODELAY, Nagle plus
            # delayed ACKs add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._accept(body, dict(self.headers))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}{path}"
        # shutdown() waits for the loop to look at its flag: every 0.05 s, not socketserver's 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="sagaspec-webhook",
                                        daemon=True)
        self._thread.start()

    def _accept(self, body: bytes, headers: dict[str, str]) -> None:
        item = decode_published(body, headers, "webhook")
        with self._lock:
            self._items.append(item)
            self.last_arrival = time.monotonic()

    def take(self) -> list[dict[str, Any] | RawMessage]:
        with self._lock:
            out = list(self._items)
            self._items.clear()
            return out

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HttpAdapter(Adapter):
    """Drive a service through the HTTP wire contract (see the module docstring)."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        participant: str | None = None,
        collect: str = "poll",
        quiet: float = 0.05,
        connect_timeout: float = 3.0,
        request_timeout: float = 30.0,
        webhook_port: int = 0,
        deliver_format: str = "plain",
        token: str | None = None,
        design: Any = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdapterError(f"invalid HTTP adapter URL {url!r}; expected http://HOST:PORT[/prefix]")
        if deliver_format not in ("plain", "structured", "binary"):
            raise AdapterError(f"invalid format {deliver_format!r} for {url}; expected plain, structured or binary")
        if collect not in ("poll", "webhook"):
            raise AdapterError(f"invalid collect mode {collect!r} for {url}; expected poll or webhook")
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.participant = participant
        self.mode = collect
        self.quiet = float(quiet)
        self.connect_timeout = float(connect_timeout)
        self.request_timeout = float(request_timeout)
        self.webhook_port = int(webhook_port)
        self.deliver_format = deliver_format
        #: The saga (a design name, a spec file or a loaded spec) whose events are valid:
        #: a 4xx to one of them is reported as a refusal of a valid event.
        self.design = design
        # The token `sagaspec serve` requires on POST/DELETE: given, or the one the server
        # on this loopback port saved for its user.
        # Looked up when a request is sent, not here: a conform started together with its
        # server may build the adapter before the server has saved its token.
        self._token = token
        self._token_port = (parts.port if token is None and parts.port
                            and parts.hostname in ("127.0.0.1", "localhost", "::1") else None)
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._health: dict[str, Any] | None = None
        self._cursor: str | None = None
        self._reports: list[RawMessage] = []
        self._webhook: WebhookReceiver | None = None

    def __repr__(self) -> str:
        return f"<HttpAdapter {self.url} collect={self.mode}>"

    # -- connection ----------------------------------------------------------------------
    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.request_timeout, connect=self.connect_timeout)

    def _client_for_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            # A client's connection pool belongs to one event loop.
            self._client = httpx.AsyncClient(timeout=self._timeout(), follow_redirects=False)
            self._client_loop = loop
        return self._client

    def _headers(self) -> dict[str, str]:
        if self._token is None and self._token_port is not None:
            self._token = os.environ.get("SAGASPEC_SERVE_TOKEN") or read_token(self._token_port)
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _unreachable(self, exc: Exception) -> AdapterError:
        kind = type(exc).__name__
        detail = str(exc) or kind
        return AdapterError(f"cannot reach the service at {self.url}: {_excerpt(detail, 120)} ({kind})")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client = self._client_for_loop()
        try:
            headers = {**self._headers(), **kwargs.pop("headers", {})}
            return await client.request(method, self.url + path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise self._unreachable(exc) from None
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _parse_health(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 404:
            return {"capabilities": [], "synchronous": False}
        if response.status_code >= 400:
            raise AdapterError(f"GET {self.url}/health answered HTTP {response.status_code}: "
                               f"{_excerpt(response.text)}")
        try:
            health = response.json()
        except ValueError:
            raise AdapterError(f"GET {self.url}/health did not answer JSON") from None
        if not isinstance(health, dict):
            raise AdapterError(f"GET {self.url}/health did not answer a JSON object")
        served = health.get("participant")
        if self.participant and served and self.participant != served:
            raise AdapterError(
                f"the service at {self.url} serves {served!r}, not {self.participant!r}"
                f" (start it with --participant {self.participant})"
            )
        return health

    def _health_blocking(self) -> dict[str, Any]:
        if self._health is None:
            try:
                with httpx.Client(timeout=self._timeout(), headers=self._headers()) as client:
                    response = client.get(self.url + "/health")
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise self._unreachable(exc) from None
            self._health = self._parse_health(response)
        return self._health

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # A caller whose start failed holds no adapter to close: leave no connection
            # (the client's keep-alive socket) or webhook listener open behind it.
            await self.close()
            raise

    async def _start(self) -> None:
        # A service started just before (`sagaspec serve ... &` then `conform`) may not
        # listen yet: a refused connection is retried for STARTUP_WAIT seconds.
        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            try:
                response = await self._client_for_loop().get(self.url + "/health")
                break
            except httpx.ConnectError as exc:
                if time.monotonic() >= deadline:
                    raise self._unreachable(exc) from None
                await asyncio.sleep(0.1)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise self._unreachable(exc) from None
        self._health = self._parse_health(response)
        if self.mode == "webhook" and self._webhook is None:
            self._webhook = WebhookReceiver(port=self.webhook_port)
            if not self.webhook_port:
                r = await self._request("POST", "/subscriptions", json={"url": self._webhook.url})
                if r.status_code >= 400:
                    raise AdapterError(f"the service at {self.url} refused the webhook subscription: "
                                       f"HTTP {r.status_code} {_excerpt(r.text)}")
        # Start counting from now in both modes: a webhook collect checks what arrived
        # against the service's log (see _collect_webhook).
        await self._skip_history()

    async def _skip_history(self) -> None:
        # Start collecting from now: what the service published before the run is not ours.
        while True:
            page = await self._poll(wait=0.0)
            if not page.get("more"):
                return

    async def close(self) -> None:
        if self._webhook is not None:
            if not self.webhook_port and self._client is not None:
                try:
                    await self._request("DELETE", "/subscriptions", json={"url": self._webhook.url})
                except AdapterError:
                    pass
            self._webhook.close()
            self._webhook = None
        if self._client is not None:
            try:
                await self._client.aclose()
            except RuntimeError:  # the loop that owned it is gone
                pass
            self._client = None

    @property
    def capabilities(self) -> frozenset[str]:
        declared = set(self._health_blocking().get("capabilities") or [])
        if "place_order" in declared:
            declared.add("start_saga")  # through POST /orders
        return frozenset(c for c in declared if c in CAPABILITIES or c == KNOBS)

    @property
    def world_knobs(self) -> bool:  # type: ignore[override]
        """The server said its ``POST /world`` takes the spec's knob values."""
        return KNOBS in (self._health_blocking().get("capabilities") or [])

    @property
    def synchronous(self) -> bool:
        return bool(self._health_blocking().get("synchronous"))

    # -- the protocol --------------------------------------------------------------------
    async def deliver(self, event: dict[str, Any]) -> None:
        if self._health is None:
            await self.start()
        body, headers = self._encode(event)
        r = await self._request("POST", "/events", content=body, headers=headers)
        self._check_delivery(r, event)

    def _encode(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The request body and headers of a delivery in the configured format.

        An event that is not valid cannot be a CloudEvent of our mapping; it is sent as
        plain JSON, which is what a broken producer would put on the wire.
        """
        if self.deliver_format != "plain":
            try:
                if self.deliver_format == "structured":
                    ce = to_cloudevent(event, "/sagaspec/conformance")
                    return json.dumps(ce).encode(), {"Content-Type": STRUCTURED_CONTENT_TYPE}
                headers, body = to_binary(event, "/sagaspec/conformance")
                return body, headers
            except SchemaError:
                pass
        try:
            return json.dumps(event, allow_nan=False).encode(), {"Content-Type": "application/json"}
        except (TypeError, ValueError) as exc:
            raise AdapterError(f"cannot send a non-JSON event to {self.url}: {exc}") from None

    def _check_delivery(self, r: httpx.Response, event: Any) -> None:
        if r.status_code < 400:
            return
        text = f"HTTP {r.status_code}: {_excerpt(r.text)}"
        payload = json.dumps(event, default=repr).encode() if not isinstance(event, bytes) else event
        if r.status_code >= 500:
            self._reports.append(RawMessage(payload, self.participant or "service", f"consumer crashed: {text}"))
        elif self._valid(event, self.design):
            self._reports.append(RawMessage(payload, self.participant or "service",
                                            f"rejected a valid event: {text}"))
        # A 4xx for an invalid message is a legitimate refusal.

    @staticmethod
    def _valid(event: Any, design: Any = None) -> bool:
        if not isinstance(event, dict):
            return False
        if design is not None:  # the saga's own schemas (any spec, not only the order saga)
            from sagaspec.spec.sagafile import resolve_spec
            from sagaspec.spec.schemas import validate_event

            try:
                spec = resolve_spec(design) if isinstance(design, str) else design
            except Exception:
                spec = None
            if spec is not None:
                return not validate_event(event, spec=spec)
        from sagaspec.spec.events import parse_event

        try:
            parse_event(event)
        except Exception:
            return False
        return True

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        if self._health is None:
            await self.start()
        out: list[dict[str, Any] | RawMessage] = list(self._reports)
        self._reports.clear()
        if self.mode == "webhook":
            out.extend(await self._collect_webhook(timeout))
        else:
            out.extend(await self._collect_poll(timeout))
        return out

    async def _collect_webhook(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        assert self._webhook is not None
        deadline = time.monotonic() + timeout
        if self._health and self._health.get("synchronous"):
            # A synchronous service answers once its subscribers have the events, unless a
            # delivery outlasted the service's own timeout (a loaded machine): then it
            # delivers in the background. Its log says how many items are due; wait for
            # those (up to the timeout) instead of trusting that none is late.
            due = 0
            while True:
                page = await self._poll(0.0)
                due += len(self._items(page))
                if not page.get("more"):
                    break
            got = self._webhook.take()
            while len(got) < due and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
                got.extend(self._webhook.take())
            return got
        got: list[dict[str, Any] | RawMessage] = []
        while True:
            got.extend(self._webhook.take())
            now = time.monotonic()
            quiet_for = now - max(self._webhook.last_arrival, deadline - timeout)
            if quiet_for >= self.quiet or now >= deadline:
                got.extend(self._webhook.take())
                return got
            await asyncio.sleep(min(self.quiet / 4, max(0.0, deadline - now)))

    async def _poll(self, wait: float) -> dict[str, Any]:
        params: dict[str, str] = {"wait": f"{wait:.3f}"}
        if self._cursor is not None:
            params["after"] = self._cursor
        r = await self._request("GET", "/published", params=params)
        if r.status_code >= 400:
            raise AdapterError(f"GET {self.url}/published answered HTTP {r.status_code}: {_excerpt(r.text)}")
        try:
            page = r.json()
        except ValueError:
            raise AdapterError(f"GET {self.url}/published did not answer JSON") from None
        if not isinstance(page, dict) or not isinstance(page.get("events", []), list):
            raise AdapterError(f"GET {self.url}/published answered no 'events' list")
        if page.get("cursor") is not None:
            self._cursor = str(page["cursor"])
        return page

    def _items(self, page: dict[str, Any]) -> list[dict[str, Any] | RawMessage]:
        source = self.participant or "service"
        items: list[dict[str, Any] | RawMessage] = [decode_item(e, source) for e in page.get("events") or []]
        for err in page.get("errors") or []:
            err = err if isinstance(err, dict) else {"reason": str(err)}
            try:
                payload = base64.b64decode(err.get("payload") or b"")
            except ValueError:
                payload = str(err.get("payload")).encode()
            items.append(RawMessage(payload, str(err.get("source") or ""), str(err.get("reason") or "")))
        return items

    async def _collect_poll(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        synchronous = bool(self._health and self._health.get("synchronous"))
        deadline = time.monotonic() + timeout
        got: list[dict[str, Any] | RawMessage] = []
        last_new = time.monotonic()
        while True:
            remaining = deadline - time.monotonic()
            wait = 0.0 if synchronous else max(0.0, min(self.quiet, remaining))
            page = await self._poll(wait)
            new = self._items(page)
            got.extend(new)
            if page.get("more"):
                continue
            if synchronous:
                return got
            now = time.monotonic()
            if new:
                last_new = now
            if now - last_new >= self.quiet or now >= deadline:
                return got
            if not new and wait == 0.0:
                await asyncio.sleep(min(self.quiet / 4, max(0.0, deadline - now)))

    # -- optional hooks ------------------------------------------------------------------
    async def _hook(self, hook: str, path: str, **kwargs: Any) -> None:
        if self._health is None:
            await self.start()
        if hook not in self.capabilities:
            raise NotImplementedError(f"the service at {self.url} does not offer {hook}")
        r = await self._request("POST", path, **kwargs)
        if r.status_code >= 500 and hook == "deliver_raw":
            self._reports.append(RawMessage(kwargs.get("content", b""), self.participant or "service",
                                            f"consumer crashed: HTTP {r.status_code}: {_excerpt(r.text)}"))
            return
        if r.status_code >= 400 and hook != "deliver_raw":
            raise AdapterError(f"POST {self.url}{path} answered HTTP {r.status_code}: {_excerpt(r.text)}")

    async def start_saga(self, payload: dict[str, Any]) -> None:
        declared = (self._health or self._health_blocking()).get("capabilities") or []
        if "start_saga" not in declared and "place_order" in declared:
            await self.place_order(payload)  # a server that knows only POST /orders
            return
        fields = {k: v for k, v in payload.items() if k != "sagaId"}
        await self._hook("start_saga", "/sagas", json={"sagaId": payload.get("sagaId"), "fields": fields})

    async def place_order(self, order: dict[str, Any]) -> None:
        await self._hook("place_order", "/orders", json=order)

    async def deliver_raw(self, payload: bytes) -> None:
        await self._hook("deliver_raw", "/raw", content=bytes(payload),
                         headers={"Content-Type": "application/octet-stream"})

    async def setup(self, world: World) -> None:
        if not isinstance(world, World):
            body: Any = world
        elif self.world_knobs:
            body = world.knob_values()
        else:
            body = world.to_json()
        await self._hook("setup", "/world", json=body)

    async def crash(self, participant: str) -> None:
        await self._hook("crash", f"/crash/{participant}")

    async def reset(self) -> None:
        await self._hook("reset", "/reset")
        self._cursor = None
        self._reports.clear()
        if self._webhook is not None:
            self._webhook.take()


def _float(value: Any, name: str, spec: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AdapterError(f"invalid {name}={value!r} in adapter {spec!r}; expected a number") from None


def from_spec(spec: str, **options: Any) -> HttpAdapter:
    """``http://HOST:PORT[/prefix][?collect=webhook&quiet=S&timeout=S&webhook_port=N]``."""
    parts = urlsplit(spec)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if not parts.hostname:
        raise AdapterError(f"invalid HTTP adapter URL {spec!r}; expected http://HOST:PORT")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise AdapterError(f"invalid port in adapter URL {spec!r}") from None
    known = {"collect", "format", "quiet", "timeout", "webhook_port", "token"}
    unknown = set(query) - known
    if unknown:
        raise AdapterError(f"unknown option(s) {', '.join(sorted(unknown))} in adapter {spec!r}; "
                           f"expected {', '.join(sorted(known))}")
    if options.get("mutant"):
        # The service at the URL runs whatever it was started with: a mutant asked for here
        # would be silently ignored, and the unmutated service reported as the mutant.
        raise UsageError(f"--mutant {options['mutant']}: an HTTP service runs what it was started "
                         "with; serve the mutant (sagaspec serve --mutant NAME) and test that URL, "
                         "or run it in-process (--adapter inprocess:)")
    participant = options.get("participant")
    return HttpAdapter(
        base,
        participant=participant if participant not in (None, "") else None,
        collect=query.get("collect", options.get("collect", "poll")),
        quiet=_float(query.get("quiet", options.get("quiet", 0.05)), "quiet", spec),
        connect_timeout=_float(query.get("timeout", options.get("connect_timeout", 3.0)), "timeout", spec),
        webhook_port=int(_float(query.get("webhook_port", 0), "webhook_port", spec)),
        deliver_format=query.get("format", options.get("format", "plain")),
        token=query.get("token") or None,
        design=options.get("design"),
    )
