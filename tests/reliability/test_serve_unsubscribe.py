"""``sagaspec serve``: an unsubscribed webhook gets nothing more (what was queued for it is
dropped, not posted, and its failures are not reported), a re-subscription starts afresh
and closing the server ends every sender."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sagaspec.examples.httpserver import WEBHOOK_TIMEOUT, SagaHTTPServer
from sagaspec.examples.samples import sample_order
from sagaspec.examples.system import make_target

pytestmark = pytest.mark.timeout(120)

#: Seconds the receiver takes per POST: five events of an order (2.5 s) outlast the
#: server's synchronous wait (WEBHOOK_TIMEOUT), so later orders queue up behind.
SLOW = 0.5


class SlowReceiver:
    """A webhook on 127.0.0.1 answering each POST after :data:`SLOW` seconds."""

    def __init__(self) -> None:
        self.posts: list[float] = []  # when each POST arrived (time.monotonic())
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: a connection per POST, so
            # once closed the receiver refuses the next one (as the HTTP adapter's does)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                posts.append(time.monotonic())
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(SLOW)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, fmt: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._httpd.server_close()


def _backlog(c: httpx.Client, server: SagaHTTPServer, url: str, first: int) -> None:
    """Subscribe ``url`` and place orders until its sender lags with events queued."""
    assert c.post("/subscriptions", json={"url": url}).status_code == 201
    for n in range(first, first + 4):  # the first waits WEBHOOK_TIMEOUT, the others queue
        assert c.post("/orders", json=sample_order(n)).status_code == 202
    sender = server._senders[url]
    assert sender.lagging and sender.queue.qsize() >= 5


def test_an_unsubscribed_webhook_gets_no_more_posts_and_no_failures_are_reported(capfd):
    receiver = SlowReceiver()
    server = SagaHTTPServer(make_target("system"), port=0, token=None).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.post("/world", json={"stock": {"sku-1": 100}}).status_code == 204
            _backlog(c, server, receiver.url, 1)
            sender = server._senders[receiver.url]
            assert c.request("DELETE", "/subscriptions", json={"url": receiver.url}).status_code == 204
            unsubscribed = time.monotonic()
            kept = receiver.url in server._senders
            # Long enough for several more slow POSTs had the queue been kept.
            time.sleep(4 * SLOW)
            after = [t for t in receiver.posts if t >= unsubscribed]
            # The receiver closes (as the HTTP adapter's does); more events come.
            receiver.close()
            assert c.post("/orders", json=sample_order(9)).status_code == 202
            sender._thread.join(WEBHOOK_TIMEOUT + 1)
            ended = not sender._thread.is_alive()
    finally:
        receiver.close()
        server.close()
    assert len(after) <= 1, f"{len(after)} POSTs after the DELETE returned"
    assert not kept and ended and sender.dropped >= 5
    err = capfd.readouterr().err
    assert "failed" not in err, err


def test_a_resubscription_starts_afresh_and_close_ends_the_senders():
    receiver, other = SlowReceiver(), SlowReceiver()
    server = SagaHTTPServer(make_target("system"), port=0, token=None).start()
    closed = False
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.post("/world", json={"stock": {"sku-1": 100}}).status_code == 204
            _backlog(c, server, receiver.url, 1)
            old = server._senders[receiver.url]
            assert c.post("/subscriptions", json={"url": other.url}).status_code == 201
            # No body: every subscription goes, with its sender.
            assert c.request("DELETE", "/subscriptions").status_code == 204
            assert server._senders == {} and old.stopped
            old._thread.join(WEBHOOK_TIMEOUT + 1)
            assert not old._thread.is_alive()
            # Subscribed again: a new sender, with only what happens from now on.
            assert c.post("/subscriptions", json={"url": receiver.url}).status_code == 201
            before = len(receiver.posts)
            assert c.post("/orders", json=sample_order(7)).status_code == 202
            fresh = server._senders[receiver.url]
            assert fresh is not old and fresh.sent + fresh.queue.qsize() <= 5
            assert fresh.wait_idle(5 * SLOW + WEBHOOK_TIMEOUT)
            assert len(receiver.posts) - before == 5
            # Behind again, events queued: closing the server ends its thread all the same.
            for n in (8, 9):
                assert c.post("/orders", json=sample_order(n)).status_code == 202
            assert fresh.lagging and fresh.queue.qsize() >= 3
        server.close()
        closed = True
        assert server._senders == {} and fresh.stopped and not fresh._thread.is_alive()
    finally:
        if not closed:
            server.close()
        receiver.close()
        other.close()
