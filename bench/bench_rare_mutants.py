"""Rare mutants: how many seeded 100-example runs of the conformance suite find each.

The suite's test (tests/conformance/test_conform_mutants.py) only asks that a rare
mutant is found within its stated budget of seeds, trying the seeds measured here first;
this script spends the whole budget on every seed and prints the rate:

    python bench/bench_rare_mutants.py                    # seeds 1-15, 100 examples each
    python bench/bench_rare_mutants.py --seeds 8 --examples 100    # one run (short form)

Each row: mutant, seed, found or not, the failing check and its shrunk length, seconds.
The last line per mutant is "found by K of N seeds (seeds ...)", the figure the test's
RARE table states. Exit status 1 if a mutant is found by no seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "conformance"))

from sagaspec.conformance import RunConfig, Runner  # noqa: E402
from sagaspec.conformance.events import FailureShrunk, RunFinished  # noqa: E402
from test_conform_mutants import RARE, RARE_SEEDS, TABLE  # noqa: E402


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default=f"{RARE_SEEDS.start}-{RARE_SEEDS.stop - 1}",
                        help="seeds, e.g. 1-15 or 8,12")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--mutant", action="append", choices=sorted(RARE))
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    missed = 0
    print(f"{'mutant':<22} {'seed':>4} {'found':>5} {'check':<16} {'length':>6} {'seconds':>7}")
    for mutant in args.mutant or sorted(RARE):
        participant, _checks = TABLE[mutant]
        found: list[int] = []
        for seed in seeds:
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="rare-") as work:
                config = RunConfig(adapter="inprocess:", participant=participant, mutant=mutant,
                                   examples=args.examples, seed=seed, all_bugs=False,
                                   failures_dir=Path(work), coverage=False)
                events = list(Runner(config).execute())
            took = time.monotonic() - t0
            final = next(e for e in events if isinstance(e, RunFinished))
            if final.failures:  # as the test decides
                found.append(seed)
                shrunk = [e.failure for e in events if isinstance(e, FailureShrunk)]
                check, length = (shrunk[0].check, shrunk[0].length) if shrunk else (final.failures[0], "")
                print(f"{mutant:<22} {seed:>4} {'yes':>5} {check:<16} {length:>6} {took:>7.1f}")
            else:
                print(f"{mutant:<22} {seed:>4} {'no':>5} {'':<16} {'':>6} {took:>7.1f}")
        print(f"{mutant}: found by {len(found)} of {len(seeds)} seeds"
              f"{' (seeds ' + ', '.join(map(str, found)) + ')' if found else ''}"
              f", {args.examples} examples each")
        missed += not found
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
