"""The conformance engine: run the suite against an adapter and yield engine events.

:class:`Runner` is front-end independent (the CLI and the pytest plugin both iterate
:meth:`Runner.execute`). One run owns one adapter and one asyncio event loop, created
and closed in the run's worker thread: hypothesis rules are synchronous, adapters are
async, and every adapter call is ``loop.run_until_complete`` on that loop.

Modes
-----
``generate`` (default)
    hypothesis ``@given(st.data())`` drives :class:`~sagaspec.conformance.harness.Case`
    with a :class:`~sagaspec.conformance.choosers.DrawChooser`; a failure is shrunk by
    hypothesis, one minimal case per broken check, saved as a case file.
``replay``
    one case from a case file or a model checker trace
    (:mod:`sagaspec.conformance.cases`).
``cover-edges``
    cases that follow model paths covering every edge of the model's state graph for
    the coverage bounds (:mod:`sagaspec.conformance.coverage`).

Ctrl-C (:meth:`Runner.stop`) stops at the next step and finishes with an honest partial
:class:`~sagaspec.conformance.events.RunFinished` (``interrupted=True``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagaspec.adapters.base import KNOBS, STEP, Adapter
from sagaspec.conformance.cases import CaseFile, load_case
from sagaspec.conformance.checks import CheckFailed, checks_for, current_name, skipped_checks
from sagaspec.conformance.choosers import DrawChooser, ScriptChooser
from sagaspec.conformance.diagram import exchanged, mermaid_diagram, text_diagram
from sagaspec.conformance.events import (
    CheckSummary,
    Event,
    ExampleFinished,
    Failure,
    FailureFound,
    FailureShrunk,
    RunFinished,
    RunStarted,
)
from sagaspec.conformance.harness import SYSTEM, Case, CaseSettings, steppable
from sagaspec.conformance.models import AnyStock, suite_model, world_alternatives
from sagaspec.conformance.oracle import BeliefTooLarge
from sagaspec.conformance.payloads import declared_draw
from sagaspec.conformance.world import STOCK, WORLD, WORLD_CHECKS, WORLD_RULES

from sagaspec.errors import AdapterError, SagaspecError, UsageError

__all__ = ["RunConfig", "Runner", "run", "participants_of", "default_participant",
           "design_name"]


def participants_of(design: Any) -> tuple[str, ...]:
    """The targets ``design`` offers: each participant of its spec, and ``system``."""
    return (*(p.name for p in suite_model(design, 1).participants), SYSTEM)


def default_participant(design: Any) -> str:
    """The default target: the first participant (in the spec's order) that consumes the
    saga's trigger event, the first step a service takes."""
    model = suite_model(design, 1)
    trigger = min(model.triggers)
    return next((p.name for p in model.participants if trigger in p.subscribes), SYSTEM)


def design_name(design: Any) -> str:
    """A short name of ``design`` for file names: the shipped name or the spec's."""
    spec = suite_model(design, 1).spec
    return str(design) if spec is None or spec.shipped else spec.name


@dataclass
class RunConfig:
    """Everything a run needs; front ends fill it from their options.

    ``adapter`` is an adapter string (``inprocess:...``, ``http://...``), an
    :class:`Adapter`, or a zero-argument callable returning one.
    """

    adapter: Any
    #: The target; ``None``: the design's :func:`default_participant`.
    participant: str | None = None
    #: A shipped design name or a saga spec file.
    design: Any = "corrected"
    examples: int = 100
    seed: int | None = None
    max_sagas: int = 2
    max_steps: int = 16
    collect_timeout: float = 0.2
    settle_timeout: float = 0.5
    settle_each_step: bool = True
    faults: bool = True
    reset: bool = True
    shrink: bool = True
    #: Shrink and report every broken check separately (hypothesis' multiple bugs); off,
    #: only the first broken check is shrunk, which is about twice as fast.
    all_bugs: bool = True
    #: Bound on the oracle's model configurations per step (an error beyond it).
    max_belief: int = 200_000
    replay: str | Path | None = None
    cover_edges: bool = False
    coverage: bool = True
    cover_orders: int = 1
    cover_duplicates: int = 1
    cover_crashes: int = 0
    #: Coverage-guided steering of generated cases (``--no-steer``: off); see
    #: :class:`~sagaspec.conformance.coverage.Steering`.
    steer: bool = True
    failures_dir: str | Path | None = ".sagaspec/failures"
    mutant: str | None = None
    mapping: Any = None
    #: Extra text for "Reproduce with:" (how the front end was invoked).
    command: str | None = None
    #: Checks to switch off, e.g. the design properties when testing a service against
    #: the ``seed`` design (which the model checker shows breaks them).
    skip_checks: tuple[str, ...] = ()
    #: Where crashes of the target's participants may land (``--crash-points``);
    #: ``None``: every point the adapter honours.
    crash_points: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.design, Path):
            self.design = str(self.design)
        if self.crash_points is not None:
            from sagaspec.adapters.crash import parse_crash_points

            try:
                self.crash_points = parse_crash_points(",".join(self.crash_points))
            except ValueError as exc:
                raise UsageError(f"crash points: {exc}") from None
        names = participants_of(self.design)  # loads the design: a bad one is an error here
        if self.participant is None:
            self.participant = default_participant(self.design)
        if self.participant not in names:
            raise UsageError(f"unknown participant {self.participant!r}; expected one of "
                             f"{', '.join(names)}")
        if not isinstance(self.examples, int) or self.examples < 1:
            raise UsageError(f"examples must be a positive integer, got {self.examples!r}")
        if not 1 <= self.max_sagas <= 4:
            raise UsageError(f"max_sagas must be from 1 to 4, got {self.max_sagas!r}")
        if self.max_steps < 0:
            raise UsageError(f"max_steps must be >= 0, got {self.max_steps!r}")
        checks = checks_for(self.design)
        self.skip_checks = tuple(current_name(c) for c in self.skip_checks)  # a former name too
        unknown = [c for c in self.skip_checks if c not in checks]
        if unknown:
            raise UsageError(f"unknown check(s) {', '.join(unknown)}; expected one of "
                             f"{', '.join(checks)}")

    @property
    def mode(self) -> str:
        if self.replay is not None:
            return "replay"
        return "cover-edges" if self.cover_edges else "generate"

    def adapter_text(self) -> str:
        return self.adapter if isinstance(self.adapter, str) else repr(self.adapter)

    def adapter_shown(self) -> str:
        """:meth:`adapter_text` for messages: a URL's password as ``***``."""
        from sagaspec.adapters.broker import redact

        return redact(self.adapter_text())


class _Interrupted(KeyboardInterrupt):  # noqa: N818 - control flow, not an error
    """Raised in the worker to stop at once: hypothesis lets Ctrl-C through unshrunk."""


@dataclass
class _Stats:
    examples: int = 0
    shrink_runs: int = 0
    events: int = 0
    adapter_seconds: float = 0.0
    oracle_seconds: float = 0.0
    runs: dict[str, int] = field(default_factory=dict)


class Runner:
    """One conformance run (see the module docstring)."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self._q: queue.Queue[Event | BaseException | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self._abort: SagaspecError | None = None
        self.seed = config.seed if config.seed is not None else random.getrandbits(32)

    # -- public ---------------------------------------------------------------------------
    def execute(self) -> Iterator[Event]:
        """Start the run (once) and yield its events until :class:`RunFinished`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="sagaspec-conform",
                                            daemon=True)
            self._thread.start()
        yield from self._drain()

    def stop(self) -> None:
        """Ask the run to stop at the next step (Ctrl-C)."""
        self._stop.set()

    def remaining(self) -> Iterator[Event]:
        """After :meth:`stop`: the events still to come, ending with RunFinished."""
        yield from self._drain()

    def _drain(self) -> Iterator[Event]:
        while not self._finished:
            try:
                item = self._q.get(timeout=0.1)
            except queue.Empty:
                if self._thread is not None and not self._thread.is_alive() and self._q.empty():
                    return
                continue
            if isinstance(item, BaseException):
                self._finished = True
                raise item
            if isinstance(item, RunFinished):
                self._finished = True
            yield item
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the worker -----------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        self._q.put(event)

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        adapter: Adapter | None = None
        try:
            adapter = self._make_adapter()
            loop.run_until_complete(adapter.start())
        except SagaspecError as exc:
            self._close(loop, adapter)
            self._q.put(exc)
            return
        except Exception as exc:  # an adapter's start failing in its own way
            self._close(loop, adapter)
            self._q.put(AdapterError(f"adapter {self.config.adapter_shown()}: start failed: "
                                     f"{type(exc).__name__}: {exc}"))
            return
        try:
            self._run(loop, adapter)
        except SagaspecError as exc:
            self._q.put(exc)
        except BaseException as exc:  # surface bugs in the consumer's thread
            self._q.put(exc)
        finally:
            self._close(loop, adapter)

    def _close(self, loop: asyncio.AbstractEventLoop, adapter: Adapter | None) -> None:
        try:
            if adapter is not None:
                loop.run_until_complete(adapter.close())
        except Exception:  # noqa: S110 - closing is best effort after a run
            pass
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _make_adapter(self) -> Adapter:
        a = self.config.adapter
        if isinstance(a, Adapter):
            return a
        if isinstance(a, str) and a.split("?", 1)[0] == "inprocess:" and \
                not suite_model(self.config.design, 1).spec.shipped:
            return self._interpreter(a)
        if isinstance(a, str):
            from sagaspec.adapters.spec import load_adapter

            return load_adapter(a, participant=self.config.participant, design=self.config.design,
                                mutant=self.config.mutant, mapping=self.config.mapping)
        if callable(a):
            made = a()
            if not isinstance(made, Adapter):
                raise AdapterError(f"adapter factory returned {type(made).__name__}, not an Adapter")
            return made
        raise UsageError(f"adapter must be a string, an Adapter or a factory, got {type(a).__name__}")

    def _interpreter(self, text: str) -> Adapter:
        """``inprocess:`` for a spec file: the reference interpreter of the spec (or a
        mutant of it: ``--mutant`` or ``?mutant=``) in this process."""
        from urllib.parse import parse_qsl

        from sagaspec.adapters.inprocess import InProcessAdapter
        from sagaspec.adapters.plugins import TARGETS, load_plugin
        from sagaspec.conformance.spec_conform import spec_service_factory

        c = self.config
        options = dict(parse_qsl(text.partition("?")[2]))
        unknown = set(options) - {"mutant"}
        if unknown:
            raise AdapterError(f"adapter {text!r}: the interpreter of a spec takes only "
                               f"?mutant=NAME, not {', '.join(sorted(unknown))}")
        mutant = options.get("mutant") or c.mutant
        spec = suite_model(c.design, 1).spec
        target = load_plugin(TARGETS, "interpreter")(spec_service_factory(spec, mutant), c.participant)
        label = f"interpreter {spec.name}/{c.participant}" + (f" mutant={mutant}" if mutant else "")
        adapter: Adapter = InProcessAdapter(target, label=label)
        if c.mapping is not None:  # as load_adapter wraps any other adapter
            from sagaspec.adapters.mapping import MappedAdapter, load_mapping

            adapter = MappedAdapter(adapter, load_mapping(c.mapping, spec))
        return adapter

    def _settings(self, caps: frozenset[str]) -> CaseSettings:
        c = self.config
        return CaseSettings(
            design=c.design, participant=c.participant, max_sagas=c.max_sagas,
            max_steps=c.max_steps, collect_timeout=c.collect_timeout,
            settle_timeout=c.settle_timeout, settle_each_step=c.settle_each_step,
            capabilities=caps, faults=c.faults, skip=frozenset(c.skip_checks),
            max_belief=c.max_belief, crash_points=self._crash_points,
            crash_takes_point=self._takes_point,
        )

    def _choose_crash_points(self, adapter: Adapter, caps: frozenset[str]) -> list[str]:
        """The run's crash points: those asked for (all by default) that ``adapter``
        honours; a point asked for by name that it cannot honour is a usage error, so a
        crash never lands elsewhere unsaid. Returns the notes for the run."""
        from sagaspec.adapters.crash import CRASH_POINTS, honoured_points, takes_points

        c = self.config
        self._crash_points: tuple[Any, ...] = ()
        self._takes_point = False
        if "crash" not in caps:
            return []
        honoured = honoured_points(adapter)
        where = ", ".join(honoured) or "a point it does not name"
        asked = c.crash_points
        if asked is not None:
            missing = [p for p in asked if p not in honoured]
            if missing:
                raise UsageError(f"--crash-points {','.join(missing)}: the adapter "
                                 f"{c.adapter_shown()} cannot crash there; it crashes at {where}")
        self._crash_points = tuple(p for p in (asked or CRASH_POINTS) if p in honoured)
        self._takes_point = takes_points(adapter)
        if asked is None and 0 < len(honoured) < len(CRASH_POINTS):
            others = ", ".join(p for p in CRASH_POINTS if p not in honoured)
            return [f"crashes land only at {where}: the adapter cannot be told to crash at "
                    f"{others}"]
        return []

    def _run(self, loop: asyncio.AbstractEventLoop, adapter: Adapter) -> None:
        c = self.config
        caps = frozenset(adapter.capabilities)
        if "place_order" in caps:  # start_saga's older name: Adapter.start_saga calls it
            caps |= {"start_saga"}
        crash_notes = self._choose_crash_points(adapter, caps)
        if c.participant == SYSTEM and STEP not in caps:
            crash_notes.append("the system runs each saga by itself (the adapter has no step "
                               "hook): its deliveries are not interleaved by the suite, and a "
                               "crash lands where its own bus next reaches that participant")
        model = suite_model(c.design, 1)
        starters = {model.publisher(t) for t in model.triggers}
        if (c.participant == SYSTEM or c.participant in starters) and "start_saga" not in caps:
            raise UsageError(f"participant {c.participant!r} needs an adapter with start_saga "
                             f"(the customer's trigger); {c.adapter_shown()} has "
                             f"{', '.join(sorted(caps)) or 'no optional hooks'}")
        all_checks = checks_for(c.design)
        # Which form of world the target takes decides which world checks can judge it.
        per_key = declared_draw(model.spec)
        # A knob target also takes shared variables' starting values (World.shared).
        shared_world = KNOBS in caps and any(isinstance(p, AnyStock) for p in model.participants)
        other_world = {
            name: ("not applicable: the target's world is the spec's knob values per saga"
                   if KNOBS in caps else
                   "not applicable: the target's setup takes no knob values (per-key world)"
                   if name == WORLD else
                   "not applicable: the saga's trigger declares no draw: (keys its sagas compete for)")
            for name in WORLD_CHECKS if name in all_checks and not (name == STOCK and shared_world)
            and ((name == WORLD) != (KNOBS in caps) or (name != WORLD and not per_key))}
        skipped = {ch.name: f"the adapter has no {', '.join(h for h in ch.needs if h not in caps)}"
                   for ch in skipped_checks(caps, c.participant, c.design)
                   if ch.name not in other_world}
        skipped.update({name: "switched off (--skip-check)" for name in c.skip_checks})
        if "model" in c.skip_checks:
            # The world's decisions are judged by the oracle: no oracle, no judgement.
            skipped.update({name: "switched off with the model check" for name in WORLD_CHECKS
                            if name in all_checks and name not in skipped
                            and name not in other_world and all_checks[name].applies(c.participant)})
        # Checks of a participant the suite plays itself: nothing of the service to judge.
        inapplicable = {name: f"not applicable: it judges {', '.join(ch.participants)}, which the "
                              "suite plays itself (not under test)"
                        for name, ch in all_checks.items() if not ch.applies(c.participant)}
        inapplicable.update({k: v for k, v in other_world.items() if k not in inapplicable})
        self.skipped = {**skipped, **inapplicable}
        self._emit(RunStarted(
            adapter=c.adapter_text(), participant=c.participant, design=c.design, mode=c.mode,
            examples=c.examples if c.mode == "generate" else 1, seed=self.seed,
            capabilities=sorted(caps),
            checks=[n for n in all_checks if n not in skipped and n not in inapplicable],
            skipped=skipped, mutant=c.mutant,
        ))
        t0 = time.perf_counter()
        self.stats = _Stats()
        self.failures: dict[str, Failure] = {}
        self.covered: list[list[Any]] = []
        self.notes: list[str] = list(crash_notes)
        #: A replay that could not follow its recorded case (inconclusive): why.
        self.diverged: str | None = None
        #: Per world check, cases whose oracle did not judge it (no world set up).
        self.unjudged: dict[str, int] = {}
        self.cases_run = 0
        self._loop = loop
        self._adapter_obj = adapter
        self._caps = caps
        interrupted = False
        try:
            if c.mode == "replay":
                self._replay(loop, adapter, caps)
            elif c.mode == "cover-edges":
                from sagaspec.conformance.coverage import cover_edges

                cover_edges(self, loop, adapter, caps)
            else:
                self._generate(loop, adapter, caps)
        except _Interrupted:
            interrupted = True
        if self._abort is not None:
            raise self._abort
        self.notes.extend(self._unjudged_notes(caps))
        coverage = None
        if c.coverage and self.covered and not interrupted:
            try:
                from sagaspec.conformance.coverage import edge_coverage

                coverage = edge_coverage(self, self.covered)
            except SagaspecError as exc:
                self.notes.append(f"coverage not computed: {exc}")
            except ImportError as exc:
                self.notes.append(f"coverage not computed: {exc}")
        checks = []
        for name in all_checks:
            if name in skipped:
                checks.append(CheckSummary(name, "skipped", 0, skipped[name]))
            elif name in inapplicable:
                checks.append(CheckSummary(name, "not-applicable", 0, inapplicable[name]))
            elif name in self.failures:
                checks.append(CheckSummary(name, "failed", self.stats.runs.get(name, 0)))
            else:
                runs = self.stats.runs.get(name, 0)
                checks.append(CheckSummary(name, "passed" if runs else "not-run", runs,
                                           "" if runs else "no case gave it a chance to fail"))
        self._emit(RunFinished(
            examples=self.stats.examples, shrink_runs=self.stats.shrink_runs,
            events=self.stats.events,
            seconds=time.perf_counter() - t0, adapter_seconds=self.stats.adapter_seconds,
            oracle_seconds=self.stats.oracle_seconds, failures=sorted(self.failures),
            checks=checks, coverage=coverage, interrupted=interrupted, notes=self.notes,
            diverged=self.diverged,
        ))

    def _unjudged_notes(self, caps: frozenset[str]) -> list[str]:
        """Say plainly where the world's decisions were left to the service (weaker)."""
        c = self.config
        model = suite_model(c.design, 1)
        # The events each world decision is about, from the spec: what the alternatives
        # guarded by a shared variable, and those a world knob decides, emit.
        decided = {
            "stock": list(dict.fromkeys(
                e for p in model.participants if isinstance(p, AnyStock)
                for r in p.inner.spec.reactions for a in r.alternatives
                if a.when is not None and set(getattr(a.when, "refs", ())) & set(p.inner.shared_names)
                for e in a.emit)),
            WORLD_RULES: list(dict.fromkeys(
                e for p in model.participants for a in world_alternatives(p) for e in a.emit)),
        }
        decided[WORLD] = decided[WORLD_RULES]
        what = {name: (head, f"the oracle accepted {' or '.join(decided[name]) or 'anything'} "
                             "for any saga")
                for name, head in (("stock", "stock not judged"),
                                   (WORLD_RULES, "world rule decisions not judged"),
                                   ("world", "world knob decisions not judged"))}
        notes = []
        checks = checks_for(c.design)
        for name in WORLD_CHECKS:
            if name not in checks or not checks[name].applies(c.participant) or \
                    name in c.skip_checks or "model" in c.skip_checks or \
                    str(self.skipped.get(name, "")).startswith("not applicable"):
                continue
            head, weaker = what[name]
            if "setup" not in caps:
                notes.append(f"{head}: adapter has no setup hook, so {weaker} (a weaker check)")
            elif self.unjudged.get(name):
                n, total = self.unjudged[name], self.cases_run
                notes.append(f"{head} in {n} of {total} case(s): no world was set up for "
                             f"them (a case file without one), so {weaker} there")
        return notes

    # -- one case -------------------------------------------------------------------------
    def run_case(self, loop: asyncio.AbstractEventLoop, adapter: Adapter, caps: frozenset[str],
                 chooser: Any, settings: CaseSettings | None = None) -> Case:
        """Run one case (reset first when the adapter can); raises CheckFailed."""
        if self._stop.is_set():
            raise _Interrupted()
        if self.config.reset and "reset" in caps:
            loop.run_until_complete(adapter.reset())

        def call(coro: Any) -> Any:
            if self._stop.is_set():
                coro.close()
                raise _Interrupted()
            return loop.run_until_complete(coro)

        from sagaspec.spec.schemas import validate_event

        spec = suite_model(self.config.design, 1).spec
        case = Case(settings or self._settings(caps), self._model_for, adapter, call, chooser,
                    lambda e: validate_event(e, spec=spec))
        self._current = case
        try:
            case.run()
        except BeliefTooLarge as exc:
            # Not the service's fault: stop the run with a clear error, do not shrink it.
            self._abort = UsageError(f"the oracle's belief grew too large ({exc}); lower "
                                     "--max-sagas or --max-steps")
            self._stop.set()
            raise _Interrupted() from None
        finally:
            checks = checks_for(self.config.design)
            for name in WORLD_CHECKS:
                if name not in case.judged and name in checks and \
                        not str(self.skipped.get(name, "")).startswith("not applicable") and \
                        checks[name].applies(self.config.participant):
                    self.unjudged[name] = self.unjudged.get(name, 0) + 1
            self.cases_run += 1
            self.stats.events += case.events
            self.stats.adapter_seconds += case.adapter_seconds
            self.stats.oracle_seconds += case.oracle_seconds
            self.covered.append((case.model_path(), {s.sagaId: s.index for s in case.sagas}))
        return case

    def _model_for(self, sagas: int):
        return suite_model(self.config.design, sagas)

    # -- generate -------------------------------------------------------------------------
    def _generate(self, loop: asyncio.AbstractEventLoop, adapter: Adapter,
                  caps: frozenset[str]) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hseed
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky, FlakyStrategyDefinition

        c = self.config
        last: dict[str, tuple[Case, CheckFailed]] = {}
        found: set[str] = set()
        counter = {"n": 0}
        from sagaspec.conformance.coverage import Steering

        self.steering = Steering() if c.steer else None

        @settings(max_examples=c.examples, deadline=None, database=None,
                  phases=[Phase.generate, Phase.shrink] if c.shrink else [Phase.generate],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=c.all_bugs,
                  verbosity=Verbosity.quiet, print_blob=False, derandomize=False,
                  stateful_step_count=c.max_steps)
        @hseed(self.seed)
        @given(st.data())
        def conformance_case(data: Any) -> None:
            counter["n"] += 1
            phase = "shrink" if found else "generate"
            t = time.perf_counter()
            case = None
            try:
                case = self.run_case(loop, adapter, caps, DrawChooser(data, self.steering))
            except CheckFailed as exc:
                if self.steering is not None:  # replays of this case must see what it saw
                    self.steering.freeze()
                case = self._current
                last[exc.check] = (case, exc)
                if exc.check not in found:
                    found.add(exc.check)
                    self._emit(FailureFound(exc.check, exc.message, len(case.steps)))
                self._example(counter["n"], phase, "failed", case, t, exc.check)
                raise
            if phase == "generate":
                self.stats.examples += 1
            self._example(counter["n"], phase, "passed", case, t, None)

        flaky = False
        inconsistent: BaseException | None = None
        try:
            with _no_local_constants():
                conformance_case()
        except CheckFailed as exc:
            if not c.all_bugs:  # only the bug hypothesis shrank is minimal
                last = {exc.check: last[exc.check]}
        except FlakyStrategyDefinition as exc:
            inconsistent = exc
        except BaseExceptionGroup as group:  # several bugs, or FlakyFailure (a group too)
            others = [e for e in _leaves(group) if not isinstance(e, CheckFailed)]
            if any(not isinstance(e, Flaky) for e in others):
                raise
            inconsistent = next((e for e in others if isinstance(e, FlakyStrategyDefinition)),
                                None)
            flaky = _has_flaky_failure(group) or any(
                isinstance(e, Flaky) and not isinstance(e, FlakyStrategyDefinition)
                for e in others)
        except Flaky:  # FlakyReplay and the like: a failure that did not come back
            flaky = True
        if inconsistent is not None and last:
            # The suite's draws depend only on earlier draws, so a case that took a
            # different shape on the same choices ended early: the service failed
            # (or not) differently when the same case ran again.
            flaky = True
        elif inconsistent is not None:
            self.notes.append(
                f"suite bug: hypothesis found the suite's data generation inconsistent after "
                f"{self.stats.examples} of {c.examples} examples ({_first_line(inconsistent)}); "
                f"the run stopped early. Please report it with --seed {self.seed}")
        if flaky:
            self.notes.append("hypothesis reported the failure as flaky: the service did not "
                              "fail the same way when the same case ran again "
                              "(nondeterministic behaviour: timing, or the order its outputs "
                              "arrived in)")
        for check, (case, exc) in last.items():
            if c.shrink:
                case, exc = self._minimize(loop, adapter, caps, case, exc)
            self._report_failure(check, case, exc, flaky=flaky)

    def _minimize(self, loop: asyncio.AbstractEventLoop, adapter: Adapter, caps: frozenset[str],
                  case: Case, exc: CheckFailed) -> tuple[Case, CheckFailed]:
        """Step-level minimisation after hypothesis (see :mod:`~.minimize`)."""
        from sagaspec.conformance.minimize import minimize

        world = case.world if "setup" in caps else None

        def replay(steps, sagas):
            settings = self._settings(caps)
            settings.crash_played = True
            settings.max_steps = len(steps) + 1
            settings.max_sagas = max(len(sagas), 1)
            settings.expect = exc.check
            t = time.perf_counter()
            try:
                got = self.run_case(loop, adapter, caps, ScriptChooser(steps, sagas, world),
                                    settings)
            except CheckFailed as err:
                self._example(0, "shrink", "failed", self._current, t, err.check)
                return self._current, err
            self._example(0, "shrink", "passed", got, t, None)
            return got, None

        best, best_exc, _runs = minimize(replay, case, exc)
        return best, best_exc

    def _example(self, n: int, phase: str, status: str, case: Case | None, t: float,
                 check: str | None) -> None:
        if phase == "generate" and status == "failed":
            self.stats.examples += 1
        if phase == "shrink":
            self.stats.shrink_runs += 1
        elif case is not None:
            for name in case.exercised():
                if name not in self.skipped:
                    self.stats.runs[name] = self.stats.runs.get(name, 0) + 1
        self._emit(ExampleFinished(
            index=n, phase=phase, status=status, steps=len(case.steps) if case else 0,
            events=case.events if case else 0, seconds=time.perf_counter() - t, check=check,
        ))

    # -- replay ---------------------------------------------------------------------------
    def _replay(self, loop: asyncio.AbstractEventLoop, adapter: Adapter,
                caps: frozenset[str]) -> None:
        c = self.config
        cf = load_case(c.replay, participant=c.participant, design=c.design,
                       stepped=steppable(c.participant, caps, adapter))
        settings = self._settings(caps)
        settings.faults = True
        settings.crash_played = True
        settings.max_steps = max(len(cf.steps) + 1, settings.max_steps)
        settings.max_sagas = max(len(cf.sagas), 1)
        settings.expect = cf.property or cf.check
        chooser = ScriptChooser(cf.steps, cf.sagas, cf.world if "setup" in caps else None)
        t = time.perf_counter()
        try:
            case = self.run_case(loop, adapter, caps, chooser, settings)
        except CheckFailed as exc:
            case = self._current
            self.stats.examples += 1
            self._example(1, "replay", "failed", case, t, exc.check)
            self._report_failure(exc.check, case, exc, replayed=cf, divergence=chooser.divergence)
            return
        self.stats.examples += 1
        self._example(1, "replay", "passed", case, t, None)
        if chooser.divergence:
            self.diverged = chooser.divergence
            self.notes.append(f"replay diverged: {chooser.divergence}")
        expected = cf.check or cf.property
        if expected:
            self.notes.append(f"the recorded failure ({expected}) did not reproduce")

    # -- failures -------------------------------------------------------------------------
    def _report_failure(self, check: str, case: Case, exc: CheckFailed, *, flaky: bool = False,
                        replayed: CaseFile | None = None, divergence: str | None = None) -> None:
        c = self.config
        steps = [s.to_json() for s in case.steps]
        label = case.label
        failure = Failure(
            check=check, message=exc.message, steps=steps,
            sagas=[s.to_json() for s in case.sagas],
            world=case.world.to_json() if case.world is not None else None,
            sut=label, design=c.design, seed=self.seed,
            diagram=text_diagram(steps, label), mermaid=mermaid_diagram(steps, label),
            exchanged=exchanged(steps, label), divergence=divergence, flaky=flaky,
            event=exc.event,
        )
        path = None
        if replayed is not None and c.replay is not None:
            path = Path(c.replay)
        elif c.failures_dir is not None:
            cf = CaseFile(design=c.design, participant=c.participant, sagas=case.sagas,
                          world=case.world, steps=case.steps, check=check,
                          message=exc.message, seed=self.seed, adapter=c.adapter_text(),
                          mutant=c.mutant)
            name = f"{design_name(c.design)}-{c.participant}-{check}-{self.seed}.json"
            path = cf.save(Path(c.failures_dir) / name)
        if path is not None:
            failure.file = str(path)
            failure.reproduce = self.reproduce_command(path)
        self.failures[check] = failure
        self._emit(FailureShrunk(failure))

    def reproduce_command(self, path: str | Path) -> str:
        c = self.config
        parts = ["sagaspec", "conform", "--adapter", c.adapter_text(),
                 "--participant", c.participant, "--design", str(c.design)]
        if c.mutant:
            parts += ["--mutant", c.mutant]
        if c.mapping is not None and isinstance(c.mapping, (str, Path)):
            parts += ["--mapping", str(c.mapping)]
        parts += ["--replay", str(path)]
        return " ".join(shlex.quote(p) for p in parts)


def run(config: RunConfig, on_event: Callable[[Event], None] | None = None) -> RunFinished:
    """Run to completion (for library use); returns the final :class:`RunFinished`."""
    runner = Runner(config)
    final: RunFinished | None = None
    for ev in runner.execute():
        if on_event is not None:
            on_event(ev)
        if isinstance(ev, RunFinished):
            final = ev
    assert final is not None
    return final


def _has_flaky_failure(group: BaseExceptionGroup) -> bool:
    """Whether hypothesis' ``FlakyFailure`` (a failure that passed on replay) is in ``group``."""
    from hypothesis.errors import FlakyFailure

    if isinstance(group, FlakyFailure):
        return True
    return any(isinstance(e, BaseExceptionGroup) and _has_flaky_failure(e)
               for e in group.exceptions)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Generate without the literals hypothesis mines from local modules.

    Hypothesis draws, now and then, integers and strings found in the source of every
    local module (our whole package, installed editable), so a seed generated different
    cases after any edit of any literal anywhere, and with which modules happened to be
    imported. A seed must mean the same cases: the pool is emptied while the suite
    generates. Hypothesis has no setting for it, hence the patch of its provider's
    lookup (restored afterwards).
    """
    from hypothesis.internal.conjecture import providers

    lookup = getattr(providers, "_get_local_constants", None)
    if lookup is None or not hasattr(providers, "Constants"):  # pragma: no cover - other versions
        yield
        return
    providers._get_local_constants = providers.Constants
    try:
        yield
    finally:
        providers._get_local_constants = lookup
