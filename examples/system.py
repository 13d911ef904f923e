"""Run the reference services in-process: the whole choreography, or one participant.

The order saga's reference services are the spec interpreter running the design's spec
(``spec/sagas/order-corrected.saga.yaml``, ``order-seed``): :func:`make_target` and
:func:`make_system` give a :class:`~sagaspec.examples.spec_target.SpecTarget` of
:class:`~sagaspec.examples.interpreter.SpecService` with the per-key world (stock per
sku, declined users, an amount limit), and a hand-written mutant's name runs its
operator mutant. ``engine="hand-written"`` gives the hand-written classes instead
(kept for the differential test), as two *targets* with the same small surface (what
the in-process adapter and ``sagaspec serve`` drive):

:class:`ReferenceSystem`
    The four services of a design wired on an :class:`~sagaspec.examples.bus.InMemoryBus`.
    ``place_order`` asks Order to create an order; ``deliver`` injects an event on the
    bus (a duplicate, a stale event, a forged one) for every subscriber; the bus is
    pumped until quiet before each call returns. ``drain`` returns every event the
    services published since the last drain (injected events are not repeated).
:class:`SingleService`
    One participant alone: ``deliver`` hands the event to it, ``drain`` returns what it
    published. Whoever drives it plays every other participant and the bus.

Faults both support, as a broker and a process supervisor would produce them:

``crash(participant)``
    The participant's process is killed and restarted on the same store (volatile
    state lost), and it is armed to be killed again at ``crash_point`` (default
    ``before-commit``) of the next message it handles; that unacknowledged message is
    then redelivered to the restarted process. A correct service shows no difference.
A consumer that raises (a bug, not a simulated crash)
    The exception is reported as a :class:`~sagaspec.adapters.base.RawMessage` with
    ``source`` = the participant and ``reason`` starting ``"consumer crashed:"``; the
    process is restarted and the poison message dropped (dead-lettered by the broker).

>>> system = make_system()
>>> system.setup({"stock": {"sku-1": 5}})
>>> system.place_order({"sagaId": "saga-1", "orderId": "order-1", "userId": "alice",
...     "amount": "20.00", "items": [{"sku": "sku-1", "quantity": 2, "unitPrice": "10.00"}]})
>>> [e["eventType"] for e in system.drain()]  # doctest: +NORMALIZE_WHITESPACE
['OrderCreated', 'PaymentProcessed', 'InventoryReserved', 'OrderCompleted',
 'NotificationSent']
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sagaspec.adapters.base import RawMessage
from sagaspec.examples.bus import InMemoryBus
from sagaspec.examples.envelope import message_bytes
from sagaspec.examples.mutants import apply_mutant, get_mutant
from sagaspec.examples.seed import SEED_SERVICES
from sagaspec.examples.service import CRASH_POINTS, ReferenceService, SimulatedCrash
from sagaspec.examples.services import CORRECTED_SERVICES
from sagaspec.examples.store import MemoryStore, Store
from sagaspec.spec import events as _events

from sagaspec.errors import AdapterError, UsageError

__all__ = [
    "PARTICIPANTS",
    "ReferenceSystem",
    "SingleService",
    "service_classes",
    "make_service",
    "make_system",
    "make_target",
    "hand_written",
    "OrderWorkload",
    "fault_workload",
    "interpreted_target",
    "operator_mutant",
    "spec_service",
    "ENGINES",
]

#: The participants of both shipped designs, in the seed's order.
PARTICIPANTS = ("order", "payment", "inventory", "notification")

StoreFactory = Callable[[str], Store]

_DESIGNS: dict[str, dict[str, type[ReferenceService]]] = {
    "corrected": CORRECTED_SERVICES,
    "seed": SEED_SERVICES,
}


def hand_written(design: str) -> bool:
    """Whether ``design`` names a shipped order design (``corrected``, ``seed``): its
    services take the order world and orders (the interpreter running its spec, or the
    hand-written classes); else it is a spec file the interpreter runs with its knobs."""
    return design in _DESIGNS


@dataclass
class OrderWorkload:
    """The fault runner's workload for the order design's services: orders of a few
    skus, ``decline_rate`` of them from a user whose card is declined and ``short_rate``
    of them also for the scarce sku (whose stock runs out), so both compensation paths
    run under faults. The world is the order world per key (stock per sku, declined
    users)."""

    sagas: int
    rng: random.Random
    decline_rate: float = 0.2
    short_rate: float = 0.25
    stock_per_sku: int = 100_000
    scarce_stock: int = -1  # default: most orders of the scarce sku fail

    SKUS = ("sku-a", "sku-b", "sku-c", "sku-d")
    SCARCE = "sku-scarce"

    def world(self) -> dict[str, Any]:
        # About a quarter of the orders of the scarce sku fit (two units each): the others
        # fail their reservation, whatever the seed.
        scarce = (self.scarce_stock if self.scarce_stock >= 0
                  else max(2, int(self.sagas * self.short_rate * 0.5)))
        stock = dict.fromkeys(self.SKUS, self.stock_per_sku)
        stock[self.SCARCE] = scarce
        return {"stock": stock, "declined_users": [f"declined-{i}" for i in range(8)], "decline_over": None}

    def saga(self, i: int, token: str) -> dict[str, Any]:
        rng = self.rng
        declined = rng.random() < self.decline_rate
        short = rng.random() < self.short_rate
        items = []
        for sku in rng.sample(self.SKUS, rng.randint(1, 2)):
            items.append({"sku": sku, "quantity": rng.randint(1, 3), "unitPrice": f"{rng.randint(1, 40)}.00"})
        if short:
            items.append({"sku": self.SCARCE, "quantity": 2, "unitPrice": "5.00"})
        amount = sum(Decimal(it["unitPrice"]) * it["quantity"] for it in items)
        user = f"declined-{rng.randrange(8)}" if declined else f"user-{rng.randrange(1000)}"
        return {"sagaId": f"saga-{token}-{i}", "orderId": f"order-{token}-{i}", "userId": user,
                "amount": f"{amount:.2f}", "currency": "USD", "items": items}


def fault_workload(design: str, sagas: int, rng: random.Random, **options: Any) -> OrderWorkload | None:
    """What the fault runner drives the services of ``design`` with: orders in the order
    world for an order design (``options``: :class:`OrderWorkload`'s), ``None``
    for a spec the interpreter runs (the fault runner's own spec workload)."""
    if not hand_written(design):
        return None
    unknown = set(options) - {"decline_rate", "short_rate", "stock_per_sku", "scarce_stock"}
    if unknown:
        raise UsageError(f"unknown workload option(s) {', '.join(sorted(unknown))}; expected "
                         "decline_rate, short_rate, stock_per_sku, scarce_stock")
    return OrderWorkload(sagas, rng, **options)


def service_classes(design: str = "corrected", mutant: str | None = None) -> dict[str, type[ReferenceService]]:
    """participant -> service class for ``design``, with ``mutant`` applied."""
    try:
        classes = _DESIGNS[design]
    except KeyError:
        raise UsageError(f"unknown design {design!r}; expected one of {', '.join(_DESIGNS)}") from None
    if mutant:
        get_mutant(mutant)  # one-line error for an unknown name
    return apply_mutant(classes, mutant or None)


def make_service(
    participant: str,
    *,
    design: str = "corrected",
    mutant: str | None = None,
    store: Store | None = None,
    world: Any = None,
    publisher: Callable[[dict[str, Any]], None] | None = None,
) -> ReferenceService:
    """One reference service, e.g. for a broker consumer process.

    >>> make_service("payment", mutant="refund-without-charge").name
    'payment'
    """
    classes = service_classes(design, mutant)
    if participant not in classes:
        raise UsageError(f"unknown participant {participant!r}; expected one of {', '.join(classes)}")
    svc = classes[participant](store if store is not None else MemoryStore(), publisher=publisher)
    if world is not None:
        svc.configure(world)
    return svc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _wire(event: Any) -> dict[str, Any] | RawMessage:
    """What a subscriber would receive: a JSON round trip of the published object."""
    try:
        return json.loads(json.dumps(event, allow_nan=False))
    except (TypeError, ValueError) as exc:
        return RawMessage(payload=repr(event).encode(), source="", reason=f"not JSON-serialisable: {exc}")



class _Harness:
    """What both targets share: building, restarting and running services."""

    participants: tuple[str, ...] = ()

    def __init__(
        self,
        design: str,
        mutant: str | None,
        world: Any,
        store_factory: StoreFactory | None,
        crash_point: str,
    ) -> None:
        if crash_point not in CRASH_POINTS:
            raise UsageError(f"unknown crash point {crash_point!r}; expected one of {', '.join(CRASH_POINTS)}")
        self.design = design
        self.mutant = mutant or None
        self.classes = service_classes(design, self.mutant)
        self.crash_point = crash_point
        self._initial_world = world
        self._store_factory = store_factory or (lambda _name: MemoryStore())
        self.services: dict[str, ReferenceService] = {}
        self._out: list[dict[str, Any] | RawMessage] = []
        #: every event published since the last reset (the observed history).
        self.history: list[dict[str, Any]] = []
        self.crashes = 0

    # -- building ----------------------------------------------------------------------
    def _build(self) -> None:
        # Close the old stores first: a factory that reopens the same file must not race
        # the old connection (SQLite removes its WAL when the last connection closes).
        for svc in self.services.values():
            svc.store.close()
        self.services = {}
        for name in self.participants:
            store = self._store_factory(name)
            self.services[name] = self.classes[name](store, publisher=self._publisher(name))
        if self._initial_world is not None:
            self.setup(self._initial_world)

    def _publisher(self, name: str) -> Callable[[dict[str, Any]], None]:
        return lambda event: self._published(name, event)

    def _published(self, name: str, event: dict[str, Any]) -> None:
        wire = _wire(event)
        if isinstance(wire, RawMessage):
            self._out.append(RawMessage(wire.payload, name, wire.reason))
            return
        self._out.append(wire)
        self.history.append(wire)
        self._route(name, wire)

    def _route(self, name: str, event: dict[str, Any]) -> None:
        """Hand a published event on (the system's bus); a lone service has none."""

    def _report(self, message: Any, source: str, reason: str) -> None:
        self._out.append(RawMessage(message_bytes(message), source, reason))

    def _restart(self, name: str) -> None:
        self.crashes += 1
        self.services[name] = self.services[name].restarted()

    def _relay(self, name: str) -> None:
        # A process killed after publishing but before marking sent re-publishes the same
        # events when it comes back; bounded so a pathological service cannot loop.
        for _ in range(4):
            try:
                self.services[name].relay()
                return
            except SimulatedCrash:
                self._restart(name)
            except Exception as exc:  # a bug in the service's relay path
                self._report(b"", name, f"consumer crashed: {_one_line(exc)}")
                self._restart(name)
                return

    def _handle(self, name: str, message: Any) -> bool:
        """Handle one delivery; ``False`` if the process died before acknowledging it."""
        try:
            self.services[name].handle(message)
        except SimulatedCrash:
            self._restart(name)
            return False
        except Exception as exc:
            self._report(message, name, f"consumer crashed: {_one_line(exc)}")
            self._restart(name)
            return True  # the broker gives up on a poison message: dropped
        self._relay(name)
        return True

    # -- the target surface ----------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"setup", "crash", "reset", "deliver_raw"}
        if "order" in self.services and hasattr(self.services["order"], "place_order"):
            caps.add("place_order")
        return frozenset(caps)

    def drain(self) -> list[dict[str, Any] | RawMessage]:
        """Everything published (and every crash report) since the last drain."""
        out, self._out = self._out, []
        return out

    def setup(self, world: Any) -> None:
        for svc in self.services.values():
            svc.configure(world)

    def place_order(self, order: dict[str, Any]) -> None:
        if "order" not in self.services:
            raise AdapterError(f"place_order needs the order participant; this target runs {', '.join(self.services)}")
        self.services["order"].place_order(order)
        self._relay("order")
        self._settle()

    def crash(self, participant: str) -> None:
        if participant not in self.services:
            raise AdapterError(
                f"cannot crash {participant!r}; this target runs {', '.join(self.services)}"
            )
        self._restart(participant)
        self.services[participant].arm_crash(self.crash_point)
        self._relay(participant)  # a restarted process first flushes its outbox
        self._settle()

    def reset(self) -> None:
        self._out = []
        self.history = []
        self._build()

    def close(self) -> None:
        for svc in self.services.values():
            svc.store.close()
        self.services = {}

    def service(self, name: str) -> ReferenceService:
        return self.services[name]

    def _settle(self) -> None:
        """Run until quiet (the system pumps its bus; a lone service is always quiet)."""


class ReferenceSystem(_Harness):
    """Every participant of a design on one in-memory bus."""

    participants = PARTICIPANTS

    def __init__(
        self,
        design: str = "corrected",
        mutant: str | None = None,
        *,
        world: Any = None,
        store_factory: StoreFactory | None = None,
        seed: int | None = None,
        crash_point: str = "before-commit",
        max_steps: int = 100_000,
    ) -> None:
        super().__init__(design, mutant, world, store_factory, crash_point)
        self.seed = seed
        self.max_steps = max_steps
        self.bus = InMemoryBus(seed)
        self._build()

    def _build(self) -> None:
        self.bus = InMemoryBus(self.seed)
        super()._build()
        for name, svc in self.services.items():
            self.bus.subscribe(name, svc.subscribes)

    def _restart(self, name: str) -> None:
        super()._restart(name)
        # A restarted consumer resubscribes with the same bindings.
        self.bus.subscribe(name, self.services[name].subscribes)

    def _route(self, name: str, event: dict[str, Any]) -> None:
        self.bus.publish(event)

    def deliver(self, event: Any) -> None:
        """Inject ``event`` on the bus for every subscriber of its type, then run."""
        message = _wire(event) if isinstance(event, dict) else event
        if isinstance(message, RawMessage):
            raise AdapterError(f"cannot deliver a non-JSON event: {message.reason}")
        event_type = message.get("eventType") if isinstance(message, dict) else None
        if not (isinstance(event_type, str) and event_type in _events.EVENT_MODELS):
            self.bus.publish_raw(message)  # unroutable: every consumer sees it
        else:
            self.bus.publish(message)
        self._settle()

    def deliver_raw(self, payload: bytes) -> None:
        """Put arbitrary bytes on every consumer's queue, then run."""
        self.bus.publish_raw(bytes(payload))
        self._settle()

    def _settle(self) -> None:
        for _ in range(self.max_steps):
            item = self.bus.next()
            if item is None:
                return
            name, message = item
            if not self._handle(name, message):
                self.bus.requeue_front(name, message)  # unacknowledged: redelivered
        pending = self.bus.pending()
        self.bus.clear()
        self._report(b"", "bus", f"bus did not go quiet after {self.max_steps} deliveries; "
                                 f"dropped {pending} pending messages")

    def __repr__(self) -> str:
        m = f" mutant={self.mutant!r}" if self.mutant else ""
        return f"<ReferenceSystem design={self.design!r}{m}>"


class SingleService(_Harness):
    """One participant alone; the caller plays the rest of the choreography."""

    def __init__(
        self,
        participant: str,
        design: str = "corrected",
        mutant: str | None = None,
        *,
        world: Any = None,
        store: Store | None = None,
        store_factory: StoreFactory | None = None,
        crash_point: str = "before-commit",
    ) -> None:
        if participant not in PARTICIPANTS:
            raise UsageError(
                f"unknown participant {participant!r}; expected one of {', '.join(PARTICIPANTS)} or system"
            )
        self._given_store = store
        if store is not None:
            def store_factory(_name: str, _store: Store = store) -> Store:
                return _store
        super().__init__(design, mutant, world, store_factory, crash_point)
        self.participant = participant
        self.participants = (participant,)
        self._build()

    def _build(self) -> None:
        if self._given_store is not None and self.services:
            raise AdapterError("reset needs stores of its own; this service runs on a store "
                               "handed in by the caller")
        super()._build()

    @property
    def capabilities(self) -> frozenset[str]:
        caps = set(super().capabilities)
        if self.participant != "order":
            caps.discard("place_order")
        if self._given_store is not None:
            caps.discard("reset")  # it cannot forget a store it does not own
        return frozenset(caps)

    def deliver(self, event: Any) -> None:
        message = _wire(event) if isinstance(event, dict) else event
        if isinstance(message, RawMessage):
            raise AdapterError(f"cannot deliver a non-JSON event: {message.reason}")
        # A crash before the acknowledgement means the broker redelivers; bounded.
        for _ in range(4):
            if self._handle(self.participant, message):
                return

    def deliver_raw(self, payload: bytes) -> None:
        self.deliver(bytes(payload))

    def __repr__(self) -> str:
        m = f" mutant={self.mutant!r}" if self.mutant else ""
        return f"<SingleService {self.participant!r} design={self.design!r}{m}>"


def make_system(
    design: str = "corrected",
    mutant: str | None = None,
    *,
    world: Any = None,
    store_factory: StoreFactory | None = None,
    seed: int | None = None,
    crash_point: str = "before-commit",
    engine: str = "interpreter",
) -> Any:
    """The whole choreography of ``design`` (optionally mutated) on an in-memory bus: the
    interpreter running its spec, or (``engine="hand-written"``) a :class:`ReferenceSystem`."""
    if engine != "hand-written":
        return make_target("system", design, mutant, world=world, store_factory=store_factory,
                           seed=seed, crash_point=crash_point, engine=engine)
    return ReferenceSystem(design, mutant, world=world, store_factory=store_factory,
                           seed=seed, crash_point=crash_point)


def make_target(
    participant: str = "system",
    design: str = "corrected",
    mutant: str | None = None,
    *,
    world: Any = None,
    store_factory: StoreFactory | None = None,
    seed: int | None = None,
    crash_point: str = "before-commit",
    engine: str = "interpreter",
) -> Any:
    """The reference services of ``design``: every participant (``participant="system"``)
    or one.

    By default (``engine="interpreter"``) they are the spec interpreter running the
    design's spec with its per-key world (stock per sku, the payment rules' data):
    :func:`interpreted_target`; a hand-written mutant name runs its operator mutant.
    ``engine="hand-written"``: the hand-written classes (:func:`make_system`,
    :class:`SingleService`), kept for the differential test against the interpreter.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "interpreter":
        return interpreted_target(participant or "system", design, mutant, world=world,
                                  store_factory=store_factory, seed=seed, crash_point=crash_point)
    if participant in (None, "", "system"):
        return make_system(design, mutant, world=world, store_factory=store_factory,
                           seed=seed, crash_point=crash_point, engine=engine)
    return SingleService(participant, design, mutant, world=world,
                         store_factory=store_factory, crash_point=crash_point)


#: How the order saga's reference services run: the spec interpreter running the design's
#: spec (the default), or the hand-written classes.
ENGINES = ("interpreter", "hand-written")


def operator_mutant(spec: Any, name: str) -> Any:
    """The mutant of ``spec`` (:func:`sagaspec.model.mutation.mutants`) called
    ``name``, or the one a hand-written order mutant names (same bug,
    :attr:`~sagaspec.examples.mutants.Mutant.spec_mutant`).

    >>> from sagaspec.spec.sagafile import resolve_spec
    >>> operator_mutant(resolve_spec("corrected"), "oversell").operator
    'drop-conjunct'
    """
    from sagaspec.examples.mutants import MUTANTS
    from sagaspec.model.mutation import mutants

    found = {m.name: m for m in mutants(spec)}
    if name in found:
        return found[name]
    if name in MUTANTS:
        by_description = {m.description: m for m in found.values()}
        hit = by_description.get(MUTANTS[name].spec_mutant)
        if hit is not None:
            return hit
        raise UsageError(f"mutant {name!r} has no operator mutant in the spec {spec.name!r}")
    raise UsageError(f"unknown mutant {name!r}; expected one of {', '.join(MUTANTS)} "
                     f"or a mutant of the spec {spec.name!r} (sagaspec serve --spec FILE --list-mutants)")


def spec_service(spec: Any, participant: str, mutant: Any = None, store: Store | None = None,
                 publisher: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """One interpreter service of ``spec`` on ``store``; with ``mutant`` (a
    :func:`operator_mutant`), that mutant's service."""
    from sagaspec.examples.interpreter import SpecService

    if mutant is None:
        return SpecService(spec, participant, store, publisher=publisher)
    from sagaspec.examples.spec_mutants import mutant_service

    # As sagaspec mutate builds them: lenient domains (a faulty service may take stock
    # below zero; the oracle is what must notice).
    svc = mutant_service(mutant.spec, participant, store, publisher=publisher, lenient=True)
    if not mutant.participants or participant in mutant.participants:
        svc.behaviour = mutant.behaviour
    return svc


def interpreted_target(
    participant: str = "system",
    design: str = "corrected",
    mutant: str | None = None,
    *,
    world: Any = None,
    store_factory: StoreFactory | None = None,
    seed: int | None = None,
    crash_point: str | None = "before-commit",
) -> Any:
    """The reference services of ``design`` as the spec interpreter running its spec,
    taking the per-key world (``{"stock": {...}, "declined_users": [...],
    "decline_over": ...}`` or a :class:`World`). ``mutant``: a hand-written mutant's name
    or one of the spec's (:func:`operator_mutant`). ``seed``: the in-memory bus delivers
    a uniformly random pending message next (overtaking), reproducibly.
    ``crash_point``: where a crash without a point arms the restarted participant.

    >>> t = interpreted_target(world={"stock": {"sku-1": 1}})
    >>> t.place_order({"sagaId": "s1", "orderId": "o1", "userId": "alice", "amount": "2.00",
    ...     "items": [{"sku": "sku-1", "quantity": 2, "unitPrice": "1.00"}]})
    >>> [e["eventType"] for e in t.drain()]  # doctest: +NORMALIZE_WHITESPACE
    ['OrderCreated', 'PaymentProcessed', 'InventoryReservationFailed', 'OrderCancelled',
     'PaymentRefunded']
    """
    from sagaspec.examples.spec_target import SpecTarget
    from sagaspec.spec.sagafile import resolve_spec

    if crash_point is not None and crash_point not in CRASH_POINTS:
        raise UsageError(f"unknown crash point {crash_point!r}; expected one of {', '.join(CRASH_POINTS)}")
    spec = resolve_spec(design)
    names = [p.name for p in spec.participants]
    if participant != "system" and participant not in names:
        raise UsageError(f"unknown participant {participant!r}; expected one of {', '.join(names)} or system")
    found = operator_mutant(spec, mutant) if mutant else None

    def make() -> dict[str, Any]:
        return {n: spec_service(spec, n, found, store_factory(n) if store_factory else None) for n in names}

    data = world.to_json() if hasattr(world, "to_json") else world
    target = SpecTarget(make, participant, data or None, per_key=True, seed=seed, crash_point=crash_point,
                        supervised=True)
    target.design = design
    target.mutant = mutant or None
    return target
