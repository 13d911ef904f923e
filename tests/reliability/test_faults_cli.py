"""`sagaspec faults`: --db validated in one line, and SIGTERM/SIGINT leave nothing behind
(no runner process, no broker stream, no temporary folder), with exit status 3."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from relenv import URLS, require

pytestmark = pytest.mark.timeout(180)


def sagaspec(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sagaspec", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("db, fragment", [
    ("garbage://x", "unknown database scheme 'garbage'"),
    ("shared.db", "one SQLite file would be shared by every service"),
])
def test_bad_db_is_a_one_line_usage_error(db, fragment, tmp_path):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "sagaspec", "faults", "--adapter",
                        "nats://127.0.0.1:4222", "--db", db], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and fragment in lines[0]
    assert time.monotonic() - t0 < 20 and "Traceback" not in r.stderr


def _runners(pid: int) -> tuple[dict[int, Path], set[int]]:
    """Runner processes started by ``pid``, each with its log file (its stdout), and the
    fork servers they were forked from: a runner is a child of ``pid`` running
    ``sagaspec.examples.runner`` (``restart="spawn"``) or a child of its fork server."""
    procs: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        procs[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    servers = {p for p, (ppid, cmd) in procs.items() if ppid == pid and "sagaspec.examples._forkserver" in cmd}
    found = {}
    for p, (ppid, cmd) in procs.items():
        if ppid in servers or ppid == pid and "sagaspec.examples.runner" in cmd:
            try:
                found[p] = Path(os.readlink(f"/proc/{p}/fd/1"))
            except OSError:
                continue
    return found, servers


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.brokers
@pytest.mark.parametrize("sig, twice", [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_a_signal_cleans_up_processes_stream_and_folder(sig, twice):
    url = require(URLS["nats"], "NATS_URL")
    proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "faults", "--adapter", url,
                             "--sagas", "100000", "--kills", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        children: dict[int, Path] = {}
        while len(children) < 4:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            children, servers = _runners(proc.pid)
            time.sleep(0.2)
        # Orders are being placed: the progress line (twice a second, on stderr) counts one.
        for line in proc.stderr:
            if (m := re.match(r"placing: (\d+)/", line)) and int(m.group(1)) > 0:
                break
        else:
            pytest.fail(f"exited before placing an order: {proc.wait()}")
        folder = children[min(children)].parent  # the services' state: logs and SQLite files
        ns = re.search(r"[?&]ns=([A-Za-z0-9_-]+)", children[min(children)].read_text()).group(1)
        assert folder.is_dir() and (folder / "payment.db").exists()
        proc.send_signal(sig)
        if twice:
            time.sleep(0.5)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err[-2000:]
    assert "Traceback" not in err
    assert all(_gone(pid) for pid in [*children, *servers])
    assert not folder.exists()
    assert not _stream_exists(url, ns)
    if not twice:
        assert "INTERRUPTED: partial result" in out and "placed" in out
        # Nothing went wrong before the signal: incomplete, not failed.
        assert "result              INCOMPLETE" in out and "FAILED" not in out, out[-1500:]


@pytest.mark.brokers
def test_a_killed_run_leaves_no_runner_behind():
    """SIGKILL gives a run no time to stop its services: its fork server sees the run's
    pipe close and kills the runners it forked (runners started as processes of their own
    stayed behind, consuming)."""
    import shutil

    url = require(URLS["nats"], "NATS_URL")
    proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "faults", "--adapter", url,
                             "--sagas", "100000", "--kills", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children: dict[int, Path] = {}
    try:
        deadline = time.monotonic() + 60
        while len(children) < 4 or not all("ns=" in log.read_text() for log in children.values()):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            children, servers = _runners(proc.pid)
            time.sleep(0.2)
        folder = children[min(children)].parent
        ns = re.search(r"[?&]ns=([A-Za-z0-9_-]+)", children[min(children)].read_text()).group(1)
        proc.kill()
        proc.communicate()
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in [*children, *servers]):
            assert time.monotonic() < deadline, [pid for pid in [*children, *servers] if not _gone(pid)]
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in children:  # whatever stayed (the test failed): not left consuming
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)
    _drop_stream(url, ns)


def _drop_stream(url: str, ns: str) -> None:
    from sagaspec.adapters.broker import open_transport

    async def go() -> None:
        t = open_transport(f"{url}?ns={ns}")
        await t.connect()
        try:
            await t.destroy()
        finally:
            await t.close()

    asyncio.run(go())


def _stream_exists(url: str, ns: str) -> bool:
    from sagaspec.adapters.broker import open_transport

    async def go() -> bool:
        t = open_transport(f"{url}?ns={ns}")
        await t.connect()
        try:
            await t.ensure_topology(create=False)
            return True
        except Exception as exc:
            assert "not found" in str(exc)
            return False
        finally:
            await t.close()

    return asyncio.run(go())
