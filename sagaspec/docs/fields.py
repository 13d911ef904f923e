"""Read an event's JSON Schema (draft 2020-12) into rows for a field table.

Each property becomes a :class:`FieldDoc`: name, a readable type (``string``,
``Identifier or null``, ``array of LineItem``), whether it is required, its constraints
(``pattern``, lengths, bounds, ``const``, ``format``, ``default``; those of a referenced
shared type included) and its description. Shared types under ``$defs`` are documented
the same way by :func:`type_docs`.

>>> from sagaspec.spec.schemas import schema_for
>>> rows = {f.name: f for f in schema_fields(schema_for("OrderCreated"))}
>>> rows["amount"].type, rows["amount"].required, rows["amount"].ref
('string (Money)', True, 'Money')
>>> rows["causationId"].type
'Identifier or null'
>>> rows["items"].type
'array of LineItem'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["FieldDoc", "TypeDoc", "schema_fields", "type_docs", "constraints_of"]

_DEFS = ("#/$defs/", "#/definitions/")


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    required: bool
    constraints: tuple[str, ...]
    description: str
    ref: str | None = None  # the shared type this field uses, if any
    own: tuple[str, ...] = ()  # constraints written on the field itself


@dataclass(frozen=True)
class TypeDoc:
    name: str
    type: str
    constraints: tuple[str, ...]
    description: str
    fields: tuple[FieldDoc, ...] = ()


def _ref_name(ref: str) -> str | None:
    for prefix in _DEFS:
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return None


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def constraints_of(schema: dict[str, Any]) -> list[str]:
    """Human-readable validation keywords of one (sub)schema, in a stable order.

    >>> constraints_of({"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^a$"})
    ['length 1..128', 'pattern ^a$']
    """
    out: list[str] = []
    if "const" in schema:
        out.append(f"const {_j(schema['const'])}")
    if "enum" in schema:
        out.append("one of " + ", ".join(_j(v) for v in schema["enum"]))
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None or hi is not None:
        out.append(f"length {lo if lo is not None else 0}..{hi if hi is not None else '∞'}")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None or hi is not None:
        out.append(f"range {lo if lo is not None else '-∞'}..{hi if hi is not None else '∞'}")
    if "exclusiveMinimum" in schema:
        out.append(f"> {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema:
        out.append(f"< {schema['exclusiveMaximum']}")
    lo, hi = schema.get("minItems"), schema.get("maxItems")
    if lo is not None or hi is not None:
        out.append(f"items {lo if lo is not None else 0}..{hi if hi is not None else '∞'}")
    if schema.get("uniqueItems"):
        out.append("unique items")
    if "format" in schema:
        out.append(f"format {schema['format']}")
    if "pattern" in schema:
        out.append(f"pattern {schema['pattern']}")
    if "default" in schema and schema["default"] is not None:
        out.append(f"default {_j(schema['default'])}")
    if schema.get("additionalProperties") is False:
        out.append("no other properties")
    return out


def _describe(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, list[str], str | None]:
    """(type text, constraints, referenced shared type) of a property schema."""
    own = constraints_of(prop)
    ref = None
    if "$ref" in prop or (
        "allOf" in prop and len(prop["allOf"]) == 1 and "$ref" in prop["allOf"][0]
    ):
        ref = _ref_name(prop.get("$ref") or prop["allOf"][0]["$ref"])
        target = defs.get(ref, {})
        base = target.get("type", "object")
        text = f"{base} ({ref})" if base != "object" else ref
        return text, own + [c for c in constraints_of(target) if c not in own], ref
    if "anyOf" in prop or "oneOf" in prop:
        alts = prop.get("anyOf") or prop.get("oneOf")
        texts, cons = [], list(own)
        for alt in alts:
            if alt.get("type") == "null":
                texts.append("null")
                continue
            t, c, r = _describe(alt, defs)
            ref = ref or r
            texts.append(r or t)
            cons += [x for x in c if x not in cons]
        return " or ".join(texts), cons, ref
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and isinstance(prop.get("items"), dict):
        t, c, r = _describe(prop["items"], defs)
        return f"array of {r or t}", own, r
    return kind, own, None


def schema_fields(schema: dict[str, Any]) -> list[FieldDoc]:
    """One row per property of an object schema, in the schema's order."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        text, cons, ref = _describe(prop, defs)
        own = tuple(constraints_of(prop))
        if "items" in prop and isinstance(prop["items"], dict) and "$ref" not in prop["items"]:
            own += tuple(c for c in constraints_of(prop["items"]) if c not in own)
        rows.append(
            FieldDoc(
                name=name,
                type=text,
                required=name in required,
                constraints=tuple(cons),
                description=prop.get("description") or defs.get(ref or "", {}).get("description", ""),
                ref=ref,
                own=own,
            )
        )
    return rows


def type_docs(schema: dict[str, Any]) -> list[TypeDoc]:
    """The shared types (``$defs``) of ``schema``, objects with their own field rows."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    out = []
    for name, body in sorted(defs.items()):
        fields = ()
        if body.get("type") == "object" and "properties" in body:
            fields = tuple(schema_fields({**body, "$defs": defs}))
        out.append(
            TypeDoc(
                name=name,
                type=body.get("type", "any"),
                constraints=tuple(constraints_of(body)),
                description=body.get("description", ""),
                fields=fields,
            )
        )
    return out
