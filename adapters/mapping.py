"""Declarative vocabulary mapping: test a service that does not speak sagaspec's events.

Real services rarely publish ``OrderCreated`` with ``orderId``; they publish
``order.created`` with ``order_id``, amounts as numbers and no ``sagaId``. A
:class:`Mapping` translates both ways and :class:`MappedAdapter` wraps any adapter with
it: our events are translated to their vocabulary on ``deliver`` / ``place_order`` and
theirs back to ours on ``collect``, so the conformance suite runs unchanged. A
schema-invalid event is delivered only if its translation is still invalid when read
back: an invalidity their vocabulary cannot express (a field they do not have, a number
where we want a string) is not delivered at all (counted in ``unrepresentable``), since
its translation would be a *valid* message to them. A message
that cannot be translated (unknown type, no type field, a value that does not convert,
not a JSON object) is collected as a :class:`~sagaspec.adapters.base.RawMessage` whose
``reason`` says why; nothing is dropped silently (``ignore_types`` drops named types on
purpose and counts them).

The format (a Python dict, or the same as a JSON or TOML file)::

    type_field = "type"            # their field holding the event type (ours: eventType)
    ignore_types = ["audit.logged"]  # their types to drop on purpose (counted)
    ignore_fields = ["trace"]      # their fields to drop on collect (every type)

    [envelope]                     # every event: our field = their field, or false if absent
    eventId = "id"
    orderId = "order_id"
    timestamp = "occurred_at"
    causationId = "caused_by"
    sagaId = false                 # dropped on deliver, derived on collect
    schemaVersion = false
    correlationId = false

    [convert]                      # every event: our field = converter
    timestamp = "epoch-ms"

    [derive]                       # on collect, for our fields still missing
    sagaId = "saga-{orderId}"      # template over our (already mapped) fields; the
    schemaVersion = 1              # sagaId of a delivered event of the same orderId wins
    eventId = "evt-{sha1}"         # {sha1}: hash of their message (duplicates agree)

    [events.OrderCreated]
    type = "order.created"
    fields = { userId = "customer_id", amount = "total", items = "lines",
               "items[].sku" = "product_id", "items[].quantity" = "qty",
               "items[].unitPrice" = "price" }
    convert = { amount = "money-number", "items[].unitPrice" = "money-number" }
    extra = { source = "shop" }    # their fields added on deliver (constants)
    derive = { currency = "USD" }  # our fields derived on collect, this type only

An event type of ours not listed under ``[events]`` keeps its name (only the envelope
and the top-level tables apply to it). Field paths name *our* fields; ``a[].b`` is key ``b`` inside each element of list ``a``;
the value on the right is the key's name in their vocabulary (renamed in place, so
``items = "lines"`` plus ``"items[].sku" = "product_id"`` gives ``lines[].product_id``).
Converters: ``money-number`` (``"100.00"`` <-> ``100.0``), ``money-cents`` (<-> ``10000``),
``epoch-ms`` and ``epoch-s`` (RFC 3339 <-> Unix time), ``string`` (any <-> text).

>>> m = Mapping.from_dict({"type_field": "type", "envelope": {"orderId": "order_id",
...     "sagaId": False}, "derive": {"sagaId": "saga-{orderId}"},
...     "events": {"OrderCancelled": {"type": "order.cancelled"}}})
>>> theirs = m.to_theirs({"eventType": "OrderCancelled", "sagaId": "s", "orderId": "o1",
...                       "reason": "r"})
>>> theirs
{'reason': 'r', 'order_id': 'o1', 'type': 'order.cancelled'}
>>> m.to_ours(theirs)
{'reason': 'r', 'orderId': 'o1', 'eventType': 'OrderCancelled', 'sagaId': 'saga-o1'}
>>> m.to_ours({"type": "order.shipped", "order_id": "o1"}).reason
"unmapped event type 'order.shipped' (map it under [events] or list it in ignore_types)"
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
from sagaspec.spec.events import EVENT_TYPES

from sagaspec.errors import InputError

__all__ = ["Mapping", "MappedAdapter", "MappingFailure", "load_mapping", "CONVERTERS"]


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


@dataclass(frozen=True)
class _Rename:
    container: tuple[str, ...]  # path segments of the container, in the vocabulary it applies to
    old: str
    new: str


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
    renames: dict[str, str | bool] = field(default_factory=dict)  # our path -> their key | False
    convert: dict[str, str] = field(default_factory=dict)
    derive: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()


class Mapping:
    """A bidirectional vocabulary mapping (see the module docstring for the format)."""

    def __init__(self, config: dict[str, Any], *, origin: str = "mapping", spec: Any = None,
                 text: str | None = None) -> None:
        self.origin = origin
        self.config = copy.deepcopy(config)
        #: The saga spec whose events this maps (None: the shipped order saga's events).
        self.spec = spec
        self._text = text
        self.event_types: tuple[str, ...] = tuple(spec.event_names) if spec is not None else EVENT_TYPES
        self._parse(self.config)
        if spec is not None:
            self._check_fields(spec)

    # -- loading and validation --------------------------------------------------------
    @classmethod
    def from_dict(cls, config: dict[str, Any], origin: str = "mapping") -> Mapping:
        return cls(config, origin=origin)

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
        elif parts[0] in ("envelope", "convert", "derive", "extra") and len(parts) >= 2:
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
        """Every field path names a field of the spec's event (or of the envelope)."""
        from sagaspec.spec.specschemas import ENVELOPE

        envelope = {row[0] for row in ENVELOPE} | {f.name for f in spec.common}
        for name in self.envelope:
            if name not in envelope:
                raise self._err(f"envelope.{name}", f"not an envelope field of {spec.name}; expected one of "
                                                    f"{', '.join(sorted(envelope))}")
        for rules in self.rules.values():
            event = spec.event(rules.ours)
            fields = {f.name: f.schema for f in (*spec.common, *event.fields)}
            for table, paths in (("fields", rules.renames), ("convert", rules.convert), ("derive", rules.derive)):
                for path in paths:
                    problem = _field_problem(spec, fields, envelope, path)
                    if problem:
                        raise self._err(f"events.{rules.ours}.{table}.{path}", problem)

    def _parse(self, c: dict[str, Any]) -> None:
        if not isinstance(c, dict):
            raise self._err("(root)", "expected a table / JSON object")
        known = {"name", "type_field", "ignore_types", "ignore_fields", "envelope", "convert",
                 "derive", "extra", "events"}
        unknown = sorted(set(c) - known)
        if unknown:
            raise self._err(unknown[0], f"unknown key; expected one of {', '.join(sorted(known))}")
        self.name = str(c.get("name") or self.origin)
        self.type_field = c.get("type_field", "eventType")
        if not isinstance(self.type_field, str) or not self.type_field:
            raise self._err("type_field", "expected a field name")
        self.ignore_types = self._str_list(c, "ignore_types")
        self.ignore_fields = self._str_list(c, "ignore_fields")
        self.envelope = self._renames(c.get("envelope", {}), "envelope")
        self.convert = self._converters(c.get("convert", {}), "convert")
        self.derive = self._table(c.get("derive", {}), "derive")
        self.extra = self._table(c.get("extra", {}), "extra")
        events = self._table(c.get("events", {}), "events")
        self.rules: dict[str, _EventRules] = {}
        self.by_theirs: dict[str, _EventRules] = {}
        for ours, spec in events.items():
            where = f"events.{ours}"
            if ours not in self.event_types:
                raise self._err(where, f"unknown event type {ours!r}; expected one of {', '.join(self.event_types)}")
            spec = self._table(spec, where)
            bad = sorted(set(spec) - {"type", "fields", "convert", "derive", "extra", "ignore_fields"})
            if bad:
                raise self._err(f"{where}.{bad[0]}", "unknown key; expected type, fields, convert, "
                                                     "derive, extra, ignore_fields")
            theirs = spec.get("type", ours)
            if not isinstance(theirs, str) or not theirs:
                raise self._err(f"{where}.type", "expected their type name")
            if theirs in self.by_theirs:
                raise self._err(f"{where}.type", f"{theirs!r} is already the type of "
                                                 f"{self.by_theirs[theirs].ours}; the mapping must be one to one")
            rules = _EventRules(
                ours=ours,
                theirs=theirs,
                renames=self._renames(spec.get("fields", {}), f"{where}.fields"),
                convert=self._converters(spec.get("convert", {}), f"{where}.convert"),
                derive=self._table(spec.get("derive", {}), f"{where}.derive"),
                extra=self._table(spec.get("extra", {}), f"{where}.extra"),
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

    def to_theirs(self, event: dict[str, Any], *, event_type: str | None = None) -> dict[str, Any]:
        """Our event (or order, with ``event_type``) in their vocabulary, best effort.

        Unknown types and fields pass through unchanged: an invalid event must reach their
        service as invalid as it was.
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
        if event_type is None and "eventType" in msg:
            t = msg.pop("eventType")
            msg[self.type_field] = rules.theirs if rules else t
        for k, v in {**self.extra, **(rules.extra if rules else {})}.items():
            msg.setdefault(k, v)
        return msg

    def to_ours(self, message: Any, *, sagas: dict[str, str] | None = None) -> dict[str, Any] | RawMessage:
        """Their message in our vocabulary, or a :class:`RawMessage` saying why not."""
        raw = json.dumps(message, sort_keys=True, default=repr).encode()
        if not isinstance(message, dict):
            return RawMessage(raw, self.name, f"not a JSON object but {type(message).__name__}")
        kind = message.get(self.type_field)
        if kind is None:
            return RawMessage(raw, self.name, f"no {self.type_field!r} field to tell the event type")
        if not isinstance(kind, str):
            return RawMessage(raw, self.name, f"{self.type_field!r} is not a string: {kind!r}")
        rules = self.by_theirs.get(kind)
        if rules is None and kind in self.event_types and kind not in self.rules:
            rules = _EventRules(ours=kind, theirs=kind)  # a type they kept our name for
        if rules is None:
            return RawMessage(raw, self.name,
                              f"unmapped event type {kind!r} (map it under [events] or list it in ignore_types)")
        msg = copy.deepcopy(message)
        del msg[self.type_field]
        for name in (*self.ignore_fields, *rules.ignore):
            msg.pop(name, None)
        renames = self._all_renames(rules)
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
        derive = {**self.derive, **rules.derive}
        if sagas is not None and "sagaId" not in msg and isinstance(msg.get("orderId"), str):
            known = sagas.get(msg["orderId"])
            if known is not None:
                msg["sagaId"] = known
        for name, template in derive.items():
            if name in msg:
                continue
            try:
                msg[name] = self._render(template, msg, raw)
            except KeyError as exc:
                return RawMessage(raw, self.name, f"{kind}: cannot derive {name}: "
                                                  f"no field {exc.args[0]!r} to fill {template!r}")
        return msg

    @staticmethod
    def _render(template: Any, msg: dict[str, Any], raw: bytes) -> Any:
        if not isinstance(template, str):
            return template
        values = {k: v for k, v in msg.items() if isinstance(v, (str, int, float))}
        values.setdefault("sha1", hashlib.sha1(raw).hexdigest())
        values.setdefault("uuid", uuid.uuid4().hex)
        values.setdefault("now", datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        return template.format_map(_Strict(values))

    def order_to_theirs(self, order: dict[str, Any]) -> dict[str, Any]:
        """A customer's order (``OrderCreated`` fields) in their vocabulary."""
        return self.to_theirs(order, event_type="OrderCreated")


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


def _valid(event: dict[str, Any]) -> bool:
    from sagaspec.spec.events import parse_event

    try:
        parse_event(event)
    except (ValueError, TypeError):
        return False
    return True


class MappedAdapter(Adapter):
    """Any adapter, seen through a :class:`Mapping` (ours on this side, theirs beyond)."""

    name = "mapped"

    def __init__(self, inner: Adapter, mapping: Mapping | dict[str, Any] | str | Path) -> None:
        self.inner = inner
        self.mapping = load_mapping(mapping)
        self.name = f"{inner.name}+mapping"
        #: orderId -> sagaId of what we delivered, to restore a sagaId they drop.
        self.sagas: dict[str, str] = {}
        #: messages of ``ignore_types`` dropped on purpose, by their type.
        self.ignored: dict[str, int] = {}
        #: invalid events not delivered because their translation would be valid.
        self.unrepresentable = 0

    def __repr__(self) -> str:
        return f"<MappedAdapter {self.mapping.name} over {self.inner!r}>"

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    def _remember(self, event: dict[str, Any]) -> None:
        order, saga = event.get("orderId"), event.get("sagaId")
        if isinstance(order, str) and isinstance(saga, str):
            self.sagas[order] = saga

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def deliver(self, event: dict[str, Any]) -> None:
        if not isinstance(event, dict):
            await self.inner.deliver(event)
            return
        theirs = self.mapping.to_theirs(event)
        if _valid(event):
            self._remember(event)
        else:
            # An invalid event may have no invalid form in their vocabulary (a field they
            # do not have, a number where we want a string). Delivering its translation
            # would hand them a *valid* message; what cannot be said is not said.
            back = self.mapping.to_ours(theirs, sagas=self.sagas)
            if isinstance(back, dict) and _valid(back):
                self.unrepresentable += 1
                return
        await self.inner.deliver(theirs)

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        out: list[dict[str, Any] | RawMessage] = []
        for item in await self.inner.collect(timeout):
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
            kind = item.get(self.mapping.type_field) if isinstance(item, dict) else None
            if isinstance(kind, str) and kind in self.mapping.ignore_types:
                self.ignored[kind] = self.ignored.get(kind, 0) + 1
                continue
            out.append(self.mapping.to_ours(item, sagas=self.sagas))
        return out

    async def place_order(self, order: dict[str, Any]) -> None:
        self._remember(order)
        await self.inner.place_order(self.mapping.order_to_theirs(order))

    async def deliver_raw(self, payload: bytes) -> None:
        await self.inner.deliver_raw(payload)

    async def setup(self, world: World) -> None:
        await self.inner.setup(world)

    async def crash(self, participant: str) -> None:
        await self.inner.crash(participant)

    async def reset(self) -> None:
        self.sagas.clear()
        self.ignored.clear()
        self.unrepresentable = 0
        await self.inner.reset()
