"""The suite's CPU per case in-process with a case's field draws (a saga's trigger
fields, the played participants' free fields) compiled (``conformance/_fastdraw.py``)
vs drawn through hypothesis' nested ``data.draw`` as before (``bench/_old_field_draws.py``),
alternating; exits non-zero unless both ways make the same cases.

    python bench/bench_field_draws.py [--examples 100] [--rounds 3] [--seed 1]
    python bench/bench_field_draws.py --shrink   # also: one shrinking test's CPU, old vs new
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CONFIGS = (("payment", "corrected"), ("system", "corrected"),
           ("system", "examples/sagas/travel.saga.yaml"),
           ("system", "examples/sagas/order-shipping.saga.yaml"))

#: A shrinking test: conform finds the mutant's bug, then shrinks the failing case.
SHRINK = ("tests/conformance/test_conform_mutants.py", "-k", "late-reservation or volatile")

def shrink_cpu(way: str) -> float:
    """CPU seconds (children's) of one pytest run of :data:`SHRINK`, ``way`` old or new."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p))
    plugin = ["-p", "_old_field_draws"] if way == "old" else []
    before = os.times()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
                           *plugin, *SHRINK], cwd=HERE.parent, env=env, capture_output=True, text=True)
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"{way}: {' '.join(SHRINK)} failed:\n{proc.stdout[-2000:]}")
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shrink", action="store_true",
                    help=f"also time {' '.join(SHRINK)} old vs new (--rounds runs each way)")
    args = ap.parse_args()
    from _old_field_draws import old_field_draws
    from bench_conform import old_new_runs

    old_new_runs("field draws through hypothesis' nested data.draw vs compiled (_fastdraw)",
                 "field draws", old_field_draws, CONFIGS, args.examples, args.seed, args.rounds)
    if args.shrink:
        got: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for way in ("old", "new"):
                t0 = time.perf_counter()
                got[way].append(shrink_cpu(way))
                print(f"shrink {way}: {got[way][-1]:.2f} CPU s ({time.perf_counter() - t0:.1f} s wall)")
        best = {w: min(v) for w, v in got.items()}
        print(f"{' '.join(SHRINK)}: CPU s old {best['old']:.2f} new {best['new']:.2f} "
              f"(best of {args.rounds}); new/old {best['new'] / best['old']:.2f}")


if __name__ == "__main__":
    main()
