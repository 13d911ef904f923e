"""Trace validation: does a recorded event log of a saga system follow its spec?

A log is what a bus shows: every published event, in publication order, each carrying
``causationId`` (the event whose handling published it). From that, each publication is
attributed to a handling: the participant that publishes the event's type handled the
cause (or started the saga, for an event without a cause). The compiled spec model then
judges every handling as the conformance oracle does, keeping per participant every
model state consistent with the log. A handling that published nothing leaves no trace,
so before judging one, the participant may first have handled, silently, any earlier
event of the saga it subscribes to (an over-approximation: a log is flagged only when no
way of reading it fits the spec, never for what it does not show).

At the end, the spec's ``always`` properties (and, with ``at_rest=True``, the
``at_rest`` ones, for a log of a system that went quiet) must hold in some state the log
allows. The first failure comes with the log up to it as a Mermaid sequence diagram.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from sagaspec.conformance.monitor import SagaMonitor
from sagaspec.conformance.spec_oracle import Failure, SpecOracle
from sagaspec.model.participant import Msg
from sagaspec.spec.sagafile import SagaSpec

__all__ = ["TraceReport", "validate_log", "read_log", "SpecMonitor"]

#: Model states kept per participant; beyond it the oldest readings are dropped (and the
#: report says the check was approximate).
MAX_STATES = 20_000


@dataclass
class TraceReport:
    """What the log showed: events read, sagas, handlings judged, failures."""

    events: int = 0
    sagas: int = 0
    handlings: int = 0
    failures: list[Failure] = field(default_factory=list)
    diagram: str = ""
    approximate: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


def read_log(path: str) -> list[dict[str, Any]]:
    """Events of an NDJSON file (or ``-`` for stdin), within the CLI's JSON limits."""
    from sagaspec.spec.eventfile import read_events
    from sagaspec.spec.schemas import describe_value

    from sagaspec.errors import InputError

    out = []
    for rec in read_events(path):
        if rec.error is not None:
            raise InputError(f"{rec.where}: unreadable line: {rec.error}")
        if not isinstance(rec.value, dict):
            raise InputError(f"{rec.where}: expected an event (a JSON object), "
                             f"got {describe_value(rec.value)}")
        out.append(rec.value)
    return out


def _label(e: dict[str, Any], field: str) -> str:
    """``e[field]`` for a message: the text itself, JSON for another value, ``(no FIELD)``."""
    import json

    if field not in e:
        return f"(no {field})"
    value = e[field]
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _publishers(spec: SagaSpec) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in spec.participants:
        for e in p.publishes:
            out.setdefault(e, p.name)
    return out


def validate_log(spec: SagaSpec, events: list[dict[str, Any]], *, at_rest: bool = False,
                 skip: Iterable[str] = ()) -> TraceReport:
    """Validate ``events`` (publication order) against ``spec``; see the module docstring.
    The properties named in ``skip`` are not checked (their judge is elsewhere)."""
    from sagaspec.spec.schemas import validate_event

    report = TraceReport(events=len(events))
    publishers = _publishers(spec)
    seen_ids: set[str] = set()
    order: list[dict[str, Any]] = []
    for e in events:
        problems = validate_event(e, spec=spec)
        if problems:
            d = e if isinstance(e, dict) else {}
            what = f"event {_label(d, 'eventId')}" if "eventId" in d else "an event (no eventId)"
            kind = _label(d, "eventType") if "eventType" in d else "event"
            report.failures.append(Failure("schema", publishers.get(str(d.get("eventType")), "?"),
                                           _label(d, "sagaId"), _label(d, "eventType"),
                                           f"{what} is not a valid {kind}: {problems[0]}"))
            report.diagram = _diagram(spec, order + [d])
            return report
        if e["eventId"] in seen_ids:
            continue  # published again after a crash (same eventId): one event
        seen_ids.add(e["eventId"])
        order.append(e)
    saga_ids = list(dict.fromkeys(e["sagaId"] for e in order))
    report.sagas = len(saga_ids)
    if not saga_ids:
        return report
    roomy = dataclasses.replace(spec, bounds={**spec.bounds, "max_sagas": max(len(saga_ids), 1)})
    params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
    oracle = SpecOracle(roomy, saga_ids, params, world_known=False)
    oracle.spec = spec  # schemas and provenance of the real spec
    by_id = {e["eventId"]: (k, e) for k, e in enumerate(order)}
    groups: dict[tuple[str, str | None, str], list[dict[str, Any]]] = {}
    for e in order:
        groups.setdefault((publishers.get(e["eventType"], "?"), e.get("causationId"), e["sagaId"]), []).append(e)
    done: set[tuple[str, str | None, str]] = set()
    consumed: dict[str, set[str]] = {p.name: set() for p in spec.participants}
    for k, e in enumerate(order):
        who = publishers.get(e["eventType"])
        key = (who or "?", e.get("causationId"), e["sagaId"])
        if key in done:
            continue
        done.add(key)
        emitted = groups[key]
        if who is None:
            oracle.failures.append(Failure("model", "?", e["sagaId"], e["eventType"],
                                           f"no participant of the spec publishes {e['eventType']}"))
            break
        cause_id = e.get("causationId")
        if cause_id is None or cause_id not in by_id:
            if cause_id is not None:
                oracle.failures.append(Failure("model", who, e["sagaId"], e["eventType"],
                                               f"{e['eventType']} {e['eventId']} was caused by {cause_id}, which is not in the log before it"))
                break
            report.handlings += 1
            oracle.started(who, e["sagaId"], emitted)
        else:
            ck, cause = by_id[cause_id]
            if ck >= k:
                oracle.failures.append(Failure("model", who, e["sagaId"], e["eventType"],
                                               f"{e['eventType']} was published before its cause {cause['eventType']}"))
                break
            _silent_closure(oracle, who, e["sagaId"], order[:k], consumed[who] | {cause_id}, report)
            report.handlings += 1
            oracle.handled(who, cause, duplicate=False, emitted=emitted)
            consumed[who].add(cause_id)
        if oracle.failures:
            report.diagram = _diagram(spec, order[: k + 1])
            break
    if not oracle.failures:
        _properties(oracle, at_rest, frozenset(skip))
        if oracle.failures:
            report.diagram = _diagram(spec, order)
    report.failures = oracle.failures
    return report


def _silent_closure(oracle: SpecOracle, who: str, saga: str, earlier: list[dict[str, Any]],
                    skip: set[str], report: TraceReport) -> None:
    """Let ``who`` have handled, publishing nothing, any earlier event of ``saga`` it
    subscribes to and has not been seen handling."""
    model = oracle.models[who]
    candidates = [e for e in earlier if e["sagaId"] == saga and e["eventType"] in model.subscribes
                  and e["eventId"] not in skip]
    if not candidates:
        return
    i = oracle.index[saga]
    states = set(oracle.states[who])
    frontier = set(states)
    while frontier:
        nxt = set()
        for state in frontier:
            for e in candidates:
                for _alt, out in model.choices(state, Msg(e["eventType"], i, oracle._src(e))):
                    if not out.publish and out.state not in states:
                        nxt.add(out.state)
        states |= nxt
        frontier = nxt
        if len(states) > MAX_STATES:
            report.approximate = True
            break
    oracle.states[who] = states


def _properties(oracle: SpecOracle, at_rest: bool, skip: frozenset[str] = frozenset()) -> None:
    names = list(oracle.models)
    kinds = ("always", "at-rest") if at_rest else ("always",)
    props = [p for p in oracle.system.properties if p.kind in kinds and p.name not in skip]
    combos = product(*(sorted(oracle.states[n], key=repr)[:8] for n in names))
    holding: dict[str, bool] = {p.name: False for p in props}
    for combo in combos:
        view = dict(zip(names, combo, strict=True))

        class _View:
            def __getitem__(self, n, _v=view):
                return _v[n]

        for p in props:
            if not holding[p.name] and p.pred(_View()):
                holding[p.name] = True
        if all(holding.values()):
            return
    for p in props:
        if not holding[p.name]:
            oracle.failures.append(Failure("property", "system", "*", "-",
                                           f"{p.name} ({p.kind}) is false in every state the log allows: {p.description}"))
            return


def _diagram(spec: SagaSpec, events: list[dict[str, Any]]) -> str:
    """The log as a Mermaid sequence diagram: each event from its publisher to its subscribers."""
    publishers = _publishers(spec)
    lines = ["sequenceDiagram"]
    for p in spec.participants:
        lines.append(f"    participant {p.name}")
    for e in events[-40:]:
        src = publishers.get(str(e.get("eventType")), "?")
        subs = [p.name for p in spec.participants if e.get("eventType") in p.subscribes] or [src]
        for dest in subs:
            saga = _label(e, "sagaId") if "sagaId" in e else "no sagaId"
            lines.append(f"    {src}->>{dest}: {_label(e, 'eventType')} ({saga})")
    return "\n".join(lines)


class SpecMonitor(SagaMonitor):
    """The live monitor (:class:`~sagaspec.conformance.monitor.SagaMonitor`: saga states,
    the spec's properties per saga, timeouts) plus trace validation of everything observed
    so far: every handling the log shows must be one the spec allows (re-validated at
    most every ``every`` seconds while events arrive, and by :meth:`final`). The
    properties are judged once, per saga, by the live monitor; the log's validation adds
    the handlings and the properties the live monitor cannot judge."""

    def __init__(self, spec: SagaSpec, *, timeout: float = 30.0, every: float = 1.0) -> None:
        super().__init__(timeout=timeout, spec=spec)
        self.every = every
        self.log: list[dict[str, Any]] = []
        self._judged = frozenset(sp.name for sp, _p in self._template.properties)
        self._trace_reported: set[str] = set()
        self._dirty = False
        self._checked_at = -1e9

    def observe(self, item: Any, *, now: float, validate: bool = True) -> list[Any]:
        before = self.events
        found = super().observe(item, now=now, validate=validate)
        if self.events > before and isinstance(item, dict):
            self.log.append(item)
            self._dirty = True
        return found

    def tick(self, *, now: float) -> list[Any]:
        found: list[Any] = []
        if self._dirty and now - self._checked_at >= self.every:
            found += self._trace(at_rest=False, now=now)
            self._checked_at = now
        return found + super().tick(now=now)

    def final(self, *, now: float, at_rest: bool = False) -> list[Any]:
        return self._trace(at_rest=at_rest, now=now) + super().final(now=now, at_rest=at_rest)

    def _trace(self, *, at_rest: bool, now: float) -> list[Any]:
        from sagaspec.conformance.monitor import Violation

        self._dirty = False
        report = validate_log(self.spec, self.log, at_rest=at_rest, skip=self._judged)
        found: list[Any] = []
        for f in report.failures:
            key = f"{f.check}|{f.message}"
            if f.check == "schema" or key in self._trace_reported:
                continue  # the schema is the live monitor's check already
            self._trace_reported.add(key)
            self._add(found, Violation(f.check, f.message, f.saga if f.saga != "*" else None,
                                       eventType=f.event if f.event not in ("-", "?") else None, at=now))
        return found
