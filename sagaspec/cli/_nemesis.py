"""The nemesis: the fault runner's workload and verdict with faults of the surroundings.

It extends :class:`~sagaspec.conformance.faults.FaultRunner` with the faults of
:mod:`sagaspec.examples.nemesis` (a paused or restarted broker, terminated database
sessions, a locked SQLite file, poison messages), so it sits above both, here in the
command-line layer; ``bench/nemesis.py`` and the reliability tests run it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from sagaspec.errors import AdapterError, UsageError
from sagaspec.examples.nemesis import _POISONED, FAULTS, POISON, ThrowawayServer, terminate_sessions

__all__ = ["run_nemesis"]


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
                self.hits += terminate_sessions(str(self.db), cluster.config.namespace)
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
