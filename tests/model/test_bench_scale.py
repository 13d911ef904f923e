"""bench/bench_scale.py --short: the big-run benchmark's numbers are there and consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_scale_short_reports_rates_and_memory_per_state():
    out = subprocess.run(
        [sys.executable, "bench/bench_scale.py", "--short", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    reports = json.loads(out)
    assert [r["old_loop"] for r in reports] == [False, True]  # new and old loop side by side
    new, old = reports
    # The frozen old loop and the new one find the same graph up to the bound.
    assert (new["edges"], new["depth"], new["verdicts"]) == (old["edges"], old["depth"], old["verdicts"])
    assert new["rows"][-1]["expanded"] == old["rows"][-1]["expanded"]
    for r in reports:
        rows = r["rows"]
        assert rows[-1]["states"] == 100_000 and not r["complete"]
        assert [x["states"] for x in rows] == sorted(x["states"] for x in rows)
        last = rows[-1]
        assert last["edges"] >= last["expanded"] > 0  # every expansion of this saga has a move
        for x in rows:
            assert x["states_per_s"] > 0 and x["interval_edges_per_s"] >= 0 and x["interval_expanded_per_s"] >= 0
            assert x["rss_bytes_per_state"] > 0 and x["estimate_bytes_per_state"] > 0
