"""sagaspec faults --spec: any saga's reference services killed on a real broker, judged by
the spec's own properties on the bus log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from brokerenv import URLS, require
from click.testing import CliRunner

from sagaspec.cli import main

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(240)]

SHOP = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml")


def test_faults_on_any_spec_settles_every_saga_and_follows_the_spec():
    url = require(URLS["nats"], "NATS_URL")
    r = CliRunner().invoke(main, ["faults", "--spec", SHOP, "--adapter", url, "--sagas", "5",
                                  "--kills", "1", "--seed", "3", "--json"])
    assert r.exit_code == 0, r.output[-2000:]
    report = json.loads(r.stdout)
    assert report["ok"] and report["started"] == report["settled"] == 5
    assert report["kills"] == 1 and report["unsettled"] == []
    assert report["trace"]["failures"] == [] and report["trace"]["handlings"] >= 10
    # The shop's shared stock, which the log cannot show, judged on the stores.
    assert {n: v["verdict"] for n, v in report["properties"].items()} == {
        "stock-non-negative": "held", "stock-conserved": "held"}
    assert report["not_judged"] == []


def test_order_saga_options_are_refused_with_a_spec():
    r = CliRunner().invoke(main, ["faults", "--spec", SHOP, "--adapter", "nats://127.0.0.1:4222",
                                  "--mutant", "oversell"])
    assert r.exit_code == 2 and "--mutant" in r.stderr and "not of --spec" in r.stderr


def test_a_saga_is_started_before_its_starter_is_killed(run):
    """The start request is sent again until the starter answers: killing the starter just
    after asking it to start a saga lost that saga (the control channel keeps nothing)."""
    from sagaspec.conformance.spec_faults import SpecFaultRunner
    from sagaspec.examples.cluster import Cluster

    url = require(URLS["nats"], "NATS_URL")
    runner = SpecFaultRunner(url, SHOP, sagas=2, kills=2, seed=1, crash_points=False,
                             settle_timeout=20, launcher=Cluster, victims=("order",))
    report = run(runner.run_async())
    assert report.kills == 2 and report.started == 2
    assert report.ok and report.unsettled == [], "\n".join(report.lines())


# -- properties a bus cannot show, judged on the participants' variables ----------------

ORDER = Path(__file__).resolve().parents[2] / "spec" / "sagas" / "order-corrected.saga.yaml"
# The release that returns the reserved units to stock, and a faulty one that forgets to:
# its events are the correct ones, only the store's stock leaks.
_RELEASE = "set: {status: released, held: 0, releases: releases + 1, free: free + units}"
_LEAK = "set: {status: released, held: 0, releases: releases + 1}"


def _order_run(url: str, run, sagas: int, services_spec: Path | None = None, victims: tuple[str, ...] = ()):
    """The order spec's sagas (one unit in stock; with seed 7 the first saga's payment is
    declined, so its reservation is released, and the second's approved), the
    interpreter's processes (or ``services_spec``'s) killed once, judged by the order spec."""
    from sagaspec.conformance.spec_faults import SpecFaultRunner
    from sagaspec.examples.cluster import Cluster

    def launcher(config, services, **kw):
        if services_spec is not None:
            kw["spec"] = str(services_spec)
        return Cluster(config, services, **kw)

    runner = SpecFaultRunner(url, str(ORDER), sagas=sagas, kills=1, seed=7, crash_points=False,
                             settle_timeout=20, launcher=launcher, victims=victims)
    return run(runner.run_async())


def test_faults_on_the_order_spec_judge_the_stock_on_the_stores(own_nats, run):
    report = _order_run(own_nats, run, 4)
    assert report.started == report.settled == 4 and report.kills == 1
    verdicts = {n: v.verdict for n, v in report.properties.items()}
    assert verdicts == {"stock-conserved": "held", "stock-non-negative": "held"}, report.lines()
    assert report.ok and not report.not_judged, "\n".join(report.lines())


def test_a_service_leaking_stock_fails_the_run_on_stock_conserved(own_nats, run, tmp_path):
    text = ORDER.read_text()
    assert text.count(_RELEASE) == 1
    leaky = tmp_path / "order-leaky.saga.yaml"
    leaky.write_text(text.replace(_RELEASE, _LEAK))
    # One saga, reserved then released (its payment declined): no later saga runs short
    # of stock, so the bus log is a correct one and only the stores show the leak.
    # (Notification is the one killed: the release, in stream order, is not disturbed.)
    report = _order_run(own_nats, run, 1, services_spec=leaky, victims=("notification",))
    lines = "\n".join(report.lines())
    assert report.trace is not None and report.trace.ok, lines
    assert report.properties["stock-conserved"].verdict == "violated", lines
    assert not report.ok and "VIOLATED" in lines
