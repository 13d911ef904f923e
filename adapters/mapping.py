"""Declarative vocabulary mapping: test a service that does not speak sagaspec's events.

Real services rarely publish ``TripRequested`` with ``tripId``; they publish
``trip.requested`` with ``trip_ref``, amounts as numbers, no ``sagaId``, and often put
the type in the routing key instead of the body. A :class:`Mapping` translates both ways
and :class:`MappedAdapter` wraps any adapter with it: our events are translated to their
vocabulary on ``deliver`` / ``place_order`` and theirs back to ours on ``collect``, so the
conformance suite runs unchanged. A schema-invalid event is delivered only if its
translation is still invalid when read back: an invalidity their vocabulary cannot
express (a field they do not have, a number where we want a string) is not delivered at
all (counted in ``unrepresentable``), since its translation would be a *valid* message to
them. A message that cannot be translated (unknown type, no type, a value that does not
convert, not a JSON object, no saga to put it in) is collected as a
:class:`~sagaspec.adapters.base.RawMessage` whose ``reason`` says why; nothing is dropped
silently (``ignore_types`` drops named types on purpose and counts them).

The format (a Python dict, or the same as a JSON or TOML file)::

    type_from = "body"             # where their type is: body (a field), route (the routing
                                   # key / subject / stream entry's route), header
    type_field = "type"            # the body field or header holding it (ours: eventType)
    ignore_types = ["audit.logged"]  # their types to drop on purpose (counted)
    ignore_fields = ["trace"]      # their fields to drop on collect (every type)
    correlate = ["trip_ref", "booking_no", "cause=id"]
                                   # their fields whose value names one saga: what we
                                   # deliver and what they publish teaches it, so an event
                                   # with only their own new id finds its saga; cause=id:
                                   # their cause holds the id of a message we delivered

    [envelope]                     # every event: our field = their field, or false if absent
    eventId = "id"
    sagaId = false                 # not on their wire: found by correlation, or derived
    timestamp = "occurred_at"
    causationId = "caused_by"

    [convert]                      # every event: our field = converter
    timestamp = "epoch-ms"

    [derive]                       # on collect, for our fields still missing
    sagaId = "saga-{tripId}"       # template over our (already mapped) fields
    schemaVersion = 1
    eventId = "evt-{sha1}"         # {sha1}: hash of their type and message (a copy of a
                                   # message translates to the same event, eventId included)

    [carry]                        # on collect, our fields they leave out: the value of an
    tripId = "tripId"              # earlier event of the same saga (FIELD: the latest that
                                   # has it; EVENT.FIELD: that event's)

    [world.payment]                # a world knob, as they are told it: their field added
    field = "card"                 # to every message of the saga, by the knob's value
    values = { approve = "4242", decline = "0002" }

    [events.TripRequested]
    type = "trip.requested"        # their type; also the routing key / subject it goes to,
    route = "trips.requested"      # unless route names another
    fields = { travellerId = "customer", legs = "segments", "legs[].from" = "origin" }
    convert = { price = "money-number" }
    single = { legs = "segment" }  # our list of exactly one element <-> their one object
    carry = { price = "FlightBooked.price" }
    extra = { source = "web" }     # their fields added on deliver (constants)
    derive = { currency = "USD" }  # our fields derived on collect, this type only

An event type of ours not listed under ``[events]`` keeps its name (only the envelope
and the top-level tables apply to it). Field paths name *our* fields; ``a[].b`` is key
``b`` inside each element of list ``a``; the value on the right is the key's name in
their vocabulary (renamed in place, so ``legs = "segments"`` plus ``"legs[].from" =
"origin"`` gives ``segments[].origin``). Converters: ``money-number`` (``"100.00"`` <->
``100.0``), ``money-cents`` (<-> ``10000``), ``epoch-ms`` and ``epoch-s`` (RFC 3339 <->
Unix time), ``string`` (any <-> text).

>>> m = Mapping.from_dict({"type_field": "type", "correlate": ["trip_ref"],
...     "envelope": {"sagaId": "trip_ref"}, "events": {"TripCancelled": {"type": "trip.cancelled"}}})
>>> theirs = m.to_theirs({"eventType": "TripCancelled", "sagaId": "s1", "reason": "r"})
>>> theirs
{'reason': 'r', 'trip_ref': 's1', 'type': 'trip.cancelled'}
>>> m.to_ours(theirs)
{'reason': 'r', 'sagaId': 's1', 'eventType': 'TripCancelled'}
>>> m.to_ours({"type": "trip.booked", "trip_ref": "s1"}).reason
"unmapped event type 'trip.booked' (map it under [events] or list it in ignore_types)"
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sagaspec.adapters.base import Adapter, RawMessage, World

from sagaspec.errors import AdapterError, InputError

__all__ = ["Mapping", "MappedAdapter", "MappingFailure", "Correlation", "load_mapping", "CONVERTERS"]


class MappingFailure(ValueError):
    """One message could not be translated (becomes a RawMessage reason)."""


# -- converters: (ours -> theirs, theirs -> ours) -----------------------------------------
def _money_to_number(v: Any) -> Any:
    return float(Decimal(v)) if isinstance(v, str) else v


def _number_to_money(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise MappingFailure(f"expected a number, got {type(v).__name__}")
    try:
        return f"{Decimal(str(v)).quantize(Decimal('0.01')):.2f}"
    except InvalidOperation:
        raise MappingFailure(f"{v!r} is not a number") from None


def _money_to_cents(v: Any) -> Any:
    return int((Decimal(v) * 100).to_integral_value()) if isinstance(v, str) else v


def _cents_to_money(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int):
        raise MappingFailure(f"expected integer cents, got {v!r}")
    return f"{Decimal(v) / 100:.2f}"


def _rfc3339_to_epoch(scale: int) -> Callable[[Any], Any]:
    def conv(v: Any) -> Any:
        if not isinstance(v, str):
            return v
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return v  # let their service judge a bad timestamp
        return int(t.timestamp() * scale)
    return conv


def _epoch_to_rfc3339(scale: int) -> Callable[[Any], Any]:
    def conv(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise MappingFailure(f"expected a Unix time, got {v!r}")
        try:
            t = datetime.fromtimestamp(v / scale, UTC)
        except (OverflowError, OSError, ValueError):
            raise MappingFailure(f"{v!r} is not a valid Unix time") from None
        return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return conv


def _to_string(v: Any) -> Any:
    return v if isinstance(v, str) else json.dumps(v)


CONVERTERS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "money-number": (_money_to_number, _number_to_money),
    "money-cents": (_money_to_cents, _cents_to_money),
    "epoch-ms": (_rfc3339_to_epoch(1000), _epoch_to_rfc3339(1000)),
    "epoch-s": (_rfc3339_to_epoch(1), _epoch_to_rfc3339(1)),
    "string": (_to_string, _to_string),
}

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\[\])?(\.[A-Za-z_][A-Za-z0-9_\-]*(\[\])?)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CARRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_\-]*$")
_TYPE_FROM = ("body", "route", "header")


def _containers(obj: Any, segments: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Every dict reached by following ``segments`` (``name[]`` walks list elements)."""
    if not segments:
        if isinstance(obj, dict):
            yield obj
        return
    if not isinstance(obj, dict):
        return
    head, rest = segments[0], segments[1:]
    if head.endswith("[]"):
        value = obj.get(head[:-2])
        if isinstance(value, list):
            for element in value:
                yield from _containers(element, rest)
    else:
        yield from _containers(obj.get(head), rest)


def _split(path: str) -> tuple[tuple[str, ...], str]:
    parts = path.split(".")
    return tuple(parts[:-1]), parts[-1]


@dataclass
class _EventRules:
    ours: str
    theirs: str
    route: str = ""
    renames: dict[str, str | bool] = field(default_factory=dict)  # our path -> their key | False
    convert: dict[str, str] = field(default_factory=dict)
    derive: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    carry: dict[str, str] = field(default_factory=dict)
    single: dict[str, str] = field(default_factory=dict)  # our list field -> their object key
    ignore: tuple[str, ...] = ()


class Correlation:
    """What one run learned about its sagas, for :meth:`Mapping.to_ours`.

    ``sagas`` maps (their correlation field, value) to our ``sagaId``: taught by what we
    deliver and by every message they publish that found its saga, so an event that
    carries only an id the service made up (its own order or charge number) still finds
    its saga. ``history`` keeps each saga's latest event of each type (ours), where
    ``[carry]`` takes values from. ``derived`` keeps what was derived for each message
    (by its hash): a copy of a message translates to the same event, eventId included.
    """

    def __init__(self) -> None:
        self.sagas: dict[tuple[str, str], str] = {}
        self.history: dict[str, dict[str, dict[str, Any]]] = {}
        self.derived: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        self.sagas.clear()
        self.history.clear()
        self.derived.clear()


class Mapping:
    """A bidirectional vocabulary mapping (see the module docstring for the format)."""

    def __init__(self, config: dict[str, Any], *, origin: str = "mapping", spec: Any = None,
                 text: str | None = None) -> None:
        self.origin = origin
        self.config = copy.deepcopy(config)
        #: The saga spec whose events this maps (None: event names are not checked).
        self.spec = spec
        self._text = text
        self.event_types: tuple[str, ...] | None = tuple(spec.event_names) if spec is not None else None
        self._parse(self.config)
        if spec is not None:
            self._check_fields(spec)
        #: The event a saga's trigger publishes (what ``start_to_theirs`` translates as).
        self.trigger_type: str | None = next(
            (e.name for e in spec.events if e.role == "trigger"), None) if spec is not None else None

    # -- loading and validation --------------------------------------------------------
    @classmethod
    def from_dict(cls, config: dict[str, Any], origin: str = "mapping", spec: Any = None) -> Mapping:
        return cls(config, origin=origin, spec=spec)

    def _err(self, where: str, what: str) -> InputError:
        line = self._line_of(where)
        at = f"{self.origin}:{line}" if line else self.origin
        return InputError(f"{at}: {where}: {what}")

    def _line_of(self, where: str) -> int | None:
        """The line of the mapping file that ``where`` (a dotted key path) is written on."""
        if not self._text:
            return None
        parts = where.split(".", 3)
        if parts[0] == "events" and len(parts) == 2:
            last = parts[1]
        elif parts[0] == "events" and len(parts) == 4:
            last = parts[3]  # a field path such as items[].sku
        elif parts[0] in ("envelope", "convert", "derive", "extra", "carry", "world") and len(parts) >= 2:
            last = where.split(".", 1)[1]
        else:
            last = where.rsplit(".", 1)[-1]
        for n, line in enumerate(self._text.splitlines(), 1):
            bare = line.strip()
            if bare.startswith("#"):
                continue
            if f"[{where}]" in bare or f'"{last}"' in bare or re.search(rf"(^|[\s{{,]){re.escape(last)}\s*=", bare):
                return n
        return None

    def _check_fields(self, spec: Any) -> None:
        """Every field path names a field of the spec's event (or of the envelope), every
        carried value an event and field of the spec, every world knob one of the spec's."""
        from sagaspec.spec.specschemas import ENVELOPE

        envelope = {row[0] for row in ENVELOPE} | {f.name for f in spec.common}
        for name in self.envelope:
            if name not in envelope:
                raise self._err(f"envelope.{name}", f"not an envelope field of {spec.name}; expected one of "
                                                    f"{', '.join(sorted(envelope))}")
        for name, source in self.carry.items():
            if name not in envelope:
                raise self._err(f"carry.{name}", f"not an envelope field of {spec.name}; carry a field of one "
                                                 "event under [events.NAME] carry")
            self._check_source(spec, f"carry.{name}", source, name)
        for rules in self.rules.values():
            event = spec.event(rules.ours)
            fields = {f.name: f.schema for f in (*spec.common, *event.fields)}
            for table, paths in (("fields", rules.renames), ("convert", rules.convert), ("derive", rules.derive),
                                 ("carry", rules.carry), ("single", rules.single)):
                for path in paths:
                    problem = _field_problem(spec, fields, envelope, path)
                    if problem:
                        raise self._err(f"events.{rules.ours}.{table}.{path}", problem)
            for name, source in rules.carry.items():
                self._check_source(spec, f"events.{rules.ours}.carry.{name}", source, name)
        for knob, rule in self.world.items():
            if knob not in spec.world:
                raise self._err(f"world.{knob}", f"no world knob {knob!r} in {spec.name}; expected one of "
                                                 f"{', '.join(spec.world) or 'none'}")
            missing = [v for v in spec.world[knob] if v not in rule["values"]]
            if missing:
                raise self._err(f"world.{knob}", f"no value of theirs for {missing[0]!r}; expected one for "
                                                 f"each of {', '.join(spec.world[knob])}")

    def _check_source(self, spec: Any, where: str, source: str, name: str) -> None:
        event, _, fname = source.rpartition(".")
        if not event:
            return
        if event not in spec.event_names:
            raise self._err(where, f"unknown event {event!r} in {source!r}; expected one of "
                                   f"{', '.join(spec.event_names)}")
        fields = {f.name for f in (*spec.common, *spec.event(event).fields)} | {"eventId", "sagaId", "timestamp"}
        if fname not in fields:
            raise self._err(where, f"{event} has no field {fname!r}; expected one of {', '.join(sorted(fields))}")

    def _parse(self, c: dict[str, Any]) -> None:
        if not isinstance(c, dict):
            raise self._err("(root)", "expected a table / JSON object")
        known = {"name", "type_from", "type_field", "ignore_types", "ignore_fields", "correlate", "envelope",
                 "convert", "derive", "extra", "carry", "world", "events",
                 "system"}  # [system]: driving a whole system (adapters/spec_system.py checks it)
        unknown = sorted(set(c) - known)
        if unknown:
            raise self._err(unknown[0], f"unknown key; expected one of {', '.join(sorted(known))}")
        self.name = str(c.get("name") or self.origin)
        self.type_from = c.get("type_from", "body")
        if self.type_from not in _TYPE_FROM:
            raise self._err("type_from", f"expected one of {', '.join(_TYPE_FROM)}")
        self.type_field = c.get("type_field", "eventType")
        if not isinstance(self.type_field, str) or not self.type_field:
            raise self._err("type_field", "expected a field name")
        self.ignore_types = self._str_list(c, "ignore_types")
        self.ignore_fields = self._str_list(c, "ignore_fields")
        self.correlate = self._str_list(c, "correlate")
        #: (their field, the field whose values it holds): ``cause=msg_id`` finds a saga by
        #: the id of a message we delivered; a plain name holds its own values.
        self._correlate: list[tuple[str, str]] = []
        for item in self.correlate:
            field_, _, key = item.partition("=")
            if not _NAME.match(field_) or (key and not _NAME.match(key)):
                raise self._err("correlate", f"{item!r} is not a top-level field name of theirs "
                                             "(or FIELD=FIELD: a field holding another's values)")
            self._correlate.append((field_, key or field_))
        self.envelope = self._renames(c.get("envelope", {}), "envelope")
        self.convert = self._converters(c.get("convert", {}), "convert")
        self.derive = self._table(c.get("derive", {}), "derive")
        self.extra = self._table(c.get("extra", {}), "extra")
        self.carry = self._carry(c.get("carry", {}), "carry")
        self.world = self._world(c.get("world", {}))
        events = self._table(c.get("events", {}), "events")
        self.rules: dict[str, _EventRules] = {}
        self.by_theirs: dict[str, _EventRules] = {}
        for ours, spec in events.items():
            where = f"events.{ours}"
            if self.event_types is not None and ours not in self.event_types:
                raise self._err(where, f"unknown event type {ours!r}; expected one of {', '.join(self.event_types)}")
            spec = self._table(spec, where)
            keys = {"type", "route", "fields", "convert", "derive", "extra", "carry", "single", "ignore_fields"}
            bad = sorted(set(spec) - keys)
            if bad:
                raise self._err(f"{where}.{bad[0]}", f"unknown key; expected {', '.join(sorted(keys))}")
            theirs = spec.get("type", ours)
            if not isinstance(theirs, str) or not theirs:
                raise self._err(f"{where}.type", "expected their type name")
            route = spec.get("route", theirs)
            if not isinstance(route, str) or not route:
                raise self._err(f"{where}.route", "expected their routing key / subject")
            if theirs in self.by_theirs:
                raise self._err(f"{where}.type", f"{theirs!r} is already the type of "
                                                 f"{self.by_theirs[theirs].ours}; the mapping must be one to one")
            single = self._table(spec.get("single", {}), f"{where}.single")
            for ours_list, key in single.items():
                if not _NAME.match(ours_list) or not isinstance(key, str) or not _NAME.match(key):
                    raise self._err(f"{where}.single.{ours_list}", "expected our list field = their key for its one element")
            rules = _EventRules(
                ours=ours,
                theirs=theirs,
                route=route,
                renames=self._renames(spec.get("fields", {}), f"{where}.fields"),
                convert=self._converters(spec.get("convert", {}), f"{where}.convert"),
                derive=self._table(spec.get("derive", {}), f"{where}.derive"),
                extra=self._table(spec.get("extra", {}), f"{where}.extra"),
                carry=self._carry(spec.get("carry", {}), f"{where}.carry"),
                single=dict(single),
                ignore=self._str_list(spec, "ignore_fields", where),
            )
            self.rules[ours] = rules
            self.by_theirs[theirs] = rules
        for t in self.ignore_types:
            if t in self.by_theirs:
                raise self._err("ignore_types", f"{t!r} is also mapped to {self.by_theirs[t].ours}")
        for name, template in self.derive.items():
            self._check_template(template, f"derive.{name}")
        for rules in self.rules.values():
            for name, template in rules.derive.items():
                self._check_template(template, f"events.{rules.ours}.derive.{name}")

    def _table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._err(where, "expected a table / JSON object")
        return value

    def _str_list(self, c: dict[str, Any], key: str, where: str = "") -> tuple[str, ...]:
        value = c.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._err(f"{where + '.' if where else ''}{key}", "expected a list of strings")
        return tuple(value)

    def _renames(self, value: Any, where: str) -> dict[str, str | bool]:
        table = self._table(value, where)
        out: dict[str, str | bool] = {}
        for path, new in table.items():
            if not _PATH.match(path):
                raise self._err(f"{where}.{path}", "invalid field path; expected name, a.b or a[].b")
            if new is not False and (not isinstance(new, str) or not new or "." in new):
                raise self._err(f"{where}.{path}", "expected their field name (no dots) or false")
            out[path] = new
        return out

    def _carry(self, value: Any, where: str) -> dict[str, str]:
        table = self._table(value, where)
        for name, source in table.items():
            if not _NAME.match(name):
                raise self._err(f"{where}.{name}", "expected one of our top-level field names")
            if not isinstance(source, str) or not _CARRY.match(source):
                raise self._err(f"{where}.{name}", "expected FIELD or EVENT.FIELD (where an earlier event "
                                                   "of the saga has the value)")
        return dict(table)

    def _world(self, value: Any) -> dict[str, dict[str, Any]]:
        table = self._table(value, "world")
        out: dict[str, dict[str, Any]] = {}
        for knob, rule in table.items():
            rule = self._table(rule, f"world.{knob}")
            if set(rule) != {"field", "values"} or not isinstance(rule["field"], str) \
                    or not _NAME.match(rule["field"]) or not isinstance(rule["values"], dict):
                raise self._err(f"world.{knob}", "expected field = their field name and values = "
                                                 "{ our value = their value, ... }")
            out[knob] = {"field": rule["field"], "values": dict(rule["values"])}
        return out

    def _converters(self, value: Any, where: str) -> dict[str, str]:
        table = self._table(value, where)
        for path, conv in table.items():
            if conv not in CONVERTERS:
                raise self._err(f"{where}.{path}", f"unknown converter {conv!r}; expected one of "
                                                   f"{', '.join(CONVERTERS)}")
        return dict(table)

    def _check_template(self, template: Any, where: str) -> None:
        if not isinstance(template, str):
            return
        try:
            names = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
        except ValueError as exc:
            raise self._err(where, f"invalid template {template!r}: {exc}") from None
        for n in names:
            if not n or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", n):
                raise self._err(where, f"invalid placeholder {{{n}}} in {template!r}")

    # -- where their type and route are ------------------------------------------------
    def route_of(self, event: dict[str, Any]) -> str:
        """The routing key / subject our ``event`` goes to in their vocabulary."""
        our_type = event.get("eventType") if isinstance(event, dict) else None
        rules = self.rules.get(our_type) if isinstance(our_type, str) else None
        if rules is not None:
            return rules.route
        return our_type if isinstance(our_type, str) and our_type else "unknown"

    def headers_of(self, event: dict[str, Any]) -> dict[str, str]:
        """Their headers for our ``event`` (the type, when they keep it in a header)."""
        if self.type_from != "header":
            return {}
        our_type = event.get("eventType") if isinstance(event, dict) else None
        rules = self.rules.get(our_type) if isinstance(our_type, str) else None
        kind = rules.theirs if rules else our_type
        return {self.type_field: kind} if isinstance(kind, str) else {}

    def _type_of(self, message: dict[str, Any], route: str | None,
                 headers: dict[str, str] | None) -> tuple[Any, str | None]:
        """Their type of a received message, and why there is none."""
        if self.type_from == "route":
            if not route:
                return None, "no routing key / subject to tell the event type"
            for rules in self.rules.values():
                if rules.route == route:
                    return rules.theirs, None
            return route, None
        if self.type_from == "header":
            lowered = {k.lower(): v for k, v in (headers or {}).items()}
            kind = lowered.get(self.type_field.lower())
            return kind, None if kind is not None else f"no {self.type_field!r} header to tell the event type"
        if self.type_field not in message:
            return None, f"no {self.type_field!r} field to tell the event type"
        return message[self.type_field], None

    # -- the two directions -----------------------------------------------------------
    def _all_renames(self, rules: _EventRules | None) -> dict[str, str | bool]:
        merged = dict(self.envelope)
        if rules is not None:
            merged.update(rules.renames)
        return merged

    def _their_container(self, container: tuple[str, ...], renames: dict[str, str | bool]) -> tuple[str, ...]:
        """The container path in their vocabulary (each prefix renamed as configured)."""
        out: list[str] = []
        ours: list[str] = []
        for seg in container:
            is_list = seg.endswith("[]")
            key = seg[:-2] if is_list else seg
            ours_path = ".".join([*ours, key])
            new = renames.get(ours_path)
            theirs = new if isinstance(new, str) else key
            out.append(theirs + ("[]" if is_list else ""))
            ours.append(seg)
        return tuple(out)

    def _their_key(self, path: str, renames: dict[str, str | bool]) -> str:
        new = renames.get(path)
        return new if isinstance(new, str) else path

    def to_theirs(self, event: dict[str, Any], *, event_type: str | None = None,
                  world: dict[str, str] | None = None) -> dict[str, Any]:
        """Our event (or a trigger's fields, with ``event_type``) in their vocabulary, best
        effort; ``world`` is the saga's world knobs, added as ``[world]`` says.

        Unknown types and fields pass through unchanged: an invalid event must reach their
        service as invalid as it was. A list that ``single`` maps to one object but does
        not hold exactly one element raises :class:`MappingFailure` (they cannot say it).
        """
        msg = copy.deepcopy(event)
        our_type = event_type or msg.get("eventType")
        rules = self.rules.get(our_type) if isinstance(our_type, str) else None
        renames = self._all_renames(rules)
        converters = {**self.convert, **(rules.convert if rules else {})}
        for path, conv in converters.items():
            container, key = _split(path)
            to_theirs, _ = CONVERTERS[conv]
            for c in _containers(msg, container):
                if key in c:
                    try:
                        c[key] = to_theirs(c[key])
                    except (ValueError, ArithmeticError, TypeError):
                        pass  # malformed on purpose (a negative test): send it as it is
        # Deepest paths first, so containers still have our names while we walk them.
        for path in sorted(renames, key=lambda p: p.count("."), reverse=True):
            container, key = _split(path)
            new = renames[path]
            if path == "eventType":
                continue
            for c in _containers(msg, container):
                if key in c:
                    if new is False:
                        del c[key]
                    else:
                        c[new] = c.pop(key)
        for ours_list, key in (rules.single if rules else {}).items():
            name = self._their_key(ours_list, renames)
            if isinstance(msg.get(name), list):
                items = msg.pop(name)
                if len(items) != 1:
                    raise MappingFailure(f"{our_type}.{ours_list} has {len(items)} elements; their "
                                         f"{key!r} holds exactly one")
                msg[key] = items[0]
        if event_type is None and "eventType" in msg:
            t = msg.pop("eventType")
            if self.type_from == "body":
                msg[self.type_field] = rules.theirs if rules else t
        for k, v in {**self.extra, **(rules.extra if rules else {})}.items():
            msg.setdefault(k, v)
        for knob, rule in self.world.items():
            value = (world or {}).get(knob)
            if value in rule["values"]:
                msg.setdefault(rule["field"], rule["values"][value])
        return msg

    def translate(self, message: Any, *, state: Correlation | None = None, route: str | None = None,
                  headers: dict[str, str] | None = None) -> dict[str, Any] | RawMessage | None:
        """:meth:`to_ours`, or ``None`` for a message of ``ignore_types`` (dropped on purpose)."""
        if isinstance(message, dict):
            kind, _ = self._type_of(message, route, headers)
            if isinstance(kind, str) and kind in self.ignore_types:
                return None
        return self.to_ours(message, state=state, route=route, headers=headers)

    def to_ours(self, message: Any, *, state: Correlation | None = None, route: str | None = None,
                headers: dict[str, str] | None = None) -> dict[str, Any] | RawMessage:
        """Their message in our vocabulary, or a :class:`RawMessage` saying why not.

        ``route`` and ``headers`` are where the broker delivered it (for ``type_from``);
        ``state`` is the run's :class:`Correlation` (sagas found, values carried, learned).
        """
        raw = json.dumps(message, sort_keys=True, default=repr).encode()
        if not isinstance(message, dict):
            return RawMessage(raw, self.name, f"not a JSON object but {type(message).__name__}")
        kind, why = self._type_of(message, route, headers)
        if why is not None:
            return RawMessage(raw, self.name, why)
        if not isinstance(kind, str):
            return RawMessage(raw, self.name, f"{self.type_field!r} is not a string: {kind!r}")
        rules = self.by_theirs.get(kind)
        if rules is None and self.event_types is not None and kind in self.event_types and kind not in self.rules:
            rules = _EventRules(ours=kind, theirs=kind)  # a type they kept our name for
        if rules is None:
            return RawMessage(raw, self.name,
                              f"unmapped event type {kind!r} (map it under [events] or list it in ignore_types)")
        msg = copy.deepcopy(message)
        if self.type_from == "body":
            del msg[self.type_field]
        for name in (*self.ignore_fields, *rules.ignore):
            msg.pop(name, None)
        renames = self._all_renames(rules)
        for ours_list, key in rules.single.items():
            if key in msg:
                msg[self._their_key(ours_list, renames)] = [msg.pop(key)]
        # Deepest first, walking their container names.
        for path in sorted(renames, key=lambda p: p.count("."), reverse=True):
            new = renames[path]
            if new is False or path == "eventType":
                continue
            container, key = _split(path)
            for c in _containers(msg, self._their_container(container, renames)):
                if new in c:
                    c[key] = c.pop(new)
        msg["eventType"] = rules.ours
        converters = {**self.convert, **rules.convert}
        for path, conv in converters.items():
            container, key = _split(path)
            _, to_ours = CONVERTERS[conv]
            for c in _containers(msg, container):
                if key in c:
                    try:
                        c[key] = to_ours(c[key])
                    except MappingFailure as exc:
                        return RawMessage(raw, self.name, f"{kind}: field {path}: {exc}")
        if state is not None and "sagaId" not in msg:
            found = self._find_saga(message, state)
            if found is not None:
                msg["sagaId"] = found
        if state is not None and isinstance(msg.get("sagaId"), str):
            seen = state.history.get(msg["sagaId"], {})
            for name, source in {**self.carry, **rules.carry}.items():
                if name not in msg:
                    value = _carried(seen, source)
                    if value is not _NONE:
                        msg[name] = value
        digest = hashlib.sha1(kind.encode() + b"\x00" + raw).hexdigest()
        memo = state.derived.setdefault(digest, {}) if state is not None else {}
        for name, template in {**self.derive, **rules.derive}.items():
            if name in msg:
                continue
            if name in memo:
                msg[name] = memo[name]
                continue
            try:
                msg[name] = memo[name] = self._render(template, msg, digest)
            except KeyError as exc:
                return RawMessage(raw, self.name, f"{kind}: cannot derive {name}: "
                                                  f"no field {exc.args[0]!r} to fill {template!r}")
        if state is not None:
            self.note(msg, message, state)
        return msg

    def _find_saga(self, theirs: dict[str, Any], state: Correlation) -> str | None:
        for name, key in self._correlate:
            value = theirs.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                found = state.sagas.get((key, str(value)))
                if found is not None:
                    return found
        return None

    def note(self, ours: dict[str, Any], theirs: dict[str, Any] | None, state: Correlation) -> None:
        """Remember ``ours`` (a valid event of a saga) and what its correlation fields say."""
        saga = ours.get("sagaId")
        if not isinstance(saga, str):
            return
        if isinstance(ours.get("eventType"), str):
            state.history.setdefault(saga, {})[ours["eventType"]] = ours
            state.history[saga]["*"] = {**state.history[saga].get("*", {}), **ours}
        for name in {n for pair in self._correlate for n in pair} if isinstance(theirs, dict) else ():
            value = theirs.get(name)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
                state.sagas.setdefault((name, str(value)), saga)

    @staticmethod
    def _render(template: Any, msg: dict[str, Any], digest: str) -> Any:
        if not isinstance(template, str):
            return template
        values = {k: v for k, v in msg.items() if isinstance(v, (str, int, float))}
        values.setdefault("sha1", digest)
        values.setdefault("uuid", uuid.uuid4().hex)
        values.setdefault("now", datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        return template.format_map(_Strict(values))

    def start_to_theirs(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A saga's start (the trigger event's fields) in their vocabulary."""
        return self.to_theirs(fields, event_type=self.trigger_type or "")


_NONE = object()


def _carried(seen: dict[str, dict[str, Any]], source: str) -> Any:
    event, _, name = source.rpartition(".")
    where = seen.get(event or "*") or {}
    return where.get(name, _NONE)


class _Strict(dict):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def _field_problem(spec: Any, fields: dict[str, Any], envelope: set[str], path: str) -> str | None:
    """Why ``path`` (``a``, ``a[].b``) names no field of the event, or None."""
    head, *rest = path.split("[].")
    if head not in fields and head not in envelope:
        return f"no field {head!r} in this event; expected one of {', '.join(sorted(set(fields) | envelope))}"
    schema = fields.get(head, {})
    for key in rest:
        items = _resolve(spec, schema).get("items", {})
        props = _resolve(spec, items).get("properties", {})
        if key not in props:
            return f"no field {key!r} in the items of {head!r}; expected one of {', '.join(sorted(props)) or 'none'}"
        schema = props[key]
    return None


def _resolve(spec: Any, schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/types/"):
        return {**spec.types.get(schema["$ref"][8:], {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def load_mapping(source: Mapping | dict[str, Any] | str | Path, spec: Any = None) -> Mapping:
    """A :class:`Mapping` from itself, a dict, or a ``.json`` / ``.toml`` file path.

    With ``spec`` (a saga spec) the mapping is checked against it: an unknown event or
    field name is an error naming the file and line.
    """
    if isinstance(source, Mapping):
        return source
    if isinstance(source, dict):
        return Mapping(source, spec=spec)
    path = Path(source)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            config = tomllib.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: not valid TOML: {exc}") from None
    elif path.suffix.lower() == ".json":
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from None
    else:
        raise InputError(f"{path}: unknown mapping format {path.suffix or '(none)'!r}; expected .toml or .json")
    return Mapping(config, origin=str(path), spec=spec, text=text.decode("utf-8", "replace"))


def _valid(event: dict[str, Any], spec: Any) -> bool:
    if spec is not None:
        from sagaspec.spec.schemas import validate_event

        return not validate_event(event, spec=spec)
    from sagaspec.spec.events import parse_event

    try:
        parse_event(event)
    except (ValueError, TypeError):
        return False
    return True


class _Translated(dict):
    """An event the broker's decoder already translated (collect passes it on as is)."""


class MappedAdapter(Adapter):
    """Any adapter, seen through a :class:`Mapping` (ours on this side, theirs beyond).

    Over a broker adapter (one with ``publish_as``) a message goes out under its mapped
    routing key / subject (and type header), as bare JSON; what comes back is read with
    its routing key and headers, so a type outside the body is found.
    """

    name = "mapped"

    def __init__(self, inner: Adapter, mapping: Mapping | dict[str, Any] | str | Path) -> None:
        self.inner = inner
        self.mapping = load_mapping(mapping)
        self.name = f"{inner.name}+mapping"
        #: what this run learned about its sagas (correlation values, earlier events).
        self.state = Correlation()
        #: messages of ``ignore_types`` dropped on purpose, by their type.
        self.ignored: dict[str, int] = {}
        #: invalid events not delivered because their translation would be valid.
        self.unrepresentable = 0
        if hasattr(inner, "publish_as"):
            inner.decoder = self._decode  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<MappedAdapter {self.mapping.name} over {self.inner!r}>"

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def deliver(self, event: dict[str, Any]) -> None:
        if not isinstance(event, dict):
            await self.inner.deliver(event)
            return
        try:
            theirs = self.mapping.to_theirs(event)
        except MappingFailure as exc:
            if _valid(event, self.mapping.spec):
                # A valid event they cannot be told: skipping it would fail their service
                # for a reaction it never had the chance to make.
                raise AdapterError(f"{self.mapping.origin}: cannot say {event.get('eventType')} in their "
                                   f"vocabulary: {exc}") from None
            self.unrepresentable += 1
            return
        if _valid(event, self.mapping.spec):
            self.mapping.note(event, theirs, self.state)
        else:
            # An invalid event may have no invalid form in their vocabulary (a field they
            # do not have, a number where we want a string). Delivering its translation
            # would hand them a *valid* message; what cannot be said is not said.
            back = self.mapping.to_ours(theirs, state=Correlation(),
                                        route=self.mapping.route_of(event), headers=self.mapping.headers_of(event))
            if isinstance(back, dict) and "sagaId" not in back and "sagaId" in event:
                back["sagaId"] = event["sagaId"]
            if isinstance(back, dict) and _valid(back, self.mapping.spec):
                self.unrepresentable += 1
                return
        if hasattr(self.inner, "publish_as"):
            await self.inner.publish_as(self.mapping.route_of(event), json.dumps(theirs).encode(),
                                        self.mapping.headers_of(event))
        else:
            await self.inner.deliver(theirs)

    def _decode(self, received: Any) -> dict[str, Any] | RawMessage:
        try:
            message = json.loads(received.body)
        except ValueError:
            return RawMessage(bytes(received.body), received.route, "not JSON")
        out = self.mapping.translate(message, state=self.state, route=received.route, headers=received.headers)
        if out is None:
            kind, _ = self.mapping._type_of(message, received.route, received.headers)
            return _Translated(_ignored=kind)
        return _Translated(out) if isinstance(out, dict) else out

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        out: list[dict[str, Any] | RawMessage] = []
        for item in await self.inner.collect(timeout):
            if isinstance(item, _Translated):
                if "_ignored" in item:
                    self.ignored[item["_ignored"]] = self.ignored.get(item["_ignored"], 0) + 1
                else:
                    out.append(dict(item))
                continue
            if isinstance(item, RawMessage):
                if item.reason.startswith("consumer crashed"):
                    out.append(item)
                    continue
                try:
                    decoded = json.loads(item.payload)
                except ValueError:
                    out.append(item)
                    continue
                item = decoded
            translated = self.mapping.translate(item, state=self.state)
            if translated is None:
                kind = item.get(self.mapping.type_field)
                self.ignored[kind] = self.ignored.get(kind, 0) + 1
                continue
            out.append(translated)
        return out

    async def start_saga(self, payload: dict[str, Any]) -> None:
        theirs = self.mapping.start_to_theirs(payload)
        self.mapping.note({k: v for k, v in payload.items() if k != "eventType"}, theirs, self.state)
        await self.inner.start_saga(theirs)

    async def place_order(self, order: dict[str, Any]) -> None:
        await self.start_saga(order)

    async def deliver_raw(self, payload: bytes) -> None:
        """Garbage where the target consumes: over a broker, under the mapped routing key of
        the first event it subscribes to (our type names are not their routing keys)."""
        spec = self.mapping.spec
        if hasattr(self.inner, "publish_as") and spec is not None:
            who = getattr(self.inner, "participant", None)
            names = {p.name for p in spec.participants}
            subs = list(spec.participant(who).subscribes) if who in names else [
                e.name for e in spec.events if e.role == "trigger"]
            if subs:
                await self.inner.publish_as(self.mapping.route_of({"eventType": subs[0]}), bytes(payload))
                return
        await self.inner.deliver_raw(payload)

    async def setup(self, world: World) -> None:
        await self.inner.setup(world)

    async def crash(self, participant: str) -> None:
        await self.inner.crash(participant)

    async def reset(self) -> None:
        self.state.clear()
        self.ignored.clear()
        self.unrepresentable = 0
        await self.inner.reset()
