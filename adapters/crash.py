"""The crash protocol: where a participant can be killed while it handles an event.

The generic layers arm and catch crashes; services implement them (the reference
services raise :class:`SimulatedCrash` at an armed point). Defined here, below both.

An adapter says which crash points it honours: a ``crash_points`` attribute (the points
its ``crash(participant, point)`` can arm), else a single ``crash_point`` attribute (the
one point its ``crash(participant)`` always arms), else nothing (where its crashes land
is its own business). :func:`honoured_points` reads that, so the suite never asks for a
point that would silently land elsewhere.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

__all__ = ["CRASH_POINTS", "CrashPoint", "SimulatedCrash", "ConsumerCrashed",
           "parse_crash_points", "honoured_points", "takes_points"]

#: Where a service can be killed while handling an event, in handling order: before its
#: transaction commits (nothing happened: the event is redelivered and processed once),
#: after the commit but before the outbox is published (the restarted process must
#: publish it), after publishing but before marking it sent (a re-send: duplicates).
CrashPoint = Literal["before-commit", "after-commit", "after-publish"]
CRASH_POINTS: tuple[CrashPoint, ...] = get_args(CrashPoint)


class SimulatedCrash(BaseException):  # noqa: N818 - it is not an error, it is a kill
    """The process died here (raised at an armed crash point)."""

    def __init__(self, service: str, point: str) -> None:
        super().__init__(f"{service} crashed at {point}")
        self.service = service
        self.point = point


class ConsumerCrashed(Exception):  # noqa: N818 - a reported kill, as the wire contract's 5xx
    """The participant died at its armed crash point before acknowledging the event."""


def parse_crash_points(text: str | None) -> tuple[CrashPoint, ...]:
    """``"before-commit,after-publish"`` as crash points in handling order (``None``:
    all); a :class:`ValueError` of one line for anything else.

    >>> parse_crash_points("after-publish, before-commit")
    ('before-commit', 'after-publish')
    """
    if text is None:
        return CRASH_POINTS
    chosen = {t.strip() for t in text.split(",") if t.strip()}
    unknown = sorted(chosen - set(CRASH_POINTS))
    if unknown or not chosen:
        raise ValueError(f"unknown crash point(s) {', '.join(unknown) or '(none given)'}; "
                         f"expected a comma list of {', '.join(CRASH_POINTS)}")
    return tuple(p for p in CRASH_POINTS if p in chosen)


def takes_points(adapter: Any) -> bool:
    """Whether ``adapter.crash`` takes the point as its second argument."""
    return getattr(adapter, "crash_points", None) is not None


def honoured_points(adapter: Any) -> tuple[CrashPoint, ...]:
    """The crash points ``adapter`` can be told to crash at (see the module docstring);
    ``()`` when it does not say."""
    points = getattr(adapter, "crash_points", None)
    if points is None:
        one = getattr(adapter, "crash_point", None)
        points = (one,) if isinstance(one, str) else ()
    return tuple(p for p in CRASH_POINTS if p in tuple(points))
