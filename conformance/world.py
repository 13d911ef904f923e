"""Judging the world's decisions: stock and payment rules, when the suite knows the world.

The suite's model (:func:`~sagaspec.conformance.models.suite_model`) leaves two decisions
open, because in general they depend on a world the suite cannot see: whether Inventory
reserves an order or runs out of stock, and whether Payment approves or declines it.
When the adapter has ``setup`` and the suite set the world for a test case
(:class:`~sagaspec.adapters.base.World`), both are *determined*:

* **stock** (:class:`WorldInventory`): free units per sku start at ``World.stock``; an
  order whose items all fit the free units must be reserved (``InventoryReserved``),
  one that does not fit must fail (``InventoryReservationFailed``); a reservation takes
  the order's items from stock and a release gives them back. The free units are part
  of each model configuration of the oracle, so they follow whatever order the service
  processed its deliveries in, and every reservation or release it publishes moves
  them. A sku the world does not list is *unknown*: an order with such a line may go
  either way as long as its listed skus fit (it must fail when one of them is short).
* **payment rules** (:class:`WorldPayment`): an order is declined exactly when its user
  is in ``World.declined_users`` or its amount exceeds ``World.decline_over``.

Both wrap the model's own participants and only *narrow* their nondeterministic
choices, so the design's guards and compensations are still the model's. When the
service publishes the branch the world rules out, :meth:`~Judge.explain` says why, and
the oracle reports it as the ``stock`` or ``payment-rules`` check instead of a bare
``model`` failure.

>>> from sagaspec.conformance.history import SagaInfo
>>> from sagaspec.conformance.models import suite_model
>>> from sagaspec.adapters.base import World
>>> line = {"sku": "sku-1", "quantity": 2, "unitPrice": "1.00"}
>>> sagas = [SagaInfo(i, f"s{i}", f"o{i}", f"u{i}", "2.00", items=(line,)) for i in range(2)]
>>> parts = judged_participants(suite_model("corrected", 2), World(stock={"sku-1": 3}), sagas)
>>> inv = next(p for p in parts if p.name == "inventory")
>>> from sagaspec.model.participant import Msg
>>> s0 = inv.init()
>>> [o.label for o in inv.on_event(s0, Msg("OrderCreated", 0, "order"))]
['reserve']
>>> s1 = inv.on_event(s0, Msg("OrderCreated", 0, "order"))[0].state
>>> s1.free, [o.label for o in inv.on_event(s1, Msg("OrderCreated", 1, "order"))]
((1,), ['out of stock'])
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sagaspec.adapters.base import World
from sagaspec.conformance.history import SagaInfo
from sagaspec.model.participant import Msg, Outcome, Participant

from sagaspec.errors import UsageError

__all__ = ["Judge", "WorldInventory", "WorldPayment", "StockState", "judged_participants",
           "declines", "STOCK", "PAYMENT_RULES"]

#: The checks a failed judgement is reported as.
STOCK = "stock"
PAYMENT_RULES = "payment-rules"

#: Free units the inner model Inventory sees when an order must be reserved.
_PLENTY = 10**6

_RESERVE_OUTCOMES = ("InventoryReserved", "InventoryReservationFailed")
_CHARGE_OUTCOMES = ("PaymentProcessed", "PaymentFailed")


def _with_free(state: Any, free: int) -> Any:
    """``state`` of the model Inventory (``InventoryState(free, slots)``) with ``free``."""
    if hasattr(state, "_replace"):
        return state._replace(free=free)
    return (free, state[1])


def _held(state: Any, saga: int) -> int:
    """Units the model Inventory holds for ``saga`` (``StockSlot.held``)."""
    slot = state[1][saga]
    return slot.held if hasattr(slot, "held") else slot[1]


def _publishes(outcome: Outcome, types: Sequence[str]) -> bool:
    return any(m.type in types for m in outcome.publish)


def _same(a: Msg, b: Msg) -> bool:
    return a.type == b.type and a.saga == b.saga and a.src == b.src


class Judge(Participant):
    """A model participant whose world-dependent choice is decided by a known world.

    ``check`` names the suite check a wrong decision breaks. :meth:`explain` returns why
    ``observed`` is wrong when the unjudged model would allow it as the reaction to
    ``msg`` in ``state`` (``None`` when the world is not the reason).
    """

    check: str = ""

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        raise NotImplementedError


class StockState(NamedTuple):
    """:class:`WorldInventory`'s state: the model Inventory's and the free units per sku
    (``None`` for a sku the world does not list)."""

    inner: Any
    free: tuple[int | None, ...]


class WorldInventory(Judge):
    """The model's Inventory with stock per sku from the world (see the module docstring).

    Parameters
    ----------
    inner
        The model Inventory (``sagaspec.model.saga.Inventory``; its documented state is
        ``InventoryState(free, slots)`` with ``slot.held`` units per saga).
    sagas
        The test case's sagas, by index: their ``items`` are what each order reserves.
    stock
        ``World.stock``: sku -> units free before the test case.
    """

    check = STOCK

    def __init__(self, inner: Participant, sagas: Sequence[SagaInfo],
                 stock: Mapping[str, int]) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())
        self.units = max(int(getattr(inner, "units", 1)), 1)
        skus = sorted(set(stock) | {str(i["sku"]) for s in sagas for i in s.items})
        self.skus: tuple[str, ...] = tuple(skus)
        self.start: tuple[int | None, ...] = tuple(
            int(stock[k]) if k in stock else None for k in skus)
        self.sagas = {s.index: s for s in sagas}
        self.need: dict[int, tuple[int, ...]] = {}
        for s in sagas:
            need = dict.fromkeys(skus, 0)
            for item in s.items:
                need[str(item["sku"])] += int(item["quantity"])
            self.need[s.index] = tuple(need[k] for k in skus)

    def init(self) -> StockState:
        return StockState(_with_free(self.inner.init(), 0), self.start)

    def fits(self, free: Sequence[int | None], saga: int) -> bool | None:
        """``True``: the order must be reserved; ``False``: it must fail; ``None``: a line
        of an unknown sku, and the known ones fit, so either is possible."""
        need = self.need.get(saga)
        if need is None:
            return None
        unknown = False
        for have, n in zip(free, need, strict=True):
            if n == 0:
                continue
            if have is None:
                unknown = True
            elif have < n:
                return False
        return None if unknown else True

    def _inner_outcomes(self, state: StockState, msg: Msg, free: int) -> tuple[Outcome, ...]:
        return tuple(self.inner.on_event(_with_free(state.inner, free), msg))

    def _moved(self, state: StockState, msg: Msg, o: Outcome) -> Outcome:
        """``o`` of the inner model with the free units moved by what it reserved/released."""
        new_inner = _with_free(o.state, 0)
        free = state.free
        if msg.saga in self.need:
            delta = _held(new_inner, msg.saga) - _held(state.inner, msg.saga)
            if delta:
                times = delta // self.units  # reservations taken (or given back if < 0)
                free = tuple(None if have is None else have - times * n
                             for have, n in zip(free, self.need[msg.saga], strict=True))
        return Outcome(o.label, StockState(new_inner, free), o.publish)

    def on_event(self, state: StockState, msg: Msg) -> tuple[Outcome, ...]:
        plenty = self._inner_outcomes(state, msg, _PLENTY)
        none = self._inner_outcomes(state, msg, 0)
        if [(o.label, o.publish) for o in plenty] == [(o.label, o.publish) for o in none]:
            chosen = plenty  # not a stock decision (a release, an ignored event ...)
        else:
            fits = self.fits(state.free, msg.saga)
            chosen = plenty if fits else none if fits is False else plenty + none
        out: dict[tuple, Outcome] = {}
        for o in chosen:
            moved = self._moved(state, msg, o)
            out.setdefault((moved.state, moved.publish), moved)
        return tuple(out.values())

    def internal(self, state: StockState) -> tuple[Outcome, ...]:
        return ()

    def restart(self, state: StockState) -> StockState:
        # Stock is business data: durable, as the model keeps Inventory's whole state.
        return StockState(self.inner.restart(state.inner), state.free)

    def describe_free(self, free: Sequence[int | None]) -> str:
        return ", ".join(f"{k}: {'unknown' if v is None else v}"
                         for k, v in zip(self.skus, free, strict=True))

    def explain(self, state: StockState, msg: Msg, observed: Msg) -> str | None:
        if observed.type not in _RESERVE_OUTCOMES:
            return None
        unjudged = self._inner_outcomes(state, msg, _PLENTY) + \
            self._inner_outcomes(state, msg, 0)
        if not any(_same(m, observed) for o in unjudged for m in o.publish):
            return None
        if any(_same(m, observed) for o in self.on_event(state, msg) for m in o.publish):
            return None
        fits = self.fits(state.free, msg.saga)
        if fits is None:
            return None
        saga = self.sagas[msg.saga]
        need = ", ".join(f"{n} x {k}" for k, n in zip(self.skus, self.need[msg.saga],
                                                       strict=True) if n)
        world = self.describe_free(self.start)
        verdict = ("fit the free stock, so it must be reserved (InventoryReserved)" if fits
                   else "do not fit the free stock, so it must fail "
                        "(InventoryReservationFailed)")
        return (f"{self.name} published {observed.type} for order {saga.orderId} "
                f"(saga {saga.sagaId}), but its items ({need}) {verdict}: free now "
                f"{self.describe_free(state.free)} (the world set up {world}; each "
                "reservation since took its order's units, each release gave them back)")


def declines(world: World, saga: SagaInfo) -> bool:
    """Whether the world's payment rules decline ``saga``'s order.

    >>> w = World(declined_users=frozenset({"mallory"}), decline_over="50.00")
    >>> s = SagaInfo(0, "s", "o", "alice", "50.00")
    >>> declines(w, s), declines(w, SagaInfo(0, "s", "o", "alice", "50.01"))
    (False, True)
    >>> declines(w, SagaInfo(0, "s", "o", "mallory", "1.00"))
    True
    """
    if saga.userId in world.declined_users:
        return True
    if world.decline_over is None:
        return False
    try:
        return Decimal(saga.amount) > Decimal(str(world.decline_over))
    except InvalidOperation:
        raise UsageError(f"world: decline_over must be a decimal amount like '100.00', got "
                         f"{world.decline_over!r}") from None


class WorldPayment(Judge):
    """The model's Payment with approve/decline decided by the world's rules."""

    check = PAYMENT_RULES

    def __init__(self, inner: Participant, sagas: Sequence[SagaInfo], world: World) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())
        self.world = world
        self.sagas = {s.index: s for s in sagas}
        self.declined = {s.index: declines(world, s) for s in sagas}

    def init(self) -> Hashable:
        return self.inner.init()

    def _decide(self, outcomes: tuple[Outcome, ...], saga: int) -> tuple[Outcome, ...]:
        approve = [o for o in outcomes if _publishes(o, ("PaymentProcessed",))]
        decline = [o for o in outcomes if _publishes(o, ("PaymentFailed",))]
        if not approve or not decline or saga not in self.declined:
            return outcomes  # not a decision the world makes here
        drop = approve if self.declined[saga] else decline
        return tuple(o for o in outcomes if o not in drop)

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        return self._decide(tuple(self.inner.on_event(state, msg)), msg.saga)

    def internal(self, state: Hashable) -> tuple[Outcome, ...]:
        return tuple(self.inner.internal(state))

    def restart(self, state: Hashable) -> Hashable:
        return self.inner.restart(state)

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        if observed.type not in _CHARGE_OUTCOMES:
            return None
        unjudged = tuple(self.inner.on_event(state, msg))
        if not any(_same(m, observed) for o in unjudged for m in o.publish):
            return None
        judged = self._decide(unjudged, msg.saga)
        if any(_same(m, observed) for o in judged for m in o.publish):
            return None
        saga = self.sagas[msg.saga]
        listed = saga.userId in self.world.declined_users
        over = self.declined[msg.saga] and not listed
        limit = self.world.decline_over
        rules = (f"user {saga.userId!r} is {'' if listed else 'not '}in the world's "
                 "declined_users and " + (
                     "the world sets no amount limit (decline_over)" if limit is None else
                     f"amount {saga.amount} is {'' if over else 'not '}over decline_over "
                     f"{limit}"))
        expected = "PaymentFailed" if self.declined[msg.saga] else "PaymentProcessed"
        verb = "declined" if self.declined[msg.saga] else "approved"
        return (f"{self.name} published {observed.type} for order {saga.orderId} "
                f"(saga {saga.sagaId}), but {rules}, so it must be {verb} ({expected})")


def judged_participants(model: Any, world: World, sagas: Sequence[SagaInfo], *,
                        judge: frozenset[str] = frozenset({STOCK, PAYMENT_RULES})
                        ) -> tuple[Participant, ...]:
    """``model``'s participants with the decisions named in ``judge`` made by ``world``.

    ``model`` is a :class:`~sagaspec.conformance.models.SuiteModel`; its Inventory (the
    permissive :class:`~sagaspec.conformance.models.AnyStock`) and Payment are wrapped.
    """
    from sagaspec.conformance.models import AnyStock
    from sagaspec.model._handwritten import Payment

    out: list[Participant] = []
    for p in model.participants:
        if STOCK in judge and isinstance(p, AnyStock):
            out.append(WorldInventory(p.inner, sagas, world.stock))
        elif PAYMENT_RULES in judge and isinstance(p, Payment):
            out.append(WorldPayment(p, sagas, world))
        else:
            out.append(p)
    return tuple(out)
