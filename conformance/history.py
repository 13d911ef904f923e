"""The observed history of a test case and the end-to-end properties checked on it.

The history holds every distinct event (by ``eventId``) that crossed the bus in a test
case, whoever published it: the suite playing the other participants, or the system
under test. The properties are the model's, read on real events: they need no model
state, so they also judge a service against a design the model finds broken (the
``seed`` design fails them, which is the point).

Safety properties are checked after every publication by the SUT; the *quiet*
properties once the whole system (bus and SUT) is quiet at the end of a test case.

>>> h = History([SagaInfo(0, "saga-1", "order-1", "user-1", "10.00")])
>>> ev = {"eventType": "PaymentProcessed", "eventId": "e1", "sagaId": "saga-1",
...       "orderId": "order-1", "paymentId": "p1", "amount": "10.00"}
>>> h.add(ev, "sut")
True
>>> h.check_safety(ev)
>>> h.add(dict(ev, eventId="e2"), "sut")
True
>>> try:
...     h.check_safety(dict(ev, eventId="e2"))
... except Exception as exc:
...     print(exc)
[single-charge] order order-1 (saga saga-1) was charged twice: PaymentProcessed e1 then e2
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sagaspec.conformance.checks import CheckFailed, fail

__all__ = ["SagaInfo", "History", "Entry"]


@dataclass(frozen=True)
class SagaInfo:
    """The business facts of one saga of a test case (fresh ids per test case)."""

    index: int
    sagaId: str
    orderId: str
    userId: str
    amount: str
    currency: str = "USD"
    items: tuple[dict[str, Any], ...] = ()

    def order(self) -> dict[str, Any]:
        """The customer's order, as ``Adapter.place_order`` takes it."""
        return {
            "orderId": self.orderId, "sagaId": self.sagaId, "userId": self.userId,
            "amount": self.amount, "currency": self.currency,
            "items": [dict(i) for i in self.items],
        }

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, **self.order()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SagaInfo:
        return cls(int(d["index"]), d["sagaId"], d["orderId"], d["userId"], d["amount"],
                   d.get("currency", "USD"), tuple(dict(i) for i in d.get("items", ())))


@dataclass
class Entry:
    """One distinct event of the history."""

    event: dict[str, Any]
    origin: str  # "suite" or "sut"
    copies: int = 1


@dataclass
class _SagaFacts:
    charges: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    reserved: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    payment_ids: dict[str, str] = field(default_factory=dict)  # paymentId -> amount
    placed: bool = False
    # Charges / reservations still held, in the model's sense: a refund (release) that
    # comes before any charge (reservation) compensates nothing.
    charge_held: int = 0
    stock_held: int = 0


_BY_TYPE = {
    "PaymentProcessed": "charges", "PaymentRefunded": "refunds",
    "InventoryReserved": "reserved", "InventoryReleased": "released",
    "OrderCompleted": "completed", "OrderCancelled": "cancelled",
    "NotificationSent": "emails",
}


class History:
    """Distinct events of a test case, in order of observation, with per-saga facts."""

    def __init__(self, sagas: Iterable[SagaInfo]) -> None:
        self.sagas: dict[str, SagaInfo] = {s.sagaId: s for s in sagas}
        self.entries: list[Entry] = []
        self.by_id: dict[str, Entry] = {}
        self._facts: dict[str, _SagaFacts] = {s: _SagaFacts() for s in self.sagas}
        #: eventIds the SUT received (valid causes of its publications).
        self.received: dict[str, str] = {}

    def add_saga(self, saga: SagaInfo) -> None:
        self.sagas[saga.sagaId] = saga
        self._facts.setdefault(saga.sagaId, _SagaFacts())

    def facts(self, saga_id: str) -> _SagaFacts:
        return self._facts[saga_id]

    def add(self, event: dict[str, Any], origin: str) -> bool:
        """Record ``event``; ``False`` if it is a copy of an event already recorded."""
        eid = event.get("eventId")
        if eid in self.by_id:
            self.by_id[eid].copies += 1
            return False
        entry = Entry(dict(event), origin)
        self.entries.append(entry)
        if isinstance(eid, str):
            self.by_id[eid] = entry
        facts = self._facts.get(event.get("sagaId"))
        if facts is not None:
            kind = _BY_TYPE.get(event.get("eventType"))
            if kind is not None:
                getattr(facts, kind).append(eid)
            if event.get("eventType") == "OrderCreated":
                facts.placed = True
            etype = event.get("eventType")
            if etype == "PaymentProcessed":
                facts.payment_ids[str(event.get("paymentId"))] = str(event.get("amount"))
                facts.charge_held += 1
            elif etype == "PaymentRefunded":
                facts.charge_held = max(facts.charge_held - 1, 0)
            elif etype == "InventoryReserved":
                facts.stock_held += 1
            elif etype == "InventoryReleased":
                facts.stock_held = max(facts.stock_held - 1, 0)
        return True

    def note_received(self, event: dict[str, Any]) -> None:
        """The SUT was handed ``event`` (so its eventId is a valid causationId)."""
        if isinstance(event.get("eventId"), str):
            self.received[event["eventId"]] = str(event.get("sagaId"))

    # -- checks on one SUT publication ------------------------------------------------
    def check_consistency(self, event: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """``saga_consistency``: ids and business facts agree with the saga."""
        eid, etype, sid = event.get("eventId"), event.get("eventType"), event.get("sagaId")
        if previous is not None and previous != event:
            raise fail("saga-consistency",
                       f"{etype} reuses eventId {eid} of an earlier, different "
                       f"{previous.get('eventType')} event", event=event)
        saga = self.sagas.get(sid)
        if saga is None:
            known = ", ".join(sorted(self.sagas)) or "none"
            raise fail("saga-consistency",
                       f"{etype} {eid} carries sagaId {sid!r}, which belongs to no saga of this "
                       f"test case (known: {known})", event=event)
        if event.get("orderId") != saga.orderId:
            raise fail("saga-consistency",
                       f"{etype} {eid} of saga {sid} carries orderId {event.get('orderId')!r}, "
                       f"expected {saga.orderId!r}", event=event)
        if etype in ("PaymentProcessed", "PaymentFailed", "OrderCreated") and \
                event.get("amount") != saga.amount:
            raise fail("saga-consistency",
                       f"{etype} {eid} of order {saga.orderId} has amount {event.get('amount')!r}, "
                       f"expected {saga.amount!r}", event=event)
        if etype in ("OrderCreated", "OrderCompleted", "NotificationSent") and \
                event.get("userId") != saga.userId:
            raise fail("saga-consistency",
                       f"{etype} {eid} of order {saga.orderId} is for user {event.get('userId')!r}, "
                       f"expected {saga.userId!r}", event=event)
        cause = event.get("causationId")
        if cause is not None and etype != "OrderCreated":
            cause_saga = self.received.get(cause)
            if cause_saga is None and cause in self.by_id:
                cause_saga = str(self.by_id[cause].event.get("sagaId"))
            if cause_saga is None:
                raise fail("saga-consistency",
                           f"{etype} {eid} of saga {sid} names causationId {cause!r}, an event "
                           f"the service never received", event=event)
            if cause_saga != sid:
                raise fail("saga-consistency",
                           f"{etype} {eid} claims saga {sid} but was caused by {cause!r} of saga "
                           f"{cause_saga}", event=event)

    def check_safety(self, event: dict[str, Any]) -> None:
        """The model's safety properties, after ``event`` was recorded."""
        sid = event.get("sagaId")
        facts = self._facts.get(sid)
        if facts is None:
            return
        saga = self.sagas[sid]
        etype, eid = event.get("eventType"), event.get("eventId")
        order = f"order {saga.orderId} (saga {sid})"
        if etype == "PaymentProcessed" and len(facts.charges) > 1:
            raise fail("single-charge",
                       f"{order} was charged twice: PaymentProcessed "
                       f"{' then '.join(facts.charges)}", event=event)
        if etype == "PaymentRefunded":
            pid = event.get("paymentId")
            if not facts.charges:
                raise fail("refund-needs-charge",
                           f"PaymentRefunded {eid} refunds {order}, which was never charged",
                           event=event)
            if len(facts.refunds) > len(facts.charges):
                raise fail("refund-needs-charge",
                           f"{order} was refunded {len(facts.refunds)} times for "
                           f"{len(facts.charges)} charge(s)", event=event)
            if pid not in facts.payment_ids:
                raise fail("refund-needs-charge",
                           f"PaymentRefunded {eid} refunds paymentId {pid!r}, not a charge of "
                           f"{order} (charges: {', '.join(facts.payment_ids) or 'none'})",
                           event=event)
            if facts.payment_ids[pid] != event.get("amount"):
                raise fail("refund-needs-charge",
                           f"PaymentRefunded {eid} refunds {event.get('amount')} of a "
                           f"{facts.payment_ids[pid]} charge of {order}", event=event)
        if etype == "OrderCompleted" or (facts.completed and etype in (
                "PaymentRefunded", "InventoryReleased")):
            missing = []
            if facts.charge_held < 1:
                missing.append("paid")
            if facts.stock_held < 1:
                missing.append("reserved")
            if missing:
                what = (f"OrderCompleted {eid} for {order}, which is not"
                        if etype == "OrderCompleted" else
                        f"{etype} {eid} leaves completed {order} not")
                raise fail("completed-paid-reserved",
                           f"{what} {' and not '.join(missing)}", event=event)
        if etype in ("OrderCompleted", "OrderCancelled") and \
                len(facts.completed) + len(facts.cancelled) > 1:
            outcomes = [*(f"OrderCompleted {e}" for e in facts.completed),
                        *(f"OrderCancelled {e}" for e in facts.cancelled)]
            raise fail("one-outcome",
                       f"{order} has {len(outcomes)} outcomes: {', '.join(outcomes)}", event=event)
        if facts.emails and (etype == "NotificationSent" or etype == "OrderCancelled"):
            if len(facts.emails) > 1:
                raise fail("single-email",
                           f"{order} got {len(facts.emails)} emails: {', '.join(facts.emails)}",
                           event=event)
            if not facts.completed or facts.cancelled:
                what = "not completed" if not facts.completed else "cancelled"
                raise fail("notify-only-completed",
                           f"NotificationSent {facts.emails[0]} for {order}, which is {what}",
                           event=event)

    # -- checks once everything is quiet --------------------------------------------
    def check_quiet(self, prefer: str | None = None, skip: frozenset[str] = frozenset()) -> None:
        """The eventual properties, once the bus and the service are quiet.

        ``saga-terminates``, ``no-charge-left``, ``no-reservation-left`` and
        ``completed-exactly-once`` for every placed saga. Every violation is collected;
        the first (or ``prefer``, when violated: a replayed model trace names the
        property it expects) is raised, naming the others.
        """
        found: list[CheckFailed] = []
        for sid, facts in self._facts.items():
            if not facts.placed:
                continue
            order = f"order {self.sagas[sid].orderId} (saga {sid})"
            charge, held = facts.charge_held, facts.stock_held
            done = bool(facts.completed) and not facts.cancelled
            if not facts.completed and not facts.cancelled:
                seen = ", ".join(f"{len(v)} {k}" for k, v in vars(facts).items()
                                 if isinstance(v, list) and v) or "nothing"
                found.append(fail("saga-terminates",
                                  f"{order} is neither completed nor cancelled although the "
                                  f"system is quiet (its history: {seen})"))
            state = "cancelled" if facts.cancelled else "not completed"
            if charge > 0 and not done:
                found.append(fail("no-charge-left",
                                  f"{order} is {state} but still holds a charge "
                                  f"(PaymentProcessed {', '.join(facts.charges)} never refunded) "
                                  "once quiet"))
            if held > 0 and not done:
                found.append(fail("no-reservation-left",
                                  f"{order} is {state} but still holds reserved stock "
                                  f"(InventoryReserved {', '.join(facts.reserved)} never "
                                  "released) once quiet"))
            if done:
                wrong = []
                if len(facts.charges) != 1 or charge != 1:
                    wrong.append(f"{len(facts.charges)} charge(s), {len(facts.refunds)} refund(s)")
                if len(facts.reserved) != 1 or held != 1:
                    wrong.append(f"{len(facts.reserved)} reservation(s), "
                                 f"{len(facts.released)} release(s)")
                if len(facts.emails) != 1:
                    wrong.append(f"{len(facts.emails)} email(s)")
                if wrong:
                    found.append(fail("completed-exactly-once",
                                      f"{order} is completed with {'; '.join(wrong)} once quiet "
                                      "(expected one charge, one reservation and one email)"))
        found = [f for f in found if f.check not in skip]
        if not found:
            return
        first = next((f for f in found if f.check == prefer), found[0])
        others = sorted({f.check for f in found} - {first.check})
        if others:
            first.message += f" (also violated: {', '.join(others)})"
            first.args = (str(first),)
        raise first
