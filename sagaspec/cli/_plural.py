"""Count-noun agreement in the CLI's summaries: ``1 property``, ``2 properties``."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and the noun that agrees with it: ``plural(1, "example")`` is ``"1 example"``,
    ``plural(3, "property", "properties")`` is ``"3 properties"`` (``many`` defaults to
    the noun with an ``s``)."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"
