"""Short soak in CI: real service processes killed with SIGKILL and restarted on each broker.

The long run (>= 1,000 sagas) is ``bench/soak.py``; these keep the same checks at a size
that fits the test budget, and show the fault runner catches a crash-safety bug."""

from __future__ import annotations

import pytest
from brokerenv import PG_URL, URLS, require
from click.testing import CliRunner
from sagaspec.conformance.faults import run_faults

from sagaspec.cli import main as cli

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(240)]

_VAR = {"nats": "NATS_URL", "rabbitmq": "AMQP_URL", "redis": "REDIS_URL"}


def _assert_all_held(report) -> None:
    assert report.ok, "\n".join(report.lines())
    assert report.placed == report.sagas == report.terminal and report.lost == 0
    # The spec's properties, by name, were judged on the bus, and held.
    assert {"single-charge", "no-reservation-left", "no-charge-left", "saga-terminates"} <= set(report.properties)
    assert not any(report.properties.values())
    # The reference services are the interpreter running the order spec: the properties
    # on the stock per sku (the bus cannot show them) are judged on the stores, against
    # the stock the world set up.
    assert report.not_judged == {}
    assert report.on_stores == {"stock-non-negative": "held", "stock-conserved": "held"}
    # Every path ran: completions, cancellations, and each of the spec's failures.
    assert report.completed and report.cancelled
    assert set(report.failures) == {"PaymentFailed", "InventoryReservationFailed"}
    assert all(report.failures.values())


def test_short_soak_nats_on_postgres():
    url = require(URLS["nats"], "NATS_URL")
    report = run_faults(url, sagas=40, kills=4, seed=11, db=require(PG_URL, "PG_URL"))
    _assert_all_held(report)
    assert report.kills == 4


@pytest.mark.parametrize("name", ["rabbitmq", "redis"])
def test_short_soak(name):
    report = run_faults(require(URLS[name], _VAR[name]), sagas=24, kills=2, seed=5)
    _assert_all_held(report)
    assert report.kills == 2


@pytest.mark.parametrize("mutant", [None, "crash-loses-acked-event"])
def test_fault_runner_catches_a_crash_safety_bug(mutant):
    """Payment killed and restarted armed to die before its next commit: the reference
    recovers (redelivery); the mutant, whose processed mark commits before the work,
    loses that saga."""
    url = require(URLS["nats"], "NATS_URL")
    report = run_faults(url, sagas=10, kills=1, seed=3, mutant=mutant, services=("payment",),
                        armed_rate=1.0, points=("before-commit",), settle_timeout=5)
    assert report.armed_crashes == 1
    if mutant is None:
        assert report.ok, "\n".join(report.lines())
    else:
        assert not report.ok
        assert report.lost >= 1 and report.violations.get("saga-terminates", 0) >= 1


def test_cli_prints_the_figures():
    url = require(URLS["redis"], "REDIS_URL")
    result = CliRunner().invoke(cli, ["faults", "--adapter", url, "--sagas", "12", "--kills", "1",
                                      "--seed", "2"])
    assert result.exit_code == 0, result.output
    for label in ("sagas", "terminal", "lost", "kills", "result              OK"):
        assert label in result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line.strip()}
    for prop in ("single-charge", "no-reservation-left", "completed-exactly-once", "saga-terminates"):
        assert lines[prop] == ["held"], result.output  # each of the spec's properties


def test_the_fault_runner_drives_any_spec_on_its_interpreter():
    """A spec file as the design: its participants run as the interpreter, each saga gets
    random world knob values, and the verdicts are that spec's own properties."""
    from pathlib import Path

    from sagaspec.conformance.monitor import monitor_checks
    from sagaspec.spec.sagafile import load_spec

    shop = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml"
    spec = load_spec(shop)
    report = run_faults(require(URLS["nats"], "NATS_URL"), design=str(shop), sagas=8, kills=2,
                        seed=2, settle_timeout=30)
    assert report.ok, "\n".join(report.lines())
    assert report.spec == spec.name and report.placed == report.terminal == 8 and report.kills == 2
    # The bus judged the spec's properties; its shared stock, the participants' stores.
    on_stores = {"stock-non-negative", "stock-conserved"}
    assert set(report.properties) == set(monitor_checks(spec)) | on_stores
    assert set(monitor_checks(spec)) >= {"single-shipment", "nothing-left"}
    assert report.on_stores == dict.fromkeys(on_stores, "held") and not report.not_judged
    assert set(report.failures) == {e.name for e in spec.events if e.role == "failure"}


def test_the_fault_runner_judges_the_order_spec_stock_on_the_stores(tmp_path):
    """The order spec file as the design (the interpreter): the shared stock, which no
    saga's events show, is judged on the inventory's store and holds."""
    from pathlib import Path

    from sagaspec.examples.nemesis import ThrowawayServer

    order = Path(__file__).resolve().parents[2] / "spec" / "sagas" / "order-corrected.saga.yaml"
    with ThrowawayServer("nats", tmp_path / "nats") as server:
        report = run_faults(server.url, design=str(order), sagas=4, kills=1, seed=7, settle_timeout=20)
    assert report.ok, "\n".join(report.lines())
    assert report.on_stores == {"stock-non-negative": "held", "stock-conserved": "held"}
    assert report.properties["stock-conserved"] == 0 and not report.not_judged
    assert "stock-conserved" in "\n".join(report.lines())


def test_the_fault_runner_fails_a_stock_leak_only_the_stores_show(tmp_path):
    """Services that forget to return a released reservation to stock (the order spec
    with that one update dropped), judged by the order spec: the one saga (seed 7: its
    payment declined, its reservation released) leaves a correct bus log, and the run
    fails on stock-conserved, judged on the inventory's store."""
    from pathlib import Path

    from sagaspec.examples.cluster import Cluster
    from sagaspec.examples.nemesis import ThrowawayServer

    order = Path(__file__).resolve().parents[2] / "spec" / "sagas" / "order-corrected.saga.yaml"
    release = "set: {status: released, held: 0, releases: releases + 1, free: free + units}"
    text = order.read_text()
    assert text.count(release) == 1
    leaky = tmp_path / "order-leaky.saga.yaml"
    leaky.write_text(text.replace(release, "set: {status: released, held: 0, releases: releases + 1}"))

    class LeakyServices(Cluster):
        def __init__(self, config, services=None, **kw):
            super().__init__(config, services, **{**kw, "design": "corrected", "spec": str(leaky)})

    with ThrowawayServer("nats", tmp_path / "nats") as server:
        report = run_faults(server.url, design=str(order), sagas=1, kills=1, seed=7, settle_timeout=20,
                            services=("notification",), launcher=LeakyServices)
    lines = "\n".join(report.lines())
    assert report.placed == report.terminal == 1 and report.cancelled == 1, lines
    assert report.on_stores["stock-conserved"] == "violated" and report.properties["stock-conserved"] == 1
    # Nothing on the bus gave it away: the only violation is the one the stores show.
    assert report.violations == {"stock-conserved": 1} and not report.ok, lines
    assert "VIOLATED" in lines and lines.endswith("FAILED")


def test_a_hand_written_mutant_name_runs_its_operator_mutant_on_the_broker():
    """``--mutant release-keeps-stock`` on the order design: the runners run its operator
    mutant (inventory forgets to give released units back), and the stock the world set
    up per sku, judged on the inventory's store, shows the leak the bus log does not."""
    report = run_faults(require(URLS["redis"], "REDIS_URL"), sagas=12, kills=0, seed=2,
                        mutant="release-keeps-stock", settle_timeout=20)
    lines = "\n".join(report.lines())
    assert report.placed == report.terminal == 12 and report.cancelled, lines
    assert report.on_stores["stock-conserved"] == "violated", lines
    assert report.violations == {"stock-conserved": 1} and not report.ok, lines
