"""Benchmark of symmetry reduction over many sagas: the old search paths against the
sorted fast loop, side by side in one run.

*old*: the general canonical form (the least of all ``n!`` renamings) with the inlined
incremental search up to 5 sagas (fingerprint vectors up to 4), and from 6 sagas the
sorted canonical form through the generic loop (every successor built and renamed).
*new*: the sorted canonical form in its own generated loop (``run_sorted``): "seen?" by
an orbit fingerprint that is additive over moves, successors built and renamed only
when new. Both search the corrected order saga (one duplicate delivery, one crash per
participant) to the same depth (``--depth``, 10 by default: 100,000 to 260,000 states
for 2 to 6 sagas), so states and edges must agree; the script says so and exits 1
otherwise.

Prints states, edges, CPU seconds (best of ``--repeat``, the runs of the two paths
alternating, since the machine is shared) and states per CPU second, and the ratio.
Nothing here asserts a timing.

Usage::

    python bench/bench_symmetry.py                    # 2, 4, 5, 6 sagas, depth 10 (1-2 minutes)
    python bench/bench_symmetry.py --sagas 6 --depth 11 --repeat 3
    python bench/bench_symmetry.py --short            # 2 and 6 sagas, depth 6 (a few seconds)
    python bench/bench_symmetry.py --json
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import time

from sagaspec.model import Config, explore
from sagaspec.model.saga import saga_system

engine_module = importlib.import_module("sagaspec.model.engine")
explore_module = importlib.import_module("sagaspec.model.explore")


def _run(n: int, cfg: Config, path: str) -> dict:
    """One search on the ``old`` or ``new`` path (see the module doc)."""
    saved = engine_module.SORTED_MIN_PERMS, explore_module._FORCE_GENERIC
    if path == "old":
        # The general form up to 5 sagas; from 6 the sorted form via the generic loop.
        engine_module.SORTED_MIN_PERMS = 720
        explore_module._FORCE_GENERIC = n >= 6
    else:
        engine_module.SORTED_MIN_PERMS = 0
        explore_module._FORCE_GENERIC = False
    try:
        system = saga_system("corrected", orders=n)
        gc.collect()
        cpu = time.process_time()
        result = explore(system, cfg)
        cpu = time.process_time() - cpu
    finally:
        engine_module.SORTED_MIN_PERMS, explore_module._FORCE_GENERIC = saved
    search = result._search
    form = "sorted" if search.engine.sorted is not None else "general"
    return {
        "sagas": n, "path": path, "form": form, "loop": search.loop,
        "states": result.stats.states, "edges": result.stats.edges, "complete": result.complete,
        "cpu_s": round(cpu, 3), "states_per_s_cpu": round(result.stats.states / max(cpu, 1e-9)),
    }


def sweep(counts: list[int], cfg: Config, repeat: int) -> list[dict]:
    out = []
    for n in counts:
        best: dict[str, dict] = {}
        for _ in range(max(repeat, 1)):
            for path in ("old", "new"):
                r = _run(n, cfg, path)
                if path not in best or r["cpu_s"] < best[path]["cpu_s"]:
                    best[path] = r
        out += [best["old"], best["new"]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sagas", type=int, action="append", metavar="N", help="sagas (repeatable; default 2 4 5 6)")
    ap.add_argument("--depth", type=int, default=10, help="search depth (0: no bound)")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per path")
    ap.add_argument("--short", action="store_true", help="2 and 6 sagas, depth 6: a few seconds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    counts = args.sagas or ([2, 6] if args.short else [2, 4, 5, 6])
    depth = 6 if args.short else (args.depth or None)
    cfg = Config(symmetry=True, duplicates=1, crashes=1, max_depth=depth)
    rows = sweep(counts, cfg, args.repeat)
    same = all(
        (a["states"], a["edges"]) == (b["states"], b["edges"]) for a, b in zip(rows[::2], rows[1::2], strict=True)
    )
    if args.json:
        print(json.dumps({"runs": rows, "same_counts": same}, indent=2))
        return 0 if same else 1
    print(f"{'sagas':>5} {'path':4} {'form':8} {'loop':11} {'states':>9} {'edges':>10} {'done':>5} {'cpu s':>7} {'st/s cpu':>9}")
    for r in rows:
        print(f"{r['sagas']:>5} {r['path']:4} {r['form']:8} {r['loop']:11} {r['states']:>9,} {r['edges']:>10,} "
              f"{str(r['complete']):>5} {r['cpu_s']:>7.2f} {r['states_per_s_cpu']:>9,}")
    for old, new in zip(rows[::2], rows[1::2], strict=True):
        print(f"  {old['sagas']} sagas: new {new['states_per_s_cpu'] / max(old['states_per_s_cpu'], 1):.2f}x the old "
              f"states/s; same states and edges: {(old['states'], old['edges']) == (new['states'], new['edges'])}")
    base = next((r for r in rows[1::2] if r["sagas"] == min(counts)), None)
    if base:
        for r in rows[1::2]:
            print(f"  new, {r['sagas']} sagas: {r['states_per_s_cpu'] / max(base['states_per_s_cpu'], 1):.2f}x the "
                  f"states/s of {base['sagas']} sagas")
    if not same:
        print("error: the two paths disagree on states or edges", file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
