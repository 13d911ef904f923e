"""A whole system driven delivery by delivery, against each saga running by itself, old vs new.

``--participant system`` against the in-process reference system (the spec interpreter):
"old" lets the system run each saga to completion on its own bus
(``harness.STEP_SYSTEM = False``), so a crash lands only where the next saga's start or a
duplicate happens to reach the crashed participant; "new" holds its bus (capability
``step``) and delivers every message itself, sagas interleaved, a crash landing between two
deliveries. Both run the same seeds in one process, at the default example count.

Per mutant of every shipped saga that is judged against the whole system (those that
change several participants, as ``bench_rare_mutants.py --all --spec`` picks them; those
``tests/data/mutation_expectations.yaml`` records as equivalent left out): on how many
seeds each is caught, old vs new; then the reference system's cases/s, old vs new:

    python bench/bench_system_steps.py                    # seeds 1-5, every shipped saga
    python bench/bench_system_steps.py --only shop --seeds 1-3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml
from sagaspec.conformance import RunConfig, Runner, harness
from sagaspec.conformance.events import RunFinished

ROOT = Path(__file__).resolve().parents[1]
EXPECTATIONS = ROOT / "tests" / "data" / "mutation_expectations.yaml"
#: Every shipped saga (the sagas the expectations file scores).
SPECS = [ROOT / k for k in yaml.safe_load(EXPECTATIONS.read_text(encoding="utf-8"))["sagas"]]


def system_mutants(path: Path) -> list[str]:
    """The mutants of ``path`` judged against the whole system, not recorded equivalent."""
    from sagaspec.conformance.mutate import mutants
    from sagaspec.spec.sagafile import resolve_spec

    recorded = yaml.safe_load(EXPECTATIONS.read_text(encoding="utf-8"))["sagas"]
    entry = recorded.get(str(path.relative_to(ROOT)), {})
    if "reference_fails" in entry:
        return []  # a buggy design: its own reference fails, no mutant is scored
    equivalent = {n for n, why in (entry.get("not_caught") or {}).items() if "equivalent" in why}
    spec = resolve_spec(str(path))
    out = []
    for m in mutants(spec):
        touched = {site[0] for site in m.sites} | set(m.participants)
        if not touched:
            before = {q.name: q for q in spec.participants}
            touched = {q.name for q in m.spec.participants if q != before.get(q.name)}
        if len(touched) != 1 and m.name not in equivalent:
            out.append(m.name)
    return out


def run(design: str, mutant: str | None, seed: int, examples: int, step: bool) -> tuple[bool, int, float]:
    """(caught, examples run, seconds) of one seeded run."""
    harness.STEP_SYSTEM = step
    t0 = time.perf_counter()
    try:
        config = RunConfig(adapter="inprocess:", design=design, participant="system", mutant=mutant,
                           examples=examples, seed=seed, all_bugs=False, shrink=False,
                           failures_dir=None, coverage=False)
        final = next(e for e in Runner(config).execute() if isinstance(e, RunFinished))
    finally:
        harness.STEP_SYSTEM = True
    return bool(final.failures), final.examples, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--only", default="", help="only spec files whose name contains this")
    args = ap.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    specs = [p for p in SPECS if args.only in p.name]
    print(f"{'saga':<22} {'mutant':<26} {'old caught':>10} {'new caught':>10}")
    missed = {"old": 0, "new": 0}
    total = 0
    for path in specs:
        for name in system_mutants(path):
            total += 1
            got = {}
            for gen, step in (("old", False), ("new", True)):
                got[gen] = sum(run(str(path), name, s, args.examples, step)[0] for s in seeds)
                missed[gen] += got[gen] < len(seeds)
            print(f"{path.name.split('.')[0]:<22} {name:<26} {got['old']:>8}/{len(seeds)} "
                  f"{got['new']:>8}/{len(seeds)}", flush=True)
    for gen in ("old", "new"):
        print(f"{gen}: {total - missed[gen]} of {total} system mutants caught on every one of {len(seeds)} seeds")
    print(f"{'saga':<22} {'old cases/s':>11} {'new cases/s':>11} {'new/old':>7}")
    for path in specs:
        if not system_mutants(path):
            continue
        rate = {}
        for gen, step in (("old", False), ("new", True)):
            cases = secs = 0.0
            for s in seeds:
                caught, n, took = run(str(path), None, s, args.examples, step)
                if caught:
                    print(f"{path.name}: the reference failed on seed {s} ({gen})", file=sys.stderr)
                cases, secs = cases + n, secs + took
            rate[gen] = cases / secs
        print(f"{path.name.split('.')[0]:<22} {rate['old']:>11.1f} {rate['new']:>11.1f} "
              f"{rate['new'] / rate['old']:>7.2f}", flush=True)
    return 1 if missed["new"] else 0


if __name__ == "__main__":
    sys.exit(main())
