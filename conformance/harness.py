"""One test case: the suite plays the model around the system under test.

A :class:`Case` owns everything of one test case: its sagas (fresh ids), the world it
set up, the state of every participant the suite *plays* (all but the target, or none
when the target is the whole system), the bus of in-flight deliveries, the oracle and
the observed history. Every decision (which in-flight message to deliver next, which
outcome a played participant takes, which fault to inject, the free payload fields)
is asked of a :class:`Chooser`: hypothesis draws them when generating, a recorded case
answers them when replaying, a model path when covering edges. The case records what
happened as :class:`Step` values, the replayable and printable form of a test case.

Semantics
---------
* A message published by a played participant (or by the SUT) gets one in-flight copy
  per *played* subscriber and, for single-participant targets, per subscribing SUT
  participant; any in-flight copy may be delivered next (reordering, late and stale
  events), a delivered one may be delivered again (a duplicate, same ``eventId``).
* After every step that touches the SUT the suite collects what it published and checks
  it: schema, saga consistency, the model's safety properties, then the model oracle;
  with ``settle_each_step`` the SUT counts as quiet after each collect (the adapter's
  ``collect`` waits for quiet), which finds missing reactions at the step that needed
  them.
* When the adapter has ``setup``, each case sets the world up first (the spec's knob
  values per saga, or a per-key world: stock per key, the data the world rules read)
  and the oracle judges the service's world-dependent decisions exactly
  (:mod:`~sagaspec.conformance.world`: checks ``world``, ``stock`` and
  ``world-rules``); without it they are the service's choice.
* Each case has a scheduling policy: oldest in-flight message first (FIFO), or newest
  first (LIFO: the fastest way to late, stale and overtaken events); hypothesis'
  choices are offsets from the policy's end, so shrinking goes toward the policy.
* A crash of a SUT participant kills and restarts it, armed to die again at a crash
  point of its next handling (``Act.point``, one of the run's ``crash_points`` that the
  adapter honours): before its commit (the event is redelivered and must be processed
  once), after the commit (the restarted process must publish its outbox) or after
  publishing (the re-sent events are duplicates). The oracle's crash keeps every
  configuration before and after the restart, and the outbox owed survives it, so each
  point is judged by the same model.
* A whole system that offers :data:`~sagaspec.adapters.base.STEP` (a steppable system)
  is driven delivery by delivery: the suite holds its own bus, each of its publications
  gets one in-flight copy per subscribing participant, delivered by the suite like any
  other (so sagas interleave, a delivery may be duplicated, and an armed crash lands
  between two of them); a delivery killed before its ack goes back in flight. The oracle
  then tracks exactly what each participant was given (no bus of its own). A system
  without it runs each saga by itself; a recorded case replays the way it was made.
* At the end every in-flight message is delivered (in policy order), the SUT is collected
  once more, and the spec's quiet properties (``at_rest``, ``eventually``) and the
  oracle's quiescence are checked.
* Then, when the chooser says so (:meth:`Chooser.stray`), a valid event of a saga the
  case never started (``stray``: a saga slot left unplaced) is delivered to the SUT, as
  a bus would after a producer's bug or a lost trigger, and everything is judged again.
  The oracle accepts what the model's participants do with that message in a fresh saga
  slot, or nothing at all (a service may drop an event of a saga it never saw); anything
  else, a crash, a schema-invalid or inconsistent publication fails as always. The
  spec's ``always`` properties are not judged for that saga (they are written for whole
  sagas, and the stray is an event no model participant published). Last in the case,
  after everything else was judged, so a case with a stray is the case without it plus
  one step.
"""

from __future__ import annotations

import base64
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sagaspec.adapters.base import KNOBS, STEP, Adapter, RawMessage, World
from sagaspec.adapters.crash import CRASH_POINTS, CrashPoint
from sagaspec.conformance.arrival import canonical_order, done_predicate
from sagaspec.conformance.checks import CheckFailed, checks_for, fail
from sagaspec.conformance.history import History, SagaInfo
from sagaspec.conformance.models import SuiteModel
from sagaspec.conformance.oracle import Oracle
from sagaspec.conformance.payloads import (
    NEGATIVE_KINDS,
    RAW_KINDS,
    Ids,
    build_event,
    negative_input,
)
from sagaspec.conformance.world import STOCK, WORLD, WORLD_RULES, judged_participants
from sagaspec.model.participant import Msg, Outcome

__all__ = ["Case", "CaseSettings", "Step", "Act", "Chooser", "Delivery", "SYSTEM", "Scripted"]

SYSTEM = "system"
#: Whether a steppable system (capability ``step``) is driven delivery by delivery;
#: ``False``: each saga runs by itself, as before (bench/bench_system_steps.py compares).
STEP_SYSTEM = True


@dataclass
class CaseSettings:
    """What one run allows a test case to do (shared by every case of the run)."""

    design: Any = "corrected"
    participant: str = SYSTEM
    max_sagas: int = 2
    max_steps: int = 16
    collect_timeout: float = 0.2
    settle_timeout: float = 0.5
    settle_each_step: bool = True
    capabilities: frozenset[str] = frozenset()
    faults: bool = True
    #: Replays of model traces may crash a played participant (its volatile state).
    crash_played: bool = False
    #: The property a replayed case is expected to break (reported first if it does).
    expect: str | None = None
    #: Checks switched off (``--skip-check``): their violations are ignored.
    skip: frozenset[str] = frozenset()
    #: Bound on the oracle's configurations (see :class:`~.oracle.Oracle`).
    max_belief: int = 200_000
    #: Where crashes of SUT participants may land (those the run asked for that the
    #: adapter honours; empty: the adapter does not say, its crashes land where it arms).
    crash_points: tuple[CrashPoint, ...] = ()
    #: Whether the adapter's ``crash`` takes the point (else its one point is implied).
    crash_takes_point: bool = False

    @property
    def sut(self) -> tuple[str, ...]:
        """The participants inside the system under test (all of the design's for
        ``system``)."""
        if self.participant != SYSTEM:
            return (self.participant,)
        from sagaspec.conformance.models import suite_model

        return tuple(p.name for p in suite_model(self.design, 1).participants)


@dataclass
class Delivery:
    """One in-flight copy: ``msg`` (with its concrete ``event``) for participant ``to``."""

    msg: Msg
    event: dict[str, Any]
    to: str


@dataclass(frozen=True)
class Act:
    """An enabled action; ``key`` identifies it across runs (replay matches on it)."""

    op: str  # place | deliver | duplicate | crash | invalid | raw | stray
    key: tuple
    index: int = -1  # position in the in-flight / delivered list, for deliveries
    #: A crash's point (``None``: a played participant's, or the adapter's own point).
    point: CrashPoint | None = None

    def describe(self) -> str:
        if self.op in ("deliver", "duplicate"):
            t, saga, src, to = self.key
            return f"{self.op} {t}[{saga}] {src}->{to}"
        if self.op == "place":
            return f"place order {self.key[0]}"
        if self.op == "crash" and self.point is not None:
            return f"crash {self.key[0]} at {self.point}"
        if self.op == "stray":
            return f"stray {self.key[0]}[{self.key[1]}] (a saga never started)"
        return f"{self.op} {self.key[0]}"


@dataclass
class Step:
    """One recorded step of a test case (JSON-able; the unit of replay and diagrams).

    ``op`` is ``place``, ``deliver``, ``duplicate``, ``crash``, ``invalid``, ``raw``,
    ``quiet`` (the final collect) or ``stray`` (an event of a saga never started); ``src``/``to`` the lifelines; ``msg`` the model
    message; ``outcome`` the label of a played participant's reaction; ``event`` the
    concrete event handed over (or the raw payload, base64, for ``raw``); ``emitted``
    what a played participant published; ``published`` what the SUT published after it;
    ``point`` where a crash lands in the participant's next handling (``None``: the
    adapter's own point, or a played participant's crash).
    """

    op: str
    src: str = ""
    to: str = ""
    msg: dict[str, Any] | None = None
    outcome: str | None = None
    event: dict[str, Any] | None = None
    payload: str | None = None
    kind: str | None = None
    emitted: list[dict[str, Any]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    raw_published: list[dict[str, Any]] = field(default_factory=list)
    phase: str = "case"
    point: CrashPoint | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"op": self.op, "src": self.src, "to": self.to}
        for k in ("msg", "outcome", "event", "payload", "kind", "point"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        for k in ("emitted", "published", "raw_published"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        if self.phase != "case":
            out["phase"] = self.phase
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Step:
        point = d.get("point")
        if point is not None and point not in CRASH_POINTS:
            raise ValueError(f"'point' of a {d.get('op')} step: {str(point)[:40]!r} is not one "
                             f"of {', '.join(CRASH_POINTS)}")
        return cls(op=d["op"], src=d.get("src", ""), to=d.get("to", ""), msg=d.get("msg"),
                   outcome=d.get("outcome"), event=d.get("event"), payload=d.get("payload"),
                   kind=d.get("kind"), emitted=list(d.get("emitted", ())),
                   published=list(d.get("published", ())),
                   raw_published=list(d.get("raw_published", ())),
                   phase=d.get("phase", "case"), point=point)


class Chooser(Protocol):
    """Every decision of a test case (hypothesis, a recorded case, or a model path)."""

    def begin(self, settings: CaseSettings, token: str) -> tuple[list[SagaInfo], World | None]: ...
    def schedule(self, case: Case) -> str: ...
    def late_duplicates(self, case: Case) -> int: ...
    def more(self, case: Case) -> bool: ...
    def action(self, case: Case, acts: Sequence[Act]) -> Act | None: ...
    def outcome(self, case: Case, participant: str, msg: Msg,
                outcomes: Sequence[Outcome]) -> Outcome: ...
    def free(self, case: Case, event_type: str, saga: int) -> dict[str, Any]: ...
    def negative(self, case: Case, raw: bool) -> tuple[int, int, int]: ...
    # Optional: ``stray(case) -> Act | None``, an event of a saga never started to
    # deliver once the case is over (see the module docstring); without it, none.


class Scripted:
    """Marker base of choosers that replay recorded steps (they place orders themselves)."""


def _msg_json(m: Msg) -> dict[str, Any]:
    return {"type": m.type, "saga": m.saga, "src": m.src}


class Case:
    """One test case against ``adapter`` (see the module docstring)."""

    def __init__(self, settings: CaseSettings, model_for: Callable[[int], SuiteModel],
                 adapter: Adapter, call: Callable[[Any], Any], chooser: Chooser,
                 validate: Callable[[dict[str, Any]], list[Any]]) -> None:
        self.s = settings
        self.adapter = adapter
        self.call = call
        self.chooser = chooser
        self.validate = validate
        self.token = uuid.uuid4().hex[:8]
        self.ids = Ids(self.token)
        sagas, world = chooser.begin(settings, self.token)
        self.sagas = sagas
        self.world = world
        self.model = model_for(len(sagas))
        self.sut = settings.sut
        self.played = tuple(p.name for p in self.model.participants if p.name not in self.sut)
        #: Driven delivery by delivery (see the module docstring).
        self.stepping = (steppable(settings.participant, settings.capabilities, adapter)
                         and (not isinstance(chooser, Scripted) or _stepped(getattr(chooser, "all", ()))))
        self.states: dict[str, Any] = {n: self.model.participant(n).init() for n in self.played}
        self.done: dict[str, set[Msg]] = {n: set() for n in self.played}
        #: The world decisions this case's oracle judges exactly (see :mod:`~.world`):
        #: those of SUT participants, when the suite set the world up.
        self.judged: frozenset[str] = self._judged()
        parts = self.model.participants
        if self.judged:
            parts = judged_participants(self.model, self.world, sagas, judge=self.judged)
        self.oracle = Oracle(parts, self.sut, triggers=self.model.triggers,
                             max_belief=settings.max_belief, internal_bus=not self.stepping)
        self.history = History(sagas, self.model)
        self.inflight: list[Delivery] = []
        self.delivered: list[Delivery] = []  # deliveries to the SUT (duplicate candidates)
        self.delivered_played: list[Delivery] = []  # deliveries to played participants
        self.observed: list[dict[str, Any]] = []  # SUT publications, distinct
        self.placed: set[int] = set()
        #: Saga slots that got a stray event: never started (see the module docstring).
        self.strays: set[int] = set()
        #: Per saga index, its latest event of each type (what provenance copies from).
        self.facts: dict[int, dict[str, dict[str, Any]]] = {s.index: {} for s in sagas}
        self.steps: list[Step] = []
        self.deferred: list[CheckFailed] = []
        self.crashes = 0
        self.negatives = 0
        self.events = 0  # messages exchanged with the SUT (throughput)
        self.adapter_seconds = 0.0
        self.oracle_seconds = 0.0  # schema, history and model checks of what was observed
        self.by_saga = {s.sagaId: s for s in sagas}
        #: Scheduling policy of this case: deliver the newest in-flight message first
        #: (late, stale and overtaken events) instead of the oldest.
        self.lifo = False
        #: The SUT's lifeline in diagrams: the target participant, or "system".
        self.label = settings.participant

    def _judged(self) -> frozenset[str]:
        if self.world is None or "setup" not in self.s.capabilities or "model" in self.s.skip:
            return frozenset()
        checks = checks_for(self.s.design)
        # The form of world the target takes decides what is judged.
        if KNOBS in self.s.capabilities:
            names: tuple[str, ...] = ((WORLD,) if self.world.knobs else ()) + (
                (STOCK,) if self.world.shared else ())
        else:
            names = (STOCK, WORLD_RULES)
        return frozenset(name for name in names if name in checks
                         and name not in self.s.skip and checks[name].applies(self.s.participant))

    def knob(self, saga: int) -> Callable[[str], Any] | None:
        """The world's knob values of saga ``saga`` (``None``: not set up)."""
        values = None if self.world is None else self.world.knobs.get(self.sagas[saga].sagaId)
        return None if values is None else values.get

    # -- running ------------------------------------------------------------------------
    def run(self) -> None:
        """Play the whole case; raises :class:`CheckFailed` on the first violation."""
        if STEP in self.s.capabilities and callable(getattr(self.adapter, "hold", None)):
            self._adapter("hold", self.adapter.hold(self.stepping))
        if self.world is not None and "setup" in self.s.capabilities:
            self._adapter("setup", self.adapter.setup(self.world))
        self.lifo = self.chooser.schedule(self) == "lifo"
        n = 0
        if not isinstance(self.chooser, Scripted):
            # Every generated case places its first order: a case without one tests nothing.
            self._place(0)
        scripted = isinstance(self.chooser, Scripted)
        while n < self.s.max_steps and self.chooser.more(self):
            n += 1
            acts = self.enabled()
            if not acts and scripted:
                break
            # A generated step draws its choices even when nothing is enabled: how many
            # draws a case makes must not depend on what the service published.
            act = self.chooser.action(self, acts)
            if act is None:
                if scripted:
                    break
                continue
            self.perform(act)
        self.finish()

    def finish(self) -> None:
        """Deliver everything in flight, then check quiescence and the quiet properties."""
        self._drain()
        # Late duplicates: a message redelivered after its saga is over (the bus kept a
        # copy). Only generated cases choose some; replays recorded them as steps.
        for _ in range(self.chooser.late_duplicates(self) if self.s.faults else 0):
            dups = [a for a in self.enabled() if a.op == "duplicate"]
            act = self.chooser.action(self, dups)  # drawn even when there is none
            if act is None:
                continue
            self.perform(act)
            self.steps[-1].phase = "drain"
            self._drain()
        step = Step("quiet", src=self.label, to="suite", phase="drain")
        self.steps.append(step)
        self._collect(step, self.s.settle_timeout)
        try:
            self.history.check_quiet(prefer=self.s.expect, skip=self.s.skip)
        except CheckFailed as exc:
            if self.deferred and exc.check != self.s.expect:
                raise self._deferred() from None
            raise
        if self.deferred:
            raise self._deferred()
        if "model" not in self.s.skip:
            self.oracle.quiet()
        chooser_stray = getattr(self.chooser, "stray", None)
        act = chooser_stray(self) if chooser_stray is not None and self.s.faults else None
        if act is not None:
            self._stray(*act.key)
            self._drain()
            step = Step("quiet", src=self.label, to="suite", phase="drain")
            self.steps.append(step)
            self._collect(step, self.s.settle_timeout)
            self.history.check_quiet(prefer=self.s.expect, skip=self.s.skip)
            if "model" not in self.s.skip:
                self.oracle.quiet()

    def _deferred(self) -> CheckFailed:
        first = self.deferred[0]
        first.message += (f" (the replayed trace expected {self.s.expect}, which did not "
                          "fail)")
        return first

    # -- actions ------------------------------------------------------------------------
    def enabled(self) -> list[Act]:
        """Enabled actions, most ordinary first (hypothesis shrinks toward index 0)."""
        acts: list[Act] = []
        order = range(len(self.inflight))
        for i in (reversed(order) if self.lifo else order):
            d = self.inflight[i]
            acts.append(Act("deliver", (d.msg.type, d.msg.saga, d.msg.src, d.to), i))
        nxt = next((s.index for s in self.sagas if s.index not in self.placed), None)
        if nxt is not None:
            acts.append(Act("place", (nxt,)))
        if self.s.faults:
            seen: set[tuple] = set()
            for i, d in enumerate(self.delivered):
                key = (d.msg.type, d.msg.saga, d.msg.src, d.to)
                if key not in seen:
                    seen.add(key)
                    acts.append(Act("duplicate", key, i))
            for i, d in enumerate(self.delivered_played):
                key = (d.msg.type, d.msg.saga, d.msg.src, d.to)
                if key not in seen:
                    seen.add(key)
                    acts.append(Act("duplicate", key, len(self.delivered) + i))
            if "crash" in self.s.capabilities and self.crashes < 2:
                for name in self.sut:
                    acts.append(Act("crash", (name,)))
            if self.s.crash_played:
                for name in self.played:
                    acts.append(Act("crash", (name,)))
            if self.negatives < 2 and self.placed:
                acts.append(Act("invalid", ("dict",)))
                if "deliver_raw" in self.s.capabilities:
                    acts.append(Act("raw", ("bytes",)))
        return acts

    def perform(self, act: Act) -> None:
        if act.op == "deliver":
            self._deliver(self.inflight[act.index])
        elif act.op == "place":
            self._place(act.key[0])
        elif act.op == "duplicate":
            n = len(self.delivered)
            self._duplicate(self.delivered[act.index] if act.index < n
                            else self.delivered_played[act.index - n])
        elif act.op == "crash":
            self._crash(act.key[0], act.point)
        elif act.op in ("invalid", "raw"):
            self._negative(act.op == "raw")
        else:  # pragma: no cover - enabled() makes no other ops
            raise ValueError(act.op)

    # -- the customer ---------------------------------------------------------------------
    def _place(self, i: int) -> None:
        saga = self.sagas[i]
        self.placed.add(i)
        # The saga's trigger event and who publishes it, from the spec.
        etype = min(self.model.triggers)
        src = self.model.publisher(etype) or ""
        msg = Msg(etype, i, src)
        if src in self.sut:
            step = Step("place", src="customer", to=self.label, msg=_msg_json(msg), event=saga.start())
            self.steps.append(step)
            self.oracle.trigger(msg)
            self._adapter("start_saga", self.adapter.start_saga(saga.start()))
            self.events += 1
            self._collect(step, self.s.collect_timeout)
            return
        starter = self.model.participant(src)
        outs = [o for o in starter.internal(self.states[src])
                if any(m.type == etype and m.saga == i for m in o.publish)]
        step = Step("place", src="customer", to=src, msg=_msg_json(msg))
        self.steps.append(step)
        if not outs:  # the model cannot place it (should not happen)
            return
        out = self.chooser.outcome(self, src, msg, outs)
        step.outcome = out.label
        self.states[src] = out.state
        self._publish_played(step, src, out.publish, cause=None)

    # -- deliveries -----------------------------------------------------------------------
    def _deliver(self, d: Delivery, phase: str = "case") -> None:
        self.inflight.remove(d)
        if d.to in self.sut:
            step = Step("deliver", src=d.msg.src, to=d.to, msg=_msg_json(d.msg), event=d.event,
                        phase=phase)
            self.steps.append(step)
            self.delivered.append(d)
            self._to_sut(step, d)
            return
        step = Step("deliver", src=d.msg.src, to=d.to, msg=_msg_json(d.msg),
                    event={"eventId": d.event.get("eventId")}, phase=phase)
        self.steps.append(step)
        self.delivered_played.append(d)
        self._played_receive(step, d)

    def _duplicate(self, d: Delivery) -> None:
        if d.to in self.played:
            step = Step("duplicate", src=d.msg.src, to=d.to, msg=_msg_json(d.msg),
                        event={"eventId": d.event.get("eventId")})
            self.steps.append(step)
            self._played_receive(step, d)
            return
        step = Step("duplicate", src=d.msg.src, to=d.to, msg=_msg_json(d.msg), event=d.event)
        self.steps.append(step)
        self._to_sut(step, d)

    def _to_sut(self, step: Step, d: Delivery) -> None:
        self.history.note_received(d.event)
        # A single-participant target gets it for that participant, as does one of a
        # steppable system; a system that runs by itself, for all its subscribers.
        to = None if d.to == SYSTEM else d.to
        seen = getattr(self.chooser, "delivering", None)
        if seen is not None:
            seen(self, d)
        self.oracle.deliver(d.msg, to)
        killed = None
        if to is not None and self.stepping:
            if not self._adapter("deliver_to", self.adapter.deliver_to(to, d.event)):
                killed = (d.msg, to)
                self.inflight.append(d)  # killed before its ack: the bus redelivers it, later
        else:
            self._adapter("deliver", self.adapter.deliver(d.event))
        self.events += 1
        self._collect(step, self.s.collect_timeout, killed)

    def _played_receive(self, step: Step, d: Delivery) -> None:
        name = d.to
        if d.msg in self.done[name]:
            step.outcome = "ignored (duplicate)"
            return
        self.done[name].add(d.msg)
        p = self.model.participant(name)
        outs = p.on_event(self.states[name], d.msg)
        out = self.chooser.outcome(self, name, d.msg, outs)
        step.outcome = out.label
        self.states[name] = out.state
        self._publish_played(step, name, out.publish, cause=d.event)

    def _publish_played(self, step: Step, name: str, publish: Sequence[Msg],
                        cause: dict[str, Any] | None) -> None:
        for m in publish:
            saga = self.sagas[m.saga]
            free = self.chooser.free(self, m.type, m.saga)
            ev = build_event(self.model.spec, m.type, saga, self.ids, cause=cause,
                             events=self.facts[m.saga], free=free, knob=self.knob(m.saga))
            step.emitted.append(ev)
            self.history.add(ev, "suite")
            self._fan_out(m, ev)

    def _fan_out(self, m: Msg, ev: dict[str, Any]) -> None:
        for sub in self.model.subscribers(m.type):
            if sub in self.played or (sub in self.sut and (self.s.participant != SYSTEM or self.stepping)):
                self.inflight.append(Delivery(m, ev, sub))

    # -- faults ---------------------------------------------------------------------------
    def _crash(self, name: str, point: CrashPoint | None = None) -> None:
        if name in self.played:
            p = self.model.participant(name)
            self.states[name] = p.restart(self.states[name])
            self.steps.append(Step("crash", src="suite", to=name, kind=name))
            return
        self.crashes += 1
        step = Step("crash", src="suite", to=self.label, kind=name, point=point)
        self.steps.append(step)
        self.oracle.crash(name)
        if point is not None and self.s.crash_takes_point:
            call = self.adapter.crash(name, point)  # type: ignore[call-arg]
        else:
            call = self.adapter.crash(name)
        self._adapter("crash", call)
        self._collect(step, self.s.collect_timeout)

    def _negative(self, raw: bool) -> None:
        self.negatives += 1
        kind_i, saga_i, type_i = self.chooser.negative(self, raw)
        kinds = RAW_KINDS if raw else NEGATIVE_KINDS
        kind = kinds[kind_i % len(kinds)]
        placed = sorted(self.placed)
        saga = self.sagas[placed[saga_i % len(placed)]]
        types = self.subscribed_types()
        etype = types[type_i % len(types)]
        template = build_event(self.model.spec, etype, saga, self.ids, cause=None,
                               events=dict(self.facts[saga.index]), free={},
                               knob=self.knob(saga.index))
        bad = negative_input(kind, template, self.ids, self.model.spec)
        if isinstance(bad, bytes):
            step = Step("raw", src="suite", to=self.label, kind=kind,
                        payload=base64.b64encode(bad).decode("ascii"),
                        msg={"type": etype, "saga": saga.index, "src": "suite"})
            self.steps.append(step)
            call = self.adapter.deliver_raw(bad)
        else:
            step = Step("invalid", src="suite", to=self.label, kind=kind, event=bad,
                        msg={"type": etype, "saga": saga.index, "src": "suite"})
            self.steps.append(step)
            call = self.adapter.deliver(bad)
        what = f"a {kind} {etype} message for saga {saga.sagaId}"
        # The reference services log what they dead-letter; this one the suite sent on
        # purpose, so its log line is noise in the suite's output.
        log = logging.getLogger("sagaspec.service")
        quiet, log.disabled = log.disabled, True
        try:
            self._adapter("deliver_raw" if raw else "deliver", call)
        except CheckFailed as exc:
            raise fail("rejects-invalid-input",
                       f"delivering {what} made the adapter fail: {exc.message}") from None
        finally:
            log.disabled = quiet
        self.events += 1
        try:
            self._collect(step, self.s.collect_timeout)
        except CheckFailed as exc:
            if exc.check in ("model", "no-crash", STOCK, WORLD_RULES, WORLD) or \
                    exc.check in _safety(self.model.spec):
                raise fail("rejects-invalid-input",
                           f"after {what}: {exc.message}", event=exc.event,
                           allowed=exc.allowed) from None
            raise

    def _stray(self, etype: str, i: int) -> None:
        """Deliver a valid ``etype`` of saga ``i``, which the case never started."""
        self.strays.add(i)
        src = self.model.publisher(etype) or "suite"
        msg = Msg(etype, i, src)
        ev = build_event(self.model.spec, etype, self.sagas[i], self.ids, cause=None,
                         events=self.facts[i], free={}, knob=self.knob(i))
        step = Step("stray", src="suite", to=self.label, msg=_msg_json(msg), event=ev,
                    phase="drain")
        self.steps.append(step)
        # Not recorded in the history: the spec's properties read the saga's variables
        # from its events, and no model participant published this one. The SUT's
        # answers are recorded and judged by the oracle, schema and saga-consistency, but
        # not by the saga's ``always`` properties: a reaction the model allows to a lone
        # event of a saga (a notification of a completion) breaks properties written for
        # whole sagas.
        to = self.s.participant
        self.delivered.append(Delivery(msg, ev, to))
        self.history.note_received(ev)
        self.oracle.deliver(msg, to if to != SYSTEM else None, optional=True)
        self._adapter("deliver", self.adapter.deliver(ev))
        self.events += 1
        self._collect(step, self.s.collect_timeout)

    @property
    def stray_ids(self) -> frozenset[str]:
        """The sagaIds of the stray sagas (their ``always`` properties are not judged)."""
        return frozenset(self.sagas[i].sagaId for i in self.strays)

    def stray_candidates(self) -> tuple[list[str], list[int]]:
        """What a stray event can be, and of which saga: the types the SUT consumes,
        triggers apart (a trigger of an unknown saga just starts it), and the saga slots
        never placed."""
        types = [t for t in self.subscribed_types() if t not in self.model.triggers]
        return types, [s.index for s in self.sagas if s.index not in self.placed]

    def subscribed_types(self) -> list[str]:
        """Event types the SUT consumes (the saga's trigger first when it does)."""
        subs = sorted({t for n in self.sut for t in self.model.participant(n).subscribes})
        return sorted(subs, key=lambda t: t not in self.model.triggers)

    # -- the SUT's publications -----------------------------------------------------------
    def _adapter(self, hook: str, coro: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.call(coro)
        except CheckFailed:
            raise
        except NotImplementedError:
            raise fail("no-crash", f"the adapter does not implement {hook}") from None
        except Exception as exc:
            raise fail("no-crash",
                       f"adapter.{hook} raised {type(exc).__name__}: {exc}".strip()) from None
        finally:
            self.adapter_seconds += time.perf_counter() - t0

    def _collect(self, step: Step, timeout: float, killed: tuple[Msg, str] | None = None) -> None:
        until = getattr(self.adapter, "collect_until", None)
        if until is not None and "model" not in self.s.skip:
            # An adapter that can stop early (a broker's) does once the model says nothing
            # more can come.
            call = until(timeout, done_predicate(self.oracle, self._expected_msg))
        else:
            call = self.adapter.collect(timeout)
        items = self._adapter("collect", call)
        t0 = time.perf_counter()
        try:
            # Arrival order within one collect varies over a broker: judge a canonical one.
            for item in canonical_order(items):
                self._absorb(step, item)
            if killed is not None and "model" not in self.s.skip:
                self.oracle.unacked(*killed)  # after what it published on the way down
            if (self.s.settle_each_step or step.op == "quiet") and "model" not in self.s.skip:
                self.oracle.quiet()
        finally:
            self.oracle_seconds += time.perf_counter() - t0

    def _expected_msg(self, item: dict[str, Any]) -> Msg | None:
        """The model message of a publication :meth:`_absorb` will show the oracle."""
        etype, sid, eid = item.get("eventType"), item.get("sagaId"), item.get("eventId")
        saga = self.by_saga.get(sid) if isinstance(sid, str) else None
        src = self.model.publisher(etype) if isinstance(etype, str) else None
        if saga is None or src not in self.sut or not isinstance(eid, str) or eid in self.history.by_id:
            return None
        return Msg(etype, saga.index, src)

    def _drain(self) -> None:
        # A chooser may order the drain by its policy (an overtaking case keeps
        # overtaking when its steps run out); otherwise oldest or newest first.
        drained = getattr(self.chooser, "drained", None)
        guard = 0
        while self.inflight and guard < 500:
            i = drained(self) if drained is not None else None
            self._deliver(self.inflight[(-1 if self.lifo else 0) if i is None else i],
                          phase="drain")
            guard += 1

    def exercised(self) -> set[str]:
        """The checks this case gave a chance to fail (for the summary's counts): a
        property when an observed event updates a variable it reads, a world check when
        an observed event is a decision it judges (both read from the spec)."""
        chances = _chances(self.model.spec)
        out = {"no-crash", "model", *chances.quiet}
        if self.observed:
            out |= {"schema", "saga-consistency"}
        for e in self.observed:
            out |= chances.by_event.get(str(e.get("eventType")), frozenset())
        types = {e.get("eventType") for e in self.observed}
        if STOCK in self.judged and types & chances.shared_decisions:
            out.add(STOCK)
        for name in (WORLD_RULES, WORLD):
            if name in self.judged and types & chances.knob_decisions:
                out.add(name)
        ops = {s.op for s in self.steps}
        if "crash" in ops:
            out.add("crash-recovery")
        if "raw" in ops:
            out.add("raw-input")
        if "invalid" in ops or "raw" in ops:
            out.add("rejects-invalid-input")
        return out

    def model_path(self) -> list[dict[str, Any]]:
        """The case's steps as JSON (what coverage maps onto the model's state graph)."""
        return [s.to_json() for s in self.steps]

    def _absorb(self, step: Step, item: dict[str, Any] | RawMessage) -> None:
        if isinstance(item, RawMessage):
            text = item.payload[:120].decode("utf-8", "backslashreplace")
            step.raw_published.append({"source": item.source, "reason": item.reason,
                                       "payload": text})
            if item.reason.startswith("consumer crashed"):
                raise fail("no-crash", f"{item.source or 'the service'}: {item.reason}")
            raise fail("schema", f"{item.source or 'the service'} published something that is "
                                 f"not an event ({item.reason or 'unparseable'}): {text!r}")
        self.events += 1
        etype = item.get("eventType")
        eid = item.get("eventId")
        problems = self.validate(item) if "schema" not in self.s.skip else []
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            step.published.append(item)
            raise fail("schema", f"{etype or 'event'} {eid} published by the service is invalid: "
                                 f"{problems[0]}{more}", event=item)
        previous = self.history.by_id.get(eid)
        if previous is not None:
            if previous.event != item:
                step.published.append(item)
                self.history.check_consistency(item, previous.event)
            # The same event again (an outbox re-send): at-least-once delivery, allowed.
            self.history.add(item, "sut")
            step.published.append(item)
            saga = self.by_saga[item["sagaId"]]
            src = self.model.publisher(etype) or "?"
            self._fan_out(Msg(etype, saga.index, src), item)
            return
        step.published.append(item)
        try:
            self.history.check_consistency(item, None)
        except CheckFailed as exc:
            if exc.check not in self.s.skip:
                raise
            if item.get("sagaId") not in self.by_saga:
                return  # an event of no saga of this case: nothing more to judge
        self.history.add(item, "sut")
        try:
            self.history.check_safety(item, self.stray_ids)
        except CheckFailed as exc:
            if exc.check in self.s.skip:
                pass
            elif self.s.expect is None or exc.check == self.s.expect:
                raise
            else:
                # Replaying a trace that expects another property: note it, go on.
                self.deferred.append(exc)
        saga = self.by_saga[item["sagaId"]]
        src = self.model.publisher(etype)
        if src is None or src not in self.sut:
            raise fail("model", f"the service published {etype} {eid}, which only "
                                f"{src or 'nobody'} publishes in design {self.s.design!r}",
                       event=item)
        msg = Msg(etype, saga.index, src)
        if "model" not in self.s.skip:
            self.oracle.observe(msg, event=item)
        self.observed.append(item)
        self.facts[saga.index][etype] = item
        self._fan_out(msg, item)
        if self.s.participant == SYSTEM and not self.stepping:
            # The bus may deliver what the system published again: a duplicate candidate.
            self.delivered.append(Delivery(msg, item, SYSTEM))


def steppable(participant: str, caps: frozenset[str], adapter: Any) -> bool:
    """Whether a case of ``participant`` is driven delivery by delivery: a whole system
    whose adapter hands one message to one participant (capability ``step``)."""
    return (STEP_SYSTEM and participant == SYSTEM and STEP in caps
            and callable(getattr(adapter, "deliver_to", None)))


def _stepped(steps: Sequence[Any]) -> bool:
    """Whether recorded ``steps`` of a system case were made delivery by delivery (they
    name the receiving participant, not the system)."""
    return any(getattr(s, "op", None) in ("deliver", "duplicate") and getattr(s, "to", SYSTEM) != SYSTEM
               for s in steps)


@dataclass(frozen=True)
class _Chances:
    """What observed events give a chance to fail, read from a spec."""

    by_event: dict[str, frozenset[str]]
    quiet: frozenset[str]
    shared_decisions: frozenset[str]
    knob_decisions: frozenset[str]


@functools.cache
def _chances(spec: Any) -> _Chances:
    updated: dict[str, set[str]] = {}  # event type -> variables its emitters update
    shared_decisions: set[str] = set()
    knob_decisions: set[str] = set()
    for p in spec.participants:
        shared = {v.name for v in p.shared}
        for r in p.reactions:
            emits = {e for alt in r.alternatives for e in alt.emit}
            if any(alt.when is not None and shared & set(getattr(alt.when, "refs", ()))
                   for alt in r.alternatives):
                shared_decisions |= emits
            for alt in r.alternatives:
                if alt.world:
                    knob_decisions.update(alt.emit)
                for e in alt.emit:
                    updated.setdefault(e, set()).update(f"{p.name}.{v}" for v, _x in alt.updates)
    by_event: dict[str, set[str]] = {}
    quiet = set()
    for prop in spec.properties:
        refs = set(prop.expr.refs) | (set(prop.target.refs) if prop.target is not None else set())
        if prop.kind in ("at_rest", "eventually"):
            quiet.add(prop.name)
        elif prop.kind == "always":
            for e, vars_ in updated.items():
                if vars_ & refs:
                    by_event.setdefault(e, set()).add(prop.name)
    return _Chances({e: frozenset(v) for e, v in by_event.items()}, frozenset(quiet),
                    frozenset(shared_decisions), frozenset(knob_decisions))


@functools.cache
def _safety(spec: Any) -> frozenset[str]:
    """The checks a bad input must not break: the spec's ``always`` properties and
    ``saga-consistency``."""
    return frozenset({"saga-consistency", *(p.name for p in spec.properties
                                              if p.kind == "always")})
