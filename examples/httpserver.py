"""Host a reference target behind the HTTP wire contract (``sagaspec serve``).

The contract is documented in :mod:`sagaspec.adapters.http`. This server wraps any
in-process target (:class:`~sagaspec.examples.system.ReferenceSystem`,
:class:`~sagaspec.examples.system.SingleService`, or a
:class:`~sagaspec.adapters.inprocess.ServiceTarget` around another team's service): each request runs the target under one
lock and, before answering, appends everything the target published to the log that
``GET /published`` serves and pushes it to registered webhooks, so the server is
*synchronous* in the contract's sense.

Built on the standard library's :class:`~http.server.ThreadingHTTPServer` (HTTP/1.1
keep-alive): no extra dependency, and the services are synchronous anyway. It binds to
loopback only.

Hardening, since any local program or web page can reach a loopback port:

* a per-run *token* (``token="auto"``: a fresh random one) is required on every
  ``POST`` and ``DELETE`` as ``Authorization: Bearer TOKEN``; it is saved, readable by
  the current user only, in :func:`token_path` so the HTTP adapter finds it;
* the ``Host`` header must name a loopback host (no DNS rebinding) and an ``Origin``
  header, when a browser sends one, this server itself (no cross-site requests);
* a body larger than the message limit is refused before it is read (413), a request
  body must arrive within :data:`READ_TIMEOUT` seconds, JSON bodies are parsed within
  the limits of :mod:`sagaspec.spec._jsonlimits`;
* webhooks must be plain ``http://`` loopback URLs without user info, and are delivered
  by one thread per subscriber from a bounded queue with a timeout, so a slow
  subscriber stalls nobody; the listen backlog is :data:`BACKLOG`.

>>> from sagaspec.examples.system import make_target
>>> server = SagaHTTPServer(make_target("payment"), port=0).start()
>>> server.url.startswith("http://127.0.0.1:")
True
>>> server.close()
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import inspect
import json
import os
import queue
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sagaspec.adapters._token import read_token, token_path
from sagaspec.adapters.base import RawMessage, World
from sagaspec.spec._jsonlimits import MESSAGE_LIMITS, JSONLimitError, check_depth, loads
from sagaspec.spec.cloudevents import (
    STRUCTURED_CONTENT_TYPE,
    from_binary,
    from_cloudevent,
    to_cloudevent,
)

from sagaspec.errors import AdapterError, SagaspecError, SchemaError, UsageError

__all__ = ["SagaHTTPServer", "LOOPBACK_HOSTS", "check_webhook", "token_path", "read_token"]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

#: Seconds a client has to send a request's headers and body.
READ_TIMEOUT = 10.0
#: Listen backlog (the standard library's default is 5).
BACKLOG = 128
#: Events waiting for one webhook subscriber before new ones are dropped (and said so).
WEBHOOK_QUEUE = 1000
#: Seconds one webhook delivery may take.
WEBHOOK_TIMEOUT = 2.0
#: Seconds between the serving loop's looks at a shutdown request (socketserver's 0.5 s
#: made each close() wait up to that long).
SHUTDOWN_POLL = 0.05


def check_webhook(url: Any) -> str:
    """``url`` if it is a plain ``http://`` loopback URL, else :class:`UsageError`.

    Parsed, not prefix-matched: ``http://127.0.0.1@127.0.0.2/`` is a URL of host
    127.0.0.2 with user info and is refused.

    >>> check_webhook("http://127.0.0.1:9000/hook")
    'http://127.0.0.1:9000/hook'
    >>> check_webhook("http://127.0.0.1@127.0.0.2/")
    Traceback (most recent call last):
    ...
    sagaspec.errors.UsageError: webhook 'http://127.0.0.1@127.0.0.2/': user info is not allowed; expected http://127.0.0.1:PORT/PATH (loopback only)
    """
    expected = "expected http://127.0.0.1:PORT/PATH (loopback only)"
    if not isinstance(url, str) or len(url) > 2000:
        raise UsageError(f"webhook: {expected}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise UsageError(f"webhook {url!r}: not a URL; {expected}") from None
    if parts.scheme != "http":
        raise UsageError(f"webhook {url!r}: scheme {parts.scheme or '(none)'!r}; {expected}")
    if "@" in parts.netloc:
        raise UsageError(f"webhook {url!r}: user info is not allowed; {expected}")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise UsageError(f"webhook {url!r}: host {parts.hostname!r} is not loopback; {expected}")
    return url

#: Most items ``GET /published`` returns at once (``more: true`` beyond).
PAGE_SIZE = 1000
#: Longest long-poll ``wait`` the server honours, in seconds.
MAX_WAIT = 30.0


class _Reply(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class SagaHTTPServer:
    """The wire contract's server side around one target."""

    def __init__(
        self,
        target: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        participant: str = "system",
        design: str | None = None,
        mutant: str | None = None,
        webhooks: tuple[str, ...] = (),
        quiet_log: bool = True,
        token: str | None = "auto",
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise UsageError(f"refusing to listen on {host!r}: sagaspec serve binds to loopback only "
                             f"({', '.join(LOOPBACK_HOSTS)})")
        self.target = target
        self.participant = participant
        self.design = design or getattr(target, "design", None)
        self.mutant = mutant if mutant is not None else getattr(target, "mutant", None)
        self.quiet_log = quiet_log
        self._lock = threading.Lock()  # the target is single-threaded
        self._cond = threading.Condition()
        self._log: list[tuple[str, Any]] = []  # ("event", dict) | ("error", dict)
        self._epoch = 0  # bumped by /reset so stale cursors are detected
        self._webhooks: list[str] = [check_webhook(u) for u in webhooks]
        self._senders: dict[str, _WebhookSender] = {}
        #: ``Authorization: Bearer`` token required on POST and DELETE (None: no auth).
        self.token = secrets.token_urlsafe(24) if token == "auto" else token
        self.token_file: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0
        self.published = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A socket timeout on reads: a client that stops sending is dropped.
            timeout = read_timeout
            # Headers and body leave in separate writes; without TCP_NODELAY, Nagle plus
            # delayed ACKs add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                server._dispatch(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._dispatch(self, "POST")

            def do_DELETE(self) -> None:  # noqa: N802
                server._dispatch(self, "DELETE")

            def log_message(self, fmt: str, *args: Any) -> None:
                if not server.quiet_log:
                    sys.stderr.write(f"{self.address_string()} - {fmt % args}\n")

        family_host = "::1" if host == "::1" else ("127.0.0.1" if host == "localhost" else host)
        try:
            if family_host == "::1":
                import socket

                class V6Server(_Server):
                    address_family = socket.AF_INET6

                self._httpd: ThreadingHTTPServer = V6Server((family_host, port), Handler,
                                                            bind_and_activate=False)
            else:
                self._httpd = _Server((family_host, port), Handler, bind_and_activate=False)
            try:
                self._httpd.server_bind()
                # The token file is written before the socket listens: a client that can
                # connect always finds it (one racing the start read no token and got 401).
                self.port = self._httpd.server_address[1]
                if self.token is not None:
                    self._save_token()
                self._httpd.server_activate()
            except OSError:
                self._httpd.server_close()
                raise
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._httpd.daemon_threads = True
        bound = self._httpd.server_address[1]
        shown = f"[{family_host}]" if ":" in family_host else family_host
        self.url = f"http://{shown}:{bound}"
        self.port = bound
        self._hosts = {f"{h}:{bound}" for h in ("127.0.0.1", "localhost", "[::1]")} | {
            "127.0.0.1", "localhost", "[::1]"}
        self._origins = {f"http://{h}" for h in self._hosts}
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> SagaHTTPServer:
        """Serve in a background thread; returns ``self``."""
        self._serving = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(SHUTDOWN_POLL,),
                                        name="sagaspec-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._httpd.serve_forever(SHUTDOWN_POLL)

    def _save_token(self) -> None:
        path = token_path(self.port)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(self.token or "")
            self.token_file = path
        except OSError as exc:  # the token is printed anyway: clients can pass it
            sys.stderr.write(f"sagaspec serve: cannot save the token in {path}: {exc.strerror}\n")

    def close(self) -> None:
        if self._serving:  # shutdown() waits for a serve_forever loop: only if one runs
            self._httpd.shutdown()
            self._serving = False
        self._httpd.server_close()
        senders = list(self._senders.values())
        self._senders.clear()
        for sender in senders:
            sender.stop()
        for sender in senders:
            sender.close()
        if self.token_file is not None:
            try:
                if self.token_file.read_text(encoding="ascii") == self.token:
                    self.token_file.unlink()
            except OSError:
                pass
        if self._loop is not None:
            self._loop.close()
        closer = getattr(self.target, "close", None)
        if callable(closer):
            closer()

    # -- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What the adapter learns about this target: its hooks and the form of its world."""
        own = set(getattr(self.target, "capabilities", ()))
        caps = own | {"webhook"}
        if own & {"start", "place_order"}:
            caps.add("start_saga")  # POST /sagas
        knobs = bool(getattr(self.target, "world_knobs", False))
        if knobs:
            caps.add("knobs")  # POST /world takes the spec's knob values (and shared variables)
        return {
            "status": "ok",
            "contract": 1,
            "participant": self.participant,
            "design": self.design,
            "mutant": self.mutant,
            "capabilities": sorted(caps),
            "world": "knobs" if knobs else "per-key",
            "synchronous": True,
        }

    # -- request handling ------------------------------------------------------------------
    def _refuse(self, h: BaseHTTPRequestHandler, method: str) -> tuple[int, str] | None:
        """Why a request is refused before its body is read (status, message), or None."""
        host = (h.headers.get("Host") or "").strip().lower()
        if host and host not in self._hosts:
            return 403, f"Host {host!r} is not this loopback server"
        origin = (h.headers.get("Origin") or "").strip().lower()
        if origin and origin not in self._origins:
            return 403, f"Origin {origin!r} is not allowed (cross-site request)"
        if method in ("POST", "DELETE") and self.token is not None:
            given = h.headers.get("Authorization") or ""
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                                      self.token.encode()):
                return 401, ("missing or wrong token: send 'Authorization: Bearer TOKEN' "
                             "(printed by sagaspec serve at start)")
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            return 411, "chunked bodies are not accepted: send Content-Length"
        text = (h.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            return 400, f"Content-Length {text[:40]!r}: expected a non-negative integer"
        if int(text) > MESSAGE_LIMITS.max_bytes:
            return 413, (f"body of {int(text):,} bytes is larger than {MESSAGE_LIMITS.max_bytes:,} "
                         f"(limit max_bytes={MESSAGE_LIMITS.max_bytes})")
        return None

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path.rstrip("/") or "/"
        refused = self._refuse(h, method)
        if refused is not None:
            h.close_connection = True  # the body, if any, is never read
            self._answer(h, refused[0], {"error": refused[1]})
            return
        length = int((h.headers.get("Content-Length") or "0").strip())
        try:
            body = h.rfile.read(length) if length else b""
        except TimeoutError:
            h.close_connection = True
            return
        if len(body) < length:  # the client went away mid-body
            h.close_connection = True
            return
        try:
            status, payload = self._route(method, path, dict(parse_qsl(parts.query)), h, body)
        except _Reply as reply:
            status, payload = reply.status, reply.body
        except SagaspecError as exc:
            status, payload = 400, {"error": str(exc)}
        except Exception as exc:  # a bug in the server or a target hook: 500, keep serving
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        self._answer(h, status, payload)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(status)
        if status == 401:
            h.send_header("WWW-Authenticate", "Bearer")
        if h.close_connection:
            h.send_header("Connection", "close")
        if data:
            h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if data:
            h.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, str], h: BaseHTTPRequestHandler,
               body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/health":
            return 200, self.health()
        if method == "GET" and path == "/published":
            return 200, self._published(query)
        if method == "POST" and path == "/events":
            # ?to=PARTICIPANT (a spec target): that participant alone, the caller is the bus.
            self._deliver(h, body, query.get("to"))
            return 202, {"status": "accepted"}
        if method == "POST" and path == "/sagas":
            self._start_saga(self._json(body, "saga"))
            return 202, {"status": "accepted"}
        if method == "POST" and path == "/raw":
            self._run("deliver_raw", body)
            return 202, {"status": "accepted"}
        if method == "POST" and path == "/orders":
            self._run("place_order", self._json(body, "order"))
            return 202, {"status": "accepted"}
        if method == "POST" and path == "/world":
            data = self._json(body, "world")
            if not isinstance(data, dict):
                raise _Reply(400, {"error": "world: expected a JSON object"})
            if getattr(self.target, "world_knobs", False):  # a spec's knob values
                self._run("setup", data)
                return 204, None
            try:
                world = World.from_json(data)
            except (TypeError, ValueError) as exc:
                raise _Reply(400, {"error": f"world: {exc}"}) from None
            self._run("setup", world)
            return 204, None
        if method == "POST" and path.startswith("/crash/"):
            point = query.get("point")
            if point is not None and not getattr(self.target, "world_knobs", False):
                raise _Reply(400, {"error": "point: this service crashes at the point it was started with "
                                            "(sagaspec serve --crash-point)"})
            self._run("crash", path.split("/", 2)[2], *([point] if point is not None else []))
            return 204, None
        if method == "POST" and path == "/reset":
            self._run("reset")
            with self._cond:
                self._log.clear()
                self._epoch += 1
                self._cond.notify_all()
            return 204, None
        if path == "/subscriptions" and method == "POST":
            data = self._json(body, "subscription")
            url = data.get("url") if isinstance(data, dict) else None
            try:
                check_webhook(url)
            except UsageError as exc:
                raise _Reply(400, {"error": f"subscription: {exc}"}) from None
            with self._lock:
                if url not in self._webhooks:
                    self._webhooks.append(url)
            return 201, {"subscribed": url}
        if path == "/subscriptions" and method == "DELETE":
            url = None
            if body:
                data = self._json(body, "subscription")
                url = data.get("url") if isinstance(data, dict) else None
            with self._lock:
                gone = list(self._webhooks) if url is None else [url]
                for u in gone:
                    if u in self._webhooks:
                        self._webhooks.remove(u)
                    # What was queued for it is not posted any more (a re-subscription
                    # starts afresh); a POST already in flight may finish.
                    sender = self._senders.pop(u, None) if isinstance(u, str) else None
                    if sender is not None:
                        sender.stop()
            return 204, None
        raise _Reply(404, {"error": f"no route {method} {path}"})

    def _start_saga(self, request: Any) -> None:
        """``POST /sagas``: a spec target's ``start``; for a target with only
        ``place_order`` (the order saga's services), the trigger's payload with its sagaId."""
        if "start" in set(getattr(self.target, "capabilities", ())):
            self._run("start", request)
            return
        if not isinstance(request, dict) or not isinstance(request.get("sagaId"), str) \
                or not isinstance(request.get("fields", {}), dict):
            raise _Reply(400, {"error": 'saga: expected {"sagaId": "...", "fields": {...}}'})
        self._run("place_order", {**request.get("fields", {}), "sagaId": request["sagaId"]})

    @staticmethod
    def _json(body: bytes, what: str) -> Any:
        try:
            return loads(body, MESSAGE_LIMITS)
        except JSONLimitError as exc:
            raise _Reply(400, {"error": f"{what}: {exc}"}) from None
        except ValueError:
            raise _Reply(400, {"error": f"{what}: body is not JSON"}) from None

    def _deliver(self, h: BaseHTTPRequestHandler, body: bytes, to: str | None = None) -> None:
        # The transport unwraps CloudEvents; judging the event itself is the service's job,
        # so anything that does not unwrap is handed over as the raw bytes it was.
        if any(k.lower() == "ce-specversion" for k in h.headers):
            try:
                check_depth(body.decode("utf-8", errors="replace"), MESSAGE_LIMITS)
                event = from_binary(dict(h.headers), body, validate=False)
            except (SchemaError, JSONLimitError):
                self._run(*self._raw_hook(to), body)
                return
            self._run(*self._hook(to), event)
            return
        try:
            obj = loads(body, MESSAGE_LIMITS)
        except ValueError:  # not JSON or beyond a limit: the service judges the bytes
            self._run(*self._raw_hook(to), body)
            return
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == STRUCTURED_CONTENT_TYPE or (isinstance(obj, dict) and "specversion" in obj):
            try:
                obj = from_cloudevent(obj, validate=False)
            except SchemaError:
                self._run(*self._raw_hook(to), body)
                return
        if isinstance(obj, dict):
            self._run(*self._hook(to), obj)
        else:
            self._run(*self._raw_hook(to), body)

    @staticmethod
    def _hook(to: str | None) -> tuple[str, ...]:
        return ("deliver_to", to) if to else ("deliver",)

    @staticmethod
    def _raw_hook(to: str | None) -> tuple[str, ...]:
        return ("deliver_to", to) if to else ("deliver_raw",)

    def _run(self, hook: str, *args: Any) -> None:
        caps = getattr(self.target, "capabilities", None)
        if hook not in ("deliver",) and caps is not None and hook not in caps:
            raise _Reply(404, {"error": f"this service ({self.participant}) does not offer {hook}"})
        with self._lock:
            try:
                result = getattr(self.target, hook)(*args)
                if inspect.isawaitable(result):
                    # An async target (e.g. a wrapped async service): run it on the server's
                    # private loop; calls are serialised by the lock, never concurrent.
                    if self._loop is None:
                        self._loop = asyncio.new_event_loop()
                    self._loop.run_until_complete(result)
            except AdapterError as exc:
                raise _Reply(404 if hook == "crash" else 400, {"error": str(exc)}) from None
            finally:
                if hook in ("deliver", "deliver_raw", "deliver_to"):
                    self.delivered += 1
                self._drain_locked()

    def _drain_locked(self) -> None:
        entries: list[tuple[str, Any]] = []
        for item in self.target.drain():
            if isinstance(item, RawMessage):
                entries.append(("error", {"source": item.source, "reason": item.reason,
                                          "payload": base64.b64encode(item.payload).decode("ascii")}))
            else:
                entries.append(("event", item))
        if not entries:
            return
        self.published += sum(1 for kind, _ in entries if kind == "event")
        with self._cond:
            self._log.extend(entries)
            self._cond.notify_all()
        if self._webhooks:
            self._push(entries)

    def _push(self, entries: list[tuple[str, Any]]) -> None:
        from sagaspec.adapters.http import ERROR_TYPE

        for kind, item in entries:
            if kind == "error":
                body: Any = {"specversion": "1.0", "id": f"error-{time.monotonic_ns()}",
                             "type": ERROR_TYPE, "source": f"/sagaspec/{item['source'] or 'serve'}",
                             "data": item}
                ctype = STRUCTURED_CONTENT_TYPE
            else:
                try:
                    # A spec target's events map through its spec (the order saga's: the design).
                    body, ctype = (to_cloudevent(item, design=self.design or "corrected",
                                                 spec=getattr(self.target, "spec", None)),
                                   STRUCTURED_CONTENT_TYPE)
                except SchemaError:
                    # Not a valid event (a mutant's bug): push it as it is, plain JSON.
                    body, ctype = item, "application/json"
            data = json.dumps(body).encode()
            for url in list(self._webhooks):
                sender = self._senders.get(url)
                if sender is None:
                    sender = self._senders[url] = _WebhookSender(url)
                sender.send(data, ctype)
        # Synchronous, as /health promises: answer once subscribers have the events. A
        # subscriber that misses the timeout is waited for no more until it catches up.
        for url in list(self._webhooks):
            sender = self._senders.get(url)
            if sender is not None and not sender.lagging and not sender.wait_idle(WEBHOOK_TIMEOUT):
                sender.lagging = True
                sys.stderr.write(f"sagaspec serve: webhook {url} did not answer within "
                                 f"{WEBHOOK_TIMEOUT:g}s; delivering to it in the background\n")

    def _published(self, query: dict[str, str]) -> dict[str, Any]:
        after = query.get("after")
        try:
            asked = float(query.get("wait", "0") or 0)
        except ValueError:
            asked = float("nan")
        if not 0 <= asked < float("inf"):  # NaN, negative or infinite
            raise _Reply(400, {"error": f"wait: expected seconds (0 to {MAX_WAIT:g}; more waits "
                                        f"{MAX_WAIT:g})"})
        wait = min(MAX_WAIT, asked)
        start = 0
        if after:
            epoch, _, index = after.partition(":")
            try:
                start = int(index) if int(epoch) == self._epoch else 0
            except ValueError:
                raise _Reply(400, {"error": f"after: invalid cursor {after!r}"}) from None
        deadline = time.monotonic() + wait
        with self._cond:
            while len(self._log) <= start and wait > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            start = min(start, len(self._log))
            page = self._log[start:start + PAGE_SIZE]
            end = start + len(page)
            more = end < len(self._log)
            cursor = f"{self._epoch}:{end}"
        return {
            "events": [item for kind, item in page if kind == "event"],
            "errors": [item for kind, item in page if kind == "error"],
            "cursor": cursor,
            "more": more,
        }


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG


class _WebhookSender:
    """Delivers to one webhook from a bounded queue, in its own thread, each POST bounded
    by :data:`WEBHOOK_TIMEOUT`: a slow or dead subscriber delays only itself."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue: queue.Queue[tuple[bytes, str] | None] = queue.Queue(maxsize=WEBHOOK_QUEUE)
        self.dropped = 0
        self.sent = 0
        #: Behind: requests no longer wait for it (cleared once its queue is empty).
        self.lagging = False
        self._pending = 0
        #: Unsubscribed (or the server closed): nothing more is posted or reported.
        self.stopped = False
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"webhook {url}", daemon=True)
        self._thread.start()

    def send(self, data: bytes, ctype: str) -> None:
        try:
            with self._idle:
                if self.stopped:
                    self.dropped += 1
                    return
                self.queue.put_nowait((data, ctype))
                self._pending += 1
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                sys.stderr.write(f"sagaspec serve: webhook {self.url} is not keeping up: "
                                 f"{self.dropped} event(s) dropped (queue of {WEBHOOK_QUEUE})\n")

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=httpx.Timeout(WEBHOOK_TIMEOUT, connect=1.0),
                          follow_redirects=False) as client:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                data, ctype = item
                if self.stopped:  # taken just before the unsubscription: not posted
                    with self._idle:
                        self.dropped += 1
                    self._done(1)
                    continue
                try:
                    client.post(self.url, content=data, headers={"Content-Type": ctype})
                    self.sent += 1
                except httpx.HTTPError as exc:
                    if not self.stopped:  # an unsubscribed receiver may be gone already
                        sys.stderr.write(f"sagaspec serve: webhook {self.url} failed: "
                                         f"{type(exc).__name__}: {exc}\n")
                self._done(1)

    def _done(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending == 0:
                self.lagging = False
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued so far was delivered (False after ``timeout``);
        a stopped sender is waited for no more."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0 or self.stopped, timeout)

    def stop(self) -> None:
        """Unsubscribed: drop what is queued (counted in :attr:`dropped`, not reported),
        let a POST in flight finish, then end the thread. Does not wait for it."""
        with self._idle:
            if self.stopped:
                return
            self.stopped = True
            drained = 0
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    drained += 1
            self.dropped += drained
            # send() adds nothing once stopped, so the emptied queue has room for the end.
            self.queue.put_nowait(None)
            self._pending -= drained
            if self._pending <= 0:
                self.lagging = False
            self._idle.notify_all()

    def close(self) -> None:
        """Stop, and wait (bounded by one POST's time) for the thread to end."""
        self.stop()
        self._thread.join(timeout=WEBHOOK_TIMEOUT + 1)
