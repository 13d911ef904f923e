"""The suite's CPU per case in-process with a case's field draws (a saga's trigger
fields, the played participants' free fields) compiled (``conformance/_fastdraw.py``)
vs drawn through hypothesis' nested ``data.draw`` as before (``bench/_old_field_draws.py``),
alternating; exits non-zero unless both ways make the same cases.

    python bench/bench_field_draws.py [--examples 100] [--rounds 3] [--seed 1]
    python bench/bench_field_draws.py --shrink   # also: shrinking's CPU, old vs new: the buggy
        # specs' failures found and shrunk in-process (seed 3; same cases and failure
        # files both ways), and one shrinking test of the mutants (pytest, a subprocess)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
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


#: Buggy specs whose failure is found and shrunk in-process: (design, target).
BUGGY = (("examples/sagas/travel-buggy.saga.yaml", "hotel"),
         ("examples/sagas/shop-buggy.saga.yaml", "system"),
         ("examples/sagas/order-shipping-buggy.saga.yaml", "system"))
_TOKEN = re.compile(rb"-[0-9a-f]{32}\b|-[0-9a-f]{8}-")
_STAMP = re.compile(rb'"\d{4}-\d\d-\d\dT[0-9:.]+Z"')


def buggy_shrink(way: str, design: str, participant: str, seed: int) -> tuple[tuple, float]:
    """A buggy spec's run to its shrunk failure, ``way`` old or new: every example (phase,
    status, steps, events) and the saved failure files (fresh ids and timestamps
    aside), and the process CPU seconds it took."""
    from _old_field_draws import old_field_draws
    from sagaspec.conformance.runner import RunConfig, run

    examples: list[tuple] = []

    def on_event(e: object) -> None:
        if type(e).__name__ == "ExampleFinished":
            examples.append((e.index, e.phase, e.status, e.steps, e.events))

    with tempfile.TemporaryDirectory() as d:
        cfg = RunConfig(adapter="inprocess:", participant=participant, design=design, examples=30,
                        seed=seed, failures_dir=d, all_bugs=False)
        t0 = time.process_time()
        with old_field_draws() if way == "old" else contextlib.nullcontext():
            run(cfg, on_event)
        cpu = time.process_time() - t0
        files = {p.name: _TOKEN.sub(b"-K-", _STAMP.sub(b'"T"', p.read_bytes()))
                 for p in sorted(Path(d).rglob("*")) if p.is_file()}
    return (examples, files), cpu


def buggy_shrinks(seed: int, rounds: int) -> None:
    print(f"buggy specs, 30 examples, seed {seed}, found and shrunk in-process; best of {rounds}:")
    for design, participant in BUGGY:
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        seen: dict[str, tuple] = {}
        for _ in range(rounds):
            for way in ("old", "new"):
                got, c = buggy_shrink(way, design, participant, seed)
                cpu[way].append(c)
                if seen.setdefault(way, got) != got:
                    raise SystemExit(f"{design} {way}: a seeded run changed its cases")
        if seen["old"] != seen["new"]:
            raise SystemExit(f"{design}: old and new field draws made different cases or failures")
        shrinks = sum(1 for x in seen["old"][0] if x[1] == "shrink")
        old, new = min(cpu["old"]), min(cpu["new"])
        print(f"{design:46} {participant:7} {len(seen['old'][0]):4d} cases ({shrinks} shrinking), "
              f"{len(seen['old'][1])} failure file(s) the same; CPU s old {old:.2f} new {new:.2f} "
              f"new/old {new / old:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shrink-seed", type=int, default=3,
                    help="with --shrink, the buggy specs' seed (3: each fails within 30 examples)")
    ap.add_argument("--shrink", action="store_true",
                    help=f"also time shrinking old vs new: the buggy specs in-process and "
                         f"{' '.join(SHRINK)} (--rounds runs each way)")
    args = ap.parse_args()
    from _old_field_draws import old_field_draws
    from bench_conform import old_new_runs

    old_new_runs("field draws through hypothesis' nested data.draw vs compiled (_fastdraw)",
                 "field draws", old_field_draws, CONFIGS, args.examples, args.seed, args.rounds)
    if args.shrink:
        buggy_shrinks(args.shrink_seed, args.rounds)
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
