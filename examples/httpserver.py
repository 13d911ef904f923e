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

>>> from sagaspec.examples.system import make_target
>>> server = SagaHTTPServer(make_target("payment"), port=0).start()
>>> server.url.startswith("http://127.0.0.1:")
True
>>> server.close()
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sagaspec.adapters.base import RawMessage, World
from sagaspec.spec.cloudevents import (
    STRUCTURED_CONTENT_TYPE,
    from_binary,
    from_cloudevent,
    to_cloudevent,
)

from sagaspec.errors import AdapterError, SagaspecError, SchemaError, UsageError

__all__ = ["SagaHTTPServer", "LOOPBACK_HOSTS"]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

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
        self._webhooks: list[str] = list(webhooks)
        self._webhook_client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delivered = 0
        self.published = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
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

                class V6Server(ThreadingHTTPServer):
                    address_family = socket.AF_INET6

                self._httpd: ThreadingHTTPServer = V6Server((family_host, port), Handler)
            else:
                self._httpd = ThreadingHTTPServer((family_host, port), Handler)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._httpd.daemon_threads = True
        bound = self._httpd.server_address[1]
        shown = f"[{family_host}]" if ":" in family_host else family_host
        self.url = f"http://{shown}:{bound}"
        self.port = bound
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> SagaHTTPServer:
        """Serve in a background thread; returns ``self``."""
        self._serving = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sagaspec-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._httpd.serve_forever()

    def close(self) -> None:
        if self._serving:  # shutdown() waits for a serve_forever loop: only if one runs
            self._httpd.shutdown()
            self._serving = False
        self._httpd.server_close()
        if self._webhook_client is not None:
            self._webhook_client.close()
        if self._loop is not None:
            self._loop.close()
        closer = getattr(self.target, "close", None)
        if callable(closer):
            closer()

    # -- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        caps = sorted(set(getattr(self.target, "capabilities", ())) | {"webhook"})
        return {
            "status": "ok",
            "contract": 1,
            "participant": self.participant,
            "design": self.design,
            "mutant": self.mutant,
            "capabilities": caps,
            "synchronous": True,
        }

    # -- request handling ------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path.rstrip("/") or "/"
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        try:
            status, payload = self._route(method, path, dict(parse_qsl(parts.query)), h, body)
        except _Reply as reply:
            status, payload = reply.status, reply.body
        except SagaspecError as exc:
            status, payload = 400, {"error": str(exc)}
        except Exception as exc:  # a bug in the server or a target hook: 500, keep serving
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(status)
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
            self._deliver(h, body)
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
            try:
                world = World.from_json(data)
            except (TypeError, ValueError) as exc:
                raise _Reply(400, {"error": f"world: {exc}"}) from None
            self._run("setup", world)
            return 204, None
        if method == "POST" and path.startswith("/crash/"):
            self._run("crash", path.split("/", 2)[2])
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
            if not isinstance(url, str) or urlsplit(url).hostname not in LOOPBACK_HOSTS:
                raise _Reply(400, {"error": "subscription: expected {\"url\": \"http://127.0.0.1:PORT/...\"}"})
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
                if url is None:
                    self._webhooks.clear()
                elif url in self._webhooks:
                    self._webhooks.remove(url)
            return 204, None
        raise _Reply(404, {"error": f"no route {method} {path}"})

    @staticmethod
    def _json(body: bytes, what: str) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise _Reply(400, {"error": f"{what}: body is not JSON"}) from None

    def _deliver(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        # The transport unwraps CloudEvents; judging the event itself is the service's job,
        # so anything that does not unwrap is handed over as the raw bytes it was.
        if any(k.lower() == "ce-specversion" for k in h.headers):
            try:
                event = from_binary(dict(h.headers), body, validate=False)
            except SchemaError:
                self._run("deliver_raw", body)
                return
            self._run("deliver", event)
            return
        try:
            obj = json.loads(body)
        except ValueError:
            self._run("deliver_raw", body)
            return
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == STRUCTURED_CONTENT_TYPE or (isinstance(obj, dict) and "specversion" in obj):
            try:
                obj = from_cloudevent(obj, validate=False)
            except SchemaError:
                self._run("deliver_raw", body)
                return
        if isinstance(obj, dict):
            self._run("deliver", obj)
        else:
            self._run("deliver_raw", body)

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
                if hook in ("deliver", "deliver_raw"):
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
        import httpx
        from sagaspec.adapters.http import ERROR_TYPE

        if self._webhook_client is None:
            self._webhook_client = httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0))
        for kind, item in entries:
            if kind == "error":
                body: Any = {"specversion": "1.0", "id": f"error-{time.monotonic_ns()}",
                             "type": ERROR_TYPE, "source": f"/sagaspec/{item['source'] or 'serve'}",
                             "data": item}
                ctype = STRUCTURED_CONTENT_TYPE
            else:
                try:
                    body, ctype = to_cloudevent(item, design=self.design or "corrected"), STRUCTURED_CONTENT_TYPE
                except SchemaError:
                    # Not a valid event (a mutant's bug): push it as it is, plain JSON.
                    body, ctype = item, "application/json"
            data = json.dumps(body).encode()
            for url in list(self._webhooks):
                try:
                    self._webhook_client.post(url, content=data, headers={"Content-Type": ctype})
                except httpx.HTTPError as exc:
                    sys.stderr.write(f"sagaspec serve: webhook {url} failed: {exc}\n")

    def _published(self, query: dict[str, str]) -> dict[str, Any]:
        after = query.get("after")
        try:
            wait = min(MAX_WAIT, max(0.0, float(query.get("wait", "0") or 0)))
        except ValueError:
            raise _Reply(400, {"error": "wait: expected seconds"}) from None
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
