"""Which failures are retried and which are dead-lettered, and the dead-letter log line."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sagaspec.examples.retry import Backoff, is_transient
from sagaspec.examples.samples import sample_created
from sagaspec.examples.system import make_service

from sagaspec.errors import BrokerUnavailable


def test_transient_and_deterministic_failures_are_told_apart():
    import psycopg

    assert is_transient(sqlite3.OperationalError("database is locked"))
    assert is_transient(psycopg.OperationalError("terminating connection due to administrator command"))
    assert is_transient(psycopg.errors.SerializationFailure("could not serialize access"))
    assert is_transient(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert is_transient(BrokerUnavailable("nats: publish timed out after 3s"))
    assert is_transient(TimeoutError())
    assert not is_transient(sqlite3.OperationalError("no such table: kv"))
    assert not is_transient(psycopg.errors.UndefinedTable("relation does not exist"))
    assert not is_transient(KeyError("stock"))
    assert not is_transient(ValueError("bad"))


def test_backoff_is_exponential_bounded_and_jittered():
    b = Backoff(base=0.1, cap=1.0, jitter=0.5)
    delays = [b.delay(n) for n in range(40)]
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert max(delays[:1]) <= 0.1 and min(delays[10:]) >= 0.5
    assert len({round(d, 6) for d in delays[10:]}) > 1  # jitter: not all the same


@pytest.mark.parametrize("body, event_id, event_type", [
    (b"\xff\xfe not utf-8", "-", "-"),
    (b'{"eventType": "OrderCreated", "eventId": "evt-bad"}', "evt-bad", "OrderCreated"),
    (b"[" * 5000 + b"]" * 5000, "-", "-"),
])
def test_dead_lettering_logs_one_line_naming_event_type_and_reason(caplog, body, event_id, event_type):
    service = make_service("payment")
    with caplog.at_level(logging.WARNING, logger="sagaspec.service"):
        assert service.handle(body) == "dead-lettered"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f"eventId={event_id} type={event_type}:" in lines[0]
    assert lines[0].split(": ", 1)[1].strip()  # a reason


def test_a_valid_event_is_not_dead_lettered():
    service = make_service("payment")
    service.configure({"stock": {}, "declined_users": [], "decline_over": None})
    assert service.handle(sample_created(1)) == "processed"
    assert service.dead_letter_count() == 0
