"""The model the suite plays and judges with, compiled from the saga spec.

``suite_model(design, sagas)`` returns the participants of ``design`` (a shipped design
name or a spec file) for a test case with ``sagas`` sagas, compiled from the spec exactly
as ``sagaspec check`` compiles it. One deliberate difference: the model checker decides
an alternative guarded by a *shared* variable (a stock level) from a bounded model value,
but a real service decides from *its* own resources, which the suite cannot see. So a
participant whose guards read a shared variable is made permissive (:class:`AnyStock`):
each of its reactions is the union of what the model does with the shared variables
plentiful and at their minimum. World knobs stay open too (both branches wherever the
model is nondeterministic). That permissive model is what the suite *plays* and what
coverage counts edges of; when the suite knows the service's world (the adapter has
``setup``), the oracle narrows it to the world's decisions
(:mod:`sagaspec.conformance.world`), and only without a world does it judge with the
permissive model (the run says so). Examples on the order saga are in
``tests/conformance/test_conform_models.py``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.model.saga import saga_system, saga_variant
from sagaspec.spec.designs import Design
from sagaspec.spec.sagafile import Alternative, SagaSpec

__all__ = ["SuiteModel", "AnyStock", "suite_model", "reads_shared", "world_alternatives"]

#: What a shared variable is pinned to when it must not limit anything ("plenty").
_PLENTY = 10**6


def reads_shared(p: Participant) -> bool:
    """Whether a compiled participant has an alternative guarded by a shared variable."""
    if not isinstance(p, SpecParticipantModel) or not p.shared_names:
        return False
    shared = set(p.shared_names)
    return any(alt.when is not None and shared & set(getattr(alt.when, "refs", ()))
               for r in p.spec.reactions for alt in r.alternatives)


def world_alternatives(p: Participant) -> tuple[Alternative, ...]:
    """The alternatives of a compiled participant that a world knob decides."""
    if not isinstance(p, SpecParticipantModel):
        return ()
    return tuple(alt for r in p.spec.reactions for alt in r.alternatives if alt.world)


def widened(p: SpecParticipantModel) -> SpecParticipantModel:
    """``p`` with room in its shared variables' domains for :data:`_PLENTY` units.

    The model bounds a shared variable by the run's params (stock at most ``stock``);
    pinned to "plenty", a reservation or a release must not leave that domain.
    """
    w = copy.copy(p)
    w.domains = dict(p.domains)
    for name in p.shared_names:
        d = copy.copy(p.domains[name])
        if d.high is not None:
            d.high = max(d.high, 2 * _PLENTY)
        w.domains[name] = d
    w._memo = {}  # results depend on the domains
    return w


def pin(p: SpecParticipantModel, state: Hashable, value: int | None) -> Hashable:
    """``state`` of ``p`` with every shared variable at ``value`` (``None``: its minimum)."""
    values = tuple(p.domains[n].low if value is None else value for n in p.shared_names)
    return p.state_cls(*values, state[-1])


def shared_values(p: SpecParticipantModel, state: Hashable) -> tuple:
    """The shared variables' values in ``state`` (``(shared..., slots)``)."""
    return tuple(state[:-1])


class AnyStock(Participant):
    """A compiled participant whose shared variables may be plentiful *or* exhausted.

    Its shared variables are pinned to a large constant, and each reaction is the union
    of the inner reactions with the shared variables plentiful and at their minimum, so
    every alternative a shared guard decides stays possible (e.g. a reservation may
    succeed or run out of stock, whatever the model's stock).
    """

    def __init__(self, inner: SpecParticipantModel) -> None:
        self.inner = widened(inner)
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())

    def init(self) -> Hashable:
        return pin(self.inner, self.inner.init(), _PLENTY)

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        out: dict[tuple, Outcome] = {}
        for value in (_PLENTY, None):
            for o in self.inner.on_event(pin(self.inner, state, value), msg):
                norm = Outcome(o.label, pin(self.inner, o.state, _PLENTY), o.publish)
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
    #: The loaded spec the participants are compiled from (properties, provenance).
    spec: SagaSpec | None = None

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
        """Event types published only on the customer's trigger (a spontaneous reaction)."""
        return frozenset(e for r in self.design.reactions if not r.on for alt in r.emits
                         for e in alt)


@functools.lru_cache(maxsize=32)
def suite_model(design: str | Path | SagaSpec | Design, sagas: int) -> SuiteModel:
    """The suite's model of ``design`` (a shipped name, a spec file or a loaded spec)
    for ``sagas`` concurrent sagas, with the spec's default params."""
    ref = design.name if isinstance(design, Design) else design
    variant = saga_variant(ref if isinstance(ref, SagaSpec) else str(ref))
    system = saga_system(variant, orders=sagas)
    parts = tuple(AnyStock(p) if reads_shared(p) else p for p in system.participants)
    return SuiteModel(variant.design, sagas, parts, variant.spec)
