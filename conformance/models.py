"""The model the suite plays and judges with, built from ``sagaspec.model.saga``.

``suite_model(design, sagas)`` returns the saga participants of ``design`` for a test case
with ``sagas`` orders. One deliberate difference from ``sagaspec check``: the model
checker decides a reservation from a bounded model stock, but a real Inventory service
decides from *its* stock. So the suite's Inventory may reserve or run out for any order
(:class:`AnyStock`), and Payment may approve or decline any: both branches stay open
wherever the model is nondeterministic. That permissive model is what the suite *plays*
and what coverage counts edges of; when the suite knows the service's world (the
adapter has ``setup``), the oracle narrows it to the world's decisions
(:mod:`sagaspec.conformance.world`), and only without a world does it judge with the
permissive model (the run says so).

>>> m = suite_model("corrected", 1)
>>> [p.name for p in m.participants], m.publisher("PaymentRefunded")
(['order', 'payment', 'inventory', 'notification'], 'payment')
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.spec.designs import Design, get_design

__all__ = ["SuiteModel", "AnyStock", "suite_model"]

#: Free units the unconstrained inventory pretends to have (never runs out by itself).
_PLENTY = 10**6


def _with_free(state: Any, free: int) -> Any:
    """``state`` with ``free`` units (the model's ``InventoryState`` NamedTuple)."""
    if hasattr(state, "_replace"):
        return state._replace(free=free)
    return (free, state[1])


class AnyStock(Participant):
    """Wrap the model's Inventory so every reservation may succeed *or* run out of stock.

    Relies on the documented state layout of ``sagaspec.model.saga.Inventory``:
    ``InventoryState(free, slots)``. Free stock is pinned to a large constant, and each reaction is the
    union of the inner reactions with plenty of stock and with none.
    """

    def __init__(self, inner: Participant) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())

    def init(self) -> Hashable:
        return _with_free(self.inner.init(), _PLENTY)

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        out: dict[tuple, Outcome] = {}
        for free in (_PLENTY, 0):
            for o in self.inner.on_event(_with_free(state, free), msg):
                norm = Outcome(o.label, _with_free(o.state, _PLENTY), o.publish)
                out.setdefault((norm.state, norm.publish), norm)
        return tuple(out.values())

    def internal(self, state: Hashable) -> tuple[Outcome, ...]:
        return ()

    def restart(self, state: Hashable) -> Hashable:
        return state

    def permute(self, state, perm):
        return self.inner.permute(state, perm)


@dataclass(frozen=True)
class SuiteModel:
    """Participants of one test case's model plus the design's routing facts."""

    design: Design
    sagas: int
    participants: tuple[Participant, ...]

    def participant(self, name: str) -> Participant:
        for p in self.participants:
            if p.name == name:
                return p
        raise KeyError(name)

    def subscribers(self, event_type: str) -> tuple[str, ...]:
        return tuple(p.name for p in self.participants if event_type in p.subscribes)

    def publisher(self, event_type: str) -> str | None:
        """The service that publishes ``event_type`` in the design (one per type)."""
        names = self.design.publishers(event_type)
        return names[0] if names else None

    @property
    def triggers(self) -> frozenset[str]:
        """Event types published only on the customer's trigger (``OrderCreated``)."""
        return frozenset(e for r in self.design.reactions if not r.on for alt in r.emits
                         for e in alt)


@functools.lru_cache(maxsize=32)
def suite_model(design: str | Design, sagas: int) -> SuiteModel:
    """The suite's model of ``design`` for ``sagas`` concurrent orders."""
    from sagaspec.model._handwritten import Inventory
    from sagaspec.model._handwritten import handwritten_system as saga_system

    d = get_design(design) if isinstance(design, str) else design
    system = saga_system(d.name if d.name in ("seed", "corrected") else d, orders=sagas)
    parts = tuple(AnyStock(p) if isinstance(p, Inventory) else p for p in system.participants)
    return SuiteModel(d, sagas, parts)
