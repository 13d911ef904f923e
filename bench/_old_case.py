"""A conformance case's engine as it was before the per-case cost cuts, for
``bench/bench_conform.py --case``: the memory store and the saga's trigger payload copied
by :func:`copy.deepcopy`, a new named tuple class per participant model (so per
service, per case), every event validated by jsonschema's walk (no compiled validity
predicate), and a target's crash signature inspected per case. The same cases, made dearer."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

from sagaspec.adapters import inprocess
from sagaspec.conformance import history
from sagaspec.examples import store
from sagaspec.model import compile as spec_compile
from sagaspec.spec import schemas


@contextlib.contextmanager
def old_case() -> Iterator[None]:
    saved = (store._copy, history.copy_json, spec_compile._record_class, schemas._validity,
             inprocess._takes_point)
    store._copy, history.copy_json = copy.deepcopy, copy.deepcopy
    spec_compile._record_class = spec_compile._new_record_class
    schemas._validity = _no_validity
    inprocess._takes_point = inprocess._signature_takes_point
    try:
        yield
    finally:
        (store._copy, history.copy_json, spec_compile._record_class, schemas._validity,
         inprocess._takes_point) = saved


def _no_validity(*args: object) -> None:
    return None
