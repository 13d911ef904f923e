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
