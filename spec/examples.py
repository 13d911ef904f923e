"""Valid example events, one story per saga outcome, for schemas, docs and tests.

The first example of ``OrderCreated`` and of ``PaymentProcessed`` are the seed document's
example events, completed with what the seed leaves out: ``schemaVersion``, the ``items`` the
seed elides as ``[...]``, and money as a decimal string (the seed's ``100.00`` JSON
number is exactly what the schema forbids, see :data:`sagaspec.spec.events.Money`).
The other events continue the same two stories: saga ``saga-456`` completes, saga
``saga-457`` is cancelled because the stock ran out after the customer was charged.
Every example here is valid (a test checks it against the schemas and the models), and
the generated JSON Schemas embed them as ``examples``.

>>> [e["eventId"] for e in seed_examples()]
['evt-123', 'evt-124']
>>> examples_for("PaymentRefunded")[0]["reason"]
'inventory reservation failed'
"""

from __future__ import annotations

import copy
from typing import Any

from sagaspec.spec.events import EVENT_TYPES

from sagaspec.errors import UsageError

__all__ = ["examples_for", "all_examples", "seed_examples"]

_ITEMS = [{"sku": "sku-1", "quantity": 2, "unitPrice": "50.00"}]

_EXAMPLES: dict[str, list[dict[str, Any]]] = {
    # --- the seed document's example events, completed -----------------------------------
    "OrderCreated": [
        {
            "eventId": "evt-123",
            "eventType": "OrderCreated",
            "schemaVersion": 1,
            "sagaId": "saga-456",
            "timestamp": "2024-01-15T10:00:00Z",
            "orderId": "order-789",
            "userId": "user-101",
            "amount": "100.00",
            "items": _ITEMS,
        }
    ],
    "PaymentProcessed": [
        {
            "eventId": "evt-124",
            "eventType": "PaymentProcessed",
            "schemaVersion": 1,
            "sagaId": "saga-456",
            "timestamp": "2024-01-15T10:00:05Z",
            "orderId": "order-789",
            "paymentId": "pay-202",
            "amount": "100.00",
            "status": "SUCCESS",
        }
    ],
    # --- the happy path of saga-456 continues ----------------------------------------------
    "InventoryReserved": [
        {
            "eventId": "evt-125",
            "eventType": "InventoryReserved",
            "schemaVersion": 1,
            "sagaId": "saga-456",
            "timestamp": "2024-01-15T10:00:06Z",
            "orderId": "order-789",
            "causationId": "evt-123",
            "reservationId": "res-303",
            "items": _ITEMS,
        }
    ],
    "OrderCompleted": [
        {
            "eventId": "evt-126",
            "eventType": "OrderCompleted",
            "schemaVersion": 1,
            "sagaId": "saga-456",
            "timestamp": "2024-01-15T10:00:07Z",
            "orderId": "order-789",
            "causationId": "evt-125",
            "userId": "user-101",
            "paymentId": "pay-202",
            "reservationId": "res-303",
        }
    ],
    "NotificationSent": [
        {
            "eventId": "evt-127",
            "eventType": "NotificationSent",
            "schemaVersion": 1,
            "sagaId": "saga-456",
            "timestamp": "2024-01-15T10:00:09Z",
            "orderId": "order-789",
            "causationId": "evt-126",
            "userId": "user-101",
            "channel": "email",
            "template": "order-confirmation",
        }
    ],
    # --- saga-457: charged, then out of stock, compensated --------------------------------
    "InventoryReservationFailed": [
        {
            "eventId": "evt-131",
            "eventType": "InventoryReservationFailed",
            "schemaVersion": 1,
            "sagaId": "saga-457",
            "timestamp": "2024-01-15T11:00:04Z",
            "orderId": "order-790",
            "causationId": "evt-130",
            "correlationId": "checkout-42",
            "reason": "insufficient stock for sku-1",
        }
    ],
    "PaymentRefunded": [
        {
            "eventId": "evt-133",
            "eventType": "PaymentRefunded",
            "schemaVersion": 1,
            "sagaId": "saga-457",
            "timestamp": "2024-01-15T11:00:06Z",
            "orderId": "order-790",
            "causationId": "evt-131",
            "correlationId": "checkout-42",
            "paymentId": "pay-203",
            "amount": "100.00",
            "currency": "USD",
            "reason": "inventory reservation failed",
        }
    ],
    "OrderCancelled": [
        {
            "eventId": "evt-134",
            "eventType": "OrderCancelled",
            "schemaVersion": 1,
            "sagaId": "saga-457",
            "timestamp": "2024-01-15T11:00:06Z",
            "orderId": "order-790",
            "causationId": "evt-131",
            "correlationId": "checkout-42",
            "reason": "inventory reservation failed",
        }
    ],
    # --- other failure and compensation events --------------------------------------------
    "PaymentFailed": [
        {
            "eventId": "evt-141",
            "eventType": "PaymentFailed",
            "schemaVersion": 1,
            "sagaId": "saga-458",
            "timestamp": "2024-01-15T12:00:03Z",
            "orderId": "order-791",
            "causationId": "evt-140",
            "paymentId": "pay-204",
            "amount": "100.00",
            "status": "FAILED",
            "reason": "card declined",
        }
    ],
    "InventoryReleased": [
        {
            "eventId": "evt-144",
            "eventType": "InventoryReleased",
            "schemaVersion": 1,
            "sagaId": "saga-458",
            "timestamp": "2024-01-15T12:00:05Z",
            "orderId": "order-791",
            "causationId": "evt-143",
            "reservationId": "res-305",
            "items": _ITEMS,
            "reason": "order cancelled: card declined",
        }
    ],
}

assert tuple(sorted(_EXAMPLES)) == tuple(sorted(EVENT_TYPES)), "one example list per event"


def examples_for(event_type: str) -> list[dict[str, Any]]:
    """Valid example events of ``event_type`` (fresh copies, safe to mutate).

    Raises :class:`~sagaspec.errors.UsageError` naming the known types for an unknown one.
    """
    try:
        return copy.deepcopy(_EXAMPLES[event_type])
    except KeyError:
        raise UsageError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(EVENT_TYPES)}"
        ) from None


def all_examples() -> list[dict[str, Any]]:
    """Every example event, in :data:`~sagaspec.spec.events.EVENT_TYPES` order."""
    return [e for t in EVENT_TYPES for e in examples_for(t)]


def seed_examples() -> list[dict[str, Any]]:
    """The seed's two section-5 events, completed (``OrderCreated``, ``PaymentProcessed``)."""
    return [examples_for("OrderCreated")[0], examples_for("PaymentProcessed")[0]]
