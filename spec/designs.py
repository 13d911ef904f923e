"""Choreography designs as data: who publishes, who subscribes, and who reacts how.

A :class:`Design` is the choreography table of a saga spec
(:meth:`sagaspec.spec.sagafile.SagaSpec.design`): its services, their reactions and the
role of each event, which lint and the docs read. The shipped designs are the tables of
the shipped spec files (``spec/sagas/order-seed.saga.yaml``, ``order-corrected.saga.yaml``),
by short name:

>>> get_design("seed").subscribers("PaymentFailed")
()
>>> get_design("corrected").subscribers("PaymentFailed")
('order',)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from sagaspec.errors import DesignError

__all__ = [
    "Service",
    "Reaction",
    "Design",
    "DESIGNS",
    "get_design",
    "design_names",
]


@dataclass(frozen=True)
class Service:
    """A participant: the events it subscribes to and the events it may publish."""

    name: str
    subscribes: tuple[str, ...]
    publishes: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Reaction:
    """What ``service`` does when it receives ``on``.

    ``on`` empty means an external trigger (the customer placing an order). With
    ``join=True`` every event of ``on`` must have been received (Order completes only
    after both payment and reservation). ``emits`` lists the alternative outcomes, each a
    tuple of published events; ``()`` is the outcome "publish nothing".
    """

    service: str
    on: tuple[str, ...]
    emits: tuple[tuple[str, ...], ...]
    join: bool = False
    note: str = ""


@dataclass(frozen=True)
class Design:
    """A named choreography: services, reactions, and the role of each event."""

    name: str
    title: str
    description: str
    services: tuple[Service, ...]
    reactions: tuple[Reaction, ...]
    #: Events after which nothing more is expected (they need no consumer).
    terminal: frozenset[str]
    #: Events that report a failed step and must lead to compensation.
    failures: frozenset[str]
    #: compensation event -> the forward event it undoes. Left out of the hash (a dict is
    #: unhashable), so a Design stays hashable and usable as a cache key.
    compensates: dict[str, str] = field(default_factory=dict, hash=False)
    #: The saga's outcomes (exactly one per saga).
    outcomes: frozenset[str] = frozenset()

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.services)
        raise DesignError(f"design {self.name!r} has no service {name!r}; expected one of {known}")

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    @property
    def events(self) -> tuple[str, ...]:
        """Every event the design mentions, in first-mention order."""
        seen: dict[str, None] = {}
        for s in self.services:
            for e in (*s.publishes, *s.subscribes):
                seen.setdefault(e, None)
        return tuple(seen)

    def publishers(self, event: str) -> tuple[str, ...]:
        return tuple(s.name for s in self.services if event in s.publishes)

    def subscribers(self, event: str) -> tuple[str, ...]:
        return tuple(s.name for s in self.services if event in s.subscribes)

    def reactions_of(self, service: str) -> tuple[Reaction, ...]:
        return tuple(r for r in self.reactions if r.service == service)

    def reactions_to(self, event: str) -> tuple[Reaction, ...]:
        return tuple(r for r in self.reactions if event in r.on)

    def emitters(self, event: str) -> tuple[Reaction, ...]:
        """Reactions that can publish ``event``."""
        return tuple(r for r in self.reactions if any(event in alt for alt in r.emits))


class _Shipped(Mapping[str, Design]):
    """The shipped designs by short name, each read from its spec file on first use."""

    def __iter__(self) -> Iterator[str]:
        from sagaspec.spec.sagafile import shipped_names

        return iter(shipped_names())

    def __len__(self) -> int:
        return len(tuple(iter(self)))

    def __getitem__(self, name: str) -> Design:
        from sagaspec.spec.sagafile import SHIPPED, shipped_spec

        if name not in SHIPPED:
            raise KeyError(name)
        return shipped_spec(name).design()

    def __repr__(self) -> str:
        return f"DESIGNS({', '.join(self)})"


#: The shipped designs (``seed``, ``corrected``), read from ``spec/sagas/*.saga.yaml``.
DESIGNS: Mapping[str, Design] = _Shipped()


def design_names() -> tuple[str, ...]:
    return tuple(DESIGNS)


def get_design(name: str) -> Design:
    """The shipped design called ``name``; :class:`DesignError` lists the known ones."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise DesignError(
            f"unknown design {name!r}; expected one of {', '.join(DESIGNS)}"
        ) from None
