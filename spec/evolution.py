"""Schema evolution: what a new ``schemaVersion`` may change, and a checker for it.

The rule
--------
Events outlive the code that wrote them: they sit in logs and queues while producers and
consumers upgrade at different times. So a new version of an event schema must keep both
directions working:

* every event valid under the old schema stays valid under the new one (new consumers
  read old events), and
* everything old consumers rely on keeps its name, type and presence (old consumers read
  new events).

**Compatible** (allowed in a new ``schemaVersion``):

* adding an *optional* field;
* loosening a constraint: accepting ``null`` or another type as well, a longer
  ``maxLength``, a lower ``minimum``, more ``enum`` values, dropping a ``pattern`` or
  ``format``, allowing additional properties;
* adding a new event type;
* changing only documentation (``description``, ``title``, ``examples``, ``$id``).

**Breaking** (needs a new event type, or a migration plan for every consumer):

* removing a field, or renaming it (a removal plus an addition);
* retyping a field (``amount`` from string to number), or no longer accepting ``null``;
* a new required field, or making an optional field required;
* making a required field optional (old consumers rely on its presence);
* narrowing a constraint: fewer ``enum`` values, a new or different ``pattern`` or
  ``format``, a shorter ``maxLength``, a higher ``minimum``, forbidding additional
  properties;
* removing an event type;
* a schema change without a higher ``schemaVersion``, or a lower one.

Anything this checker cannot compare (a changed ``anyOf``, ``not``, ``if``/``then``) is
reported as breaking: it errs on the side of a human look.

>>> from sagaspec.spec.schemas import schema_for
>>> old = schema_for("OrderCancelled")
>>> new = schema_for("OrderCancelled")
>>> new["properties"]["schemaVersion"]["const"] = 2
>>> new["properties"]["note"] = {"type": "string", "description": "Free text."}
>>> [str(c) for c in diff_schema(old, new)]
['OrderCancelled/schemaVersion: compatible: schemaVersion 1 -> 2', 'OrderCancelled/note: compatible: optional field added']
>>> new["required"].append("note")
>>> [c.kind for c in diff_schema(old, new)]
['compatible', 'breaking']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import SchemaError as MetaSchemaError

from sagaspec.errors import InputError, UsageError

__all__ = [
    "Change",
    "diff_schema",
    "diff_schema_sets",
    "diff_paths",
    "load_schemas",
    "has_breaking",
]

Kind = Literal["breaking", "compatible"]


@dataclass(frozen=True)
class Change:
    """One difference between two versions of an event schema.

    ``path`` is the field path inside the event (``/items/*/unitPrice``; ``*`` stands
    for every array element), ``""`` for the event itself.
    """

    kind: Kind
    event: str
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.event}{self.path}: {self.kind}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "event": self.event, "path": self.path,
                "rule": self.rule, "message": self.message}


_ANNOTATIONS = frozenset({
    "title", "description", "examples", "default", "$comment", "$id", "$schema", "$defs",
    "definitions", "readOnly", "writeOnly", "deprecated", "$anchor", "contentMediaType",
})
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_HANDLED = frozenset({
    "type", "const", "enum", "pattern", "format", "properties", "required",
    "additionalProperties", "items", "multipleOf", "uniqueItems", *_LOWER, *_UPPER,
})


# --- normalization ------------------------------------------------------------------------


def _pointer(root: Any, ref: str) -> Any:
    node = root
    for raw in ref[2:].split("/") if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def _normalize(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """Inline local ``$ref``s, flatten ``allOf``, drop annotations, mark nullability."""
    if depth > 64:
        raise InputError("schema nests too deeply (a recursive $ref?)")
    if isinstance(schema, bool) or not isinstance(schema, dict):
        return schema
    parts: list[dict[str, Any]] = []
    own: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith("#"):
            try:
                target = _pointer(root, value)
            except (KeyError, IndexError, ValueError):
                raise InputError(f"unresolvable $ref {value!r}") from None
            parts.append(_normalize(target, root, depth + 1))
        elif key == "allOf" and isinstance(value, list):
            parts.extend(_normalize(v, root, depth + 1) for v in value)
        elif key in ("properties", "patternProperties") and isinstance(value, dict):
            own[key] = {k: _normalize(v, root, depth + 1) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
            own[key] = _normalize(value, root, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            own[key] = [_normalize(v, root, depth + 1) for v in value]
        else:
            own[key] = value
    merged: dict[str, Any] = {}
    leftovers: list[Any] = []
    for part in [*parts, own]:
        if not isinstance(part, dict):
            leftovers.append(part)
            continue
        for key, value in part.items():
            if key in merged and merged[key] != value:
                leftovers.append({key: value})  # a real conjunction: kept, compared opaquely
            else:
                merged[key] = value
    if leftovers:
        merged["allOf"] = leftovers
    # anyOf [X, {type: null}] is "X or null": compare X, and nullability separately.
    for key in ("anyOf", "oneOf"):
        branches = merged.get(key)
        if isinstance(branches, list) and {"type": "null"} in branches:
            rest = [b for b in branches if b != {"type": "null"}]
            merged.pop(key)
            merged["nullable"] = True
            if len(rest) == 1 and isinstance(rest[0], dict):
                for k, v in rest[0].items():
                    merged.setdefault(k, v)
            elif rest:
                merged[key] = rest
    types = merged.get("type")
    if isinstance(types, list) and "null" in types:
        merged["nullable"] = True
        kept = [t for t in types if t != "null"]
        merged["type"] = kept if len(kept) != 1 else kept[0]
        if not kept:
            merged.pop("type")
    return merged


# --- comparison ---------------------------------------------------------------------------


class _Differ:
    def __init__(self, event: str) -> None:
        self.event = event
        self.changes: list[Change] = []

    def add(self, kind: Kind, path: str, rule: str, message: str) -> None:
        self.changes.append(Change(kind, self.event, path, rule, message))

    def compare(self, old: Any, new: Any, path: str) -> None:
        if isinstance(old, bool) or isinstance(new, bool):
            if _canon(old) != _canon(new):
                if old is False or new is True or new == {}:
                    self.add("compatible", path, "loosened", "accepts more values than before")
                else:
                    self.add("breaking", path, "narrowed", "accepts fewer values than before")
            return
        if path == "/schemaVersion":
            self.version(old, new, path)
            return
        self.nullable(old, new, path)
        if self.types(old, new, path):
            return  # retyped: details below would only repeat it
        self.values(old, new, path)
        self.strings(old, new, path)
        self.bounds(old, new, path)
        self.objects(old, new, path)
        self.arrays(old, new, path)
        for key in sorted((set(old) | set(new)) - _HANDLED - {"nullable"}):
            if _canon(old.get(key)) != _canon(new.get(key)):
                self.add("breaking", path, "uncomparable",
                         f"{key} changed; sagaspec cannot prove the new one accepts every old value")

    def version(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        a, b = old.get("const"), new.get("const")
        if a == b:
            return
        if isinstance(a, int) and isinstance(b, int) and b > a:
            self.add("compatible", path, "version-bumped", f"schemaVersion {a} -> {b}")
        else:
            self.add("breaking", path, "version-regressed",
                     f"schemaVersion {json.dumps(a)} -> {json.dumps(b)}: versions must increase")

    def nullable(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        if old.get("nullable") and not new.get("nullable"):
            self.add("breaking", path, "null-removed", "no longer accepts null")
        elif new.get("nullable") and not old.get("nullable"):
            self.add("compatible", path, "null-added", "now also accepts null")

    def types(self, old: dict[str, Any], new: dict[str, Any], path: str) -> bool:
        to, tn = _typeset(old), _typeset(new)
        if to == tn:
            return False
        if tn is None:
            self.add("compatible", path, "loosened", f"no longer restricted to {_names(to)}")
            return False
        if to is None:
            self.add("breaking", path, "narrowed", f"now restricted to {_names(tn)}")
            return False
        removed = {t for t in to - tn if not (t == "integer" and "number" in tn)}
        added = {t for t in tn - to if not (t == "integer" and "number" in to)}
        if removed and not (to & tn or ("integer" in to and "number" in tn)
                            or ("number" in to and "integer" in tn)):
            self.add("breaking", path, "retyped", f"type changed from {_names(to)} to {_names(tn)}")
            return True
        if removed:
            self.add("breaking", path, "narrowed", f"no longer accepts {_names(removed)}")
        if added:
            self.add("compatible", path, "loosened", f"now also accepts {_names(added)}")
        return False

    def values(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        vo, vn = _allowed(old), _allowed(new)
        if vo == vn:
            return
        if vn is None:
            self.add("compatible", path, "loosened", f"no longer restricted to {_show(vo)}")
        elif vo is None:
            self.add("breaking", path, "narrowed", f"now restricted to {_show(vn)}")
        else:
            if vo - vn:
                self.add("breaking", path, "narrowed", f"no longer allows {_show(vo - vn)}")
            if vn - vo:
                self.add("compatible", path, "loosened", f"also allows {_show(vn - vo)}")

    def strings(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        for key in ("pattern", "format"):
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            if b is None:
                self.add("compatible", path, "loosened", f"{key} {a!r} removed")
            elif a is None:
                self.add("breaking", path, "narrowed", f"{key} {b!r} added")
            else:
                self.add("breaking", path, "narrowed", f"{key} changed from {a!r} to {b!r}")

    def bounds(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        for key in (*_LOWER, *_UPPER):
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            lower = key in _LOWER
            tighter = (b is not None and (a is None or (b > a if lower else b < a)))
            if tighter:
                self.add("breaking", path, "narrowed", f"{key} {a} -> {b}")
            else:
                self.add("compatible", path, "loosened", f"{key} {a} -> {b}")
        a, b = old.get("multipleOf"), new.get("multipleOf")
        if a != b:
            ok = b is None or (a is not None and (a / b) == int(a / b))
            self.add("compatible" if ok else "breaking", path, "loosened" if ok else "narrowed",
                     f"multipleOf {a} -> {b}")
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            if new.get("uniqueItems"):
                self.add("breaking", path, "narrowed", "items must now be unique")
            else:
                self.add("compatible", path, "loosened", "items need no longer be unique")

    def objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        po, pn = old.get("properties", {}), new.get("properties", {})
        ro, rn = set(old.get("required", ())), set(new.get("required", ()))
        for name in po:
            where = f"{path}/{name}"
            if name not in pn:
                self.add("breaking", where, "field-removed",
                         "required field removed" if name in ro else "optional field removed")
                continue
            if name in ro and name not in rn:
                self.add("breaking", where, "required-removed",
                         "no longer required (old consumers rely on it)")
            elif name in rn and name not in ro:
                self.add("breaking", where, "required-added",
                         "became required (old events may lack it)")
            self.compare(po[name], pn[name], where)
        for name in pn:
            if name in po:
                continue
            where = f"{path}/{name}"
            if name in rn:
                self.add("breaking", where, "required-added",
                         "new required field (old events lack it)")
            else:
                self.add("compatible", where, "field-added", "optional field added")
        for name in sorted(rn - set(pn) - ro):
            self.add("breaking", f"{path}/{name}", "required-added", "new required field")
        ao, an = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if _canon(ao) != _canon(an):
            if an is True or an == {}:
                self.add("compatible", path, "loosened", "now allows additional properties")
            elif ao is True or ao == {} or an is False:
                self.add("breaking", path, "narrowed", "restricts additional properties")
            else:
                self.compare(ao, an, f"{path}/*")

    def arrays(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        io, in_ = old.get("items"), new.get("items")
        if _canon(io) == _canon(in_):
            return
        if in_ is None:
            self.add("compatible", path, "loosened", "items no longer constrained")
        elif io is None:
            self.add("breaking", path, "narrowed", "items now constrained")
        elif isinstance(io, dict) and isinstance(in_, dict):
            self.compare(io, in_, f"{path}/*")
        else:
            self.add("breaking", path, "uncomparable", "items changed")


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _typeset(schema: dict[str, Any]) -> frozenset[str] | None:
    t = schema.get("type")
    if t is None:
        return None
    return frozenset([t] if isinstance(t, str) else t)


def _names(types: Any) -> str:
    return " or ".join(sorted(types)) if types else "nothing"


def _allowed(schema: dict[str, Any]) -> frozenset[str] | None:
    if "const" in schema:
        return frozenset({_canon(schema["const"])})
    if "enum" in schema:
        return frozenset(_canon(v) for v in schema["enum"])
    return None


def _show(values: Any) -> str:
    return ", ".join(sorted(values)) if values else "nothing"


def _event_name(schema: dict[str, Any], fallback: str) -> str:
    props = schema.get("properties")
    if isinstance(props, dict):
        et = props.get("eventType")
        if isinstance(et, dict) and isinstance(et.get("const"), str):
            return et["const"]
    title = schema.get("title")
    return title if isinstance(title, str) and title else fallback


def diff_schema(old: dict[str, Any], new: dict[str, Any], event: str | None = None) -> list[Change]:
    """Every breaking and compatible change from ``old`` to ``new`` (one event's schema)."""
    name = event or _event_name(new, _event_name(old, "event"))
    differ = _Differ(name)
    differ.compare(_normalize(old, old), _normalize(new, new), "")
    substantive = [c for c in differ.changes if c.rule != "version-bumped"]
    bumped = any(c.rule in ("version-bumped", "version-regressed") for c in differ.changes)
    if substantive and not bumped:
        version = old.get("properties", {}).get("schemaVersion", {})
        current = version.get("const") if isinstance(version, dict) else None
        differ.add("breaking", "/schemaVersion", "version-not-bumped",
                   f"the schema changed but schemaVersion stays {json.dumps(current)}; "
                   "every change needs a higher schemaVersion")
    return differ.changes


def diff_schema_sets(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[Change]:
    """Changes between two sets of event schemas keyed by event type."""
    changes: list[Change] = []
    for name, schema in old.items():
        if name not in new:
            changes.append(Change("breaking", name, "", "event-removed", "event type removed"))
        else:
            changes.extend(diff_schema(schema, new[name], name))
    for name in new:
        if name not in old:
            changes.append(Change("compatible", name, "", "event-added", "event type added"))
    return changes


def has_breaking(changes: list[Change]) -> bool:
    """Whether any change is breaking."""
    return any(c.kind == "breaking" for c in changes)


# --- files --------------------------------------------------------------------------------


def _load_file(path: Path) -> dict[str, Any]:
    from sagaspec.spec._jsonlimits import FILE_LIMITS, JSONLimitError, loads, read_limited

    try:
        raw = read_limited(path, FILE_LIMITS)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except JSONLimitError as exc:
        raise InputError(f"{path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        schema = loads(text, FILE_LIMITS)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
    except (JSONLimitError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None
    if not isinstance(schema, dict):
        raise InputError(f"{path}: expected a JSON Schema object, got a JSON {type(schema).__name__}")
    try:
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator) \
            .check_schema(schema)
    except MetaSchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise InputError(f"{path}: not a valid JSON Schema at {where}: {exc.message}") from None
    return schema


def load_schemas(path: str | Path) -> dict[str, dict[str, Any]]:
    """Event schemas from a schema file or a folder of ``*.json`` schema files.

    Keys are event types (``eventType`` const, else ``title``, else the file name).
    Raises :class:`~sagaspec.errors.InputError` naming the file for bad input.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.json"))
        if not files:
            raise InputError(f"{p}: no *.json schema files in this folder")
    elif p.exists():
        files = [p]
    else:
        raise InputError(f"{p}: no such file or folder")
    out: dict[str, dict[str, Any]] = {}
    origin: dict[str, Path] = {}
    for f in files:
        schema = _load_file(f)
        name = _event_name(schema, f.stem)
        if name in out:
            raise InputError(f"{f}: describes {name}, like {origin[name]}")
        out[name], origin[name] = schema, f
    return out


def diff_paths(old: str | Path, new: str | Path) -> list[Change]:
    """Changes from the schema(s) at ``old`` to those at ``new`` (two files or two folders)."""
    old_p, new_p = Path(old), Path(new)
    old_s, new_s = load_schemas(old_p), load_schemas(new_p)
    if old_p.is_dir() != new_p.is_dir():
        raise UsageError(f"compare a file with a file or a folder with a folder, not "
                         f"{old_p} with {new_p}")
    if not old_p.is_dir():
        (old_name, old_schema), (new_name, new_schema) = next(iter(old_s.items())), next(iter(new_s.items()))
        return diff_schema(old_schema, new_schema, new_name if new_name == old_name else None)
    return diff_schema_sets(old_s, new_s)
