"""Which failures of a reference service are worth retrying, and how long to wait.

A *transient* failure says nothing about the message: the database connection was
lost, a lock timed out (SQLite "database is locked"), PostgreSQL aborted a
transaction to break a deadlock or a serialisation conflict, the broker did not
confirm in time. The message is kept (not acknowledged) and handled again after a
pause that doubles each time, with jitter, up to a cap. Anything else may be a bug
in the handler for this message; it is tried once more, and only a failure that
repeats is treated as deterministic (the message is dead-lettered).

>>> b = Backoff(base=0.1, cap=1.0, jitter=0.0)
>>> [b.delay(n) for n in range(6)]
[0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
>>> is_transient(__import__("sqlite3").OperationalError("database is locked"))
True
>>> is_transient(KeyError("stock"))
False
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass

from sagaspec.errors import BrokerUnavailable

__all__ = ["Backoff", "is_transient", "describe"]

# SQLite errors that clear by themselves (another connection holds the lock, I/O hiccup).
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o error", "unable to open database")
# PostgreSQL SQLSTATE classes / codes that clear by themselves: connection exceptions
# (08), insufficient resources (53), operator intervention such as
# pg_terminate_backend (57), serialization failure, deadlock, lock not available.
_PG_TRANSIENT_CLASSES = ("08", "53", "57")
_PG_TRANSIENT_CODES = ("40001", "40P01", "55P03")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the surroundings, not of the message."""
    if isinstance(exc, (BrokerUnavailable, TimeoutError, ConnectionError)):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(t in text for t in _SQLITE_TRANSIENT)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the brokers extra is not installed
        return False
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True  # connection lost or closed, server shutting down
    code = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.Error) and isinstance(code, str):
        return code[:2] in _PG_TRANSIENT_CLASSES or code in _PG_TRANSIENT_CODES
    return False


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (bounded), for logs and dead-letter reasons."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}"[:300]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``base * 2**n`` capped at ``cap``, each delay
    scaled by a random factor in ``[1 - jitter, 1]``; ``budget`` seconds in all."""

    base: float = 0.05
    cap: float = 2.0
    jitter: float = 0.5
    budget: float = 60.0

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return raw * (1.0 - self.jitter * random.random())
