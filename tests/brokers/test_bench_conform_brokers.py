"""CI's short form of the broker comparison in ``bench/bench_conform.py`` runs on NATS.

It exits non-zero when a run fails a check or is incomplete, so the model-driven wait is
exercised end to end here: the reference services (a participant and the whole system)
and the foreign billing service, each waited for both ways; and a service restarted
both ways, spawned and forked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from brokerenv import URLS, require


@pytest.mark.timeout(420)
def test_the_short_broker_comparison_runs_on_nats():
    url = require(URLS["nats"], "NATS_URL")
    script = Path(__file__).resolve().parents[2] / "bench" / "bench_conform.py"
    # Two examples per run: this checks that every run of the comparison works and is
    # reported (its rates come from bench/bench_conform.py's own sizes), not the rates.
    done = subprocess.run([sys.executable, str(script), "--broker", url, "--short", "--examples", "2"],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for row in ("payment  quiet", "payment  model", "system   quiet", "system   model",
                "foreign billing service", "model/quiet events/s ratios:",
                "spawn/fork restart latency ratio", "\nspawn  ", "\nfork   "):
        assert row in out, out
    assert out.count("model/quiet events/s ratio ") == 3, out  # payment, system, foreign


@pytest.mark.timeout(300)
def test_the_old_and_new_restarts_compare_side_by_side_on_nats():
    """``--restart old,new``: the same faults-on run with forked restarts as before (no
    ``--reclaim``, the old fork server of ``bench/_old_forkserver.py``) and as now."""
    url = require(URLS["nats"], "NATS_URL")
    script = Path(__file__).resolve().parents[2] / "bench" / "bench_conform.py"
    done = subprocess.run([sys.executable, str(script), "--broker", url, "--faults", "--restart", "old,new",
                           "--examples", "2", "--targets", "payment", "--restarts", "1", "--no-foreign"],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    for row in ("forked restarts without --reclaim", "\npayment  old ", "\npayment  new ",
                "payment: new/old events/s ratio", "CPU ms/ev"):
        assert row in out, out
