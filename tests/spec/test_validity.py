"""The compiled validity predicate (spec/_validity.py, validate_event's path for a valid
event) against jsonschema's own ``is_valid``, on every event schema of the example sagas:
generated valid events and edits of them (a field dropped, added or given another value,
at any depth)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sagaspec.spec import schemas
from sagaspec.spec._validity import compile_validity
from sagaspec.spec.sagafile import resolve_spec
from sagaspec.spec.strategies import event_of

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
DESIGNS = ["corrected", *(str(p) for p in sorted(SAGAS.glob("*.saga.yaml")) if "buggy" not in p.name)]

#: Values a field is set to: each type, boundaries of the usual patterns and lengths,
#: dates that match the pattern but not the calendar, a trailing newline.
ODD = [None, True, False, 0, 1, -1, 2**70, 1.0, 1.5, -0.5, float("inf"), "", "x", "x" * 300, "evt-1\n",
       "EVT-1", "2024-02-30T10:00:00Z", "2024-01-01T10:00:00", "2024-01-01T10:00:00.1234567+01:00",
       "1.00", "-1.00", "0.001", [], [{}], {}, {"sku": "a"}]


#: Edits per generated event. Drawing an event (hypothesis_jsonschema) costs far more
#: than checking its edits: fewer events (two per type), more edits of each (not 4).
EDITS = 12


def _paths(value: object, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _edit(event: dict, path: tuple, how: str, value: object) -> object:
    if not path:
        return value if how == "set" else event
    *head, last = path
    node = event
    for k in head:
        node = node[k]
    if how == "set":
        node[last] = value
    elif how == "drop":
        del node[last]
    elif isinstance(node, dict):
        node["extraField"] = value
    return event


@functools.cache
def _spec(design: str):
    """One spec object per design: its schemas, validators and event strategy are cached
    by the spec's identity, so a spec re-read per example rebuilt them all every time."""
    return resolve_spec(design)


def _types(design: str) -> list[str]:
    return list(schemas._event_types(schemas._own_spec(_spec(design))))


#: Every event type of every design (it was drawn per example: 40 examples left a type
#: of a design out now and then), each with two events (the simplest and one drawn).
CASES = [(d, t) for d in DESIGNS for t in _types(d)]


@pytest.mark.parametrize("design, event_type", CASES, ids=[f"{Path(d).name}-{t}" for d, t in CASES])
@settings(max_examples=2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_compiled_validity_is_jsonschemas_is_valid(design: str, event_type: str,
                                                   data: st.DataObject) -> None:
    spec = _spec(design)
    own = schemas._own_spec(spec)
    valid = schemas._validity(event_type, "2020-12", own)
    assert valid is not None  # every example schema compiles
    validator = schemas._validator(event_type, "2020-12", own)
    event = data.draw(event_of(event_type, spec if own is not None else None))
    assert valid(event) is validator.is_valid(event) is True
    for _ in range(EDITS):
        path = data.draw(st.sampled_from(_paths(event)))
        how = data.draw(st.sampled_from(["set", "drop", "add"]))
        value = data.draw(st.sampled_from(ODD))
        edited = _edit(_copy(event), path, how, value)
        assert valid(edited) is validator.is_valid(edited), (path, how, value)
        # and validate_event agrees: no problems exactly when jsonschema finds none
        assert (schemas._validate(edited, "2020-12", own) == []) is validator.is_valid(edited)


def _copy(event: dict) -> dict:
    import copy

    return copy.deepcopy(event)


def test_a_keyword_it_does_not_compile_leaves_jsonschema_alone() -> None:
    cls = schemas._CLASSES["2020-12"]
    compile_ = lambda s: compile_validity(s, cls, schemas._ecma_regex, schemas.FORMAT_CHECKER)  # noqa: E731
    assert compile_({"type": "object", "patternProperties": {"^a": {}}}) is None
    assert compile_({"properties": {"a": {"oneOf": [{}]}}}) is None
    assert compile_({"type": "unknown-type"}) is None
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
              "required": ["n"], "additionalProperties": False}
    check = compile_(schema)
    values = ({"n": 1}, {"n": 1.0}, {"n": True}, {"n": 0}, {}, {"n": 1, "m": 2}, [], "s")
    assert [check(v) for v in values] == [cls(schema).is_valid(v) for v in values] == [
        True, True, False, False, False, False, False, False]


#: One schema per compiled keyword with a bound, and instances on both sides of it and on
#: it (generated events seldom land exactly on a bound: an off-by-one went unseen).
BOUNDS = [
    ({"type": "string", "minLength": 2, "maxLength": 4}, ["", "a", "ab", "abcd", "abcde", "ééé", 3]),
    ({"type": "integer", "minimum": 1, "maximum": 3}, [0, 1, 2, 3, 4, 1.0, 3.5, True, "2"]),
    ({"type": "number", "minimum": -0.5, "maximum": 0.5}, [-0.51, -0.5, 0, 0.5, 0.50001, None]),
    ({"type": "array", "minItems": 1, "maxItems": 2}, [[], [1], [1, 2], [1, 2, 3], {}]),
    ({"type": "string", "pattern": "^a[0-9]{2}$"}, ["a12", "a1", "a123", "xa12", "a12\n", 12]),
    ({"enum": [1, "1", None]}, [1, 1.0, True, "1", None, 0, "01"]),
    ({"const": {"a": [1]}}, [{"a": [1]}, {"a": [1.0]}, {"a": [True]}, {"a": []}, {}]),
    ({"type": ["string", "null"], "maxLength": 1}, [None, "", "a", "ab", 0]),
    ({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "integer", "minimum": 5}]},
     ["", "a", "ab", 4, 5, 5.5, None]),
    ({"type": "object", "required": ["a"], "properties": {"a": {"maximum": 2}},
      "additionalProperties": {"type": "string"}},
     [{"a": 2}, {"a": 3}, {}, {"a": 1, "b": "x"}, {"a": 1, "b": 1}, []]),
    ({"type": "array", "items": {"type": "string", "maxLength": 1}}, [[], ["a"], ["ab"], ["a", 1]]),
]


@pytest.mark.parametrize("schema, values", BOUNDS, ids=[str(i) for i in range(len(BOUNDS))])
def test_each_bound_is_judged_as_jsonschema_judges_it_on_both_sides(schema, values) -> None:
    cls = schemas._CLASSES["2020-12"]
    check = compile_validity(schema, cls, schemas._ecma_regex, schemas.FORMAT_CHECKER)
    assert check is not None
    assert [check(v) for v in values] == [cls(schema).is_valid(v) for v in values]
