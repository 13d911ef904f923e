"""The search partitioned across Dask workers: 1 vs N workers side by side, and an estimate for more.

For each worker count it prints the distinct states and edges (which must equal the
sequential search's, printed first), the wall time of the search (cluster start-up and
trace re-execution apart), states per second of wall time, and per worker: the states it
owns, the CPU seconds it spent expanding and deduplicating, states per CPU second, the
states it sent to other workers and the bytes of those batches. The load average is
printed before and after each run: the machine is shared, and wall-clock ratios mean
little when other processes hold the cores (CPU seconds per worker still do).

From the measured per-worker cost per state (with and without message handling), bytes
per sent state and the per-level coordination overhead it then estimates the search
time on 16 and 64 workers of one such core each (see ``estimate`` for the model and
its assumptions). Nothing is asserted; the numbers are printed.

Usage::

    python bench/bench_distributed.py                  # corrected, 3 orders, 1 crash each, workers 1,2
    python bench/bench_distributed.py --short          # 2 orders, seconds (CI)
    python bench/bench_distributed.py --workers 1,2,4 --orders 2 --crashes 1
    python bench/bench_distributed.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from sagaspec.model import Config, explore, saga_system
from sagaspec.model.distributed import explore_distributed


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run_sequential(system, config) -> dict:
    t, c = time.perf_counter(), time.process_time()
    r = explore(system, config)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "workers": 0, "states": r.stats.states, "edges": r.stats.edges, "depth": r.stats.depth,
        "search_s": round(r.stats.seconds, 2), "cpu_s": round(r.stats.cpu_seconds, 2),
        "wall_s": round(wall, 2), "cpu_total_s": round(cpu, 2),
        "states_per_s": round(r.stats.states / max(r.stats.seconds, 1e-9)),
        "states_per_cpu_s": round(r.stats.states / max(r.stats.cpu_seconds, 1e-9)),
        "verdicts": dict(r.verdicts),
    }


def run_distributed(system, config, workers: int) -> dict:
    load_before = _load()
    traffic: list = []
    timings: dict = {}
    r = explore_distributed(system, config, workers=workers, traffic=traffic, timings=timings)
    per = []
    for t in traffic:
        per.append({
            "worker": t.worker, "states": t.states, "edges": t.edges, "cpu_s": t.cpu_seconds,
            "busy_s": t.extra["busy_seconds"],
            "states_per_cpu_s": round(t.states / max(t.cpu_seconds, 1e-9)),
            "states_sent": t.states_sent, "bytes_sent": t.bytes_sent,
            "bytes_per_sent_state": round(t.bytes_sent / t.states_sent, 1) if t.states_sent else 0.0,
            "memory_mb": round(t.memory_bytes / 1e6, 1),
        })
    return {
        "workers": workers, "states": r.stats.states, "edges": r.stats.edges, "depth": r.stats.depth,
        "search_s": timings["search"], "startup_s": timings["startup"], "traces_s": timings["traces"],
        "liveness_s": timings["liveness"],
        "states_per_s": round(r.stats.states / max(timings["search"], 1e-9)),
        "per_worker": per, "load_before": load_before, "load_after": _load(),
        "verdicts": dict(r.verdicts), "notes": list(r.notes),
    }


def estimate(one: dict, many: dict, targets=(16, 64), bandwidth: float = 1.25e8, task_s: float | None = None) -> list[dict]:
    """Search time on ``targets`` workers from a 1-worker and a W-worker measurement.

    Model (perfect balance, one core per worker, every level a barrier):
    ``T(N) = S * c(N) / N + V(N) / bandwidth + levels * overhead(N)`` where
    * ``c(N)``: CPU seconds per owned state; ``c(1)`` has no messages, and the message
      handling part grows with the fraction of successors that cross, ``(N-1)/N``
      (measured at W workers as ``c(W) - c(1)`` for a fraction ``(W-1)/W``);
    * ``V(N)``: bytes a worker sends, ``edges/N * (N-1)/N * bytes per sent state``, over
      ``bandwidth`` bytes/s per worker (1 Gbit/s unless given);
    * ``overhead(N)``: Dask tasks per level, ``N*N + N`` (an expand per worker, a pick per
      pair of workers, a receive per worker), at the scheduler's cost per task: measured
      as the W-worker run's wall time not spent in any worker's expand/receive, per
      level and task (inflated on a loaded machine), and at the 1 ms per task the Dask
      distributed documentation states ("Each task suffers about 1ms of overhead").
    """
    states, edges, levels = many["states"], many["edges"], max(many["depth"], 1)
    w = many["workers"]
    c1 = sum(p["cpu_s"] for p in one["per_worker"]) / states
    cw = sum(p["cpu_s"] for p in many["per_worker"]) / states
    per_cross = (cw - c1) / ((w - 1) / w) if w > 1 else 0.0
    sent = sum(p["states_sent"] for p in many["per_worker"])
    bytes_per = sum(p["bytes_sent"] for p in many["per_worker"]) / sent if sent else 0.0
    busiest = max(p["busy_s"] for p in many["per_worker"])
    if task_s is None:
        idle = max(many["search_s"] - busiest, 0.0)
        task_s = idle / levels / (w * w + w)
    out = []
    for n in targets:
        frac = (n - 1) / n
        cpu = states * (c1 + per_cross * frac) / n
        net = edges / n * frac * bytes_per / bandwidth
        coord = levels * (n * n + n) * task_s
        total = cpu + net + coord
        out.append({
            "workers": n, "cpu_s": round(cpu, 2), "network_s": round(net, 2), "coordination_s": round(coord, 2),
            "total_s": round(total, 2), "states_per_s": round(states / total), "speedup_vs_1": round(states * c1 / total, 1),
            "assumed_task_ms": round(task_s * 1e3, 3), "assumed_bandwidth_MBps": round(bandwidth / 1e6),
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated [1,2]")
    ap.add_argument("--design", default="corrected")
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--crashes", type=int, default=1)
    ap.add_argument("--short", action="store_true", help="2 orders, no crash: seconds (CI)")
    ap.add_argument("--no-sequential", action="store_true", help="skip the sequential reference run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.short:
        args.orders, args.crashes = 2, 0
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    system = saga_system(args.design, orders=args.orders)
    config = Config(crashes=args.crashes)
    print(f"# {system.name}, {args.orders} orders, crashes={args.crashes}, cores={os.cpu_count()}, load {_load()}",
          file=sys.stderr)
    rows = []
    seq = None
    if not args.no_sequential:
        seq = run_sequential(system, config)
        rows.append(seq)
        print(f"sequential: {seq['states']:,} states {seq['edges']:,} edges, {seq['search_s']} s, "
              f"{seq['states_per_s']:,} st/s wall, {seq['states_per_cpu_s']:,} st/CPU-s", file=sys.stderr)
    runs = []
    for n in counts:
        r = run_distributed(system, config, n)
        runs.append(r)
        rows.append(r)
        print(f"{n} worker(s): {r['states']:,} states, search {r['search_s']} s, load {r['load_before']} -> {r['load_after']}",
              file=sys.stderr)
    if seq is not None:
        for r in runs:
            if (r["states"], r["edges"], r["verdicts"]) != (seq["states"], seq["edges"], seq["verdicts"]):
                print(f"MISMATCH with the sequential search at {r['workers']} workers", file=sys.stderr)
                return 1
    est = []
    if 1 in counts and len(runs) > 1:
        one = runs[counts.index(1)]
        est = estimate(one, runs[-1]) + estimate(one, runs[-1], task_s=1e-3)
    if args.json:
        print(json.dumps({"runs": rows, "estimate": est}, indent=2))
        return 0
    print(f"{'run':>12} {'states':>11} {'edges':>12} {'search s':>9} {'st/s wall':>10} {'vs 1':>5}  load before/after")
    base = next((r["search_s"] for r in runs if r["workers"] == 1), None)
    for r in rows:
        name = "sequential" if r["workers"] == 0 else f"{r['workers']} workers"
        ratio = f"{base / r['search_s']:.2f}" if base and r["workers"] else "-"
        load = f"{r.get('load_before', '')} / {r.get('load_after', '')}" if r["workers"] else ""
        print(f"{name:>12} {r['states']:>11,} {r['edges']:>12,} {r['search_s']:>9.2f} {r['states_per_s']:>10,} {ratio:>5}  {load}")
    print()
    print(f"{'workers':>7} {'worker':>6} {'states':>10} {'CPU s':>7} {'busy s':>7} {'st/CPU-s':>9} {'sent':>10} {'MB sent':>8} {'B/state':>8} {'MB held':>8}")
    for r in runs:
        for p in r["per_worker"]:
            print(f"{r['workers']:>7} {p['worker']:>6} {p['states']:>10,} {p['cpu_s']:>7.2f} {p['busy_s']:>7.2f} {p['states_per_cpu_s']:>9,} "
                  f"{p['states_sent']:>10,} {p['bytes_sent'] / 1e6:>8.1f} {p['bytes_per_sent_state']:>8} {p['memory_mb']:>8}")
    if est:
        print()
        print("estimate (perfect balance, one core per worker; see estimate() for the model):")
        print(f"{'workers':>7} {'task ms':>8} {'CPU s':>8} {'net s':>7} {'coord s':>8} {'total s':>8} {'st/s':>10} {'vs 1 CPU':>8}")
        for e in est:
            print(f"{e['workers']:>7} {e['assumed_task_ms']:>8} {e['cpu_s']:>8} {e['network_s']:>7} {e['coordination_s']:>8} "
                  f"{e['total_s']:>8} {e['states_per_s']:>10,} {e['speedup_vs_1']:>8}")
        print(f"(task ms: the scheduler's cost per task, as measured here, then Dask's documented 1 ms; "
              f"{est[0]['assumed_bandwidth_MBps']} MB/s per worker; 'vs 1 CPU': against one worker's CPU seconds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
