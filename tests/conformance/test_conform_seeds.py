"""A seed means the same generated cases, whatever literals the package's modules hold.

Hypothesis draws, now and then, literals it mined from every local module imported
(the whole package, installed editable), so without care any edit of any literal, or
another import order, changed what a seed generates. Each run here is a fresh process,
as a user's two runs are.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r'''
import importlib, sys, tempfile
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])
    importlib.import_module("seed_literals")
from sagaspec.conformance import RunConfig, Runner, harness
seen = []
run = harness.Case.run
def recording(case):
    try:
        run(case)
    finally:
        w = case.world
        world = (sorted(w.stock.items()), sorted(w.get("declined_users") or ()), w.get("decline_over")) if w else None
        seen.append(repr(world) + " " + " ; ".join(
            f"{s.op}:{(s.msg or {}).get('type')}[{(s.msg or {}).get('saga')}]->{s.to}={s.outcome}"
            for s in case.steps))
harness.Case.run = recording
list(Runner(RunConfig(adapter="inprocess:", participant="payment", examples=15, seed=5,
                      failures_dir=tempfile.mkdtemp(), coverage=False)).execute())
print("\n".join(seen))
'''


def _cases(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True,
                         text=True, timeout=240, check=True)
    return out.stdout.splitlines()


def test_new_literals_in_a_local_module_do_not_change_what_a_seed_generates(tmp_path):
    values = ", ".join(str(v) for v in (*range(2, 60), *range(1000, 1100), 2000, 4095, 65535))
    words = ", ".join(repr(w) for w in ("lifo", "fifo", "sku-1", "u0", "10.00", "USD", "x"))
    (tmp_path / "seed_literals.py").write_text(
        f"NUMBERS = ({values},)\nWORDS = ({words},)\n")
    before = _cases()
    after = _cases(str(tmp_path))
    assert len(before) >= 15
    assert before == after
