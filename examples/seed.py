"""The ``seed`` design implemented faithfully, holes and all (the seed's subscription table).

These services do what the ``seed`` design (``sagaspec.spec.designs``) says and nothing
more, so the model checker's counterexamples for the seed design can be replayed against
real code and fail the same way:

* nobody subscribes to ``PaymentFailed``: a declined payment leaves the saga open and
  a reservation held forever;
* Payment refunds on ``InventoryReservationFailed`` whether or not it charged (the
  seed's compensation rule), so a declined payment plus short stock publishes a refund of nothing;
* Inventory never releases a reservation (it subscribes only to ``OrderCreated``);
* Order cancels only on ``InventoryReservationFailed``.

Idempotency (a store of processed eventIds) is kept: the holes are in the choreography,
not the consumer.
"""

from __future__ import annotations

from sagaspec.examples.envelope import new_id
from sagaspec.examples.service import ReferenceService
from sagaspec.examples.services import (
    InventoryService,
    NotificationService,
    OrderService,
    PaymentService,
)
from sagaspec.examples.store import Tx
from sagaspec.spec.events import EventEnvelope

__all__ = [
    "SeedOrderService",
    "SeedPaymentService",
    "SeedInventoryService",
    "SeedNotificationService",
    "SEED_SERVICES",
]


class SeedOrderService(OrderService):
    """Subscribes to InventoryReserved, PaymentProcessed, InventoryReservationFailed (the seed's table)."""

    design = "seed"
    subscribes = frozenset({"InventoryReserved", "PaymentProcessed", "InventoryReservationFailed"})


class SeedPaymentService(PaymentService):
    """Subscribes to OrderCreated and InventoryReservationFailed; refunds on the latter."""

    design = "seed"
    subscribes = frozenset({"OrderCreated", "InventoryReservationFailed"})

    def on_InventoryReservationFailed(self, tx: Tx, event: EventEnvelope) -> None:
        # The seed's compensation: "PaymentService: Refund Payment" -- it never asks whether a
        # charge exists, so neither does this service.
        rec = self.load(tx, event)
        charge = rec["charges"][-1] if rec["charges"] else None
        refund = {
            "paymentId": charge["paymentId"] if charge else new_id("pay"),
            "amount": charge["amount"] if charge else (rec["amount"] or "0.00"),
        }
        rec["refunds"].append(refund)
        self.emit(tx, event, "PaymentRefunded", paymentId=refund["paymentId"],
                  amount=refund["amount"], currency=rec["currency"] or "USD",
                  reason=f"inventory reservation failed: {event.reason}"[:500])
        tx.put(f"order:{event.orderId}", rec)


class SeedInventoryService(InventoryService):
    """Subscribes to OrderCreated only (the seed's table), so it never releases anything."""

    design = "seed"
    subscribes = frozenset({"OrderCreated"})


class SeedNotificationService(NotificationService):
    design = "seed"


#: participant name -> service class of the seed design.
SEED_SERVICES: dict[str, type[ReferenceService]] = {
    cls.name: cls
    for cls in (SeedOrderService, SeedPaymentService, SeedInventoryService, SeedNotificationService)
}

