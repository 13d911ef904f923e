"""The mutation score of every shipped saga at several example counts, and what each costs.

For each spec: CPU seconds, caught / equivalent / survived, and whether the verdicts
(which mutants are caught, equivalent, surviving) are the same as at the default count,
so CI can run the shortest count that changes nothing. ``--seeds``: for the operator
mutants that re-express the hand-written order mutants, on how many of seeds 0..4 each
is caught at the default count (and how many of those only by the model-directed case).

    python bench/bench_mutation_score.py [--counts 30,10,5] [--only travel] [--seeds]

``--steer``: the ``conform --spec`` pipeline (seeded cases against each mutant's services
in-process) without and with coverage-guided steering (``--no-steer`` / the default),
side by side: per mutant the median case that first failed over seeds 0..4, per spec how
many mutants were caught on every seed within ``--cases`` cases and the CPU seconds (the
steered run's includes learning its memory on the reference services):

    python bench/bench_mutation_score.py --steer [--cases 100] [--only shop]

``--design``: the ``conform --design`` pipeline (hypothesis-generated cases against the
one participant each mutant changes, ``system`` when it changes several) at the run's
default example count: per mutant on how many of seeds 1..5 it is caught and the median
example that first failed (bench/bench_rare_mutants.py's table; ``--only`` a spec,
``--mutant`` and ``--seed`` repeatable to pick mutants and seeds):

    python bench/bench_mutation_score.py --design [--only travel] [--mutant redo-duplicate-5]
    python bench/bench_mutation_score.py --design --only order-shipping --seed 3 \
        --mutant drop-guard-4 --mutant forget-update-4
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
    ap.add_argument("--steer", action="store_true")
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--after", default="", help="with --steer: start after this mutant")
    ap.add_argument("--design", action="store_true")
    ap.add_argument("--mutant", action="append", default=[], help="with --design: only these")
    ap.add_argument("--seed", action="append", type=int, default=[],
                    help="with --design: only these seeds (default 1-5)")
    args = ap.parse_args()
    if args.design:
        return design(args.only, args.mutant, args.seed or list(range(1, 6)))
    counts = [int(c) for c in args.counts.split(",")]
    if args.seeds:
        return seeds(counts[0])
    if args.steer:
        return steer(args.cases, args.only, args.after)
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


def _observable(path: Path, spec) -> list:
    """The spec's mutants but those tests/data/mutation_expectations.yaml calls
    equivalent or argued equivalent (proved there; proving again is the slow part)."""
    import yaml
    from sagaspec.conformance.mutate import mutants

    data = yaml.safe_load((ROOT / "tests" / "data" / "mutation_expectations.yaml").read_text())
    entry = data["sagas"].get(str(path.relative_to(ROOT)), {}) or {}
    same = {name for name, why in (entry.get("not_caught") or {}).items()
            if "equivalent" in why or "argued" in why}
    return [m for m in mutants(spec) if m.name not in same]


def _first(spec, mutant: str, seed: int, cases: int, steering) -> int | None:
    """The first case of ``seed`` (of ``cases``) the mutant fails, or None."""
    from sagaspec.conformance.spec_conform import InProcessSpecAdapter, case_seed, run_case

    adapter = InProcessSpecAdapter(spec, mutant)
    for k in range(cases):
        s = case_seed(seed, k)
        try:
            got = run_case(spec, adapter, s, sagas=1 + s % 3,
                           steering=steering.before(k) if steering is not None else None)
        except Exception:  # noqa: BLE001 - the mutant's service raised out of the case: caught
            return k
        if got.failures:
            return k
    return None


def _scored_specs(only: str | None):
    """``(path, spec)`` of each shipped saga ``only`` names whose reference services pass
    a short run (a saga whose reference fails is said so and not scored)."""
    from sagaspec.conformance.mutate import reference_failure
    from sagaspec.spec.sagafile import load_spec

    for path in SPECS:
        if only and only not in path.name:
            continue
        spec = load_spec(path)
        if reference_failure(spec, examples=10) is not None:
            print(f"{path.name:<24} reference fails: not scored")
            continue
        yield path, spec


def steer(cases: int, only: str, after: str = "") -> None:
    import statistics

    from sagaspec.conformance.coverage import SpecSteering

    print(f"{'spec':<24} {'mutant':<28} {'old caught':>10} {'old median':>10} "
          f"{'new caught':>10} {'new median':>10}")
    for path, spec in _scored_specs(only):
        memories = {seed: SpecSteering(spec, seed) for seed in range(5)}
        summary = {"old": [0, [], 0.0], "new": [0, [], 0.0]}
        todo = _observable(path, spec)
        if after and after in [m.name for m in todo]:
            todo = todo[[m.name for m in todo].index(after) + 1:]
        for m in todo:
            row = {}
            for gen in ("old", "new"):
                t0 = time.process_time()
                firsts = [_first(spec, m.name, seed, cases, memories[seed] if gen == "new" else None)
                          for seed in range(5)]
                summary[gen][2] += time.process_time() - t0
                found = [f + 1 for f in firsts if f is not None]  # 1-based: cases run
                summary[gen][0] += len(found) == 5
                summary[gen][1] += [f + 1 if f is not None else cases + 1 for f in firsts]
                row[gen] = (f"{len(found)}/5", f"{statistics.median(found):g}" if found else "-")
            print(f"{path.name.split('.')[0]:<24} {m.name:<28} {row['old'][0]:>10} {row['old'][1]:>10} "
                  f"{row['new'][0]:>10} {row['new'][1]:>10}", flush=True)
        for gen, (every, runs, cpu) in summary.items():
            print(f"{path.name.split('.')[0]}: {gen}: {every} mutants caught on 5 of 5 seeds within "
                  f"{cases} cases; the case that first failed over all (mutant, seed) runs: median "
                  f"{statistics.median(runs):g}, mean {statistics.mean(runs):.2f}, "
                  f"{sum(r > cases for r in runs)} missed; {cpu:.1f}s CPU", flush=True)


def design(only: str, names: list[str], seeds: list[int]) -> None:
    import dataclasses
    import sys

    from sagaspec.conformance.runner import RunConfig

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_rare_mutants import table

    default = next(f.default for f in dataclasses.fields(RunConfig) if f.name == "examples")
    targets = []
    for path, spec in _scored_specs(only):
        before = {q.name: q for q in spec.participants}
        for m in _observable(path, spec):
            if names and m.name not in names:
                continue
            touched = {site[0] for site in m.sites} | set(m.participants) or \
                {q.name for q in m.spec.participants if q != before.get(q.name)}
            targets.append((str(path), next(iter(touched)) if len(touched) == 1 else "system", m.name))
    missed = table(targets, seeds, default)
    print(f"{len(targets) - missed} of {len(targets)} mutants caught on every one of seeds "
          f"{','.join(map(str, seeds))} at {default} examples")


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
