"""Faults of the surroundings injected into a running reference system (a small nemesis).

The fault runner kills services; the nemesis (:func:`sagaspec.cli._nemesis.run_nemesis`,
above both the fault runner and the reference services) runs the same workload and the
same end-to-end verdict against faults of what the services depend on, the kinds Jepsen
injects, all on loopback and on servers started for the run (never a shared one). This
module holds the reference side of it: the faults, the poison messages, the throwaway
broker servers:

==================  ==================================================================
fault               what happens
==================  ==================================================================
``broker-pause``    the broker process is stopped (SIGSTOP) for ``pause`` s, then resumed
``broker-restart``  the broker is killed (SIGKILL) and started again ``down`` s later
``db-terminate``    PostgreSQL terminates the services' own sessions of this run
``sqlite-lock``     another connection holds a service's SQLite file locked for ``lock`` s
``service-kill``    a service is killed (SIGKILL) and started again (the fault runner's)
``poison``          poison messages of every kind are published where orders go (not
                    JSON, binary, deep nesting, a 5,000-digit number, a JSON array,
                    schema-invalid events): each consumer must dead-letter every one
==================  ==================================================================

Recovery must need no operator: broker clients reconnect, services that exit on a lost
broker are restarted by their supervisor with backoff, the outbox is relayed after
reconnecting, transient store failures are retried. The verdict is the fault runner's:
every saga terminal, 0 lost, every property of the spec held on the bus.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagaspec.errors import AdapterError, UsageError

__all__ = ["FAULTS", "POISON", "ThrowawayServer", "terminate_sessions"]

FAULTS = ("broker-pause", "broker-restart", "db-terminate", "sqlite-lock", "service-kill", "poison")

#: One of each kind of poison message (all published on the OrderCreated route).
POISON = (
    b"this is not JSON",
    bytes(range(256)),
    b"[" * 100_000 + b"]" * 100_000,
    b'{"eventType": "OrderCreated", "eventId": "evt-poison-int", "amount": ' + b"9" * 5000 + b"}",
    b'[{"eventType": "OrderCreated"}]',
    b'{"eventType": "OrderCreated", "eventId": "evt-poison-invalid"}',
    b'{"eventType": "NoSuchEvent", "eventId": "evt-poison-type"}',
)
#: Services that consume OrderCreated, so each must dead-letter every poison message.
_POISONED = ("payment", "inventory")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayServer:
    """A ``nats-server -js`` or ``redis-server`` of one run, on a free loopback port,
    with its data in ``workdir`` (so a kill and restart keeps the streams)."""

    kind: str
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("nats", "redis"):
            raise UsageError(f"no throwaway server for {self.kind!r}; expected nats or redis")
        self.workdir = Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}" if self.kind == "nats" else f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        if self.kind == "nats":
            return ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port),
                    "-sd", str(self.workdir / "jetstream")]
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)]

    def start(self, timeout: float = 15.0) -> ThrowawayServer:
        log = open(self.workdir / f"{self.kind}.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AdapterError(f"{self.kind} server on port {self.port} exited "
                                   f"({self.proc.returncode}); see {self.workdir}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise AdapterError(f"{self.kind} server on port {self.port} not listening after {timeout:g}s")

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> ThrowawayServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def terminate_sessions(url: str, namespace: str) -> int:
    """Terminate the PostgreSQL sessions of this run's services (and no one else's)."""
    import psycopg
    from sagaspec.examples.pgstore import PostgresStore

    prefix = PostgresStore.application_name(PostgresStore.schema_name("", namespace)) + "_"
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE starts_with(application_name, %s) AND pid <> pg_backend_pid()",
            (prefix,),
        ).fetchall()
    return len(rows)
