"""Command-line number types that refuse NaN and infinity.

click's ``FloatRange`` compares with ``<``, and every comparison with NaN is false, so
``--settle-timeout nan`` passed it; these reject what is not a finite number in range
with click's usual one-line usage error.

>>> Finite(0, 1).convert("0.5", None, None)
0.5
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["Finite"]


class Finite(click.ParamType):
    """A finite float in ``[lo, hi]`` (either bound may be ``None``)."""

    name = "number"

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo = lo
        self.hi = hi

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
            self.fail(f"{value!r} is not in the range {self._range()}", param, ctx)
        return number

    def _range(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        return f"{lo}<=x<={hi}"

    def __repr__(self) -> str:
        return f"Finite({self.lo}, {self.hi})"
