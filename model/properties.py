"""Named properties: ``always``, ``eventually`` and ``sometimes`` predicates over a View.

A predicate takes a read-only :class:`~sagaspec.model.view.View` of the global state and
returns a bool. Semantics, over the reachable state graph of a run:

``always(name, pred)``
    Safety: ``pred`` holds in every reachable state. A violation comes with the shortest
    path to a violating state.
``eventually(name, pred)``
    Liveness: every run ends where ``pred`` holds. Checked in every *quiescent* state
    (nothing in flight, no internal action enabled; a violating one is a deadlock or a
    stuck saga) and, when the graph has cycles (retries), under fairness in every bottom
    strongly connected component: one that no run can leave must contain a state where
    ``pred`` holds, else the violation is a lasso (prefix + cycle). In LTL terms this is
    ``GF pred`` with terminal states stuttering, assuming fairness strong enough that a
    run does not stay forever in a component it can leave.
``sometimes(name, pred)``
    Non-vacuity: ``pred`` holds in at least one reachable state; if it never does the
    property is reported *vacuous* (with the shortest witness path when it does).

Predicates should be pure and, for symmetry reduction, symmetric in the sagas (quantify
over all sagas rather than naming saga 0). A predicate that raises makes the run fail
with a :class:`~sagaspec.errors.PropertyError` naming the property.

>>> p = Property.always("no-negative-stock", lambda v: v["inventory"] >= 0)
>>> p.kind, p.name
('always', 'no-negative-stock')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagaspec.errors import ModelError

__all__ = ["Property", "KINDS", "HELD", "VIOLATED", "VACUOUS", "UNKNOWN"]

KINDS = ("always", "eventually", "sometimes")

#: Verdicts of a property after a run.
HELD, VIOLATED, VACUOUS, UNKNOWN = "held", "violated", "vacuous", "unknown"


@dataclass(frozen=True)
class Property:
    """A named predicate with a temporal kind (see the module docstring)."""

    kind: str
    name: str
    pred: Callable[[Any], bool]
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelError(f"property {self.name!r}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(self.name, str) or not self.name:
            raise ModelError(f"property {self.name!r}: name must be a non-empty string")
        if not callable(self.pred):
            raise ModelError(f"property {self.name!r}: predicate is not callable")

    @classmethod
    def always(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """``pred`` holds in every reachable state (safety)."""
        return cls("always", name, pred, description)

    @classmethod
    def eventually(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """Every run ends (quiesces, or cycles fairly) where ``pred`` holds (liveness)."""
        return cls("eventually", name, pred, description)

    @classmethod
    def sometimes(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """``pred`` holds in some reachable state (non-vacuity)."""
        return cls("sometimes", name, pred, description)

    def __repr__(self) -> str:
        return f"Property.{self.kind}({self.name!r})"
