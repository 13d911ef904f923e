"""Unreachable broker, wrong credentials, missing stream: one clear line, quickly, no traceback."""

from __future__ import annotations

import asyncio
import gc
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from urllib.parse import urlsplit, urlunsplit

import pytest
from brokerenv import BROKERS, URLS, require
from click.testing import CliRunner
from sagaspec.adapters.broker import BrokerAdapter, new_namespace

from sagaspec.cli import main as cli
from sagaspec.errors import BrokerUnavailable

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(60)]

_VAR = {"nats": "NATS_URL", "rabbitmq": "AMQP_URL", "redis": "REDIS_URL"}


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


def _start_error(run, url: str, limit: float = 6.0) -> BrokerUnavailable:
    adapter = BrokerAdapter(url)
    t0 = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        run(adapter.start())
    elapsed = time.monotonic() - t0
    assert elapsed < limit, f"took {elapsed:.1f}s to report: {info.value}"
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return info.value


@pytest.mark.parametrize("name", BROKERS)
def test_unreachable_broker(run, name, unused_port):
    err = _start_error(run, _with_port(URLS[name], unused_port))
    assert "cannot connect" in str(err) and f"127.0.0.1:{unused_port}" in str(err)


@pytest.mark.parametrize("name", BROKERS)
def test_silent_server_times_out_instead_of_hanging(run, name):
    """Something accepts TCP connections but never speaks the protocol."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = _with_port(URLS[name], server.getsockname()[1])
        url += ("&" if "?" in url else "?") + "timeout=0.3"  # a silent server: any timeout shows it
        err = _start_error(run, url, limit=8.0)
        assert name in str(err)
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        server.close()


@pytest.mark.parametrize("name", BROKERS)
def test_a_connect_that_times_out_leaves_no_socket_open(name):
    """A silent server again: the failed start closes the socket it opened (the NATS
    client's was left to the garbage collector: ResourceWarning: unclosed transport)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = _with_port(URLS[name], server.getsockname()[1])
        url += ("&" if "?" in url else "?") + "timeout=0.3"  # a silent server: any timeout shows it
        loop = asyncio.new_event_loop()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(BrokerUnavailable, match="cannot connect"):
                loop.run_until_complete(BrokerAdapter(url).start())
            loop.close()  # drops the loop's own references to any transport still open
            gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("name", BROKERS)
def test_a_failed_connect_leaves_nothing_for_a_finalizer_to_schedule(name):
    """A silent server: the failed start closes its client object itself. aio_pika's was
    dropped open, and its finalizer scheduled close() as a task on whichever loop was
    current when the garbage collector ran; a loop closed later with that task pending
    gave "coroutine 'Connection.close' was never awaited" in a random test's teardown."""

    def pending() -> set[int]:
        return {id(o) for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()}

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = _with_port(URLS[name], server.getsockname()[1])
        url += ("&" if "?" in url else "?") + "timeout=0.3"
        loop = asyncio.new_event_loop()
        try:
            before = pending()
            try:
                loop.run_until_complete(BrokerAdapter(url).start())
            except BrokerUnavailable as exc:  # not kept: its frames would hold the client
                assert "cannot connect" in str(exc)
            else:
                pytest.fail("a silent server was taken for a broker")
            gc.collect()  # the loop is open and idle, as between a test's awaits
            scheduled = [o for o in gc.get_objects()
                         if isinstance(o, asyncio.Task) and not o.done() and id(o) not in before]
            for task in scheduled:  # without the fix: cancel it, so this test leaves no debris
                task.cancel()
                task.get_loop().run_until_complete(asyncio.gather(task, return_exceptions=True))
            names = [task.get_coro().__qualname__ for task in scheduled]
        finally:
            loop.close()
    assert names == []


@pytest.mark.parametrize("name", ["rabbitmq", "redis"])
def test_wrong_credentials(run, name):
    url = require(URLS[name], _VAR[name])
    parts = urlsplit(url)
    bad = urlunsplit(parts._replace(netloc=f"{parts.username or 'nobody'}:wrong-password@{parts.hostname}:{parts.port}"))
    err = _start_error(run, bad)
    assert "wrong credentials" in str(err) and "wrong-password" not in str(err)


def test_wrong_credentials_nats(run, unused_port, tmp_path):
    """A second nats-server with a password, on a free loopback port, for this test only."""
    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not shutil.os.path.exists(server):
        pytest.fail("nats-server is not installed (needed for the NATS credential test): "
                    "install it or see README, 'Broker tests'", pytrace=False)
    proc = subprocess.Popen([server, "-a", "127.0.0.1", "-p", str(unused_port), "--user", "sagaspec",
                             "--pass", "right", "-js", "-sd", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", unused_port)) == 0:
                    break
            time.sleep(0.05)
        err = _start_error(run, f"nats://sagaspec:wrong@127.0.0.1:{unused_port}")
        assert "wrong credentials" in str(err) and "wrong" not in str(err).split("credentials", 1)[1].split("(")[0]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("name", BROKERS)
def test_missing_stream(run, name):
    url = require(URLS[name], _VAR[name])
    ns = new_namespace("missing")
    url += ("&" if "?" in url else "?") + f"ns={ns}"
    err = _start_error(run, url)
    assert "not found" in str(err) and ns in str(err) and "create=1" in str(err)


@pytest.mark.parametrize("name", BROKERS)
def test_cli_reports_one_line_and_exit_status(name, unused_port):
    result = CliRunner().invoke(cli, ["monitor", "--adapter", _with_port(URLS[name], unused_port),
                                      "--duration", "1"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output


def test_runner_process_exits_69_with_one_line(unused_port):
    proc = subprocess.run(
        [sys.executable, "-m", "sagaspec.examples.runner", "--service", "payment",
         "--broker", f"nats://127.0.0.1:{unused_port}"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 69
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "cannot connect" in errors[0] and "Traceback" not in proc.stderr


def test_postgres_unreachable_and_unknown_role(pg_url, unused_port):
    from sagaspec.examples.pgstore import PostgresStore

    parts = urlsplit(pg_url)
    for url, fragment in [
        (urlunsplit(parts._replace(netloc=f"postgres@127.0.0.1:{unused_port}")), "cannot connect"),
        (urlunsplit(parts._replace(netloc=f"no_such_role_x@{parts.hostname}:{parts.port or 5432}")), "no_such_role_x"),
    ]:
        t0 = time.monotonic()
        with pytest.raises(BrokerUnavailable) as info:
            PostgresStore(url, "sagaspec_never")
        assert time.monotonic() - t0 < 6
        assert fragment in str(info.value) and "\n" not in str(info.value)
