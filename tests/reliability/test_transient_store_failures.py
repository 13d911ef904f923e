"""A transient store failure never loses a valid event (nor dead-letters it).

A reference service runner consumes from the shared NATS server (its own namespace);
while it handles a valid ``OrderCreated`` its store fails for a few seconds, the way a
database does in production: the SQLite file is locked by another connection, or the
service's PostgreSQL session is terminated by the server. The event must be processed
once the store is back, with nothing dead-lettered and the message acknowledged only
then.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from relenv import namespace
from sagaspec.adapters.broker import decode_message, encode_event, open_transport
from sagaspec.examples.retry import Backoff
from sagaspec.examples.runner import ServiceRunner
from sagaspec.examples.samples import sample_created

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]


async def _until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def _with_payment(url: str, db: str, scenario) -> None:
    """Run the Payment runner on ``url`` and ``db``, observe the bus, run ``scenario``."""
    runner = ServiceRunner("payment", url, db=db, keep_going=True, lock_timeout=0.3,
                           backoff=Backoff(base=0.05, cap=0.5, budget=30.0))
    observer = open_transport(url)
    seen: list[dict] = []

    async def on_msg(msg) -> None:
        decoded = decode_message(msg.body, msg.headers)
        if isinstance(decoded, dict):
            seen.append(decoded)

    await runner.start()
    try:
        await observer.connect()
        await observer.observe(on_msg)
        await scenario(runner, observer, seen)
    finally:
        await runner.close()
        try:
            await observer.destroy()
        finally:
            await observer.close()


async def _publish(observer, event: dict) -> None:
    body, headers = encode_event(event)
    await observer.publish(event["eventType"], body, headers)


def _answers(seen: list[dict], event: dict) -> list[dict]:
    return [e for e in seen if e.get("causationId") == event["eventId"]]


def test_sqlite_locked_by_another_connection_then_released(run, nats_url, tmp_path):
    url = f"{nats_url}?ns={namespace('lock')}&create=1"
    db = str(tmp_path / "payment.db")

    async def scenario(runner, observer, seen):
        event = sample_created(1)
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the file's write lock
        try:
            await _publish(observer, event)
            # Several lock timeouts pass: the runner retries, nothing is answered yet.
            assert await _until(lambda: runner.retries >= 3, 20)
            assert _answers(seen, event) == [] and runner.handled == 0
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert await _until(lambda: _answers(seen, event) and runner.handled == 1, 20), seen
        assert [e["eventType"] for e in _answers(seen, event)] == ["PaymentProcessed"]
        assert runner.service.dead_letter_count() == 0

    run(_with_payment(url, db, scenario))


def test_postgres_session_terminated_reconnects(run, nats_url, pg_url):
    import psycopg

    ns = namespace("pgterm")
    url = f"{nats_url}?ns={ns}&create=1"

    async def scenario(runner, observer, seen):
        store = runner.service.store
        first = sample_created(1)
        await _publish(observer, first)
        assert await _until(lambda: runner.handled == 1, 20)
        # The server ends the service's own session (an admin, a failover, a restart).
        with psycopg.connect(pg_url, autocommit=True) as admin:
            pid = store._db.info.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        second = sample_created(2)
        await _publish(observer, second)
        assert await _until(lambda: _answers(seen, second) and runner.handled == 2, 20), seen
        assert [e["eventType"] for e in _answers(seen, second)] == ["PaymentProcessed"]
        assert store.reconnects == 1 and runner.retries >= 1
        assert runner.service.dead_letter_count() == 0

    try:
        run(_with_payment(url, pg_url, scenario))
    finally:
        from sagaspec.examples.pgstore import drop_schemas

        drop_schemas(pg_url, f"sagaspec_{ns.lower()}_")
