"""The suite's checks: names, what each one verifies, and the adapter hooks it needs.

A check either passes, fails (a :class:`CheckFailed` raised inside a test case), or is
*skipped* because the adapter lacks a hook it needs (see ``Adapter.capabilities``).
The names are stable: reports, failure files and the mutant tables use them (a renamed
check's former name is still accepted where one is typed or stored: :data:`RENAMED`).

:func:`checks_for` gives a design's checks: the generic ones, the spec's own properties
(names and summaries from the spec file) and the world checks of its participants
(which participants can break each is read from the spec). :data:`CHECKS` are those of
the shipped ``corrected`` design. Examples are in ``tests/conformance/test_conform_checks.py``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "CHECKS", "CheckFailed", "fail", "skipped_checks", "check_names",  # noqa: F822 - CHECKS: __getattr__
           "checks_for", "RENAMED", "current_name"]

#: A check's former name -> its name now. The former is accepted where a name is typed or
#: stored (``--skip-check``, saved case files); every output gives the current one.
RENAMED: dict[str, str] = {"payment-rules": "world-rules"}


def current_name(name: str) -> str:
    """The check ``name`` as the suite calls it now.

    >>> current_name("payment-rules"), current_name("stock")
    ('world-rules', 'stock')
    """
    return RENAMED.get(name, name)


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


def _property_checks(spec: Any, kinds: tuple[str, ...]) -> tuple[Check, ...]:
    """The spec's properties judged on a history, as checks. A safety property can be
    broken only by a target holding a participant whose variables it reads (the suite
    plays the others by the model); a quiet one by any target (a service that does not
    react leaves a played participant waiting)."""
    hidden = {f"{p.name}.{v.name}" for p in spec.participants for v in p.shared}
    out = []
    for p in spec.properties:
        refs = set(p.expr.refs) | (set(p.target.refs) if p.target is not None else set())
        if p.kind in kinds and not refs & hidden:
            readers = tuple(sorted({r.partition(".")[0] for r in refs if "." in r}))
            if p.kind != "always":
                readers = ()
            out.append(Check(p.name, p.description, model_properties=(p.name,),
                             participants=readers))
    return tuple(out)


def _world_checks(design: Any) -> tuple[Check, ...]:
    """The world checks of the participants that have such decisions (none: no check)."""
    from sagaspec.conformance.models import AnyStock, suite_model, world_alternatives

    model = suite_model(design, 1)
    shared = tuple(p.name for p in model.participants if isinstance(p, AnyStock))
    knobs = tuple(p.name for p in model.participants if world_alternatives(p))
    out = []
    if shared:
        out.append(Check(
            "stock", f"with the world set up per key, {', '.join(shared)} decide(s) by the "
                     "free stock (the world's, minus reservations, plus releases): a saga "
                     "whose lines fit is served, one that does not fit fails",
            needs=("setup",), participants=shared))
    if knobs:
        out.append(Check(
            "world-rules", f"with the world set up per key, {', '.join(knobs)} take(s) "
                           "the value the spec's world rules give each saga (from its "
                           "trigger's fields and the world's data): the failing branch "
                           "exactly for the sagas they decline, the other otherwise",
            needs=("setup",), participants=knobs))
        out.append(Check(
            "world", f"with the world's knob values set per saga, {', '.join(knobs)} "
                     "take(s) exactly the alternatives those values select",
            needs=("setup", "knobs"), participants=knobs))
    return tuple(out)


_GENERIC_HEAD = (
    Check("schema", "every published event validates against its JSON Schema"),
    Check("saga-consistency",
          "published events carry a known sagaId, every field the spec copies from the "
          "saga's start or an earlier event equal to it, a fresh eventId and a causationId "
          "from the same saga"),
)
_GENERIC_TAIL = (
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


@functools.cache
def checks_for(design: Any = "corrected") -> dict[str, Check]:
    """Every check of ``design`` (a shipped name, a spec file or a loaded spec) by name,
    in report order."""
    from sagaspec.conformance.models import suite_model

    spec = suite_model(design, 1).spec
    return {c.name: c for c in (
        *_GENERIC_HEAD, *_property_checks(spec, ("always",)),
        Check("model", "what the service published is a behaviour the model allows"),
        *_world_checks(design), *_property_checks(spec, ("at_rest", "eventually")),
        *_GENERIC_TAIL)}


def __getattr__(name: str) -> Any:
    # CHECKS, the checks of the shipped ``corrected`` design by name in report order, is
    # made on first use (PEP 562): it reads the spec through the models, about 0.1 s of
    # CPU that every import of this module (the pytest plugin, `sagaspec --help`) paid.
    if name == "CHECKS":
        return checks_for("corrected")  # cached: the same dict on every use
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_names(design: Any = "corrected") -> tuple[str, ...]:
    return tuple(checks_for(design))


def skipped_checks(capabilities: frozenset[str], participant: str,
                   design: Any = "corrected") -> tuple[Check, ...]:
    """The checks of ``design`` that apply to ``participant`` but cannot run with an
    adapter offering ``capabilities``."""
    return tuple(c for c in checks_for(design).values() if c.applies(participant)
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
    cls = _CLASSES.get(check)
    if cls is None:
        cls = type(f"CheckFailed_{check.replace('-', '_')}", (CheckFailed,), {"check": check})
        _CLASSES[check] = cls
    return cls(message, event=event, allowed=allowed)
