"""Overtaken events: how often a case delivers to the target a later event of a saga
before an earlier one still in flight to it (a cancellation before the creation), with
the overtaking policy off ("old") and as shipped ("new"); same seeds, one process:

    python bench/bench_overtaken.py                          # seeds 1-5, 100 examples
    python bench/bench_overtaken.py --participant payment --seeds 1-3

An event E overtakes E' when both are of one saga and for the target, E' was published
first and was still undelivered when E was delivered. Each row: generator, participant,
seed, cases, cases with an overtaking delivery, their share. The summary per
participant: old vs new side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from sagaspec.conformance import RunConfig, Runner, choosers
from sagaspec.conformance.models import suite_model


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def overtaken(case: list[dict[str, Any]], subscribes: frozenset[str], label: str) -> int:
    """Deliveries to the target in ``case`` (steps as JSON) that overtook an earlier
    event of their saga still in flight to it."""
    order: dict[str, int] = {}  # eventId -> publication position
    saga_of: dict[str, Any] = {}
    for step in case:
        for ev in [*step.get("emitted", ()), *step.get("published", ())]:
            eid = ev.get("eventId")
            if eid not in order and ev.get("eventType") in subscribes:
                order[eid] = len(order)
                saga_of[eid] = ev.get("sagaId")
    delivered: set[str] = set()
    count = 0
    for step in case:
        if step["op"] != "deliver" or step.get("to") != label:
            continue
        eid = (step.get("event") or {}).get("eventId")
        if eid not in order:
            continue
        if any(saga_of[o] == saga_of[eid] and order[o] < order[eid] and o not in delivered
               for o in order):
            count += 1
        delivered.add(eid)
    return count


def measure(participant: str, seed: int, examples: int, design: str) -> tuple[int, int]:
    """(cases, cases with an overtaking delivery to ``participant``)."""
    subscribes = frozenset(suite_model(design, 1).participant(participant).subscribes)
    with tempfile.TemporaryDirectory(prefix="overtaken-") as work:
        runner = Runner(RunConfig(adapter="inprocess:", design=design, participant=participant,
                                  examples=examples, seed=seed, shrink=False, coverage=False,
                                  failures_dir=Path(work)))
        list(runner.execute())
    cases = [path for path, _ in runner.covered]
    return len(cases), sum(1 for c in cases if overtaken(c, subscribes, participant))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--design", default="corrected")
    parser.add_argument("--participant", action="append",
                        help="a target (default: payment, inventory); repeatable")
    args = parser.parse_args(argv)
    shipped = choosers.OVERTAKE
    summary = []
    print(f"{'gen':<4} {'participant':<12} {'seed':>4} {'cases':>6} {'overtaken':>9} {'share':>6}")
    for participant in args.participant or ["payment", "inventory"]:
        totals = {}
        for gen, on in (("old", False), ("new", shipped)):
            choosers.OVERTAKE = on
            try:
                n = hit = 0
                for seed in _seeds(args.seeds):
                    cases, over = measure(participant, seed, args.examples, args.design)
                    n, hit = n + cases, hit + over
                    print(f"{gen:<4} {participant:<12} {seed:>4} {cases:>6} {over:>9} "
                          f"{over / max(cases, 1):>6.1%}", flush=True)
            finally:
                choosers.OVERTAKE = shipped
            totals[gen] = (n, hit)
        (n0, h0), (n1, h1) = totals["old"], totals["new"]
        summary.append(f"{participant}: cases with an overtaken event: old {h0}/{n0} "
                       f"({h0 / max(n0, 1):.1%}), new {h1}/{n1} ({h1 / max(n1, 1):.1%})")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
