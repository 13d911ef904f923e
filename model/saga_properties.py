"""The order saga's properties: what must always hold, hold at rest, and sometimes hold.

Every predicate quantifies over all sagas (so it is symmetric, as symmetry reduction
needs) and reads only participants' local states (so the explorer caches its result per
combination of local states). Slot layouts are documented in :mod:`sagaspec.model.saga`.

``always`` (safety, every reachable state)
    ``single-charge``            never charged twice for one order
    ``refund-needs-charge``      no refund without a charge (refunds never exceed charges)
    ``completed-paid-reserved``  a completed order holds its charge and its reservation
    ``one-outcome``              at most one terminal outcome published per saga
    ``stock-non-negative``       free and reserved stock never negative
    ``stock-conserved``          free + reserved == initial stock
    ``single-email``             never two confirmation emails for one order
    ``notify-only-completed``    no email for an order that is not (only) completed
``at_rest`` (wherever a run comes to rest: quiescence, nothing in flight and no order left
to place, or a cycle no non-fault step leaves)
    ``saga-terminates``          every saga published OrderCompleted or OrderCancelled
    ``no-charge-left``           only a completed order still holds a charge (so a cancelled
                                 or stuck one holds none)
    ``no-reservation-left``      only a completed order still holds reserved stock
    ``completed-exactly-once``   a completed order: one charge, one reservation, one email
``sometimes`` (non-vacuity)
    ``some-order-completes``, ``some-order-cancelled``, ``some-compensation-runs``

>>> [p.name for p in saga_properties(orders=2, stock=1)][:3]
['single-charge', 'refund-needs-charge', 'completed-paid-reserved']
"""

from __future__ import annotations

from sagaspec.model.properties import Property

__all__ = ["saga_properties", "PROPERTY_NAMES"]

O, P, I, N = "order", "payment", "inventory", "notification"  # noqa: E741 - participant names

# Slots are NamedTuples (sagaspec.model.saga): attribute access keeps predicates readable;
# the explorer caches results per combination of local states, so speed is not an issue.


def _single_charge(v) -> bool:
    return all(s.charges <= 1 for s in v[P])


def _refund_needs_charge(v) -> bool:
    return all(s.refunds <= s.charges for s in v[P])


def _completed_paid_reserved(v) -> bool:
    pay, inv = v[P], v[I].slots
    return all(
        not o.completed or (pay[i].held >= 1 and inv[i].held > 0) for i, o in enumerate(v[O])
    )


def _one_outcome(v) -> bool:
    return all(o.completed + o.cancelled <= 1 for o in v[O])


def _stock_non_negative(v) -> bool:
    inv = v[I]
    return inv.free >= 0 and all(s.held >= 0 for s in inv.slots)


def _single_email(v) -> bool:
    return all(n.emails <= 1 for n in v[N])


def _notify_only_completed(v) -> bool:
    return all(not n.emails or _completed(o) for o, n in zip(v[O], v[N], strict=True))


def _completed(o) -> bool:
    return bool(o.completed) and not o.cancelled


def _saga_terminates(v) -> bool:
    return all(o.completed or o.cancelled for o in v[O])


def _no_charge_left(v) -> bool:
    pay = v[P]
    return all(_completed(o) or pay[i].held == 0 for i, o in enumerate(v[O]))


def _no_reservation_left(v) -> bool:
    inv = v[I].slots
    return all(_completed(o) or inv[i].held == 0 for i, o in enumerate(v[O]))


def _some_order_completes(v) -> bool:
    return any(o.completed for o in v[O])


def _some_order_cancelled(v) -> bool:
    return any(o.cancelled for o in v[O])


def _some_compensation(v) -> bool:
    return any(s.refunds for s in v[P]) or any(s.releases for s in v[I].slots)


def saga_properties(*, orders: int, stock: int, units: int = 1) -> tuple[Property, ...]:
    """The order saga's named properties for these bounds (stock and units matter)."""

    def stock_conserved(v) -> bool:
        inv = v[I]
        return inv.free + sum(s.held for s in inv.slots) == stock

    def completed_exactly_once(v) -> bool:
        pay, inv, note = v[P], v[I].slots, v[N]
        for i, o in enumerate(v[O]):
            if _completed(o):
                p, s = pay[i], inv[i]
                if not (
                    p.charges == 1
                    and p.held == 1
                    and s.reservations == 1
                    and s.held == units
                    and note[i].emails == 1
                ):
                    return False
        return True

    return (
        Property.always("single-charge", _single_charge, "never charged twice for one order"),
        Property.always(
            "refund-needs-charge", _refund_needs_charge, "no refund without a charge"
        ),
        Property.always(
            "completed-paid-reserved",
            _completed_paid_reserved,
            "an order is completed only while paid and reserved",
        ),
        Property.always(
            "one-outcome", _one_outcome, "at most one terminal outcome (completed/cancelled) per saga"
        ),
        Property.always("stock-non-negative", _stock_non_negative, "stock never negative"),
        Property.always(
            "stock-conserved", stock_conserved, f"free + reserved stock always equals {stock}"
        ),
        Property.always("single-email", _single_email, "never two emails for one order"),
        Property.always(
            "notify-only-completed",
            _notify_only_completed,
            "no notification for an order that is not completed",
        ),
        Property.at_rest(
            "saga-terminates",
            _saga_terminates,
            "every saga ends with OrderCompleted or OrderCancelled",
        ),
        Property.at_rest(
            "no-charge-left",
            _no_charge_left,
            "an order that is not completed (cancelled or stuck) ends holding no charge",
        ),
        Property.at_rest(
            "no-reservation-left",
            _no_reservation_left,
            "an order that is not completed (cancelled or stuck) ends holding no reserved stock",
        ),
        Property.at_rest(
            "completed-exactly-once",
            completed_exactly_once,
            "a completed order ends with exactly one charge, one reservation and one email",
        ),
        Property.sometimes(
            "some-order-completes", _some_order_completes, "some order does complete"
        ),
        Property.sometimes(
            "some-order-cancelled", _some_order_cancelled, "some order is cancelled"
        ),
        Property.sometimes(
            "some-compensation-runs", _some_compensation, "some refund or release runs"
        ),
    )


PROPERTY_NAMES: tuple[str, ...] = tuple(p.name for p in saga_properties(orders=1, stock=1))
