"""Live property checking over a stream of saga events, for any saga spec.

:class:`SagaMonitor` is pure: feed it events (dicts as they travel, or
:class:`~sagaspec.adapters.base.RawMessage` for what is not an event) with
:meth:`~SagaMonitor.observe`, advance time with :meth:`~SagaMonitor.tick`, and it keeps
one :class:`SagaView` per saga and returns :class:`Violation` values. No I/O, no clock
of its own (``now`` is passed in), so the same engine judges a live broker
(``sagaspec monitor``), the fault runner's history (:mod:`sagaspec.conformance.faults`)
and a recorded NDJSON file.

Everything it knows of a saga comes from the spec: the event roles say what a saga's
events mean (the trigger starts it, a step is done, a compensation undoes the step it
names, a failure, an outcome that completes it or, undoing the trigger, cancels it) and
the properties, with the same definitions and names as ``sagaspec check`` and
``sagaspec conform``, are evaluated per saga on a
:class:`~sagaspec.conformance.history.HistoryModel` that the saga's events drive. Checks:

``schema``
    every event validates against its JSON Schema (and is an event at all);
``saga-consistency``
    every field the spec says is copied from an earlier event (``from: EVENT.FIELD``)
    equals it;
the spec's ``always`` properties
    after every event of the saga (copies with the same ``eventId``, i.e. outbox
    re-sends, are one event); each violation is reported once;
``saga-terminates``
    every saga settles within ``timeout`` seconds of its first event; flagged once;
the spec's ``at_rest`` properties
    checked by :meth:`SagaMonitor.final` once the system is quiet.

A saga *settles* when it has an outcome and the spec's ``at_rest`` properties hold for
it (a completed saga has done its last steps, a cancelled one is compensated). A saga
first seen without its trigger (the monitor joined mid-flight) is *partial*: the spec's
properties read the saga from its beginning, so they are not applied to it; it settles
at its outcome (a cancelled one once no step it saw is left undone). Examples on the
order saga are in ``tests/brokers/test_broker_monitor.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Violation", "SagaView", "SagaMonitor", "Roles", "STATES", "monitor_checks"]


def _model(spec: Any) -> Any:
    from sagaspec.conformance.history import HistoryModel
    from sagaspec.conformance.models import suite_model

    return HistoryModel(suite_model(spec, 1))


def monitor_checks(spec: Any = "corrected") -> dict[str, str]:
    """Check name -> what it verifies: the spec's judged properties plus the stream's own.

    ``spec``: a shipped design name, a spec file or a loaded spec."""
    model = _model(spec)
    checks = {"schema": "every event validates against its JSON Schema",
              "saga-consistency": "every field copied from an earlier event of the saga "
                                  "equals it"}
    checks.update((sp.name, sp.description) for sp, _p in model.properties
                  if sp.kind == "always")
    checks["saga-terminates"] = "every saga settles within the timeout"
    checks.update((sp.name, f"once quiet: {sp.description}") for sp, _p in model.properties
                  if sp.kind != "always" and sp.name != "saga-terminates")
    return checks


#: Saga states, in the order a live table shows them.
STATES = ("running", "completing", "compensating", "completed", "cancelled", "stuck")


@dataclass(frozen=True)
class Roles:
    """What each event of a spec means to a saga, read from the spec's event roles."""

    order: tuple[str, ...]  # every event type, in the spec's order
    triggers: frozenset[str]
    steps: tuple[str, ...]
    failures: tuple[str, ...]
    #: compensation -> the step it undoes
    undoes: dict[str, str]
    #: outcomes that complete the saga / that cancel it (they undo the trigger)
    completions: tuple[str, ...]
    cancellations: tuple[str, ...]
    #: fields every event carries besides the envelope (the saga's business key)
    key: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: Any) -> Roles:
        events = list(spec.events)
        outcomes = [e for e in events if e.role == "outcome"]
        return cls(
            order=tuple(e.name for e in events),
            triggers=frozenset(e.name for e in events if e.role == "trigger"),
            steps=tuple(e.name for e in events if e.role == "step"),
            failures=tuple(e.name for e in events if e.role == "failure"),
            undoes={e.name: e.undoes for e in events if e.role == "compensation" and e.undoes},
            completions=tuple(e.name for e in outcomes if not e.undoes),
            cancellations=tuple(e.name for e in outcomes if e.undoes),
            key=tuple(getattr(f, "name", str(f)) for f in getattr(spec, "common", ()) or ()),
        )

    def role(self, etype: str) -> str:
        if etype in self.triggers:
            return "trigger"
        if etype in self.steps:
            return "step"
        if etype in self.undoes:
            return "compensation"
        if etype in self.failures:
            return "failure"
        if etype in self.completions or etype in self.cancellations:
            return "outcome"
        return "unknown"

    def compensations(self, step: str) -> tuple[str, ...]:
        return tuple(c for c, s in self.undoes.items() if s == step)


@dataclass(frozen=True)
class Violation:
    """One broken property, as one NDJSON line (with the saga's key fields, if known)."""

    check: str
    message: str
    sagaId: str | None = None
    key: tuple[tuple[str, str], ...] = ()
    eventId: str | None = None
    eventType: str | None = None
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "key"}
        out.update(self.key)
        return out

    def ndjson(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


@dataclass
class SagaView:
    """What the monitor knows of one saga: its distinct events by type, read by role."""

    sagaId: str
    roles: Roles = field(repr=False)
    #: the saga's key fields (the spec's common fields) as its first event carried them
    key: dict[str, str] = field(default_factory=dict)
    first_seen: float = 0.0
    last_seen: float = 0.0
    partial: bool = False
    #: event type -> eventIds of the distinct events of that type, in arrival order
    seen: dict[str, list[str]] = field(default_factory=dict)
    #: the spec's at_rest properties hold for the saga (``None``: not judged, partial)
    at_rest: bool | None = None
    events: int = 0
    settled_at: float | None = None
    flagged_stuck: bool = False

    def count(self, etype: str) -> int:
        """Distinct events of ``etype`` seen for the saga."""
        return len(self.seen.get(etype, ()))

    def held(self, step: str) -> int:
        """Times ``step`` was done and not undone by one of its compensations."""
        return self.count(step) - sum(self.count(c) for c in self.roles.compensations(step))

    @property
    def completed(self) -> list[str]:
        """EventIds of the outcomes that completed the saga."""
        return [i for e in self.roles.completions for i in self.seen.get(e, ())]

    @property
    def cancelled(self) -> list[str]:
        """EventIds of the outcomes that cancelled it."""
        return [i for e in self.roles.cancellations for i in self.seen.get(e, ())]

    @property
    def failed(self) -> list[str]:
        """Failure event types seen, once each."""
        return [e for e in self.roles.failures if e in self.seen]

    @property
    def settled(self) -> bool:
        if not self.completed and not self.cancelled:
            return False
        if self.at_rest is not None:
            return self.at_rest
        # Partial: judged by its events alone (no step it saw left undone on a cancel).
        return bool(self.completed and not self.cancelled) or all(
            self.held(s) <= 0 for s in self.roles.steps if self.roles.compensations(s))

    @property
    def state(self) -> str:
        """``running`` (no outcome yet), ``completing`` (completed, last steps pending),
        ``compensating`` (cancelled, a step still to undo), ``completed``,
        ``cancelled`` (settled), or ``stuck`` (flagged by the timeout, unsettled)."""
        if self.completed and not self.cancelled:
            state = "completed" if self.settled else "completing"
        elif self.cancelled:
            state = "cancelled" if self.settled else "compensating"
        else:
            state = "running"
        if state not in ("completed", "cancelled") and self.flagged_stuck:
            return "stuck"
        return state

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "cancelled")

    def label(self) -> str:
        """``saga s1 (tripId t-1)``: the saga as messages name it (with its key fields)."""
        key = ", ".join(f"{k} {v}" for k, v in self.key.items())
        return f"saga {self.sagaId}" + (f" ({key})" if key else "")

    def history(self) -> str:
        """``Start, Step x2``: the types seen (with how many), in the spec's order."""
        order = [e for e in self.roles.order if e in self.seen]
        order += sorted(set(self.seen) - set(order))
        text = ", ".join(e + (f" x{self.count(e)}" if self.count(e) > 1 else "") for e in order)
        return text or "nothing"


class SagaMonitor:
    """The property engine (see the module docstring).

    Parameters
    ----------
    timeout
        Seconds after its first event within which a saga must settle.
    validate
        ``validate(event) -> list of problems``; defaults to
        :func:`sagaspec.spec.schemas.validate_event` against the spec.
    spec
        The shipped design name, spec file or loaded spec whose properties judge the
        stream (``design`` is the same, by its older name).
    """

    def __init__(self, *, timeout: float = 30.0,
                 validate: Callable[[dict[str, Any]], list[Any]] | None = None,
                 spec: Any = None, design: Any = None) -> None:
        #: One saga's spec model (properties, provenance), copied fresh for each saga.
        self._template = _model(spec if spec is not None else design if design is not None
                                else "corrected")
        self.spec = self._template.spec
        self.roles = Roles.of(self.spec)
        if validate is None:
            from sagaspec.spec.schemas import validate_event

            def validate(event: dict[str, Any], _spec: Any = self.spec) -> list[Any]:
                return validate_event(event, spec=_spec)
        self._models: dict[str, Any] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._reported: set[tuple[str, str]] = set()
        self.timeout = timeout
        self._validate = validate
        self.sagas: dict[str, SagaView] = {}
        self.violations: list[Violation] = []
        self.seen_ids: set[str] = set()
        self.events = 0
        self.copies = 0
        self.not_events = 0
        self.by_type: Counter[str] = Counter()
        self.now = 0.0

    # -- feeding ------------------------------------------------------------------------
    def observe(self, item: Any, *, now: float, validate: bool = True) -> list[Violation]:
        """Account for one received message; returns the violations it reveals."""
        self.now = max(self.now, now)
        found: list[Violation] = []
        if not isinstance(item, dict):
            self.not_events += 1
            reason = getattr(item, "reason", "") or "not a JSON object"
            payload = getattr(item, "payload", item)
            text = payload[:80].decode("utf-8", "backslashreplace") if isinstance(payload, bytes) else repr(payload)[:80]
            return self._add(found, Violation("schema", f"a message that is not an event ({reason}): {text!r}", at=now))
        etype = item.get("eventType")
        eid = item.get("eventId")
        sid = item.get("sagaId")
        if isinstance(eid, str) and eid in self.seen_ids:
            self.copies += 1  # an outbox re-send or a redelivery: the same event again
            return found
        if isinstance(eid, str):
            self.seen_ids.add(eid)
        self.events += 1
        self.by_type[str(etype)] += 1
        key = tuple((k, item[k]) for k in self.roles.key if isinstance(item.get(k), str))
        if validate:
            problems = self._validate(item)
            if problems:
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                self._add(found, Violation("schema", f"{etype} {eid} is invalid: {problems[0]}{more}",
                                           sid if isinstance(sid, str) else None,
                                           key, _str(eid), _str(etype), now))
        if not isinstance(sid, str) or not sid:
            return found
        view = self.sagas.get(sid)
        if view is None:
            view = SagaView(sid, self.roles, dict(key), first_seen=now, last_seen=now,
                            partial=etype not in self.roles.triggers)
            self.sagas[sid] = view
        view.last_seen = now
        view.events += 1
        for k, v in key:
            view.key.setdefault(k, v)
        was_terminal = view.terminal
        self._apply(view, item, found, now)
        if view.terminal and not was_terminal:
            view.settled_at = now
        elif not view.terminal:
            view.settled_at = None
        return found

    def tick(self, *, now: float) -> list[Violation]:
        """Flag sagas that did not settle within ``timeout`` of their first event."""
        self.now = max(self.now, now)
        found: list[Violation] = []
        for view in self.sagas.values():
            if view.flagged_stuck or view.terminal or now - view.first_seen < self.timeout:
                continue
            state = view.state
            view.flagged_stuck = True
            self._reported.add(("saga-terminates", view.sagaId))
            self._add(found, Violation(
                "saga-terminates",
                f"{view.label()} is {state} {now - view.first_seen:.1f}s after its first event "
                f"(timeout {self.timeout:g}s); seen: {view.history()}",
                view.sagaId, tuple(view.key.items()), at=now))
        return found

    def final(self, *, now: float, at_rest: bool = True) -> list[Violation]:
        """The quiet properties, once nothing more is coming (end of a fault run): every
        saga settled, and the spec's ``at_rest`` properties of every saga seen from its
        start (each violation reported once). With ``at_rest=False`` (the system may
        still be busy), only the timeouts."""
        self.now = max(self.now, now)
        if not at_rest:
            return self.tick(now=now)
        found: list[Violation] = []
        for view in self.sagas.values():
            key = tuple(view.key.items())
            if not view.terminal and not view.flagged_stuck:
                state = view.state
                view.flagged_stuck = True
                self._reported.add(("saga-terminates", view.sagaId))
                self._add(found, Violation(
                    "saga-terminates", f"{view.label()} is {state} once quiet; seen: {view.history()}",
                    view.sagaId, key, at=now))
            model = self._models.get(view.sagaId)
            if view.partial or model is None:
                continue
            for sp, _prop, _i in model.broken(("at_rest", "eventually")):
                if (sp.name, view.sagaId) in self._reported:
                    continue
                self._reported.add((sp.name, view.sagaId))
                self._add(found, Violation(
                    sp.name, self._explain(view, model, sp, "once quiet"), view.sagaId, key, at=now))
        return found

    def _explain(self, view: SagaView, model: Any, sp: Any, after: str) -> str:
        parts = {r.partition(".")[0] for r in sp.expr.refs if "." in r}
        mine = [f"{e.get('eventType')} {e.get('eventId')}" for e in self._events.get(view.sagaId, ())
                if model.publisher.get(str(e.get("eventType"))) in parts]
        text = getattr(sp.expr, "text", str(sp.expr))
        return (f"{view.label()}: {sp.description}, {after}: {text} "
                f"is false with {model.values(sp, 0)} (events: {', '.join(mine) or 'none'})")

    def feed(self, items: Iterable[tuple[float, Any]]) -> list[Violation]:
        """Observe ``(time, item)`` pairs in order, ticking as time passes."""
        found: list[Violation] = []
        for now, item in items:
            found += self.tick(now=now)
            found += self.observe(item, now=now)
        return found

    # -- read side ----------------------------------------------------------------------
    def states(self) -> Counter[str]:
        """How many sagas are in each state."""
        return Counter(v.state for v in self.sagas.values())

    def violation_counts(self) -> Counter[str]:
        return Counter(v.check for v in self.violations)

    def steps(self) -> dict[str, dict[str, int]]:
        """Per step of the spec: events ``done`` and ``undone`` (by its compensations),
        sagas where it was done more than once (``repeated``), and sagas cancelled with it
        still done (``left``: a compensation missing so far)."""
        views = self.sagas.values()
        out = {}
        for step in self.roles.steps:
            undo = self.roles.compensations(step)
            out[step] = {
                "done": self.by_type.get(step, 0),
                "undone": sum(self.by_type.get(c, 0) for c in undo),
                "repeated": sum(1 for v in views if v.count(step) > 1),
                "left": sum(1 for v in views if undo and v.cancelled and not v.completed
                            and v.held(step) > 0),
            }
        return out

    def overview(self) -> list[tuple[str, list[tuple[str, int, str]]]]:
        """The live table's sections, from the spec: ``(title, [(label, count, note)])``:
        sagas by state, then the events by role (steps with what undid them)."""
        states = self.states()
        rows: list[tuple[str, list[tuple[str, int, str]]]] = [
            ("sagas", [(s, states.get(s, 0), "") for s in STATES])]
        steps = self.steps()
        events: list[tuple[str, int, str]] = []
        for e in self.roles.order:
            role = self.roles.role(e)
            if role == "step":
                s = steps[e]
                notes = [f"{s['undone']} undone"] if self.roles.compensations(e) else []
                notes += [f"{s['repeated']} repeated"] if s["repeated"] else []
                notes += [f"{s['left']} left after a cancel"] if s["left"] else []
                events.append((e, s["done"], ", ".join(notes) or "step"))
            elif role != "compensation":
                note = {"trigger": "starts a saga", "failure": "failure"}.get(role, "")
                if role == "outcome":
                    note = "cancels" if e in self.roles.cancellations else "completes"
                events.append((e, self.by_type.get(e, 0), note))
        rows.append(("events", events))
        return rows

    def summary(self) -> dict[str, Any]:
        states = self.states()
        by_role: Counter[str] = Counter()
        for etype, n in self.by_type.items():
            by_role[self.roles.role(etype)] += n
        return {
            "spec": self.spec.name,
            "sagas": len(self.sagas),
            "events": self.events,
            "copies": self.copies,
            "not_events": self.not_events,
            "states": {s: states.get(s, 0) for s in STATES},
            "terminal": sum(1 for v in self.sagas.values() if v.terminal),
            "partial": sum(1 for v in self.sagas.values() if v.partial),
            "violations": dict(sorted(self.violation_counts().items())),
            "by_role": dict(sorted(by_role.items())),
            "by_type": dict(sorted(self.by_type.items())),
            "steps": self.steps(),
        }

    # -- the properties -----------------------------------------------------------------
    def _add(self, found: list[Violation], v: Violation) -> list[Violation]:
        found.append(v)
        self.violations.append(v)
        return found

    def _apply(self, view: SagaView, e: dict[str, Any], found: list[Violation], now: float) -> None:
        etype, eid = _str(e.get("eventType")), _str(e.get("eventId")) or f"#{self.events}"
        view.seen.setdefault(str(etype), []).append(eid)

        def flag(check: str, message: str) -> None:
            self._add(found, Violation(check, message, view.sagaId, tuple(view.key.items()),
                                       eid, etype, now))

        # The spec's properties, on this saga's spec model (a saga is index 0 of its own).
        from sagaspec.conformance.history import provenance

        earlier = self._events.setdefault(view.sagaId, [])
        model = self._models.get(view.sagaId)
        if model is None:
            model = self._models[view.sagaId] = self._template.fresh()
        if not view.partial and isinstance(etype, str):
            start = next((x for x in earlier if x.get("eventType") in model.triggers), None)
            problem = provenance(model.spec, e, earlier, start, model.triggers)
            if problem is not None:
                flag("saga-consistency", f"{etype} {eid} of {view.label()} {problem}")
        earlier.append(e)
        if isinstance(etype, str):
            model.apply(etype, 0)
        if view.partial:
            return
        # (Only with an outcome can the saga be settled: spare the others the evaluation.)
        view.at_rest = bool(view.completed or view.cancelled) and not model.broken(("at_rest", "eventually"))
        for sp, _prop, _i in model.broken(("always",)):
            if (sp.name, view.sagaId) in self._reported:
                continue
            self._reported.add((sp.name, view.sagaId))
            flag(sp.name, self._explain(view, model, sp, f"broken by {etype} {eid}"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
