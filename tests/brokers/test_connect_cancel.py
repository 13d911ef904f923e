"""A transport's connect, cancelled (Ctrl-C) the moment its TCP connection is made to a
server that accepts and never speaks, ends at once, its socket closed; a close that
the client never finishes is cut at its bound.

The moment is the one that hung ``sagaspec monitor`` (seen once in ~8 suite runs):
``asyncio.wait_for`` (Python 3.11) swallows a cancellation that lands as what it awaits
completes. nats-py awaits ``open_connection`` through it, so the cancelled connect went
on to wait for the INFO line, the whole connect timeout, and the ``wait_for`` around
``nc.connect()`` waited for it. Here the cancellation is scheduled from inside
``asyncio.open_connection`` as it returns, exactly as the SIGINT handler schedules it.

On the code before the fix: the nats connect case and every close case fail; the amqp
and redis connect cases passed already (guards); of the two monitor cases, the swallowing
connect fails without the monitor's repeated cancel, and the real nats moment fails
only when neither that nor the nats connect fix is in."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time

import pytest
from sagaspec.adapters.broker import open_transport

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]


class SilentServer:
    """Accepts TCP connections and never sends a byte; knows when the client hung up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        self.hung_up.set()

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def _cancel_when_connected(monkeypatch: pytest.MonkeyPatch, url: str, timeout: float) -> float:
    """Seconds from the cancellation to the end of the cancelled ``transport.connect()``
    (or ``timeout`` if it had not ended by then); asserts it ended cancelled."""
    async def main() -> float:
        transport = open_transport(url)
        task = asyncio.ensure_future(transport.connect())
        real = asyncio.open_connection
        cancelled_at: list[float] = []

        async def open_connection(*args, **kwargs):
            streams = await real(*args, **kwargs)
            if not cancelled_at:  # the Ctrl-C, as the SIGINT handler delivers it
                asyncio.get_running_loop().call_soon(task.cancel)
                cancelled_at.append(time.monotonic())
            return streams

        monkeypatch.setattr(asyncio, "open_connection", open_connection)
        await asyncio.wait({task}, timeout=timeout + 30)
        assert cancelled_at, "never connected"
        took = time.monotonic() - cancelled_at[0]
        if not task.done():  # (the old code: stop the test, not the suite)
            task.cancel()
            await asyncio.wait({task}, timeout=60)
            return timeout
        assert task.cancelled(), task.exception()
        return took

    return asyncio.run(main())


@pytest.mark.parametrize("scheme", ["nats", "amqp", "redis"])
def test_connect_cancelled_as_the_connection_is_made_ends_at_once(monkeypatch, scheme):
    server = SilentServer()
    try:
        took = _cancel_when_connected(monkeypatch, f"{scheme}://127.0.0.1:{server.port}?timeout=20", 20)
        assert took < 3.0, f"{scheme}: the cancelled connect went on for {took:.1f}s"
        # and its socket is closed, not left to the garbage collector
        assert server.hung_up.wait(5), f"{scheme}: the socket of the cancelled connect is still open"
    finally:
        server.close()


class _StubbornClose:
    """A client whose ``close()`` does not finish for ``for_seconds`` and swallows the
    first cancellation it gets (as nats-py's ``_close`` swallows one that lands while it
    waits for its reconnection task): the one ``asyncio.wait_for`` sends on its timeout."""

    def __init__(self, for_seconds: float) -> None:
        self.for_seconds = for_seconds
        self.options: dict = {}

    async def close(self) -> None:
        end = time.monotonic() + self.for_seconds
        try:
            await asyncio.sleep(self.for_seconds)
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(max(0.0, end - time.monotonic()))

    aclose = close


@pytest.mark.parametrize("scheme, attr", [("nats", "nc"), ("amqp", "conn"), ("redis", "client")])
def test_close_is_bounded_when_the_client_close_never_returns(scheme, attr):
    """``asyncio.wait_for(client.close(), 2.0)`` was no bound: on its timeout it cancels
    the close and waits for it to end, here 8 s later."""
    async def main() -> float:
        transport = open_transport(f"{scheme}://127.0.0.1:1")
        setattr(transport, attr, _StubbornClose(for_seconds=8))
        start = time.monotonic()
        task = asyncio.ensure_future(transport.close())
        await asyncio.wait({task}, timeout=15)
        took = time.monotonic() - start
        assert task.done(), "close() still running after 15s"
        task.result()
        assert getattr(transport, attr) is None
        return took

    took = asyncio.run(main())
    assert took < 3.0, f"{scheme}: close() took {took:.1f}s (its bound is 2s)"


#: ``sagaspec monitor`` in a child process, ``hook`` (Python source) run first.
CHILD = """
import asyncio, os, runpy, signal, sys
{hook}
sys.argv = ["sagaspec", *sys.argv[1:]]
runpy.run_module("sagaspec", run_name="__main__", alter_sys=True)
"""

HOOKS = {
    # The exact moment that hung: a real SIGINT as nats-py's TCP connection is made.
    "nats-connection-made": """
real = asyncio.open_connection
async def open_connection(*a, **k):
    streams = await real(*a, **k)
    os.kill(os.getpid(), signal.SIGINT)
    return streams
asyncio.open_connection = open_connection
""",
    # Any connect that swallows the first cancellation (asyncio.wait_for does, when it
    # lands as what it awaits completes), then waits on: the monitor cancels again.
    "swallowing-connect": """
import sagaspec.adapters.nats as nats
async def connect(self):
    async def made():
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the connection is made
    await asyncio.wait_for(made(), 50)       # swallows it (Python 3.11)
    await asyncio.sleep(50)                  # a server that never speaks
nats.NatsTransport.connect = connect
""",
}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_monitor_ctrl_c_as_the_connection_is_made_stops_at_once(hook):
    server = SilentServer()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(hook=HOOKS[hook]), "monitor", "--adapter",
             f"nats://127.0.0.1:{server.port}?timeout=50", "--no-table", "--duration", "60",
             "--summary-json", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=20)  # far below the 50 s it used to take
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("the monitor did not stop within 20s of the Ctrl-C")
    finally:
        server.close()
    assert "Traceback" not in err, err
    assert proc.returncode == 3, err
    assert err.strip() == "interrupted (SIGINT) while connecting to the broker: nothing was monitored", err
    assert out == ""
