"""The crash protocol: where a participant can be killed while it handles an event.

The generic layers arm and catch crashes; services implement them (the reference
services raise :class:`SimulatedCrash` at an armed point). Defined here, below both.
"""

from __future__ import annotations

__all__ = ["CRASH_POINTS", "SimulatedCrash", "ConsumerCrashed"]

#: Where a service can be killed while handling an event, in handling order.
CRASH_POINTS = ("before-commit", "after-commit", "after-publish")


class SimulatedCrash(BaseException):  # noqa: N818 - it is not an error, it is a kill
    """The process died here (raised at an armed crash point)."""

    def __init__(self, service: str, point: str) -> None:
        super().__init__(f"{service} crashed at {point}")
        self.service = service
        self.point = point


class ConsumerCrashed(Exception):  # noqa: N818 - a reported kill, as the wire contract's 5xx
    """The participant died at its armed crash point before acknowledging the event."""
