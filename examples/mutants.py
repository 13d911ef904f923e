"""Realistic mutants of the reference services: each one a small, honest code change.

Each :class:`Mutant` replaces the class of one or more participants by a subclass that
overrides one small method of the reference code (the bug a real team could ship). The
conformance suite must catch every one (the world-decision mutants at the end only when
it knows the world: their ``needs`` include ``setup``); ``tests/examples/test_mutants.py``
shows each really behaves differently from the reference on a concrete scenario, so none
is an accidentally equivalent mutant.

Select one by name: ``make_system(mutant="no-idempotency")`` or
``sagaspec serve --mutant no-idempotency``.

>>> list(MUTANTS)[:3]
['no-idempotency', 'refund-without-charge', 'complete-before-payment']
>>> MUTANTS["no-idempotency"].affects
('order', 'payment', 'inventory', 'notification')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sagaspec.examples.envelope import new_id, outgoing
from sagaspec.examples.service import DUPLICATE, IGNORED, PROCESSED, ReferenceService
from sagaspec.examples.store import Tx
from sagaspec.spec.events import EventEnvelope, parse_event

from sagaspec.errors import UsageError

__all__ = ["Mutant", "MUTANTS", "get_mutant", "mutant_names", "apply_mutant"]

ALL = ("order", "payment", "inventory", "notification")


# -- consumer-level bugs (any service) -------------------------------------------------
class NoIdempotency:
    """Processes every delivery as new: no processed-eventId record at all."""

    def process(self, event: EventEnvelope) -> str:
        with self.store.transaction() as tx:
            self.dispatch(tx, event)
            self.checkpoint("before-commit")
        self.checkpoint("after-commit")
        return PROCESSED


class CrashLosesAckedEvent:
    """Commits the processed mark in its own transaction before doing the work."""

    def process(self, event: EventEnvelope) -> str:
        with self.store.transaction() as tx:
            if tx.processed(event.eventId):
                return DUPLICATE
            tx.mark_processed(event.eventId, event.sagaId)
        # Bug: the event already counts as handled; a crash from here on loses its work.
        with self.store.transaction() as tx:
            self.dispatch(tx, event)
            self.checkpoint("before-commit")
        self.checkpoint("after-commit")
        return PROCESSED


class VolatileIdempotency:
    """Remembers processed eventIds in process memory, lost on every restart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()

    def process(self, event: EventEnvelope) -> str:
        if event.eventId in self._seen:
            return DUPLICATE
        with self.store.transaction() as tx:
            self.dispatch(tx, event)
            self.checkpoint("before-commit")
        self._seen.add(event.eventId)
        self.checkpoint("after-commit")
        return PROCESSED


class MalformedInputCrashesConsumer:
    """Trusts its input: dispatches on ``eventType`` before validating anything."""

    def handle(self, message: Any) -> str:
        data = json.loads(message) if isinstance(message, (bytes, str)) else message
        if data["eventType"] not in self.subscribes:
            return IGNORED
        return self.process(parse_event(data))  # ValidationError escapes: the consumer dies


class PublishBeforeCommit:
    """Publishes straight to the bus inside the handler instead of through the outbox."""

    def emit(self, tx: Tx, cause: EventEnvelope, event_type: str, **fields: Any) -> None:
        self.publisher(self.build(cause, event_type, **fields))


# -- Payment ---------------------------------------------------------------------------
class RefundWithoutCharge:
    """Refunds the order amount on cancellation without looking for a charge."""

    def refundable(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        if rec["amount"] is None or rec["refunds"]:
            return []
        pid = rec["charges"][0]["paymentId"] if rec["charges"] else new_id("pay")
        return [{"paymentId": pid, "amount": rec["amount"]}]


class LateSuccessOverwritesCancellation:
    """Upserts a fresh record on OrderCreated, overwriting a remembered cancellation."""

    def record_for_new_order(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return self.new_record(event)  # "INSERT OR REPLACE": the cancellation is gone


class InvalidEventPublished:
    """Serialises money as a JSON number (``100.0``) instead of the decimal string."""

    def emit(self, tx: Tx, cause: EventEnvelope, event_type: str, **fields: Any) -> None:
        event = self.build(cause, event_type, **fields)
        if "amount" in event:
            event["amount"] = float(event["amount"])
        tx.emit(event)


class WrongSagaIdPropagated:
    """Copies the incoming eventId into sagaId (and the sagaId into causationId)."""

    def build(self, cause: EventEnvelope, event_type: str, **fields: Any) -> dict[str, Any]:
        return outgoing(
            event_type,
            saga_id=cause.eventId,
            order_id=cause.orderId,
            causation_id=cause.sagaId,
            correlation_id=cause.correlationId,
            **fields,
        )


# -- Order -----------------------------------------------------------------------------
class CompleteBeforePayment:
    """The join forgets the payment: completes as soon as stock is reserved."""

    def ready(self, rec: dict[str, Any]) -> bool:
        return rec["reservationId"] is not None


class DoubleCancel:
    """Guards cancellation only against completion: each failure cancels again."""

    def record_failure(self, tx: Tx, event: EventEnvelope, reason: str) -> None:
        rec = self.saga(tx, event)
        if rec is None or rec["outcome"] == "completed":
            return
        rec["outcome"] = "cancelled"
        self.emit(tx, event, "OrderCancelled", reason=reason[:500])
        tx.put(f"saga:{event.sagaId}", rec)


# -- Inventory -------------------------------------------------------------------------
class NoReleaseAfterPaymentFailure:
    """Does not subscribe to OrderCancelled (as in the seed): a reservation is never released."""

    subscribes = frozenset({"OrderCreated"})


class ReleaseWithoutReservation:
    """Releases the order's items on cancellation even when it reserved nothing."""

    def on_OrderCancelled(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.load(tx, event)
        rec["cancelled"] = True
        if rec["items"] and not rec["released"]:
            reservation = rec["reservation"] or {"reservationId": new_id("res"), "items": rec["items"]}
            self.release(tx, event, rec, reservation)
        tx.put(f"order:{event.orderId}", rec)


class LateReservationAfterCancel:
    """Upserts a fresh record on OrderCreated, so a late order reserves after its cancellation."""

    def record_for_new_order(self, tx: Tx, event: EventEnvelope) -> dict[str, Any]:
        return self.new_record(event)  # "INSERT OR REPLACE": the cancellation is gone


# -- world-dependent decisions (stock, payment rules) ------------------------------------
# Each of these publishes only events the model allows for *some* world, so only an
# oracle that knows the world the suite set up (stock, declined users, amount limit) can
# tell them from the reference.
class NeverReserves:
    """Looks each line up under the upper-cased sku, a key the stock table never uses."""

    def on_OrderCreated(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.record_for_new_order(tx, event)
        if rec["cancelled"]:
            return
        items = [i.model_dump(mode="json") for i in event.items]
        rec["items"] = items
        stock = tx.get("stock") or {}
        # Bug: "SKU-1" is never in a table keyed by "sku-1", so every order looks short.
        line = items[0]
        have = int(stock.get(line["sku"].upper(), 0))
        reason = (f"insufficient stock for {line['sku']}: requested {line['quantity']}, "
                  f"available {have}")
        rec["failed"] = reason
        self.emit(tx, event, "InventoryReservationFailed", reason=reason)
        tx.put(f"order:{event.orderId}", rec)


class Oversell:
    """Reserves every order without an availability check; stock may go negative."""

    def on_OrderCreated(self, tx: Tx, event: EventEnvelope) -> None:
        rec = self.record_for_new_order(tx, event)
        if rec["cancelled"]:
            return
        items = [i.model_dump(mode="json") for i in event.items]
        rec["items"] = items
        stock = tx.get("stock") or {}
        for item in items:  # Bug: no "is there enough?" before taking the units
            stock[item["sku"]] = int(stock.get(item["sku"], 0)) - item["quantity"]
        tx.put("stock", stock)
        rec["reservation"] = {"reservationId": new_id("res"), "items": items}
        self.emit(tx, event, "InventoryReserved",
                  reservationId=rec["reservation"]["reservationId"], items=items)
        tx.put(f"order:{event.orderId}", rec)


class ReleaseKeepsStock:
    """Publishes InventoryReleased but never puts the units back on the shelf."""

    def release(self, tx: Tx, event: EventEnvelope, rec: dict[str, Any],
                reservation: dict[str, Any]) -> None:
        rec["released"] = True
        self.emit(tx, event, "InventoryReleased", reservationId=reservation["reservationId"],
                  items=reservation["items"], reason=f"order cancelled: {event.reason}"[:500])


class DeclineEverything:
    """Reads a missing amount limit as 0.00, so every order is "over the limit"."""

    def decline_reason(self, tx: Tx, event: EventEnvelope) -> str | None:
        rules = tx.get("rules") or {}
        if event.userId in (rules.get("declined_users") or ()):
            return f"card of user {event.userId} declined"
        limit = rules.get("decline_over") or "0.00"  # Bug: None means "no limit"
        if Decimal(event.amount) > Decimal(limit):
            return f"amount {event.amount} exceeds the limit {limit}"
        return None


class ChargesDeclinedUsers:
    """Applies the amount limit but never consults the list of declined users."""

    def decline_reason(self, tx: Tx, event: EventEnvelope) -> str | None:
        limit = (tx.get("rules") or {}).get("decline_over")
        if limit is not None and Decimal(event.amount) > Decimal(limit):
            return f"amount {event.amount} exceeds the limit {limit}"
        return None


# -- Notification ----------------------------------------------------------------------
class EmailPerDuplicate(NoIdempotency):
    """The mailer keeps no record: every delivery of OrderCompleted sends an email."""

    def already_sent(self, tx: Tx, key: str) -> bool:
        return False


@dataclass(frozen=True)
class Mutant:
    """A named bug: which participants change, how, and what exposes it."""

    name: str
    summary: str
    #: participant -> mixin put in front of the reference class.
    overrides: dict[str, type] = field(hash=False, compare=False)
    #: adapter hooks the suite needs to expose it (beyond deliver/collect).
    needs: frozenset[str] = frozenset()
    #: a short scenario that exposes it (documentation; tested in tests/examples).
    scenario: str = ""
    #: The mutant of the order spec (``sagaspec mutate --spec order-corrected``) that makes
    #: the same fault, by its description; tests/conformance/test_handwritten_as_operators.py.
    spec_mutant: str = ""
    #: Where that operator mutant differs from this hand-written one, if anywhere.
    differs: str = ""

    @property
    def affects(self) -> tuple[str, ...]:
        return tuple(p for p in ALL if p in self.overrides)


def _all(mixin: type) -> dict[str, type]:
    return dict.fromkeys(ALL, mixin)


_MUTANTS = (
    Mutant("no-idempotency", "no processed-eventId check: a duplicate OrderCreated charges (and reserves) twice",
           _all(NoIdempotency), scenario="deliver OrderCreated twice to payment",
           spec_mutant='payment handles a redelivered event again, as new: no idempotency store and no state guard (it re-applies what it did the first time)',
           differs='one participant per operator mutant (all four are mutants: redo-duplicate-1..4); the hand-written one is every service at once'),
    Mutant("refund-without-charge", "Payment refunds a cancelled order's amount even if the charge was declined",
           {"payment": RefundWithoutCharge}, scenario="declined OrderCreated, then OrderCancelled",
           spec_mutant="payment on OrderCancelled: refund: guard `status == 'charged' && held > 0` dropped",
           differs='also refunds a cancellation that overtook the order (nothing charged yet)'),
    Mutant("complete-before-payment", "Order completes as soon as stock is reserved, without waiting for payment",
           {"order": CompleteBeforePayment}, scenario="place order, InventoryReserved",
           spec_mutant='order on PaymentProcessed+InventoryReserved: goes on without waiting for PaymentProcessed'),
    Mutant("no-release-after-payment-failure", "Inventory ignores OrderCancelled, so a reservation outlives a declined payment",
           {"inventory": NoReleaseAfterPaymentFailure}, scenario="OrderCreated reserved, then OrderCancelled",
           spec_mutant='inventory does not subscribe to OrderCancelled (never reacts to it)'),
    Mutant("late-success-overwrites-cancellation", "Payment upserts on a late OrderCreated, charging an already cancelled order",
           {"payment": LateSuccessOverwritesCancellation}, scenario="OrderCancelled before OrderCreated",
           spec_mutant='payment on OrderCreated: upserts a fresh record, forgetting what earlier events of the saga left (a late start overwrites a cancellation)'),
    Mutant("email-per-duplicate", "Notification keeps no record and sends one email per delivery of OrderCompleted",
           {"notification": EmailPerDuplicate}, scenario="deliver OrderCompleted twice",
           spec_mutant='notification handles a redelivered event again, as new: no idempotency store and no state guard (it re-applies what it did the first time)'),
    Mutant("invalid-event-published", "Payment publishes amount as a JSON number (100.0), not the schema's decimal string",
           {"payment": InvalidEventPublished}, scenario="any OrderCreated",
           spec_mutant='payment publishes a field of the wrong JSON type (a decimal string such as money as 100.0)'),
    Mutant("crash-loses-acked-event", "the processed mark commits before the state change: a crash in between loses the event",
           _all(CrashLosesAckedEvent), needs=frozenset({"crash"}),
           scenario="crash payment, then deliver OrderCreated",
           spec_mutant='every service commits the processed eventId before the state change: a crash in between loses the event'),
    Mutant("malformed-input-crashes-consumer", "consumers index and validate input unguarded: garbage raises out of the handler",
           _all(MalformedInputCrashesConsumer), scenario="deliver b'{not json' or an event without eventType",
           spec_mutant='every service dispatches on eventType before validating: malformed input raises out of the handler'),
    Mutant("wrong-sagaId-propagated", "Payment copies the incoming eventId into sagaId of what it publishes",
           {"payment": WrongSagaIdPropagated}, scenario="any OrderCreated",
           spec_mutant='every service publishes with a wrong sagaId',
           differs='every service, and the wrong sagaId is the right one suffixed, not the incoming eventId'),
    Mutant("double-cancel", "Order cancels again on a second failure (only completion is guarded)",
           {"order": DoubleCancel}, scenario="PaymentFailed and InventoryReservationFailed for one saga",
           spec_mutant="order on PaymentFailed: cancel: guard `status == 'open'` dropped",
           differs='also cancels a completed order (the hand-written one guards completion); only on PaymentFailed (drop-guard-6 is the same on InventoryReservationFailed)'),
    Mutant("volatile-idempotency", "processed eventIds live in process memory: after a restart a duplicate is processed again",
           _all(VolatileIdempotency), needs=frozenset({"crash"}),
           scenario="OrderCreated, crash payment, same OrderCreated again",
           spec_mutant='every service keeps processed eventIds in memory: after a restart a redelivered event is handled again, as new'),
    Mutant("publish-before-commit", "events go to the bus inside the handler, not via the outbox: a crash publishes twice",
           _all(PublishBeforeCommit), needs=frozenset({"crash"}),
           scenario="crash payment, then deliver OrderCreated",
           spec_mutant='every service publishes straight to the bus, not through the outbox: a crash before the commit has published anyway'),
    Mutant("release-without-reservation", "Inventory releases a cancelled order's items even when the reservation failed",
           {"inventory": ReleaseWithoutReservation}, scenario="short stock, then OrderCancelled",
           spec_mutant="inventory on OrderCancelled: release: guard `status == 'reserved' && held > 0` dropped",
           differs='also releases for a cancellation that overtook the order'),
    Mutant("late-reservation-after-cancel", "Inventory upserts on a late OrderCreated, reserving stock for a cancelled order",
           {"inventory": LateReservationAfterCancel}, scenario="OrderCancelled before OrderCreated",
           spec_mutant='inventory on OrderCreated: upserts a fresh record, forgetting what earlier events of the saga left (a late start overwrites a cancellation)'),
    # Only judged when the suite knows the world (the adapter has ``setup``).
    Mutant("never-reserves", "Inventory looks stock up under the wrong key and answers InventoryReservationFailed to every order",
           {"inventory": NeverReserves}, needs=frozenset({"setup"}),
           scenario="OrderCreated for 1 unit with 5 in stock",
           spec_mutant='inventory on OrderCreated: out of stock: `free < units` dropped from its guard',
           differs='the spec has one stock counter, not stock per sku: a wrong sku key (short for one sku of a multi-sku order) needs keyed shared variables'),
    Mutant("oversell", "Inventory reserves every order without checking the free stock",
           {"inventory": Oversell}, needs=frozenset({"setup"}),
           scenario="OrderCreated for 3 units with 1 in stock",
           spec_mutant='inventory on OrderCreated: reserve: `free >= units` dropped from its guard',
           differs='one stock counter, not per sku (keyed shared variables)'),
    Mutant("release-keeps-stock", "Inventory publishes InventoryReleased but does not return the units to stock",
           {"inventory": ReleaseKeepsStock}, needs=frozenset({"setup"}),
           scenario="reserve, cancel, then an order that fits only with the units back",
           spec_mutant='inventory on OrderCancelled: release: forgets to set free',
           differs='one stock counter, not per sku (keyed shared variables)'),
    Mutant("decline-everything", "Payment reads a missing amount limit as 0.00 and declines every order",
           {"payment": DeclineEverything}, needs=frozenset({"setup"}),
           scenario="OrderCreated of a user the world does not decline",
           spec_mutant='payment on OrderCreated: decline: taken whatever the world says (not only payment=decline)',
           differs="the spec's world is one approve/decline knob, not declined users and an amount limit"),
    Mutant("charges-declined-users", "Payment checks only the amount limit and charges users the world declines",
           {"payment": ChargesDeclinedUsers}, needs=frozenset({"setup"}),
           scenario="OrderCreated of a user in declined_users",
           spec_mutant='payment on OrderCreated: approve: taken whatever the world says (not only payment=approve)',
           differs="the spec's world is one approve/decline knob, not declined users and an amount limit"),
)

#: name -> :class:`Mutant`, in the order of the issue's list then the extras.
MUTANTS: dict[str, Mutant] = {m.name: m for m in _MUTANTS}


def mutant_names() -> tuple[str, ...]:
    return tuple(MUTANTS)


def get_mutant(name: str) -> Mutant:
    """The mutant called ``name``; :class:`UsageError` lists the known ones."""
    try:
        return MUTANTS[name]
    except KeyError:
        raise UsageError(f"unknown mutant {name!r}; expected one of {', '.join(MUTANTS)}") from None


_CACHE: dict[tuple[type, type], type] = {}


def apply_mutant(
    services: dict[str, type[ReferenceService]], mutant: str | Mutant | None
) -> dict[str, type[ReferenceService]]:
    """``services`` with the mutant's participants replaced by their mutated classes."""
    if mutant is None:
        return dict(services)
    m = mutant if isinstance(mutant, Mutant) else get_mutant(mutant)
    out = dict(services)
    for participant, mixin in m.overrides.items():
        if participant not in out:
            continue
        base = out[participant]
        key = (mixin, base)
        if key not in _CACHE:
            _CACHE[key] = type(f"{mixin.__name__}{base.__name__}", (mixin, base),
                               {"__doc__": f"{base.__name__} with mutant {m.name!r}: {m.summary}",
                                "mutant": m.name})
        out[participant] = _CACHE[key]
    return out
