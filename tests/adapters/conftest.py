"""Fixtures of the adapter tests: an event loop runner and a `sagaspec serve` process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading

import pytest


@pytest.fixture
def run():
    """Run coroutines on one event loop per test, closed at the end (as the suite does)."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sagaspec", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        if not line or "listening on" not in line[0]:
            self.stop()
            raise RuntimeError(f"sagaspec serve did not start: {line} {self.proc.stderr.read()}")
        self.url = line[0].split("listening on", 1)[1].strip()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()  # or the pipes are left to the garbage collector (ResourceWarning)
        return err


@pytest.fixture
def serve_process():
    """Start `sagaspec serve --port 0 ARGS...` (call ``.stop()`` when done)."""
    return Served


@pytest.fixture(scope="module")
def served_system():
    s = Served("--participant", "system")
    yield s
    s.stop()
