"""Fixtures of the conformance-suite tests: a `sagaspec serve` subprocess, small runs."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sagaspec.conformance import RunConfig, Runner
from sagaspec.conformance.events import FailureFound, FailureShrunk, RunFinished


class Served:
    """`sagaspec serve --port 0 ARGS...` on a free loopback port (stop() when done)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sagaspec", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(30)
        if not line or "listening on" not in line[0]:
            self.stop()
            raise RuntimeError(f"sagaspec serve did not start: {line}")
        self.url = line[0].split("listening on", 1)[1].strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Close our ends of the pipes: an unclosed pipe is a ResourceWarning (an error).
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def serve():
    """Start servers with ``serve(*args)``; every one is stopped after the test."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        s = Served(*args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


class Result:
    """Everything a run produced, for assertions."""

    def __init__(self, events: list) -> None:
        self.events = events
        self.final: RunFinished = next(e for e in events if isinstance(e, RunFinished))
        self.found = [e for e in events if isinstance(e, FailureFound)]
        self.failures = {e.failure.check: e.failure for e in events
                         if isinstance(e, FailureShrunk)}


@pytest.fixture
def conform(tmp_path):
    """``conform(**RunConfig fields)`` runs the suite and returns a :class:`Result`."""

    def go(**kwargs) -> Result:
        kwargs.setdefault("adapter", "inprocess:")
        kwargs.setdefault("failures_dir", tmp_path / "failures")
        kwargs.setdefault("coverage", False)
        return Result(list(Runner(RunConfig(**kwargs)).execute()))

    return go
