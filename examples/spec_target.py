"""Any spec's reference services as a target of the HTTP server (``sagaspec serve --spec``).

:class:`SpecTarget` holds :class:`~sagaspec.examples.interpreter.SpecService` instances
(every participant of the spec, or one) and offers what
:class:`~sagaspec.examples.httpserver.SagaHTTPServer` calls: ``deliver`` (a real system:
the event goes to every subscriber and the in-memory bus runs until quiet),
``deliver_to`` (one participant only, nothing routed: the caller plays the bus, as
``sagaspec conform --spec`` does), ``start`` (a trigger participant starts a saga),
``setup`` (world knob values; with ``per_key=True`` the per-key world of
:class:`~sagaspec.adapters.base.World` instead: stock per key, the world rules' data),
``crash`` (arm a crash point for the next delivery),
``hold`` (a steppable system: its own bus stops, the caller delivers each message with
``deliver_to``, so it picks the next one, its duplicates and where a crash lands),
``reset`` and ``drain``. With a ``seed``, the in-memory bus delivers a uniformly random
pending message next (one event may overtake another, as on a real multi-consumer
broker), reproducibly; without, in publication order. A delivery killed at its crash point restarts the participant,
which re-sends its outbox, and raises :class:`ConsumerCrashed` (the server answers 5xx:
not acknowledged, the bus redelivers).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import Any

from sagaspec.adapters.base import RawMessage, check_shared
from sagaspec.adapters.crash import CRASH_POINTS, ConsumerCrashed, SimulatedCrash
from sagaspec.examples.envelope import message_bytes

from sagaspec.errors import AdapterError, InputError

__all__ = ["SpecTarget", "ConsumerCrashed"]


class SpecTarget:
    """Spec services behind the wire contract; ``make()`` builds fresh ones (reset)."""

    #: ``POST /world`` takes the spec's knob values, not the order saga's world.
    world_knobs = True
    #: Whether the system's own bus is held (:meth:`hold`).
    held = False

    def __init__(self, make: Callable[[], dict[str, Any]], participant: str = "system",
                 world: dict[str, Any] | None = None, *, per_key: bool = False,
                 seed: int | None = None, crash_point: str | None = None,
                 supervised: bool = False) -> None:
        #: Builds fresh services (``reset`` calls it): replace it, then ``reset()``, to run
        #: other service classes (a faulty one in a test).
        self.make = make
        #: ``True``: a service that raises while handling is reported (a
        #: :class:`RawMessage` "consumer crashed: ...") and restarted, the poison message
        #: dropped, as a process supervisor and a broker's dead-letter queue would; else
        #: the exception reaches the caller.
        self.supervised = supervised
        self.seed = seed
        #: Where a crash without a point arms the restarted participant (None: nowhere).
        self.crash_point = crash_point
        #: ``True``: ``setup`` takes the per-key world (stock per key, declined users, an
        #: amount limit), as the hand-written order services do, not knob values.
        self.per_key = per_key
        if per_key:
            self.world_knobs = False
        self._initial_world = dict(world or {})
        self.participant = participant
        self.design = None
        self.mutant = None
        self._out: list[dict[str, Any] | RawMessage] = []
        self._bus: deque[dict[str, Any]] = deque()
        self.reset()

    @property
    def capabilities(self) -> frozenset[str]:
        caps = {"setup", "crash", "reset", "deliver_raw", "deliver_to"}
        if any(r.kind == "trigger" for s in self.services.values() for r in s.part.reactions):
            caps.add("start")
            if self.per_key:  # the order saga's reference services: place_order, its older name
                caps.add("place_order")
        return frozenset(caps)

    @property
    def steppable(self) -> bool:
        """Whether :meth:`hold` applies: every participant here, so a bus of its own."""
        return self.participant == "system" and len(self.services) > 1

    def hold(self, on: bool = True) -> None:
        """Hold the system's bus (``on``): what a participant publishes is only drained,
        delivered to nobody here; the caller delivers each message with
        :meth:`deliver_to`. ``False``: the bus runs until quiet again, as served."""
        self.held = bool(on)
        self._bus.clear()

    def reset(self) -> None:
        # Close the old stores first: a factory that reopens the same file must not race
        # the old connection.
        for svc in getattr(self, "_all", {}).values():
            svc.store.close()
        self._all = services = self.make()
        if self.participant != "system":
            if self.participant not in services:
                raise AdapterError(f"no participant {self.participant!r}; the spec has {', '.join(services)}")
            services = {self.participant: services[self.participant]}
        self.services = services
        #: The spec the services run (webhooks map its events to CloudEvents with it).
        self.spec = next(iter(services.values())).spec
        self._out = []
        self._bus = deque()
        self._rng = random.Random(self.seed) if self.seed is not None else None
        self.setup(self._initial_world)

    def drain(self) -> list[dict[str, Any] | RawMessage]:
        out, self._out = self._out, []
        return out

    def setup(self, world: Any) -> None:
        """Knob values (``{KNOB: VALUE, "sagas": {ID: {...}}}``) and, under ``"shared"``,
        the starting values of shared variables (``{"PARTICIPANT.VAR": VALUE}``); with
        ``per_key``, a :class:`~sagaspec.adapters.base.World` or its JSON form."""
        per_key = self.per_key or (isinstance(world, dict) and any(
            k == "stock" or k in self.spec.world_data for k in world))
        if per_key:
            # The per-key form (also in a knob target's world file): stock per key for
            # the spec's keyed variable, the data its world rules read.
            from sagaspec.examples.interpreter import per_key_world

            data = world.to_json() if hasattr(world, "to_json") else dict(world or {})
            knobs = data.pop("knobs", None)
            if knobs:
                data["sagas"] = {**knobs, **(data.get("sagas") or {})}
            try:
                world = per_key_world(self.spec, data)
            except InputError as exc:
                raise AdapterError(str(exc)) from None
        if not isinstance(world, dict):
            raise AdapterError(f"world must be an object of knob values, got {type(world).__name__}")
        shared = check_shared(self.spec, world.get("shared") or {})
        knobs = {k: v for k, v in world.items() if k != "shared"}
        for svc in self.services.values():
            svc.configure(knobs)
        for name, values in shared.items():
            if name in self.services:  # a served participant applies its own
                self.services[name].set_shared(values)

    def place_order(self, order: dict[str, Any]) -> None:
        """Start a saga with the trigger event's payload (``sagaId`` and its fields)."""
        if not isinstance(order, dict) or not isinstance(order.get("sagaId"), str):
            raise AdapterError('place_order: expected {"sagaId": "...", ...fields}')
        self.start({"sagaId": order["sagaId"], "fields": {k: v for k, v in order.items() if k != "sagaId"}})

    def start(self, request: dict[str, Any]) -> None:
        """``{"sagaId": ID, "participant": NAME, "fields": {...}, "route": true}`` (all but
        ``sagaId`` optional); ``"route": false``: nothing is handed on (the caller is the bus)."""
        if not isinstance(request, dict) or not isinstance(request.get("sagaId"), str):
            raise AdapterError('start: expected {"sagaId": "...", "participant": "...", "fields": {...}}')
        name = request.get("participant") or next(
            (n for n, s in self.services.items() if any(r.kind == "trigger" for r in s.part.reactions)), None)
        if name not in self.services:
            raise AdapterError(f"start: no participant {name!r} here; this target runs {', '.join(self.services)}")
        fields = request.get("fields") or {}
        if not isinstance(fields, dict):
            raise AdapterError("start: fields: expected an object")
        route = request.get("route", True) is not False
        self.services[name].start(request["sagaId"], fields)
        self._relay(name, route)
        self._pump()

    def crash(self, participant: str, point: str | None = None) -> None:
        """Kill and restart ``participant`` now; with ``point``, kill it there during its
        next delivery instead."""
        if participant not in self.services:
            raise AdapterError(f"cannot crash {participant!r}; this target runs {', '.join(self.services)}")
        if point is None:
            self.services[participant] = self.services[participant].restarted()
            if self.crash_point is not None:
                self.services[participant].arm_crash(self.crash_point)
            self._relay(participant, True)
            self._pump()
            return
        if point not in CRASH_POINTS:
            raise AdapterError(f"unknown crash point {point!r}; expected one of {', '.join(CRASH_POINTS)}")
        self.services[participant].arm_crash(point)

    def deliver(self, event: dict[str, Any]) -> None:
        crashed = []
        for name, svc in list(self.services.items()):
            if not isinstance(event, dict) or event.get("eventType") in svc.subscribes or len(self.services) == 1:
                if not self._handle(name, event):
                    crashed.append(name)
        if self.supervised:
            # As the broker: the unacknowledged delivery comes again to whoever was killed
            # (bounded, as the hand-written services' bus).
            for _ in range(3):
                crashed = [name for name in crashed if not self._handle(name, event)]
        self._pump()
        if crashed:
            raise ConsumerCrashed(f"{', '.join(crashed)} crashed before acknowledging the event")

    def deliver_to(self, participant: str, event: Any) -> None:
        if participant not in self.services:
            raise AdapterError(f"no participant {participant!r} here; this target runs {', '.join(self.services)}")
        if not self._handle(participant, event, route=False):
            raise ConsumerCrashed(f"{participant} crashed before acknowledging the event")

    def deliver_raw(self, payload: bytes) -> None:
        for name in self.services:
            self._handle(name, payload)

    # -- internals ------------------------------------------------------------------
    def _handle(self, name: str, event: Any, route: bool = True) -> bool:
        """One delivery; False when the process died before acknowledging it."""
        acked = True
        try:
            self.services[name].handle(event)
            self._relay(name, route)
        except SimulatedCrash:
            acked = False
            self.services[name] = self.services[name].restarted()
            self._relay(name, route)  # a restarted process first sends its outbox
        except Exception as exc:
            if not self.supervised:
                raise
            text = str(exc).strip().splitlines()
            self._out.append(RawMessage(message_bytes(event), name, f"consumer crashed: {type(exc).__name__}: "
                                                               f"{text[0] if text else ''}"[:300]))
            self.services[name] = self.services[name].restarted()
        # An armed crash the delivery never reached (a duplicate, an ignored event) is
        # not kept for a later one.
        self.services[name]._crash_at = None
        return acked

    def _relay(self, name: str, route: bool) -> None:
        # A process killed after publishing but before marking its outbox sent publishes
        # the same events again when it comes back (consumers deduplicate them); bounded
        # as the hand-written services' relay is.
        for _ in range(4):
            sent: list[dict[str, Any]] = []
            try:
                self.services[name].relay(sent.append)
                return
            except SimulatedCrash:
                self.services[name] = self.services[name].restarted()
            finally:
                for e in sent:
                    self._out.append(e)
                    if route and len(self.services) > 1 and not self.held:
                        self._bus.append(e)

    def service(self, name: str) -> Any:
        """The running service of participant ``name``."""
        return self.services[name]

    def _pump(self) -> None:
        if self.held:
            return  # the caller is the bus
        if self._rng is not None:
            self._pump_seeded()
            return
        # The system's in-memory bus, in publication order, until quiet.
        steps = 0
        while self._bus and steps < 10_000:
            steps += 1
            event = self._bus.popleft()
            for name, svc in list(self.services.items()):
                if event.get("eventType") in svc.subscribes:
                    if not self._handle(name, event):
                        self._bus.append(event)  # not acknowledged: redelivered

    def _pump_seeded(self) -> None:
        # One queue entry per subscriber of each event; the next delivery is any pending
        # one, drawn from the seeded generator (so a later event may overtake).
        pending: list[tuple[str, dict[str, Any]]] = []
        for _ in range(10_000):
            while self._bus:
                event = self._bus.popleft()
                pending.extend((name, event) for name, svc in self.services.items()
                               if event.get("eventType") in svc.subscribes)
            if not pending:
                return
            name, event = pending.pop(self._rng.randrange(len(pending)))
            if not self._handle(name, event):
                pending.append((name, event))  # not acknowledged: redelivered

