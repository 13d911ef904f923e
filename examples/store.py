"""Durable state, idempotency store and outbox for the reference services.

A saga participant needs an event store for idempotency. A reference service
handles one event inside one :meth:`Store.transaction`: it checks and records the
event's ``eventId``, changes its state and queues what it publishes in the *outbox*,
all committed atomically. A relay then publishes the outbox and marks rows sent. A crash
between any two of those steps loses nothing (the broker redelivers an unacknowledged
event, the outbox still holds unsent events) and duplicates nothing (the eventId is
already recorded; consumers dedupe outbox re-sends by ``eventId``).

Two implementations here, same protocol: :class:`MemoryStore` (in-process tests) and
:class:`SQLiteStore` (the embedded durable default). PostgreSQL lives beside them.

>>> s = MemoryStore()
>>> with s.transaction() as tx:
...     tx.mark_processed("evt-1", "saga-1"); tx.put("k", {"v": 1}); tx.emit({"eventId": "e2"})
>>> with s.transaction() as tx:
...     tx.processed("evt-1"), tx.get("k")
(True, {'v': 1})
>>> [e["eventId"] for _, e in s.pending_outbox()]
['e2']
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol

from sagaspec.spec._jsoncopy import copy_json

__all__ = ["Tx", "Store", "MemoryStore", "SQLiteStore"]

#: How the memory store copies what goes in and comes out: its values are JSON, as in
#: the SQLite store.
_copy = copy_json


class Tx(Protocol):
    """One atomic unit of work of a service."""

    def processed(self, event_id: str) -> bool: ...
    def mark_processed(self, event_id: str, saga_id: str) -> None: ...
    def get(self, key: str) -> Any | None: ...
    def put(self, key: str, value: Any) -> None: ...
    def emit(self, event: dict[str, Any]) -> None: ...


class Store(Protocol):
    """Durable state + processed-event record + outbox, changed only in transactions."""

    def transaction(self) -> Any: ...  # a context manager yielding a Tx; commits on success
    def pending_outbox(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]: ...
    def mark_sent(self, ids: list[int]) -> None: ...
    def close(self) -> None: ...


class _MemoryTx:
    def __init__(self, store: MemoryStore) -> None:
        self._s = store
        self.processed_ids: dict[str, str] = {}
        self.writes: dict[str, Any] = {}
        self.out: list[dict[str, Any]] = []

    def processed(self, event_id: str) -> bool:
        return event_id in self.processed_ids or event_id in self._s._processed

    def mark_processed(self, event_id: str, saga_id: str) -> None:
        self.processed_ids[event_id] = saga_id

    def get(self, key: str) -> Any | None:
        if key in self.writes:
            return _copy(self.writes[key])
        return _copy(self._s._kv.get(key))

    def put(self, key: str, value: Any) -> None:
        self.writes[key] = _copy(value)

    def emit(self, event: dict[str, Any]) -> None:
        self.out.append(_copy(event))


class MemoryStore:
    """A store in a dict. Survives a simulated crash if the *object* is kept."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._processed: dict[str, str] = {}
        self._kv: dict[str, Any] = {}
        self._outbox: list[tuple[int, dict[str, Any]]] = []
        self._next = 1

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTx]:
        with self._lock:
            tx = _MemoryTx(self)
            yield tx  # an exception here discards every write: all or nothing
            self._processed.update(tx.processed_ids)
            self._kv.update(tx.writes)
            for ev in tx.out:
                self._outbox.append((self._next, ev))
                self._next += 1

    def pending_outbox(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            return [(i, _copy(e)) for i, e in self._outbox[:limit]]

    def mark_sent(self, ids: list[int]) -> None:
        done = set(ids)
        with self._lock:
            self._outbox = [(i, e) for i, e in self._outbox if i not in done]

    def close(self) -> None:
        pass


_SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, saga_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
"""


class _SQLTx:
    def __init__(self, cur: Any, ph: str = "?") -> None:
        self._c = cur
        self._ph = ph

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._ph)

    def processed(self, event_id: str) -> bool:
        self._c.execute(self._q("SELECT 1 FROM processed WHERE event_id = ?"), (event_id,))
        return self._c.fetchone() is not None

    def mark_processed(self, event_id: str, saga_id: str) -> None:
        self._c.execute(
            self._q("INSERT INTO processed (event_id, saga_id) VALUES (?, ?)"), (event_id, saga_id)
        )

    def get(self, key: str) -> Any | None:
        self._c.execute(self._q("SELECT value FROM kv WHERE key = ?"), (key,))
        row = self._c.fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._c.execute(
            self._q(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            (key, json.dumps(value, sort_keys=True)),
        )

    def emit(self, event: dict[str, Any]) -> None:
        self._c.execute(self._q("INSERT INTO outbox (event) VALUES (?)"), (json.dumps(event),))


class SQLiteStore:
    """The embedded durable store: one SQLite file (or ``:memory:``) per service.

    ``timeout`` is how long a write waits for another connection's lock before SQLite
    raises "database is locked" (a transient failure its caller retries).
    """

    def __init__(self, path: str = ":memory:", *, timeout: float = 5.0) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL") if path != ":memory:" else None
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SQLITE_DDL)

    @contextmanager
    def transaction(self) -> Iterator[_SQLTx]:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLTx(cur)
                cur.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (locked): never leave a transaction open.
                if self._db.in_transaction:
                    with suppress(sqlite3.Error):
                        cur.execute("ROLLBACK")
                raise

    def pending_outbox(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(i, json.loads(e)) for i, e in rows]

    def mark_sent(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        with self._lock:
            self._db.close()
