"""Fault runner: real service processes on a real broker, killed with SIGKILL and restarted.

:func:`run_faults` starts the four reference services as processes
(:class:`~sagaspec.examples.cluster.Cluster`) in a fresh namespace of the broker, places
orders with a mix of declined payments and short stock, and while the sagas run kills a
random service at random moments (``SIGKILL``: no acknowledgement, no clean-up), keeps it
down for a random while and restarts it; some restarts are *armed* to die again at one of
the reference services' worst points (``before-commit``, ``after-commit``,
``after-publish``). The broker redelivers what was not acknowledged.

Every event on the bus is observed by a non-competing consumer and fed to
:class:`~sagaspec.conformance.monitor.SagaMonitor`; at the end the services' own stores
are read too (through the runners' control channel). The end-to-end properties:

* no double charge (no order charged twice: events *and* Payment's records),
* a refund only after a charge, completion only when paid and reserved (monitor),
* every saga terminal within ``settle_timeout`` seconds after the last kill (0 lost),
* 0 leaked reservations (a cancelled order whose stock Inventory still holds),
* stock conserved: for every sku, initial stock = stock left + units held by
  reservations of completed orders.

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
from decimal import Decimal
from typing import Any

from sagaspec.adapters.broker import SERVICES

from sagaspec.errors import AdapterError, UsageError

__all__ = ["FaultPlan", "FaultReport", "FaultRunner", "run_faults"]

SKUS = ("sku-a", "sku-b", "sku-c", "sku-d")
SCARCE = "sku-scarce"


@dataclass
class FaultPlan:
    """What a fault run does.

    ``decline_rate`` of the orders come from a user whose card is declined and
    ``short_rate`` of them also order the scarce sku (whose stock runs out), so both
    compensation paths run under faults. ``concurrency`` bounds sagas in flight.
    """

    sagas: int = 100
    kills: int = 5
    seed: int | None = None
    decline_rate: float = 0.2
    short_rate: float = 0.25
    concurrency: int = 16
    downtime: tuple[float, float] = (0.0, 0.6)
    crash_points: bool = True
    #: Share of restarts armed to die at a crash point, and which points may be chosen.
    armed_rate: float = 0.5
    points: tuple[str, ...] = ("before-commit", "after-commit", "after-publish")
    settle_timeout: float = 60.0
    services: tuple[str, ...] = SERVICES
    stock_per_sku: int = 100_000
    scarce_stock: int = -1  # default: most orders of the scarce sku fail

    def __post_init__(self) -> None:
        if self.sagas < 1:
            raise UsageError(f"sagas must be at least 1, got {self.sagas}")
        if self.kills < 0:
            raise UsageError(f"kills must be >= 0, got {self.kills}")
        unknown = [s for s in self.services if s not in SERVICES]
        if unknown:
            raise UsageError(f"unknown service(s) to kill: {', '.join(unknown)}; expected {', '.join(SERVICES)}")
        from sagaspec.examples.service import CRASH_POINTS

        bad = [x for x in self.points if x not in CRASH_POINTS]
        if bad:
            raise UsageError(f"unknown crash point(s) {', '.join(bad)}; expected {', '.join(CRASH_POINTS)}")
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(2**32)

    def kill_points(self) -> list[int]:
        """After how many placed orders each kill happens (spread over the run)."""
        return [round((i + 1) * self.sagas / (self.kills + 1)) for i in range(self.kills)]


@dataclass
class FaultReport:
    """The figures of one fault run (``ok`` when every property held)."""

    broker: str
    sagas: int = 0
    placed: int = 0
    terminal: int = 0
    lost: int = 0
    completed: int = 0
    cancelled: int = 0
    declined: int = 0
    short_stock: int = 0
    double_charges: int = 0
    leaked_reservations: int = 0
    stock_conserved: bool = False
    stock: dict[str, dict[str, int]] = field(default_factory=dict)
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
        return (not self.interrupted and self.lost == 0 and self.double_charges == 0
                and self.leaked_reservations == 0 and self.stock_conserved and not self.violations
                and self.placed == self.sagas)

    def lines(self) -> list[str]:
        """The figures as printed by ``sagaspec faults`` and ``bench/soak.py``."""
        kills = ", ".join(f"{s} {n}" for s, n in sorted(self.kills_by_service.items())) or "none"
        out = [
            f"broker              {self.broker}",
            f"sagas               {self.placed} placed of {self.sagas} "
            f"({self.completed} completed, {self.cancelled} cancelled; "
            f"{self.declined} declined payments, {self.short_stock} short stock)",
            f"terminal            {self.terminal}",
            f"lost                {self.lost}",
            f"double charges      {self.double_charges}",
            f"leaked reservations {self.leaked_reservations}",
            f"stock conserved     {'yes' if self.stock_conserved else 'NO'}",
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
        out.append("result              " + ("OK" if self.ok else "FAILED"))
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class FaultRunner:
    """One fault run (see the module docstring). ``progress`` gets a dict twice a second."""

    def __init__(self, broker: str, plan: FaultPlan | None = None, *, db: str | None = None,
                 mutant: str | None = None, design: str = "corrected",
                 progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.broker = broker
        self.plan = plan or FaultPlan()
        self.db = db
        self.mutant = mutant
        self.design = design
        self.progress = progress
        self.rng = random.Random(self.plan.seed)
        self._stop = asyncio.Event()
        self._chaos: asyncio.Lock | None = None
        self.orders: list[dict[str, Any]] = []
        self.kind: dict[str, str] = {}  # sagaId -> normal | declined | short

    def stop(self) -> None:
        """Stop placing orders and killing; the run settles and reports a partial result."""
        self._stop.set()

    # -- building the workload -----------------------------------------------------------
    def _world(self) -> dict[str, Any]:
        p = self.plan
        # About a quarter of the orders of the scarce sku fit (two units each): the others
        # fail their reservation, whatever the seed.
        scarce = p.scarce_stock if p.scarce_stock >= 0 else max(2, int(p.sagas * p.short_rate * 0.5))
        stock = dict.fromkeys(SKUS, p.stock_per_sku)
        stock[SCARCE] = scarce
        return {"stock": stock, "declined_users": [f"declined-{i}" for i in range(8)], "decline_over": None}

    def _order(self, i: int, token: str) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        declined = roll < self.plan.decline_rate
        short = rng.random() < self.plan.short_rate
        items = []
        for sku in rng.sample(SKUS, rng.randint(1, 2)):
            items.append({"sku": sku, "quantity": rng.randint(1, 3), "unitPrice": f"{rng.randint(1, 40)}.00"})
        if short:
            items.append({"sku": SCARCE, "quantity": 2, "unitPrice": "5.00"})
        amount = sum(Decimal(it["unitPrice"]) * it["quantity"] for it in items)
        user = f"declined-{rng.randrange(8)}" if declined else f"user-{rng.randrange(1000)}"
        saga = f"saga-{token}-{i}"
        self.kind[saga] = "declined" if declined else ("short" if short else "normal")
        return {"sagaId": saga, "orderId": f"order-{token}-{i}", "userId": user,
                "amount": f"{amount:.2f}", "currency": "USD", "items": items}

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
                                mutant=self.mutant, db=self.db)
        report = FaultReport(broker=adapter.transport.describe(), sagas=p.sagas, seed=int(p.seed or 0))
        engine = SagaMonitor(timeout=p.settle_timeout * 10)
        adapter.record = False
        adapter.listeners.append(lambda item: engine.observe(item, now=time.monotonic() - t0))
        await adapter.start()
        try:
            cluster = adapter.cluster
            world = self._world()
            from sagaspec.adapters.base import World

            await adapter.setup(World.from_json(world))
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
                order = self._order(i, token)
                await self._place(adapter, order)
                self.orders.append(order)
                placed_ids.append(order["sagaId"])
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
                await asyncio.sleep(0.2)
            report.settle_seconds = max(0.0, time.monotonic() - last_restart)
            await asyncio.sleep(0.2)
            now = time.monotonic() - t0
            engine.final(now=now)
            await self._judge(adapter, engine, placed_ids, world, report)
            report.restarts = cluster.restarts if cluster else 0
        finally:
            await adapter.close()
        report.seconds = time.monotonic() - t0
        return report

    _last_restart = 0.0

    async def _place(self, adapter: Any, order: dict[str, Any]) -> None:
        # Order may be down (killed): the adapter retries; placing is idempotent by sagaId.
        await adapter.place_order(order)

    async def _kill_and_restart(self, adapter: Any, report: FaultReport) -> None:
        p = self.plan
        service = self.rng.choice(p.services)
        down = self.rng.uniform(*p.downtime)
        armed = self.rng.choice(p.points) if p.crash_points and self.rng.random() < p.armed_rate else None
        cluster = adapter.cluster
        if self._chaos is None:
            self._chaos = asyncio.Lock()
        async with self._chaos:  # one kill at a time; orders keep flowing meanwhile
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
        by_saga = {o["sagaId"]: o for o in self.orders}
        views = engine.sagas
        report.terminal = self._terminal(engine, placed)
        report.lost = len(placed) - report.terminal
        report.completed = sum(1 for s in placed if s in views and views[s].state == "completed")
        report.cancelled = sum(1 for s in placed if s in views and views[s].state == "cancelled")
        report.declined = sum(1 for s in placed if s in views and views[s].declined)
        report.short_stock = sum(1 for s in placed if s in views and views[s].reservation_failed)
        report.events = engine.events
        report.redelivered_copies = engine.copies
        violations = Counter(v.check for v in engine.violations)
        report.violations = dict(sorted(violations.items()))
        report.examples = [v.to_json() for v in engine.violations[:5]]
        order_ids = [by_saga[s]["orderId"] for s in placed]
        # The services' own records, the ground truth for money and stock.
        payments = await adapter.inspect("payment", [f"order:{o}" for o in order_ids])
        inventory = await adapter.inspect("inventory", ["stock", *(f"order:{o}" for o in order_ids)])
        charged_twice = {k for k, r in payments.items() if r and len(r.get("charges") or ()) > 1}
        charged_twice |= {f"order:{views[s].orderId}" for s in placed if s in views and len(views[s].charges) > 1}
        report.double_charges = len(charged_twice)
        held: Counter[str] = Counter()
        leaked = 0
        for s in placed:
            rec = inventory.get(f"order:{by_saga[s]['orderId']}")
            if not rec or not rec.get("reservation") or rec.get("released"):
                continue
            view = views.get(s)
            if view is None or view.cancelled or not view.completed:
                leaked += 1  # stock held for an order that did not complete
            for item in rec["reservation"]["items"]:
                held[item["sku"]] += int(item["quantity"])
        report.leaked_reservations = leaked
        final = {k: int(v) for k, v in (inventory.get("stock") or {}).items()}
        conserved = True
        for sku, initial in world["stock"].items():
            left = final.get(sku, 0)
            report.stock[sku] = {"initial": initial, "left": left, "held": held[sku]}
            if initial != left + held[sku] or left < 0:
                conserved = False
        # Cross-check against the events: units reserved and not released per sku.
        by_events: Counter[str] = Counter()
        for s in placed:
            view = views.get(s)
            if view is not None and view.held_reservations == 1:
                for item in by_saga[s]["items"]:
                    by_events[item["sku"]] += int(item["quantity"])
        if any(by_events[sku] != held[sku] for sku in world["stock"]):
            conserved = False
            report.notes.append("stock held in Inventory's records differs from the reservations "
                                "seen on the bus (InventoryReserved not released)")
        report.stock_conserved = conserved


def run_faults(broker: str, *, sagas: int = 100, kills: int = 5, seed: int | None = None,
               db: str | None = None, mutant: str | None = None, design: str = "corrected",
               progress: Callable[[dict[str, Any]], None] | None = None, **plan: Any) -> FaultReport:
    """Run a fault run (see :class:`FaultPlan` for ``plan`` options) and return its report."""
    runner = FaultRunner(broker, FaultPlan(sagas=sagas, kills=kills, seed=seed, **plan), db=db,
                         mutant=mutant, design=design, progress=progress)
    return runner.run()
