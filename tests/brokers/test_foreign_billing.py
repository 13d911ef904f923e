"""A service we did not write for sagaspec, driven as it is over a real RabbitMQ.

``examples/foreign_billing.py`` is the shop saga's payment step in its own vocabulary:
routing keys as types, its own ids, no ``sagaId``, its own business rule, its own
non-durable exchange. ``sagaspec conform --spec --adapter amqp://... --mapping FILE``
must pass it, catch each faulty variant with the check that names its fault, and leave
nothing declared on its broker but the adapter's own observer queue.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from brokerenv import URLS, namespace, require
from click.testing import CliRunner

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
SHOP = str(ROOT / "examples" / "sagas" / "shop.saga.yaml")
MAPPING = str(ROOT / "examples" / "foreign_billing.toml")


@pytest.fixture
def billing(request):
    """Start the billing service (``request.param``: a bug or None) on a fresh exchange."""
    url = require(URLS["rabbitmq"], "AMQP_URL")
    exchange = namespace("bill")
    bug = getattr(request, "param", None)
    cmd = [sys.executable, "-m", "sagaspec.examples.foreign_billing", "--url", url, "--exchange", exchange]
    proc = subprocess.Popen(cmd + (["--bug", bug] if bug else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    try:
        assert line and "ready" in line[0], (line, proc.poll())
        yield url, exchange
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def conform(url: str, exchange: str, *extra: str):
    sep = "&" if "?" in url else "?"
    return CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "payment",
                                     "--adapter", f"{url}{sep}exchange={exchange}", "--mapping", MAPPING,
                                     "--faults", "duplicates,reorder,invalid", "--seed", "1", *extra])


def _exists(url: str, exchange: str) -> bool:
    async def go() -> bool:
        import aio_pika
        from aiormq.exceptions import ChannelNotFoundEntity

        conn = await aio_pika.connect(url)
        try:
            channel = await conn.channel()
            try:
                await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, passive=True)
                return True
            except ChannelNotFoundEntity:
                return False
        finally:
            await conn.close()

    return asyncio.run(go())


def test_the_foreign_service_passes_and_nothing_is_declared_on_its_broker(billing):
    url, exchange = billing
    r = conform(url, exchange, "-n", "12")
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output and "12 cases," in r.output
    deliveries = int(re.search(r"(\d+) deliveries,", r.output).group(1))
    assert deliveries >= 30, r.output  # the service was driven, not skipped
    # Its own exchange was used as it declared it (not durable: a re-declaration as
    # durable is refused), and no control exchange was declared next to it.
    assert not _exists(url, f"{exchange}.control")


@pytest.mark.parametrize("billing, check, words", [
    ("ignores-card", "FAILED model", "published [PaymentCharged]; the spec allows [PaymentDeclined]"),
    ("refunds-again", "FAILED model", "again on a redelivered ShippingFailed"),
    ("refund-in-dollars", "FAILED provenance", "PaymentRefunded.amount = '1.00'; the spec says it is "
                                               "PaymentCharged.amount = '100.00'"),
    # Its second refund comes half a second late, after the suite moved on to later
    # cases: still judged as the case whose duplicate caused it.
    ("refunds-again-late", "FAILED model", "again on a redelivered ShippingFailed"),
], indirect=["billing"])
def test_each_faulty_variant_is_caught(billing, check, words, request):
    url, exchange = billing
    # The default case count (a duplicate landing after the refund is rare at 20 cases:
    # caught on 2-3 of 5 seeds, and on 5 of 5 at the default); -x stops at the first.
    r = conform(url, exchange, "-x")
    assert r.exit_code == 1, r.output
    assert check in r.output and words in r.output, r.output
    assert "Reproduce with:" in r.output and "--mapping" in r.output
    failed = [line for line in r.output.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, r.output
    if "redelivered" in words:
        # Of the case that sent the duplicate: its sagas are named after that case's seed.
        k = int(re.search(r": case (\d+) ", failed[0]).group(1))
        assert f"saga s{100_003 + k}-" in failed[0], r.output
    reproduce = next(line for line in r.output.splitlines() if line.startswith("Reproduce with: "))
    words_ = shlex.split(reproduce[len("Reproduce with: "):])
    if request.node.callspec.params["billing"] == "refunds-again-late":
        # Its refund came after the case: the case alone must wait for it (?late=S).
        assert re.search(r"[?&]late=\d+\b", words_[words_.index("--adapter") + 1]), reproduce
        again = CliRunner().invoke(main, words_[1:])
        assert again.exit_code == 1 and words in again.output, again.output


def test_crashing_a_service_the_suite_does_not_run_is_a_usage_error(billing):
    url, exchange = billing
    r = conform(url, exchange, "-n", "3", "--faults", "crash")
    assert r.exit_code == 2, r.output
    assert "cannot crash payment" in r.output and "leave crash out of --faults" in r.output
    assert "Traceback" not in r.output


def test_a_publication_the_mapping_cannot_read_is_reported_with_why(billing, tmp_path):
    url, exchange = billing
    text = Path(MAPPING).read_text()
    start = text.index("[events.PaymentDeclined]")
    partial = tmp_path / "partial.toml"
    partial.write_text(text[:start] + text[text.index("[events.PaymentRefunded]"):])
    sep = "&" if "?" in url else "?"
    # An hour-long ?timeout=: the unreadable publication itself ends each wait (without
    # that, this waits out the timeout at the failing step and again shrinking it).
    r = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "payment", "--adapter",
                                  f"{url}{sep}exchange={exchange}&timeout=3600", "--mapping", str(partial),
                                  "--faults", "none", "--seed", "1", "-n", "10", "-x"])
    assert r.exit_code == 1, r.output
    assert ("published [<unreadable billing: unmapped event type 'billing.charge.declined' (map it under "
            "[events] or list it in ignore_types)>]; the spec allows [PaymentDeclined]") in r.output


@pytest.mark.parametrize("participant, adapter, words", [
    ("system", "amqp://guest:guest@127.0.0.1:5672/?exchange=x", "over a broker, name the participant"),
    ("order", "amqp://guest:guest@127.0.0.1:5672/?exchange=x", "'order' starts sagas"),
    ("payment", "http://127.0.0.1:1", "--mapping with --spec applies to a broker adapter"),
    ("payment", "amqp://guest:guest@127.0.0.1:5672/?exchange=x&late=soon", "late='soon': expected seconds"),
])
def test_what_a_broker_run_cannot_do_is_a_one_line_usage_error(participant, adapter, words):
    r = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", participant, "--adapter", adapter,
                                  "--mapping", MAPPING, "-n", "1"])
    assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("name", ["nats", "redis"])
@pytest.mark.parametrize("bug, code, words", [
    (None, 0, "PASSED: "),
    ("refunds-again", 1, "again on a redelivered ShippingFailed"),
])
def test_the_same_mapping_drives_it_on_nats_and_redis(name, bug, code, words):
    url = require(URLS[name], f"{name.upper()}_URL")
    prefix = namespace("bill")
    stream = prefix.upper().replace("-", "_") if name == "nats" else f"{prefix}:events"
    where = (f"stream={stream}&subject_prefix={prefix}" if name == "nats"
             else f"stream={stream}&route_field=event&data_field=payload")
    cmd = [sys.executable, "-m", "sagaspec.examples.foreign_billing", "--url", url, "--exchange", prefix]
    proc = subprocess.Popen(cmd + (["--bug", bug] if bug else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "ready" in proc.stdout.readline()
        sep = "&" if "?" in url else "?"
        r = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "payment", "--adapter",
                                      f"{url}{sep}{where}", "--mapping", MAPPING,
                                      "--faults", "duplicates,reorder,invalid", "--seed", "1", "-x",
                                          *(["-n", "20"] if bug is None else [])])
        assert r.exit_code == code and words in r.output, r.output
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()

        async def drop() -> None:
            if name == "redis":
                import redis.asyncio as redis

                client = redis.from_url(url)
                await client.delete(stream)
                await client.aclose()
                return
            import nats

            nc = await nats.connect(url)
            try:
                await nc.jetstream().delete_stream(stream)
            finally:
                await nc.close()

        asyncio.run(drop())


def test_a_publication_arriving_after_its_case_is_kept_for_that_case_not_dropped(billing):
    import json as _json

    from sagaspec.adapters.broker import open_transport
    from sagaspec.adapters.mapping import load_mapping
    from sagaspec.adapters.spec_broker import SpecBrokerAdapter
    from sagaspec.conformance.spec_conform import InProcessSpecAdapter
    from sagaspec.spec.sagafile import load_spec

    url, exchange = billing
    sep = "&" if "?" in url else "?"
    spec = load_spec(SHOP)
    adapter = SpecBrokerAdapter(f"{url}{sep}exchange={exchange}", spec, "payment",
                                local=InProcessSpecAdapter(spec), mapping=load_mapping(MAPPING, spec))

    def reserved(saga):
        return {"eventId": f"e-{saga}", "eventType": "StockReserved", "schemaVersion": 1, "sagaId": saga,
                "timestamp": "2026-01-01T00:00:00.000Z", "orderId": "order-1", "reservationId": "r1",
                "sku": "sku-1", "amount": "100.00"}

    def charged(got):
        return any(e.get("eventType") == "PaymentCharged" for e in got)

    try:
        adapter.reset()
        adapter.configure({"sagas": {"s1": {"payment": "approve"}}})
        adapter.deliver("payment", reserved("s1"))
        first = adapter.collect(charged)
        assert [e["eventType"] for e in first] == ["PaymentCharged"] and first[0]["sagaId"] == "s1"
        # The case is over; then the service publishes once more for it (late).
        late = {"msg_id": "late-1", "charge_id": first[0]["paymentId"], "refunded_cents": 10000, "sent_at": 0}

        async def publish() -> None:
            t = open_transport(f"{url}{sep}exchange={exchange}")
            await t.connect()
            try:
                await t.ensure_topology(False)
                await t.publish("billing.charge.refunded", _json.dumps(late).encode(), {})
            finally:
                await t.close()

        asyncio.run(publish())
        first_case = adapter.tag
        adapter.reset()  # the next case
        adapter.configure({"sagas": {"s2": {"payment": "approve"}}})
        adapter.deliver("payment", reserved("s2"))
        got = adapter.collect(charged)
        # Not this case's: set aside for the case it belongs to, as that case named it.
        assert [e["eventType"] for e in got] == ["PaymentCharged"] and got[0]["sagaId"] == "s2"
        late = adapter.orphans()
        assert [(tag, e["eventType"], e["eventId"], e["sagaId"]) for tag, e, _after in late] == [
            (first_case, "PaymentRefunded", "late-1", "s1")]
        assert 0 <= late[0][2] < 30  # seconds after its case it came
        assert adapter.orphans() == []
    finally:
        adapter.close()
