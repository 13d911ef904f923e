"""Concrete events for the suite: sagas from the spec's trigger, payloads from provenance.

The model speaks in abstract messages (an event type of saga 0); a real service needs
real JSON. The suite builds each event it plays from the saga spec alone:

* a saga's business facts are its trigger event's payload (:class:`SagaInfo.fields`),
  drawn with hypothesis-jsonschema from the trigger's JSON Schema (sizes bounded), its
  common identifiers (``orderId``, ``tripId``...) fresh per test case;
* every field of a played event comes from where the spec says (``from: EVENT.FIELD``
  an earlier event of the saga, ``new`` a fresh id, a ``const``, ``world.KNOB``, a
  ``sum``: :mod:`sagaspec.spec._provenance`, as the reference interpreter builds them);
* the *free* fields (required, and nothing in the spec fixes them, such as a failure's
  ``reason``) are drawn from their schema (:func:`free_fields`);
* the envelope: a fresh ``eventId``, the ``causationId`` of the event reacted to, and a
  current ``timestamp``.

Negative inputs are built from real events of the test case (so "no business effect"
is meaningful: an invalid trigger names a real saga) and broken in one way, the field
to break chosen from the event's schema. Examples are in
``tests/conformance/test_conform_payloads.py``.
"""

from __future__ import annotations

import copy
import functools
import json
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from sagaspec.conformance._fastdraw import register
from sagaspec.conformance.history import SagaInfo
from sagaspec.spec._provenance import MISSING, field_value, free_field, id_prefix
from sagaspec.spec.sagafile import FieldDraw, SagaSpec, decimal_text

__all__ = [
    "Ids",
    "declared_draw",
    "declared_fields",
    "declared_saga",
    "simplest_saga",
    "key_pool",
    "free_field_names",
    "free_fields",
    "trigger_fields",
    "saga_strategy",
    "saga_fields",
    "fresh_saga",
    "build_event",
    "NEGATIVE_KINDS",
    "RAW_KINDS",
    "negative_input",
    "now_rfc3339",
]

#: Longest string and list the suite draws (valid values go further; short ones keep
#: shrinking and reports fast).
MAX_TEXT = 16
MAX_ITEMS = 2


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Ids:
    """Fresh identifiers of one test case: ``evt-<token>-<n>``, ``payment-<token>-<n>``..."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.n = 0

    def new(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.token}-{self.n}"


def _schema(spec: SagaSpec, event_type: str) -> dict[str, Any]:
    from sagaspec.spec.schemas import schema_for

    return schema_for(event_type, "draft-07", spec=spec)


def _inline(prop: Any, defs: dict[str, Any]) -> Any:
    """A draft-07 schema with its ``$ref``\\ s inlined (sizes as the spec says)."""
    if isinstance(prop, list):
        return [_inline(p, defs) for p in prop]
    if not isinstance(prop, dict):
        return prop
    ref = prop.get("$ref", "")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        return _inline(defs[ref.rsplit("/", 1)[1]], defs)
    wraps = prop.get("allOf")
    if isinstance(wraps, list) and len(wraps) == 1 and set(prop) <= {
            "allOf", "description", "default", "examples"}:
        return _inline(wraps[0], defs)
    return {k: _inline(v, defs) for k, v in prop.items()
            if k not in ("description", "default", "examples", "$comment", "title")}


def _cap(schema: Any) -> Any:
    """``schema`` with its strings and lists bounded (:data:`MAX_TEXT`, :data:`MAX_ITEMS`),
    never below their own minimum."""
    if isinstance(schema, list):
        return [_cap(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _cap(v) for k, v in schema.items()}
    if out.get("type") == "string" and "format" not in out:
        out["maxLength"] = max(out.get("minLength", 0), min(out.get("maxLength", MAX_TEXT),
                                                            MAX_TEXT))
    if out.get("type") == "array":
        out["maxItems"] = max(out.get("minItems", 0), min(out.get("maxItems", MAX_ITEMS),
                                                          MAX_ITEMS))
    return out


def _resolve(prop: Any, defs: dict[str, Any]) -> Any:
    """A draft-07 schema with its ``$ref``\\ s inlined and its sizes bounded."""
    return _cap(_inline(prop, defs))


# -- edges of a schema ----------------------------------------------------------------
# Typical draws stay small (fast cases, short reports), so the edges the schema allows
# (a string at its maxLength, a quantity at its maximum, a full list, two lines of one
# key) are reached by moving a small drawn value onto one edge, one draw in
# EDGE_ODDS per field. The edge index is drawn after the value and 0 means "none", so
# shrinking goes back to the small value; an edge a value cannot reach validly (a
# pattern that forbids the stretch) leaves it as drawn.

#: One draw in EDGE_ODDS of a field with edges sits on one of them.
EDGE_ODDS = 8

_Path = tuple[str, ...]


def schema_edges(schema: dict[str, Any], path: _Path = ()) -> list[tuple[_Path, str]]:
    """The edges of ``schema`` (inlined, full sizes): ``(path, edge)``, ``path`` the keys
    down to the value (``*`` for every element of a list), ``edge`` one of
    ``max-length``, ``min-length``, ``maximum``, ``minimum``, ``enum-last``,
    ``max-items``, ``min-items``, ``repeated-key``.

    >>> line = {"type": "object", "required": ["code"],
    ...         "properties": {"code": {"type": "string", "maxLength": 8}}}
    >>> for edge in schema_edges({"type": "array", "maxItems": 9, "items": line}):
    ...     print(*edge)
    () max-items
    () min-items
    () repeated-key
    ('*', 'code') max-length
    ('*', 'code') min-length
    """
    if not isinstance(schema, dict):
        return []
    out: list[tuple[_Path, str]] = []
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list) and len(schema["enum"]) > 1:
        out.append((path, "enum-last"))
    if kind == "string" and "format" not in schema and "const" not in schema:
        if "maxLength" in schema:
            out.append((path, "max-length"))
        out.append((path, "min-length"))
    if kind in ("integer", "number") and "const" not in schema:
        out += [(path, e) for e, keys in (("maximum", ("maximum", "exclusiveMaximum")),
                                          ("minimum", ("minimum", "exclusiveMinimum")))
                if any(k in schema for k in keys)]
    if kind == "array":
        if "maxItems" in schema:
            out.append((path, "max-items"))
        if schema.get("minItems", 0) < schema.get("maxItems", MAX_ITEMS + 1):
            out.append((path, "min-items"))
        if not schema.get("uniqueItems") and _item_key(schema.get("items")) is not None:
            out.append((path, "repeated-key"))
        out += schema_edges(schema.get("items", {}), (*path, "*"))
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            out += schema_edges(sub, (*path, name))
    return out


def _item_key(item: Any) -> str | None:
    """What identifies a list's object element: its first required string field (a
    line's key)."""
    if not isinstance(item, dict) or item.get("type") != "object":
        return None
    props = item.get("properties", {})
    return next((n for n in item.get("required", ())
                 if isinstance(props.get(n), dict) and props[n].get("type") == "string"), None)


def _stretch(text: str, n: int, pattern: str | None) -> str:
    """``text`` grown to ``n`` characters in a way ``pattern`` still accepts, if any
    (repeated whole, its last character repeated, its first)."""
    if not text or len(text) >= n:
        return text
    pad = n - len(text)
    for cand in ((text * (n // len(text) + 1))[:n], text + text[-1] * pad, text[0] * pad + text):
        if pattern is None or re.search(pattern, cand):
            return cand
    return text


def _at_edge(value: Any, schema: dict[str, Any], edge: str) -> Any:
    if edge == "enum-last":
        return copy.deepcopy(schema["enum"][-1])
    if edge == "max-length" and isinstance(value, str):
        return _stretch(value, schema["maxLength"], schema.get("pattern"))
    if edge == "min-length" and isinstance(value, str):
        return value[:schema.get("minLength", 0)]
    if edge in ("maximum", "minimum") and isinstance(value, int | float):
        high = edge == "maximum"
        bounds = [schema.get(edge)]
        strict = schema.get("exclusiveMaximum" if high else "exclusiveMinimum")
        if strict is not None and schema.get("type") == "integer":
            bounds.append(strict - 1 if high else strict + 1)
        known = [b for b in bounds if b is not None]
        return value if not known else (min(known) if high else max(known))
    if not isinstance(value, list):
        return value
    if edge == "max-items" and value:
        return [copy.deepcopy(value[i % len(value)]) for i in range(schema["maxItems"])]
    if edge == "min-items":
        return value[:schema.get("minItems", 0)]
    if edge == "repeated-key" and value:
        key = _item_key(schema.get("items"))
        if len(value) == 1:
            return [value[0], copy.deepcopy(value[0])]
        value[1][key] = value[0][key]
    return value


def _apply_edge(value: Any, schema: dict[str, Any], path: _Path, edge: str) -> Any:
    """``value`` with the part at ``path`` moved onto ``edge`` (``value`` is a copy)."""
    if not path:
        return _at_edge(value, schema, edge)
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(value, list):
        return [_apply_edge(v, schema.get("items", {}), rest, edge) for v in value]
    if isinstance(value, dict) and head in value:
        value[head] = _apply_edge(value[head], schema["properties"][head], rest, edge)
    return value


_OBJECT_KEYS = frozenset({"type", "properties", "required", "additionalProperties"})
_ARRAY_KEYS = frozenset({"type", "items", "minItems", "maxItems", "uniqueItems"})


def _values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """hypothesis-jsonschema's values of ``schema``, with each object of named fields (and
    each list of them) built once from its fields' strategies.

    hypothesis-jsonschema builds an object's field strategies again on every draw of the
    object (about 0.1 s per drawn line of an order, most of a trigger's draw); an object
    with no pattern or count constraints is its required and optional fields plus, if
    open, other fields of the ``additionalProperties`` schema.
    """
    from hypothesis_jsonschema import from_schema

    kind = schema.get("type")
    props = schema.get("properties", {})
    more = schema.get("additionalProperties", {})
    if (kind == "object" and set(schema) <= _OBJECT_KEYS and isinstance(props, dict)
            and set(schema.get("required", ())) <= set(props) and isinstance(more, dict | bool)):
        required = schema.get("required", ())
        known = st.fixed_dictionaries(
            {k: _values(props[k]) for k in required},
            optional={k: _values(v) for k, v in props.items() if k not in required})
        if more is False:
            return known
        # An open object: its known fields, and a few others (as many as a list's
        # items: small draws) with values of additionalProperties.
        others = st.dictionaries(st.text(max_size=MAX_TEXT).filter(lambda k: k not in props),
                                 _values({} if more is True else more), max_size=MAX_ITEMS)
        return st.tuples(known, others).map(lambda t: {**t[1], **t[0]})
    items = schema.get("items")
    if kind == "array" and set(schema) <= _ARRAY_KEYS and isinstance(items, dict):
        return st.lists(_values(items), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems"),
                        unique_by=_json_key if schema.get("uniqueItems") else None)
    return from_schema(schema)


def _json_key(value: Any) -> str:
    """What JSON Schema's ``uniqueItems`` compares: 1 and 1.0 are equal, key order is not."""
    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, list) else v

    return json.dumps(plain(value), sort_keys=True)


def edged(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of ``schema`` (inlined, full sizes): small ones, and one in
    :data:`EDGE_ODDS` moved onto one of its edges (:func:`schema_edges`)."""
    from jsonschema import Draft7Validator

    small = _values(_cap(schema))
    edges = schema_edges(schema)
    if not edges:
        return small
    valid = Draft7Validator(schema).is_valid

    def pin(drawn: tuple[Any, int, int]) -> Any:
        value, on, k = drawn
        if on != EDGE_ODDS - 1:
            return value
        path, edge = edges[k]
        moved = _apply_edge(copy.deepcopy(value), schema, path, edge)
        return moved if valid(moved) else value

    # Whether to move (0: no, what shrinking goes to), then which edge (drawn always:
    # one draw over all edges favours the first few).
    return st.tuples(small, st.integers(0, EDGE_ODDS - 1),
                     st.integers(0, len(edges) - 1)).map(pin)


def _field_strategies(spec: SagaSpec, event_type: str, names: tuple[str, ...]
                      ) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of ``names`` (properties of ``event_type``) drawn from their own schemas
    (one strategy per property is much cheaper than one for the whole object)."""
    if not names:
        return st.just({})
    full = _schema(spec, event_type)
    defs = full.get("definitions", {})
    required = set(full.get("required", ()))
    strategies = {n: edged(_inline(full["properties"][n], defs)) for n in names}
    return st.fixed_dictionaries({k: v for k, v in strategies.items() if k in required},
                                 optional={k: v for k, v in strategies.items()
                                           if k not in required})


@functools.cache
def free_field_names(spec: SagaSpec, event_type: str) -> tuple[str, ...]:
    """The required fields of ``event_type`` that nothing in the spec fixes (no ``from:``,
    no ``const``): what the suite draws when it plays the event (a trigger's fields are
    the saga's, never free)."""
    ev = spec.event(event_type)
    if ev.role == "trigger":
        return ()
    return tuple(f.name for f in ev.fields if free_field(f) and not f.optional)


@functools.cache
def free_fields(spec: SagaSpec, event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """Strategy for the free fields of ``event_type``, from its draft-07 schema."""
    return register(_field_strategies(spec, event_type, free_field_names(spec, event_type)))


def _trigger(spec: SagaSpec) -> str:
    return min(e.name for e in spec.events if e.role == "trigger")


@functools.cache
def trigger_fields(spec: SagaSpec) -> st.SearchStrategy[dict[str, Any]]:
    """The business fields of a saga: its trigger event's payload (common identifiers
    apart: :func:`fresh_saga` makes them), drawn from the trigger's schema."""
    ev = spec.event(_trigger(spec))
    return _field_strategies(spec, ev.name, tuple(f.name for f in ev.fields))


def fresh_saga(spec: SagaSpec, index: int, token: str, fields: Mapping[str, Any]) -> SagaInfo:
    """Saga ``index`` of a test case: ``fields`` plus fresh ``sagaId`` and common
    identifiers (``<stem>-<token>-<index>``, e.g. ``trip-1a2b-0`` for ``tripId``)."""
    out = {f.name: f"{id_prefix(f.name)}-{token}-{index}" for f in spec.common if not f.optional}
    out.update({k: copy.deepcopy(v) for k, v in fields.items() if k not in _common(spec)})
    return SagaInfo(index, f"saga-{token}-{index}", out)


def _common(spec: SagaSpec) -> frozenset[str]:
    return frozenset(f.name for f in spec.common)


def saga_strategy(spec: SagaSpec, index: int, token: str) -> st.SearchStrategy[SagaInfo]:
    """A saga of ``spec`` with its trigger's fields drawn from the schema."""
    return trigger_fields(spec).map(lambda f: fresh_saga(spec, index, token, f))


@functools.cache
def saga_fields(spec: SagaSpec) -> st.SearchStrategy[dict[str, Any]]:
    """The draw of :func:`saga_strategy` (the same choices and spans: a mapped strategy's
    spans do not depend on its function), its fields for :func:`fresh_saga`. Built once
    per spec: a new strategy per saga cost hypothesis a fresh validation each time. Mapped
    by ``dict``, not an identity function: hypothesis drops an identity map, and its spans.
    Registered for compiling (:mod:`sagaspec.conformance._fastdraw`): the chooser draws it
    with the same choices and spans, at half the cost."""
    return register(trigger_fields(spec).map(dict))


# -- a trigger drawn as its spec declares (draw:) --------------------------------------
# A world that keeps stock per key and decides by data (the setup form of hand-written
# services) needs sagas that compete for the same few keys, which schema-drawn strings
# never do. A trigger that declares how it is drawn (``draw:``: a small pool of keys,
# ranges, a per-saga prefix, a derived sum) is drawn that way for such a target.


@functools.cache
def declared_draw(spec: SagaSpec) -> bool:
    """Whether the spec's trigger declares how it is drawn (``draw:``)."""
    return bool(spec.event(_trigger(spec)).draw)


def _one(g: FieldDraw) -> st.SearchStrategy[Any]:
    """The strategy of one declared field (``sum`` fields are derived, never drawn)."""
    if g.kind == "one_of":
        return st.sampled_from(g.values)
    if g.kind == "between":
        ints = st.integers(g.low, g.high)
        return ints if g.decimals is None else ints.map(
            functools.partial(decimal_text, decimals=g.decimals))
    if g.kind == "text":
        if not g.first:
            return st.text(g.chars, max_size=g.max_length)
        return st.tuples(st.sampled_from(g.first), st.text(g.chars, max_size=g.max_length - 1)
                         ).map("".join)
    entry = st.fixed_dictionaries({x.name: _one(x) for x in g.each if x.kind != "sum"})
    return st.lists(entry, min_size=g.min_items, max_size=g.max_items,
                    unique_by=None if g.unique_by is None else operator.itemgetter(g.unique_by))


@functools.cache
def declared_fields(spec: SagaSpec) -> st.SearchStrategy[tuple]:
    """The drawn fields of the trigger's ``draw:``, in its order, as a tuple (what
    :func:`declared_saga` turns into a saga)."""
    return register(st.tuples(*(_one(g) for g in spec.event(_trigger(spec)).draw
                                if g.kind != "sum")))


def _derived(g: FieldDraw, fields: Mapping[str, Any]) -> Any:
    """A ``sum`` field: ``field`` (x ``times``) summed over the entries of ``list``."""
    total = sum((Decimal(str(e[g.field])) * (1 if g.times is None else Decimal(str(e[g.times])))
                 for e in fields[g.list]), Decimal(0))
    return f"{total:.{g.decimals}f}" if g.decimals is not None else (
        int(total) if total == total.to_integral_value() else float(total))


def _finished(spec: SagaSpec, index: int, drawn: dict[str, Any]) -> dict[str, Any]:
    """``drawn`` with its prefixes, the derived fields, in the trigger's field order."""
    decl = spec.event(_trigger(spec)).draw
    out = dict(drawn)
    for g in decl:
        if g.kind == "text" and g.prefix:
            out[g.name] = g.prefix.replace("{saga}", str(index)) + out[g.name]
    for g in decl:
        if g.kind == "sum":
            out[g.name] = _derived(g, out)
    order = [f.name for f in spec.event(_trigger(spec)).fields]
    return {k: out[k] for k in sorted(out, key=lambda k: order.index(k) if k in order else len(order))}


def declared_saga(spec: SagaSpec, index: int, token: str, drawn: tuple) -> SagaInfo:
    """Saga ``index`` from a draw of :func:`declared_fields`."""
    names = [g.name for g in spec.event(_trigger(spec)).draw if g.kind != "sum"]
    values = dict(zip(names, drawn, strict=True))
    return fresh_saga(spec, index, token, _finished(spec, index, values))


def _simplest(g: FieldDraw) -> Any:
    if g.kind == "one_of":
        return copy.deepcopy(g.values[0])
    if g.kind == "between":
        low = max(g.low, min(0, g.high))
        return low if g.decimals is None else decimal_text(low, g.decimals)
    if g.kind == "text":
        return g.first[:1]
    entry = {x.name: _simplest(x) for x in g.each if x.kind != "sum"}
    out = []
    for i in range(g.min_items):
        line = dict(entry)
        if g.unique_by is not None:
            pool = next(x for x in g.each if x.name == g.unique_by)
            line[g.unique_by] = pool.values[i % len(pool.values)] if pool.kind == "one_of" \
                else f"{line[g.unique_by]}{i or ''}"
        out.append(line)
    return out


def simplest_saga(spec: SagaSpec, index: int, token: str) -> SagaInfo:
    """Saga ``index`` with every declared field at its simplest (what shrinking goes to:
    a pool's first value, a range's low end, the fewest entries)."""
    decl = spec.event(_trigger(spec)).draw
    return fresh_saga(spec, index, token, _finished(
        spec, index, {g.name: _simplest(g) for g in decl if g.kind != "sum"}))


def key_pool(spec: SagaSpec) -> tuple[Any, ...]:
    """The keys a drawn saga's lines take (the pool of the spec's key field, when its
    lines are a drawn list and the key is drawn from a pool), else ``()``."""
    if len(spec.keys) != 1 or not declared_draw(spec):
        return ()
    key = spec.keys[0]
    if key.event != _trigger(spec):
        return ()
    lines = next((g for g in spec.event(key.event).draw if g.name == key.field), None)
    pool = next((x for x in lines.each if x.name == key.key), None) if lines else None
    return pool.values if pool is not None and pool.kind == "one_of" else ()


# -- events -------------------------------------------------------------------------------
def build_event(spec: SagaSpec, event_type: str, saga: SagaInfo, ids: Ids, *,
                cause: dict[str, Any] | None, events: dict[str, dict[str, Any]],
                free: Mapping[str, Any], knob: Callable[[str], Any] | None = None
                ) -> dict[str, Any]:
    """The concrete event of ``event_type`` a played participant publishes for ``saga``.

    ``events`` maps an event type to the saga's latest event of that type (updated with
    this one: what later provenance reads); ``cause`` is the event reacted to
    (``causationId``); ``free`` the drawn free fields; ``knob(name)`` the world's value.
    """
    from sagaspec.spec.specschemas import example_value

    spec_event = spec.event(event_type)
    ev: dict[str, Any] = {
        "eventId": ids.new("evt"),
        "eventType": event_type,
        "schemaVersion": spec_event.version,
        "sagaId": saga.sagaId,
        "timestamp": now_rfc3339(),
    }
    if cause is not None:
        ev["causationId"] = cause["eventId"]
    trigger = spec_event.role == "trigger"
    seen = dict(events)
    for name in [e.name for e in spec.events if e.role == "trigger"]:
        seen.setdefault(name, dict(saga.fields))
    for f in (*spec.common, *spec_event.fields):
        if f.name in saga.fields and (trigger or f in spec.common):
            ev[f.name] = copy.deepcopy(saga.fields[f.name])
            continue
        value = field_value(f, seen, new_id=ids.new, knob=knob)
        if value is MISSING and f.name in free:
            value = free[f.name]
        if value is MISSING:
            if f.optional:
                continue
            value = example_value(spec, f.schema, f.name)
        ev[f.name] = copy.deepcopy(value)
    events[event_type] = ev
    return ev


# -- negative inputs -------------------------------------------------------------------

#: Bad inputs delivered as dicts (``Adapter.deliver``).
NEGATIVE_KINDS = ("missing-field", "wrong-type", "bad-enum", "unknown-type", "extra-field",
                  "no-event-type")
#: Bad inputs that are not JSON objects (``Adapter.deliver_raw``).
RAW_KINDS = ("truncated", "garbage", "not-an-object", "empty")


def _payload_order(spec: SagaSpec | None, ev: dict[str, Any]) -> list[str]:
    """The event's required payload fields present in ``ev``: the common ones (the
    business identifiers), then the event's own in the spec's order, then ``sagaId``."""
    names: list[str] = []
    if spec is not None:
        try:
            own = spec.event(str(ev.get("eventType"))).fields
        except Exception:  # noqa: BLE001 - not an event of the spec: only sagaId
            own = ()
        names = [f.name for f in (*spec.common, *own) if not f.optional]
    return [n for n in (*names, "sagaId") if n in ev]


def negative_input(kind: str, template: dict[str, Any], ids: Ids,
                   spec: SagaSpec | None = None) -> dict[str, Any] | bytes:
    """``template`` (a valid event of the test case) broken as ``kind`` says; the field
    to break is the first required one of the event's schema in ``spec``.

    Dict kinds keep the real saga ids so a service that acts on them has a visible
    business effect; each gets a fresh ``eventId`` so idempotency does not hide it.

    >>> t = {"eventId": "e", "eventType": "Started", "sagaId": "s"}
    >>> bad = negative_input("wrong-type", t, Ids("x"))
    >>> bad["sagaId"], bad["eventId"]
    (12345, 'bad-x-1')
    >>> negative_input("truncated", t, Ids("x"))[:12]
    b'{"eventId": '
    """
    ev = dict(template)
    ev["eventId"] = ids.new("bad")
    fields = _payload_order(spec, ev)
    if kind == "missing-field":
        if fields:
            del ev[fields[0]]
    elif kind == "wrong-type":
        name = next((n for n in fields if isinstance(ev[n], str)), fields[0] if fields else "sagaId")
        value = ev.get(name)
        if isinstance(value, str):
            try:
                ev[name] = float(value)
            except ValueError:
                ev[name] = 12345
        else:
            ev[name] = "not-a-" + type(value).__name__
    elif kind == "bad-enum":
        ev["schemaVersion"] = 99
    elif kind == "unknown-type":
        ev["eventType"] = "NoSuchEventType"
    elif kind == "extra-field":
        ev["isAdmin"] = True
    elif kind == "no-event-type":
        ev.pop("eventType", None)
    elif kind == "truncated":
        text = json.dumps(ev).encode()
        return text[: max(1, len(text) // 2)]
    elif kind == "garbage":
        return b"\xff\xfe\x00garbage\x80{"
    elif kind == "not-an-object":
        return json.dumps([ev.get("eventType"), ev.get("sagaId")]).encode()
    elif kind == "empty":
        return b""
    else:
        raise KeyError(f"unknown negative input kind {kind!r}")
    return ev
