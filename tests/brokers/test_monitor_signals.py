"""Ctrl-C at any moment of ``sagaspec monitor`` is a one-line message and a non-zero exit
status, never a traceback and never a pass: while the command line loads, before the
monitor has its signal handlers, while it connects, and while it runs (then it drains
and reports what it read first).

The early moments are reached exactly: the child process sends itself SIGINT from a hook
at that point (a real signal, delivered as Ctrl-C delivers it)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading

import pytest
from brokerenv import URLS, destroy, require
from sagaspec.adapters.broker import new_namespace

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]

#: The child: ``hook`` (Python source) runs first, then the command line as ``-m sagaspec``.
CHILD = """
import os, runpy, signal, sys
def interrupt():
    os.kill(os.getpid(), signal.SIGINT)
{hook}
sys.argv = ["sagaspec", *sys.argv[1:]]
runpy.run_module("sagaspec", run_name="__main__", alter_sys=True)
"""

HOOKS = {
    # while ``python -m sagaspec`` imports its command line (click)
    "loading": """
import builtins
real = builtins.__import__
def hooked(name, *a, **k):
    if name == "click":
        builtins.__import__ = real
        interrupt()
    return real(name, *a, **k)
builtins.__import__ = hooked
""",
    # while click looks the command up, before the monitor installs its handlers
    "lookup": """
import sagaspec.cli as cli
real = cli._LazyGroup.get_command
def hooked(self, ctx, name):
    interrupt()
    return real(self, ctx, name)
cli._LazyGroup.get_command = hooked
""",
    # the monitor's handlers are in, its broker connection not yet opened
    "before-connect": """
import sagaspec.adapters.broker as broker
real = broker.open_transport
def hooked(*a, **k):
    interrupt()
    return real(*a, **k)
broker.open_transport = hooked
""",
}


def _child(hook: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD.format(hook=hook), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _monitor_args(url: str) -> list[str]:
    return ["monitor", "--adapter", url, "--no-table", "--duration", "60", "--summary-json", "-"]


def _no_traceback(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert code != 0, err
    assert len([x for x in err.splitlines() if "interrupted" in x or x.startswith("error:")]) == 1, err


@pytest.mark.parametrize("moment, code, says", [
    ("loading", 130, "interrupted (SIGINT) while starting: nothing was run"),
    ("lookup", 1, "error: aborted"),
    ("before-connect", 3, "interrupted (SIGINT) while connecting to the broker: nothing was monitored"),
])
def test_an_early_ctrl_c_is_one_line_and_a_failure(moment, code, says):
    url = f"{require(URLS['nats'], 'NATS_URL')}?ns={new_namespace('sig')}&create=1"
    try:
        proc = _child(HOOKS[moment], *_monitor_args(url))
        out, err = proc.communicate(timeout=60)
    finally:
        destroy(url)
    _no_traceback(proc.returncode, err)
    assert proc.returncode == code and says in err, err
    assert out == ""  # no summary: nothing was monitored


def test_ctrl_c_immediately_after_start():
    """A real SIGINT the moment the process exists. (If it lands while the interpreter
    itself starts, before any of sagaspec runs, Python reports its own fatal error.)"""
    url = f"{require(URLS['nats'], 'NATS_URL')}?ns={new_namespace('sig')}&create=1"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec", *_monitor_args(url)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        destroy(url)
    assert proc.returncode != 0, err
    assert "Traceback" not in err or "init_import_site" in err, err


def test_ctrl_c_while_connecting_stops_at_once():
    """A broker that accepts the connection and never answers: Ctrl-C does not wait for
    the connect timeout, it gives up at once with one line and exit status 3."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        conn, _ = server.accept()
        held.append(conn)
        accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec",
                                 *_monitor_args(f"nats://127.0.0.1:{port}?timeout=50")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert accepted.wait(60), "the monitor never connected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # far below the 50 s connect timeout
        _no_traceback(proc.returncode, err)
        assert proc.returncode == 3
        assert "interrupted (SIGINT) while connecting to the broker: nothing was monitored" in err
    finally:
        for conn in held:
            conn.close()
        server.close()


def test_ctrl_c_while_running_drains_reports_and_does_not_pass():
    url = f"{require(URLS['nats'], 'NATS_URL')}?ns={new_namespace('sig')}&create=1"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec", *_monitor_args(url)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        for line in proc.stderr:  # until it says it has caught up with the stream
            lines.append(line)
            if line.startswith('{"monitor": "caught-up"'):
                break
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
    finally:
        destroy(url)
    err = "".join(lines) + rest
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    drained = [json.loads(x) for x in err.splitlines() if x.startswith('{"monitor": "drained"')]
    assert drained and drained[0]["complete"] is True, err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["complete"] is True
    assert [x for x in err.splitlines() if x.startswith("interrupted (SIGINT) after")], err


def test_a_second_ctrl_c_abandons_a_drain_that_does_not_finish():
    """The stop handshake drains what is on the bus; if that hangs (here: the monitor's
    handler never returns, and --drain-timeout is long), a second Ctrl-C stops it at once,
    saying what was not read, exit status 3."""
    from test_broker_monitor import _created, _publish_all

    url = f"{require(URLS['nats'], 'NATS_URL')}?ns={new_namespace('sig')}&create=1"
    hang = """
import asyncio
import sagaspec.cli.monitor as cli
async def hang(self, msg):
    await asyncio.Event().wait()
cli._Session.on_message = hang
"""
    try:
        asyncio.run(_publish_all(url, _created(3)))
        proc = _child(hang, "monitor", "--adapter", url, "--no-table", "--from-start",
                      "--drain-timeout", "100", "--summary-json", "-")
        lines: list[str] = []
        for line in proc.stderr:  # until it has subscribed
            lines.append(line)
            if line.startswith("monitoring "):
                break
        proc.send_signal(signal.SIGINT)
        for line in proc.stderr:  # (two signals at once would be one: wait for the first)
            lines.append(line)
            if line.startswith("stopping: "):
                break
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)  # far below the 100 s drain timeout
    finally:
        destroy(url)
    err = "".join(lines) + rest
    _no_traceback(proc.returncode, err)
    assert proc.returncode == 3 and out == ""
    assert "interrupted (SIGINT) again while draining, stopped at once after 0 events" in err
