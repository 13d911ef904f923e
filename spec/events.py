"""One pydantic model per saga event, and the discriminated union of all of them.

The envelope is exactly the seed document's (``eventId``, ``eventType``, ``sagaId``,
``timestamp``, ``orderId``) plus what its best practices ask for: ``schemaVersion``
(event versioning) and the optional ``causationId`` / ``correlationId``.

Money is a decimal *string* with exactly two fraction digits (``"100.00"``), never a JSON
number: most JSON consumers parse numbers as binary floats, where ``0.1 + 0.2 != 0.3``,
so a charge and its refund could differ by a rounding error. A string is exact,
round-trips through every JSON library, and reads like the seed's ``100.00``.

>>> e = OrderCreated(eventId="evt-123", sagaId="saga-456", orderId="order-789",
...                  timestamp="2024-01-15T10:00:00Z", userId="user-101", amount="100.00",
...                  items=[{"sku": "sku-1", "quantity": 2, "unitPrice": "50.00"}])
>>> e.eventType, e.amount_decimal
('OrderCreated', Decimal('100.00'))
>>> parse_event(e.model_dump(mode="json")).orderId
'order-789'
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_serializer,
)

__all__ = [
    "SCHEMA_VERSION",
    "EVENT_TYPES",
    "EVENT_MODELS",
    "Money",
    "Identifier",
    "LineItem",
    "EventEnvelope",
    "OrderCreated",
    "OrderCompleted",
    "OrderCancelled",
    "PaymentProcessed",
    "PaymentFailed",
    "PaymentRefunded",
    "InventoryReserved",
    "InventoryReservationFailed",
    "InventoryReleased",
    "NotificationSent",
    "SagaEvent",
    "event_adapter",
    "parse_event",
    "model_for",
]

#: Current schema version of every event in this package (see ``sagaspec.spec`` evolution rules).
SCHEMA_VERSION = 1

Money = Annotated[
    str,
    Field(
        pattern=r"^(0|[1-9][0-9]{0,14})\.[0-9]{2}$",
        description=(
            "Non-negative amount as a decimal string with exactly two fraction digits, "
            "e.g. \"100.00\". A string, not a JSON number, so no consumer rounds it "
            "through a binary float."
        ),
        examples=["100.00"],
    ),
]

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"),
]

Reason = Annotated[
    str,
    Field(min_length=1, max_length=500, description="Human-readable cause, for operators."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class LineItem(_Strict):
    """One ordered line: which product, how many, at what unit price."""

    sku: Identifier = Field(description="Stock-keeping unit of the product.", examples=["sku-1"])
    quantity: int = Field(ge=1, le=10_000, description="Units ordered (at least 1).")
    unitPrice: Money = Field(description="Price of one unit, decimal string.")


class EventEnvelope(_Strict):
    """Fields every saga event carries: the pattern's envelope plus versioning and tracing."""

    eventId: Identifier = Field(
        description="Unique identifier of this event; the idempotency key of consumers.",
        examples=["evt-123"],
    )
    eventType: str = Field(description="Determines the handler; fixed per event model.")
    schemaVersion: Literal[1] = Field(
        default=SCHEMA_VERSION,
        description="Version of this event's schema (event versioning best practice).",
    )
    sagaId: Identifier = Field(
        description="Links all events of one saga instance.", examples=["saga-456"]
    )
    timestamp: AwareDatetime = Field(
        description="When the event was produced, RFC 3339 with a time zone.",
        examples=["2024-01-15T10:00:00Z"],
    )
    orderId: Identifier = Field(description="Business identifier of the order.", examples=["order-789"])
    causationId: Identifier | None = Field(
        default=None, description="eventId of the event that caused this one, if any."
    )
    correlationId: Identifier | None = Field(
        default=None, description="Identifier shared by a whole business conversation."
    )

    @field_serializer("timestamp")
    def _rfc3339(self, value: datetime) -> str:
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    @property
    def amount_decimal(self) -> Decimal:
        """The ``amount`` field as an exact :class:`~decimal.Decimal`."""
        return Decimal(self.amount)


class OrderCreated(EventEnvelope):
    """The customer placed an order; starts the saga (published by Order)."""

    eventType: Literal["OrderCreated"] = Field(
        default="OrderCreated", description="Determines the handler; always \"OrderCreated\"."
    )
    userId: Identifier = Field(description="Customer who placed the order.", examples=["user-101"])
    amount: Money = Field(description="Total to charge.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    items: list[LineItem] = Field(min_length=1, max_length=100, description="Ordered lines.")


class PaymentProcessed(EventEnvelope):
    """Payment charged the customer (published by Payment)."""

    eventType: Literal["PaymentProcessed"] = Field(
        default="PaymentProcessed", description="Determines the handler; always \"PaymentProcessed\"."
    )
    paymentId: Identifier = Field(description="Identifier of the charge.", examples=["pay-202"])
    amount: Money = Field(description="Amount charged.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    status: Literal["SUCCESS"] = Field(default="SUCCESS", description="Always SUCCESS.")


class PaymentFailed(EventEnvelope):
    """Payment was declined; nothing was charged (published by Payment)."""

    eventType: Literal["PaymentFailed"] = Field(
        default="PaymentFailed", description="Determines the handler; always \"PaymentFailed\"."
    )
    paymentId: Identifier | None = Field(default=None, description="Attempt identifier, if any.")
    amount: Money = Field(description="Amount that could not be charged.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    status: Literal["FAILED"] = Field(default="FAILED", description="Always FAILED.")
    reason: Reason


class PaymentRefunded(EventEnvelope):
    """Compensation of PaymentProcessed: the charge was refunded (published by Payment)."""

    eventType: Literal["PaymentRefunded"] = Field(
        default="PaymentRefunded", description="Determines the handler; always \"PaymentRefunded\"."
    )
    paymentId: Identifier = Field(description="The refunded charge.")
    amount: Money = Field(description="Amount refunded; equals the charge.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    reason: Reason


class InventoryReserved(EventEnvelope):
    """Stock was reserved for the order (published by Inventory)."""

    eventType: Literal["InventoryReserved"] = Field(
        default="InventoryReserved", description="Determines the handler; always \"InventoryReserved\"."
    )
    reservationId: Identifier = Field(description="Identifier of the reservation.")
    items: list[LineItem] = Field(min_length=1, max_length=100, description="Reserved lines.")


class InventoryReservationFailed(EventEnvelope):
    """Not enough stock; nothing was reserved (published by Inventory)."""

    eventType: Literal["InventoryReservationFailed"] = Field(
        default="InventoryReservationFailed", description="Determines the handler; always \"InventoryReservationFailed\"."
    )
    reason: Reason


class InventoryReleased(EventEnvelope):
    """Compensation of InventoryReserved: stock returned (published by Inventory)."""

    eventType: Literal["InventoryReleased"] = Field(
        default="InventoryReleased", description="Determines the handler; always \"InventoryReleased\"."
    )
    reservationId: Identifier = Field(description="The released reservation.")
    items: list[LineItem] = Field(min_length=1, max_length=100, description="Released lines.")
    reason: Reason


class OrderCompleted(EventEnvelope):
    """The order is paid and reserved: the saga succeeded (published by Order)."""

    eventType: Literal["OrderCompleted"] = Field(
        default="OrderCompleted", description="Determines the handler; always \"OrderCompleted\"."
    )
    userId: Identifier = Field(description="Customer to notify.")
    paymentId: Identifier | None = Field(default=None, description="The charge, if known.")
    reservationId: Identifier | None = Field(default=None, description="The reservation, if known.")


class OrderCancelled(EventEnvelope):
    """Compensation of OrderCreated: the saga failed and is being undone (published by Order)."""

    eventType: Literal["OrderCancelled"] = Field(
        default="OrderCancelled", description="Determines the handler; always \"OrderCancelled\"."
    )
    reason: Reason


class NotificationSent(EventEnvelope):
    """The order confirmation email was sent (published by Notification)."""

    eventType: Literal["NotificationSent"] = Field(
        default="NotificationSent", description="Determines the handler; always \"NotificationSent\"."
    )
    userId: Identifier = Field(description="Recipient customer.")
    channel: Literal["email"] = Field(default="email", description="Delivery channel.")
    template: Literal["order-confirmation"] = Field(
        default="order-confirmation", description="Which message was sent."
    )


EVENT_MODELS: dict[str, type[EventEnvelope]] = {
    m.model_fields["eventType"].default: m
    for m in (
        OrderCreated,
        PaymentProcessed,
        PaymentFailed,
        PaymentRefunded,
        InventoryReserved,
        InventoryReservationFailed,
        InventoryReleased,
        OrderCompleted,
        OrderCancelled,
        NotificationSent,
    )
}

#: Every event type name, in the seed's order of appearance.
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)

SagaEvent = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs the explicit Union
        OrderCreated,
        PaymentProcessed,
        PaymentFailed,
        PaymentRefunded,
        InventoryReserved,
        InventoryReservationFailed,
        InventoryReleased,
        OrderCompleted,
        OrderCancelled,
        NotificationSent,
    ],
    Field(discriminator="eventType"),
]

event_adapter: TypeAdapter[Any] = TypeAdapter(SagaEvent)


def parse_event(data: dict[str, Any] | str | bytes) -> EventEnvelope:
    """Validate a JSON object (or JSON text) into its event model.

    Raises :class:`pydantic.ValidationError`; front ends turn it into one-line errors.
    """
    if isinstance(data, (str, bytes)):
        return event_adapter.validate_json(data)
    return event_adapter.validate_python(data)


def model_for(event_type: str) -> type[EventEnvelope]:
    """The model class of ``event_type``; :class:`KeyError` names the unknown type."""
    try:
        return EVENT_MODELS[event_type]
    except KeyError:
        raise KeyError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(EVENT_TYPES)}"
        ) from None
