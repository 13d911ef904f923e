"""A whole system we did not write, driven from outside: ``conform --participant system`` with a mapping.

``examples/foreign_shop.py`` plays every participant of the shop saga in its own
vocabulary over its own RabbitMQ exchange, takes orders over REST (its own order
numbers, no ``sagaId``), decides by fixed rules (declines a total above 200, refuses PO
boxes), and shows outcomes only as an order's state over HTTP. ``examples/foreign_shop.toml``
drives it with no Python glue; the suite must pass it, catch each faulty variant, and
blame damage that outlives a case (a consumer that dies) on the case that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import socket
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
MAPPING = str(ROOT / "examples" / "foreign_shop.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _running_shop(bug: str | None):
    """The foreign shop (with ``bug``, or as it is) on a fresh exchange and port: its adapter URL."""
    url = require(URLS["rabbitmq"], "AMQP_URL")
    exchange, port = namespace("shop"), _free_port()
    cmd = [sys.executable, "-m", "sagaspec.examples.foreign_shop", "--url", url, "--exchange", exchange,
           "--port", str(port)]
    proc = subprocess.Popen(cmd + (["--bug", bug] if bug else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    try:
        assert line and "ready" in line[0], (line, proc.poll())
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}exchange={exchange}&http=http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture
def shop(request):
    """A shop of its own (``request.param``: a bug or None): the faulty ones are damaged by a run."""
    with _running_shop(getattr(request, "param", None)) as url:
        yield url


@pytest.fixture(scope="module")
def sound_shop():
    """One shop as it is for the tests that leave it as they found it: each case sets its
    world up and tags its orders, so runs do not meet (a start-up per test saved)."""
    with _running_shop(None) as url:
        yield url


def conform(adapter: str, *extra: str):
    return CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "system", "--adapter", adapter,
                                     "--mapping", MAPPING, "--seed", "1", *extra])


def test_the_foreign_shop_passes_as_it_is(sound_shop):
    result = conform(sound_shop, "-n", "8")
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "8 cases," in result.output
    # A system that runs by itself gets the faults its broker can carry: duplicates of what
    # it published and unreadable messages on its routes; the shop shrugs both off.
    assert "faults: duplicates, invalid" in result.output
    assert "the system runs its sagas by itself (it offers no step hook)" in result.output
    # Every outcome was judged: some orders completed, some were cancelled, read over HTTP.
    assert "0 events" not in result.output


@pytest.mark.parametrize("shop", ["ships-declined"], indirect=True)
def test_a_broken_business_rule_is_caught_exactly(shop):
    """Their rule says a total above 200 is declined; capturing it is a model failure on
    payment, judged with the world the rule gives (not all-or-nothing)."""
    result = conform(shop, "-n", "8")
    assert result.exit_code == 1, result.output
    assert "FAILED model" in result.output
    assert "payment on StockReserved" in result.output and "[PaymentCharged]" in result.output
    assert "[PaymentDeclined]" in result.output  # what the rule allows


@pytest.mark.parametrize("shop", ["no-release"], indirect=True)
def test_a_missing_compensation_is_caught(shop):
    # An order never cancelled is waited for until ?timeout= (1 s, not the default 3 s).
    result = conform(f"{shop}&timeout=1", "-n", "8", "-x")
    assert result.exit_code == 1, result.output
    assert "inventory on" in result.output and "[StockReleased]" in result.output


@pytest.mark.parametrize("shop", ["consumer-dies"], indirect=True)
def test_a_consumer_killed_by_a_case_is_blamed_on_that_case(shop):
    """The warehouse consumer stops once it gave stock back (case 0 of seed 1 declines): the health check
    after case 0 fails and case 0 is reported, not case 1 as a flaky failure."""
    result = conform(shop, "-n", "4", "--case-sagas", "1")
    assert result.exit_code == 1, result.output
    assert "FAILED health: case 0" in result.output, result.output
    assert "unhealthy after case 0" in result.output and "503" in result.output
    assert "case 1" not in result.output  # later cases were not run, so not blamed
    assert "1 distinct failure\n" in result.output


@pytest.mark.parametrize("shop", ["consumer-dies"], indirect=True)
def test_without_the_health_check_a_later_case_takes_the_blame(shop, tmp_path):
    """The same damage with no [system.health]: case 1 fails (inventory never answers),
    which is what the health check prevents."""
    text = Path(MAPPING).read_text()
    assert "[system.health]" in text
    mapping = tmp_path / "no-health.toml"
    mapping.write_text(text.replace('[system.health]                      # after each case: damage that '
                                    'outlives it\npath = "/health"\n', ""))
    result = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "system",
                                       "--adapter", f"{shop}&timeout=1",
                                       "--mapping", str(mapping), "--seed", "1", "-n", "2", "--case-sagas", "1",
                                       "-x"])
    assert result.exit_code == 1, result.output
    assert "FAILED model: case 1" in result.output, result.output
    assert "inventory on OrderPlaced" in result.output


def test_a_saga_started_by_a_message_on_their_broker(sound_shop, tmp_path):
    """The same shop with the trigger declared as a message on its exchange (its routing
    key, a body whose request_id carries the saga): it passes, and every outcome is read
    back through the order number learnt from what it published."""
    text = Path(MAPPING).read_text()
    rest = '''method = "POST"
path = "/orders"
'''
    assert rest in text
    text = text.replace(rest, 'publish = "shop.order.requested"\n', 1).replace(
        'body = { customer = "customerId"', 'body = { request_id = "sagaId", event_id = "sagaId", customer = "customerId"', 1
    ).replace('id = "order_number"                  #', 'id = "request_id"                    #', 1)
    mapping = tmp_path / "by-message.toml"
    mapping.write_text(text)
    result = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "system",
                                       "--adapter", sound_shop, "--mapping", str(mapping), "--seed", "1", "-n", "6"])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


@pytest.mark.parametrize("shop", ["consumer-dies"], indirect=True)
def test_with_no_health_url_a_probe_saga_blames_the_case_that_did_it(shop, tmp_path):
    """[system.health] probe = true instead of a URL: one plain saga, passed before the
    first case (a plain order gives no stock back), fails after case 0: case 0 is blamed."""
    text = Path(MAPPING).read_text()
    mapping = tmp_path / "probe.toml"
    mapping.write_text(text.replace('path = "/health"\n', "probe = true\n"))
    result = CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "system",
                                       "--adapter", f"{shop}&timeout=1", "--mapping", str(mapping),
                                       "--seed", "1", "-n", "3", "--case-sagas", "1"])
    assert result.exit_code == 1, result.output
    assert "FAILED health: case 0" in result.output, result.output
    assert "the probe saga, which passed before the first case, now fails" in result.output
    assert "case 1" not in result.output


@pytest.mark.parametrize("shop", ["ships-twice"], indirect=True)
def test_a_duplicate_published_on_their_broker_catches_a_carrier_that_ships_twice(shop):
    """The suite publishes a message the shop published again, exactly as it was: a
    carrier without deduplication ships twice, which no handling explains. Without
    duplicates the same cases pass: the fault kind is what finds it."""
    result = conform(shop, "-n", "6", "--faults", "duplicates")
    assert result.exit_code == 1, result.output
    assert "FAILED model" in result.output and "published twice, or unprompted" in result.output, result.output
    assert "OrderShipped" in result.output, result.output
    assert "again ->" in result.output  # the step that did it is in the log shown
    clean = conform(shop, "-n", "6", "--faults", "invalid")
    assert clean.exit_code == 0, clean.output


@pytest.mark.parametrize("shop", ["ships-twice-late"], indirect=True)
def test_a_second_shipment_a_second_late_is_blamed_on_the_case_that_caused_it(shop):
    """The carrier ships again on a duplicate, a second later: after the suite stopped
    watching that case. The message keeps that case's tag, so that case fails (its own
    saga is named), not the one running when it came; and its Reproduce line waits for it."""
    result = conform(shop, "-n", "12", "-x", "--faults", "duplicates")
    assert result.exit_code == 1, result.output
    assert "published twice, or unprompted" in result.output and "OrderShipped" in result.output, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, result.output
    k = int(re.search(r": case (\d+) ", failed[0]).group(1))
    assert f"of saga s{100_003 + k}-" in failed[0], result.output
    assert "after the case: the system published [OrderShipped]" in result.output
    reproduce = next(line for line in result.output.splitlines() if line.startswith("Reproduce with: "))
    words = shlex.split(reproduce[len("Reproduce with: "):])
    assert re.search(r"[?&]late=\d+\b", words[words.index("--adapter") + 1]), reproduce
    again = CliRunner().invoke(main, words[1:])
    assert again.exit_code == 1 and "published twice, or unprompted" in again.output, again.output


@pytest.mark.parametrize("shop", ["chokes-on-garbage"], indirect=True)
def test_an_unreadable_message_that_kills_a_consumer_is_blamed_on_its_case(shop):
    """An unreadable message on one of the shop's routes stops its billing consumer: the
    health check after that case fails, and that case is named."""
    result = conform(shop, "-n", "8", "--faults", "invalid")
    assert result.exit_code == 1, result.output
    assert "FAILED health: case" in result.output and "503" in result.output, result.output
    assert "publish an unreadable message on" in result.output


@pytest.mark.parametrize("shop", ["chokes-on-garbage"], indirect=True)
def test_the_consumer_that_chokes_on_garbage_passes_without_invalid_messages(shop):
    """The same variant and cases with only duplicates: nothing kills it, the run passes
    (the unreadable message is what the previous test's failure comes from)."""
    result = conform(shop, "-n", "8", "--faults", "duplicates")
    assert result.exit_code == 0, result.output


def test_faults_a_foreign_system_cannot_take_are_refused_in_one_line(sound_shop):
    result = conform(sound_shop, "-n", "1", "--faults", "crash,duplicates")
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: --faults: a foreign system runs its sagas by itself"), result.output
    assert "duplicates and invalid" in line and "not crash" in line


async def _kill_the_warehouse_consumer_under_traffic(shop: str) -> None:
    """Decline an order (the faulty warehouse consumer stops once it gives the stock back)
    while orders keep arriving as messages on the shop's exchange, which its orders
    consumer handles meanwhile; return once the health check reports the dead consumer."""
    import aio_pika
    import httpx

    url, query = shop.split("?", 1)
    params = dict(part.split("=", 1) for part in query.split("&"))
    async with await aio_pika.connect(url) as conn, httpx.AsyncClient(base_url=params["http"], timeout=10) as client:
        channel = await conn.channel()
        ex = await channel.declare_exchange(params["exchange"], aio_pika.ExchangeType.TOPIC, durable=False,
                                            auto_delete=True)
        (await client.put("/stock/widget", json={"available": 50})).raise_for_status()
        dead = asyncio.Event()

        async def flood() -> None:
            n = 0
            while not dead.is_set() or n < 200:
                n += 1
                body = {"event_id": f"flood-{n}", "request_id": f"flood-{n}", "at": 0, "customer": "c2",
                        "item": "widget", "total": 5, "ship_to": "2 Main St"}
                await ex.publish(aio_pika.Message(json.dumps(body).encode()), routing_key="shop.order.requested")
                await asyncio.sleep(0)

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.05)
        order = {"customer": "c1", "item": "widget", "total": 500, "ship_to": "1 Main St"}  # declined: > 200
        (await client.post("/orders", json=order)).raise_for_status()
        for _ in range(1000):
            if (await client.get("/health")).status_code != 200:
                break
            await asyncio.sleep(0.01)
        dead.set()
        await flooding


@pytest.mark.parametrize("shop", ["consumer-dies"], indirect=True)
def test_a_dead_consumer_leaves_the_rest_of_the_shop_serving(shop):
    """The faulty variant kills one consumer, not the shop: after the warehouse consumer
    stops, orders are still taken and the health check says why. (It used to stop by
    cancelling its task, which other consumers re-cancelled during the consumer's own
    Basic.Cancel: aiormq then closed the channel all services share and REST orders got a
    dropped connection, a failure blamed on the wrong thing.)"""
    import httpx

    asyncio.run(_kill_the_warehouse_consumer_under_traffic(shop))
    with httpx.Client(base_url=shop.split("&http=", 1)[1], timeout=10) as client:
        health = client.get("/health")
        assert health.status_code == 503 and "consumer" in health.json()["error"], health.text
        for _ in range(10):
            reply = client.post("/orders", json={"customer": "c1", "item": "widget", "total": 5, "ship_to": "x"})
            assert reply.status_code == 201, reply.text


# The billing team's service (examples/foreign_billing.py) whose consumer stops for good
# once it has refunded: damage one kind of case leaves behind (a test-only variant).
DYING_BILLING = '''
import asyncio, json, sys
import aio_pika
from sagaspec.examples.foreign_billing import CONSUMES, BillingService

async def main(url, exchange):
    service = BillingService()
    async with await aio_pika.connect(url) as conn:
        channel = await conn.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=1)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=False, auto_delete=True)
        queue = await channel.declare_queue(exchange + ".billing", exclusive=True)
        for key in CONSUMES:
            await queue.bind(ex, routing_key=key)
        print("billing service ready", flush=True)
        async with queue.iterator() as messages:
            async for message in messages:
                out = service.handle(message.routing_key or "", message.body)
                for key, body in out:
                    await ex.publish(aio_pika.Message(json.dumps(body).encode()), routing_key=key)
                await message.ack()
                if any(key == "billing.charge.refunded" for key, _ in out):
                    break  # the consumer is gone; its queue stays and fills up
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
'''


@pytest.fixture
def dying_billing(tmp_path):
    url = require(URLS["rabbitmq"], "AMQP_URL")
    exchange = namespace("bill")
    script = tmp_path / "dying_billing.py"
    script.write_text(DYING_BILLING)
    proc = subprocess.Popen([sys.executable, str(script), url, exchange], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    try:
        assert line and "ready" in line[0], (line, proc.poll(), proc.stderr.read() if proc.poll() else "")
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}exchange={exchange}&timeout=1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _billing(adapter: str, *extra: str):
    return CliRunner().invoke(main, ["conform", "--spec", SHOP, "--participant", "payment", "--adapter", adapter,
                                     "--mapping", str(ROOT / "examples" / "foreign_billing.toml"),
                                     "--faults", "reorder", "--seed", "1", "-n", "10", *extra])


def test_one_participant_behind_a_broker_is_probed_after_each_case(dying_billing):
    """?probe=1: a plain saga (approved, shipped: no refund) passes before the first case;
    the case whose refused parcel made billing refund killed its consumer, and that case
    is blamed, with its refund in its log."""
    result = _billing(dying_billing + "&probe=1")
    assert result.exit_code == 1, result.output
    assert "FAILED health: case " in result.output, result.output
    assert "the probe saga, which passed before the first case, now fails" in result.output
    assert "-> [PaymentRefunded]" in result.output  # the blamed case is the one that refunded
    assert "1 distinct failure\n" in result.output


def test_without_the_probe_the_dead_consumer_fails_a_later_case(dying_billing):
    result = _billing(dying_billing, "-x")
    assert result.exit_code == 1, result.output
    assert "FAILED model: " in result.output and "FAILED health" not in result.output
    assert "payment on StockReserved" in result.output and "published []" in result.output
