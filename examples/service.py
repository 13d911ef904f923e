"""The idempotent consumer every reference service is built on (an idempotency store).

A :class:`ReferenceService` is transport-independent: whoever runs it (the in-memory
bus, ``sagaspec serve``, a broker consumer process) calls :meth:`~ReferenceService.handle`
with each received message and :meth:`~ReferenceService.relay` to publish what the
service queued. ``handle`` never raises for bad input and has exactly these outcomes:

``processed``
    A valid event the service subscribes to, seen for the first time. In ONE store
    transaction the service records the ``eventId``, changes its state and queues its
    outgoing events in the outbox; a crash anywhere before the commit rolls everything
    back, and the broker's redelivery of the unacknowledged event redoes it.
``duplicate``
    The ``eventId`` was processed before: nothing changes, nothing is published.
``ignored``
    A valid event the service does not subscribe to (a broad subscription): no effect.
``dead-lettered``
    Not JSON, not an object, unknown ``eventType`` or schema-invalid: recorded in the
    store's dead-letter records with a one-line reason, no business effect, nothing
    published.

Acknowledge a broker message only after ``handle`` returns: then the state change is
durable (it committed) and redelivery can only produce ``duplicate``.

Crash points
    :meth:`~ReferenceService.arm_crash` makes the service raise :class:`SimulatedCrash` (a
    ``BaseException``, so no handler swallows it) when it reaches a named point of its
    next handling: ``before-commit`` (state changed inside the transaction, not yet
    committed), ``after-commit`` (committed, not yet acknowledged) or ``after-publish``
    (outbox published by :meth:`relay`, not yet marked sent). The in-process harness uses
    this to kill a participant at the worst moment and restart it on the same store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from sagaspec.adapters.crash import CRASH_POINTS, SimulatedCrash
from sagaspec.examples.envelope import InvalidMessage, decode, message_text, now_rfc3339, outgoing
from sagaspec.examples.store import MemoryStore, Store, Tx
from sagaspec.spec.events import EventEnvelope

__all__ = [
    "PROCESSED",
    "DUPLICATE",
    "IGNORED",
    "DEAD_LETTERED",
    "CRASH_POINTS",
    "SimulatedCrash",
    "ReferenceService",
    "world_json",
]

PROCESSED = "processed"
DUPLICATE = "duplicate"
IGNORED = "ignored"
DEAD_LETTERED = "dead-lettered"


_DLQ_COUNT = "dead-letters:count"

log = logging.getLogger("sagaspec.service")


def _identity(message: Any) -> tuple[str, str]:
    """The ``eventId`` and ``eventType`` of a refused message, ``-`` where it has none."""
    from sagaspec.spec._jsonlimits import JSONLimitError, loads

    data = message
    if isinstance(message, (bytes, bytearray, memoryview, str)):
        try:
            data = loads(message)
        except (JSONLimitError, ValueError):
            data = None
    if not isinstance(data, Mapping):
        return "-", "-"
    ident = [data.get("eventId", data.get("id")), data.get("eventType", data.get("type"))]
    return tuple(str(x)[:80] if isinstance(x, (str, int)) else "-" for x in ident)  # type: ignore[return-value]


def world_json(world: Any) -> dict[str, Any]:
    """A :class:`~sagaspec.adapters.base.World` or its JSON form, as JSON."""
    if hasattr(world, "to_json"):
        return world.to_json()
    if isinstance(world, Mapping):
        return {
            "stock": {str(k): int(v) for k, v in (world.get("stock") or {}).items()},
            "declined_users": sorted(world.get("declined_users") or ()),
            "decline_over": world.get("decline_over"),
        }
    raise TypeError(f"expected a World or its JSON object, got {type(world).__name__}")


class ReferenceService:
    """Base class: decode, dead-letter, deduplicate, dispatch, outbox, relay.

    Subclasses set ``name`` and ``subscribes`` and define ``on_<EventType>(tx, event)``
    for each subscribed type; handlers change state with ``tx.get``/``tx.put`` and queue
    events with :meth:`emit`. Each instance holds only volatile things (the armed crash,
    the publisher); all state is in :attr:`store`, so a restart is a new instance on the
    same store.
    """

    name: ClassVar[str] = ""
    subscribes: ClassVar[frozenset[str]] = frozenset()
    design: ClassVar[str] = "corrected"

    def __init__(
        self,
        store: Store | None = None,
        *,
        publisher: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        #: Where :meth:`relay` publishes when called without an argument.
        self.publisher = publisher
        self._crash_at: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} design={self.design!r}>"

    # -- the pipeline ----------------------------------------------------------------
    def handle(self, message: dict[str, Any] | str | bytes) -> str:
        """Handle one received message; see the module docstring for the outcomes."""
        try:
            event = decode(message)
        except InvalidMessage as exc:
            self.dead_letter(message, str(exc))
            return DEAD_LETTERED
        if event.eventType not in self.subscribes:
            return IGNORED
        return self.process(event)

    def process(self, event: EventEnvelope) -> str:
        """Record, change state and queue output for a valid event: one transaction."""
        with self.store.transaction() as tx:
            if tx.processed(event.eventId):
                return DUPLICATE
            tx.mark_processed(event.eventId, event.sagaId)
            self.dispatch(tx, event)
            self.checkpoint("before-commit")
        self.checkpoint("after-commit")
        return PROCESSED

    def dispatch(self, tx: Tx, event: EventEnvelope) -> None:
        getattr(self, f"on_{event.eventType}")(tx, event)

    def relay(self, publish: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Publish the outbox in order, then mark it sent; returns how many were published.

        A crash between publishing and marking re-publishes the same events (same
        ``eventId``) after the restart: consumers deduplicate them.
        """
        publish = publish or self.publisher
        if publish is None:
            raise RuntimeError(f"{self.name}: relay needs a publish function")
        total = 0
        while True:
            rows = self.store.pending_outbox()
            if not rows:
                return total
            for _, event in rows:
                publish(event)
            self.checkpoint("after-publish")
            self.store.mark_sent([i for i, _ in rows])
            total += len(rows)

    # -- helpers for handlers --------------------------------------------------------
    def build(self, cause: EventEnvelope, event_type: str, **fields: Any) -> dict[str, Any]:
        """A new event of the same saga, caused by ``cause``."""
        return outgoing(
            event_type,
            saga_id=cause.sagaId,
            order_id=cause.orderId,
            causation_id=cause.eventId,
            correlation_id=cause.correlationId,
            **fields,
        )

    def emit(self, tx: Tx, cause: EventEnvelope, event_type: str, **fields: Any) -> None:
        """Queue a new event in the outbox, inside the current transaction."""
        tx.emit(self.build(cause, event_type, **fields))

    def configure(self, world: Any) -> None:
        """Apply a world (stock, payment rules). Services without world state ignore it."""

    # -- faults and observation ------------------------------------------------------
    def arm_crash(self, point: str = "before-commit") -> None:
        """Die with :class:`SimulatedCrash` when the next handling reaches ``point``."""
        if point not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {point!r}; expected one of {', '.join(CRASH_POINTS)}")
        self._crash_at = point

    @property
    def crash_armed(self) -> str | None:
        return self._crash_at

    def checkpoint(self, point: str) -> None:
        if self._crash_at == point:
            self._crash_at = None
            raise SimulatedCrash(self.name, point)

    def restarted(self) -> ReferenceService:
        """The same service after a crash: a new instance, same store, volatile state lost."""
        fresh = type(self)(self.store, publisher=self.publisher)
        return fresh

    def dead_letter(self, message: Any, reason: str) -> None:
        """Record a message the service refuses, with a one-line reason; no other effect.

        Logs one line naming the message's eventId and type (when it has them) and why.
        """
        event_id, event_type = _identity(message)
        with self.store.transaction() as tx:
            n = int(tx.get(_DLQ_COUNT) or 0) + 1
            tx.put(_DLQ_COUNT, n)
            tx.put(
                f"dead-letter:{n}",
                {"reason": reason, "message": message_text(message), "at": now_rfc3339()},
            )
        log.warning("%s dead-lettered eventId=%s type=%s: %s", self.name, event_id, event_type,
                    " ".join(reason.split())[:300])

    def dead_letter_count(self) -> int:
        with self.store.transaction() as tx:
            return int(tx.get(_DLQ_COUNT) or 0)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead-letter record, oldest first."""
        with self.store.transaction() as tx:
            n = int(tx.get(_DLQ_COUNT) or 0)
            return [tx.get(f"dead-letter:{i}") for i in range(1, n + 1)]

    def read(self, key: str) -> Any | None:
        """Read one state key (for tests, operators and the soak checks)."""
        with self.store.transaction() as tx:
            return tx.get(key)
