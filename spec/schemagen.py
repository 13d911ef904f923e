"""The committed event JSON Schemas (draft 2020-12 and draft-07) of the shipped order saga.

The files under ``spec/schemas/<draft>/`` are the output of
:func:`sagaspec.spec.specschemas.spec_schema` for the shipped spec
(``spec/sagas/order-corrected.saga.yaml``; the seed spec declares the same events), the
same generator every saga spec's schemas come from; a golden test fails when they drift
from the spec. Regenerate them with::

    python -m sagaspec.spec.schemagen

This module also holds what every generated schema shares: the ``$id`` scheme
(``https://sagaspec.dev/schemas/v1/OrderCreated.json``; the path segment is the event's
``schemaVersion``), the canonical key order, and the draft-07 conversion (for AsyncAPI 3
and hypothesis-jsonschema), which renames ``$defs`` to ``definitions`` and wraps every
``$ref`` that has sibling keywords in ``allOf``, because draft-07 ignores siblings of
``$ref``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

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

#: How to rewrite the committed schema files after changing the shipped spec.
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
    v = 1 if version is None else version
    middle = "" if draft == "2020-12" else f"{draft}/"
    return f"{SCHEMA_BASE}/v{v}/{middle}{event_type}.json"


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


def _shipped_spec(spec: SagaSpec | None = None) -> SagaSpec:
    from sagaspec.spec.sagafile import shipped_spec

    return shipped_spec("corrected") if spec is None else spec


def generate_schema(event_type: str, draft: str = "2020-12", spec: SagaSpec | None = None) -> dict[str, Any]:
    """Generate the schema of ``event_type`` from the spec (default: the shipped order
    saga), not from the committed file."""
    from sagaspec.spec.specschemas import spec_schema

    draft = normalize_draft(draft)
    saga = _shipped_spec(spec)
    if event_type not in saga.event_names:
        raise KeyError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(saga.event_names)}"
        )
    schema = spec_schema(saga, event_type, draft)
    if draft == "draft-07":
        text = json.dumps(schema)
        for keyword in _DRAFT_2020_ONLY:
            if f'"{keyword}"' in text:
                raise ValueError(f"{event_type}: {keyword} has no draft-07 equivalent")
    return schema


def generate_all(draft: str = "2020-12", spec: SagaSpec | None = None) -> dict[str, dict[str, Any]]:
    """Every event's generated schema, in the spec's event order."""
    saga = _shipped_spec(spec)
    return {t: generate_schema(t, draft, saga) for t in saga.event_names}


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
    """Names of files in ``directory`` that differ from (or are missing for) the spec."""
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
    expected = {f"{t}.json" for t in _shipped_spec().event_names}
    if target.is_dir():
        drifted.extend(sorted(p.name for p in target.glob("*.json") if p.name not in expected))
    return drifted


def main(argv: list[str] | None = None) -> int:
    """Rewrite the committed schema files of both drafts; print what changed."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else schema_dir().parent
    for draft in DRAFTS:
        stale = set(drifted_files(root / draft, draft))
        expected = {f"{t}.json" for t in _shipped_spec().event_names}
        for extra in stale - expected:
            (root / draft / extra).unlink()
        write_schemas(root / draft, draft)
        print(f"{root / draft}: {len(stale)} file(s) updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
