"""The mutation score of every shipped saga at several example counts, and what each costs.

For each spec: CPU seconds, caught / equivalent / survived, and whether the verdicts
(which mutants are caught, equivalent, surviving) are the same as at the default count,
so CI can run the shortest count that changes nothing. ``--seeds``: for the operator
mutants that re-express the hand-written order mutants, on how many of seeds 0..4 each
is caught at the default count (and how many of those only by the model-directed case).

    python bench/bench_mutation_score.py [--counts 30,10,5] [--only travel] [--seeds]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "examples" / "sagas").glob("*.saga.yaml")) + [ROOT / "spec" / "sagas" / "order-corrected.saga.yaml"]


def verdicts(results) -> dict[str, str]:
    return {r.mutant.name: "caught" if r.caught else ("equivalent" if r.equivalent else "survived") for r in results}


def main() -> None:
    from sagaspec.conformance.mutate import reference_failure, score
    from sagaspec.spec.sagafile import load_spec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="30,10,5")
    ap.add_argument("--only", default="")
    ap.add_argument("--seeds", action="store_true")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    if args.seeds:
        return seeds(counts[0])
    for path in SPECS:
        if args.only and args.only not in path.name:
            continue
        spec = load_spec(path)
        t0 = time.process_time()
        broken = reference_failure(spec, examples=counts[0])
        if broken is not None:
            print(f"{path.name:<32} reference fails ({broken[0].check}, seed {broken[1]}) "
                  f"in {time.process_time() - t0:.1f}s CPU: not scored")
            continue
        base = None
        for n in counts:
            t0 = time.process_time()
            v = verdicts(score(spec, examples=n))
            cpu = time.process_time() - t0
            base = base or v
            same = "same verdicts" if v == base else f"CHANGED: {sorted(k for k in v if v[k] != base[k])}"
            counted = {x: sum(1 for y in v.values() if y == x) for x in ("caught", "equivalent", "survived")}
            print(f"{path.name:<32} -n {n:<3} {cpu:6.1f}s CPU  caught {counted['caught']:>3}  "
                  f"equivalent {counted['equivalent']:>3}  survived {counted['survived']:>2}  {same}")


def seeds(n: int) -> None:
    from sagaspec.conformance.mutate import mutants, score
    from sagaspec.examples.mutants import MUTANTS
    from sagaspec.spec.sagafile import shipped_spec

    spec = shipped_spec("corrected")
    by_description = {m.description: m for m in mutants(spec)}
    for name, hand in MUTANTS.items():
        m = by_description[hand.spec_mutant]
        caught = directed = 0
        for seed in range(5):
            (r,) = score(spec, examples=n, seed=seed, operators=(m.operator,), names=(m.name,))
            caught += r.caught
            directed += r.directed
        print(f"{name:<38} {m.name:<24} caught {caught}/5 seeds at -n {n}"
              + (f" ({directed} by the model-directed case)" if directed else ""))


if __name__ == "__main__":
    main()
