"""The reference interpreter: any participant of any saga spec, run as a real service.

:class:`SpecService` takes real JSON events in and puts real JSON events out, with the
guarantees of the hand-written reference services: an idempotency store, and ONE store
transaction for the processed ``eventId``, the state change and the outgoing events
(transactional outbox); a crash before the commit rolls everything back. What it does
with an event is the spec's reaction, evaluated by the same compiled participant the
checker explores (:class:`~sagaspec.model.compile.SpecParticipantModel`), so the
reference service and the model cannot drift.

State
    Per saga, the participant's spec variables and the payload of every event of that
    saga it has received or published (for field provenance); the shared variables once.
    Volatile variables are reset by :meth:`SpecService.restarted`, as the model's crash.
World
    Where several alternatives are enabled, the world decides: ``world`` maps a knob to
    its value, for every saga (``{"payment": "decline"}``) or per saga
    (``{"sagas": {"saga-1": {"payment": "decline"}}}``); an unset knob takes its first
    value. Alternatives that the world does not tell apart: the first enabled one.
    A knob with ``rules`` in the spec is decided by the world's data instead, when the
    world gives it (``{"data": {"declined_users": [...], "decline_over": "50.00"}}``):
    the first rule that matches the saga's events gives its value.
    :meth:`SpecService.set_shared` starts the shared variables at given values (a stock
    level; ``"shared"`` in a target's world), kept over crashes as the store keeps them.
    A keyed variable given per key (``{"inventory.free": {"sku-1": 3}}``) makes the
    service run it per key of each saga's lines, as a real service does
    (:func:`~sagaspec.model.compile.run_per_key`); given one value (or not at all), it is
    the model's one key.
Payloads
    Each field of an emitted event comes from where the spec says: ``EVENT.FIELD`` (a
    field of an earlier event of the saga), ``new`` (a new id), ``world.KNOB``,
    ``sum(EVENT.LIST.FIELD)``; a ``const``; a common field from the event that caused
    this one; otherwise the field's first example or a value made from its schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sagaspec.examples.envelope import new_id, now_rfc3339
from sagaspec.examples.service import (
    CRASH_POINTS,
    DEAD_LETTERED,
    DUPLICATE,
    IGNORED,
    PROCESSED,
    ReferenceService,
    SimulatedCrash,
)
from sagaspec.examples.store import MemoryStore, Store, Tx
from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.participant import Msg
from sagaspec.spec._provenance import MISSING, field_value
from sagaspec.spec.sagafile import Alternative, SagaSpec, SpecField, resolve_spec
from sagaspec.spec.specschemas import example_value

from sagaspec.errors import InputError, UsageError

__all__ = ["SpecService", "spec_services", "Decision", "property_verdicts", "replay_path", "ReplayMismatch",
           "per_key_world", "per_key_params", "check_world_data", "rule_value"]

log = logging.getLogger("sagaspec.service")

_SHARED = "spec:shared"
_BOOT = "spec:boot"  # incremented by each restart: records of an earlier boot lost their volatile part
_DLQ = "dead-letters:count"


class Decision:
    """What a service did with one event: the alternative taken and the events queued."""

    __slots__ = ("alternative", "label", "emitted")

    def __init__(self, alternative: Alternative | None, label: str, emitted: list[dict[str, Any]]) -> None:
        self.alternative = alternative
        self.label = label
        self.emitted = emitted

    def __repr__(self) -> str:
        return f"Decision({self.label!r}, emitted={[e['eventType'] for e in self.emitted]})"


class SpecService:
    """One participant of ``spec``, run on a store (see the module docstring)."""

    def __init__(
        self,
        spec: SagaSpec | str,
        participant: str,
        store: Store | None = None,
        *,
        world: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        publisher: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.spec = resolve_spec(spec) if isinstance(spec, str) else spec
        self.part = self.spec.participant(participant)
        self.name = participant
        self.subscribes = frozenset(self.part.subscribes)
        self.store: Store = store if store is not None else MemoryStore()
        self.publisher = publisher
        self.params = dict(params or {})
        values = self.spec.resolve_params(self.spec.default_sagas, self.params)
        volatile = frozenset(v.name for v in (*self.part.state, *self.part.shared) if v.volatile)
        keys = tuple(self.spec.key(n) for n in dict.fromkeys(v.key for v in self.part.shared if v.key))
        self.model = SpecParticipantModel(self.part, 1, values, volatile, keys)
        self.keyed = {v.name: v.key for v in self.part.shared if v.key}
        self.world: dict[str, Any] = {}
        self.configure(world or {})
        self._crash_at: str | None = None
        self.decisions: list[Decision] = []

    def __repr__(self) -> str:
        return f"<SpecService {self.name!r} of {self.spec.name!r}>"

    # -- world -----------------------------------------------------------------------
    def configure(self, world: dict[str, Any]) -> None:
        """Set the world: ``{KNOB: VALUE, "sagas": {SAGA_ID: {KNOB: VALUE}}, "data": {NAME:
        VALUE}}``."""
        if not isinstance(world, dict):
            raise InputError(f"world must be an object of knob values, got {type(world).__name__}")
        check_world_data(self.spec, world.get("data"))
        # "shared" (starting values of shared variables) is set by set_shared, once.
        for scope, values in [("", {k: v for k, v in world.items() if k not in ("sagas", "shared", "data")}),
                              *((f"saga {s}: ", v) for s, v in (world.get("sagas") or {}).items())]:
            if not isinstance(values, dict):
                raise InputError(f"world: {scope}expected an object of knob values")
            for knob, value in values.items():
                if knob not in self.spec.world:
                    known = ", ".join(self.spec.world) or "none"
                    raise InputError(f"world: {scope}unknown knob {knob!r}; the spec declares {known}")
                if value not in self.spec.world[knob]:
                    raise InputError(
                        f"world: {scope}{knob} is {value!r}; expected one of {', '.join(self.spec.world[knob])}"
                    )
        self.world = dict(world)

    def set_shared(self, values: dict[str, Any]) -> None:
        """Start this participant's shared variables at ``values`` (``{VAR: VALUE}``,
        checked by :func:`~sagaspec.adapters.base.check_shared`): a stock level the world
        sets up. A value above the run's bound (``max: stock``) widens it, as a real stock
        may be larger."""
        if not values:
            return
        if any(isinstance(values.get(n), dict) for n in self.keyed):
            # A world per key gives every keyed variable per key: one it does not list
            # has nothing at any key.
            values = {**{n: {} for n in self.keyed}, **values}
        self._widen(values)  # a per-key start is kept (the total is its param), not widened
        with self.store.transaction() as tx:
            current = tx.get(_SHARED) or dict(zip(self.model.shared_names, self.model._init_shared,
                                                  strict=True))
            tx.put(_SHARED, {**current, **values})

    def _widen(self, values: dict[str, Any]) -> None:
        import copy

        self.shared_start = {**getattr(self, "shared_start", {}), **values}
        for name, value in values.items():
            d = self.model.domains[name]
            high = getattr(d, "high", None)  # a lenient domain (a mutant's) has no bound
            if high is not None and isinstance(value, int) and value > high:
                d = copy.copy(d)
                d.high = value
                self.model.domains = {**self.model.domains, name: d}
                self.model._memo = {}

    def knob(self, saga_id: str, knob: str, events: dict[str, Any] | None = None) -> str:
        """``knob``'s value for ``saga_id``: set for the saga, set for all, decided by the
        spec's rules from the world's data and the saga's ``events`` (type -> payload),
        else the knob's first value."""
        per = (self.world.get("sagas") or {}).get(saga_id) or {}
        if knob in per:
            return per[knob]
        if knob in self.world:
            return self.world[knob]
        data = self.world.get("data")
        if data is not None:
            decided = rule_value(self.spec, knob, data, events or {})
            if decided is not None:
                return decided
        return self.spec.world[knob][0]

    def _choose(self, saga_id: str, choices, events: dict[str, Any] | None = None) -> tuple[Alternative | None, Any]:
        fitting = [
            (alt, out) for alt, out in choices
            if alt is None or all(self.knob(saga_id, k, events) == v for k, v in alt.world)
        ]
        if not fitting:  # every enabled alternative needs another world: take the first
            fitting = list(choices)
        return fitting[0]

    # -- state -----------------------------------------------------------------------
    def _load(self, tx: Tx, saga_id: str) -> tuple[dict[str, Any], tuple]:
        record = tx.get(f"spec:saga:{saga_id}")
        init = dict(zip(self.model.slot_cls._fields, self.model._init_slot, strict=True))
        boot = tx.get(_BOOT) or 0
        if record is None:
            record = {"vars": init, "events": {}, "boot": boot}
        elif record.get("boot", 0) != boot:
            # Written before the last crash: what was volatile is gone (reset lazily, per
            # saga, when next read; the same as the model's reset of every saga at the crash).
            for v in self.part.state:
                if v.volatile:
                    record["vars"][v.name] = init[v.name]
            record["boot"] = boot
        shared = tx.get(_SHARED)
        if shared is None:
            shared = dict(zip(self.model.shared_names, self.model._init_shared, strict=True))
        return record, tuple(shared[n] for n in self.model.shared_names)

    def _state(self, record: dict[str, Any], shared: tuple):
        slot = self.model._slot(tuple(record["vars"][f] for f in self.model.slot_cls._fields))
        return self.model._join(shared, (slot,))

    def _save(self, tx: Tx, saga_id: str, record: dict[str, Any], state) -> None:
        shared, slots = self.model._split(state)
        record["vars"] = dict(zip(self.model.slot_cls._fields, slots[0], strict=True))
        tx.put(f"spec:saga:{saga_id}", record)
        if self.model.shared_names:
            tx.put(_SHARED, dict(zip(self.model.shared_names, shared, strict=True)))

    def variables(self, saga_id: str) -> dict[str, Any]:
        """The participant's spec variables for ``saga_id`` (and the shared ones)."""
        with self.store.transaction() as tx:
            record, shared = self._load(tx, saga_id)
        return {**record["vars"], **dict(zip(self.model.shared_names, shared, strict=True))}

    # -- the pipeline ----------------------------------------------------------------
    def handle(self, message: dict[str, Any] | str | bytes) -> str:
        """``processed``, ``duplicate``, ``ignored`` or ``dead-lettered`` (never raises)."""
        from sagaspec.spec._jsonlimits import JSONLimitError, loads
        from sagaspec.spec.schemas import validate_event

        event = message
        if isinstance(message, (str, bytes, bytearray)):
            try:
                event = loads(message)
            except (JSONLimitError, ValueError) as exc:
                self.dead_letter(message, f"not JSON: {exc}")
                return DEAD_LETTERED
        if not isinstance(event, dict):
            self.dead_letter(message, "not a JSON object")
            return DEAD_LETTERED
        problems = validate_event(event, spec=self.spec)
        if problems:
            self.dead_letter(event, "; ".join(str(p) for p in problems[:3]))
            return DEAD_LETTERED
        if event["eventType"] not in self.subscribes:
            return IGNORED
        return self.process(event)

    def process(self, event: dict[str, Any]) -> str:
        with self.store.transaction() as tx:
            if tx.processed(event["eventId"]):
                return DUPLICATE
            tx.mark_processed(event["eventId"], event["sagaId"])
            self._react(tx, event)
            self.checkpoint("before-commit")
        self.checkpoint("after-commit")
        return PROCESSED

    def _react(self, tx: Tx, event: dict[str, Any]) -> None:
        saga_id = event["sagaId"]
        record, shared = self._load(tx, saga_id)
        record["events"].setdefault(event["eventType"], _payload(event))
        if self._per_key(shared):
            self._react_per_key(tx, event, record, shared)
            return
        state = self._state(record, shared)
        choices = self.model.choices(state, Msg(event["eventType"], 0, "bus"))
        alt, outcome = self._choose(saga_id, choices, record["events"])
        emitted = [self._build(record, event, m.type) for m in outcome.publish]
        for e in emitted:
            record["events"].setdefault(e["eventType"], _payload(e))
            tx.emit(e)
        self._save(tx, saga_id, record, outcome.state)
        self.decisions.append(Decision(alt, outcome.label, emitted))

    # -- keyed variables, per key ----------------------------------------------------
    def _per_key(self, shared: tuple) -> bool:
        """Whether the world gave a keyed variable per key (a real stock per sku)."""
        return any(isinstance(v, dict) for n, v in zip(self.model.shared_names, shared, strict=True)
                   if n in self.keyed)

    def lines(self, events: dict[str, Any]) -> dict[str, dict[str, int]]:
        """The saga's units per key value, by key name, from its lines (quantities of
        one key added up); a key whose lines were not seen yet is absent."""
        out: dict[str, dict[str, int]] = {}
        for k in self.model.keys:
            items = (events.get(k.event) or {}).get(k.field)
            if not isinstance(items, list):
                continue
            units: dict[str, int] = {}
            for item in items:
                if isinstance(item, dict) and k.key in item and isinstance(item.get(k.quantity), int):
                    kv = str(item[k.key])
                    units[kv] = units.get(kv, 0) + int(item[k.quantity])
            out[k.name] = units
        return out

    def _react_per_key(self, tx: Tx, event: dict[str, Any], record: dict[str, Any], shared: tuple) -> None:
        saga_id = event["sagaId"]
        flat, per_key = self._split_keyed(shared)
        slot = self.model._slot(tuple(record["vars"][f] for f in self.model.slot_cls._fields))
        outs = self.model.keyed_choices(slot, flat, event["eventType"], per_key, self.lines(record["events"]))
        fitting = [o for o in outs if o[0] is None or all(self.knob(saga_id, k, record["events"]) == v
                                                          for k, v in o[0].world)] or outs
        alt, label, new_slot, new_flat, new_keyed, emit = fitting[0]
        emitted = [self._build(record, event, t) for t in emit]
        for e in emitted:
            record["events"].setdefault(e["eventType"], _payload(e))
            tx.emit(e)
        merged = tuple(new_keyed[n] if n in self.keyed else v
                       for n, v in zip(self.model.shared_names, new_flat, strict=True))
        self._save(tx, saga_id, record, self.model._join(merged, (new_slot,)))
        self.decisions.append(Decision(alt, label, emitted))

    def _split_keyed(self, shared: tuple) -> tuple[tuple, dict[str, dict[str, int]]]:
        """``(shared with keyed positions at 0, {keyed variable: {key: value}})``."""
        flat, per_key = [], {}
        for n, v in zip(self.model.shared_names, shared, strict=True):
            if n in self.keyed:
                per_key[n] = dict(v) if isinstance(v, dict) else {}
                flat.append(0)
            else:
                flat.append(v)
        return tuple(flat), per_key

    def start(self, saga_id: str, fields: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Start saga ``saga_id`` by this participant's trigger reaction; ``fields`` are
        the trigger event's payload (the rest made as for any emitted event).

        Returns the queued events (none for a saga started before); :class:`UsageError`
        if no trigger is enabled.
        """
        triggers = [r for r in self.part.reactions if r.kind == "trigger"]
        if not triggers:
            raise UsageError(f"{self.name} has no trigger reaction; it cannot start a saga")
        with self.store.transaction() as tx:
            record, shared = self._load(tx, saga_id)
            if "__start__" in record["events"]:
                # Started before (the record is durable): a repeated start, e.g. a client
                # retrying its request, publishes nothing, as a redelivered event does.
                return []
            # What the trigger event will carry is known now: rules and lines may read it.
            events = {**{ev: dict(fields or {}) for r in triggers for a in r.alternatives for ev in a.emit},
                      **record["events"]}
            outs = []
            if self._per_key(shared):
                flat, per_key = self._split_keyed(shared)
                slot0 = self.model._slot(tuple(record["vars"][f] for f in self.model.slot_cls._fields))
                for alt, label, slot, new_flat, new_keyed, emit in self.model.keyed_choices(
                        slot0, flat, None, per_key, self.lines(events)):
                    merged = tuple(new_keyed[n] if n in self.keyed else v
                                   for n, v in zip(self.model.shared_names, new_flat, strict=True))
                    outs.append((alt, label, slot, merged, emit))
            else:
                state = self._state(record, shared)
                for reaction in triggers:
                    for label, slot, new_shared, emit, alt in self.model._run(reaction, state_slot(self.model, state), shared):
                        if alt is not None:
                            outs.append((alt, label, slot, new_shared, emit))
            fitting = [o for o in outs if all(self.knob(saga_id, k, events) == v
                                              for k, v in o[0].world)] or outs
            if not fitting:
                raise UsageError(f"{self.name}: no trigger is enabled for saga {saga_id!r} (already started?)")
            alt, label, slot, new_shared, emit = fitting[0]
            label = label.replace("{saga}", saga_id)
            cause = {"eventId": None, "sagaId": saga_id, "correlationId": (fields or {}).get("correlationId")}
            record["events"]["__start__"] = dict(fields or {})
            emitted = [self._build(record, cause, e, given=fields or {}) for e in emit]
            for e in emitted:
                record["events"].setdefault(e["eventType"], _payload(e))
                tx.emit(e)
            self._save(tx, saga_id, record, self.model._join(new_shared, (slot,)))
            self.decisions.append(Decision(alt, label, emitted))
        return emitted

    #: Publish the outbox in order, then mark it sent: the hand-written services' relay.
    relay = ReferenceService.relay

    # -- payloads --------------------------------------------------------------------
    def _build(self, record, cause: dict[str, Any], event_type: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
        spec_event = self.spec.event(event_type)
        out: dict[str, Any] = {
            "eventId": new_id("evt"),
            "eventType": event_type,
            "schemaVersion": spec_event.version,
            "sagaId": cause["sagaId"],
            "timestamp": now_rfc3339(),
        }
        if cause.get("eventId"):
            out["causationId"] = cause["eventId"]
        if cause.get("correlationId"):
            out["correlationId"] = cause["correlationId"]
        given = given or {}
        for f in self.spec.common:
            if f.name in given:
                out[f.name] = given[f.name]
            elif f.name in cause:
                out[f.name] = cause[f.name]
            else:
                value = self._value(record, cause, f)
                if value is not _MISSING:
                    out[f.name] = value
        for f in spec_event.fields:
            if f.name in given:
                out[f.name] = given[f.name]
                continue
            value = self._value(record, cause, f)
            if value is not _MISSING:
                out[f.name] = value
        return out

    def _value(self, record, cause, f: SpecField) -> Any:
        value = field_value(f, record["events"], new_id=new_id,
                            knob=lambda k: self.knob(cause["sagaId"], k, record["events"]))
        if value is not MISSING:
            return value
        if f.optional:
            return _MISSING
        return example_value(self.spec, f.schema, f.name)

    # -- faults and observation ------------------------------------------------------
    def arm_crash(self, point: str = "before-commit") -> None:
        if point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {point!r}; expected one of {', '.join(CRASH_POINTS)}")
        self._crash_at = point

    def checkpoint(self, point: str) -> None:
        if self._crash_at == point:
            self._crash_at = None
            raise SimulatedCrash(self.name, point)

    def restarted(self) -> SpecService:
        """The same service after a crash: same store, volatile variables lost."""
        with self.store.transaction() as tx:
            tx.put(_BOOT, (tx.get(_BOOT) or 0) + 1)
        again = SpecService(self.spec, self.name, self.store, world=self.world, params=self.params,
                            publisher=self.publisher)
        again._widen(getattr(self, "shared_start", {}))  # the stock the world set up stays
        return again

    def dead_letter(self, message: Any, reason: str) -> None:
        from sagaspec.examples.envelope import message_text

        with self.store.transaction() as tx:
            n = int(tx.get(_DLQ) or 0) + 1
            tx.put(_DLQ, n)
            tx.put(f"dead-letter:{n}", {"reason": reason, "message": message_text(message), "at": now_rfc3339()})
        event_id = message.get("eventId", "-") if isinstance(message, dict) else "-"
        event_type = message.get("eventType", "-") if isinstance(message, dict) else "-"
        log.warning("%s dead-lettered eventId=%s type=%s: %s", self.name, event_id, event_type,
                    " ".join(reason.split())[:300])

    def dead_letter_count(self) -> int:
        with self.store.transaction() as tx:
            return int(tx.get(_DLQ) or 0)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


def check_world_data(spec: SagaSpec, data: Any) -> None:
    """The world's data (``{"declined_users": [...], "decline_over": "50.00"}``) checked
    against the names and kinds the spec's world rules read; :class:`InputError` names the
    entry otherwise."""
    if data is None:
        return
    if not isinstance(data, dict):
        raise InputError('world: data: expected an object {"NAME": VALUE}')
    kinds = spec.world_data
    for name, value in data.items():
        if name not in kinds:
            raise InputError(f"world: data: unknown name {name!r}; the spec's world rules read "
                             f"{', '.join(kinds) or 'none'}")
        if kinds[name] == "list":
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise InputError(f"world: data: {name} must be a list of values, got {value!r}")
        elif value is not None:
            try:
                Decimal(str(value))
            except InvalidOperation:
                raise InputError(f"world: data: {name} must be a decimal limit like '100.00', got {value!r}") from None


def per_key_world(spec: SagaSpec, world: dict[str, Any]) -> dict[str, Any]:
    """A per-key world (``{"stock": {KEY: UNITS}, "declined_users": [...], "decline_over":
    "50.00"}``, the form of :class:`~sagaspec.adapters.base.World`) as the interpreter's:
    ``stock`` starts the spec's keyed variable per key (:class:`InputError` unless it has
    exactly one), every other entry the world rules read is their data. Knob values and
    ``shared`` pass through."""
    out = {k: v for k, v in world.items() if k in ("sagas", "shared") or k in spec.world}
    data = {k: v for k, v in world.items() if k in spec.world_data}
    if data:
        out["data"] = data
    if world.get("stock"):
        keyed = [f"{p.name}.{v.name}" for p in spec.participants for v in p.shared if v.key]
        if len(keyed) != 1:
            raise InputError(f"world: stock: the spec {spec.name!r} has {len(keyed)} keyed variables "
                             f"({', '.join(keyed) or 'none'}); stock per key needs exactly one")
        out["shared"] = {**(out.get("shared") or {}), keyed[0]: {str(k): v for k, v in world["stock"].items()}}
    unknown = sorted(set(world) - set(out) - set(data) - {"stock", "knobs"})
    if unknown:
        raise InputError(f"world: unknown entry {', '.join(unknown)}; the spec {spec.name!r} reads knobs "
                         f"{', '.join(spec.world) or 'none'}, data {', '.join(spec.world_data) or 'none'}, "
                         "stock, shared, sagas")
    return out


def per_key_params(spec: SagaSpec, params: dict[str, Any], starts: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the param a keyed variable starts at (``initial: stock``) set to
    the total of its per-key start in ``starts`` (``{VAR: {KEY: UNITS}}``): what the
    spec's properties compare its total with (``free + sum(held) == stock``)."""
    out = dict(params)
    for p in spec.participants:
        for v in p.shared:
            start = starts.get(v.name)
            text = getattr(v.initial, "text", None)
            if v.key and isinstance(start, dict) and text in {q.name for q in spec.params}:
                out[text] = sum(int(u) for u in start.values())
    return out


def rule_value(spec: SagaSpec, knob: str, data: dict[str, Any], events: dict[str, Any]) -> str | None:
    """:meth:`~sagaspec.spec.sagafile.SagaSpec.knob_by_rules` (kept by this name)."""
    return spec.knob_by_rules(knob, data, events)


_MISSING = _Missing()

_ENVELOPE = frozenset({"eventId", "eventType", "schemaVersion", "sagaId", "timestamp", "causationId", "correlationId"})


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in _ENVELOPE}


def state_slot(model: SpecParticipantModel, state):
    return model._split(state)[1][0]


def spec_services(spec: SagaSpec | str, *, world: dict[str, Any] | None = None,
                  params: dict[str, Any] | None = None) -> dict[str, SpecService]:
    """One :class:`SpecService` per participant of ``spec``, each on its own memory store."""
    loaded = resolve_spec(spec) if isinstance(spec, str) else spec
    return {p.name: SpecService(loaded, p.name, world=world, params=params) for p in loaded.participants}


class _StateView:
    """What a compiled property reads: each participant's local state, as the model has it."""

    def __init__(self, states: dict[str, Any]) -> None:
        self._states = states

    def __getitem__(self, name: str) -> Any:
        return self._states[name]


def property_verdicts(services: dict[str, SpecService], saga_ids: list[str], *,
                      kinds: tuple[str, ...] = ("always", "at-rest")) -> dict[str, bool]:
    """The spec's properties of ``kinds`` evaluated on the services' current state.

    The services' variables for ``saga_ids`` are laid out as the model's global state
    (saga ``i`` is ``saga_ids[i]``), and each property is the one the checker uses.
    ``at-rest`` properties mean something only once the system is quiet (nothing in
    flight); ``always`` ones at any moment.
    """
    from sagaspec.model.compile import spec_system

    first = next(iter(services.values()))
    spec = first.spec
    # The params the services run with (resolved once, when they were made), not the
    # defaults for this many sagas: a stock level is what the services started from.
    params = {k: v for k, v in first.model.params.items() if k != "sagas"}
    for svc in services.values():  # a keyed variable started per key: its param is the total
        params = per_key_params(spec, params, getattr(svc, "shared_start", {}))
    import dataclasses

    # A stock above a param's bound (a total per key) is what the services run with.
    widened = tuple(dataclasses.replace(p, high=params[p.name])
                    if isinstance(params.get(p.name), int) and isinstance(p.high, int) and params[p.name] > p.high
                    else p for p in spec.params)
    roomy = dataclasses.replace(spec, bounds={**spec.bounds, "max_sagas": max(len(saga_ids), spec.max_sagas)},
                                params=widened)
    system = spec_system(roomy, len(saga_ids), params=params)
    states = {}
    for part in system.participants:
        svc = services[part.name]
        slots = []
        shared = None
        for saga_id in saga_ids:
            with svc.store.transaction() as tx:
                record, shared = svc._load(tx, saga_id)
            slots.append(part._slot(tuple(record["vars"][f] for f in part.slot_cls._fields)))
        # A property reads a keyed variable held per key as its total over the keys.
        shared = tuple(sum(v.values()) if isinstance(v, dict) else v for v in shared or ())
        states[part.name] = part._join(shared, tuple(slots))
    view = _StateView(states)
    return {p.name: bool(p.pred(view)) for p in system.properties if p.kind in kinds}


class ReplayMismatch(InputError):
    """A checker trace and the services disagree (names the step and the variables)."""


def replay_path(spec: SagaSpec | str, path, *, params: dict[str, Any] | None = None) -> dict[str, SpecService]:
    """Drive fresh services of ``spec`` through a checker trace, step by step.

    Each step of ``path`` (a :class:`~sagaspec.model.path.Path` found on the same spec,
    sagas ``i`` named ``saga-i``) becomes what a real system would see: a trigger, the
    delivery of the real event the model's message stands for (a duplicate is the same
    event again), or a crash and restart. The world is set before each step to the
    decision the model took there (read from the spec alternative, never a label).
    After every step each participant's variables must equal the model's for every saga,
    else :class:`ReplayMismatch` names the step. Returns the services at the end.

    Outbox-less crashes (``crash-before-publish``) are outside what these services do
    (they always publish through the outbox) and are refused.
    """
    loaded = resolve_spec(spec) if isinstance(spec, str) else spec
    system = path.system
    sagas = system.sagas
    resolved = dict(next(iter(system.participants)).params) if hasattr(next(iter(system.participants)), "params") else {}
    resolved.pop("sagas", None)
    resolved.update(params or {})
    services = {p.name: SpecService(loaded, p.name, params=resolved) for p in loaded.participants}
    models = {p.name: p for p in system.participants}
    world: dict[str, dict[str, str]] = {}
    sent: dict[tuple[str, int, str], dict[str, Any]] = {}

    def relay_from(name: str) -> None:
        def publish(e: dict[str, Any]) -> None:
            sent[(e["eventType"], int(e["sagaId"].rpartition("-")[2]), name)] = e

        services[name].relay(publish)

    for k, step in enumerate(path.steps, 1):
        action = step.action
        before = path.snapshot(k - 1)
        name = action.participant
        model = models[name]
        if action.kind == "crash-before-publish":
            raise ReplayMismatch(f"step {k}: a crash between commit and publish needs services without an outbox")
        if action.kind == "crash":
            services[name] = services[name].restarted()
        elif action.kind == "internal":
            i = step.published[0].saga if step.published else _changed_saga(model, before[name], step.state[name])
            alt = _taken(model, before[name], step.state[name], None, i)
            _set_world(world, i, alt)
            services[name].configure({"sagas": world} if world else {})
            services[name].start(f"saga-{i}")
        else:
            msg = action.msg
            event = sent.get((msg.type, msg.saga, msg.src))
            if event is None:
                raise ReplayMismatch(f"step {k}: the services never published {msg.type} of saga {msg.saga} from {msg.src}")
            alt = _taken(model, before[name], step.state[name], msg, msg.saga)
            _set_world(world, msg.saga, alt)
            services[name].configure({"sagas": world} if world else {})
            if action.kind == "crash-in-handler":
                services[name].arm_crash("after-commit")
                try:
                    services[name].handle(event)
                except SimulatedCrash:
                    pass
                relay_from(name)
                services[name] = services[name].restarted()
            else:
                services[name].handle(event)
        relay_from(name)
        for pname, svc in services.items():
            _, slots = models[pname]._split(step.state[pname])
            for i in range(sagas):
                want = dict(zip(models[pname].slot_cls._fields, slots[i], strict=True))
                got = {f: v for f, v in svc.variables(f"saga-{i}").items() if f in want}
                if got != want:
                    raise ReplayMismatch(
                        f"step {k} ({action}): {pname} of saga {i} has {got}, the model has {want}"
                    )
    return services


def _changed_saga(model, before, after) -> int:
    _, a = model._split(before)
    _, b = model._split(after)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            return i
    return 0


def _taken(model, before, after, msg: Msg | None, i: int) -> Alternative | None:
    """The spec alternative whose outcome is the model's next local state."""
    if msg is not None:
        for alt, out in model.choices(before, msg):
            if out.state == after:
                return alt
        return None
    shared, slots = model._split(before)
    for reaction in model.triggers:
        for _label, slot, new_shared, _emit, alt in model._run(reaction, slots[i], shared):
            if alt is not None and model._join(new_shared, (*slots[:i], slot, *slots[i + 1:])) == after:
                return alt
    return None


def _set_world(world: dict[str, dict[str, str]], i: int, alt: Alternative | None) -> None:
    if alt is not None and alt.world:
        world.setdefault(f"saga-{i}", {}).update(dict(alt.world))
