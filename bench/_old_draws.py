"""The conformance chooser's draws as they were made before 6f0e180, for
``bench/bench_conform.py --draws``: every draw through hypothesis' public ``data.draw``,
and a new mapped strategy per saga (what ``saga_strategy`` built per call). The same
draws, made dearer; the fixed strategies that commit also built once are left built."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sagaspec.conformance import choosers
from sagaspec.conformance.payloads import trigger_fields


def _public_draw(data: Any) -> Any:
    return data.draw


def _fresh_saga_fields(spec: Any) -> Any:
    return trigger_fields(spec).map(dict)


@contextlib.contextmanager
def old_draws() -> Iterator[None]:
    saved = choosers._drawer, choosers.saga_fields
    choosers._drawer, choosers.saga_fields = _public_draw, _fresh_saga_fields
    try:
        yield
    finally:
        choosers._drawer, choosers.saga_fields = saved
