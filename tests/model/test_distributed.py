"""The search partitioned across Dask workers gives the sequential search's counts and verdicts.

One local Dask cluster per worker count serves the whole module (started when first
needed, by ``local_cluster`` as ``--workers N`` starts one: workers forked from a fork
server, under a second each); the CLI tests of ``--workers 2`` start their own.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the cluster extra (pip install 'sagaspec[cluster]')")

from sagaspec.model import Config, Participant, Property, System, explore, saga_system  # noqa: E402, I001
from sagaspec.model import _distributed_loop, _loops  # noqa: E402
from sagaspec.model import distributed as distributed_module  # noqa: E402
from sagaspec.model.distributed import (  # noqa: E402
    Recipe, _Shard, choose_owners, explore_distributed, local_cluster, run_in_process,
)
from sagaspec.model.engine import Engine  # noqa: E402
from sagaspec.model.explore import _Search  # noqa: E402
from sagaspec.model.system import settle_symmetry  # noqa: E402

from sagaspec.errors import ModelError  # noqa: E402

HERE = Path(__file__).resolve()


class _Clusters(dict):
    """Scheduler addresses by worker count, each cluster started when a test first asks
    for it: under pytest-xdist a process that runs only tests on two workers starts no
    one-worker cluster."""

    def __init__(self):
        super().__init__()
        self.made: dict = {}

    def __missing__(self, n: int) -> str:
        import dask

        # Dask's event-loop tick (20 ms) and system monitor (0.5 s) run in this process for
        # the scheduler and each nanny while the module lasts: 0.04 CPU s per second idle,
        # 0.007 at these intervals (diagnostics; no test here depends on them).
        with dask.config.set({"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s"}):
            self.made[n] = local_cluster(n)
        self[n] = self.made[n].scheduler_address
        return self[n]


@pytest.fixture(scope="module")
def clusters():
    made = _Clusters()
    try:
        yield made
    finally:
        for c in made.made.values():
            c.close()


@functools.cache
def _sequential(design: str, orders: int, config: Config):
    """The sequential search's result, once per process for each design, bound and
    configuration (several tests, and a test's cases for 1 and 2 workers, compare with
    the same one). Only read."""
    return explore(saga_system(design, orders=orders), config)


def _summary(result):
    return {
        "states": result.stats.states,
        "edges": result.stats.edges,
        "depth": result.stats.depth,
        "complete": result.complete,
        "verdicts": dict(result.verdicts),
        "violations": [(v.property, v.kind, len(v.path), v.path.encode()) for v in result.violations],
        "witnesses": {k: len(p) for k, p in result.witnesses.items()},
    }


GOLDEN = [
    ("corrected", True, {}),
    ("corrected", False, {}),
    ("seed", True, {}),
    ("seed", False, {"bus": "fifo", "crashes": 1}),
]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("design", "symmetry", "extra"), GOLDEN)
def test_same_states_edges_and_verdicts_as_the_sequential_search(clusters, workers, design, symmetry, extra):
    system = saga_system(design, orders=2)
    config = Config(symmetry=symmetry, por=False, **extra)  # (the full search, as the workers do)
    traffic: list = []
    got = explore_distributed(system, config, cluster=clusters[workers], traffic=traffic)
    want = _sequential(design, 2, config)
    assert _summary(got) == _summary(want)
    if design == "seed":
        assert got.violations, "the seed design has holes: the comparison must cover violations"
    # Every state is stored by exactly one worker, and with two both take part.
    assert sum(t.states for t in traffic) == want.stats.states
    assert sum(t.edges for t in traffic) == want.stats.edges
    if workers == 2:
        assert all(t.states > want.stats.states // 5 for t in traffic)
        assert all(t.states_sent > 0 and t.bytes_sent > 0 for t in traffic)


# A process-independent text of a state (everything it holds, in a fixed order), defined
# once for this process and the fresh one.
_KEY_SRC = (
    "def _key(e, s):\n"
    "    parts = tuple((e.local(p, s[p]), sorted(e.processed(p, s[p])), e.crashes_left(p, s[p])) for p in range(e.n))\n"
    "    return repr((sorted(e.in_flight(s)), parts, s[e.n + 1]))\n"
)
_LEVELS_SRC = (
    "def _levels(e, depth, reverse):\n"
    "    seen, frontier, out = {e.initial()}, [e.initial()], [e.initial()]\n"
    "    for _ in range(depth):\n"
    "        nxt = []\n"
    "        for s in (frontier[::-1] if reverse else frontier):\n"
    "            for t in e.expand(s)[0]:\n"
    "                if t not in seen:\n"
    "                    seen.add(t)\n"
    "                    nxt.append(t)\n"
    "        out += nxt\n"
    "        frontier = nxt\n"
    "    return out\n"
)
_KEY_SRC += _LEVELS_SRC
_ns: dict = {}
exec(_KEY_SRC, _ns)  # noqa: S102 - a constant above
_key, _levels = _ns["_key"], _ns["_levels"]


def test_the_owner_and_the_stable_fingerprint_are_the_same_for_every_renaming_and_in_another_process():
    # The stable fingerprint is what workers ask each other about ("do you have it?"): it
    # must not depend on the renaming, the interning order or the string hashes.
    system = saga_system("corrected", orders=3)
    config = Config(symmetry=True)
    shard = _Shard(Recipe.of(system), config, 0, 7)
    e = shard.engine
    assert shard.loop == "fast" and e.vectors
    owners = {}
    for s in _levels(e, 4, reverse=False):
        mine = (shard.owner(s), shard.sigma(s))
        for k in range(e.renamings):
            r = e.permute_state(s, k)
            assert (shard.owner(r), shard.sigma(r)) == mine
            owners[_key(e, r)] = mine
    assert len({o for o, _sg in owners.values()}) > 1, "seven workers: the states must spread"
    assert len({sg for _o, sg in owners.values()}) == len({_key(e, s) for s in _levels(e, 4, reverse=False)})
    # A fresh process (other string hashes, other interning order) agrees.
    code = (
        "import sys, pickle\n"
        "from sagaspec.model import Config, saga_system\n"
        "from sagaspec.model.distributed import Recipe, _Shard\n"
        + _KEY_SRC +
        "shard = _Shard(Recipe.of(saga_system('corrected', orders=3)), Config(symmetry=True), 0, 7)\n"
        "e = shard.engine\n"
        "out = {_key(e, s): (shard.owner(s), shard.sigma(s)) for s in _levels(e, 4, reverse=True)}\n"
        "sys.stdout.write(repr(out))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    theirs = eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout)  # noqa: S307
    common = [k for k in owners if k in theirs]
    assert len(common) > 20
    assert all(theirs[k] == owners[k] for k in common)


def test_the_distributed_loop_is_generated_from_the_sequential_template():
    # No hand copy of the move enumeration: the template's text is in every variant, and
    # the variants own what the sequential loop would keep (the differential tests below
    # compare counts, depths and verdicts).
    body = _loops._incremental(lambda build: "EDGE", "", "")
    for mode in _distributed_loop.MODES:
        for owner in _distributed_loop.OWNERS:
            src = _distributed_loop.source(mode, owner)
            assert _loops._indent(_loops._INC_SETUP, 4) in src
            for line in body.splitlines():
                if line.strip() and "EDGE" not in line and "_dv" not in line:
                    assert line.strip() in src, line


def test_only_the_states_their_owners_lack_are_built_and_sent():
    # No crash: 7,341 states (0.2 CPU s) show the mechanism as the 394,884 with one did
    # (5.9 s): by the whole state 604 of 6,274 asked were sent, by the order's 57 of 4,757.
    system = saga_system("corrected", orders=2)
    config = settle_symmetry(system, Config(crashes=0, por=False))
    for partition in (None, (0,)):
        shards = [_Shard(Recipe.of(system), config, i, 2, "fast", partition) for i in range(2)]
        _levels_in_process(shards)
        asked = sum(sum(s.asked) for s in shards)
        sent = sum(sum(s.states_out) for s in shards)
        lacked = sum(s.received - s.received_dup for s in shards)
        # Every fingerprint asked was answered; each state sent was one its owner lacked
        # (a state claimed twice would fail its owner's decode), and most were not sent.
        assert sum(s.received for s in shards) == asked
        assert sent == lacked and 0 < sent < asked / 4


def _until_states_are_built(shards):
    """Drive the rounds in process until a level builds states for their owners: returns
    (depth, what each owner gets), the build round's batches not yet delivered."""
    count, depth = len(shards), 0
    incoming: list[list] = [[] for _ in shards]
    while True:
        first = [s.expand(depth, True, tuple(incoming[j])) for j, s in enumerate(shards)]
        offers = distributed_module._offers(first, count)
        second = [s.claim(offers[j]) for j, s in enumerate(shards)]
        asks = [tuple((j, second[j]["wanted"][i]) for j in range(count) if i in second[j]["wanted"])
                for i in range(count)]
        incoming = [[] for _ in shards]
        for i, s in enumerate(shards):
            if asks[i]:
                for j, data in s.build(asks[i])["out"].items():
                    incoming[j].append(data)
        if any(incoming):
            return depth, incoming
        depth += 1


@pytest.mark.parametrize("fault", ["twice", "lost"])
def test_a_state_built_for_its_owner_arrives_exactly_once(fault):
    # The owner takes a fingerprint when it claims it, before the state arrives: a batch
    # delivered twice, or never, would change the counts unnoticed; each is an error.
    system = saga_system("corrected", orders=2)
    config = settle_symmetry(system, Config(crashes=1, por=False))
    shards = [_Shard(Recipe.of(system), config, i, 2, "fast", None) for i in range(2)]
    depth, incoming = _until_states_are_built(shards)
    owner = next(j for j in range(2) if incoming[j])
    awaiting = len(shards[owner].awaiting)
    assert awaiting > 0
    batches = incoming[owner] * 2 if fault == "twice" else []
    with pytest.raises(ModelError, match="arrived twice" if fault == "twice" else f"{awaiting} states? claimed"):
        shards[owner].expand(depth + 1, True, tuple(batches))
    # Delivered once, the same level goes through and nothing is left waiting.
    fresh = [_Shard(Recipe.of(system), config, i, 2, "fast", None) for i in range(2)]
    depth, incoming = _until_states_are_built(fresh)
    for j, s in enumerate(fresh):
        s.expand(depth + 1, True, tuple(incoming[j]))
        assert not s.awaiting


# A loop no step leaves: "at rest" is never reached, which only the cycle analysis sees.
class Spinner(Participant):
    name = "spinner"

    def init(self):
        return 0

    def internal(self, state):
        from sagaspec.model import Outcome

        return (Outcome("spin", (state + 1) % 3),)


def spinner_system() -> System:
    return System((Spinner(),), (Property.always("small", lambda v: v["spinner"] < 3),
                                 Property.at_rest("rests", lambda v: v["spinner"] == 9)), name="spinner")


@pytest.mark.parametrize("liveness", ["sequential", "unknown"])
def test_cycles_fall_back_to_the_sequential_search_or_stay_unknown(clusters, liveness):
    system = spinner_system()
    recipe = Recipe.of(system, target=f"{HERE}:spinner_system")
    got = explore_distributed(system, Config(), cluster=clusters[2], recipe=recipe, liveness=liveness)
    want = explore(system, Config())
    assert (got.stats.states, got.stats.edges) == (want.stats.states, want.stats.edges) == (3, 3)
    assert got.verdicts["small"] == "held"
    if liveness == "sequential":
        assert got.verdicts == want.verdicts == {"small": "held", "rests": "violated"}
        assert any("rests: checked by the sequential search" in n for n in got.notes)
    else:
        assert got.verdicts["rests"] == "unknown"
        assert not got.ok
        assert any("rests: not checked" in n for n in got.notes)


def test_an_interrupted_run_is_partial_and_decides_nothing_it_did_not_check(clusters):
    calls = []

    def stop(stats):
        calls.append(stats)
        raise KeyboardInterrupt

    system = saga_system("corrected", orders=2)
    got = explore_distributed(system, Config(), cluster=clusters[2], on_progress=stop)
    assert calls and got.interrupted and not got.complete and not got.ok
    assert got.stats.states < explore(system, Config()).stats.states
    assert set(got.verdicts.values()) == {"unknown"}


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "sagaspec", "check", *args], capture_output=True, text=True, env=env, timeout=240,
    )


def test_cli_workers_gives_the_sequential_verdict(tmp_path):
    args = ["--design", "seed", "--orders", "2"]
    par = _cli(*args, "--workers", "2")
    seq = _cli(*args)
    assert par.returncode == seq.returncode == 1, par.stderr
    verdict = [line for line in seq.stdout.splitlines() if line.startswith("Verdict:")]
    assert verdict and verdict == [line for line in par.stdout.splitlines() if line.startswith("Verdict:")]
    assert "explored 1,883 states, 6,823 edges" in par.stdout and "explored 1,883 states, 6,823 edges" in seq.stdout


def test_cli_workers_says_it_counts_the_full_search():
    """Partial-order reduction is on by default in the single-process search; the workers
    search the full space, and the note says so (the counts differ, and must be explained)."""
    par = _cli("--orders", "2", "--workers", "2")
    full = _cli("--orders", "2", "--no-por")
    reduced = _cli("--orders", "2")
    assert par.returncode == full.returncode == reduced.returncode == 0, par.stderr
    assert "without partial-order reduction (the state count is that of --no-por)" in par.stdout

    def verdict(out):
        return next(line for line in out.stdout.splitlines() if line.startswith("Verdict:"))

    assert verdict(par) == verdict(full) != verdict(reduced)  # 7,341 states vs 4,073


def test_cli_without_the_extra_says_what_to_install(tmp_path):
    # A module set to None in sys.modules cannot be imported: the extra "is not installed".
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = _cli("--orders", "1", "--workers", "2", env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'sagaspec[cluster]'" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_cli_rejects_what_the_distributed_search_cannot_bound():
    out = _cli("--orders", "1", "--workers", "2", "--max-states", "10")
    assert out.returncode == 2 and "--max-states" in out.stderr and "Traceback" not in out.stderr
    out = _cli("--orders", "1", "--workers", "2", "--cluster", "tcp://127.0.0.1:1")
    assert out.returncode == 2 and "give one" in out.stderr


def _levels_in_process(shards) -> int:
    """The driver's rounds without Dask: expand, ask or send, build, until no level is new."""
    return run_in_process(shards)


def test_workers_with_their_own_classes_in_one_process_exchange_states():
    # Spec models make their state classes at run time: each shard has its own. A state
    # received must become an instance of the receiver's class (not the last-built one).
    system = saga_system("corrected", orders=2)
    config = Config(symmetry=True, por=False)
    shards = [_Shard(Recipe.of(system), config, i, 3) for i in range(3)]
    depth = _levels_in_process(shards)
    want = _sequential("corrected", 2, config)
    assert (sum(len(s.seen) for s in shards), sum(s.edges for s in shards), depth) == (
        want.stats.states, want.stats.edges, want.stats.depth)
    for s in shards:
        classes = {type(slot) for lobj in s.engine.lobj for local in lobj if isinstance(local, tuple) for slot in local}
        assert all(cls.__module__ != "sagaspec.model.compile" or cls in s.registry.values() for cls in classes)


@functools.cache
def _layered(design: str, orders: int, config: Config) -> bool:
    """Whether every edge goes one level down (so at_rest needs no cycle search), as the
    sequential search decides it when it keeps the state graph (once per process for each
    case: the partitions' cases share it)."""
    reference = _Search(Engine(saga_system(design, orders=orders), config), on_progress=None, stop_at_first=False,
                        keep_graph=True, progress_interval=1e9, max_states=None)
    reference.run()
    return reference.layered


def _found_depths(shards) -> dict:
    out: dict = {}
    for shard in shards:
        for k, (depth, kind) in shard.search.found.items():
            out[k] = min(out.get(k, (depth, kind)), (depth, kind))
    return out


@pytest.mark.parametrize("partition", [None, (0,), (3,)])
@pytest.mark.parametrize(("design", "extra"), [("corrected", {"crashes": 1}), ("seed", {}), ("seed", {"symmetry": False})])
def test_every_partition_and_both_loops_give_the_sequential_counts(design, extra, partition):
    # Owners by the whole state or by one participant's state (3: a participant with few
    # states, so one worker owns most); the fast loop (fingerprints and orbit sums carried
    # by the moves) and the generic one (every successor built) must own the same states.
    orders = 2 if design == "seed" else 1
    system = saga_system(design, orders=orders)
    config = settle_symmetry(system, Config(por=False, **extra))
    want = _sequential(design, orders, config)
    layered = _layered(design, orders, config)
    per_loop = {}
    for loop, count in (("fast", 3), ("generic", 3), ("fast", 1)):
        shards = [_Shard(Recipe.of(system), config, i, count, loop, partition) for i in range(count)]
        assert all(s.loop == loop for s in shards)
        depth = _levels_in_process(shards)
        assert (sum(len(s.seen) for s in shards), sum(s.edges for s in shards), depth) == (
            want.stats.states, want.stats.edges, want.stats.depth)
        found = _found_depths(shards)
        names = {system.properties[k].name: d for k, (d, _kind) in found.items()}
        assert names == {v.property: len(v.path) for v in want.violations if v.kind != "cycle"}
        assert all(s.layered for s in shards) == layered
        per_loop[loop, count] = [len(s.seen) for s in shards]
    if partition is not None:
        # Both loops own a state by the orbit hash of the partition's participant. (By the
        # whole state the fast loop owns by the stable fingerprint, the generic by the sum.)
        assert per_loop["fast", 3] == per_loop["generic", 3]
    if design == "seed":
        assert want.violations, "the seed design has holes: the comparison must cover violations"


@pytest.mark.parametrize("loop", ["fast", "generic"])
def test_an_edge_back_to_an_earlier_level_is_noticed_by_its_owner(loop):
    # The spinner's three states form a ring: the last step returns to level 0, which is
    # not layered (at_rest then needs the cycle search), whichever worker owns what.
    system = spinner_system()
    config = settle_symmetry(system, Config())
    recipe = Recipe.of(system, target=f"{HERE}:spinner_system")
    shards = [_Shard(recipe, config, i, 2, loop, (0,)) for i in range(2)]
    _levels_in_process(shards)
    assert sum(len(s.seen) for s in shards) == explore(system, config).stats.states
    assert not all(s.layered for s in shards)


def test_the_chosen_partition_sends_less_and_keeps_the_workers_busy():
    # corrected, 2 orders: hashing the whole state, 2 workers send each other about 90%
    # of all states, most of which the owner has found itself.
    system = saga_system("corrected", orders=2)
    config = settle_symmetry(system, Config(crashes=0, por=False))
    want = _sequential("corrected", 2, config).stats.states
    chosen = choose_owners(Recipe.of(system), config, 2).partition
    assert choose_owners(Recipe.of(system), config, 1).partition is None
    assert chosen is not None and len(chosen) == 1
    asked = {}
    for partition in (None, chosen):
        shards = [_Shard(Recipe.of(system), config, i, 2, "fast", partition) for i in range(2)]
        _levels_in_process(shards)
        total = sum(len(s.seen) for s in shards)
        assert total == want
        assert min(len(s.seen) for s in shards) > total // 3
        asked[partition] = sum(sum(s.asked) for s in shards)
    # (With owners by a participant a worker asks again at each crossing edge, whole-state
    # owners once per level: fewer questions all the same.)
    assert asked[chosen] < asked[None]


def test_owners_balanced_by_the_sample_split_as_predicted_and_shorten_the_critical_path():
    # The sample (each level cut to 300 states: 2,651 of 7,341) places the chosen
    # participant's states; every level ends at a barrier, so the busiest worker's states
    # per level, summed, is the critical path. Hashed, that participant's states split
    # 27/73%.
    system = saga_system("corrected", orders=2)
    config = settle_symmetry(system, Config(crashes=0, por=False))
    want = _sequential("corrected", 2, config)
    choice = choose_owners(Recipe.of(system), config, 2, sample=300)
    assert choice.partition is not None and choice.owners
    assert choice.sample < want.stats.states / 2
    runs = {}
    for placed, owners in (("sample", choice.owners), ("hash", {})):
        shards = [_Shard(Recipe.of(system), config, i, 2, "fast", choice.partition, owners) for i in range(2)]
        _levels_in_process(shards)
        assert (sum(len(s.seen) for s in shards), sum(s.edges for s in shards)) == (want.stats.states, want.stats.edges)
        split = [len(s.seen) / want.stats.states for s in shards]
        critical = sum(max(ws) for ws in zip(*(s.widths for s in shards), strict=True))
        runs[placed] = split, critical
    split, critical = runs["sample"]
    assert all(abs(a - b) < 0.02 for a, b in zip(split, choice.predicted, strict=True)), (split, choice.predicted)
    assert critical < 0.8 * runs["hash"][1]
    assert want.stats.states / critical > 1.9


def test_the_bench_short_form_runs_and_agrees_with_the_sequential_search():
    # CI runs the short form; the bench itself exits 1 when a worker count disagrees.
    bench = HERE.parents[2] / "bench" / "bench_distributed.py"
    out = subprocess.run([sys.executable, str(bench), "--short", "--json"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    import json

    data = json.loads(out.stdout)
    seq, *runs = data["runs"]
    assert seq["workers"] == 0
    assert [(r["variant"], r["workers"]) for r in runs] == [
        ("old", 1), ("old", 2), ("prev", 1), ("prev", 2), ("new", 1), ("new", 2), ("new-whole", 2), ("new-hash", 2)]
    assert {r["states"] for r in runs} == {seq["states"]} == {7341}
    for r in runs:
        if r["workers"] == 2:
            assert all(p["bytes_sent"] > 0 and p["batches_sent"] > 0 for p in r["per_worker"])
            assert r["bytes_per_state"] > 0 and r["messages_per_state"] > 0
            if r["variant"] == "old":
                assert r["asked_per_state"] == 0 and r["sent_per_state"] > 0
            else:
                # Fingerprints asked; only the few states their owners lacked were sent.
                assert r["asked_per_state"] > 0 and r["sent_per_state"] < r["asked_per_state"] / 4
    by = {(r["variant"], r["workers"]): r for r in runs}
    assert by["new-whole", 2]["partition"] is None
    for variant in ("new", "new-hash"):
        r = by[variant, 2]
        assert r["partition"] is not None and abs(sum(r["split"]) - 1) < 1e-3 and len(r["predicted"]) == 2
        assert 1 < r["balance_bound"] <= 2
    assert [e["workers"] for e in data["estimate"]] == [16, 64]


def test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target(clusters, tmp_path):
    out = _cli("--design", "seed", "--orders", "2", "--cluster", clusters[2])
    assert out.returncode == 1, out.stderr
    assert "explored 1,883 states, 6,823 edges" in out.stdout and "2 Dask workers at tcp://" in out.stdout
    # A --model target is imported by each worker from the folder the command runs in.
    (tmp_path / "spin_model.py").write_text(HERE.read_text(encoding="utf-8"))
    env = {**os.environ}
    out = subprocess.run(
        [sys.executable, "-m", "sagaspec", "check", "--model", "spin_model:spinner_system", "--cluster", clusters[2]],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
    )
    assert out.returncode == 1, out.stderr
    assert "explored 3 states, 3 edges" in out.stdout
    assert "rests: checked by the sequential search" in out.stdout
