"""The order saga as spec files vs. the hand-written model it replaced, side by side.

For each configuration of ``bench_check.py`` (and the golden ones), runs the frozen
hand-written model (``bench/_handwritten_order.py``) and the model compiled from
``spec/sagas/order-*.saga.yaml``, and prints: whether states, edges, depth, verdicts and
shortest violation lengths are equal (the port is exact), and each one's states/s over
CPU time (best of ``--repeat`` runs, alternating old and new so load hits both alike),
with the ratio new/old. Nothing here asserts a timing.

Usage::

    python bench/bench_spec_port.py             # all configurations (about a minute)
    python bench/bench_spec_port.py --short     # two small ones, for CI
    python bench/bench_spec_port.py --repeat 5
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _handwritten_order as old  # noqa: E402
from sagaspec.model import Config, explore  # noqa: E402
from sagaspec.model.saga import saga_system  # noqa: E402

CONFIGS = [
    ("corrected 2 sagas, dups", "corrected", 2, Config(symmetry=True)),
    ("corrected 2 sagas, dups, no symmetry", "corrected", 2, Config(symmetry=False)),
    ("corrected 2 sagas, dups, 1 crash each", "corrected", 2, Config(symmetry=True, crashes=1)),
    ("corrected 3 sagas, dups", "corrected", 3, Config(symmetry=True)),
    ("corrected 3 sagas, dups, no symmetry", "corrected", 3, Config(symmetry=False)),
    ("corrected 3 sagas, FIFO, dups", "corrected", 3, Config(symmetry=True, bus="fifo", duplicates=1)),
    ("corrected 2 sagas, FIFO, dups, 1 crash", "corrected", 2, Config(symmetry=True, bus="fifo", duplicates=1, crashes=1)),
    ("seed 2 sagas, dups", "seed", 2, Config(symmetry=True)),
    ("seed 2 sagas, no idempotency, no symmetry", "seed", 2, Config(idempotency=False, symmetry=False)),
    ("seed 2 sagas, 1 crash each", "seed", 2, Config(symmetry=True, crashes=1)),
]
SHORT = [CONFIGS[0], CONFIGS[7]]


def summary(result) -> tuple:
    st = result.stats
    violations = sorted((v.property, v.kind, len(v.path)) for v in result.violations)
    return st.states, st.edges, st.depth, tuple(sorted(result.verdicts.items())), tuple(violations)


def timed(factory, config: Config):
    system = factory()
    gc.collect()
    cpu = time.process_time()
    # The full search: the two ports are compared state for state (partial-order
    # reduction picks its sets from what each port declares, so its counts may differ).
    result = explore(system, dataclasses.replace(config, por=False))
    return result, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="two small configurations (CI)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each model; the best is kept")
    args = ap.parse_args()
    rows = SHORT if args.short else CONFIGS
    print(f"{'configuration':<44} {'states':>9} {'same':>5} {'old st/s':>10} {'new st/s':>10} {'new/old':>8}")
    worst = None
    for name, design, sagas, config in rows:
        best = {"old": float("inf"), "new": float("inf")}
        results = {}
        for _ in range(max(1, args.repeat)):
            for kind in ("old", "new"):
                if kind == "old":
                    factory = lambda d=design, n=sagas: old.handwritten_system(d, orders=n)  # noqa: E731
                else:
                    factory = lambda d=design, n=sagas: saga_system(d, orders=n)  # noqa: E731
                result, cpu = timed(factory, config)
                results[kind] = result
                best[kind] = min(best[kind], cpu)
        a, b = summary(results["old"]), summary(results["new"])
        states = a[0]
        ratio = best["old"] / best["new"] if best["new"] else float("inf")
        worst = ratio if worst is None else min(worst, ratio)
        print(
            f"{name:<44} {states:>9,} {'yes' if a == b else 'NO':>5} "
            f"{states / best['old']:>10,.0f} {states / best['new']:>10,.0f} {ratio:>8.2f}"
        )
        if a != b:
            print(f"  old: {a[:3]} {a[4]}\n  new: {b[:3]} {b[4]}")
    print(f"\nworst new/old states/s ratio: {worst:.2f} (target: at least 0.85)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
