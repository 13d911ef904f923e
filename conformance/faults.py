"""Fault runner: real service processes on a real broker, killed with SIGKILL and restarted.

:func:`run_faults` has a launcher (the ``spawn=`` of :class:`~sagaspec.adapters.broker.BrokerAdapter`)
start every participant of a design as a process in a fresh namespace of the broker,
sets a world and starts sagas through the adapter, and while they run kills a random
participant at random moments (``SIGKILL``: no acknowledgement, no clean-up), keeps it
down for a random while and restarts it; some restarts are *armed* to die again at one of
the launcher's crash points (the reference runners': ``before-commit``,
``after-commit``, ``after-publish``). The broker redelivers what was not acknowledged.

Every event on the bus is observed by a non-competing consumer and fed to
:class:`~sagaspec.conformance.monitor.SagaMonitor`, so the verdicts are the spec's own
properties, by name: its ``always`` properties after every event, its ``at_rest`` ones
once the run is quiet, and every saga terminal within ``settle_timeout`` seconds after
the last kill (0 lost). The properties the bus cannot show (those reading a shared
variable such as a stock level, or over all sagas) are judged once the run is quiet on
the participants' real variables (:mod:`sagaspec.conformance.store_check`); a participant
that cannot report them leaves those properties *not judged*, and the report says so.

The workload (the world and each saga's trigger payload) is a :class:`Workload`: the one
the launcher says its services understand (``launcher.workload``; the hand-written order
services: orders with declined payments and short stock mixed in), else
:class:`SpecWorkload` (random world knob values per saga, for the spec interpreter).

>>> FaultPlan(sagas=10, kills=2).kill_points()
[3, 7]
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sagaspec.errors import AdapterError, UsageError

__all__ = ["FaultPlan", "FaultReport", "FaultRunner", "Workload", "SpecWorkload", "run_faults"]


class Workload(Protocol):
    """What a fault run asks of the saga it drives: a world, and trigger payloads."""

    def world(self) -> dict[str, Any]:
        """The world set on every participant at the start (JSON form of ``World``)."""
        ...

    def saga(self, i: int, token: str) -> dict[str, Any]:
        """The payload starting saga ``i`` of the run (with its ``sagaId``)."""
        ...


class SpecWorkload:
    """Any spec's sagas on its reference interpreter: each saga gets a random value of
    every world knob of the spec (set through ``setup``), and is started with its
    ``sagaId`` alone (the interpreter makes the trigger event's fields)."""

    def __init__(self, spec: Any, sagas: int, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self._sagas: list[str] = []
        self._world: dict[str, dict[str, str]] = {}
        self.token = uuid.uuid4().hex[:8]
        for i in range(sagas):
            saga = f"saga-{self.token}-{i}"
            self._sagas.append(saga)
            self._world[saga] = {k: rng.choice(v) for k, v in spec.world.items()}

    def world(self) -> dict[str, Any]:
        return {"sagas": self._world}

    def saga(self, i: int, token: str) -> dict[str, Any]:
        return {"sagaId": self._sagas[i]}


@dataclass
class FaultPlan:
    """What a fault run does.

    ``services`` may be killed (default: every participant); ``concurrency`` bounds sagas
    in flight; ``workload`` holds options of the launcher's workload (the hand-written
    order services': ``decline_rate``, ``short_rate``, ``stock_per_sku``, ``scarce_stock``).
    """

    sagas: int = 100
    kills: int = 5
    seed: int | None = None
    concurrency: int = 16
    downtime: tuple[float, float] = (0.0, 0.6)
    crash_points: bool = True
    #: Share of restarts armed to die at a crash point, and which points may be chosen
    #: (default: every crash point of the launcher).
    armed_rate: float = 0.5
    points: tuple[str, ...] = ()
    settle_timeout: float = 60.0
    services: tuple[str, ...] = ()
    workload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sagas < 1:
            raise UsageError(f"sagas must be at least 1, got {self.sagas}")
        if self.kills < 0:
            raise UsageError(f"kills must be >= 0, got {self.kills}")
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(2**32)

    def kill_points(self) -> list[int]:
        """After how many started sagas each kill happens (spread over the run)."""
        return [round((i + 1) * self.sagas / (self.kills + 1)) for i in range(self.kills)]


@dataclass
class FaultReport:
    """The figures of one fault run (``ok`` when every property held)."""

    broker: str
    spec: str = ""
    sagas: int = 0
    placed: int = 0
    terminal: int = 0
    lost: int = 0
    completed: int = 0
    cancelled: int = 0
    #: failure event type -> sagas that saw it (the spec's failure events, each listed)
    failures: dict[str, int] = field(default_factory=dict)
    #: every property judged (the spec's, by name, and the stream's own) -> violations
    properties: dict[str, int] = field(default_factory=dict)
    #: properties judged on the participants' variables at the end -> held / violated
    on_stores: dict[str, str] = field(default_factory=dict)
    #: properties nobody could judge -> why (never counted as held)
    not_judged: dict[str, str] = field(default_factory=dict)
    kills: int = 0
    kills_by_service: dict[str, int] = field(default_factory=dict)
    armed_crashes: int = 0
    restarts: int = 0
    events: int = 0
    redelivered_copies: int = 0
    violations: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    settle_seconds: float = 0.0
    seed: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.interrupted and self.lost == 0 and not self.violations
                and self.placed == self.sagas)

    def lines(self) -> list[str]:
        """The figures as printed by ``sagaspec faults`` and ``bench/soak.py``."""
        kills = ", ".join(f"{s} {n}" for s, n in sorted(self.kills_by_service.items())) or "none"
        failures = ", ".join(f"{n} {e}" for e, n in self.failures.items()) or "none"
        out = [
            f"broker              {self.broker}",
            f"spec                {self.spec}",
            f"sagas               {self.placed} placed of {self.sagas} "
            f"({self.completed} completed, {self.cancelled} cancelled; failures: {failures})",
            f"terminal            {self.terminal}",
            f"lost                {self.lost}",
        ]
        broken = sum(1 for n in self.properties.values() if n)
        stores = len(self.on_stores)
        out.append(f"properties          {len(self.properties)} judged ({len(self.properties) - stores} on the bus, "
                   f"{stores} on the stores), {len(self.properties) - broken} held, {broken} violated, "
                   f"{len(self.not_judged)} not judged")
        width = max([len(n) for n in (*self.properties, *self.not_judged)] + [18])
        for name, n in self.properties.items():
            where = " (on the stores)" if name in self.on_stores else ""
            out.append(f"  {name.ljust(width)}  {'held' if not n else f'VIOLATED {n}x'}{where}")
        for name, why in self.not_judged.items():
            out.append(f"  {name.ljust(width)}  NOT JUDGED: {why}")
        out += [
            f"kills               {self.kills} ({kills}; {self.armed_crashes} armed crash points, "
            f"{self.restarts} supervisor restarts)",
            f"events              {self.events} distinct, {self.redelivered_copies} redelivered copies",
            f"violations          {', '.join(f'{c} {n}' for c, n in self.violations.items()) or 'none'}",
            f"time                {self.seconds:.1f}s total, all terminal {self.settle_seconds:.1f}s "
            f"after the last restart",
            f"seed                {self.seed}",
        ]
        out += [f"note                {n}" for n in self.notes]
        if self.interrupted:
            out.append("INTERRUPTED: partial result")
        unjudged = (f" ({len(self.not_judged)} propert{'y' if len(self.not_judged) == 1 else 'ies'} "
                    "not judged)") if self.not_judged else ""
        # An interrupted run that saw nothing wrong is incomplete, not failed (exit 3, not 1).
        failed = bool(self.lost or self.violations) or not self.interrupted and self.placed != self.sagas
        verdict = "OK" if self.ok else "FAILED" if failed else "INCOMPLETE"
        out.append("result              " + verdict + unjudged)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class FaultRunner:
    """One fault run (see the module docstring). ``progress`` gets a dict twice a second.

    ``launcher`` runs the participants (see :class:`~sagaspec.adapters.broker.Launcher`;
    default: the registered one); ``workload`` drives the saga (default: see the module
    docstring).
    """

    def __init__(self, broker: str, plan: FaultPlan | None = None, *, db: str | None = None,
                 mutant: str | None = None, design: str = "corrected",
                 progress: Callable[[dict[str, Any]], None] | None = None,
                 launcher: Callable[..., Any] | None = None, workload: Workload | None = None) -> None:
        from sagaspec.adapters.broker import participants, registered_launcher

        self.broker = broker
        self.plan = plan or FaultPlan()
        self.db = db
        self.mutant = mutant
        self.design = design
        self.progress = progress
        self.launcher = launcher or registered_launcher()
        self.rng = random.Random(self.plan.seed)
        p = self.plan
        known = participants(design)
        self.services = p.services or known
        unknown = [s for s in self.services if s not in known]
        if unknown:
            raise UsageError(f"unknown service(s) to kill: {', '.join(unknown)}; expected {', '.join(known)}")
        crash_points = tuple(getattr(self.launcher, "crash_points", ()))
        self.points = p.points or crash_points
        bad = [x for x in self.points if x not in crash_points]
        if bad:
            raise UsageError(f"unknown crash point(s) {', '.join(bad)}; expected {', '.join(crash_points)}")
        make = getattr(self.launcher, "workload", None)
        self.workload = workload or (make(design, p.sagas, self.rng, **p.workload) if make else None)
        if self.workload is None:
            if p.workload:
                raise UsageError(f"workload options {', '.join(sorted(p.workload))}: the services "
                                 f"of {design} take none")
            from sagaspec.spec.sagafile import resolve_spec

            self.workload = SpecWorkload(resolve_spec(design), p.sagas, self.rng)
        self._stop = asyncio.Event()
        self._chaos: asyncio.Lock | None = None
        #: The trigger payloads of the sagas started, in order.
        self.orders: list[dict[str, Any]] = []

    def stop(self) -> None:
        """Stop starting sagas and killing; the run settles and reports a partial result."""
        self._stop.set()

    # -- the run -------------------------------------------------------------------------
    def run(self) -> FaultReport:
        """Run to completion in a fresh event loop (Ctrl-C gives a partial report)."""
        return asyncio.run(self.run_async())

    async def run_async(self) -> FaultReport:
        from sagaspec.adapters.broker import BrokerAdapter
        from sagaspec.conformance.monitor import SagaMonitor

        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, self._stop.set)
        p = self.plan
        t0 = time.monotonic()
        adapter = BrokerAdapter(self.broker, spawn="all", participant="system", design=self.design,
                                mutant=self.mutant, db=self.db, launcher=self.launcher)
        engine = SagaMonitor(timeout=p.settle_timeout * 10, spec=self.design)
        report = FaultReport(broker=adapter.transport.describe(), spec=engine.spec.name,
                             sagas=p.sagas, seed=int(p.seed or 0))
        adapter.record = False
        adapter.listeners.append(lambda item: engine.observe(item, now=time.monotonic() - t0))
        await adapter.start()
        try:
            cluster = adapter.cluster
            # The world as the workload's services read it (sent as it is).
            await adapter.control("setup", {"world": self.workload.world()},
                                  expect=set(cluster.services) if cluster else None)
            token = uuid.uuid4().hex[:8]
            kill_at = p.kill_points()
            kills_done = 0
            last_restart = time.monotonic()
            pending_restarts: list[asyncio.Task[Any]] = []
            placed_ids: list[str] = []
            next_report = 0.0
            for i in range(p.sagas):
                if self._stop.is_set():
                    report.interrupted = True
                    break
                # Keep at most `concurrency` sagas in flight.
                while len(placed_ids) - self._terminal(engine, placed_ids) >= p.concurrency:
                    if self._stop.is_set():
                        break
                    await asyncio.sleep(0.01)
                order = self.workload.saga(i, token)
                await self._place(adapter, order)
                self.orders.append(order)
                placed_ids.append(str(order["sagaId"]))
                while kills_done < len(kill_at) and len(placed_ids) >= kill_at[kills_done]:
                    kills_done += 1
                    pending_restarts.append(asyncio.ensure_future(self._kill_and_restart(adapter, report)))
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + 0.5
                    self._progress("placing", engine, placed_ids, report, t0)
            for task in pending_restarts:
                await task
            if pending_restarts:
                last_restart = max(last_restart, self._last_restart)
            report.placed = len(placed_ids)
            # Every saga must settle within settle_timeout of the last restart.
            deadline = last_restart + p.settle_timeout
            while time.monotonic() < deadline:
                if self._terminal(engine, placed_ids) == len(placed_ids) and await self._quiet(adapter):
                    break
                self._progress("settling", engine, placed_ids, report, t0)
                await asyncio.sleep(0.05)
            report.settle_seconds = max(0.0, time.monotonic() - last_restart)
            # What the services published before they went idle has reached the observer
            # (it was a fixed 0.2 s).
            with contextlib.suppress(AdapterError):
                await adapter.transport.sync_observer(timeout=adapter.config.timeout)
            engine.final(now=time.monotonic() - t0)
            await self._judge(adapter, engine, placed_ids, self.workload.world(), report)
            report.restarts = cluster.restarts if cluster else 0
        finally:
            await adapter.close()
        report.seconds = time.monotonic() - t0
        return report

    _last_restart = 0.0

    async def _place(self, adapter: Any, order: dict[str, Any]) -> None:
        # The starting participant may be down (killed): the adapter retries; starting is
        # idempotent by sagaId.
        await adapter.place_order(order)

    async def _kill_and_restart(self, adapter: Any, report: FaultReport) -> None:
        p = self.plan
        service = self.rng.choice(self.services)
        down = self.rng.uniform(*p.downtime)
        armed = (self.rng.choice(self.points)
                 if p.crash_points and self.points and self.rng.random() < p.armed_rate else None)
        cluster = adapter.cluster
        if self._chaos is None:
            self._chaos = asyncio.Lock()
        async with self._chaos:  # one kill at a time; sagas keep starting meanwhile
            await self._kill_one(adapter, cluster, service, down, armed, report)

    async def _kill_one(self, adapter: Any, cluster: Any, service: str, down: float,
                        armed: str | None, report: FaultReport) -> None:
        await asyncio.to_thread(cluster.kill, service, signal.SIGKILL)
        report.kills += 1
        report.kills_by_service[service] = report.kills_by_service.get(service, 0) + 1
        await asyncio.sleep(down)
        await asyncio.to_thread(cluster.start, service, crash_at=armed)
        if armed:
            report.armed_crashes += 1
        await adapter.wait_ready((service,), timeout=60.0)
        self._last_restart = time.monotonic()

    @staticmethod
    def _terminal(engine: Any, saga_ids: list[str]) -> int:
        return sum(1 for s in saga_ids if s in engine.sagas and engine.sagas[s].terminal)

    async def _quiet(self, adapter: Any) -> bool:
        try:
            return await adapter._services_idle()
        except AdapterError:
            return False

    def _progress(self, phase: str, engine: Any, placed: list[str], report: FaultReport, t0: float) -> None:
        if self.progress is None:
            return
        self.progress({"phase": phase, "placed": len(placed), "sagas": self.plan.sagas,
                       "terminal": self._terminal(engine, placed), "kills": report.kills,
                       "violations": len(engine.violations), "seconds": time.monotonic() - t0})

    # -- the verdict ---------------------------------------------------------------------
    async def _judge(self, adapter: Any, engine: Any, placed: list[str], world: dict[str, Any],
                     report: FaultReport) -> None:
        """The spec's properties as the monitor judged them, and the sagas' outcomes."""
        from sagaspec.conformance.monitor import monitor_checks

        views = engine.sagas
        mine = [views[s] for s in placed if s in views]
        report.terminal = self._terminal(engine, placed)
        report.lost = len(placed) - report.terminal
        report.completed = sum(1 for v in mine if v.state == "completed")
        report.cancelled = sum(1 for v in mine if v.state == "cancelled")
        report.failures = {f: sum(1 for v in mine if v.count(f)) for f in engine.roles.failures}
        report.events = engine.events
        report.redelivered_copies = engine.copies
        violations = Counter(v.check for v in engine.violations)
        report.violations = dict(sorted(violations.items()))
        report.properties = {name: violations.get(name, 0) for name in monitor_checks(engine.spec)}
        report.examples = [v.to_json() for v in engine.violations[:5]]
        await self._judge_stores(adapter, engine.spec, placed, report)

    async def _judge_stores(self, adapter: Any, spec: Any, placed: list[str], report: FaultReport) -> None:
        """The properties the bus cannot show, on the participants' variables now."""
        from sagaspec.conformance.store_check import (
            VIOLATED,
            bus_blind,
            in_chunks,
            judge_variables,
            merge_variables,
        )

        blind = bus_blind(spec)
        if not blind:
            return
        replies = merge_variables([await adapter.variables(chunk) for chunk in in_chunks(placed)])
        verdicts = judge_variables(spec, placed, replies, blind, at_rest=report.lost == 0)
        for name, v in verdicts.items():
            if v.verdict not in ("held", VIOLATED):
                report.properties.pop(name, None)
                report.not_judged[name] = v.reason
                continue
            report.on_stores[name] = v.verdict
            report.properties[name] = report.properties.get(name, 0) + (v.verdict == VIOLATED)
            if v.verdict == VIOLATED:
                report.violations[name] = report.violations.get(name, 0) + 1
                report.examples.append({"check": name, "message": v.reason, "sagas": v.sagas})


def run_faults(broker: str, *, sagas: int = 100, kills: int = 5, seed: int | None = None,
               db: str | None = None, mutant: str | None = None, design: str = "corrected",
               progress: Callable[[dict[str, Any]], None] | None = None,
               launcher: Callable[..., Any] | None = None, workload: Workload | None = None,
               **plan: Any) -> FaultReport:
    """Run a fault run (see :class:`FaultPlan` for ``plan`` options) and return its report."""
    runner = FaultRunner(broker, FaultPlan(sagas=sagas, kills=kills, seed=seed, **plan), db=db,
                         mutant=mutant, design=design, progress=progress, launcher=launcher,
                         workload=workload)
    return runner.run()
