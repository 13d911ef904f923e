"""The search partitioned across Dask workers: old vs new loop, 1 vs N workers side by side, and an estimate for more.

For each variant ("old": every successor built by Engine.expand and owners by the
whole state; "new": the sequential search's incremental loop with ownership, owners
chosen from a sample) and worker count it prints the distinct states (which must equal
the sequential search's, printed first), the wall time of the search (cluster start-up
and trace re-execution apart), states per second of wall time, the critical-path CPU
seconds (per BFS level the slowest worker's CPU seconds, summed: what the search would
take on idle cores), states sent per state, bytes and messages (batches) per state; and
per worker: states owned, CPU seconds in expand / encode / receive, busy seconds and
the idle fraction of the search's wall time, states sent, the share of received states
the owner already had, bytes held. The load average is printed before and after each
run: the machine is shared, and wall-clock ratios mean little when other processes
hold the cores (CPU seconds still do, roughly).

From the measured CPU per state, CPU and bytes per state sent and the levels it then
estimates the search time on 16 and 64 workers of one core each (see ``estimate`` for
the model and its assumptions). Nothing is asserted; the numbers are printed.

Usage::

    python bench/bench_distributed.py                  # corrected, 3 orders, 1 crash each, old/new, workers 1,2
    python bench/bench_distributed.py --short          # 2 orders, seconds (CI)
    python bench/bench_distributed.py --orders 2 --crashes 1 --variants new --workers 1,2
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


VARIANTS = {
    # before: every successor built by Engine.expand, owners by the whole state
    "old": {"loop": "generic", "partition": None},
    # now: the incremental loop with ownership, owners chosen from a sample
    "new": {"loop": "auto", "partition": "auto"},
}


def run_distributed(system, config, workers: int, variant: str = "new") -> dict:
    load_before = _load()
    traffic: list = []
    timings: dict = {}
    r = explore_distributed(system, config, workers=workers, traffic=traffic, timings=timings, **VARIANTS[variant])
    search = max(timings["search"], 1e-9)
    per = []
    for t in traffic:
        x = t.extra
        per.append({
            "worker": t.worker, "states": t.states, "edges": t.edges, "cpu_s": t.cpu_seconds,
            "cpu_expand_s": round(x["cpu_expand"], 2), "cpu_encode_s": round(x["cpu_encode"], 2),
            "cpu_receive_s": round(x["cpu_receive"], 2),
            "busy_s": x["busy_seconds"], "idle_fraction": round(max(0.0, 1 - x["busy_seconds"] / search), 3),
            "states_per_cpu_s": round(t.states / max(t.cpu_seconds, 1e-9)),
            "states_sent": t.states_sent, "bytes_sent": t.bytes_sent, "batches_sent": x["batches_out"],
            "received": x["received"], "received_dup": x["received_dup"],
            "bytes_per_sent_state": round(t.bytes_sent / t.states_sent, 1) if t.states_sent else 0.0,
            "memory_mb": round(t.memory_bytes / 1e6, 1), "loop": x["loop"],
        })
    states = r.stats.states
    sent = sum(p["states_sent"] for p in per)
    return {
        "variant": variant, "workers": workers, "states": states, "edges": r.stats.edges, "depth": r.stats.depth,
        "partition": timings["partition"],
        "search_s": timings["search"], "startup_s": timings["startup"], "traces_s": timings["traces"],
        "liveness_s": timings["liveness"], "critical_cpu_s": timings["critical_cpu"],
        "cpu_s": round(sum(p["cpu_s"] for p in per), 2),
        "states_per_s": round(states / search),
        "sent_per_state": round(sent / states, 3),
        "bytes_per_state": round(sum(p["bytes_sent"] for p in per) / states, 2),
        "messages_per_state": round(sum(p["batches_sent"] for p in per) / states, 6),
        "per_worker": per, "load_before": load_before, "load_after": _load(),
        "verdicts": dict(r.verdicts), "notes": list(r.notes),
    }


def estimate(one: dict, many: dict, targets=(16, 64), bandwidth: float = 1.25e8, task_s: float = 1e-3) -> list[dict]:
    """Search time on ``targets`` workers from a 1-worker and a W-worker measurement (CPU
    seconds, so the shared machine's load matters less than in wall time).

    Model (perfect balance, one core per worker, every level a barrier):
    ``T(N) = S/N * (c + x(N) * m) + S/N * x(N) * b / bandwidth + levels * (N*N + N) * task``
    * ``c``: CPU seconds per state on one worker (no messages);
    * ``m``: CPU seconds per state sent (building it, encoding, sending, translating and
      deduplicating it at the owner), measured as the W-worker run's extra CPU over one
      worker's, per state sent;
    * ``x(N)``: states sent per state. With owners by the whole state (what the chooser
      picks at 16 and 64 workers: one participant's states are too few to spread), a
      successor crosses with probability (N-1)/N: x(N) = x_whole(W) * ((N-1)/N) / ((W-1)/W),
      from the W-worker run with whole-state owners (the "old" variant sends the same
      states as the new loop would with that partition);
    * ``b``: bytes per state sent, over ``bandwidth`` bytes/s per worker (1 Gbit/s);
    * per level an expand task per worker, a pick task per pair of workers and a receive
      per worker, at Dask's documented ~1 ms per task ("Each task suffers about 1ms of
      overhead"), all through the one scheduler.
    """
    states, levels = many["states"], max(many["depth"], 1)
    w = many["workers"]
    c = one["cpu_s"] / states
    sent = sum(p["states_sent"] for p in many["per_worker"])
    m = max(many["cpu_s"] - one["cpu_s"], 0.0) / sent if sent else 0.0
    b = sum(p["bytes_sent"] for p in many["per_worker"]) / sent if sent else 0.0
    whole = "sent_per_state_whole" in many
    x_whole = many["sent_per_state_whole" if whole else "sent_per_state"] / ((w - 1) / w)
    out = []
    for n in targets:
        x = x_whole * (n - 1) / n
        cpu = states / n * (c + x * m)
        net = states / n * x * b / bandwidth
        coord = levels * (n * n + n) * task_s
        total = cpu + net + coord
        out.append({
            "workers": n, "cpu_s": round(cpu, 2), "network_s": round(net, 2), "coordination_s": round(coord, 2),
            "total_s": round(total, 2), "states_per_s": round(states / total), "speedup_vs_1": round(states * c / total, 1),
            "speedup_without_coordination": round(states * c / (cpu + net), 1),
            "sent_per_state": round(x, 3), "cpu_per_state_us": round(c * 1e6, 2), "cpu_per_sent_us": round(m * 1e6, 2),
            "bytes_per_sent": round(b, 1),
            "sent_from": "whole-state owners (old run)" if whole else f"owners by {many['partition'] or 'the whole state'} (no old run)",
            "assumed_task_ms": round(task_s * 1e3, 3), "assumed_bandwidth_MBps": round(bandwidth / 1e6),
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated [1,2]")
    ap.add_argument("--variants", default="old,new", help="old (every successor built, whole-state owners), new [old,new]")
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
    variants = [v for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        print(f"--variants: unknown {', '.join(bad)} (expected old, new)", file=sys.stderr)
        return 2
    system = saga_system(args.design, orders=args.orders)
    config = Config(crashes=args.crashes, por=False)  # (the full search, as the workers do)
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
    for v in variants:
        for n in counts:
            r = run_distributed(system, config, n, v)
            runs.append(r)
            rows.append(r)
            print(f"{v} {n} worker(s): {r['states']:,} states, search {r['search_s']} s, critical CPU {r['critical_cpu_s']} s, "
                  f"load {r['load_before']} -> {r['load_after']}", file=sys.stderr)
    if seq is not None:
        for r in runs:
            if (r["states"], r["edges"], r["verdicts"]) != (seq["states"], seq["edges"], seq["verdicts"]):
                print(f"MISMATCH with the sequential search: {r['variant']}, {r['workers']} workers", file=sys.stderr)
                return 1
    est = []
    new = {r["workers"]: r for r in runs if r["variant"] == "new"}
    old = {r["workers"]: r for r in runs if r["variant"] == "old"}
    if 1 in new and len(new) > 1:
        many = dict(new[max(new)])
        if max(new) in old:
            many["sent_per_state_whole"] = old[max(new)]["sent_per_state"]
        est = estimate(new[1], many)
    if args.json:
        print(json.dumps({"runs": rows, "estimate": est}, indent=2))
        return 0
    print(f"{'run':>14} {'states':>11} {'search s':>9} {'st/s wall':>10} {'wall vs 1':>9} "
          f"{'crit CPU s':>10} {'CPU vs 1':>8} {'vs seq':>6} {'sent/st':>7} {'B/state':>7} {'msg/state':>9}  partition, load before/after")
    for r in rows:
        if r["workers"] == 0:
            print(f"{'sequential':>14} {r['states']:>11,} {r['search_s']:>9.2f} {r['states_per_s']:>10,} {'':>9} "
                  f"{r['cpu_s']:>10.2f}")
            continue
        base = (new if r["variant"] == "new" else old).get(1)
        wall = f"{base['search_s'] / r['search_s']:.2f}" if base else "-"
        cpu = f"{base['critical_cpu_s'] / r['critical_cpu_s']:.2f}" if base else "-"
        vs_seq = f"{seq['cpu_s'] / r['critical_cpu_s']:.2f}" if seq else "-"
        print(f"{r['variant'] + ' ' + str(r['workers']) + ' w':>14} {r['states']:>11,} {r['search_s']:>9.2f} {r['states_per_s']:>10,} "
              f"{wall:>9} {r['critical_cpu_s']:>10.2f} {cpu:>8} {vs_seq:>6} {r['sent_per_state']:>7} {r['bytes_per_state']:>7} "
              f"{r['messages_per_state']:>9.2g}  {r['partition']}, {r['load_before']} / {r['load_after']}")
    print("(crit CPU: per level the slowest worker's CPU seconds, summed: the search time on idle cores with free "
          "messages; 'CPU vs 1' compares it with the same variant on 1 worker, 'vs seq' with the sequential search's CPU)")
    print()
    print(f"{'run':>9} {'w':>2} {'states':>10} {'CPU s':>7} {'expand':>7} {'encode':>7} {'receive':>7} {'busy s':>7} "
          f"{'idle':>5} {'sent':>9} {'recv dup':>8} {'MB sent':>8} {'B/sent':>6} {'msgs':>5} {'MB held':>8}")
    for r in runs:
        for p in r["per_worker"]:
            dup = f"{p['received_dup'] / p['received']:.0%}" if p["received"] else "-"
            print(f"{r['variant'] + ' ' + str(r['workers']):>9} {p['worker']:>2} {p['states']:>10,} {p['cpu_s']:>7.2f} "
                  f"{p['cpu_expand_s']:>7.2f} {p['cpu_encode_s']:>7.2f} {p['cpu_receive_s']:>7.2f} {p['busy_s']:>7.2f} "
                  f"{p['idle_fraction']:>5.0%} {p['states_sent']:>9,} {dup:>8} {p['bytes_sent'] / 1e6:>8.1f} "
                  f"{p['bytes_per_sent_state']:>6} {p['batches_sent']:>5} {p['memory_mb']:>8}")
    print("(busy: wall seconds in the worker's expand and receive tasks; idle: the rest of the search's wall time, "
          "waiting at the level barrier, for the scheduler or for a core)")
    if est:
        print()
        print("estimate (perfect balance, whole-state owners, one core per worker; see estimate() for the model):")
        print(f"{'workers':>7} {'sent/st':>7} {'CPU s':>8} {'net s':>7} {'coord s':>8} {'total s':>8} {'st/s':>10} "
              f"{'vs 1':>6} {'vs 1 w/o coord':>14}")
        for e in est:
            print(f"{e['workers']:>7} {e['sent_per_state']:>7} {e['cpu_s']:>8} {e['network_s']:>7} {e['coordination_s']:>8} "
                  f"{e['total_s']:>8} {e['states_per_s']:>10,} {e['speedup_vs_1']:>6} {e['speedup_without_coordination']:>14}")
        e = est[0]
        print(f"(measured: {e['cpu_per_state_us']} us CPU per state on 1 worker, {e['cpu_per_sent_us']} us per state sent, "
              f"{e['bytes_per_sent']} B per state sent, states sent per state scaled from {e['sent_from']}; assumed: {e['assumed_bandwidth_MBps']} MB/s per worker, "
              f"{e['assumed_task_ms']} ms per Dask task, N*N+N tasks per level)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
