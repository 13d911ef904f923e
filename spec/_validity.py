"""A schema compiled to one validity predicate, for the common case of a valid event.

:func:`~sagaspec.spec.schemas.validate_event` explains every problem of an event with
jsonschema's errors, walking the schema keyword by keyword for every event; a
conformance case validates each event the services publish. Most are valid, and for those
the walk only finds nothing. :func:`compile_validity` turns a schema into nested closures
that answer exactly ``validator.is_valid(instance)``: the same keyword semantics (the
validator class's own type checks, jsonschema's ``equal`` for ``const``, the given
``pattern`` and format checks), one closure per keyword. A schema with any keyword not
listed in :data:`KEYWORDS` (or an annotation in :data:`ANNOTATIONS`) is not compiled
(``None``): its callers keep jsonschema alone. An event the predicate calls invalid is
explained by jsonschema as before, so only the verdict ``valid`` comes from here.

``tests/spec/test_validity.py`` holds the predicate equal to ``is_valid`` on every
event schema of the example sagas, over generated valid events and edits of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jsonschema._utils import equal

__all__ = ["compile_validity", "KEYWORDS", "ANNOTATIONS"]

#: Keywords with no effect on validity.
ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$schema", "$comment",
                         "deprecated", "readOnly", "writeOnly"})
#: The keywords compiled (with these semantics in draft 2020-12 and draft-07 alike).
KEYWORDS = frozenset({"type", "const", "enum", "pattern", "minLength", "maxLength", "format",
                      "minimum", "maximum", "minItems", "maxItems", "items", "properties",
                      "required", "additionalProperties", "anyOf"})

Check = Callable[[Any], bool]


class _Unsupported(Exception):
    pass


def compile_validity(schema: Any, validator_cls: Any, regex: Callable[[str], Any],
                     format_checker: Any) -> Check | None:
    """A predicate equal to ``validator_cls(schema, format_checker=format_checker).is_valid``
    (``pattern`` searched with ``regex(pattern)``), or ``None`` if ``schema`` uses a keyword
    this does not compile."""
    types = {name: _type_test(validator_cls.TYPE_CHECKER, name)
             for name in ("null", "boolean", "object", "array", "number", "string", "integer")}
    try:
        return _compile(schema, types, regex, format_checker)
    except _Unsupported:
        return None


def _type_test(checker: Any, name: str) -> Check:
    return functools.partial(checker._type_checkers[name], checker)


def _compile(schema: Any, types: dict[str, Check], regex: Callable[[str], Any], fmt: Any) -> Check:
    if schema is True:
        return lambda instance: True
    if schema is False:
        return lambda instance: False
    if not isinstance(schema, dict):
        raise _Unsupported(repr(schema))
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise _Unsupported(", ".join(sorted(unknown)))
    checks: list[Check] = []
    is_string, is_number, is_array, is_object = (types["string"], types["number"], types["array"],
                                                 types["object"])
    if "type" in schema:
        names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        if not all(isinstance(n, str) and n in types for n in names):
            raise _Unsupported(f"type {schema['type']!r}")
        tests = tuple(types[n] for n in names)
        checks.append(tests[0] if len(tests) == 1 else lambda i: any(t(i) for t in tests))
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda i: equal(i, const))
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list):
            raise _Unsupported("enum")
        checks.append(lambda i: any(equal(i, o) for o in options))
    if "pattern" in schema:
        search = regex(schema["pattern"]).search
        checks.append(lambda i: not is_string(i) or search(i) is not None)
    if "minLength" in schema:
        low = schema["minLength"]
        checks.append(lambda i: not is_string(i) or len(i) >= low)
    if "maxLength" in schema:
        high = schema["maxLength"]
        checks.append(lambda i: not is_string(i) or len(i) <= high)
    if "format" in schema:
        name = schema["format"]
        checks.append(lambda i: fmt is None or fmt.conforms(i, name))
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda i: not is_number(i) or not i < low)
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda i: not is_number(i) or not i > high)
    if "minItems" in schema:
        low = schema["minItems"]
        checks.append(lambda i: not is_array(i) or len(i) >= low)
    if "maxItems" in schema:
        high = schema["maxItems"]
        checks.append(lambda i: not is_array(i) or len(i) <= high)
    if "items" in schema:
        if isinstance(schema["items"], list):
            raise _Unsupported("items as a list")  # draft-07's tuple form
        item = _compile(schema["items"], types, regex, fmt)
        checks.append(lambda i: not is_array(i) or all(item(v) for v in i))
    if "required" in schema:
        names = tuple(schema["required"])
        checks.append(lambda i: not is_object(i) or all(n in i for n in names))
    properties = schema.get("properties", {})
    if "properties" in schema:
        subs = tuple((name, _compile(sub, types, regex, fmt)) for name, sub in properties.items())

        def each_property(i: Any) -> bool:
            if not is_object(i):
                return True
            for n, c in subs:
                if n in i and not c(i[n]):
                    return False
            return True

        checks.append(each_property)
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        if extra is False:
            checks.append(lambda i: not is_object(i) or all(k in properties for k in i))
        elif extra is not True:
            other = _compile(extra, types, regex, fmt)
            checks.append(lambda i: not is_object(i)
                          or all(other(v) for k, v in i.items() if k not in properties))
    if "anyOf" in schema:
        branches = tuple(_compile(b, types, regex, fmt) for b in schema["anyOf"])

        def any_branch(i: Any) -> bool:
            for b in branches:
                if b(i):
                    return True
            return False

        checks.append(any_branch)
    if not checks:
        return lambda instance: True
    if len(checks) == 1:
        return checks[0]
    every = tuple(checks)

    def all_checks(i: Any) -> bool:
        for c in every:
            if not c(i):
                return False
        return True

    return all_checks
