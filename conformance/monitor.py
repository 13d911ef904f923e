"""Live property checking over a stream of saga events (the seed's "monitor event flow").

:class:`SagaMonitor` is pure: feed it events (dicts as they travel, or
:class:`~sagaspec.adapters.base.RawMessage` for what is not an event) with
:meth:`~SagaMonitor.observe`, advance time with :meth:`~SagaMonitor.tick`, and it keeps
one :class:`SagaView` per saga and returns :class:`Violation` values. No I/O, no clock
of its own (``now`` is passed in), so the same engine judges a live broker
(``sagaspec monitor``), the fault runner's history (:mod:`sagaspec.conformance.faults`)
and a recorded NDJSON file.

The properties are the saga spec's own (the same definitions and names as ``sagaspec
check`` and ``sagaspec conform``), evaluated per saga on a
:class:`~sagaspec.conformance.history.HistoryModel` that the saga's events drive, plus
what only a live stream can say:

``schema``
    every event validates against its JSON Schema (and is an event at all);
``saga-consistency``
    every field the spec says is copied from an earlier event (``from: EVENT.FIELD``)
    equals it (a refund of the charge's amount and paymentId);
the spec's ``always`` properties
    after every event of the saga (copies with the same ``eventId``, i.e. outbox
    re-sends, are one event); each violation is reported once;
``saga-terminates``
    every saga settles (completed and notified, or cancelled and compensated) within
    ``timeout`` seconds of its first event; flagged once per saga;
the spec's ``at_rest`` properties
    checked by :meth:`SagaMonitor.final` once the system is quiet.

A saga first seen without its ``OrderCreated`` (the monitor joined mid-flight) is
*partial*: the spec's properties read the saga from its beginning, so they are not
applied to it; its events are still validated and it must still settle in time.

>>> m = SagaMonitor(timeout=10)
>>> def ev(t, i, **kw):
...     return {"eventType": t, "eventId": i, "sagaId": "s1", "orderId": "o1", **kw}
>>> m.observe(ev("OrderCreated", "e1"), now=0.0, validate=False)
[]
>>> m.observe(ev("PaymentRefunded", "e2", paymentId="p1", amount="5.00"), now=1.0, validate=False)[0].check
'refund-needs-charge'
>>> m.sagas["s1"].state
'running'
>>> [v.check for v in m.tick(now=11.0)]
['saga-terminates']
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Violation", "SagaView", "SagaMonitor", "MONITOR_CHECKS", "STATES", "monitor_checks"]

def _model(design: str) -> Any:
    from sagaspec.conformance.history import HistoryModel
    from sagaspec.conformance.models import suite_model

    return HistoryModel(suite_model(design, 1))


def monitor_checks(design: str = "corrected") -> dict[str, str]:
    """Check name -> what it verifies: the spec's judged properties plus the stream's own."""
    model = _model(design)
    checks = {"schema": "every event validates against its JSON Schema",
              "saga-consistency": "every field copied from an earlier event of the saga "
                                  "equals it"}
    checks.update((sp.name, sp.description) for sp, _p in model.properties
                  if sp.kind == "always")
    checks["saga-terminates"] = "every saga settles within the timeout"
    checks.update((sp.name, f"once quiet: {sp.description}") for sp, _p in model.properties
                  if sp.kind != "always" and sp.name != "saga-terminates")
    return checks


#: Check name -> what it verifies, for the shipped corrected design.
MONITOR_CHECKS: dict[str, str] = monitor_checks()

#: Saga states, in the order a live table shows them.
STATES = ("running", "completing", "compensating", "completed", "cancelled", "stuck")


@dataclass(frozen=True)
class Violation:
    """One broken property, as one NDJSON line."""

    check: str
    message: str
    sagaId: str | None = None
    orderId: str | None = None
    eventId: str | None = None
    eventType: str | None = None
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def ndjson(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


@dataclass
class SagaView:
    """What the monitor knows of one saga."""

    sagaId: str
    orderId: str | None = None
    first_seen: float = 0.0
    last_seen: float = 0.0
    partial: bool = False
    placed: bool = False
    charges: dict[str, tuple[str, str]] = field(default_factory=dict)  # eventId -> (paymentId, amount)
    refunds: dict[str, tuple[str, str]] = field(default_factory=dict)
    declined: list[str] = field(default_factory=list)
    reserved: dict[str, str] = field(default_factory=dict)  # eventId -> reservationId
    released: dict[str, str] = field(default_factory=dict)
    reservation_failed: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    events: int = 0
    settled_at: float | None = None
    flagged_stuck: bool = False

    @property
    def held_charges(self) -> int:
        return len(self.charges) - len(self.refunds)

    @property
    def held_reservations(self) -> int:
        return len(self.reserved) - len(self.released)

    @property
    def state(self) -> str:
        """``running`` (no outcome yet), ``completing`` (completed, email pending),
        ``compensating`` (cancelled, a charge or reservation still held), ``completed``,
        ``cancelled`` (both settled), or ``stuck`` (flagged by the timeout, unsettled)."""
        if self.completed and not self.cancelled:
            state = "completed" if self.emails else "completing"
        elif self.cancelled:
            state = "cancelled" if self.held_charges <= 0 and self.held_reservations <= 0 else "compensating"
        else:
            state = "running"
        if state not in ("completed", "cancelled") and self.flagged_stuck:
            return "stuck"
        return state

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "cancelled")


class SagaMonitor:
    """The property engine (see the module docstring).

    Parameters
    ----------
    timeout
        Seconds after its first event within which a saga must settle.
    validate
        ``validate(event) -> list of problems``; defaults to
        :func:`sagaspec.spec.schemas.validate_event`.
    design
        The shipped design name or spec file whose properties judge the stream.
    """

    def __init__(self, *, timeout: float = 30.0,
                 validate: Callable[[dict[str, Any]], list[Any]] | None = None,
                 design: str = "corrected") -> None:
        if validate is None:
            from sagaspec.spec.schemas import validate_event as validate
        #: One saga's spec model (properties, provenance), copied fresh for each saga.
        self._template = _model(design)
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
        if validate:
            problems = self._validate(item)
            if problems:
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                self._add(found, Violation("schema", f"{etype} {eid} is invalid: {problems[0]}{more}",
                                           sid if isinstance(sid, str) else None,
                                           _str(item.get("orderId")), _str(eid), _str(etype), now))
        if not isinstance(sid, str) or not sid:
            return found
        view = self.sagas.get(sid)
        if view is None:
            view = SagaView(sid, _str(item.get("orderId")), first_seen=now, last_seen=now,
                            partial=etype != "OrderCreated")
            self.sagas[sid] = view
        view.last_seen = now
        view.events += 1
        if view.orderId is None:
            view.orderId = _str(item.get("orderId"))
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
                f"order {view.orderId} (saga {view.sagaId}) is {state} "
                f"{now - view.first_seen:.1f}s after its first event (timeout {self.timeout:g}s); "
                f"seen: {self._history(view)}",
                view.sagaId, view.orderId, at=now))
        return found

    def final(self, *, now: float) -> list[Violation]:
        """The quiet properties, once nothing more is coming (end of a fault run): every
        saga settled, and the spec's ``at_rest`` properties of every saga seen from its
        start (each violation reported once)."""
        self.now = max(self.now, now)
        found: list[Violation] = []
        for view in self.sagas.values():
            order = f"order {view.orderId} (saga {view.sagaId})"
            if not view.terminal and not view.flagged_stuck:
                state = view.state
                view.flagged_stuck = True
                self._reported.add(("saga-terminates", view.sagaId))
                self._add(found, Violation(
                    "saga-terminates", f"{order} is {state} once quiet; seen: {self._history(view)}",
                    view.sagaId, view.orderId, at=now))
            model = self._models.get(view.sagaId)
            if view.partial or model is None:
                continue
            for sp, _prop, _i in model.broken(("at_rest", "eventually")):
                if (sp.name, view.sagaId) in self._reported:
                    continue
                self._reported.add((sp.name, view.sagaId))
                self._add(found, Violation(
                    sp.name, self._explain(view, model, sp, "once quiet"),
                    view.sagaId, view.orderId, at=now))
        return found

    def _explain(self, view: SagaView, model: Any, sp: Any, after: str) -> str:
        parts = {r.partition(".")[0] for r in sp.expr.refs if "." in r}
        mine = [f"{e.get('eventType')} {e.get('eventId')}" for e in self._events.get(view.sagaId, ())
                if model.publisher.get(str(e.get("eventType"))) in parts]
        text = getattr(sp.expr, "text", str(sp.expr))
        return (f"order {view.orderId} (saga {view.sagaId}): {sp.description}, {after}: {text} "
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

    def summary(self) -> dict[str, Any]:
        states = self.states()
        return {
            "sagas": len(self.sagas),
            "events": self.events,
            "copies": self.copies,
            "not_events": self.not_events,
            "states": {s: states.get(s, 0) for s in STATES},
            "terminal": sum(1 for v in self.sagas.values() if v.terminal),
            "partial": sum(1 for v in self.sagas.values() if v.partial),
            "violations": dict(sorted(self.violation_counts().items())),
            "double_charges": sum(1 for v in self.sagas.values() if len(v.charges) > 1),
            "leaked_reservations": sum(
                1 for v in self.sagas.values()
                if v.cancelled and not v.completed and v.held_reservations > 0),
            "by_type": dict(sorted(self.by_type.items())),
        }

    # -- the properties -----------------------------------------------------------------
    def _add(self, found: list[Violation], v: Violation) -> list[Violation]:
        found.append(v)
        self.violations.append(v)
        return found

    def _apply(self, view: SagaView, e: dict[str, Any], found: list[Violation], now: float) -> None:
        etype, eid = _str(e.get("eventType")), _str(e.get("eventId")) or f"#{self.events}"

        def flag(check: str, message: str) -> None:
            self._add(found, Violation(check, message, view.sagaId, view.orderId, eid, etype, now))

        # What the live table and the summary show (not properties: those follow).
        if etype == "OrderCreated":
            view.placed = True
        elif etype == "PaymentProcessed":
            view.charges[eid] = (_str(e.get("paymentId")) or "", _str(e.get("amount")) or "")
        elif etype == "PaymentFailed":
            view.declined.append(eid)
        elif etype == "PaymentRefunded":
            view.refunds[eid] = (_str(e.get("paymentId")) or "", _str(e.get("amount")) or "")
        elif etype == "InventoryReserved":
            view.reserved[eid] = _str(e.get("reservationId")) or ""
        elif etype == "InventoryReservationFailed":
            view.reservation_failed.append(eid)
        elif etype == "InventoryReleased":
            view.released[eid] = _str(e.get("reservationId")) or ""
        elif etype == "OrderCompleted":
            view.completed.append(eid)
        elif etype == "OrderCancelled":
            view.cancelled.append(eid)
        elif etype == "NotificationSent":
            view.emails.append(eid)

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
                flag("saga-consistency", f"{etype} {eid} of order {view.orderId} (saga "
                                         f"{view.sagaId}) {problem}")
        earlier.append(e)
        if isinstance(etype, str):
            model.apply(etype, 0)
        if view.partial:
            return
        for sp, _prop, _i in model.broken(("always",)):
            if (sp.name, view.sagaId) in self._reported:
                continue
            self._reported.add((sp.name, view.sagaId))
            flag(sp.name, self._explain(view, model, sp, f"broken by {etype} {eid}"))

    @staticmethod
    def _history(view: SagaView) -> str:
        parts = [(len(view.charges), "charge"), (len(view.refunds), "refund"), (len(view.declined), "decline"),
                 (len(view.reserved), "reservation"), (len(view.released), "release"),
                 (len(view.reservation_failed), "reservation failure"), (len(view.completed), "completion"),
                 (len(view.cancelled), "cancellation"), (len(view.emails), "email")]
        text = ", ".join(f"{n} {w}{'s' if n > 1 else ''}" for n, w in parts if n)
        return text or ("the order only" if view.placed else "nothing")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
