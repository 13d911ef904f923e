"""Kill real processes of any saga spec's reference services, then judge the bus log.

Every participant of the spec runs as a runner process (the reference interpreter) on
the broker, under a supervisor. Sagas are started through the control channel with a
random world per saga; during the run a random participant is SIGKILLed and restarted
(sometimes armed to die again at a crash point of its next handling). When every saga
has an outcome and the bus is quiet, the log is validated against the spec (trace
validation: every handling allowed, the ``always`` and ``at_rest`` properties hold), so
the verdicts are the spec's own properties. The properties a log cannot show (reading a
shared variable such as a stock level, or over all sagas) are then judged on the
participants' real variables (:mod:`sagaspec.conformance.store_check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagaspec.conformance.store_check import (
    VIOLATED,
    StoreVerdict,
    bus_blind,
    in_chunks,
    judge_variables,
    merge_variables,
)
from sagaspec.conformance.tracecheck import TraceReport, validate_log
from sagaspec.spec.sagafile import SagaSpec, resolve_spec

from sagaspec.errors import AdapterError, UsageError

__all__ = ["SpecFaultReport", "SpecFaultRunner"]


@dataclass
class SpecFaultReport:
    """The run's counts and verdicts."""

    spec: str
    sagas: int = 0
    started: int = 0
    settled: int = 0
    kills: int = 0
    events: int = 0
    seconds: float = 0.0
    trace: TraceReport | None = None
    interrupted: bool = False
    unsettled: list[str] = field(default_factory=list)
    #: the properties judged on the participants' variables at the end (or not judged, why)
    properties: dict[str, StoreVerdict] = field(default_factory=dict)

    @property
    def not_judged(self) -> list[str]:
        return [n for n, v in self.properties.items() if v.verdict not in ("held", VIOLATED)]

    @property
    def ok(self) -> bool:
        return (not self.unsettled and self.trace is not None and self.trace.ok and not self.interrupted
                and not any(v.verdict == VIOLATED for v in self.properties.values()))

    def lines(self) -> list[str]:
        out = [
            f"faults on {self.spec}: {self.started}/{self.sagas} sagas started, {self.settled} settled, "
            f"{self.kills} kills, {self.events} events in {self.seconds:.1f}s",
        ]
        if self.unsettled:
            out.append(f"  LOST: {len(self.unsettled)} saga(s) without an outcome: {', '.join(self.unsettled[:10])}")
        if self.trace is not None:
            if self.trace.ok:
                out.append(f"  the log follows the spec: {self.trace.handlings} handlings judged, "
                           "every always and at_rest property holds")
            else:
                out.append(f"  VIOLATION: {self.trace.failures[0]}")
                out.extend("    " + line for line in self.trace.diagram.splitlines())
        for name, v in self.properties.items():
            text = {"held": "held", VIOLATED: f"VIOLATED: {v.reason}"}.get(v.verdict, f"NOT JUDGED: {v.reason}")
            out.append(f"  on the stores: {name}: {text}")
        if self.interrupted:
            out.append("  interrupted: a partial result")
        unjudged = f" ({len(self.not_judged)} not judged: {', '.join(self.not_judged)})" if self.not_judged else ""
        out.append("verdict: " + ("OK" if self.ok else "FAILED" if not self.interrupted else "INCOMPLETE")
                   + unjudged)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec, "sagas": self.sagas, "started": self.started, "settled": self.settled,
            "kills": self.kills, "events": self.events, "seconds": round(self.seconds, 3),
            "unsettled": self.unsettled, "interrupted": self.interrupted, "ok": self.ok,
            "properties": {n: v.to_json() for n, v in self.properties.items()},
            "not_judged": self.not_judged,
            "trace": None if self.trace is None else {
                "handlings": self.trace.handlings,
                "failures": [str(f) for f in self.trace.failures],
            },
        }


class SpecFaultRunner:
    """One run (see the module docstring); :meth:`stop` ends it early with a partial report."""

    def __init__(self, broker: str, spec: SagaSpec | str, *, sagas: int = 20, kills: int = 3,
                 seed: int | None = None, db: str | None = None, settle_timeout: float = 60.0,
                 crash_points: bool = True, progress: Callable[[dict], None] | None = None,
                 launcher: Callable[..., Any] | None = None, victims: tuple[str, ...] = ()) -> None:
        from sagaspec.adapters.broker import registered_launcher

        self.broker = broker
        self.spec_ref = spec if isinstance(spec, str) else spec.source
        self.spec = resolve_spec(spec) if isinstance(spec, str) else spec
        self.sagas = sagas
        self.kills = kills
        self.rng = random.Random(seed)
        self.db = db
        self.settle_timeout = settle_timeout
        self.crash_points = crash_points
        self.progress = progress
        #: Runs the participants (:class:`~sagaspec.adapters.broker.Launcher`; default the registered one).
        self.launcher = launcher or registered_launcher()
        #: Participants that may be killed (default: every one).
        self.victims = tuple(victims)
        unknown = [v for v in self.victims if v not in {p.name for p in self.spec.participants}]
        if unknown:
            raise UsageError(f"unknown participant(s) to kill: {', '.join(unknown)}; expected "
                             f"{', '.join(p.name for p in self.spec.participants)}")
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run_async(self) -> SpecFaultReport:
        from sagaspec.adapters.broker import (
            BrokerConfig,
            decode_message,
            new_namespace,
            open_transport,
            transport_for,
        )
        spec = self.spec
        report = SpecFaultReport(spec=spec.name, sagas=self.sagas)
        config = BrokerConfig.from_url(self.broker, namespace=new_namespace("faults_"))
        if config.ack_wait is None:  # services are killed on purpose: redeliver their messages soon
            config.ack_wait = transport_for(config.scheme).SPAWN_ACK_WAIT
        state = Path(tempfile.mkdtemp(prefix="sagaspec-spec-faults-"))
        cluster = self.launcher(config, None, db=self.db, spec=self.spec_ref, state_dir=state)
        starter = next(p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions))
        outcomes = {e.name for e in spec.events if e.role == "outcome"}
        events: list[dict[str, Any]] = []
        settled: set[str] = set()
        transport = open_transport(config)
        began = time.monotonic()

        async def seen(received) -> None:
            decoded = decode_message(received.body, received.headers)
            if isinstance(decoded, dict):
                events.append(decoded)
                if decoded.get("eventType") in outcomes:
                    settled.add(str(decoded.get("sagaId")))

        replies: dict[str, list[dict[str, Any]]] = {}
        arrived = asyncio.Event()

        async def on_control(message: dict[str, Any]) -> None:
            if message.get("op") == "reply" and str(message.get("id")) in replies:
                replies[str(message.get("id"))].append(message)
                arrived.set()

        async def ask(op: str, to: set[str], **fields: Any) -> dict[str, dict[str, Any]]:
            """Send ``op`` until every one of ``to`` answered it (the control channel keeps
            nothing: a service that was down, or killed before it read the request, is
            asked again; a start asked again answers ``duplicate``)."""
            deadline = time.monotonic() + 60.0
            waiting = set(to)
            answers: dict[str, dict[str, Any]] = {}
            while waiting:
                rid = f"{op}-{uuid.uuid4().hex[:12]}"
                replies[rid] = []
                await transport.control_send({"op": op, "id": rid, "to": sorted(waiting), **fields})
                until = time.monotonic() + 2.0
                while waiting and time.monotonic() < until:
                    arrived.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(arrived.wait(), max(0.01, until - time.monotonic()))
                    for r in replies[rid]:
                        if r.get("error"):
                            raise AdapterError(f"{r.get('service')} refused {op}: {r['error']}")
                        waiting.discard(str(r.get("service")))
                        answers[str(r.get("service"))] = r
                replies.pop(rid, None)
                if waiting and time.monotonic() > deadline:
                    raise AdapterError(f"no answer to {op} from {', '.join(sorted(waiting))} within 60s")
            return answers

        routes: dict[str, list[str]] = {}

        async def idle() -> bool:
            """Whether every service's consumers are done (see the settle loop below)."""
            try:
                if set(routes) != set(cluster.services):  # the event types each consumes
                    routes.update({s: [str(x) for x in r.get("routes") or []]
                                   for s, r in (await ask("ping", set(cluster.services))).items()})
                if any(cluster.restarting(s) for s in cluster.services):
                    return False
                backlogs = await asyncio.gather(*(transport.backlog(s, routes[s]) for s in cluster.services))
                if any(backlogs):
                    return False
                if not transport.EXACT_BACKLOG:
                    answers = await ask("status", set(cluster.services))
                    return not any(r.get("busy") for r in answers.values())
                return True
            except AdapterError:
                return False

        def tell(phase: str) -> None:
            if self.progress is not None:
                self.progress({"phase": phase, "started": report.started, "sagas": self.sagas,
                               "settled": len(settled), "kills": report.kills,
                               "seconds": time.monotonic() - began})

        saga_ids = [f"f{i}" for i in range(self.sagas)]
        world = {"sagas": {s: {k: self.rng.choice(v) for k, v in spec.world.items()} for s in saga_ids}}
        kill_at = sorted(self.rng.sample(range(self.sagas), min(self.kills, self.sagas)))
        try:
            await transport.connect()
            await transport.ensure_topology(create=True)
            await transport.observe(seen, from_start=True)
            await transport.control_listen(on_control)
            cluster.start_all()
            await asyncio.to_thread(cluster.wait_ready, None, 60.0)
            await ask("setup", set(cluster.services), world=world)
            for i, saga in enumerate(saga_ids):
                if self._stop.is_set():
                    break
                # Started once the starter answered.
                await ask("start", {starter}, saga=saga)
                report.started += 1
                while i in kill_at:
                    kill_at.remove(i)
                    victim = self.rng.choice(self.victims or cluster.services)
                    point = self.rng.choice([*cluster.crash_points, None]) if self.crash_points else None
                    cluster.kill(victim)
                    cluster.start(victim, crash_at=point)
                    await asyncio.to_thread(cluster.wait_ready, (victim,), 60.0)
                    # The world is volatile in a service: the restarted one is told again
                    # (one armed to die at its next handling may be dying meanwhile).
                    with contextlib.suppress(AdapterError):
                        await ask("setup", {victim}, world=world)
                    report.kills += 1
                await asyncio.sleep(0.05)
                tell("running")
            deadline = time.monotonic() + self.settle_timeout
            # At rest: every started saga has its outcome and every service's consumers
            # have nothing pending or unacknowledged (and no runner is handling a message),
            # twice in a row with nothing published in between. (It was a fixed 2 s of
            # silence: slower than the services' own word, and blind to a redelivery due.)
            rested, idle_at = False, None
            while time.monotonic() < deadline and not self._stop.is_set():
                await asyncio.sleep(0.05)
                tell("settling")
                if not settled >= set(saga_ids[: report.started]):
                    continue
                count = len(events)
                if not await idle():
                    idle_at = None
                elif idle_at == count:
                    rested = True
                    break
                else:
                    idle_at = count
            blind = bus_blind(spec)
            if blind:
                started = saga_ids[: report.started]
                try:
                    answers = merge_variables([await ask("variables", set(cluster.services), sagas=chunk)
                                               for chunk in in_chunks(started)])
                except AdapterError as exc:
                    answers = {s: {"available": False, "reason": str(exc)} for s in cluster.services}
                report.properties = judge_variables(spec, started, answers, blind,
                                                    at_rest=settled >= set(started) and rested)
        finally:
            await transport.close()
            cluster.stop_all()
            cluster.cleanup()
            from sagaspec.adapters.broker import open_transport as _open

            config.spawn = tuple(cluster.services)  # their queues go too (RabbitMQ)
            cleaner = _open(config)
            try:
                await cleaner.connect()
                await cleaner.destroy()
            finally:
                await cleaner.close()
        report.interrupted = self._stop.is_set()
        report.events = len({e.get("eventId") for e in events})
        report.settled = len(settled)
        report.unsettled = [s for s in saga_ids[: report.started] if s not in settled]
        report.trace = validate_log(spec, events, at_rest=not report.unsettled)
        report.seconds = time.monotonic() - began
        return report
