"""The PostgreSQL store honours the Store contract: atomic transactions, idempotency
record, ordered outbox, one schema per service, and no lost update between replicas."""

from __future__ import annotations

import threading
import uuid

import pytest
from sagaspec.examples.envelope import outgoing
from sagaspec.examples.pgstore import PostgresStore, drop_schemas
from sagaspec.examples.services import PaymentService

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(60)]


@pytest.fixture
def schema(pg_url):
    prefix = f"sagaspec_test_{uuid.uuid4().hex[:8]}_"
    yield prefix
    drop_schemas(pg_url, prefix)


def test_transaction_is_all_or_nothing(pg_url, schema):
    store = PostgresStore(pg_url, schema + "a")
    try:
        with store.transaction() as tx:
            tx.mark_processed("e1", "s1")
            tx.put("k", {"v": 1})
            tx.emit({"eventId": "out-1"})
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.mark_processed("e2", "s1")
            tx.put("k", {"v": 2})
            tx.emit({"eventId": "out-2"})
            raise RuntimeError("crash before commit")
        with store.transaction() as tx:
            assert (tx.processed("e1"), tx.processed("e2"), tx.get("k")) == (True, False, {"v": 1})
        assert [e["eventId"] for _, e in store.pending_outbox()] == ["out-1"]
    finally:
        store.close()


def test_outbox_order_and_mark_sent_survive_a_reopen(pg_url, schema):
    store = PostgresStore(pg_url, schema + "b")
    with store.transaction() as tx:
        for i in range(5):
            tx.emit({"eventId": f"o{i}"})
    rows = store.pending_outbox(limit=3)
    assert [e["eventId"] for _, e in rows] == ["o0", "o1", "o2"]
    store.mark_sent([i for i, _ in rows])
    store.close()
    reopened = PostgresStore(pg_url, schema + "b")
    try:
        assert [e["eventId"] for _, e in reopened.pending_outbox()] == ["o3", "o4"]
    finally:
        reopened.close()


def test_schemas_isolate_services(pg_url, schema):
    a, b = PostgresStore(pg_url, schema + "x"), PostgresStore(pg_url, schema + "y")
    try:
        with a.transaction() as tx:
            tx.put("stock", {"sku": 1})
        with b.transaction() as tx:
            assert tx.get("stock") is None
        assert a.keys("st") == ["stock"] and b.keys() == []
    finally:
        a.close()
        b.close()


def test_reference_service_on_postgres_is_idempotent(pg_url, schema):
    store = PostgresStore(pg_url, schema + "pay")
    try:
        pay = PaymentService(store)
        created = outgoing("OrderCreated", saga_id="s1", order_id="o1", userId="alice", amount="30.00",
                           items=[{"sku": "a", "quantity": 1, "unitPrice": "30.00"}])
        assert (pay.handle(created), pay.handle(created)) == ("processed", "duplicate")
        sent: list[dict] = []
        assert pay.relay(sent.append) == 1 and sent[0]["eventType"] == "PaymentProcessed"
        assert len(pay.account("o1")["charges"]) == 1
    finally:
        store.close()


def test_replicas_do_not_lose_updates(pg_url, schema):
    """Two processes of one service share a schema: the advisory lock serialises them."""
    stores = [PostgresStore(pg_url, schema + "r") for _ in range(2)]

    def bump(store: PostgresStore) -> None:
        for _ in range(50):
            with store.transaction() as tx:
                tx.put("n", (tx.get("n") or 0) + 1)

    threads = [threading.Thread(target=bump, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        with stores[0].transaction() as tx:
            assert tx.get("n") == 100
    finally:
        for s in stores:
            s.close()
