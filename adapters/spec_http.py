"""Reach any spec's services over the HTTP wire contract, participant by participant.

``sagaspec conform --spec`` plays the bus itself: it delivers each event to one
participant and waits for what that participant publishes. :class:`SpecHttpAdapter`
does that over the contract of :mod:`sagaspec.adapters.http` with the endpoints
``sagaspec serve --spec`` adds for a spec's services:

``POST /events?to=PARTICIPANT``
    Deliver to that participant only (nothing is routed on). ``2xx`` acknowledged,
    ``5xx`` the participant died before acknowledging (the bus redelivers). A service of
    one participant (``--participant NAME``) gets plain ``POST /events``; the suite runs
    the other participants' reference services itself.
``POST /sagas``
    ``{"sagaId": ID, "participant": NAME, "route": false}``: a trigger participant starts
    a saga (``route: false``: its events are not handed on; the suite is the bus).
``POST /world``
    The spec's world knob values: ``{KNOB: VALUE, "sagas": {SAGA_ID: {KNOB: VALUE}}}``.
``POST /crash/PARTICIPANT?point=before-commit|after-commit|after-publish``
    Kill the participant at that point of its next delivery (it restarts at once).

The adapter is synchronous (``httpx.Client``); it waits up to :data:`STARTUP_WAIT`
seconds for a service that does not listen yet; the token is found as the HTTP adapter
finds it (``?token=``, ``$SAGASPEC_SERVE_TOKEN`` or the one ``sagaspec serve`` saved).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from sagaspec.errors import AdapterError

__all__ = ["SpecHttpAdapter", "NEEDED"]

#: Seconds to wait for a service that refuses connections (just started) to listen.
STARTUP_WAIT = 10.0
#: What the service must offer (``GET /health`` capabilities) to be driven this way
#: (one participant alone: all but ``deliver_to``; ``start`` only if it has a trigger).
NEEDED = ("deliver_to", "start", "setup", "crash", "reset")


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class SpecHttpAdapter:
    """``http://HOST:PORT[/prefix][?token=T&timeout=S]`` -> the services behind it."""

    name = "http"

    def __init__(self, url: str, *, participant: str = "system", timeout: float = 3.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdapterError(f"invalid HTTP adapter URL {url!r}; expected http://HOST:PORT[/prefix]")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"token", "timeout"}
        if unknown:
            raise AdapterError(f"unknown option(s) {', '.join(sorted(unknown))} in adapter {url!r}; "
                               "expected token, timeout")
        try:
            port = parts.port
            self.collect_timeout = float(query.get("timeout", timeout))
        except ValueError:
            raise AdapterError(f"invalid port or timeout in adapter URL {url!r}") from None
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self._client = httpx.Client(timeout=httpx.Timeout(30.0, connect=3.0), follow_redirects=False)
        self._cursor: str | None = None
        self.participant = participant
        try:
            self.health = self._health(wait=STARTUP_WAIT)
        except BaseException:
            self._client.close()  # the caller gets no adapter to close: leave no socket open
            raise
        # Read once the service answers: sagaspec serve saves its token before it serves.
        token = query.get("token")
        if token is None and parts.hostname in ("127.0.0.1", "localhost", "::1") and port:
            from sagaspec.adapters.http import read_token

            token = os.environ.get("SAGASPEC_SERVE_TOKEN") or read_token(port)
        if token:
            self._client.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, self.url + path, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise AdapterError(f"cannot reach the service at {self.url}: "
                               f"{_excerpt(str(exc) or type(exc).__name__, 120)}") from None

    def _ok(self, r: httpx.Response, what: str) -> httpx.Response:
        if r.status_code >= 400:
            raise AdapterError(f"{what} at {self.url} answered HTTP {r.status_code}: {_excerpt(r.text)}")
        return r

    def _health(self, wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while True:
            try:
                r = self._ok(self._client.get(self.url + "/health"), "GET /health")
                break
            except httpx.ConnectError as exc:
                # A service started in the background a moment ago is not listening yet.
                if time.monotonic() >= deadline:
                    raise AdapterError(f"cannot reach the service at {self.url} (waited {wait:g}s): "
                                       f"{_excerpt(str(exc) or type(exc).__name__, 120)}") from None
                time.sleep(0.1)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise AdapterError(f"cannot reach the service at {self.url}: "
                                   f"{_excerpt(str(exc) or type(exc).__name__, 120)}") from None
        try:
            health = r.json()
        except ValueError:
            raise AdapterError(f"GET {self.url}/health did not answer JSON") from None
        if not isinstance(health, dict):
            raise AdapterError(f"GET {self.url}/health did not answer a JSON object")
        served = health.get("participant")
        if served != self.participant:
            raise AdapterError(f"the service at {self.url} serves {served!r}, not {self.participant!r} "
                               f"(start it with --participant {self.participant})")
        needed = NEEDED if self.participant == "system" else ("setup", "crash", "reset")
        missing = [c for c in needed if c not in (health.get("capabilities") or ())]
        if missing:
            raise AdapterError(f"the service at {self.url} does not offer {', '.join(missing)}; "
                               "serve a spec's services with sagaspec serve --spec FILE")
        return health

    @property
    def synchronous(self) -> bool:
        return bool(self.health.get("synchronous"))

    # -- the driver's calls -------------------------------------------------------------
    def reset(self) -> None:
        self._ok(self._request("POST", "/reset"), "POST /reset")
        self._cursor = None

    def configure(self, world: dict[str, Any]) -> None:
        self._ok(self._request("POST", "/world", json=world), "POST /world")

    def start(self, participant: str, saga_id: str) -> None:
        self._ok(self._request("POST", "/sagas", json={"sagaId": saga_id, "participant": participant, "route": False}),
                 "POST /sagas")

    def arm_crash(self, participant: str, point: str) -> None:
        self._ok(self._request("POST", f"/crash/{participant}", params={"point": point}),
                 f"POST /crash/{participant}")

    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        """Deliver; ``False`` when the participant died before acknowledging it. An
        ``invalid`` event may be refused with a 4xx."""
        if self.participant != "system" and participant != self.participant:
            raise AdapterError(f"the service at {self.url} serves {self.participant}, not {participant}")
        # A whole system is told whom the event is for; a lone participant just gets it.
        params = {"to": participant} if self.participant == "system" else {}
        r = self._request("POST", "/events", params=params, json=event)
        if r.status_code >= 500:
            return False
        if invalid and r.status_code >= 400:
            return True  # refusing an invalid message is fine
        self._ok(r, f"POST /events?to={participant}")
        return True

    def collect(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """What was published since the last call: once ``done(got)``, or the timeout."""
        deadline = time.monotonic() + self.collect_timeout
        got: list[dict[str, Any]] = []
        while True:
            wait = 0.0 if self.synchronous else max(0.0, min(0.05, deadline - time.monotonic()))
            params = {"wait": f"{wait:.3f}"}
            if self._cursor is not None:
                params["after"] = self._cursor
            page = self._ok(self._request("GET", "/published", params=params), "GET /published").json()
            if page.get("cursor") is not None:
                self._cursor = str(page["cursor"])
            got.extend(page.get("events") or ())  # a non-object is the suite's to judge
            if page.get("more"):
                continue
            if self.synchronous or done(got) or time.monotonic() >= deadline:
                return got

    def close(self) -> None:
        self._client.close()
