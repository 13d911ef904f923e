"""`sagaspec serve` against a hostile local client: token, Host and Origin checks, body
and time limits, webhooks parsed and restricted to loopback, a slow webhook stalls no
one, a real listen backlog."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sagaspec.examples.httpserver import WEBHOOK_TIMEOUT, SagaHTTPServer, read_token, token_path
from sagaspec.examples.samples import sample_order
from sagaspec.examples.system import make_target

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server():
    s = SagaHTTPServer(make_target("system"), port=0, read_timeout=1.0).start()
    yield s
    s.close()


def _auth(s: SagaHTTPServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {s.token}"}


def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_writes_need_the_token_reads_do_not(server):
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/published").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": server.token}):
            r = c.post("/reset", headers=headers)
            assert r.status_code == 401 and "token" in r.json()["error"]
        assert c.post("/crash/payment").status_code == 401
        assert c.post("/world", json={"stock": {}}).status_code == 401
        assert c.delete("/subscriptions").status_code == 401
        assert c.post("/reset", headers=_auth(server)).status_code == 204


def test_the_token_file_is_private_and_removed_at_close():
    s = SagaHTTPServer(make_target("payment"), port=0)
    path = token_path(s.port)
    assert read_token(s.port) == s.token and len(s.token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    s.close()
    assert not path.exists()


@pytest.mark.parametrize("headers, fragment", [
    ({"Host": "evil.example"}, "Host 'evil.example'"),
    ({"Host": "127.0.0.1.evil.example"}, "is not this loopback server"),
    ({"Origin": "http://evil.example"}, "Origin 'http://evil.example' is not allowed"),
    ({"Origin": "null"}, "Origin 'null' is not allowed"),
])
def test_foreign_host_or_origin_is_refused(server, headers, fragment):
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/reset", headers={**_auth(server), **headers})
        assert r.status_code == 403 and fragment in r.json()["error"]
        same = c.post("/reset", headers={**_auth(server), "Origin": server.url})
        assert same.status_code == 204


def test_body_limits_are_checked_before_reading(server):
    big = _raw(server.port, b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
               + server.token.encode() + b"\r\nContent-Length: 100000000\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413") and b"limit max_bytes=1048576" in big
    negative = _raw(server.port, b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + server.token.encode() + b"\r\nContent-Length: -1\r\n\r\n")
    assert negative.startswith(b"HTTP/1.1 400") and b"non-negative integer" in negative


def test_a_client_that_stops_sending_is_dropped(server):
    t0 = time.monotonic()
    partial = _raw(server.port, b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                   + server.token.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"a\":", timeout=10)
    assert partial == b"" and time.monotonic() - t0 < 5  # closed after the 1 s read timeout
    silent = _raw(server.port, b"GET /hea", timeout=10)
    assert silent == b"" and time.monotonic() - t0 < 10


@pytest.mark.parametrize("path, body, fragment", [
    ("/world", b"[" * 100_000 + b"]" * 100_000, "limit max_depth=64"),
    ("/orders", b'{"n": ' + b"1" * 5000 + b"}", "limit max_number=100"),
])
def test_hostile_json_bodies_get_a_400_naming_the_limit(server, path, body, fragment):
    with httpx.Client(base_url=server.url, headers=_auth(server)) as c:
        r = c.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and fragment in r.json()["error"]
        deep_event = c.post("/events", content=b"[" * 100_000 + b"]" * 100_000)
        assert deep_event.status_code == 202  # handed over; the service dead-letters it
        assert c.get("/health").status_code == 200


@pytest.mark.parametrize("url", [
    "http://127.0.0.1@127.0.0.2/", "http://user:pw@127.0.0.1:9/", "https://127.0.0.1/",
    "http://127.0.0.2/", "http://localhost.evil.example/", "file:///etc/passwd", "http://[::2]/",
])
def test_webhooks_are_parsed_and_loopback_only(server, url):
    with httpx.Client(base_url=server.url, headers=_auth(server)) as c:
        r = c.post("/subscriptions", json={"url": url})
        assert r.status_code == 400 and "webhook" in r.json()["error"]


def test_serve_refuses_a_webhook_with_user_info_in_one_line():
    # In-process: the check is the command line's, not the process's (it never starts serving).
    from click.testing import CliRunner

    from sagaspec.cli import main

    cli = CliRunner().invoke(main, ["serve", "--port", "0", "--webhook", "http://127.0.0.1@127.0.0.2/"])
    lines = cli.stderr.strip().splitlines()
    assert cli.exit_code == 2 and len(lines) == 1 and cli.stdout == "", cli.output
    assert lines[0].startswith("error: --webhook 'http://127.0.0.1@127.0.0.2/': user info")


def test_a_webhook_that_never_answers_stalls_nobody(server):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # accepts connections, never answers
    url = f"http://127.0.0.1:{hole.getsockname()[1]}/hook"
    try:
        with httpx.Client(base_url=server.url, headers=_auth(server), timeout=30) as c:
            assert c.post("/world", json={"stock": {"sku-1": 100}}).status_code == 204
            assert c.post("/subscriptions", json={"url": url}).status_code == 201
            took = []
            for n in range(1, 6):
                t0 = time.monotonic()
                assert c.post("/orders", json=sample_order(n)).status_code == 202
                took.append(time.monotonic() - t0)
            # Waited once, for the webhook timeout, then served in the background: five
            # orders waiting for it each would take 5 x 2 s.
            assert server._senders[url].lagging
            assert sum(took) < 3 * WEBHOOK_TIMEOUT, took
            events = c.get("/published").json()["events"]
            assert sum(e["eventType"] == "OrderCompleted" for e in events) == 5
    finally:
        hole.close()


def test_a_real_listen_backlog(server):
    """64 clients connect at once (the standard library's backlog of 5 dropped some)."""
    start = threading.Barrier(64)

    def health(_: int) -> bytes:
        start.wait()
        return _raw(server.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    timeout=20)

    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(health, range(64)))
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
    # The listening socket's backlog as the kernel reports it (ss: Send-Q of a listener).
    listing = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True,
                             text=True, timeout=10).stdout.split()
    assert listing[0] == "LISTEN" and int(listing[2]) >= 64


def test_serve_prints_the_token_and_no_auth_switches_it_off(tmp_path):
    def start(*args: str) -> tuple[subprocess.Popen, list[str]]:
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "serve", "--port", "0", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout.readline() for _ in range(2)),
                                  daemon=True)
        reader.start()
        reader.join(30)
        return proc, lines

    proc, lines = start()
    try:
        url = lines[0].split("listening on", 1)[1].strip()
        token = lines[1].split("token ", 1)[1].split(" ", 1)[0]
        assert read_token(int(url.rsplit(":", 1)[1])) == token
        with httpx.Client(base_url=url) as c:
            assert c.post("/reset").status_code == 401
            assert c.post("/reset", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    proc, lines = start("--no-auth")
    try:
        url = lines[0].split("listening on", 1)[1].strip()
        assert "--no-auth" in lines[1]
        with httpx.Client(base_url=url) as c:
            assert c.post("/reset").status_code == 204
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
