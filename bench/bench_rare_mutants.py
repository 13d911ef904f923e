"""Rare mutants: how many seeded runs of the conformance suite find each, old vs new.

"old" is the suite without the hold-back policy (scheduling policies FIFO and LIFO only,
random interleaving, as before it); "new" is the suite as shipped (with the "serial" policy: one saga
at a time, the first leaning to its failures, shared resources set up tight; see
conformance/choosers.py POLICIES). Both run the same seeds in one process:

    python bench/bench_rare_mutants.py                       # seeds 1-15, 100 examples
    python bench/bench_rare_mutants.py --seeds 1-5 --examples 100 --mutant release-keeps-stock
    python bench/bench_rare_mutants.py --seeds 1-5 --design examples/sagas/shop.saga.yaml \
        --participant inventory --mutant forget-update-10    # a spec mutant

Each row: generator, mutant, seed, found or not, the example that first failed, the
failing check, seconds. Runs stop at the first failure (no shrinking: the shrunk length
is the test's business). The summary per mutant and generator is "found by K of N seeds
(seeds ...)" and the median example to the first failure (over the seeds that found it).
Exit status 1 if the new generator misses a mutant on any seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "conformance"))

from sagaspec.conformance import RunConfig, Runner, choosers  # noqa: E402
from sagaspec.conformance.events import ExampleFinished, RunFinished  # noqa: E402
from test_conform_mutants import RARE, TABLE  # noqa: E402

#: generator -> the scheduling policies it draws from.
GENERATORS = {"old": ("fifo", "lifo"), "new": choosers.POLICIES}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _run(mutant: str, seed: int, examples: int, design: str,
         participant: str | None) -> tuple[int | None, str, float]:
    if participant is None:
        participant, _checks = TABLE[mutant]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rare-") as work:
        config = RunConfig(adapter="inprocess:", design=design, participant=participant,
                           mutant=mutant,
                           examples=examples, seed=seed, all_bugs=False, shrink=False,
                           failures_dir=Path(work), coverage=False)
        events = list(Runner(config).execute())
    took = time.monotonic() - t0
    final = next(e for e in events if isinstance(e, RunFinished))
    first = next((e.index for e in events
                  if isinstance(e, ExampleFinished) and e.status == "failed"), None)
    if final.failures and first is None:  # pragma: no cover - a failure has its example
        first = final.examples
    return (first if final.failures else None), (final.failures or [""])[0], took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-15", help="seeds, e.g. 1-15 or 8,12")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--mutant", action="append",
                        help="a mutant (default: the test's RARE ones); repeatable")
    parser.add_argument("--design", default="corrected",
                        help="a shipped design or a saga spec file (its mutants: sagaspec mutate)")
    parser.add_argument("--participant", help="the target (default: the test's TABLE entry)")
    args = parser.parse_args(argv)
    if args.participant is None and any(m not in TABLE for m in args.mutant or ()):
        parser.error("--participant is needed for a mutant outside the order saga's table")
    seeds = _seeds(args.seeds)
    shipped = choosers.POLICIES
    summary: list[str] = []
    missed = 0
    print(f"{'gen':<4} {'mutant':<22} {'seed':>4} {'found':>5} {'example':>7} {'check':<14} "
          f"{'seconds':>7}")
    for mutant in args.mutant or sorted(RARE):
        for gen, policies in GENERATORS.items():
            choosers.POLICIES = policies
            try:
                found: dict[int, int] = {}
                for seed in seeds:
                    first, check, took = _run(mutant, seed, args.examples, args.design,
                                              args.participant)
                    if first is not None:
                        found[seed] = first
                    print(f"{gen:<4} {mutant:<22} {seed:>4} {'yes' if first else 'no':>5} "
                          f"{first or '':>7} {check:<14} {took:>7.1f}", flush=True)
            finally:
                choosers.POLICIES = shipped
            median = f", median example to the first failure {statistics.median(found.values()):g}" \
                if found else ""
            summary.append(f"{gen}: {mutant}: found by {len(found)} of {len(seeds)} seeds"
                           f"{' (seeds ' + ', '.join(map(str, found)) + ')' if found else ''}"
                           f", {args.examples} examples each{median}")
            if gen == "new":
                missed += len(found) < len(seeds)
    print("\n".join(summary))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
