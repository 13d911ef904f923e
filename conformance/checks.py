"""The suite's checks: names, what each one verifies, and the adapter hooks it needs.

A check either passes, fails (a :class:`CheckFailed` raised inside a test case), or is
*skipped* because the adapter lacks a hook it needs (see ``Adapter.capabilities``).
The names are stable: reports, failure files and the mutant table use them.

>>> CHECKS["single-charge"].summary
'never charged twice for one order'
>>> sorted(c.name for c in skipped_checks(frozenset(), "payment"))
['crash-recovery', 'payment-rules', 'raw-input']
>>> CHECKS["stock"].applies("payment"), CHECKS["stock"].applies("system")
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "CHECKS", "CheckFailed", "fail", "skipped_checks", "check_names"]


@dataclass(frozen=True)
class Check:
    """One named verification of the suite."""

    name: str
    summary: str
    #: Adapter hooks without which the check cannot run (reported as skipped).
    needs: tuple[str, ...] = ()
    #: Model-checker property names this check corresponds to (for replay comparisons).
    model_properties: tuple[str, ...] = ()
    #: Participants the check judges: it applies to a target containing one of them
    #: (empty: every target).
    participants: tuple[str, ...] = ()

    def applies(self, target: str) -> bool:
        """Whether the check can judge the target ``target`` (a participant or ``system``)."""
        return not self.participants or target == "system" or target in self.participants


#: Which targets can break a property check (the rest: every target). A property only
#: a played participant could break is "not applicable" to the others.
_BREAKERS: dict[str, tuple[str, ...]] = {
    "one-outcome": ("order",),
    "single-email": ("notification",),
    "notify-only-completed": ("notification",),
}


def _property_checks(kinds: tuple[str, ...]) -> tuple[Check, ...]:
    """The shipped design's properties judged on a history, as checks: names and
    summaries are the spec's own (defined once, in the spec file)."""
    from sagaspec.spec.sagafile import shipped_spec

    spec = shipped_spec("corrected")
    hidden = {f"{p.name}.{v.name}" for p in spec.participants for v in p.shared}
    out = []
    for p in spec.properties:
        refs = set(p.expr.refs) | (set(p.target.refs) if p.target is not None else set())
        if p.kind in kinds and not refs & hidden:
            out.append(Check(p.name, p.description, model_properties=(p.name,),
                             participants=_BREAKERS.get(p.name, ())))
    return tuple(out)


_ALL = (
    Check("schema", "every published event validates against its JSON Schema"),
    Check("saga-consistency",
          "published events carry a known sagaId, every field the spec copies from the "
          "saga's start or an earlier event equal to it, a fresh eventId and a causationId "
          "from the same saga"),
    *_property_checks(("always",)),
    Check("model", "what the service published is a behaviour the model allows"),
    Check("stock",
          "with the world set up, Inventory reserves an order exactly when its items fit "
          "the free stock (the world's, minus reservations, plus releases) and fails it "
          "otherwise", needs=("setup",), participants=("inventory",)),
    Check("payment-rules",
          "with the world set up, Payment declines exactly the orders of declined users "
          "or over the amount limit, and approves the others",
          needs=("setup",), participants=("payment",)),
    *_property_checks(("at_rest", "eventually")),
    Check("rejects-invalid-input",
          "schema-invalid, unknown-type and garbage messages are rejected or dead-lettered "
          "without a crash, a business effect or an invalid publication"),
    Check("raw-input", "truncated and garbage bytes (not JSON objects) are rejected too",
          needs=("deliver_raw",)),
    Check("crash-recovery", "crashing and restarting the service loses no acknowledged event",
          needs=("crash",)),
    Check("no-crash", "the service handles every message without raising, and the adapter "
                      "reaches it"),
)

#: Every check by name, in report order.
CHECKS: dict[str, Check] = {c.name: c for c in _ALL}


def check_names() -> tuple[str, ...]:
    return tuple(CHECKS)


def skipped_checks(capabilities: frozenset[str], participant: str) -> tuple[Check, ...]:
    """The checks that apply to ``participant`` but cannot run with an adapter offering
    ``capabilities``."""
    return tuple(c for c in _ALL if c.applies(participant)
                 and any(h not in capabilities for h in c.needs))


class CheckFailed(AssertionError):
    """Raised inside a test case when ``check`` is violated.

    ``message`` is one sentence naming the event and what was expected; ``event`` is the
    offending published event (if any); ``allowed`` what the model allowed instead.
    Build one with :func:`fail`: each check gets its own subclass, so hypothesis shrinks
    and reports distinct checks as distinct bugs instead of drifting between them.
    """

    check: str = "model"

    def __init__(self, message: str, *, event: dict[str, Any] | None = None,
                 allowed: tuple[str, ...] = ()) -> None:
        super().__init__(f"[{self.check}] {message}")
        self.message = message
        self.event = event
        self.allowed = tuple(allowed)

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"

    def __reduce__(self):  # picklable despite the per-check subclasses
        return (fail, (self.check, self.message), {"event": self.event, "allowed": self.allowed})


_CLASSES: dict[str, type[CheckFailed]] = {}


def fail(check: str, message: str, *, event: dict[str, Any] | None = None,
         allowed: tuple[str, ...] = ()) -> CheckFailed:
    """A :class:`CheckFailed` for ``check`` (raise it).

    >>> e = fail("schema", "bad"); (e.check, str(e), isinstance(e, CheckFailed))
    ('schema', '[schema] bad', True)
    """
    if check not in CHECKS:
        raise KeyError(f"unknown check {check!r}")
    cls = _CLASSES.get(check)
    if cls is None:
        cls = type(f"CheckFailed_{check.replace('-', '_')}", (CheckFailed,), {"check": check})
        _CLASSES[check] = cls
    return cls(message, event=event, allowed=allowed)
