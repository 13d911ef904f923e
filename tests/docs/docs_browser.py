"""A small headless-Chromium driver over the DevTools protocol (for the docs tests).

Chromium comes from Debian's package (``apt-get install chromium fonts-dejavu-core``,
which ``.ci/run`` does), never from a test tool's browser download, and never from the
tests themselves: a test does not install system packages. The driver starts it with a fresh profile and
``--remote-debugging-port=0``, reads the port from its ``DevTools listening on`` line,
opens one page target through ``/json/new`` (all pages load in it) and talks CDP over a websocket
(``websockets``' synchronous client). For every page it collects console errors,
uncaught exceptions, log-domain errors and failed or 4xx/5xx network requests, evaluates
a script, and takes a full-page screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from websockets.sync.client import connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # With the back-forward cache every navigation started two new renderer processes
    # (the page left stays alive in the cache): 0.14 CPU s a page. Without it the one
    # tab's renderer is reused for every page.
    "--disable-features=BackForwardCache",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)

#: Talks to 127.0.0.1 directly, whatever proxy the environment configures.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

#: How to get the browser (what .ci/run does); shown when it is missing.
INSTALL_HINT = "apt-get install chromium fonts-dejavu-core (as .ci/run does)"


def find_chromium() -> str | None:
    """Path of Debian's chromium, or None when it is not installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    url: str
    problems: list[str] = field(default_factory=list)
    value: object = None
    screenshot: Path | None = None


class _Tab:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.stack: contextlib.ExitStack | None = None
        self.next_id = 0
        self.events: list[dict] = []

    def _recv(self, deadline: float) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from Chromium")
        return json.loads(self.ws.recv(timeout=left))

    def call(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline)
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait(self, method: str, timeout: float = 30) -> dict:
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline)
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)


class Chromium:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 900) -> None:
        self.binary = binary
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="sagaspec-chromium-")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self._current: tuple[str, _Tab] | None = None

    def __enter__(self) -> Chromium:
        self.proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in self.proc.stderr:
                lines.put(line)

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if "DevTools listening on ws://" in line:
                self.port = int(line.split("ws://127.0.0.1:")[1].split("/")[0])
                return self
        self.__exit__(None, None, None)
        raise RuntimeError("Chromium did not start:\n" + "".join(seen[-20:]))

    def __exit__(self, *exc) -> None:
        if self._current is not None:
            target, tab = self._current
            self._current = None
            try:
                tab.stack.close()
            finally:
                self._close_tab(target)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr is not None:
            # The pump thread ends at the pipe's EOF (the process is gone); then close it,
            # or the pipe is left for the garbage collector (a ResourceWarning).
            self._pump.join(timeout=10)
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _new_tab(self) -> tuple[str, str]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with _DIRECT.open(req, timeout=15) as resp:
            info = json.load(resp)
        return info["id"], info["webSocketDebuggerUrl"]

    def _close_tab(self, target: str) -> None:
        try:
            _DIRECT.open(f"http://127.0.0.1:{self.port}/json/close/{target}", timeout=10).close()
        except OSError:
            pass

    def _tab(self) -> _Tab:
        """The one page target all loads share (opening a target per page is slow)."""
        if self._current is None:
            target, ws_url = self._new_tab()
            stack = contextlib.ExitStack()
            ws = stack.enter_context(connect(ws_url, max_size=None, open_timeout=15, proxy=None))
            tab = _Tab(ws)
            tab.stack = stack
            for domain in ("Page", "Runtime", "Log", "Network"):
                tab.call(f"{domain}.enable")
            tab.call("Emulation.setDeviceMetricsOverride",
                     {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
            self._current = (target, tab)
        return self._current[1]

    def load(self, url: str, script: str, screenshot: Path | None = None, *,
             timeout: float = 30, max_height: int = 8000) -> PageResult:
        """Open ``url``, wait for ``load``, evaluate ``script`` (returns JSON), screenshot."""
        result = PageResult(url)
        self._drive(self._tab(), url, script, screenshot, result, timeout, max_height)
        return result

    def _drive(self, tab: _Tab, url: str, script: str, screenshot: Path | None,
               result: PageResult, timeout: float, max_height: int) -> None:
        # The previous page fired its load (we waited for it) and was flushed (the
        # evaluate at the end), so the next load event is this page's; no detour through
        # about:blank (a second navigation per page).
        tab.events.clear()
        tab.call("Page.navigate", {"url": url})
        tab.wait("Page.loadEventFired", timeout=timeout)
        value = tab.call("Runtime.evaluate", {"expression": script, "returnByValue": True})
        if "exceptionDetails" in value:
            result.problems.append(f"script failed: {value['exceptionDetails']}")
        else:
            result.value = value["result"].get("value")
        if screenshot is not None:
            metrics = tab.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            height = min(int(size["height"]) + 1, max_height)
            # optimizeForSpeed: the same pixels, less zlib effort (30% less CPU a shot).
            shot = tab.call("Page.captureScreenshot", {
                "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1},
            }, timeout=timeout)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result.screenshot = screenshot
        # Let late console messages and requests arrive.
        tab.call("Runtime.evaluate", {"expression": "1", "returnByValue": True})
        result.problems.extend(_problems(tab.events))


def _problems(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        method, p = ev["method"], ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            entry = p["entry"]
            out.append(f"log {entry['level']}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"request failed: {p.get('errorText')}")
        elif method == "Network.responseReceived" and p.get("response", {}).get("status", 200) >= 400:
            r = p["response"]
            out.append(f"HTTP {r['status']}: {r['url']}")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("http://127.0.0.1", "data:", "file:", "about:")):
                out.append(f"request leaves the machine: {url}")
    return out
