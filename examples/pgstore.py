"""PostgreSQL implementation of the reference services' :class:`~sagaspec.examples.store.Store`.

Same contract as :class:`~sagaspec.examples.store.SQLiteStore`: one
:meth:`PostgresStore.transaction` holds the processed-event record, the state change
and the outgoing events (the outbox), committed atomically by PostgreSQL. Each store
lives in its own schema (``sagaspec_<service>`` by default), so the four services of a
run, and concurrent runs, never share a table:

==========  ===================================================================
table       columns
==========  ===================================================================
processed   ``event_id`` text primary key, ``saga_id``, ``processed_at``
kv          ``key`` text primary key, ``value`` jsonb (business state)
outbox      ``id`` bigserial primary key, ``event`` jsonb, ``created_at``
==========  ===================================================================

Every transaction first takes a transaction-scoped advisory lock of the schema, so two
replicas of one service serialise their read-modify-write of shared state (stock)
instead of losing an update; one replica pays nothing for it.

>>> PostgresStore.schema_name("payment", namespace="t1")
'sagaspec_t1_payment'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sagaspec.errors import BrokerUnavailable, UsageError

__all__ = ["PostgresStore", "is_postgres_url"]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return bool(url) and url.split("://", 1)[0].lower() in ("postgresql", "postgres")


def _redact(url: str) -> str:
    from sagaspec.adapters.broker import redact

    return redact(url)


class _PgTx:
    """The :class:`~sagaspec.examples.store.Tx` of one PostgreSQL transaction."""

    def __init__(self, cur: Any) -> None:
        self._c = cur

    def processed(self, event_id: str) -> bool:
        self._c.execute("SELECT 1 FROM processed WHERE event_id = %s", (event_id,))
        return self._c.fetchone() is not None

    def mark_processed(self, event_id: str, saga_id: str) -> None:
        self._c.execute(
            "INSERT INTO processed (event_id, saga_id) VALUES (%s, %s)", (event_id, saga_id)
        )

    def get(self, key: str) -> Any | None:
        self._c.execute("SELECT value FROM kv WHERE key = %s", (key,))
        row = self._c.fetchone()
        return None if row is None else row[0]

    def put(self, key: str, value: Any) -> None:
        from psycopg.types.json import Jsonb

        self._c.execute(
            "INSERT INTO kv (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, Jsonb(value)),
        )

    def emit(self, event: dict[str, Any]) -> None:
        from psycopg.types.json import Jsonb

        self._c.execute("INSERT INTO outbox (event) VALUES (%s)", (Jsonb(event),))


class PostgresStore:
    """Durable store of one service in one PostgreSQL schema.

    Parameters
    ----------
    url
        ``postgresql://user@127.0.0.1:5432/db`` (libpq URL).
    schema
        Schema holding the three tables; created if missing.
    connect_timeout
        Seconds before an unreachable server is reported as :class:`BrokerUnavailable`.
    """

    def __init__(self, url: str, schema: str = "sagaspec", *, connect_timeout: float = 3.0) -> None:
        from psycopg import sql

        if not _SCHEMA.match(schema):
            raise UsageError(
                f"bad PostgreSQL schema name {schema!r}: expected lowercase letters, digits "
                "and '_' (at most 63)"
            )
        self.url = url
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.reconnects = 0
        self._lock = threading.RLock()
        self._db = self._connect()
        ident = sql.Identifier(schema)
        with self._lock, self._db.transaction():
            # Concurrent first starts of services race on CREATE SCHEMA; serialise them.
            self._db.execute("SELECT pg_advisory_xact_lock(hashtext('sagaspec-ddl'))")
            self._db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS processed (event_id text PRIMARY KEY, "
                "saga_id text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now())"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS kv (key text PRIMARY KEY, value jsonb NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, event jsonb NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            )

    def _connect(self) -> Any:
        import psycopg
        from psycopg import sql

        try:
            db = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout)),
                                 autocommit=True, application_name=self.application_name(self.schema))
        except psycopg.OperationalError as exc:
            first = (str(exc).strip().splitlines() or ["unreachable"])[0].strip()
            raise BrokerUnavailable(
                f"postgresql at {_redact(self.url)}: cannot connect: {first}",
                hint="is PostgreSQL running, and the user/database right?",
            ) from None
        db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return db

    def _conn(self) -> Any:
        """The connection, opened again if the last one was lost (server restart,
        ``pg_terminate_backend``): the failed call was a transient failure its caller
        retries, the next one reconnects."""
        if self._db.closed or self._db.broken:
            with suppress(Exception):
                self._db.close()
            self._db = self._connect()
            self.reconnects += 1
        return self._db

    @staticmethod
    def application_name(schema: str) -> str:
        """The ``application_name`` of a store's sessions (``pg_stat_activity`` shows whose
        they are; the nemesis terminates only its own run's)."""
        return f"sagaspec {schema}"[:63]

    @staticmethod
    def schema_name(service: str, namespace: str = "") -> str:
        """The default schema of ``service`` in a run's ``namespace``."""
        parts = ["sagaspec", namespace, service]
        return "_".join(p for p in parts if p).lower().replace("-", "_")[:63]

    def __repr__(self) -> str:
        return f"<PostgresStore {_redact(self.url)} schema={self.schema}>"

    @contextmanager
    def transaction(self) -> Iterator[_PgTx]:
        with self._lock:
            db = self._conn()
            with db.transaction(), db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
                yield _PgTx(cur)

    def pending_outbox(self, limit: int = 100) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            rows = self._conn().execute(
                "SELECT id, event FROM outbox ORDER BY id LIMIT %s", (limit,)
            ).fetchall()
        return [(int(i), e) for i, e in rows]

    def mark_sent(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._conn().execute("DELETE FROM outbox WHERE id = ANY(%s)", (list(ids),))

    def keys(self, prefix: str = "") -> list[str]:
        """State keys starting with ``prefix`` (operators, soak checks)."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT key FROM kv WHERE starts_with(key, %s) ORDER BY key", (prefix,)
            ).fetchall()
        return [r[0] for r in rows]

    def drop(self) -> None:
        """Drop the schema and everything in it (test clean-up)."""
        from psycopg import sql

        with self._lock:
            self._conn().execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def close(self) -> None:
        with self._lock:
            if not self._db.closed:
                self._db.close()


def drop_schemas(url: str, prefix: str, *, connect_timeout: float = 3.0) -> int:
    """Drop every schema whose name starts with ``prefix`` (a run's clean-up); returns how many."""
    import psycopg
    from psycopg import sql

    if not _SCHEMA.match(prefix):
        raise UsageError(f"bad schema prefix {prefix!r}")
    with psycopg.connect(url, connect_timeout=max(1, int(connect_timeout)), autocommit=True) as db:
        names = [r[0] for r in db.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
        ).fetchall()]
        for name in names:
            db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    return len(names)
