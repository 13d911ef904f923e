"""The chooser's field draws as they were before ``conformance/_fastdraw.py``, for
``bench/bench_field_draws.py``: a saga's fields, the free fields and a declared trigger
drawn through hypothesis' own nested ``data.draw`` dispatch (their strategies unwrapped,
not compiled). The same draws, made dearer.

Also a pytest plugin (``-p _old_field_draws``, with ``bench/`` on the path): the tests
run with the old draws (imports deferred until collection is done, so pytest still
rewrites the test modules' asserts)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def old_field_draws() -> Iterator[None]:
    from hypothesis.strategies._internal.lazy import unwrap_strategies
    from sagaspec.conformance import _fastdraw

    saved = _fastdraw.compiled
    _fastdraw.compiled = unwrap_strategies
    try:
        yield
    finally:
        _fastdraw.compiled = saved


#: The plugin's context, kept: a dropped generator would close and restore the new draws.
_HELD: list[Any] = []


def pytest_collection_finish(session: Any) -> None:
    _HELD.append(old_field_draws())
    _HELD[-1].__enter__()
