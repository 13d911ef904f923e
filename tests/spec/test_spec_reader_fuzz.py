"""The spec reader on damaged YAML: any text gives plain data with a position for every
node, or one ``FILE:LINE:COL`` line; never another exception (a tagged mapping key once
escaped as PyYAML's ConstructorError traceback)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sagaspec.spec._yamlpos import load_located

from sagaspec.errors import InputError

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=False), st.text(max_size=12),
                     st.sampled_from(["yes", "no", "on", "2024-01-15", "0x1f", "1e3", "~"]))
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
#: Fragments that break or bend YAML: indicators, tags (Python's included), anchors and
#: aliases, merge keys, complex keys, directives, byte-order marks, odd line breaks.
_DAMAGE = ["", ":", "- ", "'", '"', "&a ", "*a", "!!python/none ", "!!python/object/apply:os.system ",
           "!custom ", "{", "]", "[", ",", "\n  ", "#", "? ", "|\n", "%YAML 1.1\n---\n", "---\n",
           "...\n", "\t", "\ufeff", "\u2028", "\x85", "\0", "<<: *a\n", "a: &a {b: 1}\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_DATA, flow=st.booleans(),
       cuts=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_DAMAGE)), max_size=3))
def test_damaged_yaml_gives_data_or_one_located_line(data, flow, cuts):
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    for cut, piece in cuts:
        at = cut % (len(text) + 1)
        text = text[:at] + piece + text[at:]
    try:
        located = load_located(text, "t.yaml")
    except InputError as exc:
        message = str(exc)
        assert message.startswith("t.yaml") and "\n" not in message
        return
    assert () in located.positions
    assert located.where(("any", "path")).startswith("t.yaml:")
