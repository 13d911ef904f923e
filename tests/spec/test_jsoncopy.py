"""copy_json, the stores' and histories' copy of JSON data, against copy.deepcopy."""

from __future__ import annotations

import copy
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st
from sagaspec.spec._jsoncopy import copy_json

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


def _containers(value: object) -> list[object]:
    out = [value] if isinstance(value, (dict, list)) else []
    for v in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        out += _containers(v)
    return out


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_copy_json_is_deepcopy_on_json(value: object) -> None:
    got, want = copy_json(value), copy.deepcopy(value)
    assert got == want and repr(got) == repr(want)  # same values, same key order
    # nothing shared: every container of the copy is new
    old = {id(c) for c in _containers(value)}
    assert not old & {id(c) for c in _containers(got)}


def test_copy_json_hands_anything_else_to_deepcopy() -> None:
    inner = [1, 2]
    value = {"t": (inner, "x"), "o": OrderedDict(a=[3]), 1: "int key"}
    got = copy_json(value)
    assert got == value and type(got["o"]) is OrderedDict
    assert got["t"][0] is not inner and got["o"]["a"] is not value["o"]["a"]
    assert copy_json({"k": {5: [inner]}})["k"][5][0] is not inner
