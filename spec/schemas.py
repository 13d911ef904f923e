"""The event JSON Schemas as shipped, cached validators, and event validation.

This is the wire-format authority: an event is valid when it validates against the
committed schema of its ``eventType`` (package data under ``schemas/<draft>/``, generated
from the shipped order spec by :mod:`sagaspec.spec.schemagen`) or, for any other saga,
the schema generated from its spec. Every valid event also parses with
:func:`sagaspec.spec.events.parse_event`; the models are more lenient than the wire
format (they accept, say, a missing ``schemaVersion``), never stricter.

Validation returns :class:`Problem` values, one per defect, each with an RFC 6901 JSON
pointer and a one-line message meant for people:

>>> from sagaspec.spec.examples import examples_for
>>> event = examples_for("OrderCreated")[0]
>>> validate_event(event)
[]
>>> event["amount"] = 100.00
>>> [str(p) for p in validate_event(event)]
['/amount: expected a decimal string with exactly two fraction digits, like "100.00", got number 100.0']
>>> [str(p) for p in validate_event({"eventType": "OrderShipped"})]  # doctest: +ELLIPSIS
['/eventType: unknown eventType "OrderShipped"; expected one of OrderCreated, ...']

Validators are built once per (event type, draft) and cached; validating an event costs
one dictionary lookup plus the schema walk.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema
from jsonschema.exceptions import ValidationError
from sagaspec.spec.schemagen import generate_schema, normalize_draft

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

from sagaspec.errors import SchemaError, UsageError

__all__ = [
    "Problem",
    "FORMAT_CHECKER",
    "schema_for",
    "all_schemas",
    "validator_for",
    "raw_validator_for",
    "validate_event",
    "is_valid_event",
    "require_valid",
    "json_pointer",
    "describe_value",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One defect of an event: where (an RFC 6901 JSON pointer, ``""`` is the whole
    event) and what, as a one-line message."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '(event)'}: {self.message}"


# --- formats ------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)

#: Format checker used by every sagaspec validator. Only ``date-time`` is asserted, with
#: the same rules as the models: RFC 3339, a real calendar date, and a time zone.
FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True  # format only constrains strings
    if not _RFC3339.fullmatch(value):
        return False  # the Timestamp pattern reports this one, with the same message
    # Python < 3.12 reads at most 6 fraction digits; the extra precision is irrelevant.
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", value).replace("Z", "+00:00")
    datetime.fromisoformat(text)  # ValueError names the bad part (day out of range...)
    return True


# --- schemas and validators ---------------------------------------------------------------


_SPEC_KEYS: dict[int, tuple[Any, str]] = {}


def _own_spec(spec: SagaSpec | str | None) -> SagaSpec | None:
    """The spec whose generated schemas apply, or ``None`` for the committed files.

    The shipped order specs (``seed``, ``corrected``) use the committed files, which are
    their generated schemas (a test checks it).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        from sagaspec.spec.sagafile import resolve_spec

        spec = resolve_spec(spec)
    return None if spec.shipped else spec


def _event_types(spec: SagaSpec | None) -> tuple[str, ...]:
    return _shipped_types() if spec is None else spec.event_names


@functools.cache
def _shipped_types() -> tuple[str, ...]:
    """The shipped order saga's event types, the committed files' (read once)."""
    from sagaspec.spec.sagafile import shipped_spec

    return shipped_spec("corrected").event_names


def _spec_key(spec: SagaSpec) -> str:
    from sagaspec.spec.specschemas import content_key

    held = _SPEC_KEYS.get(id(spec))
    if held is None or held[0] is not spec:
        held = _SPEC_KEYS[id(spec)] = (spec, content_key(spec))
    return held[1]


def _check_type(event_type: str, spec: SagaSpec | None = None) -> None:
    known = _event_types(spec)
    if event_type not in known:
        raise UsageError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(known)}"
        )


def _schema(event_type: str, draft: str, spec: SagaSpec | None) -> dict[str, Any]:
    """The schema validators use (not a copy: never mutate it)."""
    if spec is None:
        return _shipped(event_type, draft)
    return _generated(_spec_key(spec), event_type, draft)


_GENERATED: dict[tuple[str, str, str], dict[str, Any]] = {}


def _generated(key: str, event_type: str, draft: str) -> dict[str, Any]:
    from sagaspec.spec.specschemas import spec_for_key, spec_schema

    found = _GENERATED.get((key, event_type, draft))
    if found is None:
        found = _GENERATED[(key, event_type, draft)] = spec_schema(spec_for_key(key), event_type, draft)
    return found


@functools.cache
def _shipped(event_type: str, draft: str) -> dict[str, Any]:
    try:
        text = (
            resources.files("sagaspec.spec")
            .joinpath("schemas", draft, f"{event_type}.json")
            .read_text(encoding="utf-8")
        )
    except (FileNotFoundError, OSError):
        # A source tree without the generated files still works: generate in memory.
        return generate_schema(event_type, draft)
    return json.loads(text)


def schema_for(event_type: str, draft: str = "2020-12", spec: SagaSpec | str | None = None) -> dict[str, Any]:
    """The JSON Schema of ``event_type`` (a fresh copy).

    ``draft`` is ``"2020-12"`` (default) or ``"07"``/``"draft-07"``. ``spec`` is the saga
    (a :class:`~sagaspec.spec.sagafile.SagaSpec`, a shipped name or a spec file); the
    default is the shipped order saga, whose schemas are the committed files.

    >>> schema_for("OrderCreated")["$id"]
    'https://sagaspec.dev/schemas/v1/OrderCreated.json'
    """
    own = _own_spec(spec)
    _check_type(event_type, own)
    return copy.deepcopy(_schema(event_type, normalize_draft(draft), own))


def all_schemas(draft: str = "2020-12", spec: SagaSpec | str | None = None) -> dict[str, dict[str, Any]]:
    """Every event's schema, keyed by event type, in the spec's order."""
    own = _own_spec(spec)
    return {t: schema_for(t, draft, own) for t in _event_types(own)}


def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a JSON Schema (ECMA-262) pattern for Python's :mod:`re`.

    In ECMA-262 ``$`` matches only at the very end of the input; in Python it also
    matches before a final newline, so ``"evt-1\\n"`` would pass ``^[a-z0-9-]+$``.
    Every ``$`` outside a character class becomes ``\\Z``.

    >>> bool(_ecma_regex("^[a-z]+$").search("abc\\n")), bool(re.search("^[a-z]+$", "abc\\n"))
    (False, True)
    """
    return _ECMA_CACHE.get(pattern) or _ECMA_CACHE.setdefault(pattern, _translate(pattern))


_ECMA_CACHE: dict[str, re.Pattern[str]] = {}


def _translate(pattern: str) -> re.Pattern[str]:
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out))


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: jsonschema validator classes with ECMA-262 ``$`` semantics for ``pattern``.
_CLASSES = {
    "2020-12": jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _pattern_keyword}),
    "draft-07": jsonschema.validators.extend(
        jsonschema.Draft7Validator, {"pattern": _pattern_keyword}),
}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Dereference local ``$ref``s (ours are never recursive) and flatten 1-item allOf.

    Validation verdicts and messages are unchanged, and validating gets about twice as
    fast: every ``$ref`` costs jsonschema a registry lookup per instance.
    """
    if isinstance(node, list):
        return [_inline(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$defs", "definitions", "examples"):
            continue
        if key in ("default", "const", "enum", "required"):
            out[key] = value
        elif key == "properties":
            out[key] = {name: _inline(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs)
    if "$ref" in out:
        target = _inline(defs[out.pop("$ref").rsplit("/", 1)[1]], defs)
        clash = [k for k in out if k in target and k not in ("description", "title")]
        if clash:
            raise ValueError(f"cannot inline $ref next to {clash}")
        out = {**target, **out}
    if len(out.get("allOf", ())) == 1 and not set(out["allOf"][0]) & (set(out) - {"allOf"}):
        only = out.pop("allOf")[0]
        out = {**out, **only}
    return out


def _validator(event_type: str, draft: str, spec: SagaSpec | None = None) -> jsonschema.protocols.Validator:
    return _cached_validator(event_type, draft, None if spec is None else _spec_key(spec))


def _cached_validator(event_type: str, draft: str, key: str | None) -> jsonschema.protocols.Validator:
    return _compiled(draft, _schema_text(event_type, draft, key))


@functools.lru_cache(maxsize=1024)
def _schema_text(event_type: str, draft: str, key: str | None) -> str:
    """The JSON text of the schema validators use (``$ref``\\ s inlined, no ``$id``):
    sagas, or mutants of one saga, whose event has the same schema share its validator
    and the verdicts of :func:`validate_event`."""
    schema = _shipped(event_type, draft) if key is None else _generated(key, event_type, draft)
    defs = schema.get("$defs") or schema.get("definitions") or {}
    inlined = _inline(schema, defs)
    inlined.pop("$id", None)  # names the saga (a mutant's too); refs are inlined
    return json.dumps(inlined)


@functools.lru_cache(maxsize=1024)
def _compiled(draft: str, text: str) -> jsonschema.protocols.Validator:
    return _CLASSES[draft](json.loads(text), format_checker=FORMAT_CHECKER)


def _validity(event_type: str, draft: str, spec: SagaSpec | None = None) -> Callable[[Any], bool] | None:
    """``_validator(...).is_valid`` compiled to one predicate (:mod:`._validity`), or
    ``None`` where the schema has a keyword that does not compile."""
    return _compiled_validity(draft, _schema_text(event_type, draft, None if spec is None else _spec_key(spec)))


@functools.lru_cache(maxsize=1024)
def _compiled_validity(draft: str, text: str) -> Callable[[Any], bool] | None:
    from sagaspec.spec._validity import compile_validity

    return compile_validity(json.loads(text), _CLASSES[draft], _ecma_regex, FORMAT_CHECKER)


def raw_validator_for(event_type: str, draft: str = "2020-12", spec: SagaSpec | str | None = None) -> jsonschema.protocols.Validator:
    """A validator of the schema as is (``$ref``s and all), uncached.

    Same verdicts as :func:`validator_for`; meant for tests and for comparing engines.
    """
    own = _own_spec(spec)
    _check_type(event_type, own)
    draft = normalize_draft(draft)
    return _CLASSES[draft](_schema(event_type, draft, own), format_checker=FORMAT_CHECKER)


def validator_for(event_type: str, draft: str = "2020-12", spec: SagaSpec | str | None = None) -> jsonschema.protocols.Validator:
    """The cached :mod:`jsonschema` validator of ``event_type``.

    It validates the shipped schema with its ``$ref``s inlined (same verdicts, twice as
    fast), asserts ``format: date-time``, and gives ``pattern`` its ECMA-262 meaning.
    """
    own = _own_spec(spec)
    _check_type(event_type, own)
    return _validator(event_type, normalize_draft(draft), own)


# --- messages -----------------------------------------------------------------------------

#: What a value of each shared ``$defs`` type looks like, for messages.
_FRIENDLY = {
    "Identifier": "an identifier (1-128 letters, digits or . _ : -, starting with a letter or digit)",
    "Money": 'a decimal string with exactly two fraction digits, like "100.00"',
    "Timestamp": 'an RFC 3339 timestamp with a time zone, like "2024-01-15T10:00:00Z"',
    "Currency": 'a three-letter ISO 4217 code, like "USD"',
    "Reason": "a non-empty string of at most 500 characters",
}

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def json_pointer(path: Any) -> str:
    """RFC 6901 pointer of a path of keys and indexes.

    >>> json_pointer(["items", 0, "a/b~c"])
    '/items/0/a~1b~0c'
    """
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def describe_value(value: Any, limit: int = 60) -> str:
    """The JSON type and (shortened) JSON text of a value, e.g. ``number 100.0``.

    >>> describe_value("x"), describe_value(None), describe_value(True)
    ('string "x"', 'null', 'boolean true')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "array"
    elif isinstance(value, dict):
        kind = "object"
    else:
        kind = type(value).__name__
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{kind} {text}"


def _short_json(value: Any) -> str:
    return describe_value(value).split(" ", 1)[-1]


def _expected_type(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_NAMES.get(t, t) for t in names)


def _explain(error: ValidationError, event_type: str, version: Any) -> list[Problem]:
    keyword = error.validator
    where = json_pointer(error.absolute_path)
    value = error.instance
    title = error.schema.get("title") if isinstance(error.schema, dict) else None

    if keyword == "required":
        return [
            Problem(f"{where}/{name}", f'missing required field "{name}"')
            for name in error.validator_value
            if isinstance(value, dict) and name not in value
        ]
    if keyword == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        owner = f"{event_type} v{version}" if title == event_type else (title or "this object")
        return [
            Problem(f"{where}/{json_pointer([k])[1:]}", f'unexpected field "{k}": {owner} has no such field')
            for k in value
            if k not in known
        ]
    if keyword in ("anyOf", "oneOf"):
        # Nullable fields are anyOf [X, null]: explain why the value is not an X.
        branches = error.validator_value
        real = [i for i, b in enumerate(branches) if b != {"type": "null"}]
        nullable = len(real) < len(branches)
        sub = [e for e in (error.context or ()) if e.relative_schema_path[0] in real]
        problems = [p for e in sub for p in _explain(e, event_type, version)]
        if nullable:
            problems = [Problem(p.pointer, p.message.replace(", got ", " or null, got ", 1))
                        for p in problems]
        return problems or [Problem(where, error.message)]
    if title in _FRIENDLY and keyword in ("type", "pattern", "minLength", "maxLength", "format"):
        message = f"expected {_FRIENDLY[title]}, got {describe_value(value)}"
        if keyword == "format" and error.cause is not None:
            message += f" ({error.cause})"
        return [Problem(where, message)]
    if keyword == "type":
        return [Problem(where, f"expected {_expected_type(error.validator_value)}, got {describe_value(value)}")]
    if keyword == "const":
        if where == "/schemaVersion":
            return [Problem(where, f"unsupported schemaVersion {_short_json(value)}; "
                                   f"this sagaspec knows {event_type} version {error.validator_value}")]
        expected = json.dumps(error.validator_value)
        return [Problem(where, f"expected {expected}, got {describe_value(value)}")]
    if keyword == "enum":
        options = ", ".join(json.dumps(v) for v in error.validator_value)
        return [Problem(where, f"expected one of {options}, got {describe_value(value)}")]
    bounds = {
        "minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<",
    }
    if keyword in bounds:
        kind = "an integer" if error.schema.get("type") == "integer" else "a number"
        return [Problem(where, f"expected {kind} {bounds[keyword]} {error.validator_value}, "
                               f"got {describe_value(value)}")]
    if keyword in ("minItems", "maxItems"):
        side = "at least" if keyword == "minItems" else "at most"
        n = error.validator_value
        return [Problem(where, f"expected {side} {n} item{'s' if n != 1 else ''}, got {len(value)}")]
    if keyword in ("minLength", "maxLength"):
        side = "at least" if keyword == "minLength" else "at most"
        return [Problem(where, f"expected {side} {error.validator_value} characters, "
                               f"got {describe_value(value)}")]
    if keyword == "pattern":
        return [Problem(where, f"expected a string matching {error.validator_value}, "
                               f"got {describe_value(value)}")]
    return [Problem(where, error.message)]


# --- validation ---------------------------------------------------------------------------

_KEYWORD_RANK = {"required": 0, "additionalProperties": 0, "const": 1, "enum": 1, "format": 2}


def validate_event(obj: Any, draft: str = "2020-12", spec: SagaSpec | str | None = None) -> list[Problem]:
    """Every problem of one event against the schema of its ``eventType``; ``[]`` if valid.

    ``spec`` is the saga whose events these are (default: the shipped order saga). Never
    raises for bad data: a non-object, a missing or unknown ``eventType`` are problems
    too. Problems come in field order, at most one per JSON pointer.
    """
    draft = normalize_draft(draft)
    own = _own_spec(spec)
    # An event of a conformance run is validated by each participant it reaches and by
    # the oracle, the same JSON each time: the verdict of a recent one is reused.
    text = _plain_repr(obj)
    if text is None:
        return _validate(obj, draft, own)
    kind = obj.get("eventType") if isinstance(obj, dict) else None
    known = _event_types(own)
    # The verdict depends on the event's schema, or (an unknown type) on the known types.
    scope = (_schema_text(kind, draft, None if own is None else _spec_key(own))
             if isinstance(kind, str) and kind in known else known)
    key = (text, draft, scope)
    found = _RECENT.get(key)
    if found is None:
        found = tuple(_validate(obj, draft, own))
        with _RECENT_LOCK:
            if len(_RECENT) >= _RECENT_MAX:
                _RECENT.pop(next(iter(_RECENT)))
            _RECENT[key] = found
    return list(found)


_RECENT: dict[tuple[str, str, Any], tuple[Problem, ...]] = {}
_RECENT_MAX = 4096
_RECENT_LOCK = threading.Lock()
_PLAIN = (str, int, float, bool, type(None))


def _plain_repr(obj: Any) -> str | None:
    """``repr(obj)`` if ``obj`` is made of JSON's own types only (exactly: no subclasses),
    where equal text means an equal value; else ``None`` (also for a huge or cyclic one)."""
    stack, budget = [obj], 10_000
    while stack:
        budget -= 1
        if budget < 0:
            return None
        v = stack.pop()
        t = type(v)
        if t is dict:
            if any(type(k) is not str for k in v):
                return None
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t not in _PLAIN:
            return None
    return repr(obj)


def _validate(obj: Any, draft: str, own: SagaSpec | None) -> list[Problem]:
    known = _event_types(own)
    if not isinstance(obj, dict):
        return [Problem("", f"expected an event (a JSON object), got {describe_value(obj)}")]
    if "eventType" not in obj:
        return [Problem("/eventType", 'missing required field "eventType" '
                                      f"(one of {', '.join(known)})")]
    event_type = obj["eventType"]
    if not isinstance(event_type, str):
        return [Problem("/eventType", f"expected an event type name (a string), "
                                      f"got {describe_value(event_type)}")]
    if event_type not in known:
        return [Problem("/eventType", f"unknown eventType {json.dumps(event_type)}; "
                                      f"expected one of {', '.join(known)}")]
    valid = _validity(event_type, draft, own)
    if valid is not None and valid(obj):
        return []  # what jsonschema finds in a valid event: nothing to explain
    validator = _validator(event_type, draft, own)
    version = validator.schema["properties"]["schemaVersion"].get("const")
    # One problem per pointer: a value that is both mistyped and not the constant is
    # explained once, by the most specific keyword.
    best: dict[str, tuple[int, Problem]] = {}
    for error in validator.iter_errors(obj):
        rank_kw = _KEYWORD_RANK.get(error.validator, len(_KEYWORD_RANK))
        for problem in _explain(error, event_type, version):
            if problem.pointer not in best or rank_kw < best[problem.pointer][0]:
                best[problem.pointer] = (rank_kw, problem)
    problems = [p for _, p in best.values()]
    order = {name: i for i, name in enumerate(validator.schema["properties"])}

    def rank(p: Problem) -> tuple:
        head = p.pointer.split("/")[1] if p.pointer else ""
        return (order.get(head, len(order)), p.pointer, p.message)

    return sorted(problems, key=rank)


def is_valid_event(obj: Any, draft: str = "2020-12", spec: SagaSpec | str | None = None) -> bool:
    """Whether ``obj`` is a valid event (faster than ``not validate_event(obj)``)."""
    own = _own_spec(spec)
    if not isinstance(obj, dict) or obj.get("eventType") not in _event_types(own):
        return False
    return _validator(obj["eventType"], normalize_draft(draft), own).is_valid(obj)


def require_valid(obj: Any, *, what: str = "event", spec: SagaSpec | str | None = None) -> dict[str, Any]:
    """Return ``obj`` if it is a valid event, else raise :class:`SchemaError` (one line).

    >>> require_valid({"eventType": "OrderCreated"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sagaspec.errors.SchemaError: invalid event: /eventId: missing required field "eventId" (+7 more problems)
    """
    problems = validate_event(obj, spec=spec)
    if not problems:
        return obj
    more = len(problems) - 1
    suffix = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
    raise SchemaError(f"invalid {what}: {problems[0]}{suffix}")
