"""Named properties: ``always``, ``at_rest``, ``eventually``, ``leads_to``, ``sometimes``.

A predicate takes a read-only :class:`~sagaspec.model.view.View` of the global state and
returns a bool; a *per-saga* predicate (``per_saga=True``) takes ``(view, i)`` and the
property must hold for every saga ``i`` in ``0 .. System.sagas - 1``. Semantics, over
the reachable state graph of a run:

``always(name, pred)``
    Safety: ``pred`` holds in every reachable state. A violation comes with the shortest
    path to a violating state.
``at_rest(name, pred)``
    ``pred`` holds wherever a run comes to rest: in every *quiescent* state (nothing in
    flight, no internal action enabled; a violating one is a deadlock or a stuck saga)
    and, on cycles (retries), in some state of every *bottom cycle*: a strongly
    connected set of states that no non-fault step leaves (a crash or a duplicate
    delivery is possible, never obliged, so it is not a way out). The violation is a
    stuck prefix or a lasso. Independent of ``Config.fairness``: a run is assumed to
    leave any set of states it can leave by a non-fault step (fairness over every step).
``eventually(name, pred)``
    LTL ``<> pred``: every fair run (see ``Config.fairness``) passes through a state
    where ``pred`` holds, at any time, not necessarily at rest. The violation is a run
    that never meets ``pred``: a path to a quiescent state, or a lasso whose cycle is
    fair.
``leads_to(name, p, q)``
    TLA+ ``p ~> q``: whenever ``p`` holds, ``q`` holds then or later, on every fair run.
    The violation is a path to a ``p`` state followed by a ``q``-free stuck suffix or
    fair cycle.
``sometimes(name, pred)``
    Non-vacuity: ``pred`` holds in at least one reachable state; if it never does the
    property is reported *vacuous* (with the shortest witness path when it does).

Fairness (``Config.fairness``, ``"weak"`` by default) is TLA+'s WF/SF over the model's
*actions*: an action is one participant handling one message (every outcome of the
handler, and dropping it as already processed, count as taking it) or one labelled
internal step of one participant. Weak: an action enabled in every state of a cycle
must be taken on it. Strong: an action enabled in some state of a cycle must be taken
on it. Faults (crashes, duplicate deliveries) are never obliged by fairness.

Predicates should be pure and, for symmetry reduction, symmetric in the sagas (quantify
over all sagas rather than naming saga 0). A predicate that raises makes the run fail
with a :class:`~sagaspec.errors.PropertyError` naming the property.

>>> p = Property.always("no-negative-stock", lambda v: v["warehouse"] >= 0)
>>> p.kind, p.name
('always', 'no-negative-stock')
>>> Property.leads_to("answered", lambda v, i: v["desk"][i] == "new",
...                   lambda v, i: v["desk"][i] == "done", per_saga=True).kind
'leads-to'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagaspec.errors import ModelError

__all__ = ["Property", "KINDS", "FAIR_KINDS", "HELD", "VIOLATED", "VACUOUS", "UNKNOWN"]

KINDS = ("always", "at-rest", "eventually", "leads-to", "sometimes")

#: Kinds checked over fair runs (they depend on ``Config.fairness``).
FAIR_KINDS = ("eventually", "leads-to")

#: Verdicts of a property after a run.
HELD, VIOLATED, VACUOUS, UNKNOWN = "held", "violated", "vacuous", "unknown"


@dataclass(frozen=True)
class Property:
    """A named predicate with a temporal kind (see the module docstring).

    ``then`` is the second predicate of a ``leads-to`` property (``q`` in ``p ~> q``);
    ``per_saga`` makes the predicates take ``(view, i)`` (``eventually`` and
    ``leads-to`` only).
    """

    kind: str
    name: str
    pred: Callable[..., bool]
    description: str = ""
    then: Callable[..., bool] | None = None
    per_saga: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelError(f"property {self.name!r}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(self.name, str) or not self.name:
            raise ModelError(f"property {self.name!r}: name must be a non-empty string")
        if not callable(self.pred):
            raise ModelError(f"property {self.name!r}: predicate is not callable")
        if (self.kind == "leads-to") != (self.then is not None):
            raise ModelError(f"property {self.name!r}: a second predicate is for leads-to properties only")
        if self.then is not None and not callable(self.then):
            raise ModelError(f"property {self.name!r}: second predicate is not callable")
        if self.per_saga and self.kind not in FAIR_KINDS:
            raise ModelError(f"property {self.name!r}: per_saga is for eventually and leads-to properties")

    @classmethod
    def always(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """``pred`` holds in every reachable state (safety)."""
        return cls("always", name, pred, description)

    @classmethod
    def at_rest(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """``pred`` holds wherever a run comes to rest (quiescent states, bottom cycles)."""
        return cls("at-rest", name, pred, description)

    @classmethod
    def eventually(
        cls, name: str, pred: Callable[..., bool], description: str = "", *, per_saga: bool = False
    ) -> Property:
        """LTL ``<> pred``: every fair run meets ``pred`` at some point."""
        return cls("eventually", name, pred, description, per_saga=per_saga)

    @classmethod
    def leads_to(
        cls,
        name: str,
        p: Callable[..., bool],
        q: Callable[..., bool],
        description: str = "",
        *,
        per_saga: bool = False,
    ) -> Property:
        """TLA+ ``p ~> q``: on every fair run, each ``p`` state is followed (or met) by ``q``."""
        return cls("leads-to", name, p, description, then=q, per_saga=per_saga)

    @classmethod
    def sometimes(cls, name: str, pred: Callable[[Any], bool], description: str = "") -> Property:
        """``pred`` holds in some reachable state (non-vacuity)."""
        return cls("sometimes", name, pred, description)

    def __repr__(self) -> str:
        method = self.kind.replace("-", "_")
        return f"Property.{method}({self.name!r})"
