"""JSON Schemas (2020-12 and draft-07) of any saga spec's events, and example events.

Each event's schema is the envelope every saga shares (``eventId``, ``eventType``,
``schemaVersion``, ``sagaId``, ``timestamp``, ``causationId``, ``correlationId``), the
spec's ``common`` fields, then the event's own fields:

* ``eventType`` is a ``const`` of the event's name, ``schemaVersion`` of its version;
* every field is required unless the spec says ``optional``; a ``nullable`` field is
  ``anyOf [its schema, null]``; no other field is allowed (``additionalProperties: false``);
* the spec's ``$ref: "#/types/NAME"`` become ``#/$defs/NAME`` (``#/definitions/NAME`` in
  draft-07), and each referenced type is placed under ``$defs`` with ``title: NAME``;
* ``examples`` are example events (:func:`spec_examples`), each valid against the schema.

The shipped order specs' committed schema files (``spec/schemas/<draft>/``) are this
generator's output (:mod:`sagaspec.spec.schemagen` writes them; a test checks they match).

>>> from sagaspec.spec.sagafile import shipped_spec
>>> s = spec_schema(shipped_spec("corrected"), "PaymentRefunded")
>>> s["properties"]["eventType"]["const"], s["required"][-2:]
('PaymentRefunded', ['amount', 'reason'])
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from sagaspec.spec.sagafile import SagaSpec, SpecEvent, SpecField
from sagaspec.spec.schemagen import (
    META_SCHEMAS,
    SCHEMA_BASE,
    _ordered,
    _to_draft07,
    normalize_draft,
    render,
)

from sagaspec.errors import UsageError

__all__ = [
    "ENVELOPE",
    "spec_schema",
    "spec_schemas",
    "spec_schema_id",
    "spec_examples",
    "envelope_type_name",
    "write_spec_schemas",
    "drifted_spec_files",
    "example_value",
]

_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)

#: Types the envelope refers to; a spec type of the same name but another meaning makes
#: the envelope's copy be named ``Envelope<Name>`` instead.
_ENVELOPE_TYPES: dict[str, dict[str, Any]] = {
    "Identifier": {
        "title": "Identifier",
        "description": (
            "Opaque identifier: 1 to 128 characters, letters, digits and . _ : -, "
            "starting with a letter or digit."
        ),
        "type": "string",
        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:\\-]*$",
        "minLength": 1,
        "maxLength": 128,
        "examples": ["evt-123", "saga-456"],
    },
    "Timestamp": {
        "title": "Timestamp",
        "description": (
            "RFC 3339 date-time with a time zone (Z or +hh:mm), e.g. "
            "\"2024-01-15T10:00:00Z\"; events are ordered per saga by it."
        ),
        "type": "string",
        "format": "date-time",
        "pattern": _RFC3339,
        "examples": ["2024-01-15T10:00:00Z"],
    },
}

#: The envelope: (name, type it refers to, description, required, examples). Common
#: fields of the spec go between ``timestamp`` and ``causationId``.
ENVELOPE: tuple[tuple[str, str, str, bool, tuple[str, ...]], ...] = (
    ("eventId", "Identifier", "Unique identifier of this event; the idempotency key of consumers.", True,
     ("evt-123",)),
    ("eventType", "", "Determines the handler; fixed per event.", True, ()),
    ("schemaVersion", "", "Version of this event's schema (event versioning best practice).", True, ()),
    ("sagaId", "Identifier", "Links all events of one saga instance.", True, ("saga-456",)),
    ("timestamp", "Timestamp", "When the event was produced, RFC 3339 with a time zone.", True, ()),
    ("causationId", "Identifier", "eventId of the event that caused this one, if any.", False, ()),
    ("correlationId", "Identifier", "Identifier shared by a whole business conversation.", False, ()),
)
_HEAD, _TAIL = ENVELOPE[:5], ENVELOPE[5:]
_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number"}
_ANNOTATIONS = ("title", "description", "examples", "default", "$comment")


def _core(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _core(v) for k, v in schema.items() if k not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [_core(v) for v in schema]
    return schema


def envelope_type_name(spec: SagaSpec, name: str) -> str:
    """The ``$defs`` name of the envelope's ``Identifier`` or ``Timestamp`` type in the
    schemas of ``spec`` (``Envelope<Name>`` when the spec means something else by it)."""
    return _Builder(spec).envelope_names[name]


def spec_schema_id(spec: SagaSpec, event: str, draft: str = "2020-12") -> str:
    """The ``$id`` of an event's schema; a user's spec adds its saga name to the path.

    >>> from sagaspec.spec.sagafile import shipped_spec
    >>> spec_schema_id(shipped_spec("seed"), "OrderCreated", "07")
    'https://sagaspec.dev/schemas/v1/draft-07/OrderCreated.json'
    """
    draft = normalize_draft(draft)
    version = spec.event(event).version
    saga = "" if spec.shipped else f"{spec.name}/"
    middle = "" if draft == "2020-12" else f"{draft}/"
    return f"{SCHEMA_BASE}/{saga}v{version}/{middle}{event}.json"


class _Builder:
    """One event's 2020-12 schema: rewrites ``#/types/`` refs and collects ``$defs``."""

    def __init__(self, spec: SagaSpec) -> None:
        self.spec = spec
        self.used: dict[str, dict[str, Any]] = {}
        # The envelope's own types, renamed where the spec means something else by them.
        self.envelope_names: dict[str, str] = {}
        for name, body in _ENVELOPE_TYPES.items():
            theirs = spec.types.get(name)
            same = theirs is not None and _core(theirs) == _core(body)
            clash = theirs is not None and not same
            self.envelope_names[name] = f"Envelope{name}" if clash else name

    def envelope_ref(self, name: str) -> dict[str, Any]:
        target = self.envelope_names[name]
        if target not in self.used:
            if target == name and name in self.spec.types:
                self.type_ref(name)  # the spec's own (identical) type, with its notes
            else:
                self.used[target] = {**_ENVELOPE_TYPES[name], "title": target}
        return {"$ref": f"#/$defs/{target}"}

    def type_ref(self, name: str) -> dict[str, Any]:
        if name not in self.used:
            self.used[name] = {}  # placeholder: a recursive type refers to itself
            body = self.rewrite(self.spec.types[name])
            if name in _ENVELOPE_TYPES and self.envelope_names[name] == name:
                # The spec's copy of an envelope type: what it leaves unsaid, the envelope says.
                notes = {k: v for k, v in _ENVELOPE_TYPES[name].items() if k in _ANNOTATIONS}
                body = {**notes, **body}
            self.used[name] = {"title": name, **{k: v for k, v in body.items() if k != "title"}}
        return {"$ref": f"#/$defs/{name}"}

    def rewrite(self, node: Any) -> Any:
        """A spec schema fragment with its type refs pointing into ``$defs``."""
        if isinstance(node, list):
            return [self.rewrite(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/types/"):
                out.update(self.type_ref(value[len("#/types/"):]))
            elif key in ("const", "enum", "default", "examples"):
                out[key] = copy.deepcopy(value)  # data, not schemas
            elif key == "properties" and isinstance(value, dict):
                out[key] = {k: self.rewrite(v) for k, v in value.items()}
            else:
                out[key] = self.rewrite(value)
        if "const" in out and "type" not in out and "$ref" not in out:
            # Say the const's JSON type too: readers (and the docs' field tables) see it.
            kind = _JSON_TYPE.get(type(out["const"]))
            if kind:
                out["type"] = kind
        return out

    def field(self, f: SpecField) -> dict[str, Any]:
        body = self.rewrite(f.schema)
        if not f.nullable:
            return body
        notes = {k: body.pop(k) for k in ("description", "title") if k in body}
        out = {**notes, "anyOf": [body, {"type": "null"}]}
        if f.optional:
            out["default"] = None
        return out


def _generate(spec: SagaSpec, event: SpecEvent) -> dict[str, Any]:
    b = _Builder(spec)
    props: dict[str, Any] = {}
    required: list[str] = []

    def envelope(rows) -> None:
        for name, kind, text, req, examples in rows:
            if name == "eventType":
                props[name] = {"description": f"Determines the handler; always \"{event.name}\".",
                               "type": "string", "const": event.name}
            elif name == "schemaVersion":
                props[name] = {"description": text, "type": "integer", "const": event.version}
            elif req:
                props[name] = {"description": text, **b.envelope_ref(kind)}
                if examples:
                    props[name]["examples"] = list(examples)
            else:
                props[name] = {"description": text, "anyOf": [b.envelope_ref(kind), {"type": "null"}],
                               "default": None}
            if req:
                required.append(name)

    def fields(items) -> None:
        for f in items:
            if f.name in props:
                raise UsageError(f"{f.where}: field {f.name!r} of {event.name} is already an envelope or common field")
            props[f.name] = b.field(f)
            if not f.optional:
                required.append(f.name)

    envelope(_HEAD)
    fields(spec.common)
    envelope(_TAIL)
    fields(event.fields)
    schema: dict[str, Any] = {
        "$schema": META_SCHEMAS["2020-12"],
        "$id": spec_schema_id(spec, event.name),
        "title": event.name,
        "description": event.description or event.name,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
        "$defs": {name: b.used[name] for name in sorted(b.used)},
    }
    return schema


def content_key(spec: SagaSpec) -> str:
    """What the schemas of ``spec`` depend on (a spec compares by name and file only)."""
    key = json.dumps(
        [spec.name, spec.shipped, spec.types, [(f.name, f.schema, f.optional, f.nullable) for f in spec.common],
         [(e.name, e.version, e.description, [(f.name, f.schema, f.optional, f.nullable) for f in e.fields])
          for e in spec.events]],
        sort_keys=True, default=str,
    )
    _SPECS.setdefault(key, spec)
    return key


_SPECS: dict[str, SagaSpec] = {}


@lru_cache(maxsize=512)
def _cached(key: str, event: str, draft: str, with_examples: bool) -> str:
    spec = _SPECS[key]
    schema = _generate(spec, spec.event(event))
    if with_examples:
        schema["examples"] = spec_examples(spec, event)
    schema = _ordered(schema)
    if draft == "draft-07":
        schema = _to_draft07(schema)
        schema["$schema"] = META_SCHEMAS["draft-07"]
        schema["$id"] = spec_schema_id(spec, event, "draft-07")
        schema = _ordered(schema)
    return json.dumps(schema)


def spec_schema(spec: SagaSpec, event: str, draft: str = "2020-12", *, examples: bool = True) -> dict[str, Any]:
    """The JSON Schema of ``event`` of ``spec`` in ``draft`` (a fresh copy)."""
    draft = normalize_draft(draft)
    spec.event(event)  # DesignError naming the spec when unknown
    key = content_key(spec)
    return json.loads(_cached(key, event, draft, examples))


def spec_for_key(key: str) -> SagaSpec:
    """The spec a :func:`content_key` was computed for (after :func:`spec_schema` saw it)."""
    return _SPECS[key]


def spec_schemas(spec: SagaSpec, draft: str = "2020-12") -> dict[str, dict[str, Any]]:
    """Every event's schema, in the spec's order."""
    return {e: spec_schema(spec, e, draft) for e in spec.event_names}


def write_spec_schemas(spec: SagaSpec, directory: str | Path, draft: str = "2020-12") -> list[Path]:
    """Write one ``<Event>.json`` per event of ``spec`` into ``directory``."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for event, schema in spec_schemas(spec, draft).items():
        path = target / f"{event}.json"
        path.write_text(render(schema), encoding="utf-8")
        out.append(path)
    return out


def drifted_spec_files(spec: SagaSpec, directory: str | Path, draft: str = "2020-12") -> list[str]:
    """Files of ``directory`` that differ from (or are missing for, or are not) the spec's schemas."""
    target = Path(directory)
    drifted = []
    expected = spec_schemas(spec, draft)
    for event, schema in expected.items():
        path = target / f"{event}.json"
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != render(schema):
            drifted.append(path.name)
    if target.is_dir():
        names = {f"{e}.json" for e in expected}
        drifted.extend(sorted(p.name for p in target.glob("*.json") if p.name not in names))
    return drifted


# ------------------------------------------------------------------------------ examples

_TIMESTAMP = "2024-01-15T10:00:{:02d}Z"
_FORMATS = {
    "date-time": "2024-01-15T10:00:00Z",
    "date": "2024-01-15",
    "time": "10:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


def _stem(name: str) -> str:
    """``paymentId`` -> ``payment``, ``bookingRef`` -> ``booking-ref``."""
    base = re.sub(r"(Id|ID|_id)$", "", name) or name
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", base).lower()


def _matches(schema: dict[str, Any], text: str) -> bool:
    from sagaspec.spec.schemas import _ecma_regex

    if "pattern" in schema and not _ecma_regex(schema["pattern"]).search(text):
        return False
    return schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", 10**9)


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS and _matches(schema, _FORMATS[fmt]):
        return _FORMATS[fmt]
    stem = _stem(name) or "x"
    for text in (f"{stem}-1", stem, "100.00", "USD", "A1", "1", "a", stem.upper(), "x" * max(1, schema.get("minLength", 1))):
        if _matches(schema, text):
            return text
    return f"{stem}-1"


class _Synth:
    def __init__(self, spec: SagaSpec) -> None:
        self.spec = spec

    def value(self, schema: Any, name: str, depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > 8:
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/types/"):
            target = self.spec.types.get(ref[len("#/types/"):], {})
            schema = {**target, **{k: v for k, v in schema.items() if k not in ("$ref", "description")}}
        for key in ("const",):
            if key in schema:
                return copy.deepcopy(schema[key])
        if schema.get("examples"):
            return copy.deepcopy(schema["examples"][0])
        if schema.get("enum"):
            return copy.deepcopy(schema["enum"][0])
        if "default" in schema:
            return copy.deepcopy(schema["default"])
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                branches = [b for b in schema[key] if b != {"type": "null"}] or schema[key]
                return self.value(branches[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(part)
            return self.value({**merged, **{k: v for k, v in schema.items() if k != "allOf"}}, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            return {k: self.value(v, k, depth + 1) for k, v in props.items()}
        if kind == "array":
            n = max(1, int(schema.get("minItems", 1)))
            return [self.value(schema.get("items", {}), name.rstrip("s") or name, depth + 1) for _ in range(n)]
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
            high = schema.get("maximum", low)
            v = max(low, min(1, high)) if low <= 1 <= high else low
            return int(v) if kind == "integer" else v
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema, name)


def example_value(spec: SagaSpec, schema: dict[str, Any], name: str) -> Any:
    """A value valid for a field's ``schema`` (its ``const``, first example, enum value,
    default, or one made from its type, format and pattern), named after ``name``.

    >>> from sagaspec.spec.sagafile import shipped_spec
    >>> example_value(shipped_spec("corrected"), {"$ref": "#/types/Reason"}, "reason") != ""
    True
    """
    return _Synth(spec).value(schema, name)


def spec_examples(spec: SagaSpec, event: str) -> list[dict[str, Any]]:
    """Example events of ``event``, each valid against its schema (``[]`` if none could be
    made): one event made from the spec's schemas (``examples``, ``const``, ``enum``,
    ``default``, formats and patterns), its ids named after the fields (``paymentId`` is
    ``payment-1`` wherever it appears)."""
    spec.event(event)  # DesignError naming the spec when unknown
    # The examples read the reactions too (causationId): key on them as well as the events.
    flows = json.dumps([(r.service, r.on, r.emits) for r in spec.design().reactions])
    return json.loads(_cached_examples(content_key(spec), flows, event))


@lru_cache(maxsize=512)
def _cached_examples(key: str, flows: str, event: str) -> str:
    spec = _SPECS[key]
    out = _example_events(spec).get(event)
    if out is None:
        return "[]"
    import jsonschema
    from sagaspec.spec.schemas import FORMAT_CHECKER

    schema = spec_schema(spec, event, examples=False)
    if not jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid(out):
        return "[]"
    return json.dumps([out])


def _example_events(spec: SagaSpec) -> dict[str, dict[str, Any]]:
    """One event per event type of one saga; a field whose spec says where its value
    comes from (``from: EVENT.FIELD``) copies it, and ``causationId`` is the event that
    the first reaction publishing it handles."""
    synth = _Synth(spec)
    design = spec.design()
    made: dict[str, dict[str, Any]] = {}

    def make(name: str, busy: frozenset[str]) -> dict[str, Any]:
        if name in made:
            return made[name]
        index = spec.event_names.index(name)
        ev = spec.event(name)
        out: dict[str, Any] = {
            "eventId": f"evt-{index + 1}",
            "eventType": name,
            "schemaVersion": ev.version,
            "sagaId": "saga-1",
            "timestamp": _TIMESTAMP.format(index % 60),
        }
        for f in (*spec.common, *ev.fields):
            src = f.source or ""
            origin, _, field = src.partition(".")
            if field and "." not in field and origin in spec.event_names and origin not in busy | {name}:
                upstream = make(origin, busy | {name})
                if field in upstream:
                    out[f.name] = copy.deepcopy(upstream[field])
                    continue
            out[f.name] = synth.value(f.schema, f.name)
        cause = next((r.on[0] for r in design.emitters(name) if r.on), None)
        if cause is not None:
            out["causationId"] = f"evt-{spec.event_names.index(cause) + 1}"
        # In the schema's field order: the envelope's tail follows the common fields.
        order = [*(row[0] for row in _HEAD), *(f.name for f in spec.common), *(row[0] for row in _TAIL)]
        out = {**{k: out[k] for k in order if k in out}, **{k: v for k, v in out.items() if k not in order}}
        made[name] = out
        return out

    for name in spec.event_names:
        make(name, frozenset())
    return made
