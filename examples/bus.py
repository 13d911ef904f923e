"""An in-memory event bus with one FIFO queue per subscriber, like a broker's queues.

Each service has its own queue (a consumer group); publishing an event appends it to
the queue of every service subscribed to its type. :meth:`InMemoryBus.next` picks the
next delivery: round-robin over non-empty queues (deterministic), or, with a ``seed``,
a uniformly random pending message of any queue, which reorders deliveries within and
across queues as a real multi-consumer broker can (so ``OrderCancelled`` may overtake
``OrderCreated``). Raw bytes go to every queue: each consumer must cope with garbage.

>>> bus = InMemoryBus()
>>> bus.subscribe("payment", {"OrderCreated"}); bus.subscribe("order", {"PaymentProcessed"})
>>> bus.publish({"eventType": "OrderCreated"})
1
>>> bus.next()
('payment', {'eventType': 'OrderCreated'})
>>> bus.next() is None
True
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["InMemoryBus"]


class InMemoryBus:
    """Per-subscriber FIFO queues; deterministic round-robin or seeded random delivery."""

    def __init__(self, seed: int | None = None) -> None:
        self._types: dict[str, frozenset[str]] = {}
        self._queues: dict[str, deque[Any]] = {}
        self._rng = random.Random(seed) if seed is not None else None
        self._turn = 0

    def subscribe(self, name: str, event_types: Iterable[str]) -> None:
        self._types[name] = frozenset(event_types)
        self._queues.setdefault(name, deque())

    def subscribers(self, event_type: str) -> tuple[str, ...]:
        return tuple(n for n, types in self._types.items() if event_type in types)

    def publish(self, event: dict[str, Any]) -> int:
        """Queue ``event`` for every subscriber of its type; returns how many."""
        event_type = event.get("eventType") if isinstance(event, dict) else None
        targets = self.subscribers(event_type) if isinstance(event_type, str) else ()
        for name in targets:
            self._queues[name].append(event)
        return len(targets)

    def publish_raw(self, payload: Any, to: Iterable[str] | None = None) -> int:
        """Queue an arbitrary message (bytes, a malformed dict) for ``to`` or everyone."""
        names = list(self._queues) if to is None else list(to)
        for name in names:
            self._queues[name].append(payload)
        return len(names)

    def next(self) -> tuple[str, Any] | None:
        """Remove and return the next ``(subscriber, message)``, or ``None`` when idle."""
        busy = [n for n, q in self._queues.items() if q]
        if not busy:
            return None
        if self._rng is not None:
            pending = [(n, i) for n in busy for i in range(len(self._queues[n]))]
            name, index = pending[self._rng.randrange(len(pending))]
            q = self._queues[name]
            q.rotate(-index)
            message = q.popleft()
            q.rotate(index)
            return name, message
        names = list(self._queues)
        for k in range(len(names)):
            name = names[(self._turn + k) % len(names)]
            if self._queues[name]:
                self._turn = (self._turn + k + 1) % len(names)
                return name, self._queues[name].popleft()
        return None  # pragma: no cover - busy was non-empty

    def requeue_front(self, name: str, message: Any) -> None:
        """Put an unacknowledged message back at the head of ``name``'s queue (redelivery)."""
        self._queues[name].appendleft(message)

    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        for q in self._queues.values():
            q.clear()
