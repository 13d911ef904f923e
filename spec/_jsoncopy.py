"""A deep copy of JSON-shaped data, without :func:`copy.deepcopy`'s per-object memo.

Stores, histories and payload builders copy events and records many times per
conformance case; they hold JSON's own types (``dict`` with string keys, ``list``,
``str``, ``int``, ``float``, ``bool``, ``None``), where a copy needs no memo and no
dispatch by type. Anything else (a tuple, a subclass, an object) is handed to
:func:`copy.deepcopy` as before. Unlike ``deepcopy``, an object reachable twice is
copied twice (as a JSON round trip would): JSON has no shared references.

>>> a = {"k": [1, {"x": "y"}], "n": None}
>>> b = copy_json(a)
>>> b == a, b is a, b["k"] is a["k"], b["k"][1] is a["k"][1]
(True, False, False, False)
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["copy_json"]

_ATOMS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of ``value``: JSON containers copied here, the rest by ``deepcopy``."""
    t = type(value)
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) not in _ATOMS:
                return copy.deepcopy(value)
            out[k] = v if type(v) in _ATOMS else copy_json(v)
        return out
    if t is list:
        return [v if type(v) in _ATOMS else copy_json(v) for v in value]
    if t in _ATOMS:
        return value
    return copy.deepcopy(value)
