"""The search partitioned across Dask workers: old vs new, 1 vs N workers side by side, and an estimate for more.

Variants: "old" is the implementation before stable fingerprints and actors (a frozen
copy, ``bench/_old_distributed.py``: every successor another worker owns is built and
sent; per BFS level an expand task per worker, a pick task per pair of workers and a
receive task per worker); "prev" the one before the workers' canonical form became
process-independent (a frozen copy, ``bench/_prev_distributed.py``: the fingerprint
asked about was the least lane of the successor's fingerprint vector, computed for every
state kept or asked about and kept in a second visited dict); "new" is
``sagaspec.model.distributed`` (the fingerprint the search computes anyway is the same
in every process: one visited dict, nothing computed per state for the other workers);
"new-whole" is new with owners by the whole state (the partition the estimate scales
from); "new-hash" is new with the chosen participant's states placed by hash, as before
the sample's counts placed them (``balance=False``). All pick owners as the CLI does
(``partition="auto"``) unless said otherwise.

For each variant and worker count it prints the distinct states (which must equal the
sequential search's, printed first), the share of the states each worker owns (and the
share the sample predicted), the wall time of the search (cluster start-up and
shutdown and trace re-execution apart; "old" counts the shutdown in), states per second of wall time, the critical-path CPU
seconds (per round the slowest worker's CPU seconds, summed: what the search would take
on idle cores), fingerprints asked and states sent per state, bytes and messages per
state; and per worker: states owned, CPU seconds expanding / encoding / the rest
(answering and building), busy seconds and the idle fraction of the search's wall time,
fingerprints asked, states sent, the share of asked (new) or received (old) states the
owner already had, bytes held. The load average is printed before and after each run:
the machine is shared, and wall-clock ratios mean little when other processes hold the
cores (CPU seconds still do, roughly).

From the measured CPU per state, CPU and bytes per fingerprint asked and the levels it
then estimates the search time on 16 and 64 workers of one core each (see ``estimate``
for the model and its assumptions). Nothing is asserted; the numbers are printed.

Usage::

    python bench/bench_distributed.py                  # corrected, 3 orders, 1 crash (10.6M states): prev vs new, 1 and 2 workers
    python bench/bench_distributed.py --variants new-hash,new   # the same, owners by hash vs by the sample's counts
    python bench/bench_distributed.py --short          # 2 orders, seconds (CI): every variant, one cluster per worker count
    python bench/bench_distributed.py --orders 2 --crashes 1 --variants new,new-whole --workers 1,2
    python bench/bench_distributed.py --json
    python bench/bench_distributed.py --startup        # a local cluster's start and stop: spawned (old) vs forked (new) workers
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from sagaspec.model import Config, explore, saga_system
from sagaspec.model.distributed import explore_distributed, local_cluster

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # (Dask's workers inherit it)
from _old_distributed import explore_distributed as explore_distributed_old  # noqa: E402
from _prev_distributed import explore_distributed as explore_distributed_prev  # noqa: E402


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
    # before: every successor another worker owns built and sent; a task per pair of workers and level
    "old": (explore_distributed_old, {"loop": "auto", "partition": "auto"}),
    # before: the least lane of the fingerprint vector asked about, a second visited dict
    "prev": (explore_distributed_prev, {"loop": "auto", "partition": "auto"}),
    # now: stable fingerprints asked first, only the states the owner lacks sent; an actor per worker
    "new": (explore_distributed, {"loop": "auto", "partition": "auto"}),
    # now, owners by the whole state (what the estimate for many workers scales from)
    "new-whole": (explore_distributed, {"loop": "auto", "partition": None}),
    # now, the chosen participant's states placed by hash (before: not by the sample's counts)
    "new-hash": (explore_distributed, {"loop": "auto", "partition": "auto", "balance": False}),
}
# Variants that differ from "new" only in where states go: with 1 worker, the same run.
SAME_ON_ONE = ("new-whole", "new-hash")


def run_distributed(system, config, workers: int, variant: str = "new", cluster: str | None = None) -> dict:
    """One variant's search on ``workers`` local processes it starts, or on the running
    scheduler at ``cluster`` (which has ``workers`` workers)."""
    load_before = _load()
    traffic: list = []
    timings: dict = {}
    run, opts = VARIANTS[variant]
    where = {"cluster": cluster} if cluster else {"workers": workers}
    r = run(system, config, traffic=traffic, timings=timings, **where, **opts)
    search = max(timings["search"], 1e-9)
    per = []
    for t in traffic:
        x = t.extra
        per.append({
            "worker": t.worker, "states": t.states, "edges": t.edges, "cpu_s": t.cpu_seconds,
            "cpu_expand_s": round(x["cpu_expand"], 2), "cpu_encode_s": round(x["cpu_encode"], 2),
            "cpu_receive_s": round(x["cpu_receive"], 2),
            # (new: answering, building the states lacked, adding those received)
            **{f"{k}_s": round(x[k], 4) for k in ("cpu_claim", "cpu_build", "cpu_decode") if k in x},
            "busy_s": x["busy_seconds"], "idle_fraction": round(max(0.0, 1 - x["busy_seconds"] / search), 3),
            "states_per_cpu_s": round(t.states / max(t.cpu_seconds, 1e-9)),
            "states_sent": t.states_sent, "bytes_sent": t.bytes_sent, "batches_sent": x["batches_out"],
            "asked": sum(x.get("asked_to", [])),
            "received": x["received"], "received_dup": x["received_dup"],
            "bytes_per_sent_state": round(t.bytes_sent / t.states_sent, 1) if t.states_sent else 0.0,
            "memory_mb": round(t.memory_bytes / 1e6, 1), "loop": x["loop"],
        })
    states = r.stats.states
    sent = sum(p["states_sent"] for p in per)
    # The states expanded over those of the busiest worker, level by level (every level
    # ends at a barrier): the speedup the placement allows, whatever the load.
    widths = [t.extra["widths"] for t in traffic if "widths" in t.extra]
    levels = [max(ws) for ws in zip(*widths, strict=True)] if widths else []
    asked = sum(p["asked"] for p in per)
    return {
        "variant": variant, "workers": workers, "states": states, "edges": r.stats.edges, "depth": r.stats.depth,
        "partition": timings["partition"],
        "split": [round(p["states"] / states, 4) for p in per], "predicted": timings.get("predicted"),
        "sample_s": timings.get("sample"),
        "balance_bound": round(sum(map(sum, widths)) / sum(levels), 3) if levels else None,
        "search_s": timings["search"], "startup_s": timings["startup"], "shutdown_s": timings.get("shutdown"),
        "traces_s": timings["traces"],
        "liveness_s": timings["liveness"], "critical_cpu_s": timings["critical_cpu"],
        "cpu_s": round(sum(p["cpu_s"] for p in per), 2),
        "states_per_s": round(states / search),
        "sent_per_state": round(sent / states, 3),
        "asked_per_state": round(asked / states, 3),
        "bytes_per_state": round(sum(p["bytes_sent"] for p in per) / states, 2),
        "messages_per_state": round(sum(p["batches_sent"] for p in per) / states, 6),
        "per_worker": per, "load_before": load_before, "load_after": _load(),
        "verdicts": dict(r.verdicts), "notes": list(r.notes),
    }


def estimate(one: dict, many: dict, targets=(16, 64), bandwidth: float = 1.25e8, call_s: float = 1e-3,
             lack_us: float = 12.0) -> list[dict]:
    """Search time on ``targets`` workers from a 1-worker and a W-worker measurement of the
    new search (CPU seconds, so the shared machine's load matters less than in wall time).

    Model (perfect balance, one core per worker, every round a barrier):
    ``T(N) = S/N * (c + a(N) * m + l(N) * k) + 2 * S * (a(N) * 8 + l(N) * b) / bandwidth + levels * 3 * N * call``
    * ``c``: CPU seconds per state on one worker (nothing asked);
    * ``l(N)``: states lacked per state: a state whose owner has none of its parents
      must be built by another worker and sent. With whole-state owners a parent is the
      owner's with probability 1/N, so l(N) = (1 - 1/N)**r, ``r`` (parents per state,
      in effect) fitted to the W-worker run: r = ln l(W) / ln(1 - 1/W);
    * ``k``: CPU seconds per state lacked (the sender expanding its parent again and
      encoding it, the owner decoding and canonicalizing it): measured build and decode
      CPU per state sent when the run reports them, else ``lack_us``;
    * ``a(N)``: fingerprints asked per state, a_whole(W) * ((N-1)/N) / ((W-1)/W), from
      the W-worker run with whole-state owners ("new-whole"; else the chosen owners');
    * ``m``: the rest of the W-worker run's extra CPU over one worker's (stable
      fingerprints of the states kept and asked, asking, answering), per fingerprint asked;
    * ``b``: bytes per state sent; every message goes through the driver, in and out,
      over its ``bandwidth`` (1 Gbit/s);
    * per level three rounds, each one actor call per worker issued by the driver, at
      ``call`` seconds each (1 ms assumed).
    """
    import math

    states, levels = many["states"], max(many["depth"], 1)
    w = many["workers"]
    per = many["per_worker"]
    c = one["cpu_s"] / states
    asked = sum(p["asked"] for p in per)
    lacked = sum(p["states_sent"] for p in per)
    if all("cpu_build_s" in p for p in per) and lacked:
        k = sum(p["cpu_build_s"] + p["cpu_decode_s"] for p in per) / lacked
    else:
        k = lack_us * 1e-6
    extra = max(many["cpu_s"] - one["cpu_s"], 0.0)
    m = max(extra - lacked * k, 0.0) / asked if asked else 0.0
    total_bytes = sum(p["bytes_sent"] for p in per)
    b = max(total_bytes - 8 * asked - 4 * lacked, 0) / lacked if lacked else 0.0
    a_whole = many["asked_per_state"] / ((w - 1) / w)
    l_w = lacked / states
    r = math.log(l_w) / math.log(1 - 1 / w) if 0 < l_w < 1 else 0.0
    out = []
    for n in targets:
        a = a_whole * (n - 1) / n
        lack = (1 - 1 / n) ** r if r else 0.0
        cpu = states / n * (c + a * m + lack * k)
        net = 2 * states * (a * 8 + lack * b) / bandwidth
        coord = levels * 3 * n * call_s
        total = cpu + net + coord
        out.append({
            "workers": n, "cpu_s": round(cpu, 2), "network_s": round(net, 2), "coordination_s": round(coord, 2),
            "total_s": round(total, 2), "states_per_s": round(states / total), "speedup_vs_1": round(states * c / total, 1),
            "speedup_without_coordination": round(states * c / (cpu + net), 1),
            "asked_per_state": round(a, 3), "lacked_per_state": round(lack, 3), "parents_r": round(r, 2),
            "cpu_per_state_us": round(c * 1e6, 2), "cpu_per_asked_us": round(m * 1e6, 2),
            "cpu_per_lacked_us": round(k * 1e6, 2), "bytes_per_lacked": round(b, 1),
            "asked_from": f"owners by {many['partition'] or 'the whole state'} ({many['variant']} run)",
            "assumed_call_ms": round(call_s * 1e3, 3), "assumed_bandwidth_MBps": round(bandwidth / 1e6),
        })
    return out


def _local_clusters(counts) -> dict:
    """A local Dask cluster per worker count, as the search starts one (the workers
    inherit this script's folder on sys.path: the frozen copies import from it)."""
    made = {}
    try:
        for n in counts:
            made[n] = local_cluster(n)
    except BaseException:
        for c in made.values():
            c.close()
        raise
    return made


_STARTUP_CODE = """
import json, logging, resource, sys, time
from distributed import Client, LocalCluster
from sagaspec.model.distributed import local_cluster

def main(method, n):
    t = time.perf_counter()
    if method == "old":  # as local_cluster was: Dask's default start method (spawn)
        c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                         memory_limit=0, silence_logs=logging.ERROR)
    else:
        c = local_cluster(n)
    started = time.perf_counter()
    with Client(c) as client:
        assert len(client.scheduler_info()["workers"]) == n
        # (what a worker imports for its actor, as a search's first call makes it)
        client.run(lambda: __import__("sagaspec.model.distributed"))
    ready = time.perf_counter()
    closing = time.perf_counter()
    c.close()
    stopped = time.perf_counter()
    if method != "old":  # (stopped and waited for, its CPU and its workers' count below)
        from multiprocessing import forkserver
        forkserver._forkserver._stop()
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"start_s": round(started - t, 3), "ready_s": round(ready - t, 3), "stop_s": round(stopped - closing, 3),
                      "cpu_s": round(cpu, 2)}))

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
"""


def startup(counts, repeat: int = 3) -> list[dict]:
    """A local cluster's start-up and shutdown, old (spawned workers) and new
    (:func:`~sagaspec.model.distributed.local_cluster`: forked from a fork server), each
    in a fresh interpreter, as ``--workers N`` runs: wall seconds of the start, the stop
    and the whole command, and the CPU seconds of the process and all its children (the
    fork server, stopped and waited for, and through it its workers)."""
    import subprocess
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "startup.py")
        with open(script, "w") as f:
            f.write(_STARTUP_CODE)
        for n in counts:
            for variant in ("old", "new"):
                for _ in range(repeat):
                    t = time.perf_counter()
                    out = subprocess.run([sys.executable, script, variant, str(n)], capture_output=True, text=True,
                                         check=True)
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    rows.append({"variant": variant, "workers": n, **r,
                                 "command_s": round(time.perf_counter() - t, 3), "load": _load()})
    return rows


def _split(shares) -> str:
    return "/".join(f"{100 * x:.1f}" for x in shares) if shares else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated [1,2]")
    ap.add_argument("--variants", default=None,
                    help="old and prev (the frozen copies), new, new-whole (new with whole-state owners), "
                         "new-hash (new with the participant's states placed by hash) [prev,new; with --short all]")
    ap.add_argument("--design", default="corrected")
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--crashes", type=int, default=1)
    ap.add_argument("--short", action="store_true",
                    help="2 orders, no crash, one local cluster per worker count shared by every variant "
                         "(start-up not measured): seconds (CI)")
    ap.add_argument("--no-sequential", action="store_true", help="skip the sequential reference run")
    ap.add_argument("--startup", action="store_true",
                    help="only a local cluster's start-up and shutdown per worker count: spawned workers (old) "
                         "vs forked from a fork server (new), 3 times each")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.short:
        args.orders, args.crashes = 2, 0
    if args.variants is None:
        args.variants = ",".join(VARIANTS) if args.short else "prev,new"
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    variants = [v for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        print(f"--variants: unknown {', '.join(bad)} (expected {', '.join(VARIANTS)})", file=sys.stderr)
        return 2
    if args.startup:
        rows = startup(counts)
        if args.json:
            print(json.dumps({"startup": rows}, indent=2))
            return 0
        print(f"{'variant':>7} {'w':>2} {'start s':>8} {'ready s':>8} {'stop s':>7} {'command s':>10} {'CPU s':>6}  load")
        for r in rows:
            print(f"{r['variant']:>7} {r['workers']:>2} {r['start_s']:>8.2f} {r['ready_s']:>8.2f} {r['stop_s']:>7.2f} "
                  f"{r['command_s']:>10.2f} "
                  f"{r['cpu_s']:>6.2f}  "
                  f"{r['load']}")
        print("(start: LocalCluster() until its workers are up; ready: until each has also imported the search's "
              "module, as its first actor makes it; stop: its close(); command: the whole process, "
              "interpreter and imports included; CPU: that process's and its children's; old: spawned workers, Dask's default; new: local_cluster(), "
              "workers forked from a fork server that has imported Dask)")
        return 0
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
    # The short form checks counts, not start-up: one cluster per worker count serves every
    # variant (a cluster's spawned workers were most of its CPU: 8 start-ups, now 2).
    clusters = _local_clusters(counts) if args.short else {}
    try:
        for v in variants:
            for n in counts:
                if v in SAME_ON_ONE and n == 1:
                    continue  # (one worker owns everything: the same run as new)
                r = run_distributed(system, config, n, v, clusters[n].scheduler_address if clusters else None)
                runs.append(r)
                rows.append(r)
                print(f"{v} {n} worker(s): {r['states']:,} states, search {r['search_s']} s, critical CPU {r['critical_cpu_s']} s, "
                      f"split {'/'.join(f'{x:.1%}' for x in r['split'])}, "
                      + (f"owners chosen in {r['sample_s']} s (start-up), " if r["sample_s"] is not None else "")
                      + f"load {r['load_before']} -> {r['load_after']}", file=sys.stderr)
    finally:
        if clusters:
            import logging

            logging.getLogger("distributed").setLevel(logging.ERROR)  # (closing logs at INFO)
        for c in clusters.values():
            c.close()
    if seq is not None:
        for r in runs:
            if (r["states"], r["edges"], r["verdicts"]) != (seq["states"], seq["edges"], seq["verdicts"]):
                print(f"MISMATCH with the sequential search: {r['variant']}, {r['workers']} workers", file=sys.stderr)
                return 1
    est = []
    by = {v: {r["workers"]: r for r in runs if r["variant"] == v} for v in VARIANTS}
    new = by["new"]
    for v in SAME_ON_ONE:
        by[v].setdefault(1, new.get(1))
    if 1 in new and len(new) > 1:
        w = max(new)
        est = estimate(new[1], by["new-whole"].get(w) or new[w])
    if args.json:
        print(json.dumps({"runs": rows, "estimate": est}, indent=2))
        return 0
    print(f"{'run':>16} {'states':>11} {'search s':>9} {'st/s wall':>10} {'wall vs 1':>9} "
          f"{'crit CPU s':>10} {'CPU vs 1':>8} {'vs seq':>6} {'asked/st':>8} {'sent/st':>7} {'B/state':>7} {'msg/state':>9}"
          f" {'split %':>11} {'predicted':>11} {'bound':>5}  partition, load before/after")
    for r in rows:
        if r["workers"] == 0:
            print(f"{'sequential':>16} {r['states']:>11,} {r['search_s']:>9.2f} {r['states_per_s']:>10,} {'':>9} "
                  f"{r['cpu_s']:>10.2f}")
            continue
        base = by[r["variant"]].get(1)
        wall = f"{base['search_s'] / r['search_s']:.2f}" if base else "-"
        cpu = f"{base['critical_cpu_s'] / r['critical_cpu_s']:.2f}" if base else "-"
        vs_seq = f"{seq['cpu_s'] / r['critical_cpu_s']:.2f}" if seq else "-"
        print(f"{r['variant'] + ' ' + str(r['workers']) + ' w':>16} {r['states']:>11,} {r['search_s']:>9.2f} "
              f"{r['states_per_s']:>10,} {wall:>9} {r['critical_cpu_s']:>10.2f} {cpu:>8} {vs_seq:>6} "
              f"{r['asked_per_state']:>8} {r['sent_per_state']:>7} {r['bytes_per_state']:>7} "
              f"{r['messages_per_state']:>9.2g} {_split(r['split']):>11} {_split(r['predicted']):>11} "
              f"{r['balance_bound'] or '-':>5}  "
              f"{r['partition']}, {r['load_before']} / {r['load_after']}")
    print("(crit CPU: per level (old) or round (new) the slowest worker's CPU seconds, summed: the search time on idle "
          "cores with free messages; 'wall vs 1' and 'CPU vs 1' compare with the same implementation on 1 worker "
          "(new-whole and new-hash with new), 'split': each worker's share of the states, 'predicted': that share "
          "in the sample the owners were chosen by, 'bound': the states expanded over the busiest worker's, "
          "level by level (the speedup the placement allows on idle cores), 'vs seq' with the sequential search's CPU; asked: stable fingerprints sent to "
          "their owners, sent: states sent)")
    print()
    print(f"{'run':>11} {'w':>2} {'states':>10} {'CPU s':>7} {'expand':>7} {'encode':>7} {'rest':>7} {'decode':>7} {'busy s':>7} "
          f"{'idle':>5} {'asked':>9} {'sent':>9} {'dup':>5} {'MB sent':>8} {'msgs':>5} {'MB held':>8}")
    for r in runs:
        for p in r["per_worker"]:
            dup = f"{p['received_dup'] / p['received']:.0%}" if p["received"] else "-"
            print(f"{r['variant'] + ' ' + str(r['workers']):>11} {p['worker']:>2} {p['states']:>10,} {p['cpu_s']:>7.2f} "
                  f"{p['cpu_expand_s']:>7.2f} {p['cpu_encode_s']:>7.2f} {p['cpu_receive_s']:>7.2f} "
                  f"{p.get('cpu_decode_s', 0.0):>7.2f} {p['busy_s']:>7.2f} "
                  f"{p['idle_fraction']:>5.0%} {p['asked']:>9,} {p['states_sent']:>9,} {dup:>5} {p['bytes_sent'] / 1e6:>8.1f} "
                  f"{p['batches_sent']:>5} {p['memory_mb']:>8}")
    print("(expand includes decode: adding the states received; rest: receiving (old), answering and building (new); "
          "busy: wall seconds in the worker's tasks or actor calls; idle: the rest of the search's wall time, waiting "
          "at a barrier, for the scheduler or for a core; dup: of the fingerprints asked of (new) or states sent to "
          "(old) this worker, the share it already had)")
    if est:
        print()
        print("estimate (perfect balance, one core per worker; see estimate() for the model):")
        print(f"{'workers':>7} {'asked/st':>8} {'lacked/st':>9} {'CPU s':>8} {'net s':>7} {'coord s':>8} {'total s':>8} "
              f"{'st/s':>10} {'vs 1':>6} {'vs 1 w/o coord':>14}")
        for e in est:
            print(f"{e['workers']:>7} {e['asked_per_state']:>8} {e['lacked_per_state']:>9} {e['cpu_s']:>8} "
                  f"{e['network_s']:>7} {e['coordination_s']:>8} {e['total_s']:>8} {e['states_per_s']:>10,} "
                  f"{e['speedup_vs_1']:>6} {e['speedup_without_coordination']:>14}")
        e = est[0]
        print(f"(measured: {e['cpu_per_state_us']} us CPU per state on 1 worker, {e['cpu_per_asked_us']} us per "
              f"fingerprint asked, {e['cpu_per_lacked_us']} us and {e['bytes_per_lacked']} B per state lacked, "
              f"{e['parents_r']} parents per state in effect; asked per state scaled from {e['asked_from']}; "
              f"assumed: {e['assumed_bandwidth_MBps']} MB/s at the driver, which relays every message, "
              f"{e['assumed_call_ms']} ms per actor call, 3 rounds of N calls per level)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
