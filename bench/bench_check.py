"""Benchmark of the model checker on the order saga (and two-phase commit).

Prints, for standard configurations: distinct states, edges, depth, wall and CPU
seconds, states per second (wall and CPU: this machine is shared, and "one core" is
what CPU time measures), the explorer's own bytes-per-state accounting, and the same
run with and without symmetry reduction. Times cover the whole ``explore()`` call;
``search st/s`` divides by the CPU time of the search and cycle analysis alone
(``Stats.cpu_seconds``), without shrinking and rendering counterexamples, which
dominates the small runs that find violations. ``--memory`` adds a tracemalloc run that
measures the real Python heap per stored state to cross-check the accounting.

Targets (issue 3): >= 100,000 distinct states/s on one core, < 300 bytes per stored
state, ``corrected`` with 3 orders and duplicates verified in < 60 s. Nothing here
asserts a timing; it prints numbers and ratios.

Partial-order reduction (on by default, ``Config(por=None)``) runs beside every
symmetric run: states, states/s and time to verdict without it (``por=False``), with it
by participant (every step of a participant and of whoever may send to it) and with it
by saga (the default for compiled specs on an unordered bus: steps of different sagas
commute unless they touch a shared variable), and the ratios; the saga-level reduction
also runs in the old reduced loop (every successor built through ``Engine.expand``, then
reduced) beside the new generated one (reduced while expanding), old vs new. ``--long`` adds the
issue-14 headline configuration (corrected, 3 orders, duplicates, 1 crash each: about
10.6M states; minutes per run).

Usage::

    python bench/bench_check.py            # standard configurations (about 1-2 minutes)
    python bench/bench_check.py --short    # a few seconds, for CI
    python bench/bench_check.py --memory   # plus tracemalloc cross-check (slower)
    python bench/bench_check.py --json     # machine-readable
    python bench/bench_check.py --only "3 orders" --repeat 3   # a subset, best of 3 runs
    python bench/bench_check.py --long --only "1 crash"   # with the 10.6M-state run
    python bench/bench_check.py --sagas 5 --sagas 6 --max-states 100000
        # symmetry for many sagas: the general canonical form (least of n! renamings)
        # and the sorted one (sagas sorted by signature) side by side, same bounds
    python bench/bench_check.py --issue14   # the issue-14 numbers (about 20-30 minutes)
    python bench/bench_check.py --issue14 --only headline   # a subset of its rows
    python bench/bench_check.py --por-select --repeat 3   # the stubborn-set selection, old vs new
    python bench/bench_check.py --liveness   # eventually/leads_to with symmetry, old vs new

``--por-select`` compares the stubborn-set selection before it was made cheaper (a
frozen copy, ``bench/_old_por.py``) with the shipped one, on the reduced (default)
search: each configuration's whole ``explore()`` with either (states, CPU seconds,
states/s; the states and edges must be equal), and both selections replayed on the
states the search asked about (microseconds of CPU per state, and whether every answer
is the same). The last row is the issue-14 headline (corrected, 3 orders, duplicates,
1 crash each: 596k states with the reduction).

``--issue14`` prints the numbers issue 14 asks for, each run in a fresh process so its
peak RSS is its own: the headline configuration (corrected, 3 orders, duplicates, 1
crash each) with partial-order reduction (the default) and without it (10.6M states),
states/s at 1M, 10M and 20M states (the reduced search off, bounded by --max-states
where the configuration is larger), the peak memory per state (the process's peak RSS
above its RSS before the search, per state, and the explorer's own accounting), 4
orders with 1 crash each to completion, and the distributed search
(``sagaspec.model.distributed.explore_distributed``) on 1 and 2 workers. Every
sequential row runs old and new side by side: "old" is the search loops as before the
lean loops (a visited dict from fingerprints to state numbers, and the state graph kept
whenever there are at_rest properties: ``explore._LEAN = False``; and the first
garbage collection after the search traversing all it left alive:
``explore._GC_HANDOFF = False``), "new" the lean loops (sets of fingerprints; the graph
kept only once the search meets an edge back) and the survivors handed to the oldest
generation without a traversal.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
import tracemalloc
from contextlib import nullcontext
from importlib import import_module
from pathlib import Path
from unittest import mock

from sagaspec.model import Config, Msg, Outcome, Participant, Property, System, explore
from sagaspec.model._por import Reducer, reducer_for
from sagaspec.model.saga import saga_system


def two_phase(rms: int) -> System:
    """Two-phase commit, as in tests/model/test_twophase.py (kept here so bench runs alone)."""

    class TM(Participant):
        name = "tm"
        subscribes = frozenset({"Prepared"})

        def init(self):
            return ("init", frozenset())

        def on_event(self, state, msg):
            return (Outcome("note", (state[0], state[1] | {msg.src})),)

        def internal(self, state):
            if state[0] != "init":
                return ()
            out = [Outcome("abort", ("aborted", state[1]), (Msg("Abort", 0, "tm"),))]
            if len(state[1]) == rms:
                out.insert(0, Outcome("commit", ("committed", state[1]), (Msg("Commit", 0, "tm"),)))
            return tuple(out)

    class RM(Participant):
        subscribes = frozenset({"Commit", "Abort"})

        def __init__(self, i):
            self.name = f"rm{i}"

        def init(self):
            return "working"

        def internal(self, state):
            if state != "working":
                return ()
            return (Outcome("prepare", "prepared", (Msg("Prepared", 0, self.name),)), Outcome("abort", "aborted"))

        def on_event(self, state, msg):
            return (Outcome("obey", "committed" if msg.type == "Commit" else "aborted"),)

    names = [f"rm{i}" for i in range(rms)]
    return System(
        (TM(), *(RM(i) for i in range(rms))),
        (Property.always("consistent", lambda v: not (
            {v[n] for n in names} >= {"committed", "aborted"})),),
        name=f"two-phase-commit/{rms}",
    )


def workers(k: int, steps: int) -> System:
    """k independent workers of ``steps`` internal steps each, reporting to a sink: the
    shape partial-order reduction is made for (k! interleavings, one of which it keeps)."""

    class Worker(Participant):
        subscribes = frozenset()
        publishes = frozenset({"Done"})

        def __init__(self, i):
            self.name = f"w{i}"

        def init(self):
            return 0

        def internal(self, state):
            if state >= steps:
                return ()
            return (Outcome("work", state + 1, (Msg("Done", 0, self.name),) if state + 1 == steps else ()),)

        def on_event(self, state, msg):
            return (Outcome("ignore", state),)

    class Sink(Participant):
        name = "sink"
        subscribes = frozenset({"Done"})
        publishes = frozenset()

        def init(self):
            return 0

        def on_event(self, state, msg):
            return (Outcome("count", state + 1),)

    return System(
        (*(Worker(i) for i in range(k)), Sink()),
        (Property.always("sink-bounded", lambda v: v["sink"] <= k),
         Property.at_rest("all-done", lambda v: v["sink"] == k)),
        name=f"workers/{k}x{steps}",
    )


# name, system factory, config
FULL = [
    ("corrected 2 orders, dups", lambda: saga_system("corrected", orders=2), Config()),
    ("corrected 2 orders, dups, 1 crash each", lambda: saga_system("corrected", orders=2), Config(crashes=1)),
    ("corrected 3 orders, dups", lambda: saga_system("corrected", orders=3), Config()),
    ("corrected 3 orders, no dups", lambda: saga_system("corrected", orders=3), Config(duplicates=0)),
    ("corrected 3 orders, no dups, 1 crash each", lambda: saga_system("corrected", orders=3),
     Config(duplicates=0, crashes=1)),
    ("corrected 3 orders, FIFO, dups", lambda: saga_system("corrected", orders=3), Config(bus="fifo", duplicates=1)),
    ("corrected 2 orders, FIFO, dups, 1 crash", lambda: saga_system("corrected", orders=2),
     Config(bus="fifo", duplicates=1, crashes=1)),
    ("seed 2 orders, dups (finds violations)", lambda: saga_system("seed", orders=2), Config()),
    ("seed 2 orders, no idempotency", lambda: saga_system("seed", orders=2), Config(idempotency=False)),
    ("two-phase commit, 5 RMs, dups", lambda: two_phase(5), Config()),
    ("independent workers, 6 x 4 steps", lambda: workers(6, 4), Config(bus="unordered", idempotency=False)),
]
LONG = [
    ("corrected 3 orders, dups, 1 crash each", lambda: saga_system("corrected", orders=3), Config(crashes=1)),
]
SHORT = [
    ("corrected 2 orders, dups", lambda: saga_system("corrected", orders=2), Config()),
    ("seed 2 orders, dups (finds violations)", lambda: saga_system("seed", orders=2), Config()),
    ("independent workers, 4 x 4 steps", lambda: workers(4, 4), Config(bus="unordered", idempotency=False)),
]
MEMORY = ("corrected 2 orders, dups, 1 crash each", lambda: saga_system("corrected", orders=2), Config(crashes=1))
MEMORY_SHORT = ("corrected 2 orders, dups", lambda: saga_system("corrected", orders=2), Config())


def run(name: str, factory, config: Config, units: str = "saga") -> dict:
    """One ``explore()``; ``units="participant"`` forces the per-participant reduction,
    ``units="saga-old"`` the saga-level one in the old reduced loop (every state
    expanded in full through ``Engine.expand``, then reduced: ``_por.run_reduced``)
    instead of the generated loop."""
    system = factory()
    gc.collect()
    explore_module = import_module("sagaspec.model.explore")
    if units == "participant":
        patch = mock.patch.object(explore_module, "reducer_for", Reducer)
    elif units == "saga-old":
        patch = mock.patch.object(explore_module, "_REDUCED_GENERIC", True)
    else:
        patch = nullcontext()
    wall = time.perf_counter()
    cpu = time.process_time()
    with patch:
        result = explore(system, config)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    st = result.stats
    return {
        "name": name,
        "symmetry": config.symmetry,
        "por": config.por,
        "units": units if config.por else "",
        "por_used": any(n.startswith("partial-order reduction: ") and "again" not in n for n in result.notes),
        "states": st.states,
        "edges": st.edges,
        "depth": st.depth,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "states_per_s_wall": round(st.states / wall),
        "states_per_s_cpu": round(st.states / cpu),
        "search_states_per_s_cpu": round(st.states / max(st.cpu_seconds, 1e-3)),
        "bytes_per_state": st.bytes_per_state,
        "ok": result.ok,
        "violated": sorted(v.property for v in result.violations),
    }


def sagas_sweep(counts: list[int], max_states: int | None, repeat: int) -> list[dict]:
    """The order saga (corrected, exactly-once bus) with n sagas under symmetry, with the
    general canonical form and with the sorted one, over the same first ``max_states``
    states of the breadth-first search."""
    import sagaspec.model.engine as engine_module

    out = []
    default = engine_module.SORTED_MIN_PERMS
    for n in counts:
        system = saga_system("corrected", orders=n)
        cfg = Config(bus="unordered", symmetry=True)
        for form, threshold in (("general", 10**18), ("sorted", 0)):
            if form == "general" and n > 6:
                continue  # n! renamings: not offered
            engine_module.SORTED_MIN_PERMS = threshold
            try:
                best = None
                for _ in range(max(repeat, 1)):
                    gc.collect()
                    cpu = time.process_time()
                    result = explore(system, cfg, max_states=max_states)
                    cpu = time.process_time() - cpu
                    if best is None or cpu < best[1]:
                        best = (result, cpu)
            finally:
                engine_module.SORTED_MIN_PERMS = default
            result, cpu = best
            out.append({
                "sagas": n, "form": form, "states": result.stats.states, "edges": result.stats.edges,
                "complete": result.complete, "cpu_s": round(cpu, 2), "states_per_s_cpu": round(result.stats.states / cpu),
            })
    return out


def traced(name: str, factory, config: Config) -> dict:
    """The real Python heap per stored state, measured with tracemalloc."""
    system = factory()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = explore(system, config)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = result.stats.states
    return {
        "name": name,
        "symmetry": config.symmetry,
        "states": n,
        "traced_peak_bytes_per_state": round((peak - base) / n, 1),
        "accounted_bytes_per_state": result.stats.bytes_per_state,
    }


# --------------------------------------------------------------------------- POR selection
POR_SELECT = [
    ("corrected 2 orders, dups", lambda: saga_system("corrected", orders=2), Config()),
    ("corrected 2 orders, dups, 1 crash each", lambda: saga_system("corrected", orders=2), Config(crashes=1)),
    ("corrected 3 orders, dups", lambda: saga_system("corrected", orders=3), Config()),
    ("corrected 2 orders, FIFO, dups, 1 crash", lambda: saga_system("corrected", orders=2),
     Config(bus="fifo", duplicates=1, crashes=1)),
    ("independent workers, 6 x 4 steps", lambda: workers(6, 4), Config(bus="unordered", idempotency=False)),
    ("headline: corrected, 3 orders, dups, 1 crash each", lambda: saga_system("corrected", orders=3),
     Config(crashes=1)),
]
POR_SELECT_SHORT = POR_SELECT[:2]


def _old_selection_class():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from _old_por import OldSelection
    finally:
        sys.path.pop(0)
    return OldSelection


def _por_reducers(made: list, old_selection=None, inputs: list | None = None):
    """A ``reducer_for`` that keeps what it makes in ``made``, with the old selection
    (``old_selection``) or recording each ``select`` call into ``inputs``."""

    def make(engine):
        reducer = reducer_for(engine)
        made.append(reducer)
        if old_selection is not None:
            reducer.select = old_selection(reducer).select
        elif inputs is not None:
            real = reducer.select

            def select(state, supports, active=-1):
                inputs.append((state, supports, active))
                return real(state, supports, active)

            reducer.select = select
        return reducer

    return make


def por_select(configs: list, repeat: int) -> list[dict]:
    """Old vs new stubborn-set selection on each configuration (see the module doc)."""
    old_selection = _old_selection_class()
    explore_module = import_module("sagaspec.model.explore")
    rows = []
    for name, factory, config in configs:
        inputs: list = []
        reducers: list = []
        with mock.patch.object(explore_module, "reducer_for", _por_reducers(reducers, inputs=inputs)):
            explore(factory(), config)  # (untimed: records the states the search asks about)
        best: dict[str, tuple] = {}
        for _ in range(max(repeat, 1)):
            for variant in ("old", "new"):
                system = factory()
                gc.collect()
                cpu = time.process_time()
                make = _por_reducers([], old_selection if variant == "old" else None)
                with mock.patch.object(explore_module, "reducer_for", make):
                    result = explore(system, config)
                cpu = time.process_time() - cpu
                if variant not in best or cpu < best[variant][1]:
                    best[variant] = (result, cpu)
        # Both selections replayed on the recorded states (fresh memos each time).
        engine = reducers[-1].engine
        replay: dict[str, float] = {}
        same = True
        for _ in range(max(repeat, 1)):
            for variant in ("old", "new"):
                fresh = reducer_for(engine)
                select = old_selection(fresh).select if variant == "old" else fresh.select
                gc.collect()
                cpu = time.process_time()
                answers = [select(*x) for x in inputs]
                cpu = time.process_time() - cpu
                replay[variant] = min(replay.get(variant, cpu), cpu)
                if variant == "old":
                    old_answers = answers
                else:
                    same = same and answers == old_answers
        o, n = best["old"], best["new"]
        rows.append({
            "name": name,
            "reducer": type(reducers[-1]).__name__,
            "states": [o[0].stats.states, n[0].stats.states],
            "edges": [o[0].stats.edges, n[0].stats.edges],
            "same_verdicts": o[0].verdicts == n[0].verdicts,
            "cpu_s": [round(o[1], 2), round(n[1], 2)],
            "states_per_s_cpu": [round(o[0].stats.states / o[1]), round(n[0].stats.states / n[1])],
            "selections": len(inputs),
            "select_us_per_state": [round(1e6 * replay["old"] / max(len(inputs), 1), 2),
                                    round(1e6 * replay["new"] / max(len(inputs), 1), 2)],
            "same_selections": same,
        })
    return rows


def print_por_select(rows: list[dict]) -> None:
    print("stubborn-set selection, old (bench/_old_por.py) / new, the reduced search (best CPU of the repeats):")
    head = (f"{'configuration':50} {'units':5} {'states old/new':>19} {'cpu s old/new':>13} "
            f"{'st/s cpu old/new':>17} {'speed':>5}  {'select us/state old/new':>23} {'speed':>5}  same")
    print(head)
    print("-" * len(head))
    for r in rows:
        so, sn = r["states"]
        co, cn = r["cpu_s"]
        ro, rn = r["states_per_s_cpu"]
        uo, un = r["select_us_per_state"]
        same = (so == sn and r["edges"][0] == r["edges"][1] and r["same_verdicts"] and r["same_selections"])
        print(f"{r['name']:50} {'saga' if r['reducer'] == 'SagaReducer' else 'part':5} {so:>9,}/{sn:<9,} "
              f"{co:>6.2f}/{cn:<6.2f} {ro:>8,}/{rn:<8,} {ro and rn / ro:>4.2f}x  {uo:>11.2f}/{un:<11.2f} "
              f"{un and uo / un:>4.2f}x  {'yes' if same else 'NO: DIFFERENT'}")


# --------------------------------------------------------------------------- liveness under symmetry
LIVENESS = """\
  open-order-ends:
    leads_to: {from: "order.status == 'open'", to: "order.status == 'completed' || order.status == 'cancelled'"}
  order-ends:
    eventually: "order.status == 'completed' || order.status == 'cancelled'"
"""
LIVENESS_RUNS = [("seed", 2), ("corrected", 2), ("seed", 3), ("corrected", 3)]


def liveness_runs(runs: list[tuple[str, int]], repeat: int) -> list[dict]:
    """The order designs with a per-saga leads_to and eventually added, symmetry asked
    for: old (symmetry switched off for them, ``explore._FAIR_QUOTIENT = False``) vs new
    (the quotient with each edge's renaming carried along)."""
    import tempfile

    explore_module = import_module("sagaspec.model.explore")
    root = Path(__file__).resolve().parents[1] / "spec" / "sagas"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for design, orders in runs:
            head, sep, tail = (root / f"order-{design}.saga.yaml").read_text().partition("\nproperties:\n")
            spec = Path(tmp) / f"order-{design}-live.saga.yaml"
            spec.write_text(head + sep + LIVENESS + tail)
            best: dict[str, tuple] = {}
            for _ in range(max(repeat, 1)):
                for variant in ("old", "new"):
                    system = saga_system(spec, orders=orders)
                    gc.collect()
                    cpu = time.process_time()
                    with mock.patch.object(explore_module, "_FAIR_QUOTIENT", variant == "new"):
                        result = explore(system, Config(symmetry=True))
                    cpu = time.process_time() - cpu
                    if variant not in best or cpu < best[variant][1]:
                        best[variant] = (result, cpu)
            (o, co), (n, cn) = best["old"], best["new"]
            rows.append({
                "name": f"{design} {orders} orders, dups + leads_to/eventually per saga",
                "states": [o.stats.states, n.stats.states], "cpu_s": [round(co, 2), round(cn, 2)],
                "symmetry": [o.config.symmetry, n.config.symmetry], "same_verdicts": o.verdicts == n.verdicts,
                "violated": sorted(v.property for v in n.violations if v.property_kind in ("eventually", "leads-to")),
            })
    return rows


def print_liveness(rows: list[dict]) -> None:
    print("eventually/leads_to with symmetry asked for: old (symmetry switched off) / new (quotient, renamings "
          "carried along), best CPU of the repeats:")
    for r in rows:
        (so, sn), (co, cn) = r["states"], r["cpu_s"]
        print(f"  {r['name']:52} states {so:>9,} / {sn:>9,}, cpu s {co:7.2f} / {cn:7.2f} "
              f"({co / max(cn, 0.01):.2f}x less CPU): {'same verdicts' if r['same_verdicts'] else 'DIFFERENT VERDICTS'}"
              f"{', violated: ' + ', '.join(r['violated']) if r['violated'] else ''}")


# --------------------------------------------------------------------------- issue 14
HEADLINE = "corrected, 3 orders, dups, 1 crash each"
#: name, orders, crashes, por, max_states, workers (0: the sequential explore())
ISSUE14 = [
    (f"headline: {HEADLINE}, POR (default)", 3, 1, None, None, 0),
    (f"headline: {HEADLINE}, no POR (10.6M)", 3, 1, False, None, 0),
    ("1M states: 3 orders, 1 crash each, no POR, first 1M", 3, 1, False, 1_000_000, 0),
    ("20M states: 4 orders, 1 crash each, no POR, first 20M", 4, 1, False, 20_000_000, 0),
    ("4 orders, dups, 1 crash each, POR (default), completes", 4, 1, None, None, 0),
    (f"workers 1: {HEADLINE} (distributed, no POR)", 3, 1, False, None, 1),
    (f"workers 2: {HEADLINE} (distributed, no POR)", 3, 1, False, None, 2),
]


def _rss_kb() -> int:
    """The process's current resident set, in KiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def issue14_child(spec: dict) -> dict:
    """One issue-14 run in this (fresh) process: ``spec`` says orders, crashes, por,
    max_states, workers and old (the dict loops)."""
    from sagaspec.model.distributed import explore_distributed

    explore_module = import_module("sagaspec.model.explore")
    explore_module._LEAN = explore_module._GC_HANDOFF = not spec["old"]
    system = saga_system("corrected", orders=spec["orders"])
    config = Config(crashes=spec["crashes"], por=spec["por"])
    gc.collect()
    base_kb = _rss_kb()
    wall, cpu = time.perf_counter(), time.process_time()
    if spec["workers"]:
        timings: dict = {}
        result = explore_distributed(system, config, workers=spec["workers"], timings=timings)
        wall = timings.get("search", time.perf_counter() - wall)
    else:
        result = explore(system, config, max_states=spec["max_states"])
        wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    st = result.stats
    return {
        "states": st.states, "edges": st.edges, "depth": st.depth, "complete": result.complete, "ok": result.ok,
        "reduced": any(n.startswith("partial-order reduction: ") and "again" not in n for n in result.notes),
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "search_cpu_s": st.cpu_seconds,
        "states_per_s_cpu": round(st.states / max(cpu, 1e-9)), "states_per_s_wall": round(st.states / max(wall, 1e-9)),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "peak_bytes_per_state": round((peak_kb - base_kb) * 1024 / max(st.states, 1), 1),
        "accounted_bytes_per_state": st.bytes_per_state,
    }


def issue14(only: str | None, as_json: bool) -> int:
    import subprocess

    rows = []
    for name, orders, crashes, por, max_states, workers in ISSUE14:
        if only and only not in name:
            continue
        for old in ((False,) if workers else (True, False)):
            spec = {"orders": orders, "crashes": crashes, "por": por, "max_states": max_states,
                    "workers": workers, "old": old}
            load = "/".join(f"{x:.1f}" for x in __import__("os").getloadavg())
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                                 capture_output=True, text=True, check=False)
            if out.returncode:
                print(f"{name}: the run failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r.update(name=name, variant="workers" if workers else ("old" if old else "new"), load=load)
            rows.append(r)
            if not as_json:
                print(f"  ... {name} [{r['variant']}]: {r['states']:,} states, {r['cpu_s']:.1f} cpu s", file=sys.stderr)
    if as_json:
        print(json.dumps({"issue14": rows}, indent=2))
        return 0
    print_issue14(rows)
    return 0


def print_issue14(rows: list[dict]) -> None:
    head = (f"{'run':66} {'loops':>5} {'states':>11} {'edges':>11} {'done':>4} {'ok':>3} {'wall s':>7} {'cpu s':>7} "
            f"{'st/s cpu':>8} {'edges/s cpu':>11} {'st/s wall':>9} {'peak MB':>7} {'B/st peak':>9} {'B/st acct':>9} load")
    print(head)
    print("-" * len(head))
    for r in rows:
        here = r["variant"] != "workers"  # (the workers' CPU and memory are in their own processes)
        cpu = (f"{r['cpu_s']:>7.1f} {r['states_per_s_cpu']:>8,} {round(r['edges'] / max(r['cpu_s'], 1e-9)):>11,}"
               if here else f"{'-':>7} {'-':>8} {'-':>11}")
        mem = f"{r['peak_rss_mb']:>7,.0f} {r['peak_bytes_per_state']:>9.0f}" if here else f"{'-':>7} {'-':>9}"
        print(f"{r['name']:66} {r['variant']:>5} {r['states']:>11,} {r['edges']:>11,} {'yes' if r['complete'] else 'no':>4} "
              f"{('yes' if r['ok'] else 'no') if r['complete'] else '-':>3} {r['wall_s']:>7.1f} {cpu} "
              f"{r['states_per_s_wall']:>9,} {mem} {r['accounted_bytes_per_state']:>9.0f} {r['load']}")
    print("(st/s falls on big runs also because each new state costs more edges there: the last levels of a")
    print(" search find few new states per edge; edges/s is the work rate)")
    print()
    print("old (dict loops) / new (lean loops), same run: states must be equal")
    pairs: dict[str, dict[str, dict]] = {}
    for r in rows:
        pairs.setdefault(r["name"], {})[r["variant"]] = r
    for name, pair in pairs.items():
        if "old" in pair and "new" in pair:
            o, n = pair["old"], pair["new"]
            same = (o["states"], o["edges"], o["ok"]) == (n["states"], n["edges"], n["ok"])
            print(f"  {name:66} st/s cpu {o['states_per_s_cpu']:>8,} -> {n['states_per_s_cpu']:>8,} "
                  f"({o['cpu_s'] / max(n['cpu_s'], 1e-9):.2f}x less CPU), peak B/state {o['peak_bytes_per_state']:.0f} -> "
                  f"{n['peak_bytes_per_state']:.0f} ({o['peak_bytes_per_state'] / max(n['peak_bytes_per_state'], 1e-9):.2f}x less): "
                  f"{'same states, edges, verdict' if same else 'DIFFERENT'}")
    w = {r["name"].split(":")[0]: r for r in rows if r["variant"] == "workers"}
    seq = pairs.get(f"headline: {HEADLINE}, no POR (10.6M)", {}).get("new")
    if "workers 1" in w and "workers 2" in w:
        one, two = w["workers 1"], w["workers 2"]
        print(f"  workers 2 / workers 1 (wall s of the search): {one['wall_s'] / max(two['wall_s'], 1e-9):.2f}x faster"
              + (f"; sequential explore() {seq['wall_s']:.1f} s wall for the same states" if seq else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="a few seconds (CI)")
    ap.add_argument("--memory", action="store_true", help="add a tracemalloc cross-check")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--only", metavar="TEXT", help="only the configurations whose name contains TEXT")
    ap.add_argument("--long", action="store_true", help="add the 10.6M-state configuration (minutes per run)")
    ap.add_argument("--no-por", dest="por", action="store_false",
                    help="skip the partial-order-reduction runs")
    ap.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run each configuration N times and keep the least CPU time (the machine is shared)",
    )
    ap.add_argument("--sagas", type=int, action="append", metavar="N",
                    help="symmetry over N sagas: general vs sorted canonical form (repeatable)")
    ap.add_argument("--max-states", type=int, default=100_000, metavar="M",
                    help="with --sagas: stop each run after M states (0: no bound)")
    ap.add_argument("--issue14", action="store_true",
                    help="the issue-14 numbers, old and new loops side by side (about 20-30 minutes)")
    ap.add_argument("--child", metavar="JSON", help=argparse.SUPPRESS)  # one --issue14 run
    ap.add_argument("--liveness", action="store_true",
                    help="eventually/leads_to with symmetry: switched off (old) vs the quotient (new)")
    ap.add_argument("--por-select", action="store_true",
                    help="the stubborn-set selection, old vs new (whole runs and replayed selections)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(issue14_child(json.loads(args.child))))
        return 0
    if args.issue14:
        return issue14(args.only, args.json)
    if args.liveness:
        rows = liveness_runs(LIVENESS_RUNS[:2] if args.short else LIVENESS_RUNS, args.repeat)
        if args.json:
            print(json.dumps({"liveness": rows}, indent=2))
        else:
            print_liveness(rows)
        return 0
    if args.por_select:
        configs = POR_SELECT_SHORT if args.short else POR_SELECT
        rows = por_select([c for c in configs if not args.only or args.only in c[0]], args.repeat)
        if args.json:
            print(json.dumps({"por_select": rows}, indent=2))
        else:
            print_por_select(rows)
        return 0
    if args.sagas:
        sweep = sagas_sweep(args.sagas, args.max_states or None, args.repeat)
        if args.json:
            print(json.dumps({"sagas": sweep}, indent=2))
            return 0
        print(f"{'sagas':>5} {'form':8} {'states':>9} {'edges':>10} {'complete':>8} {'cpu s':>7} {'st/s cpu':>9}")
        for r in sweep:
            print(f"{r['sagas']:>5} {r['form']:8} {r['states']:>9,} {r['edges']:>10,} {str(r['complete']):>8} "
                  f"{r['cpu_s']:>7.2f} {r['states_per_s_cpu']:>9,}")
        pairs: dict[int, dict[str, dict]] = {}
        for r in sweep:
            pairs.setdefault(r["sagas"], {})[r["form"]] = r
        for n, pair in pairs.items():
            if "general" in pair:
                g, so = pair["general"], pair["sorted"]
                if g["complete"] and so["complete"]:
                    same = "same states" if (g["states"], g["edges"]) == (so["states"], so["edges"]) else "DIFFERENT COUNTS"
                else:  # the representatives differ, so the first M states of the BFS do too
                    same = "bounded runs"
                print(f"  {n} sagas: sorted form {so['states_per_s_cpu'] / g['states_per_s_cpu']:.2f}x the general "
                      f"form's states/s ({same})")
        return 0
    configs = SHORT if args.short else FULL + (LONG if args.long else [])
    if args.only:
        configs = [c for c in configs if args.only in c[0]]
    rows = []
    for name, factory, config in configs:
        sym_on = "two-phase" not in name and "workers" not in name
        variants = [(False, False, ""), (True, False, "")] if sym_on else [(False, False, "")]
        if args.por:
            variants += [(sym_on, True, "participant"), (sym_on, True, "saga-old"), (sym_on, True, "saga")]
        for sym, por, units in variants:
            cfg = Config(**{**config.to_dict(), "symmetry": sym, "por": por})
            runs = [run(name, factory, cfg, units) for _ in range(max(args.repeat, 1))]
            rows.append(min(runs, key=lambda r: r["cpu_s"]))
    mem = None
    if args.memory:
        name, factory, config = MEMORY_SHORT if args.short else MEMORY
        mem = [traced(name, factory, Config(**{**config.to_dict(), "symmetry": sym})) for sym in (False, True)]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        print(json.dumps({"runs": rows, "memory": mem, "peak_rss_mb": round(peak_rss_mb, 1)}, indent=2))
        return 0
    head = (
        f"{'configuration':42} {'sym':>3} {'por':>4} {'states':>9} {'edges':>10} {'dep':>3} {'wall s':>7} {'cpu s':>6} "
        f"{'st/s wall':>9} {'st/s cpu':>9} {'search st/s':>11} {'B/state':>7}  result"
    )
    print(head)
    print("-" * len(head))
    by_name: dict[str, dict[bool, dict]] = {}
    por_pairs: dict[str, dict[str, dict]] = {}
    for r in rows:
        if not r["por"]:
            by_name.setdefault(r["name"], {})[r["symmetry"]] = r
        por_pairs.setdefault(r["name"], {})
        if r["por"] or r["symmetry"] or "two-phase" in r["name"] or "workers" in r["name"]:
            por_pairs[r["name"]][r["units"] or "off"] = r
        verdict = "ok" if r["ok"] else "violations: " + ", ".join(r["violated"])
        print(
            f"{r['name']:42} {'on' if r['symmetry'] else 'off':>3} { {'participant': 'part', 'saga-old': 'old'}.get(r['units'], r['units']) or 'off':>4} {r['states']:>9,} {r['edges']:>10,} {r['depth']:>3} "
            f"{r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} {r['states_per_s_wall']:>9,} {r['states_per_s_cpu']:>9,} "
            f"{r['search_states_per_s_cpu']:>11,} {r['bytes_per_state']:>7.0f}  {verdict[:48]}"
        )
    print()
    print("symmetry reduction (states without / with, time without / with):")
    for name, pair in by_name.items():
        if True in pair and False in pair:
            a, b = pair[False], pair[True]
            print(
                f"  {name:42} {a['states'] / b['states']:5.2f}x fewer states, "
                f"{a['cpu_s'] / max(b['cpu_s'], 1e-9):5.2f}x less CPU time"
            )
    if args.por:
        print()
        print("partial-order reduction (off / by participant / by saga, same symmetry; 'plain' when it "
              "searched again without it):")
        for name, trio in por_pairs.items():
            if "off" in trio and "saga" in trio:
                a, p, b = trio["off"], trio["participant"], trio["saga"]
                same = all((a["ok"], a["violated"]) == (x["ok"], x["violated"]) for x in (p, b))
                how = "/".join("reduced" if x["por_used"] else "plain" for x in (p, b))
                print(
                    f"  {name:42} states {a['states']:>10,} / {p['states']:>10,} / {b['states']:>10,} ({how}), "
                    f"cpu s {a['cpu_s']:7.2f} / {p['cpu_s']:7.2f} / {b['cpu_s']:7.2f}, "
                    f"by saga {a['states'] / b['states']:.2f}x fewer states, "
                    f"{a['cpu_s'] / max(b['cpu_s'], 0.01):.2f}x less CPU than off: "
                    f"{'same verdicts' if same else 'DIFFERENT VERDICTS'}"
                )
        print()
        print("the reduced search by saga, old loop (full expansion through Engine.expand, then reduced) / "
              "new loop (generated, reduced while expanding):")
        for name, trio in por_pairs.items():
            if "saga-old" in trio and "saga" in trio:
                o, b = trio["saga-old"], trio["saga"]
                same = (o["states"], o["edges"], o["ok"], o["violated"]) == (b["states"], b["edges"], b["ok"], b["violated"])
                print(
                    f"  {name:42} states {o['states']:>10,} / {b['states']:>10,}, "
                    f"cpu s {o['cpu_s']:7.2f} / {b['cpu_s']:7.2f} ({o['cpu_s'] / max(b['cpu_s'], 0.01):.2f}x less CPU), "
                    f"search st/s {o['search_states_per_s_cpu']:>8,} / {b['search_states_per_s_cpu']:>8,}: "
                    f"{'same states, edges and verdicts' if same else 'DIFFERENT'}"
                )
    if mem:
        print()
        for m in mem:
            print(
                f"tracemalloc, {m['name']}, symmetry {'on' if m['symmetry'] else 'off'}: {m['states']:,} states, "
                f"{m['traced_peak_bytes_per_state']:.0f} B/state measured (peak heap) vs "
                f"{m['accounted_bytes_per_state']:.0f} B/state accounted by the explorer"
            )
    print(f"peak RSS of this process: {peak_rss_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
