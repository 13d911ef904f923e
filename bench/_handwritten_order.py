"""A frozen copy of the order saga's hand-written model, the baseline of bench_spec_port.py.

Before the order saga became two spec files it was these classes; this copy is kept
only so the benchmark can run the old and the new model side by side in one run.
Nothing in the package imports it.

Former docstring: the order saga's hand-written participants.

The checker, the docs and the CLI build the order saga from its spec files
(``spec/sagas/order-*.saga.yaml``, see :mod:`sagaspec.model.saga`). These classes remain
only until the conformance suite reads the spec too; the spec-driven model was checked
to give the same states, edges, verdicts and traces.

One set of participant classes *interprets* a :class:`~sagaspec.spec.designs.Design`:
who subscribes to what and which reaction runs on which event come from the design's
table, so the ``seed`` design keeps its holes and ``corrected`` does not. The business
semantics of each step are fixed by the domain (a charge is a charge in every design);
what varies between designs is the wiring and whether a reaction is *guarded*.

Reading a design
----------------
Each reaction is classified by the events it emits (``PaymentProcessed`` or
``PaymentFailed``: a *charge* step, ``PaymentRefunded``: a *refund*, ...). A reaction
whose alternatives include ``()`` ("publish nothing") is **guarded**: the service consults
its durable per-saga record and acts at most once per saga, skips a step for a saga it
knows is cancelled, and remembers a cancellation that overtook ``OrderCreated`` (a
tombstone). A reaction without ``()`` is **naive**: it acts every time the event arrives.
That is exactly the difference between the seed document's subscription table and the corrected
design's notes ("nothing if the order was already cancelled", "refund only if charged").
A reaction the model cannot interpret raises :class:`~sagaspec.errors.DesignError`.

State (small, flat, interned by the engine)
-------------------------------------------
Every participant keeps one slot per saga, a short tuple of small ints and interned
strings. Slots mix the service's own *record* (what a real service stores) with *ghost*
counters that only observers read (how many charges, refunds, emails ... happened in
the world). Ghost counters are capped at 2 (2 already means "twice") so the state space
stays finite, and a crash never erases them: a crash cannot undo a charge.

==============  ===================================================================
participant     slot fields
==============  ===================================================================
order           status (idle/open/completed/cancelled), paid, reserved (join memory),
                completed, cancelled (ghost: OrderCompleted/OrderCancelled published)
payment         status (none/charged/declined/refunded/cancelled), charges, refunds
                (ghost), held (ghost: charges not yet refunded)
inventory       state is ``(free, slots)``; slot: status
                (none/reserved/failed/released/cancelled), units held, reservations,
                releases (ghost)
notification    status (none/sent), emails (ghost)
==============  ===================================================================

Durability (what :meth:`~sagaspec.model.participant.Participant.restart` loses)
---------------------------------------------------------------------------------
All services keep their records durably, as the reference services do with
:class:`~sagaspec.examples.store.Store` (state, idempotency store and outbox in one
transaction), with one exception chosen on purpose: in the ``seed`` variant, the Order
service's join memory (``paid``/``reserved``: "have I seen the payment / the
reservation?") lives in memory. The seed never says where Order keeps it (its subscription table only
lists the subscriptions, and "hard to track saga state" is one of its listed
challenges), while its idempotency store of processed eventIds is explicitly a durable event store.
A crash of such an Order between the two events loses the first one for good, because the
durable idempotency store then drops its redelivery. ``volatile=`` overrides the choice.

>>> s = handwritten_system("corrected", orders=2)
>>> [p.name for p in s.participants], s.sagas
(['order', 'payment', 'inventory', 'notification'], 2)
>>> sorted(s.participant("payment").subscribes)
['OrderCancelled', 'OrderCreated']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.model.properties import Property
from sagaspec.model.system import System
from sagaspec.spec.designs import DESIGNS, Design

from sagaspec.errors import DesignError, UsageError

__all__ = [
    "ORDER",
    "PAYMENT",
    "INVENTORY",
    "NOTIFICATION",
    "STEP_OF_EVENT",
    "Rule",
    "OrderSlot",
    "PaymentSlot",
    "StockSlot",
    "NotificationSlot",
    "InventoryState",
    "SagaParticipant",
    "Order",
    "Payment",
    "Inventory",
    "Notification",
    "SagaVariant",
    "SAGA_MODELS",
    "saga_models",
    "saga_variant",
    "handwritten_system",
    "saga_system_from_meta",
    "default_stock",
    "CAP",
    "seed",
    "corrected",
]

ORDER, PAYMENT, INVENTORY, NOTIFICATION = "order", "payment", "inventory", "notification"

#: The business step each emitted event stands for.
STEP_OF_EVENT: dict[str, str] = {
    "OrderCreated": "place",
    "OrderCompleted": "complete",
    "OrderCancelled": "cancel",
    "PaymentProcessed": "charge",
    "PaymentFailed": "charge",
    "PaymentRefunded": "refund",
    "InventoryReserved": "reserve",
    "InventoryReservationFailed": "reserve",
    "InventoryReleased": "release",
    "NotificationSent": "notify",
}

#: Which service owns (can perform) each step.
_OWNER = {
    "place": ORDER,
    "complete": ORDER,
    "cancel": ORDER,
    "charge": PAYMENT,
    "refund": PAYMENT,
    "reserve": INVENTORY,
    "release": INVENTORY,
    "notify": NOTIFICATION,
}

#: The join the model understands: Order completes once paid and reserved.
_JOIN = frozenset({"PaymentProcessed", "InventoryReserved"})

#: Ghost counters stop here: 2 already says "more than once".
CAP = 2



class OrderSlot(NamedTuple):
    """Order's record of one saga (``paid``/``reserved``: join memory; counts: ghost)."""

    status: str  # idle | open | completed | cancelled
    paid: int
    reserved: int
    completed: int
    cancelled: int


class PaymentSlot(NamedTuple):
    """Payment's record of one saga (``charges``/``refunds``/``held``: ghost)."""

    status: str  # none | charged | declined | refunded | cancelled
    charges: int
    refunds: int
    held: int


class StockSlot(NamedTuple):
    """Inventory's record of one saga: units held for it, reservation/release counts."""

    status: str  # none | reserved | failed | released | cancelled
    held: int
    reservations: int
    releases: int


class NotificationSlot(NamedTuple):
    """Notification's record of one saga (``emails``: ghost)."""

    status: str  # none | sent
    emails: int


class InventoryState(NamedTuple):
    """Inventory's local state: free units and one slot per saga."""

    free: int
    slots: tuple[StockSlot, ...]


_interned: dict[tuple, tuple] = {}


def _slot(cls, *fields):
    """An interned slot (equal slots share one object across all states)."""
    key = (cls, fields)
    slot = _interned.get(key)
    if slot is None:
        slot = _interned[key] = cls(*fields)
    return slot


def _inc(n: int) -> int:
    return n + 1 if n < CAP else CAP


def _put(slots: tuple, i: int, slot: tuple) -> tuple:
    return (*slots[:i], slot, *slots[i + 1 :])


def _permute(slots: tuple, perm: tuple[int, ...]) -> tuple:
    out = list(slots)
    for i, v in enumerate(slots):
        out[perm[i]] = v
    return tuple(out)


@dataclass(frozen=True)
class Rule:
    """How a service reacts to one subscribed event (compiled from a design reaction).

    ``step`` is the business step (``charge``, ``refund``, ``complete`` ...), ``guarded``
    whether the reaction may publish nothing (see the module docstring), ``outcomes`` the
    event types it may publish, and ``reaction`` the design's note, for traces.
    """

    step: str
    guarded: bool
    outcomes: frozenset[str]
    note: str = ""


def _compile(design: Design) -> dict[str, dict[str, Rule]]:
    """``service -> event -> Rule`` for ``design``; :class:`DesignError` if uninterpretable."""
    names = set(design.service_names)
    missing = {ORDER, PAYMENT, INVENTORY, NOTIFICATION} - names
    if missing:
        raise DesignError(
            f"design {design.name!r}: the order-saga model needs services "
            f"order, payment, inventory and notification; missing {', '.join(sorted(missing))}"
        )
    rules: dict[str, dict[str, Rule]] = {name: {} for name in design.service_names}
    for r in design.reactions:
        emitted = frozenset(e for alt in r.emits for e in alt)
        steps = {STEP_OF_EVENT.get(e) for e in emitted}
        if None in steps:
            unknown = sorted(e for e in emitted if e not in STEP_OF_EVENT)
            raise DesignError(
                f"design {design.name!r}: reaction of {r.service!r} emits {', '.join(unknown)}, "
                "which the order-saga model does not know"
            )
        if len(steps) != 1:
            raise DesignError(
                f"design {design.name!r}: reaction of {r.service!r} on {', '.join(r.on) or '(customer)'} "
                f"mixes steps {', '.join(sorted(steps))}; the model needs one step per reaction"
            )
        (step,) = steps
        if _OWNER[step] != r.service:
            raise DesignError(
                f"design {design.name!r}: {r.service!r} cannot perform step {step!r} "
                f"(emitting {', '.join(sorted(emitted))}); only {_OWNER[step]!r} can"
            )
        not_published = emitted - set(design.service(r.service).publishes)
        if not_published:
            raise DesignError(
                f"design {design.name!r}: reaction of {r.service!r} emits "
                f"{', '.join(sorted(not_published))}, which {r.service!r} does not publish"
            )
        if step == "place":
            if r.on:
                raise DesignError(f"design {design.name!r}: OrderCreated must be the customer's trigger (on=())")
            continue
        if step == "complete" and (not r.join or frozenset(r.on) != _JOIN):
            raise DesignError(
                f"design {design.name!r}: the model completes an order only as a join of "
                "PaymentProcessed and InventoryReserved"
            )
        if r.join and step != "complete":
            raise DesignError(f"design {design.name!r}: only OrderCompleted may be a join")
        rule = Rule(step, () in r.emits, emitted, r.note)
        subscribed = set(design.service(r.service).subscribes)
        for event in r.on:
            if event not in subscribed:
                raise DesignError(
                    f"design {design.name!r}: {r.service!r} reacts to {event} "
                    "but does not subscribe to it"
                )
            if event in rules[r.service]:
                raise DesignError(
                    f"design {design.name!r}: {r.service!r} has two reactions to {event}"
                )
            rules[r.service][event] = rule
    return rules


class SagaParticipant(Participant):
    """Common machinery: the design's table, compiled rules, per-saga slots.

    ``publishes`` is the design table's list (what the service may publish);
    ``emits`` what its reactions can actually publish in this design.
    """

    def __init__(self, design: Design, rules: dict[str, Rule], orders: int) -> None:
        service = design.service(self.name)
        self.design = design
        self.subscribes = frozenset(service.subscribes)
        self.publishes = frozenset(service.publishes)
        self.rules = rules
        self.orders = orders
        self.emits = frozenset(e for rule in rules.values() for e in rule.outcomes)

    def _msg(self, event: str, saga: int) -> Msg:
        return Msg(event, saga, self.name)

    def _ignore(self, state, why: str) -> tuple[Outcome, ...]:
        return (Outcome(f"ignore ({why})", state),)

    def on_event(self, state, msg: Msg) -> tuple[Outcome, ...]:
        rule = self.rules.get(msg.type)
        if rule is None:
            # Subscribed without a reaction: consumed and acknowledged, nothing happens.
            return self._ignore(state, "no reaction")
        return self.react(state, rule, msg)

    def react(self, state, rule: Rule, msg: Msg) -> tuple[Outcome, ...]:
        raise NotImplementedError

    def permute(self, state, perm):
        return _permute(state, perm)


class Order(SagaParticipant):
    """Places orders (the customer's trigger) and completes or cancels them.

    Slot: ``(status, paid, reserved, completed, cancelled)``. ``paid``/``reserved`` are
    the join memory; they are volatile when ``volatile_join`` (see module docstring).
    """

    name = ORDER

    def __init__(self, design, rules, orders, *, volatile_join: bool = False) -> None:
        super().__init__(design, rules, orders)
        self.volatile_join = volatile_join
        self.places = any(r.service == ORDER and not r.on for r in design.reactions)
        if self.places:
            self.emits |= {"OrderCreated"}

    def init(self):
        return (_slot(OrderSlot, "idle", 0, 0, 0, 0),) * self.orders

    def internal(self, state):
        if not self.places:
            return ()
        outs = []
        for i, (status, paid, res, done, canc) in enumerate(state):
            if status == "idle":
                outs.append(
                    Outcome(
                        f"place order {i}",
                        _put(state, i, _slot(OrderSlot, "open", paid, res, done, canc)),
                        (self._msg("OrderCreated", i),),
                    )
                )
        return tuple(outs)

    def react(self, state, rule, msg):
        i = msg.saga
        status, paid, res, done, canc = state[i]
        if rule.step == "complete":
            if msg.type == "PaymentProcessed":
                paid = 1
            else:
                res = 1
            if rule.guarded and status != "open":
                return (Outcome(f"ignore (order {status})", _put(state, i, _slot(OrderSlot, status, paid, res, done, canc))),)
            if not (paid and res):
                return (Outcome("wait (join)", _put(state, i, _slot(OrderSlot, status, paid, res, done, canc))),)
            return (
                Outcome(
                    "complete",
                    _put(state, i, _slot(OrderSlot, "completed", paid, res, _inc(done), canc)),
                    (self._msg("OrderCompleted", i),),
                ),
            )
        if rule.step == "cancel":
            if rule.guarded and status != "open":
                return self._ignore(state, f"order {status}")
            return (
                Outcome(
                    "cancel",
                    _put(state, i, _slot(OrderSlot, "cancelled", paid, res, done, _inc(canc))),
                    (self._msg("OrderCancelled", i),),
                ),
            )
        raise DesignError(f"order cannot perform step {rule.step!r}")  # pragma: no cover

    def restart(self, state):
        if not self.volatile_join:
            return state
        return tuple(_slot(OrderSlot, st, 0, 0, done, canc) for st, _p, _r, done, canc in state)


class Payment(SagaParticipant):
    """Charges (approve or decline) and refunds.

    Slot: ``(status, charges, refunds, held)``. ``declines`` enables the declined branch.
    """

    name = PAYMENT

    def __init__(self, design, rules, orders, *, declines: bool = True) -> None:
        super().__init__(design, rules, orders)
        self.declines = declines

    def init(self):
        return (_slot(PaymentSlot, "none", 0, 0, 0),) * self.orders

    def react(self, state, rule, msg):
        i = msg.saga
        status, charges, refunds, held = state[i]
        if rule.step == "charge":
            if rule.guarded and status != "none":
                return self._ignore(state, f"payment {status}")
            outs = []
            if "PaymentProcessed" in rule.outcomes:
                outs.append(
                    Outcome(
                        "approve",
                        _put(state, i, _slot(PaymentSlot, "charged", _inc(charges), refunds, _inc(held))),
                        (self._msg("PaymentProcessed", i),),
                    )
                )
            if self.declines and "PaymentFailed" in rule.outcomes:
                outs.append(
                    Outcome(
                        "decline",
                        _put(state, i, _slot(PaymentSlot, "declined", charges, refunds, held)),
                        (self._msg("PaymentFailed", i),),
                    )
                )
            return tuple(outs) or self._ignore(state, "no outcome enabled")
        if rule.step == "refund":
            if rule.guarded:
                if status == "none":
                    return (Outcome("remember cancellation", _put(state, i, _slot(PaymentSlot, "cancelled", charges, refunds, held))),)
                if status != "charged":
                    return self._ignore(state, f"payment {status}")
            label = "refund" if held else "refund (nothing charged)"
            return (
                Outcome(
                    label,
                    _put(state, i, _slot(PaymentSlot, "refunded", charges, _inc(refunds), max(held - 1, 0))),
                    (self._msg("PaymentRefunded", i),),
                ),
            )
        raise DesignError(f"payment cannot perform step {rule.step!r}")  # pragma: no cover


class Inventory(SagaParticipant):
    """Reserves ``units`` per order from a shared stock, and releases reservations.

    State: ``(free, slots)``; slot ``(status, held, reservations, releases)``. Whether a
    reservation succeeds is decided by the free stock, so "stock may be short" is a
    consequence of the bounds (``stock < orders * units``), not a coin flip.
    """

    name = INVENTORY

    def __init__(self, design, rules, orders, *, stock: int, units: int = 1) -> None:
        super().__init__(design, rules, orders)
        self.stock = stock
        self.units = units

    def init(self):
        return InventoryState(self.stock, (_slot(StockSlot, "none", 0, 0, 0),) * self.orders)

    def react(self, state, rule, msg):
        free, slots = state
        i = msg.saga
        status, held, reservations, releases = slots[i]
        if rule.step == "reserve":
            if rule.guarded and status != "none":
                return self._ignore(state, f"inventory {status}")
            if free >= self.units and "InventoryReserved" in rule.outcomes:
                slot = _slot(StockSlot, "reserved", held + self.units, _inc(reservations), releases)
                return (
                    Outcome(
                        "reserve",
                        InventoryState(free - self.units, _put(slots, i, slot)),
                        (self._msg("InventoryReserved", i),),
                    ),
                )
            slot = _slot(StockSlot, "failed", held, reservations, releases)
            return (
                Outcome(
                    "out of stock",
                    InventoryState(free, _put(slots, i, slot)),
                    (self._msg("InventoryReservationFailed", i),),
                ),
            )
        if rule.step == "release":
            if rule.guarded:
                if status == "none":
                    slot = _slot(StockSlot, "cancelled", held, reservations, releases)
                    return (Outcome("remember cancellation", InventoryState(free, _put(slots, i, slot))),)
                if status != "reserved":
                    return self._ignore(state, f"inventory {status}")
            label = "release" if held else "release (nothing reserved)"
            slot = _slot(StockSlot, "released", 0, reservations, _inc(releases))
            return (
                Outcome(
                    label,
                    InventoryState(free + held, _put(slots, i, slot)),
                    (self._msg("InventoryReleased", i),),
                ),
            )
        raise DesignError(f"inventory cannot perform step {rule.step!r}")  # pragma: no cover

    def permute(self, state, perm):
        return InventoryState(state.free, _permute(state.slots, perm))


class Notification(SagaParticipant):
    """Sends the confirmation email. Slot: ``(status, emails)``."""

    name = NOTIFICATION

    def init(self):
        return (_slot(NotificationSlot, "none", 0),) * self.orders

    def react(self, state, rule, msg):
        i = msg.saga
        status, emails = state[i]
        if rule.step == "notify":
            if rule.guarded and status != "none":
                return self._ignore(state, "already sent")
            return (
                Outcome(
                    "email",
                    _put(state, i, _slot(NotificationSlot, "sent", _inc(emails))),
                    (self._msg("NotificationSent", i),),
                ),
            )
        raise DesignError(f"notification cannot perform step {rule.step!r}")  # pragma: no cover


# ---------------------------------------------------------------------------- properties



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



# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class SagaVariant:
    """A named, checkable order saga: a design plus modelling choices.

    ``volatile`` names the services whose join memory is lost on a crash (only
    ``"order"`` has one). ``assumes`` names the infrastructure guarantees the design
    relies on (``"idempotency"``: consumers keep a durable store of processed events;
    ``"outbox"``: state change and publishes commit together); ``sagaspec check`` says so
    when a run switches one off, since violations found then are outside the design's
    assumptions. ``description`` is shown by ``sagaspec check``.
    """

    name: str
    design: Design
    volatile: frozenset[str] = frozenset()
    description: str = ""
    assumes: frozenset[str] = frozenset()


SAGA_MODELS: dict[str, SagaVariant] = {
    "seed": SagaVariant(
        "seed",
        DESIGNS["seed"],
        volatile=frozenset({ORDER}),
        description=DESIGNS["seed"].title + "; Order's join memory is in memory",
        # The seed asks for an event store for idempotency; the outbox is never mentioned.
        assumes=frozenset({"idempotency"}),
    ),
    "corrected": SagaVariant(
        "corrected",
        DESIGNS["corrected"],
        description=DESIGNS["corrected"].title + "; all service records durable",
        # The design text names the idempotency store; the model shows (--no-outbox
        # --crashes 1) that it also needs a transactional outbox.
        assumes=frozenset({"idempotency", "outbox"}),
    ),
}


def saga_models() -> tuple[str, ...]:
    """Names accepted by ``saga_system`` and ``sagaspec check --design``."""
    return tuple(SAGA_MODELS)


def saga_variant(name: str) -> SagaVariant:
    """The registered variant ``name``; :class:`DesignError` lists the known ones."""
    try:
        return SAGA_MODELS[name]
    except KeyError:
        raise DesignError(
            f"unknown design {name!r}; expected one of {', '.join(SAGA_MODELS)}"
        ) from None


def _check_bound(name: str, value, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UsageError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def default_stock(orders: int, units: int = 1) -> int:
    """Stock for one order fewer than placed, so both reservation branches are reachable.

    >>> default_stock(2), default_stock(3), default_stock(1)
    (1, 2, 1)
    """
    return max(orders - 1, 1) * units


def handwritten_system(
    design: str | Design | SagaVariant = "corrected",
    orders: int = 2,
    *,
    stock: int | None = None,
    units: int = 1,
    declines: bool = True,
    volatile: Iterable[str] | None = None,
    properties: Callable[..., tuple] | None = None,
) -> System:
    """The order saga of ``design`` as a checkable :class:`System`.

    Parameters
    ----------
    design
        A registered name (``"seed"``, ``"corrected"``), a :class:`SagaVariant`, or any
        :class:`Design` the model can interpret (see the module docstring).
    orders
        Number of concurrent sagas (interchangeable: symmetry reduces over them).
    stock
        Units in stock at the start (default: :func:`default_stock`).
    units
        Units each order reserves.
    declines
        Whether Payment may decline (the ``PaymentFailed`` branch).
    volatile
        Services whose join memory a crash loses (overrides the variant's choice).
    properties
        ``fn(orders=, stock=, units=) -> tuple[Property, ...]``; default
        :func:`sagaspec.model.saga_properties.saga_properties`.
    """
    if isinstance(design, str):
        variant = saga_variant(design)
    elif isinstance(design, SagaVariant):
        variant = design
    elif isinstance(design, Design):
        variant = SagaVariant(design.name, design, description=design.title)
    else:
        raise UsageError(f"design must be a name, Design or SagaVariant, got {type(design).__name__}")
    orders = _check_bound("orders", orders, 1, 6)
    units = _check_bound("units", units, 1, 100)
    stock = default_stock(orders, units) if stock is None else _check_bound("stock", stock, 0, 1000)
    vol = variant.volatile if volatile is None else frozenset(volatile)
    unknown = vol - {ORDER}
    if unknown:
        raise UsageError(f"volatile: only 'order' has volatile join memory, got {', '.join(sorted(unknown))}")
    d = variant.design
    rules = _compile(d)
    parts = (
        Order(d, rules[ORDER], orders, volatile_join=ORDER in vol),
        Payment(d, rules[PAYMENT], orders, declines=declines),
        Inventory(d, rules[INVENTORY], orders, stock=stock, units=units),
        Notification(d, rules[NOTIFICATION], orders),
    )
    if properties is None:
        properties = saga_properties
    props = properties(orders=orders, stock=stock, units=units)
    return System(
        participants=parts,
        properties=props,
        name=f"order-saga/{variant.name}",
        sagas=orders,
        description=variant.description,
        meta={
            "design": variant.name,
            "orders": orders,
            "stock": stock,
            "units": units,
            "declines": declines,
            "volatile": sorted(vol),
        },
    )


_META_KEYS = ("design", "orders", "stock", "units", "declines", "volatile")


def saga_system_from_meta(meta: dict) -> System:
    """Rebuild the system a saved trace was found on, from its ``System.meta``.

    """
    if not isinstance(meta, dict) or "design" not in meta:
        raise UsageError("model metadata must be an object with at least 'design'")
    unknown = sorted(set(meta) - set(_META_KEYS))
    if unknown:
        raise UsageError(f"unknown model metadata {', '.join(unknown)}; expected {', '.join(_META_KEYS)}")
    kwargs = {k: meta[k] for k in _META_KEYS[1:] if k in meta}
    return handwritten_system(meta["design"], **kwargs)


def seed() -> System:
    """The seed design with default bounds (for ``--model sagaspec.model.saga:seed``)."""
    return handwritten_system("seed")


def corrected() -> System:
    """The corrected design with default bounds."""
    return handwritten_system("corrected")
