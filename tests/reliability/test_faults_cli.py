"""`sagaspec faults`: --db validated in one line, and SIGTERM/SIGINT leave nothing behind
(no runner process, no broker stream, no temporary folder), with exit status 3."""

from __future__ import annotations

import asyncio
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


def _children(pid: int) -> dict[int, str]:
    """Runner processes started by ``pid`` (their own sessions, so found by parent id)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and "sagaspec.examples.runner" in cmdline:
            found[int(entry.name)] = cmdline
    return found


@pytest.mark.brokers
@pytest.mark.parametrize("sig, twice", [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_a_signal_cleans_up_processes_stream_and_folder(sig, twice):
    url = require(URLS["nats"], "NATS_URL")
    proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "faults", "--adapter", url,
                             "--sagas", "100000", "--kills", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        children: dict[int, str] = {}
        while len(children) < 4:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            children = _children(proc.pid)
            time.sleep(0.2)
        # Orders are being placed: the progress line (twice a second, on stderr) counts one.
        for line in proc.stderr:
            if (m := re.match(r"placing: (\d+)/", line)) and int(m.group(1)) > 0:
                break
        else:
            pytest.fail(f"exited before placing an order: {proc.wait()}")
        folder = Path(re.search(r"--db (\S+)/payment\.db", children[min(children)]).group(1))
        ns = re.search(r"[?&]ns=([A-Za-z0-9_-]+)", " ".join(children.values())).group(1)
        assert folder.is_dir()
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
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not folder.exists()
    assert not _stream_exists(url, ns)
    if not twice:
        assert "INTERRUPTED: partial result" in out and "placed" in out


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
