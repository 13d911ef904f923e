"""Faults of the surroundings injected into a running reference system (a small nemesis).

The fault runner (:mod:`sagaspec.conformance.faults`) kills services; here the same
workload and the same end-to-end verdict run against faults of what the services
depend on, the kinds Jepsen injects, all on loopback and on servers this module starts
itself (never a shared one):

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

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagaspec.errors import AdapterError, UsageError

__all__ = ["FAULTS", "ThrowawayServer", "run_nemesis"]

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


def _fault_runner_class() -> type:
    from sagaspec.conformance.faults import FaultRunner

    class NemesisRunner(FaultRunner):
        """The fault runner's workload and verdict, with :data:`FAULTS` as its kills."""

        def __init__(self, broker: str, plan: Any, *, fault: str, server: ThrowawayServer | None,
                     db: str | None, pause: float, down: float, lock: float, **kw: Any) -> None:
            from sagaspec.examples.cluster import Cluster

            super().__init__(broker, plan, db=db, launcher=Cluster, **kw)
            self.fault = fault
            self.server = server
            self.pause, self.down, self.lock = pause, down, lock
            self.injected = 0
            #: What the fault hit (sessions terminated, lock windows with work waiting, ...).
            self.hits = 0

        async def _kill_one(self, adapter: Any, cluster: Any, service: str, down: float,
                            armed: str | None, report: Any) -> None:
            if self.fault == "service-kill":
                await super()._kill_one(adapter, cluster, service, down, armed, report)
                self.injected += 1
                return
            if self.fault == "poison":
                for payload in POISON:
                    await adapter.deliver_raw(payload)
                self.injected += 1
                self.hits += len(POISON)
                report.kills_by_service["poison"] = report.kills_by_service.get("poison", 0) + 1
                self._last_restart = time.monotonic()
                return
            before = await self._retries(adapter, service) if self.fault == "sqlite-lock" else 0
            await asyncio.to_thread(self._inject, cluster, service)
            self.injected += 1
            if self.fault == "sqlite-lock":  # handlings that met the lock and were retried
                self.hits += max(0, await self._retries(adapter, service) - before)
            report.kills_by_service[self.fault] = report.kills_by_service.get(self.fault, 0) + 1
            # Back when every service answers again (each may have been restarted).
            deadline = time.monotonic() + 120
            while True:
                try:
                    await adapter.wait_ready(cluster.services, timeout=5.0)
                    break
                except AdapterError:
                    if time.monotonic() > deadline:
                        raise
            self._last_restart = time.monotonic()

        async def _judge(self, adapter: Any, engine: Any, placed: list[str], world: dict[str, Any],
                         report: Any) -> None:
            await super()._judge(adapter, engine, placed, world, report)
            if self.fault != "poison":
                return
            for service in _POISONED:  # every poison message dead-lettered, by each consumer
                values = await adapter.inspect(service, ["dead-letters:count"])
                got = int(values.get("dead-letters:count") or 0)
                if got != self.hits:
                    report.violations[f"poison-dead-lettered-{service}"] = self.hits - got
                report.notes.append(f"{service} dead-lettered {got} of {self.hits} poison messages")

        @staticmethod
        async def _retries(adapter: Any, service: str) -> int:
            try:
                replies = await adapter.control("status", {"to": [service]}, expect={service},
                                                timeout=10.0)
            except AdapterError:
                return 0
            return int(replies[0].get("retries") or 0)

        def _inject(self, cluster: Any, service: str) -> None:
            if self.fault == "broker-pause":
                assert self.server is not None
                self.server.pause()
                time.sleep(self.pause)
                self.server.resume()
            elif self.fault == "broker-restart":
                assert self.server is not None
                self.server.kill()
                time.sleep(self.down)
                self.server.start()
            elif self.fault == "db-terminate":
                self.hits += _terminate_sessions(str(self.db), cluster.config.namespace)
            elif self.fault == "sqlite-lock":
                locker = sqlite3.connect(str(cluster.state_dir / f"{service}.db"), timeout=30,
                                         isolation_level=None)
                try:
                    locker.execute("BEGIN EXCLUSIVE")
                    time.sleep(self.lock)
                    locker.execute("ROLLBACK")
                finally:
                    locker.close()

    return NemesisRunner


def _terminate_sessions(url: str, namespace: str) -> int:
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


def run_nemesis(fault: str, broker: str = "nats", *, workdir: str | Path, sagas: int = 40,
                faults: int = 2, seed: int | None = None, pg_url: str | None = None,
                pause: float = 6.0, down: float = 3.0, lock: float = 8.0,
                settle_timeout: float = 90.0) -> Any:
    """Run the workload on a throwaway ``broker`` (nats or redis) with ``faults``
    injections of ``fault``; returns the fault runner's report (``.ok``, ``.lines()``)."""
    if fault not in FAULTS:
        raise UsageError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    if fault == "db-terminate" and not pg_url:
        raise UsageError("db-terminate needs a PostgreSQL URL (pg_url)")
    from sagaspec.conformance.faults import FaultPlan

    db = pg_url if fault == "db-terminate" else None
    workdir = Path(workdir)
    server = ThrowawayServer(broker, workdir / broker).start()
    try:
        plan = FaultPlan(sagas=sagas, kills=faults, seed=seed if seed is not None else random.randrange(2**31),
                         crash_points=fault == "service-kill", settle_timeout=settle_timeout)
        runner = _fault_runner_class()(server.url + "?timeout=2", plan, fault=fault, server=server,
                                       db=db, pause=pause, down=down, lock=lock)
        report = runner.run()
        hit = {"db-terminate": f" ({runner.hits} PostgreSQL sessions terminated)",
               "poison": f" ({runner.hits} poison messages)",
               "sqlite-lock": f" ({runner.hits} transient failures retried)"}.get(fault, "")
        report.notes.append(f"{runner.injected} x {fault} on a throwaway {broker} server{hit}")
        return report
    finally:
        server.stop()
