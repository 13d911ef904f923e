"""Generate the event JSON Schemas (draft 2020-12 and draft-07) from the pydantic models.

The committed files under ``spec/schemas/<draft>/`` are the output of this module; a
golden test fails when they drift from the models. Regenerate them with::

    python -m sagaspec.spec.schemagen

Generation starts from pydantic's own JSON Schema of each model and reshapes it into a
standalone, documented wire-format schema:

* absolute ``$id`` (``https://sagaspec.dev/schemas/v1/OrderCreated.json``; the path
  segment is the event's ``schemaVersion``), ``title`` and ``description``;
* shared parts (``Identifier``, ``Timestamp``, ``Money``, ``Currency``, ``Reason``,
  ``LineItem``) under ``$defs`` and referenced from each field, which keeps its own
  ``description``;
* ``eventType`` and ``schemaVersion`` are *required* on the wire even though the Python
  constructors default them: consumers dispatch on both;
* ``Timestamp`` adds an RFC 3339 ``pattern`` to ``format: date-time`` so that
  validators which treat ``format`` as an annotation still reject a missing time zone;
* ``examples`` are the valid events of :mod:`sagaspec.spec.examples`.

The draft-07 variant (for AsyncAPI 3 and hypothesis-jsonschema) renames ``$defs`` to
``definitions`` and wraps every ``$ref`` that has sibling keywords in ``allOf``, because
draft-07 ignores siblings of ``$ref``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sagaspec.spec import events
from sagaspec.spec.examples import examples_for

from sagaspec.errors import UsageError

__all__ = [
    "SCHEMA_BASE",
    "DRAFTS",
    "META_SCHEMAS",
    "normalize_draft",
    "schema_id",
    "generate_schema",
    "generate_all",
    "render",
    "schema_dir",
    "write_schemas",
    "drifted_files",
    "REGENERATE_COMMAND",
]

#: Base URL of every schema ``$id``.
SCHEMA_BASE = "https://sagaspec.dev/schemas"

#: Supported JSON Schema drafts, by canonical name (also the folder name).
DRAFTS: tuple[str, ...] = ("2020-12", "draft-07")

META_SCHEMAS = {
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
    "draft-07": "http://json-schema.org/draft-07/schema#",
}

#: How to rewrite the committed schema files after changing the models.
REGENERATE_COMMAND = "python -m sagaspec.spec.schemagen"

_DRAFT_ALIASES = {
    "2020-12": "2020-12",
    "draft-2020-12": "2020-12",
    "draft2020-12": "2020-12",
    "07": "draft-07",
    "7": "draft-07",
    "draft-07": "draft-07",
    "draft7": "draft-07",
    "draft-7": "draft-07",
}

# Fields the wire format requires although the Python constructors default them.
_WIRE_REQUIRED = ("eventType", "schemaVersion")

_ANNOTATIONS = ("description", "examples", "default")

_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def _core(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema without its annotations: what it *validates*."""
    return {k: v for k, v in schema.items() if k not in (*_ANNOTATIONS, "title")}


def _shared_defs() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (core pydantic emits for it, the ``$defs`` entry that replaces it)."""

    def from_alias(alias: Any) -> dict[str, Any]:
        return TypeAdapter(alias).json_schema()

    money = from_alias(events.Money)
    reason = from_alias(events.Reason)
    ident = from_alias(events.Identifier)
    return {
        "Identifier": (
            _core(ident),
            {
                **_core(ident),
                "title": "Identifier",
                "description": (
                    "Opaque identifier: 1 to 128 characters, letters, digits and . _ : -, "
                    "starting with a letter or digit."
                ),
                "examples": ["evt-123", "saga-456"],
            },
        ),
        "Timestamp": (
            {"type": "string", "format": "date-time"},
            {
                "type": "string",
                "format": "date-time",
                "pattern": _RFC3339,
                "title": "Timestamp",
                "description": (
                    "RFC 3339 date-time with a time zone (Z or +hh:mm), e.g. "
                    "\"2024-01-15T10:00:00Z\"; events are ordered per saga by it."
                ),
                "examples": ["2024-01-15T10:00:00Z"],
            },
        ),
        "Money": (
            _core(money),
            {**_core(money), "title": "Money", "description": money["description"],
             "examples": money.get("examples", ["100.00"])},
        ),
        "Currency": (
            {"type": "string", "pattern": "^[A-Z]{3}$"},
            {
                "type": "string",
                "pattern": "^[A-Z]{3}$",
                "title": "Currency",
                "description": "ISO 4217 currency code: three capital letters.",
                "examples": ["USD"],
            },
        ),
        "Reason": (
            _core(reason),
            {**_core(reason), "title": "Reason", "description": reason["description"],
             "examples": ["card declined"]},
        ),
    }


class _Shaper:
    """Rewrites one pydantic model schema into the wire-format schema (2020-12)."""

    def __init__(self, pyd_defs: dict[str, Any]) -> None:
        self.shared = _shared_defs()
        self.pyd_defs = pyd_defs
        self.used: dict[str, dict[str, Any]] = {}

    def _match(self, core: dict[str, Any]) -> str | None:
        for name, (pattern, _) in self.shared.items():
            if core == pattern:
                return name
        return None

    def _ref(self, name: str) -> dict[str, Any]:
        if name not in self.used:
            if name in self.shared:
                self.used[name] = copy.deepcopy(self.shared[name][1])
            else:
                self.used[name] = None  # type: ignore[assignment]  # placeholder: recursion
                self.used[name] = self.model_def(name)
        return {"$ref": f"#/$defs/{name}"}

    def model_def(self, name: str) -> dict[str, Any]:
        raw = self.pyd_defs[name]
        out: dict[str, Any] = {"title": name, "description": raw["description"], "type": "object"}
        out["properties"] = {k: self.field(k, v) for k, v in raw["properties"].items()}
        out["required"] = list(raw.get("required", []))
        out["additionalProperties"] = raw.get("additionalProperties", True)
        return out

    def field(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        notes = {k: schema[k] for k in _ANNOTATIONS if k in schema}
        core = _core(schema)
        shared = self._match(core)
        if shared is not None:
            body = self._ref(shared)
            # An example identical to the shared one says nothing about this field.
            if notes.get("examples") == self.shared[shared][1].get("examples"):
                notes.pop("examples")
        elif "$ref" in core and len(core) == 1:
            body = self._ref(core["$ref"].rsplit("/", 1)[1])
        elif "anyOf" in core and len(core) == 1:
            body = {"anyOf": [self.value(alt) for alt in core["anyOf"]]}
        elif core.get("type") == "array":
            body = {**core, "items": self.value(core["items"])}
        else:
            body = core
        if "description" not in notes:
            raise ValueError(f"field {name!r} has no description; add one to the model")
        return {**body, **notes}

    def value(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A nested value schema (array items, ``anyOf`` branches)."""
        core = _core(schema)
        shared = self._match(core)
        if shared is not None:
            return self._ref(shared)
        if "$ref" in core and len(core) == 1:
            return self._ref(core["$ref"].rsplit("/", 1)[1])
        return core


def normalize_draft(draft: str) -> str:
    """Canonical draft name (``"2020-12"`` or ``"draft-07"``) of a user-given spelling.

    >>> normalize_draft("07"), normalize_draft("draft-2020-12")
    ('draft-07', '2020-12')
    """
    try:
        return _DRAFT_ALIASES[str(draft).strip().lower()]
    except KeyError:
        raise UsageError(f"unknown JSON Schema draft {draft!r}; expected 2020-12 or 07") from None


def schema_id(event_type: str, draft: str = "2020-12", version: int | None = None) -> str:
    """The absolute ``$id`` of an event's schema.

    >>> schema_id("OrderCreated")
    'https://sagaspec.dev/schemas/v1/OrderCreated.json'
    >>> schema_id("OrderCreated", "07")
    'https://sagaspec.dev/schemas/v1/draft-07/OrderCreated.json'
    """
    draft = normalize_draft(draft)
    v = events.SCHEMA_VERSION if version is None else version
    middle = "" if draft == "2020-12" else f"{draft}/"
    return f"{SCHEMA_BASE}/v{v}/{middle}{event_type}.json"


def _generate_2020(event_type: str) -> dict[str, Any]:
    model = events.model_for(event_type)
    raw = model.model_json_schema()
    shaper = _Shaper(raw.get("$defs", {}))
    properties = {k: shaper.field(k, v) for k, v in raw["properties"].items()}
    for name in _WIRE_REQUIRED:
        properties[name].pop("default", None)  # required on the wire: a default misleads
    required = [k for k in properties if k in raw.get("required", ()) or k in _WIRE_REQUIRED]
    version = raw["properties"]["schemaVersion"]["const"]
    schema: dict[str, Any] = {
        "$schema": META_SCHEMAS["2020-12"],
        "$id": schema_id(event_type, "2020-12", version),
        "title": event_type,
        "description": " ".join((model.__doc__ or event_type).split()),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "examples": examples_for(event_type),
        "$defs": {name: shaper.used[name] for name in sorted(shaper.used)},
    }
    return schema


_KEY_ORDER = (
    "$schema", "$id", "title", "description", "type", "const", "enum", "format", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "items",
    "properties", "required", "additionalProperties", "allOf", "anyOf", "$ref", "default",
    "examples", "$defs", "definitions",
)
_RANK = {k: i for i, k in enumerate(_KEY_ORDER)}


def _ordered(schema: Any) -> Any:
    """Canonical key order (documentation first), recursively; data values untouched."""
    if isinstance(schema, list):
        return [_ordered(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key in sorted(schema, key=lambda k: (_RANK.get(k, len(_RANK)), k)):
        value = schema[key]
        if key in ("properties", "$defs", "definitions"):
            out[key] = {k: _ordered(v) for k, v in value.items()}
        elif key in ("examples", "default", "const", "enum", "required"):
            out[key] = value
        else:
            out[key] = _ordered(value)
    return out


def _to_draft07(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_to_draft07(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            out["definitions"] = {k: _to_draft07(v) for k, v in value.items()}
        elif key == "$ref":
            out["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key in ("properties", "definitions"):
            out[key] = {k: _to_draft07(v) for k, v in value.items()}
        elif key in ("examples", "default", "const", "enum"):
            out[key] = copy.deepcopy(value)  # data, not schemas
        else:
            out[key] = _to_draft07(value)
    if "$ref" in out and len(out) > 1:
        # Draft-07 ignores every sibling of $ref; keep them meaningful with allOf.
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


_DRAFT_2020_ONLY = ("prefixItems", "unevaluatedProperties", "unevaluatedItems",
                    "dependentSchemas", "dependentRequired", "$anchor", "$dynamicRef")


def generate_schema(event_type: str, draft: str = "2020-12") -> dict[str, Any]:
    """Generate the schema of ``event_type`` from its model (not from the committed file)."""
    draft = normalize_draft(draft)
    events.model_for(event_type)  # KeyError naming the known types
    schema = _ordered(_generate_2020(event_type))
    if draft == "2020-12":
        return schema
    converted = _to_draft07(schema)
    converted["$schema"] = META_SCHEMAS["draft-07"]
    converted["$id"] = schema_id(event_type, "draft-07", schema["properties"]["schemaVersion"]["const"])
    text = json.dumps(converted)
    for keyword in _DRAFT_2020_ONLY:
        if f'"{keyword}"' in text:
            raise ValueError(f"{event_type}: {keyword} has no draft-07 equivalent")
    return _ordered(converted)


def generate_all(draft: str = "2020-12") -> dict[str, dict[str, Any]]:
    """Every event's generated schema, in :data:`~sagaspec.spec.events.EVENT_TYPES` order."""
    return {t: generate_schema(t, draft) for t in events.EVENT_TYPES}


def render(schema: dict[str, Any]) -> str:
    """The canonical text of a schema file (stable key order, 2-space indent, final newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schema_dir(draft: str = "2020-12") -> Path:
    """Folder of the committed schema files of ``draft`` (inside the package)."""
    return Path(__file__).resolve().parent / "schemas" / normalize_draft(draft)


def write_schemas(directory: str | Path, draft: str = "2020-12") -> list[Path]:
    """Write one ``<EventType>.json`` per event into ``directory``; return the paths."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in generate_all(draft).items():
        path = target / f"{event_type}.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def drifted_files(directory: str | Path, draft: str = "2020-12") -> list[str]:
    """Names of files in ``directory`` that differ from (or are missing for) the models."""
    target = Path(directory)
    drifted = []
    for event_type, schema in generate_all(draft).items():
        path = target / f"{event_type}.json"
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != render(schema):
            drifted.append(path.name)
    expected = {f"{t}.json" for t in events.EVENT_TYPES}
    if target.is_dir():
        drifted.extend(sorted(p.name for p in target.glob("*.json") if p.name not in expected))
    return drifted


def main(argv: list[str] | None = None) -> int:
    """Rewrite the committed schema files of both drafts; print what changed."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else schema_dir().parent
    for draft in DRAFTS:
        stale = set(drifted_files(root / draft, draft))
        expected = {f"{t}.json" for t in events.EVENT_TYPES}
        for extra in stale - expected:
            (root / draft / extra).unlink()
        write_schemas(root / draft, draft)
        print(f"{root / draft}: {len(stale)} file(s) updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
