"""Concrete sample orders and events, for tests, benchmarks and documentation.

>>> sample_order(7)["sagaId"], sample_event("OrderCancelled", 7, reason="x")["orderId"]
('saga-7', 'order-7')
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sagaspec.examples.envelope import outgoing

__all__ = ["sample_order", "sample_created", "sample_event"]


def sample_order(
    n: int = 1,
    *,
    user: str = "alice",
    qty: int = 1,
    sku: str = "sku-1",
    price: str = "10.00",
    prefix: str = "",
) -> dict[str, Any]:
    """The customer's order number ``n``: ``saga-N``/``order-N``, one line of ``qty`` x ``sku``."""
    return {
        "sagaId": f"{prefix}saga-{n}",
        "orderId": f"{prefix}order-{n}",
        "userId": user,
        "amount": f"{Decimal(price) * qty:.2f}",
        "currency": "USD",
        "correlationId": f"{prefix}corr-{n}",
        "items": [{"sku": sku, "quantity": qty, "unitPrice": price}],
    }


def sample_created(n: int = 1, **kw: Any) -> dict[str, Any]:
    """The ``OrderCreated`` event of :func:`sample_order` ``n`` (fresh ``eventId``)."""
    o = sample_order(n, **kw)
    return outgoing(
        "OrderCreated", saga_id=o["sagaId"], order_id=o["orderId"],
        correlation_id=o["correlationId"], userId=o["userId"], amount=o["amount"],
        currency=o["currency"], items=o["items"],
    )


def sample_event(event_type: str, n: int = 1, *, prefix: str = "", **fields: Any) -> dict[str, Any]:
    """A valid ``event_type`` event of saga ``n`` with the given payload fields."""
    return outgoing(
        event_type, saga_id=f"{prefix}saga-{n}", order_id=f"{prefix}order-{n}",
        correlation_id=f"{prefix}corr-{n}", **fields,
    )
