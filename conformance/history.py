"""The observed history of a test case, judged by the spec's own properties.

The history holds every distinct event (by ``eventId``) that crossed the bus in a test
case, whoever published it: the suite playing the other participants, or the system
under test. It judges them with the saga spec's properties, the very definitions
``sagaspec check`` explores, with the same names, evaluated on a :class:`HistoryModel`:
the spec's variables of every participant as the *observed events* drive them. So the
properties need no model of what the service decided internally, and they also judge a
service against a design the model finds broken (the ``seed`` design fails them, which
is the point), or what the model does not allow at all (a second charge).

* ``always`` properties are checked after every publication by the system under test;
* ``at_rest`` and ``eventually`` properties once the whole system (bus and service) is
  quiet at the end of a test case, for every saga that was started;
* ``sometimes`` properties say the model is not vacuous, not one run; ``leads_to`` needs
  the fair runs the checker explores: neither is a check of one test case.

A property that reads a *shared* variable the suite cannot see (a service's stock) is
not judged here: the ``stock`` check judges those decisions when the world is set up.
The events' fields are checked against the spec's provenance (``from: EVENT.FIELD``)
by :meth:`History.check_consistency`.

Examples on the order saga are in ``tests/conformance/test_conform_history.py``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagaspec.conformance.checks import CheckFailed, fail
from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.properties import Property
from sagaspec.model.saga import saga_system
from sagaspec.spec._jsoncopy import copy_json
from sagaspec.spec.sagafile import Alternative, SagaSpec, SpecProperty

from sagaspec.errors import ModelError

__all__ = ["SagaInfo", "History", "HistoryModel", "Entry", "provenance"]


@dataclass(frozen=True)
class SagaInfo:
    """The business facts of one saga of a test case (fresh ids per test case).

    ``fields`` is the payload of the saga's trigger event (its business fields and the
    spec's common identifiers), as the customer starts the saga with it.
    """

    index: int
    sagaId: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def start(self) -> dict[str, Any]:
        """The trigger's payload with the ``sagaId``, as ``Adapter.start_saga`` takes it."""
        return {"sagaId": self.sagaId, **copy_json(dict(self.fields))}

    def describe(self) -> str:
        """``saga S`` with its first identifier field, for messages."""
        ident = next((f"{v}" for k, v in self.fields.items()
                      if k.endswith("Id") and isinstance(v, str)), None)
        return f"saga {self.sagaId}" + (f" ({ident})" if ident else "")

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "sagaId": self.sagaId, **copy_json(dict(self.fields))}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SagaInfo:
        return cls(int(d["index"]), str(d["sagaId"]),
                   {k: v for k, v in d.items() if k not in ("index", "sagaId")})


@dataclass
class Entry:
    """One distinct event of the history."""

    event: dict[str, Any]
    origin: str  # "suite" or "sut"
    copies: int = 1


def provenance(spec: SagaSpec, event: dict[str, Any], earlier: Iterable[dict[str, Any]],
               start: dict[str, Any] | None, triggers: Iterable[str]) -> str | None:
    """Why ``event``'s fields contradict where the spec says they come from, or ``None``.

    A field declared ``from: EVENT.FIELD`` must equal ``FIELD`` of the saga's start
    (``start``: the trigger's payload) when ``EVENT`` is a trigger, else of one of the
    ``earlier`` events of the saga of type ``EVENT`` (none seen yet: nothing to compare;
    a refund without a charge is the properties' business). A trigger event itself must
    carry the start's values.
    """
    etype = event.get("eventType")
    triggers = frozenset(triggers)
    try:
        fields = spec.event(str(etype)).fields
    except Exception:  # noqa: BLE001 - an unknown type is the schema check's business
        return None
    start = start or {}
    if etype in triggers:
        for f in fields:
            have, want = event.get(f.name), start.get(f.name)
            if have is not None and want is not None and have != want:
                return f"has {f.name} {have!r}, expected {want!r}"
    earlier = list(earlier)
    # What the publisher can know: the events it receives or publishes itself (a copy
    # from any other event is a gap of the spec, not the service's fault).
    knowable = {e for p in spec.participants if etype in p.publishes
                for e in (*p.subscribes, *p.publishes)}
    for f in fields:
        value, source = event.get(f.name), f.source
        if value is None or not source or source.count(".") != 1 or "(" in source:
            continue  # optional, nullable, or not copied from another event
        origin, _, ofield = source.partition(".")
        if origin not in knowable:
            continue
        if origin in triggers and start.get(ofield) is not None:
            seen = [start[ofield]]
        else:
            seen = [e.get(ofield) for e in earlier
                    if e.get("eventType") == origin and e.get(ofield) is not None]
        if seen and value not in seen:
            listed = " or ".join(repr(v) for v in seen)
            return f"has {f.name} {value!r}, expected {listed} (its {source})"
    return None


class HistoryModel:
    """The spec's variables of every participant, driven by observed events.

    An event published by participant P for saga i applies the updates of the
    alternative of P that emits it: the one whose guard holds in the current state, or,
    when none does (the service did something the design does not allow, such as a
    second charge), the first whose updates stay in their variables' domains; an event no
    alternative can explain leaves the state as it is. Reactions that publish nothing
    are invisible to the suite and change nothing here. Participants whose guards read
    shared variables keep them pinned to "plenty" (the service's stock is its own).

    Parameters
    ----------
    model
        The suite's model (:class:`~sagaspec.conformance.models.SuiteModel`).
    """

    def __init__(self, model: Any) -> None:
        from sagaspec.conformance.models import _PLENTY, AnyStock, pin

        self.sagas = model.sagas
        self.spec: SagaSpec = model.spec
        #: Events that start a saga (the customer's trigger).
        self.triggers: frozenset[str] = frozenset(model.triggers)
        system = saga_system(self.spec, orders=model.sagas)
        self.parts: dict[str, SpecParticipantModel] = {}
        self._pinned: set[str] = set()
        hidden: set[str] = set()
        for p in model.participants:
            inner = p.inner if isinstance(p, AnyStock) else p
            if not isinstance(inner, SpecParticipantModel):
                raise TypeError(f"participant {p.name!r} is not compiled from a spec")
            self.parts[p.name] = inner
            if isinstance(p, AnyStock):
                self._pinned.add(p.name)
                hidden |= {f"{p.name}.{v}" for v in inner.shared_names}
        self._pin = lambda name, state: pin(self.parts[name], state, _PLENTY)
        self._initial: dict[str, Hashable] = {
            n: (self._pin(n, m.init()) if n in self._pinned else m.init())
            for n, m in self.parts.items()}
        self.states: dict[str, Hashable] = dict(self._initial)
        self.publisher = {e: n for n, m in self.parts.items() for e in m.spec.publishes}
        # event -> the alternatives of its publisher that emit it (first emitted event).
        self.emitters: dict[str, tuple[Alternative, ...]] = {}
        for m in self.parts.values():
            for r in m.spec.reactions:
                for alt in r.alternatives:
                    if alt.emit:
                        self.emitters.setdefault(alt.emit[0], ())
                        self.emitters[alt.emit[0]] += (alt,)
        defs = {p.name: p for p in self.spec.properties}
        compiled = {p.name: p for p in system.properties}
        self.properties: list[tuple[SpecProperty, Property]] = []
        #: Spec properties not judged on a history, with why (for the docs and reports).
        self.not_judged: dict[str, str] = {}
        for name, sp in defs.items():
            refs = set(sp.expr.refs) | (set(sp.target.refs) if sp.target is not None else set())
            if refs & hidden:
                self.not_judged[name] = ("reads " + ", ".join(sorted(refs & hidden)) +
                                         ", which only the service knows")
            elif sp.kind in ("sometimes", "leads_to"):
                self.not_judged[name] = f"a {sp.kind} property is about the model's runs"
            else:
                self.properties.append((sp, compiled[name]))

    def fresh(self) -> HistoryModel:
        """A copy at the initial states (sharing the compiled spec, which is immutable)."""
        other = copy.copy(self)
        other.states = dict(self._initial)
        return other

    def broken(self, kinds: tuple[str, ...]) -> list[tuple[SpecProperty, Property, int | None]]:
        """Properties of ``kinds`` false now: ``(spec property, property, saga index)``;
        the index is ``None`` for a property over all sagas."""
        out = []
        for sp, prop in self.properties:
            if sp.kind not in kinds:
                continue
            truth = self.truth(prop)
            if isinstance(truth, bool):
                if not truth:
                    out.append((sp, prop, None))
                continue
            out.extend((sp, prop, i) for i, ok in enumerate(truth) if not ok)
        return out

    def apply(self, event_type: str, saga: int) -> None:
        """Account for ``event_type`` published for saga index ``saga``."""
        name = self.publisher.get(event_type)
        if name is None or not 0 <= saga < self.sagas:
            return
        m = self.parts[name]
        state = self.states[name]
        shared, slots = (tuple(state[:-1]), state[-1]) if m.state_cls is not None else ((), state)
        slot = slots[saga]
        data = dict(m.params)
        data.update(zip(m.slot_cls._fields, slot, strict=True))
        data.update(zip(m.shared_names, shared, strict=True))
        alts = self.emitters.get(event_type, ())
        enabled = [a for a in alts if a.otherwise or a.when is None or a.when(data) is True]
        for alt in (*enabled, *(a for a in alts if a not in enabled)):
            try:
                values = {var: m.domains[var].check(expr(data), expr.where, "update")
                          for var, expr in alt.updates}
            except ModelError:
                continue  # not this alternative: its updates leave their domains
            new_slot = slot._replace(**{k: v for k, v in values.items() if k in m.index})
            new_slots = (*slots[:saga], new_slot, *slots[saga + 1:])
            if m.state_cls is None:
                new = new_slots
            else:
                new_shared = [values.get(n, v) for n, v in zip(m.shared_names, shared, strict=True)]
                new = m.state_cls(*new_shared, new_slots)
            self.states[name] = self._pin(name, new) if name in self._pinned else new
            return

    def truth(self, prop: Property) -> list[bool] | bool:
        """Per-saga truth of ``prop`` now (one bool for a property over all sagas)."""
        by_saga = getattr(prop.pred, "by_saga", None)
        if by_saga is not None:
            return list(by_saga(self.states))
        return bool(prop.pred(self.states))

    def values(self, sp: SpecProperty, saga: int | None) -> str:
        """``payment.charges = 2, ...``: the variables ``sp`` reads, for messages."""
        out = []
        refs = set(sp.expr.refs) | (set(sp.target.refs) if sp.target is not None else set())
        for ref in sorted(r for r in refs if "." in r):
            pname, _, var = ref.partition(".")
            m = self.parts.get(pname)
            if m is None:
                continue
            state = self.states[pname]
            shared, slots = (tuple(state[:-1]), state[-1]) if m.state_cls is not None else ((), state)
            if var in m.index:
                v = [s[m.index[var]] for s in slots] if saga is None else slots[saga][m.index[var]]
            else:
                v = shared[m.sindex[var]]
            out.append(f"{ref} = {v}")
        return ", ".join(out)


@functools.lru_cache(maxsize=32)
def _template(model: Any) -> HistoryModel:
    """The :class:`HistoryModel` of ``model`` at its initial states, built once: compiling
    the spec's properties (a new system each time) cost about 7 ms of every test case."""
    return HistoryModel(model)


class History:
    """Distinct events of a test case, in order of observation, judged by the spec.

    ``model`` is the suite's model of the test case
    (:class:`~sagaspec.conformance.models.SuiteModel`): its spec gives the properties,
    the events' provenance and the trigger events that start a saga.
    """

    def __init__(self, sagas: Iterable[SagaInfo], model: Any) -> None:
        self.sagas: dict[str, SagaInfo] = {s.sagaId: s for s in sagas}
        self.entries: list[Entry] = []
        self.by_id: dict[str, Entry] = {}
        #: eventIds the SUT received (valid causes of its publications).
        self.received: dict[str, str] = {}
        self.spec: SagaSpec = model.spec
        self.triggers: frozenset[str] = frozenset(model.triggers)
        self.state = _template(model).fresh()
        #: sagaIds whose trigger event was seen (the sagas the quiet properties judge).
        self.started: set[str] = set()
        #: sagaId -> distinct events of that saga, in order (for messages).
        self.events: dict[str, list[dict[str, Any]]] = {s: [] for s in self.sagas}
        #: (property, sagaId or None) already reported: each violation is raised once.
        self._reported: set[tuple[str, str | None]] = set()
        self._sources = {e.name: {f.name: f.source for f in e.fields} for e in self.spec.events}
        self._common = tuple(f.name for f in self.spec.common)

    def add_saga(self, saga: SagaInfo) -> None:
        self.sagas[saga.sagaId] = saga
        self.events.setdefault(saga.sagaId, [])

    def add(self, event: dict[str, Any], origin: str) -> bool:
        """Record ``event``; ``False`` if it is a copy of an event already recorded."""
        eid = event.get("eventId")
        if eid in self.by_id:
            self.by_id[eid].copies += 1
            return False
        entry = Entry(dict(event), origin)
        self.entries.append(entry)
        if isinstance(eid, str):
            self.by_id[eid] = entry
        sid = event.get("sagaId")
        saga = self.sagas.get(sid) if isinstance(sid, str) else None
        if saga is not None:
            etype = event.get("eventType")
            self.events[sid].append(entry.event)
            if etype in self.triggers:
                self.started.add(sid)
            if isinstance(etype, str):
                self.state.apply(etype, saga.index)
        return True

    def note_received(self, event: dict[str, Any]) -> None:
        """The SUT was handed ``event`` (so its eventId is a valid causationId)."""
        if isinstance(event.get("eventId"), str):
            self.received[event["eventId"]] = str(event.get("sagaId"))

    # -- checks on one SUT publication ------------------------------------------------
    def check_consistency(self, event: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """``saga-consistency``: a known saga, fresh eventId, a cause of the same saga, and
        every field the spec says is copied (``from:``) equal to where it comes from."""
        eid, etype, sid = event.get("eventId"), event.get("eventType"), event.get("sagaId")
        if previous is not None and previous != event:
            raise fail("saga-consistency",
                       f"{etype} {eid} reuses eventId {eid} of an earlier, different "
                       f"{previous.get('eventType')} event", event=event)
        saga = self.sagas.get(sid)
        if saga is None:
            known = ", ".join(sorted(self.sagas)) or "none"
            raise fail("saga-consistency",
                       f"{etype} {eid} carries sagaId {sid!r}, which belongs to no saga of this "
                       f"test case (known: {known})", event=event)
        start = saga.start()
        what = f"{etype} {eid} of saga {sid}"
        for name in self._common:
            if name in start and event.get(name) != start[name]:
                raise fail("saga-consistency",
                           f"{what} carries {name} {event.get(name)!r}, expected "
                           f"{start[name]!r}", event=event)
        problem = provenance(self.spec, event, self.events.get(sid, ()), start,
                             self.triggers)
        if problem is not None:
            raise fail("saga-consistency", f"{what} {problem}", event=event)
        cause = event.get("causationId")
        if cause is not None and etype not in self.triggers:
            cause_saga = self.received.get(cause)
            if cause_saga is None and cause in self.by_id:
                cause_saga = str(self.by_id[cause].event.get("sagaId"))
            if cause_saga is None:
                raise fail("saga-consistency",
                           f"{etype} {eid} of saga {sid} names causationId {cause!r}, an event "
                           f"the service never received", event=event)
            if cause_saga != sid:
                raise fail("saga-consistency",
                           f"{etype} {eid} claims saga {sid} but was caused by {cause!r} of saga "
                           f"{cause_saga}", event=event)

    def _violation(self, sp: SpecProperty, prop: Property, sid: str | None,
                   after: str, event: dict[str, Any] | None = None) -> CheckFailed:
        if sid is None:
            who = "the test case"
            values = self.state.values(sp, None)
            events: list[dict[str, Any]] = [e.event for e in self.entries]
        else:
            saga = self.sagas[sid]
            who = saga.describe()
            values = self.state.values(sp, saga.index)
            events = self.events.get(sid, [])
        parts = {r.partition(".")[0] for r in sp.expr.refs if "." in r}
        mine = [f"{e.get('eventType')} {e.get('eventId')}" for e in events
                if self.state.publisher.get(str(e.get("eventType"))) in parts]
        text = getattr(sp.expr, "text", str(sp.expr))
        return fail(sp.name, f"{who}: {prop.description or sp.description}, {after}: {text} is "
                             f"false with {values} (events: {', '.join(mine) or 'none'})",
                    event=event)

    def _broken(self, kinds: tuple[str, ...], only: Iterable[str] | None = None
                ) -> list[tuple[SpecProperty, Property, str | None]]:
        """Properties of ``kinds`` false now, per saga (sagas in ``only``, if given)."""
        by_index = {s.index: sid for sid, s in self.sagas.items()}
        wanted = None if only is None else set(only)
        out = []
        for sp, prop, i in self.state.broken(kinds):
            sid = None if i is None else by_index.get(i)
            if i is not None and (sid is None or (wanted is not None and sid not in wanted)):
                continue
            out.append((sp, prop, sid))
        return out

    def check_safety(self, event: dict[str, Any], unjudged: Collection[str] = ()) -> None:
        """The spec's ``always`` properties, after ``event`` was recorded; a saga's in
        ``unjudged`` (sagaIds) are not judged.

        Each violation is raised once (a later event does not report it again).
        """
        after = f"broken by {event.get('eventType')} {event.get('eventId')}"
        for sp, prop, sid in self._broken(("always",)):
            if (sp.name, sid) in self._reported or sid in unjudged:
                continue
            self._reported.add((sp.name, sid))
            raise self._violation(sp, prop, sid, after, event)

    # -- checks once everything is quiet --------------------------------------------
    def check_quiet(self, prefer: str | None = None, skip: frozenset[str] = frozenset()) -> None:
        """The spec's ``at_rest`` and ``eventually`` properties, once the bus and the
        service are quiet, for every started saga. Every violation is collected; the
        first (or ``prefer``, when violated: a replayed model trace names the property it
        expects) is raised, naming the others.
        """
        found = [self._violation(sp, prop, sid, "once quiet")
                 for sp, prop, sid in self._broken(("at_rest", "eventually"), self.started)]
        found = [f for f in found if f.check not in skip]
        if not found:
            return
        first = next((f for f in found if f.check == prefer), found[0])
        others = sorted({f.check for f in found} - {first.check})
        if others:
            first.message += f" (also violated: {', '.join(others)})"
            first.args = (str(first),)
        raise first
