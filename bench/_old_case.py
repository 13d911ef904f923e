"""A conformance case's engine as it was before the per-case cost cuts, for
``bench/bench_conform.py --case``: the memory store and the saga's trigger payload copied
by :func:`copy.deepcopy`, and a new named tuple class per participant model (so per
service, per case). The same cases, made dearer."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

from sagaspec.conformance import history
from sagaspec.examples import store
from sagaspec.model import compile as spec_compile


@contextlib.contextmanager
def old_case() -> Iterator[None]:
    saved = store._copy, history.copy_json, spec_compile._record_class
    store._copy, history.copy_json = copy.deepcopy, copy.deepcopy
    spec_compile._record_class = spec_compile._new_record_class
    try:
        yield
    finally:
        store._copy, history.copy_json, spec_compile._record_class = saved
