"""Rare mutants: how many seeded runs of the conformance suite find each, old vs new.

"old" is the suite without coverage-guided steering (``RunConfig(steer=False)``,
``--no-steer``: every choice as drawn); "new" is the suite as shipped (steering on: a
delivery, duplicate or played outcome whose model transition no case made yet is
preferred; see conformance/coverage.py Steering). "nohold" is the suite before the
hold-back policy as well (FIFO and LIFO only, no steering), "nohold+steer" that with
steering. All run the same seeds in one process:

    python bench/bench_rare_mutants.py                       # seeds 1-15, 100 examples
    python bench/bench_rare_mutants.py --seeds 1-5 --examples 100 --mutant release-keeps-stock
    python bench/bench_rare_mutants.py --seeds 1-5 --design examples/sagas/shop.saga.yaml \
        --participant inventory --mutant forget-update-10    # a spec mutant

Each row: generator, mutant, seed, found or not, the example that first failed, the
failing check, seconds. Runs stop at the first failure (no shrinking: the shrunk length
is the test's business). The summary per mutant and generator is "found by K of N seeds
(seeds ...)" and the median example to the first failure (over the seeds that found it).
Exit status 1 if the new generator misses a mutant on any seed.

Every mutant, one table row per mutant and generator (old, then new: "caught on K of N
seeds at the default example count", and the median example that first failed):

    python bench/bench_rare_mutants.py --all --seeds 1-5           # the 20 hand-written
    python bench/bench_rare_mutants.py --all --seeds 1-5 \
        --spec examples/sagas/shop.saga.yaml                        # + a spec's mutants

Model edge coverage per run (the conform summary's "model coverage", 1 order, 1
duplicate), and the steered runs' distinct model transitions, old vs new, per target:

    python bench/bench_rare_mutants.py --coverage --seeds 1-5 --examples 100

A spec's mutants are those of ``sagaspec mutate`` that the model can tell apart
(``observably_equivalent`` is not True), each against the one participant it changes
(``system`` when it changes several). ``--short`` is CI's form: the known-rare mutants on
one seed, the shipped generator only, table rows only.
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

#: generator -> (the scheduling policies it draws from, whether it steers).
GENERATORS = {"nohold": (("fifo", "lifo"), False), "nohold+steer": (("fifo", "lifo"), True),
              "old": (choosers.POLICIES, False), "new": (choosers.POLICIES, True)}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _run(mutant: str, seed: int, examples: int, design: str,
         participant: str | None, steer: bool = True) -> tuple[int | None, str, float]:
    if participant is None:
        participant, _checks = TABLE[mutant]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rare-") as work:
        config = RunConfig(adapter="inprocess:", design=design, participant=participant,
                           mutant=mutant,
                           examples=examples, seed=seed, all_bugs=False, shrink=False,
                           failures_dir=Path(work), coverage=False, steer=steer)
        events = list(Runner(config).execute())
    took = time.monotonic() - t0
    final = next(e for e in events if isinstance(e, RunFinished))
    first = next((e.index for e in events
                  if isinstance(e, ExampleFinished) and e.status == "failed"), None)
    if final.failures and first is None:  # pragma: no cover - a failure has its example
        first = final.examples
    return (first if final.failures else None), (final.failures or [""])[0], took


def coverage(seeds: list[int], examples: int, design: str, targets: list[str]) -> None:
    """Per target and seed: edges covered by ``examples`` cases, old (no steering) vs new."""
    print(f"{'participant':<13} {'seed':>4} {'old edges':>9} {'new edges':>9} {'new/old':>7} "
          f"{'steered':>7} {'old s':>6} {'new s':>6}")
    totals = {"old": [], "new": []}
    for participant in targets:
        for seed in seeds:
            got = {}
            for gen, steer in (("old", False), ("new", True)):
                t0 = time.monotonic()
                runner = Runner(RunConfig(adapter="inprocess:", design=design,
                                          participant=participant, examples=examples, seed=seed,
                                          shrink=False, failures_dir=None, coverage=True,
                                          steer=steer))
                fin = next(e for e in runner.execute() if isinstance(e, RunFinished))
                got[gen] = (fin.coverage["covered"], fin.coverage["edges"],
                            runner.steering.steered if runner.steering else 0,
                            time.monotonic() - t0)
                totals[gen].append(fin.coverage["covered"])
            (o, edges, _, ot), (n, _, steered, nt) = got["old"], got["new"]
            print(f"{participant:<13} {seed:>4} {o:>9} {n:>9} {n / max(o, 1):>7.2f} {steered:>7} "
                  f"{ot:>6.1f} {nt:>6.1f}", flush=True)
    for gen, covered in totals.items():
        print(f"{gen}: edges covered per {examples} cases (of {edges}): median "
              f"{statistics.median(covered):g}, mean {statistics.mean(covered):.1f}, "
              f"sum {sum(covered)}")


#: The known-rare mutants of CI's short form: (design, participant, mutant).
SHORT = [("corrected", TABLE[m][0], m) for m in sorted(RARE)] + [
    (str(Path(__file__).resolve().parents[1] / "examples" / "sagas" / "shop.saga.yaml"),
     "inventory", "forget-update-10")]


def _spec_mutants(path: str) -> list[tuple[str, str, str]]:
    """(design, participant, mutant) for each of the spec's observably different mutants."""
    from sagaspec.conformance.mutate import mutants, observably_equivalent
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(path)
    out = []
    for m in mutants(spec):
        if observably_equivalent(spec, m) is True:
            continue
        touched = {site[0] for site in m.sites} | set(m.participants)
        if not touched:  # a spec-level mutant: the participants its spec changes
            before = {q.name: q for q in spec.participants}
            touched = {q.name for q in m.spec.participants if q != before.get(q.name)}
        out.append((path, next(iter(touched)) if len(touched) == 1 else "system", m.name))
    return out


def table(targets: list[tuple[str, str, str]], seeds: list[int], examples: int,
          gens: tuple[str, ...] = ("new",)) -> int:
    """One row per mutant and generator: caught on K of N seeds, the median example to
    the first failure; a summary line per generator when there are several. Returns how
    many mutants the last generator (the shipped one) missed on a seed."""
    print(f"{'gen':<4} {'design':<16} {'participant':<12} {'mutant':<36} {'caught':>7} "
          f"{'missed seeds':<14} {'median example':>14} {'check':<22} {'seconds':>7}")
    missed = dict.fromkeys(gens, 0)
    firsts: dict[str, list[int]] = {g: [] for g in gens}
    lost_runs = dict.fromkeys(gens, 0)
    for design, participant, mutant in targets:
        for gen in gens:
            found: dict[int, int] = {}
            checks: set[str] = set()
            took = 0.0
            for seed in seeds:
                first, check, secs = _run(mutant, seed, examples, design, participant,
                                          steer=GENERATORS[gen][1])
                took += secs
                if first is not None:
                    found[seed] = first
                    checks.add(check)
            lost = [s for s in seeds if s not in found]
            missed[gen] += bool(lost)
            lost_runs[gen] += len(lost)
            # A seed that missed counts as the example count plus one (a lower bound; an
            # example index can pass the count: hypothesis numbers its invalid tries too).
            firsts[gen] += [found.get(s, examples + 1) for s in seeds]
            median = f"{statistics.median(found.values()):g}" if found else "-"
            print(f"{gen:<4} {Path(design).name.split('.')[0]:<16} {participant:<12} {mutant:<36} "
                  f"{len(found)}/{len(seeds):<5} {','.join(map(str, lost)) or '-':<14} {median:>14} "
                  f"{','.join(sorted(checks)) or '-':<22} {took:>7.1f}", flush=True)
    if len(gens) > 1:
        for gen in gens:
            runs = firsts[gen]
            print(f"{gen}: {len(targets) - missed[gen]} of {len(targets)} mutants caught on every "
                  f"seed; over all {len(runs)} (mutant, seed) runs, the example that first failed: "
                  f"median {statistics.median(runs):g}, mean {statistics.mean(runs):.1f}, "
                  f"{lost_runs[gen]} runs missed")
    return missed[gens[-1]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-15", help="seeds, e.g. 1-15 or 8,12")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--mutant", action="append",
                        help="a mutant (default: the test's RARE ones); repeatable")
    parser.add_argument("--design", default="corrected",
                        help="a shipped design or a saga spec file (its mutants: sagaspec mutate)")
    parser.add_argument("--participant", help="the target (default: the test's TABLE entry)")
    parser.add_argument("--all", action="store_true",
                        help="every hand-written mutant (and --spec's), one row each")
    parser.add_argument("--spec", action="append", default=[],
                        help="with --all: a saga spec file whose mutants are added; repeatable")
    parser.add_argument("--only", action="append", default=[],
                        help="with --all: only these mutants (by name); repeatable")
    parser.add_argument("--spec-only", action="store_true",
                        help="with --all --spec: leave the hand-written mutants out")
    parser.add_argument("--short", action="store_true",
                        help="CI's form: the known-rare mutants, one seed (or --seeds)")
    parser.add_argument("--coverage", action="store_true",
                        help="model edge coverage per run, old vs new, per target")
    parser.add_argument("--new-only", action="store_true",
                        help="with --all: the shipped generator only (no 'old' rows)")
    args = parser.parse_args(argv)
    if args.coverage:
        targets = [args.participant] if args.participant else \
            ["payment", "order", "inventory", "notification", "system"]
        coverage(_seeds(args.seeds if args.seeds != "1-15" else "1-5"), args.examples,
                 args.design, targets)
        return 0
    if args.short or args.all:
        seeds = _seeds(args.seeds if args.seeds != "1-15" else ("1" if args.short else "1-5"))
        if args.short:
            targets = SHORT
        else:
            targets = [] if args.spec_only else [("corrected", TABLE[m][0], m) for m in TABLE]
            for path in args.spec:
                targets += _spec_mutants(path)
        if args.only:
            targets = [t for t in targets if t[2] in args.only]
        gens = ("new",) if args.short or args.new_only else ("old", "new")
        missed = table(targets, seeds, args.examples, gens)
        print(f"{len(targets) - missed} of {len(targets)} mutants caught on every one of "
              f"{len(seeds)} seed(s) at {args.examples} examples")
        return 1 if missed else 0
    if args.participant is None and any(m not in TABLE for m in args.mutant or ()):
        parser.error("--participant is needed for a mutant outside the order saga's table")
    seeds = _seeds(args.seeds)
    shipped = choosers.POLICIES
    summary: list[str] = []
    missed = 0
    print(f"{'gen':<12} {'mutant':<22} {'seed':>4} {'found':>5} {'example':>7} {'check':<14} "
          f"{'seconds':>7}")
    for mutant in args.mutant or sorted(RARE):
        for gen, (policies, steer) in GENERATORS.items():
            choosers.POLICIES = policies
            try:
                found: dict[int, int] = {}
                for seed in seeds:
                    first, check, took = _run(mutant, seed, args.examples, args.design,
                                              args.participant, steer)
                    if first is not None:
                        found[seed] = first
                    print(f"{gen:<12} {mutant:<22} {seed:>4} {'yes' if first else 'no':>5} "
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
