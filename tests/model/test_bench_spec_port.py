"""The short form of bench/bench_spec_port.py runs and finds the port exact (CI runs it;
the numbers themselves are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_spec_port_short_form_runs_and_the_port_is_exact():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_spec_port.py"), "--short", "--repeat", "1"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if "sagas" in line and "," in line]
    assert len(rows) == 2
    assert all(" yes " in row for row in rows), rows  # same states, edges, depth, verdicts, violations
    assert "worst new/old states/s ratio" in run.stdout
