"""Choreography designs as data: who publishes, who subscribes, and who reacts how.

A :class:`Design` is the machine-readable form of the seed document's subscription table
plus its flows (success, compensation, notification). Two designs ship:

``seed``
    Exactly the seed document, holes and all. The seed disagrees with itself in places;
    where it does, its subscription table wins and the choice is noted on the reaction.
``corrected``
    Our recommended design: the Order service is the single place that decides a saga's
    outcome, every failure leads to ``OrderCancelled``, and each service compensates its
    own step when it sees ``OrderCancelled`` (remembering the cancellation, so a late
    ``OrderCreated`` does nothing).

>>> get_design("seed").subscribers("PaymentFailed")
()
>>> get_design("corrected").subscribers("PaymentFailed")
('order',)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sagaspec.errors import DesignError

__all__ = [
    "Service",
    "Reaction",
    "Design",
    "DESIGNS",
    "SEED",
    "CORRECTED",
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
    outcomes: frozenset[str] = frozenset({"OrderCompleted", "OrderCancelled"})

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


_COMPENSATES = {
    "PaymentRefunded": "PaymentProcessed",
    "InventoryReleased": "InventoryReserved",
    "OrderCancelled": "OrderCreated",
}

SEED = Design(
    name="seed",
    title="The seed document's design, holes and all",
    description=(
        "Order, Payment and Inventory exactly as the seed's subscription table, plus its "
        "Notification service. Payment and Inventory react to OrderCreated in parallel "
        "(as the seed's overview, flow and table say; its sequence diagram shows Inventory "
        "after Payment instead, and the table wins). Compensation follows the seed's rule: "
        "on InventoryReservationFailed, Payment refunds and Order cancels."
    ),
    services=(
        Service(
            "order",
            subscribes=("InventoryReserved", "PaymentProcessed", "InventoryReservationFailed"),
            publishes=("OrderCreated", "OrderCompleted", "OrderCancelled"),
            description="Creates orders; completes or cancels them.",
        ),
        Service(
            "payment",
            subscribes=("OrderCreated", "InventoryReservationFailed"),
            publishes=("PaymentProcessed", "PaymentFailed", "PaymentRefunded"),
            description="Charges the customer; refunds on compensation.",
        ),
        Service(
            "inventory",
            subscribes=("OrderCreated",),
            publishes=("InventoryReserved", "InventoryReservationFailed", "InventoryReleased"),
            description="Reserves stock; releases it on compensation.",
        ),
        Service(
            "notification",
            subscribes=("OrderCompleted",),
            publishes=("NotificationSent",),
            description="Sends the order confirmation email.",
        ),
    ),
    reactions=(
        Reaction("order", (), (("OrderCreated",),), note="the customer places an order"),
        Reaction(
            "payment", ("OrderCreated",), (("PaymentProcessed",), ("PaymentFailed",)),
            note="charge approved or declined",
        ),
        Reaction(
            "inventory", ("OrderCreated",),
            (("InventoryReserved",), ("InventoryReservationFailed",)),
            note="enough stock or not",
        ),
        Reaction(
            "order", ("PaymentProcessed", "InventoryReserved"), (("OrderCompleted",),),
            join=True, note="complete once paid and reserved",
        ),
        Reaction(
            "order", ("InventoryReservationFailed",), (("OrderCancelled",),),
            note="the seed's compensation: cancel on reservation failure",
        ),
        Reaction(
            "payment", ("InventoryReservationFailed",), (("PaymentRefunded",),),
            note="the seed's compensation: refund on reservation failure (whether or not it charged)",
        ),
        Reaction("notification", ("OrderCompleted",), (("NotificationSent",),)),
    ),
    terminal=frozenset({"OrderCancelled", "PaymentRefunded", "InventoryReleased", "NotificationSent"}),
    failures=frozenset({"PaymentFailed", "InventoryReservationFailed"}),
    compensates=dict(_COMPENSATES),
)

CORRECTED = Design(
    name="corrected",
    title="Recommended design: Order decides, everyone compensates on OrderCancelled",
    description=(
        "Every failure event goes to Order, which publishes exactly one outcome per saga. "
        "Payment and Inventory subscribe to OrderCancelled and undo their own step if they "
        "did it; if OrderCancelled overtakes OrderCreated they remember the cancellation and "
        "ignore the late OrderCreated. Every consumer keeps an idempotency store of "
        "processed eventIds (as the seed asks) and publishes through a transactional outbox: "
        "the state change, the processed eventId and the outgoing events commit together, "
        "so a crash between commit and publish cannot lose an event that the store would "
        "then refuse to redo. Notification also remembers which orders it emailed, so one "
        "completed order gets one email even without the store."
    ),
    services=(
        Service(
            "order",
            subscribes=(
                "PaymentProcessed", "PaymentFailed", "InventoryReserved",
                "InventoryReservationFailed",
            ),
            publishes=("OrderCreated", "OrderCompleted", "OrderCancelled"),
            description="Creates orders and is the single decider of their outcome.",
        ),
        Service(
            "payment",
            subscribes=("OrderCreated", "OrderCancelled"),
            publishes=("PaymentProcessed", "PaymentFailed", "PaymentRefunded"),
            description="Charges once per order; refunds a charge of a cancelled order.",
        ),
        Service(
            "inventory",
            subscribes=("OrderCreated", "OrderCancelled"),
            publishes=("InventoryReserved", "InventoryReservationFailed", "InventoryReleased"),
            description="Reserves once per order; releases the reservation of a cancelled order.",
        ),
        Service(
            "notification",
            subscribes=("OrderCompleted",),
            publishes=("NotificationSent",),
            description="Sends exactly one confirmation email per completed order.",
        ),
    ),
    reactions=(
        Reaction("order", (), (("OrderCreated",),), note="the customer places an order"),
        Reaction(
            "payment", ("OrderCreated",), (("PaymentProcessed",), ("PaymentFailed",), ()),
            note="charge approved or declined; nothing if the order was already cancelled",
        ),
        Reaction(
            "inventory", ("OrderCreated",),
            (("InventoryReserved",), ("InventoryReservationFailed",), ()),
            note="enough stock or not; nothing if the order was already cancelled",
        ),
        Reaction(
            "order", ("PaymentProcessed", "InventoryReserved"), (("OrderCompleted",), ()),
            join=True, note="complete once paid and reserved, unless already cancelled",
        ),
        Reaction(
            "order", ("PaymentFailed",), (("OrderCancelled",), ()),
            note="cancel on a declined payment, unless already cancelled",
        ),
        Reaction(
            "order", ("InventoryReservationFailed",), (("OrderCancelled",), ()),
            note="cancel on a failed reservation, unless already cancelled",
        ),
        Reaction(
            "payment", ("OrderCancelled",), (("PaymentRefunded",), ()),
            note="refund only if charged; otherwise remember the cancellation",
        ),
        Reaction(
            "inventory", ("OrderCancelled",), (("InventoryReleased",), ()),
            note="release only if reserved; otherwise remember the cancellation",
        ),
        Reaction(
            "notification", ("OrderCompleted",), (("NotificationSent",), ()),
            note="one email per completed order; nothing for a repeat",
        ),
    ),
    terminal=frozenset({"PaymentRefunded", "InventoryReleased", "NotificationSent"}),
    failures=frozenset({"PaymentFailed", "InventoryReservationFailed"}),
    compensates=dict(_COMPENSATES),
)

DESIGNS: dict[str, Design] = {d.name: d for d in (SEED, CORRECTED)}


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
