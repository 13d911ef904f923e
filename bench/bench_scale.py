"""Benchmark of the model checker on big runs: where states per second go.

Runs the corrected order saga with a crash/restart budget of 1 per participant (and
one duplicate delivery) to given state counts, each run in a fresh process (so its
peak memory is its own), and prints, at every million states and at the end:

* states/s: distinct states found per CPU second so far (what ``sagaspec check``
  reports), and over the last interval;
* expanded/s and edges/s over the last interval: the work actually done (every
  state is expanded once; every edge is a fingerprint and a "seen?" lookup);
* new states per expansion over the last interval, the frontier (queued states);
* peak resident memory per stored state (``ru_maxrss``) and the search's own estimate.

Late in a search most edges lead to states already seen, so states/s falls while
expanded/s and edges/s stay level; wall-clock rates on a shared machine also fall
behind CPU rates. Each run is made twice side by side (``--compare``):

* ``loop`` (default): the incremental BFS loop as ``explore`` runs it, and the loop
  before its frontier stopped queueing fingerprint vectors and its visited dict stopped
  storing state numbers it does not need (a frozen copy, ``bench/_old_incremental.py``);
* ``gc``: the cyclic garbage collector paused during the search (what ``explore``
  does) and left running (as before it did), to show what it costs as the heap grows.

Nothing here asserts a timing.

Usage::

    python bench/bench_scale.py                      # 3 orders: 1M states, then all 10.6M
    python bench/bench_scale.py --states 20000000 --orders 4   # 20M states (about 5 GB)
    python bench/bench_scale.py --short              # 2 orders, 100,000 states (seconds; CI)
    python bench/bench_scale.py --compare gc         # collector paused vs running
    python bench/bench_scale.py --safety-only        # no at_rest properties: no state graph kept
    python bench/bench_scale.py --json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import gc, importlib, json, resource, sys
explore_module = importlib.import_module("sagaspec.model.explore")  # the module, not the function
from sagaspec.model import Config, explore
from sagaspec.model.saga import saga_system

orders, max_states, step, collect = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
old_loop = sys.argv[5] == "1"
safety_only = sys.argv[7] == "1"
if collect:
    # Leave the cyclic collector running during the search (the search pauses it).
    explore_module.gc = type("GC", (), {"isenabled": staticmethod(lambda: False), "disable": staticmethod(lambda: None),
                                        "enable": staticmethod(gc.enable)})
samples = []
state = {"next": step}
def progress(st):
    if st.states >= state["next"]:
        search = progress.search
        samples.append({"states": st.states, "cpu_s": st.cpu_seconds, "wall_s": st.seconds, "edges": st.edges,
                        "expanded": search.expanded if search else 0, "queue": st.queue,
                        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                        "estimate": st.memory_bytes})
        while state["next"] <= st.states:
            state["next"] += step
progress.search = None
_Search = explore_module._Search
class Spy(_Search):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        progress.search = self
if old_loop:
    sys.path.insert(0, sys.argv[6])
    from _old_incremental import run_incremental_old
    Spy._run_incremental = run_incremental_old
explore_module._Search = Spy
system = saga_system("corrected", orders=orders)
if safety_only:
    # Without at_rest properties the search keeps no state graph (parents only).
    import dataclasses
    system = dataclasses.replace(system, properties=tuple(p for p in system.properties if p.kind != "at-rest"))
result = explore(system, Config(crashes=1, duplicates=1, por=False),
                 on_progress=progress, progress_interval=0.5, max_states=max_states or None)
st = result.stats
if samples and samples[-1]["states"] == st.states:
    samples.pop()  # the final report repeats the last progress line
samples.append({"states": st.states, "cpu_s": st.cpu_seconds, "wall_s": st.seconds, "edges": st.edges,
                "expanded": result._search.expanded, "queue": 0,
                "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "estimate": st.memory_bytes})
print(json.dumps({"orders": orders, "complete": result.complete, "loop": result._search.loop,
                  "graph_kept": result._search.keep_graph,
                  "gc_running": collect, "old_loop": old_loop, "samples": samples,
                  "verdicts": result.verdicts, "edges": st.edges, "depth": st.depth}))
"""


def run(orders: int, max_states: int, step: int, collect: bool, old_loop: bool = False,
        safety_only: bool = False) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(orders), str(max_states), str(step), "1" if collect else "0",
         "1" if old_loop else "0", str(Path(__file__).resolve().parent), "1" if safety_only else "0"],
        capture_output=True, text=True,
    )
    if proc.returncode:
        raise SystemExit(f"error: the benchmark run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rows(report: dict) -> list[dict]:
    out = []
    prev = {"states": 0, "cpu_s": 0.0, "edges": 0, "expanded": 0}
    for s in report["samples"]:
        dt = max(s["cpu_s"] - prev["cpu_s"], 1e-9)
        out.append({
            "states": s["states"], "expanded": s["expanded"], "edges": s["edges"],
            "cpu_s": s["cpu_s"], "wall_s": s["wall_s"],
            "states_per_s": round(s["states"] / max(s["cpu_s"], 1e-9)),
            "interval_states_per_s": round((s["states"] - prev["states"]) / dt),
            "interval_expanded_per_s": round((s["expanded"] - prev["expanded"]) / dt),
            "interval_edges_per_s": round((s["edges"] - prev["edges"]) / dt),
            "new_per_expansion": round((s["states"] - prev["states"]) / max(s["expanded"] - prev["expanded"], 1), 2),
            "queue": s["queue"],
            "rss_bytes_per_state": round(s["rss"] / max(s["states"], 1)),
            "estimate_bytes_per_state": round(s["estimate"] / max(s["states"], 1)),
        })
        prev = s
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--states", type=int, action="append", metavar="N",
                    help="stop after N states (repeatable; 0: the whole space; default 1,000,000 and 0)")
    ap.add_argument("--step", type=int, default=1_000_000, help="a row every this many states")
    ap.add_argument("--compare", choices=("loop", "gc", "none"), default="loop",
                    help="side by side: the new and the old BFS loop (default), the collector paused and "
                    "running, or only the search as explore() runs it")
    ap.add_argument("--safety-only", action="store_true",
                    help="drop the at_rest properties, so the search keeps no state graph (parents only)")
    ap.add_argument("--short", action="store_true", help="2 orders, 100,000 states, rows every 50,000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.short:
        orders, bounds, step = 2, [100_000], 50_000
    else:
        orders, bounds, step = args.orders, args.states or [1_000_000, 0], args.step
    reports = []
    variants = {"loop": [(False, False), (False, True)], "gc": [(False, False), (True, False)],
                "none": [(False, False)]}[args.compare]
    for bound in bounds:
        for collect, old_loop in variants:
            report = run(orders, bound, step, collect, old_loop, args.safety_only)
            report["bound"] = bound
            report["rows"] = rows(report)
            reports.append(report)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "samples"} for r in reports], indent=2))
        return 0
    for r in reports:
        gc_text = "collector running" if r["gc_running"] else "collector paused (explore's default)"
        bound = f"{r['bound']:,} states" if r["bound"] else "whole space"
        print(f"corrected, {r['orders']} orders, 1 crash each, 1 duplicate: {bound}, {gc_text}, "
              f"loop {r['loop']}{' (old copy)' if r['old_loop'] else ''}, complete {r['complete']}, "
              f"graph {'kept' if r['graph_kept'] else 'not kept (safety properties only)'}")
        print(f"{'states':>11} {'cpu s':>7} {'wall s':>7} {'st/s':>8} {'st/s now':>9} {'exp/s now':>9} "
              f"{'edges/s now':>11} {'new/exp':>7} {'queue':>10} {'RSS B/st':>8} {'est B/st':>8}")
        for x in r["rows"]:
            print(f"{x['states']:>11,} {x['cpu_s']:>7.1f} {x['wall_s']:>7.1f} {x['states_per_s']:>8,} "
                  f"{x['interval_states_per_s']:>9,} {x['interval_expanded_per_s']:>9,} {x['interval_edges_per_s']:>11,} "
                  f"{x['new_per_expansion']:>7} {x['queue']:>10,} {x['rss_bytes_per_state']:>8,} "
                  f"{x['estimate_bytes_per_state']:>8,}")
    pairs = {}
    for r in reports:
        pairs.setdefault(r["bound"], {})[(r["gc_running"], r["old_loop"])] = r
    for pair in pairs.values():
        if len(pair) != 2:
            continue
        (base_key, base), (other_key, other) = sorted(pair.items())
        a, b = base["rows"][-1], other["rows"][-1]
        if base["verdicts"] != other["verdicts"] or (base["edges"], base["depth"]) != (other["edges"], other["depth"]):
            print(f"  {a['states']:,} states: the two runs DISAGREE (edges, depth or verdicts)")
        name = "old loop" if other_key[1] else "collector running"
        new = "new loop" if other_key[1] else "collector paused"
        print(f"  {a['states']:,} states: {new} {a['states_per_s']:,} st/s (CPU), {a['rss_bytes_per_state']:,} B/state "
              f"peak RSS vs {name} {b['states_per_s']:,} st/s, {b['rss_bytes_per_state']:,} B/state "
              f"({a['states_per_s'] / max(b['states_per_s'], 1):.2f}x speed, "
              f"{b['rss_bytes_per_state'] / max(a['rss_bytes_per_state'], 1):.2f}x less memory)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
