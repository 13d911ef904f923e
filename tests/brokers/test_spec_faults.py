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
