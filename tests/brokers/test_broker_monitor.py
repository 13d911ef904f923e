"""The live monitor: the pure property engine on hand-made streams, and ``sagaspec monitor``
on a running system (reference services, then a mutant that double-charges)."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import threading

import pytest
from brokerenv import URLS, require
from sagaspec.adapters.base import RawMessage, World
from sagaspec.adapters.broker import BrokerAdapter, encode_event, new_namespace, open_transport
from sagaspec.conformance.monitor import SagaMonitor
from sagaspec.examples.envelope import outgoing
from sagaspec.spec.examples import examples_for

ITEMS = [{"sku": "sku-1", "quantity": 1, "unitPrice": "10.00"}]


def _saga(sid: str = "s1") -> dict[str, dict]:
    """Valid events of one saga, by name."""
    o = f"o-{sid}"

    def ev(t: str, **kw):
        return outgoing(t, saga_id=sid, order_id=o, **kw)

    return {
        "created": ev("OrderCreated", userId="u1", amount="10.00", items=ITEMS),
        "charged": ev("PaymentProcessed", paymentId="pay-1", amount="10.00"),
        "charged2": ev("PaymentProcessed", paymentId="pay-2", amount="10.00"),
        "declined": ev("PaymentFailed", amount="10.00", reason="no"),
        "reserved": ev("InventoryReserved", reservationId="res-1", items=ITEMS),
        "short": ev("InventoryReservationFailed", reason="short"),
        "completed": ev("OrderCompleted", userId="u1", paymentId="pay-1", reservationId="res-1"),
        "cancelled": ev("OrderCancelled", reason="declined"),
        "refunded": ev("PaymentRefunded", paymentId="pay-1", amount="10.00", reason="r"),
        "refunded2": ev("PaymentRefunded", paymentId="pay-1", amount="10.00", reason="again"),
        "refunded_wrong": ev("PaymentRefunded", paymentId="pay-1", amount="9.00", reason="r"),
        "released": ev("InventoryReleased", reservationId="res-1", items=ITEMS, reason="r"),
        "email": ev("NotificationSent", userId="u1"),
        "email2": ev("NotificationSent", userId="u1"),
    }


def _checks(*names: str, sid: str = "s1", monitor: SagaMonitor | None = None) -> list[str]:
    m = monitor or SagaMonitor(timeout=30)
    e = _saga(sid)
    found = []
    for i, n in enumerate(names):
        found += [v.check for v in m.observe(e[n], now=float(i))]
    return found


def test_happy_and_compensated_sagas_settle_without_violations():
    m = SagaMonitor(timeout=30)
    assert _checks("created", "charged", "reserved", "completed", "email", monitor=m) == []
    assert m.sagas["s1"].state == "completed"
    assert _checks("created", "reserved", "charged", "short", "cancelled", "refunded", "released",
                   sid="s2", monitor=m) == []
    assert m.sagas["s2"].state == "cancelled"
    assert m.final(now=100) == [] and m.summary()["terminal"] == 2


# The spec's properties, with the names `sagaspec check` and `conform` use, plus the
# spec's field provenance (a refund copies the charge's amount) as saga-consistency.
@pytest.mark.parametrize("names, check", [
    (("created", "charged", "charged2"), "single-charge"),
    (("created", "refunded"), "refund-needs-charge"),
    (("created", "charged", "refunded", "refunded2"), "refund-needs-charge"),
    (("created", "charged", "refunded_wrong"), "saga-consistency"),
    (("created", "reserved", "completed"), "completed-paid-reserved"),
    (("created", "charged", "reserved", "completed", "refunded"), "completed-paid-reserved"),
    (("created", "declined", "cancelled", "completed"), "one-outcome"),
    (("created", "email"), "notify-only-completed"),
    (("created", "charged", "reserved", "completed", "email", "email2"), "single-email"),
])
def test_each_property_is_flagged(names, check):
    assert check in _checks(*names)


def test_the_monitors_checks_are_the_specs_properties():
    from sagaspec.conformance.monitor import monitor_checks
    from sagaspec.spec.sagafile import shipped_spec

    MONITOR_CHECKS = monitor_checks("corrected")
    spec = {p.name: p for p in shipped_spec("corrected").properties}
    judged = set(MONITOR_CHECKS) - {"schema", "saga-consistency"}
    assert judged <= set(spec)  # no property of the monitor's own
    assert {n for n, p in spec.items() if p.kind == "always"} - judged == \
        {"stock-non-negative", "stock-conserved"}  # the stock is the services' own
    assert MONITOR_CHECKS["single-email"] == spec["single-email"].description


def test_a_refund_without_a_charge_is_flagged_and_an_unsettled_saga_times_out():
    """What the module's docstring showed: the saga is named by its key field (the
    spec's common field), and its history by the spec's event names."""
    m = SagaMonitor(timeout=10)

    def ev(t, i, **kw):
        return {"eventType": t, "eventId": i, "sagaId": "s1", "orderId": "o1", **kw}

    assert m.observe(ev("OrderCreated", "e1"), now=0.0, validate=False) == []
    [v] = m.observe(ev("PaymentRefunded", "e2", paymentId="p1", amount="5.00"), now=1.0, validate=False)
    assert v.check == "refund-needs-charge" and v.to_json()["orderId"] == "o1"
    assert m.sagas["s1"].state == "running" and m.tick(now=9.0) == []
    [late] = m.tick(now=11.0)
    assert late.check == "saga-terminates"
    assert "saga s1 (orderId o1) is running" in late.message
    assert "seen: OrderCreated, PaymentRefunded" in late.message


def test_states_and_summary_are_read_from_the_specs_roles():
    """A completed saga settles only once the spec's at_rest properties hold (here: its
    email sent); the summary counts per role and per step, from the spec."""
    m = SagaMonitor(timeout=30)
    e = _saga()
    for n in ("created", "charged", "reserved", "completed"):
        m.observe(e[n], now=0)
    assert m.sagas["s1"].state == "completing" and not m.sagas["s1"].terminal
    m.observe(e["email"], now=1)
    assert m.sagas["s1"].state == "completed" and m.sagas["s1"].settled_at == 1
    _checks("created", "charged", "charged2", "reserved", "short", "cancelled", "refunded",
            sid="s2", monitor=m)
    view = m.sagas["s2"]
    assert view.state == "compensating" and view.held("InventoryReserved") == 1
    assert view.count("PaymentProcessed") == 2 and view.failed == ["InventoryReservationFailed"]
    summary = m.summary()
    assert summary["spec"] == "order-corrected"
    assert summary["by_role"] == {"trigger": 2, "step": 6, "failure": 1, "outcome": 2, "compensation": 1}
    # s2 was charged twice and refunded once: one charge is left after its cancel
    assert summary["steps"]["PaymentProcessed"] == {"done": 3, "undone": 1, "repeated": 1, "left": 1}
    assert summary["steps"]["InventoryReserved"] == {"done": 2, "undone": 0, "repeated": 0, "left": 1}
    sections = dict(m.overview())
    assert ("compensating", 1, "") in sections["sagas"] and ("completed", 1, "") in sections["sagas"]
    assert ("OrderCancelled", 1, "cancels") in sections["events"]
    assert ("PaymentProcessed", 3, "1 undone, 1 repeated, 1 left after a cancel") in sections["events"]


def test_copies_are_one_event_and_partial_sagas_are_judged_leniently():
    m = SagaMonitor(timeout=30)
    e = _saga()
    for item in (e["created"], e["charged"], e["charged"], e["charged"]):  # outbox re-sends
        assert m.observe(item, now=0) == []
    assert (m.events, m.copies) == (2, 2)
    late = SagaMonitor(timeout=30)  # joined after the charge: a refund is not judged
    assert late.observe(e["refunded"], now=0) == [] and late.sagas["s1"].partial


def test_schema_violations_and_non_events():
    m = SagaMonitor(timeout=30)
    bad = dict(examples_for("PaymentProcessed")[0], amount=100.0)
    assert [v.check for v in m.observe(bad, now=0)] == ["schema"]
    assert [v.check for v in m.observe(RawMessage(b"{nope", "x", "not JSON"), now=0)] == ["schema"]
    assert m.not_events == 1


def test_timeouts_are_flagged_once_and_final_checks_compensation():
    m = SagaMonitor(timeout=5)
    e = _saga()
    for n in ("created", "charged", "reserved", "declined", "cancelled", "refunded"):
        m.observe(e[n], now=0)
    assert m.sagas["s1"].state == "compensating" and m.tick(now=4) == []
    first = m.tick(now=6)
    assert [v.check for v in first] == ["saga-terminates"] and "compensating" in first[0].message
    assert m.tick(now=60) == [] and m.sagas["s1"].state == "stuck"
    assert [v.check for v in m.final(now=61)] == ["no-reservation-left"]
    line = json.loads(first[0].ndjson())
    assert line["check"] == "saga-terminates" and line["sagaId"] == "s1"


# -- the CLI on a running system --------------------------------------------------------


class _Monitor:
    """``sagaspec monitor`` as a subprocess, returned once it says it has caught up."""

    def __init__(self, url: str, tmp_path, *args: str) -> None:
        self.ndjson = tmp_path / "violations.ndjson"
        self.summary = tmp_path / "summary.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sagaspec", "monitor", "--adapter", url, "--ndjson", str(self.ndjson),
             "--summary-json", str(self.summary), "--no-table", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.err: list[str] = []
        caught_up = threading.Event()

        def read() -> None:  # stderr, line by line, until the process closes it
            with self.proc.stderr:
                for line in self.proc.stderr:
                    self.err.append(line)
                    if line.startswith('{"monitor": "caught-up"'):
                        caught_up.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        assert caught_up.wait(60), "".join(self.err)
        self.caught_up = _status(self.err, "caught-up")

    def kill(self) -> None:
        """End it if a failed test left it running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(10)

    def result(self, interrupt: bool = True) -> tuple[int, list[dict], dict, str]:
        """Stop it like Ctrl-C does (it drains, then prints its summary) and read what it wrote."""
        if interrupt:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self.reader.join(10)
        lines = [json.loads(x) for x in self.ndjson.read_text().splitlines() if x.strip()]
        return self.proc.returncode, lines, json.loads(self.summary.read_text()), "".join(self.err)


def _status(err: list[str] | str, state: str) -> dict:
    """The monitor's machine-readable status line ``{"monitor": state, ...}`` on stderr."""
    lines = err.splitlines() if isinstance(err, str) else err
    found = [json.loads(x) for x in lines if x.startswith("{") and json.loads(x).get("monitor") == state]
    assert len(found) == 1, lines
    return found[0]


def _order(i: int, user: str = "alice", sku: str = "sku-1") -> dict:
    items = [dict(ITEMS[0], sku=sku)]
    return {"sagaId": f"saga-{i}", "orderId": f"order-{i}", "userId": user, "amount": "10.00", "items": items}


@pytest.mark.brokers
@pytest.mark.timeout(120)
def test_monitor_cli_on_reference_services_reports_no_violation(run, tmp_path):
    url = require(URLS["nats"], "NATS_URL")
    adapter = BrokerAdapter(url, spawn="all")

    async def scenario() -> None:
        mon = None
        await adapter.start()
        try:
            # Mallory (declined) buys another sku: her reservation, held until it is released,
            # must not decide which of the four sku-1 orders runs out of stock.
            await adapter.setup(World(stock={"sku-1": 3, "sku-2": 1}, declined_users=frozenset({"mallory"})))
            # Returns once the monitor has read the stream up to its end (its caught-up line):
            # every order placed from here on is new to it.
            mon = _Monitor(f"{url}?ns={adapter.config.namespace}", tmp_path, "--duration", "120",
                           "--timeout", "60", "--fail-on-violation")
            for i, user in enumerate(["alice", "bob", "mallory", "carol", "dave"]):
                await adapter.place_order(_order(i, user, "sku-2" if user == "mallory" else "sku-1"))
            # Until the bus itself shows every saga settled, compensations included.
            seen: list = []
            bus = SagaMonitor(timeout=60)
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                for e in await adapter.collect(3):
                    seen.append(e)
                    bus.observe(e, now=0.0)
                if len(bus.sagas) == 5 and all(v.terminal for v in bus.sagas.values()):
                    break
            else:
                raise AssertionError(f"the system did not settle in 60 s: {bus.summary()}")
            # No pause: on SIGINT the monitor reads everything already on the bus, then stops;
            # nothing broke, but an interrupted run is not a pass (exit 3).
            code, lines, summary, err = mon.result()
            assert (code, lines) == (3, []), err
            assert _status(err, "drained")["complete"] is True and summary["complete"] is True
            assert summary["interrupted"] is True and "interrupted (SIGINT) after" in err
            assert "Traceback" not in err
            assert summary["drained"] == {adapter.transport.names()["stream"]: len(seen)}
            assert summary["sagas"] == 5 and summary["states"]["completed"] == 3
            assert summary["states"]["cancelled"] == 2 and summary["violations"] == {}
            assert "5 sagas" in err
        finally:
            if mon is not None:
                mon.kill()
            await adapter.close()

    run(scenario())


@pytest.mark.brokers
@pytest.mark.timeout(120)
def test_monitor_cli_flags_double_charge_and_stuck_saga(run, tmp_path):
    url = require(URLS["redis"], "REDIS_URL")
    adapter = BrokerAdapter(url, spawn="all", mutant="no-idempotency")

    async def scenario() -> None:
        mon = None
        await adapter.start()
        try:
            await adapter.setup(World(stock={"sku-1": 10}))
            # Saga 1 has settled before saga 2 starts: only saga 2 can outlast a short timeout.
            mon = _Monitor(f"{url}?ns={adapter.config.namespace}", tmp_path, "--duration", "120",
                           "--timeout", "0.5", "--fail-on-violation")
            await adapter.place_order(_order(1))
            created = next(e for e in await adapter.collect(3) if e["eventType"] == "OrderCreated")
            await adapter.deliver(created)  # a redelivery: without idempotency, a second charge
            await adapter.collect(3)
            adapter.cluster.kill("inventory")  # and a saga that cannot finish
            await adapter.place_order(_order(2))
            # Until the monitor flags it (it writes each violation as it finds it).
            for _ in range(600):
                if any('"saga-terminates"' in line and '"saga-2"' in line
                       for line in mon.ndjson.read_text().splitlines()):
                    break
                await asyncio.sleep(0.05)
            code, lines, summary, err = mon.result()
            checks = {(v["check"], v.get("sagaId")) for v in lines}
            assert code == 1, err
            assert ("single-charge", "saga-1") in checks and ("saga-terminates", "saga-2") in checks
            assert summary["steps"]["PaymentProcessed"]["repeated"] == 1  # the double charge
        finally:
            if mon is not None:
                mon.kill()
            await adapter.close()

    run(scenario())


# -- the start and stop handshakes of the library -----------------------------------------


def _created(n: int) -> list[dict]:
    return [outgoing("OrderCreated", saga_id=f"s{i}", order_id=f"o{i}", userId="u1", amount="10.00",
                     items=ITEMS) for i in range(n)]


async def _publish_all(url: str, events: list[dict]) -> None:
    """Publish with the broker's confirmation: all are on the bus when this returns."""
    publisher = open_transport(url + "&create=1")
    await publisher.connect()
    try:
        await publisher.ensure_topology(create=True)
        encoded = [(e["eventType"], *encode_event(e)) for e in events]
        # Many at once, as a busy system does: the monitor gets them faster than it judges them.
        for i in range(0, len(encoded), 25):
            await asyncio.gather(*(publisher.publish(*m) for m in encoded[i:i + 25]))
    finally:
        await publisher.close()


def _destroy(run, url: str) -> None:
    async def go() -> None:
        t = open_transport(url)
        await t.connect()
        try:
            await t.destroy()
        finally:
            await t.close()

    run(go())


@pytest.mark.brokers
@pytest.mark.timeout(60)
def test_stop_right_after_the_last_publish_loses_nothing(run, broker):
    """The stop handshake: a stop that comes the moment the last event is confirmed still
    sees every event (the monitor drains what the broker holds before closing; it used to
    drop what its client had received but not yet handled)."""
    from sagaspec.cli.monitor import run_monitor

    url = f"{broker}{'&' if '?' in broker else '?'}ns={new_namespace('md')}"
    events = _created(150)

    async def scenario() -> None:
        await _publish_all(url, [])  # the stream / exchange, empty
        stop, caught_up = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(run_monitor(url, out=io.StringIO(), stop=stop,
                                                 on_caught_up=lambda s: caught_up.set()))
        await asyncio.wait_for(caught_up.wait(), 30)
        await _publish_all(url, events)
        stop.set()
        session = await task
        assert session.complete and session.engine.events == len(events), session.engine.summary()
        assert session.engine.violations == []
        assert len(session.drained) == 1

    try:
        run(scenario())
    finally:
        _destroy(run, url)


@pytest.mark.brokers
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["nats", "redis"])  # RabbitMQ keeps no history to replay
@pytest.mark.parametrize("stop_at", ["caught-up", "before-start"])
def test_from_start_reports_caught_up_after_the_whole_history(run, name, stop_at):
    """The start handshake: 'caught up' means every event already on the stream has been
    judged, and names the stream position reached; a stop set before the monitor even
    started still drains the whole history."""
    from sagaspec.cli.monitor import run_monitor

    broker = require(URLS[name], {"nats": "NATS_URL", "redis": "REDIS_URL"}[name])
    url = f"{broker}{'&' if '?' in broker else '?'}ns={new_namespace('mh')}"
    events = _created(120)
    at_caught_up: list[int] = []

    async def scenario() -> None:
        await _publish_all(url, events)
        stop = asyncio.Event()
        if stop_at == "before-start":
            stop.set()

        def caught_up(session) -> None:
            at_caught_up.append(session.engine.events)
            stop.set()

        session = await run_monitor(url, out=io.StringIO(), from_start=True, stop=stop,
                                    on_caught_up=caught_up)
        assert session.complete and session.engine.events == len(events)
        [(stream, position)] = session.drained.items()
        if name == "nats":
            assert position == len(events)
        if stop_at == "caught-up":
            assert at_caught_up == [len(events)] and session.caught_up == session.drained

    try:
        run(scenario())
    finally:
        _destroy(run, url)


@pytest.mark.brokers
@pytest.mark.timeout(60)
def test_a_drain_cut_short_is_an_incomplete_run_exit_3(run, monkeypatch):
    """A monitor that could not read what was on the bus before its stop does not pass: it
    says the run is incomplete and exits 3 (not 0), and its drained line says so. (Its
    handler is made to hang, so the drain cannot finish, whatever the machine's speed.)"""
    from click.testing import CliRunner

    from sagaspec.cli import main as cli
    from sagaspec.cli.monitor import _Session

    async def hang(self, msg) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(_Session, "on_message", hang)
    broker = require(URLS["nats"], "NATS_URL")
    url = f"{broker}?ns={new_namespace('mi')}"
    run(_publish_all(url, _created(5)))
    try:
        result = CliRunner().invoke(cli, ["monitor", "--adapter", url, "--from-start", "--no-table",
                                          "--duration", "0.5", "--drain-timeout", "0.5"])
        assert result.exit_code == 3, result.output
        drained = _status(result.output, "drained")
        assert drained["complete"] is False and drained["events"] == 0
        assert "incomplete: events still unread" in result.output and "Traceback" not in result.output
    finally:
        _destroy(run, url)
