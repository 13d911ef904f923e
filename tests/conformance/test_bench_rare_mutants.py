"""CI's short form of bench/bench_rare_mutants.py: its table, and the rare mutants caught."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_rare_mutants.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_rare_mutants", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_the_short_form_prints_one_row_per_rare_mutant_each_caught(capsys):
    bench = _bench()
    assert bench.main(["--short"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["gen", "design", "participant", "mutant", "caught"]
    rows = {line.split()[3]: line.split() for line in lines[1:-1]}
    assert set(rows) == {m for _d, _p, m in bench.SHORT} >= {"release-keeps-stock",
                                                              "forget-update-10"}
    for name, row in rows.items():
        assert row[0] == "new", (name, row)  # the shipped generator only
        assert row[4] == "1/1" and row[5] == "-", (name, row)
        assert row[7] == "stock", (name, row)  # both are judged by the stock the suite set up
        assert re.fullmatch(r"\d+(\.\d+)?", row[-1])  # seconds
    assert lines[-1] == (f"{len(rows)} of {len(rows)} mutants caught on every one of 1 seed(s) "
                         "at 100 examples")
