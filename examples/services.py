"""Reference implementation of every participant of the ``corrected`` design.

Honest service code, written from the design's prose (``sagaspec.spec.designs``) and the
pattern's description in the README, not from the model: real JSON events in, real JSON events out, business
state in each service's own :class:`~sagaspec.examples.store.Store`.

``OrderService``
    ``place_order`` publishes ``OrderCreated``. Tracks, per saga, the payment, the
    reservation and the first failure; publishes exactly one outcome per saga:
    ``OrderCompleted`` once paid *and* reserved, ``OrderCancelled`` on the first failure.
    Anything arriving after the outcome changes nothing.
``PaymentService``
    Charges the order amount on ``OrderCreated`` unless the world's rules decline it (user
    in ``declined_users`` or amount above ``decline_over``). On ``OrderCancelled`` refunds
    every charge of the order exactly once and remembers the cancellation, so a late
    ``OrderCreated`` charges nothing.
``InventoryService``
    Reserves every line of the order from the per-sku stock, all or nothing. On
    ``OrderCancelled`` returns a reservation to stock exactly once and remembers the
    cancellation, so a late ``OrderCreated`` reserves nothing.
``NotificationService``
    Sends one confirmation email per completed order (recorded in its store) and
    publishes ``NotificationSent``.

Duplicates of the same event (same ``eventId``) are absorbed by the idempotent consumer
in :mod:`sagaspec.examples.service`; the per-order records make compensation and
outcomes happen once even when different events race.

>>> from sagaspec.examples.envelope import outgoing
>>> pay = PaymentService()
>>> pay.configure({"declined_users": ["mallory"]})
>>> created = outgoing("OrderCreated", saga_id="s1", order_id="o1", userId="alice",
...                    amount="30.00", items=[{"sku": "a", "quantity": 1, "unitPrice": "30.00"}])
>>> pay.handle(created), pay.handle(created)
('processed', 'duplicate')
>>> sent = []; pay.relay(sent.append)
1
>>> sent[0]["eventType"], sent[0]["amount"], sent[0]["causationId"] == created["eventId"]
('PaymentProcessed', '30.00', True)
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sagaspec.examples.envelope import describe_validation_error, new_id, now_rfc3339, outgoing
from sagaspec.examples.service import DUPLICATE, ReferenceService, world_json
from sagaspec.examples.store import Tx
from sagaspec.spec.events import EventEnvelope

from sagaspec.errors import InputError

__all__ = [
    "OrderService",
    "PaymentService",
    "InventoryService",
    "NotificationService",
    "CORRECTED_SERVICES",
]


class OrderService(ReferenceService):
    """Creates orders and is the single decider of each saga's outcome."""

    name = "order"
    subscribes = frozenset(
        {"PaymentProcessed", "PaymentFailed", "InventoryReserved", "InventoryReservationFailed"}
    )

    # -- the customer's trigger --------------------------------------------------------
    def place_order(self, order: dict[str, Any]) -> str:
        """Create the order and publish ``OrderCreated``; ``duplicate`` if the saga exists.

        ``order`` holds ``sagaId``, ``orderId``, ``userId``, ``amount``, ``items`` and
        optionally ``currency`` and ``correlationId``. Raises :class:`InputError` naming
        the field when it does not make a valid ``OrderCreated``.
        """
        from pydantic import ValidationError

        fields = {k: v for k, v in order.items() if k in _ORDER_FIELDS}
        missing = [k for k in ("sagaId", "orderId") if not isinstance(order.get(k), str)]
        if missing:
            raise InputError(f"order: missing {', '.join(missing)}")
        try:
            event = outgoing(
                "OrderCreated",
                saga_id=order["sagaId"],
                order_id=order["orderId"],
                correlation_id=order.get("correlationId"),
                **fields,
            )
        except ValidationError as exc:
            raise InputError(f"order {order['orderId']!r}: {describe_validation_error(exc)}") from None
        with self.store.transaction() as tx:
            key = f"saga:{event['sagaId']}"
            if tx.get(key) is not None:
                return DUPLICATE
            tx.put(
                key,
                {
                    "orderId": event["orderId"],
                    "userId": event["userId"],
                    "amount": event["amount"],
                    "currency": event["currency"],
                    "paymentId": None,
                    "reservationId": None,
                    "failure": None,
                    "outcome": None,
                },
            )
            tx.emit(event)
        return "placed"

    # -- reactions ---------------------------------------------------------------------
    def saga(self, tx: Tx, event: EventEnvelope) -> dict[str, Any] | None:
        """This saga's record, or ``None`` for an event of an order we never created."""
        rec = tx.get(f"saga:{event.sagaId}")
        if rec is None or rec["orderId"] != event.orderId:
            # Not ours (or a corrupted sagaId): nothing to decide; counted for operators.
            tx.put("orphans:count", int(tx.get("orphans:count") or 0) + 1)
            return None
        return rec

    def on_PaymentProcessed(self, tx: Tx, event: EventEnvelope) -> None:
        self.record_success(tx, event, "paymentId", event.paymentId)

    def on_InventoryReserved(self, tx: Tx, event: EventEnvelope) -> None:
        self.record_success(tx, event, "reservationId", event.reservationId)

    def on_PaymentFailed(self, tx: Tx, event: EventEnvelope) -> None:
        self.record_failure(tx, event, f"payment failed: {event.reason}")

    def on_InventoryReservationFailed(self, tx: Tx, event: EventEnvelope) -> None:
        self.record_failure(tx, event, f"inventory reservation failed: {event.reason}")

    def record_success(self, tx: Tx, event: EventEnvelope, field: str, value: str) -> None:
        rec = self.saga(tx, event)
        if rec is None or rec["outcome"] is not None:
            return  # decided already: a late success changes nothing
        rec[field] = value
        if self.ready(rec):
            rec["outcome"] = "completed"
            self.emit(
                tx, event, "OrderCompleted", userId=rec["userId"],
                paymentId=rec["paymentId"], reservationId=rec["reservationId"],
            )
        tx.put(f"saga:{event.sagaId}", rec)

    def ready(self, rec: dict[str, Any]) -> bool:
        """The join: complete only once paid and reserved."""
        return rec["paymentId"] is not None and rec["reservationId"] is not None

    def record_failure(self, tx: Tx, event: EventEnvelope, reason: str) -> None:
        rec = self.saga(tx, event)
        if rec is None:
            return
        if rec["failure"] is None:
            rec["failure"] = reason
        if rec["outcome"] is None:
            rec["outcome"] = "cancelled"
            self.emit(tx, event, "OrderCancelled", reason=reason[:500])
        tx.put(f"saga:{event.sagaId}", rec)


_ORDER_FIELDS = ("userId", "amount", "currency", "items")


class PaymentService(ReferenceService):
    """Charges once per OrderCreated event; refunds a charge of a cancelled order once."""

    name = "payment"
    subscribes = frozenset({"OrderCreated", "OrderCancelled"})

    def configure(self, world: Any) -> None:
        w = world_json(world)
        # A world without them (World(stock=...)) declines nobody and has no limit.
        rules = {"declined_users": list(w.get("declined_users") or ()), "decline_over": w.get("decline_over")}
        with self.store.transaction() as tx:
            tx.put("rules", rules)

    def load(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return tx.get(f"order:{event.orderId}") or self.new_record(event)

    def new_record(self, event: EventEnvelope) -> dict[str, Any]:
        return {
            "sagaId": event.sagaId,
            "amount": None,
            "currency": None,
            "charges": [],
            "refunds": [],
            "declined": None,
            "cancelled": False,
        }

    def decline_reason(self, tx: Tx, event: EventEnvelope) -> str | None:
        rules = tx.get("rules") or {}
        if event.userId in (rules.get("declined_users") or ()):
            return f"card of user {event.userId} declined"
        limit = rules.get("decline_over")
        if limit is not None and Decimal(event.amount) > Decimal(limit):
            return f"amount {event.amount} exceeds the limit {limit}"
        return None

    def on_OrderCreated(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.record_for_new_order(tx, event)
        if rec["cancelled"]:
            return  # the cancellation overtook the order: charge nothing, ever
        rec.update(amount=event.amount, currency=event.currency)
        reason = self.decline_reason(tx, event)
        if reason is not None:
            rec["declined"] = reason
            self.emit(tx, event, "PaymentFailed", amount=event.amount,
                      currency=event.currency, reason=reason)
        else:
            charge = {"paymentId": new_id("pay"), "amount": event.amount}
            rec["charges"].append(charge)
            self.emit(tx, event, "PaymentProcessed", paymentId=charge["paymentId"],
                      amount=event.amount, currency=event.currency)
        tx.put(f"order:{event.orderId}", rec)

    def record_for_new_order(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return self.load(tx, event)

    def on_OrderCancelled(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.load(tx, event)
        rec["cancelled"] = True
        for charge in self.refundable(rec):
            rec["refunds"].append(charge)
            self.emit(tx, event, "PaymentRefunded", paymentId=charge["paymentId"],
                      amount=charge["amount"], currency=rec["currency"] or "USD",
                      reason=f"order cancelled: {event.reason}"[:500])
        tx.put(f"order:{event.orderId}", rec)

    def refundable(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        """Charges of the order not refunded yet."""
        refunded = {r["paymentId"] for r in rec["refunds"]}
        return [c for c in rec["charges"] if c["paymentId"] not in refunded]

    # -- read side (tests, soak figures) ----------------------------------------------
    def account(self, order_id: str) -> dict[str, Any] | None:
        return self.read(f"order:{order_id}")


class InventoryService(ReferenceService):
    """Reserves stock all-or-nothing; releases a cancelled order's reservation once."""

    name = "inventory"
    subscribes = frozenset({"OrderCreated", "OrderCancelled"})

    def configure(self, world: Any) -> None:
        w = world_json(world)
        with self.store.transaction() as tx:
            tx.put("stock", dict(w["stock"]))

    def load(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return tx.get(f"order:{event.orderId}") or self.new_record(event)

    def new_record(self, event: EventEnvelope) -> dict[str, Any]:
        return {
            "sagaId": event.sagaId,
            "items": None,
            "reservation": None,
            "failed": None,
            "released": False,
            "cancelled": False,
        }

    def on_OrderCreated(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.record_for_new_order(tx, event)
        if rec["cancelled"]:
            return  # the cancellation overtook the order: reserve nothing, ever
        items = [i.model_dump(mode="json") for i in event.items]
        rec["items"] = items
        stock = tx.get("stock") or {}
        need = Counter()
        for item in items:
            need[item["sku"]] += item["quantity"]
        short = [(sku, n, int(stock.get(sku, 0))) for sku, n in sorted(need.items())
                 if int(stock.get(sku, 0)) < n]
        if short:
            sku, n, have = short[0]
            reason = f"insufficient stock for {sku}: requested {n}, available {have}"
            rec["failed"] = reason
            self.emit(tx, event, "InventoryReservationFailed", reason=reason)
        else:
            for sku, n in need.items():
                stock[sku] = int(stock[sku]) - n
            tx.put("stock", stock)
            rec["reservation"] = {"reservationId": new_id("res"), "items": items}
            self.emit(tx, event, "InventoryReserved",
                      reservationId=rec["reservation"]["reservationId"], items=items)
        tx.put(f"order:{event.orderId}", rec)

    def record_for_new_order(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return self.load(tx, event)

    def on_OrderCancelled(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.load(tx, event)
        rec["cancelled"] = True
        if rec["reservation"] is not None and not rec["released"]:
            self.release(tx, event, rec, rec["reservation"])
        tx.put(f"order:{event.orderId}", rec)

    def release(self, tx: Tx, event: EventEnvelope, rec: dict[str, Any],
                reservation: dict[str, Any]) -> None:
        stock = tx.get("stock") or {}
        for item in reservation["items"]:
            stock[item["sku"]] = int(stock.get(item["sku"], 0)) + item["quantity"]
        tx.put("stock", stock)
        rec["released"] = True
        self.emit(tx, event, "InventoryReleased", reservationId=reservation["reservationId"],
                  items=reservation["items"], reason=f"order cancelled: {event.reason}"[:500])

    def stock(self) -> dict[str, int]:
        return dict(self.read("stock") or {})


class NotificationService(ReferenceService):
    """One confirmation email per completed order."""

    name = "notification"
    subscribes = frozenset({"OrderCompleted"})

    def on_OrderCompleted(self, tx: Tx, event: EventEnvelope) -> None:
        key = f"email:{event.orderId}"
        if self.already_sent(tx, key):
            return
        self.send_email(tx, event)

    def already_sent(self, tx: Tx, key: str) -> bool:
        return tx.get(key) is not None

    def send_email(self, tx: Tx, event: EventEnvelope) -> None:
        # The "email" is a durable record written with the outgoing event, so a crash
        # cannot send it twice or lose it; a real mailer would be fed from the outbox.
        tx.put(f"email:{event.orderId}", {"to": event.userId, "sagaId": event.sagaId,
                                          "template": "order-confirmation", "at": now_rfc3339()})
        tx.put("emails:count", int(tx.get("emails:count") or 0) + 1)
        self.emit(tx, event, "NotificationSent", userId=event.userId)

    def email_count(self) -> int:
        return int(self.read("emails:count") or 0)


#: participant name -> service class of the corrected design.
CORRECTED_SERVICES: dict[str, type[ReferenceService]] = {
    cls.name: cls for cls in (OrderService, PaymentService, InventoryService, NotificationService)
}
