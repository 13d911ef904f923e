"""Symmetry by sorting the sagas (any number of them), against the general form.

The reference is the brute force: two states are in one orbit iff the least of all their
renamings is the same. The sorted canonical form must identify exactly the same states,
and a search with it must give the same state and edge counts (orbit counts), verdicts
and shortest counterexample lengths as one with the general form.
"""

from __future__ import annotations

import importlib
import random

import pytest
from sagaspec.model import Config, Engine, Outcome, Participant, Property, System, explore
from sagaspec.model._sorted_symmetry import SortedCanon
from sagaspec.model.saga import saga_system

from sagaspec.errors import UsageError

pytestmark = pytest.mark.timeout(180)

engine_module = importlib.import_module("sagaspec.model.engine")

CASES = [
    ("corrected", 3, Config(symmetry=True)),
    ("corrected", 2, Config(symmetry=True, crashes=1)),
    ("seed", 3, Config(symmetry=True, idempotency=False)),
    ("corrected", 3, Config(symmetry=True, bus="unordered")),
]
IDS = ["corrected-o3-dup", "corrected-o2-crash", "seed-o3-no-idem", "corrected-o3-exactly-once"]


def _states(engine: Engine, seed: int) -> list[tuple]:
    """Raw states met on seeded random walks, and random renamings of them."""
    rng = random.Random(seed)
    out = []
    for _ in range(40):
        s = engine.initial(canonical=False)
        for _ in range(25):
            succs = engine.expand(s, canonical=False)[0]
            if not succs:
                break
            s = rng.choice(succs)
            out.append(s)
            out.append(engine.permute_state(s, rng.randrange(len(engine.perms))))
    return out


@pytest.mark.parametrize("design,orders,cfg", CASES, ids=IDS)
def test_sorted_form_identifies_exactly_the_states_of_one_orbit(design, orders, cfg):
    engine = Engine(saga_system(design, orders=orders), cfg)  # the general form (3 sagas)
    assert engine.sorted is None and engine.perms
    sorted_form = SortedCanon(engine)
    reps, least = [], []
    for s in _states(engine, seed=11):
        c = sorted_form.canonical(s)
        orbit = [engine.permute_state(s, k) for k in range(len(engine.perms))]
        assert c in orbit  # a renaming of s
        assert sorted_form.canonical(c) == c  # a fixed point
        for t in orbit:  # the same for every renaming of s
            assert sorted_form.canonical(t) == c
        reps.append(c)
        least.append(min(orbit))
    # Same representative iff same least renaming: the two partitions are equal.
    assert len(set(reps)) == len(set(least)) == len(set(zip(reps, least, strict=True)))
    assert len(set(reps)) > 100


def _summary(result) -> tuple:
    return (
        result.stats.states,
        result.stats.edges,
        result.verdicts,
        {v.property: len(v.path) for v in result.violations},
    )


@pytest.mark.parametrize("design,orders,cfg", CASES, ids=IDS)
def test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts(design, orders, cfg, monkeypatch):
    system = saga_system(design, orders=orders)
    general = explore(system, cfg)
    monkeypatch.setattr(engine_module, "SORTED_MIN_PERMS", 0)
    by_sorting = explore(system, cfg)
    assert by_sorting._search.engine.sorted is not None
    assert _summary(by_sorting) == _summary(general)
    for v in by_sorting.violations:  # traces are real executions of the unreduced model
        assert v.path.view(-1) is not None and len(v.shrunk_path) <= len(v.path)


def test_five_and_six_sagas_use_the_sorted_form_and_its_loop_and_fifo_does_not():
    for n in (5, 6):
        system = saga_system("corrected", orders=n)
        assert Engine(system, Config(symmetry=True, bus="unordered")).sorted is not None
        r = explore(system, Config(symmetry=True, bus="unordered", max_depth=4))
        assert r._search.loop == "sorted"
        # On a FIFO bus the order of two sagas' messages in one channel is nobody's slot.
        assert Engine(system, Config(symmetry=True, bus="fifo")).sorted is None
    # Up to four sagas the general form keeps its fingerprint vectors (as fast or faster).
    assert Engine(saga_system("corrected", orders=4), Config(symmetry=True, bus="unordered")).sorted is None


def _graph(search) -> tuple:
    return (search.parent, search.act, search.offsets, search.targets, search.found, search.witness, search.layered)


@pytest.mark.parametrize("design,orders,cfg", CASES, ids=IDS)
def test_the_sorted_loop_finds_the_generic_loops_graph(design, orders, cfg, monkeypatch):
    """The generated loop (orbit fingerprints, successors built only when new) against
    Engine.expand with the same canonical form: the same states, numbered alike, the
    same edges in the same order, the same findings."""
    explore_module = importlib.import_module("sagaspec.model.explore")
    system = saga_system(design, orders=orders)
    cfg = Config(**{**cfg.to_dict(), "max_depth": 8})  # whole levels, a few seconds
    monkeypatch.setattr(engine_module, "SORTED_MIN_PERMS", 0)
    fast = explore(system, cfg, keep_graph=True)._search
    monkeypatch.setattr(explore_module, "_FORCE_GENERIC", True)
    slow = explore(system, cfg, keep_graph=True)._search
    assert (fast.loop, slow.loop) == ("sorted", "generic")
    assert _graph(fast) == _graph(slow)
    assert len(fast.parent) > 400


@pytest.mark.parametrize("design,orders,cfg", CASES, ids=IDS)
def test_orbit_fingerprints_are_those_of_the_orbits(design, orders, cfg):
    """Same fingerprint for every renaming of a state; different ones for states of
    different orbits (the brute-force partition by least renaming)."""
    engine = Engine(saga_system(design, orders=orders), cfg)  # the general form (3 sagas)
    sorted_form = SortedCanon(engine)
    fps, least = [], []
    for s in _states(engine, seed=5):
        orbit = [engine.permute_state(s, k) for k in range(len(engine.perms))]
        f = sorted_form.fingerprint(s)
        assert {sorted_form.fingerprint(t) for t in orbit} == {f}
        fps.append(f)
        least.append(min(orbit))
    assert len(set(fps)) == len(set(least)) == len(set(zip(fps, least, strict=True))) > 100


def test_search_fingerprints_equal_orbit_fingerprints_from_scratch(monkeypatch):
    """Every stored state's number is found under its fingerprint computed from scratch
    (the loop adds move constants and signature steps instead)."""
    monkeypatch.setattr(engine_module, "SORTED_MIN_PERMS", 0)
    system, cfg = saga_system("corrected", orders=3), Config(symmetry=True, crashes=1, max_depth=7, por=False)
    # (State numbers are in the visited dict when the graph is kept; the lean loop's
    # visited set holds the same fingerprints.)
    result = explore(system, cfg, keep_graph=True)
    lean = explore(system, cfg)._search
    search = result._search
    sorted_form = search.engine.sorted
    assert search.loop == lean.loop == "sorted" and result.stats.states > 5000
    assert isinstance(lean.seen, set) and len(lean.seen) == result.stats.states
    for idx in range(0, result.stats.states, 41):
        state = search.state_of(idx)
        assert sorted_form.canonical(state) == state
        assert search.seen[sorted_form.fingerprint(state)] == idx
        assert sorted_form.fingerprint(state) in lean.seen


def test_a_five_saga_run_gives_the_general_forms_counts(monkeypatch):
    """Five sagas, depth-bounded (complete levels): the sorted loop's states, edges and
    verdicts are the general form's."""
    system = saga_system("corrected", orders=5)
    cfg = Config(symmetry=True, crashes=1, max_depth=6)
    new = explore(system, cfg)
    monkeypatch.setattr(engine_module, "SORTED_MIN_PERMS", 10**9)
    old = explore(system, cfg)
    assert (new._search.loop, old._search.loop) == ("sorted", "incremental")
    assert _summary(new) == _summary(old)
    assert new.stats.states > 3000


class Stepper(Participant):
    """One slot per saga: idle -> a -> b, each saga on its own (3**n states)."""

    name = "stepper"

    def __init__(self, n: int) -> None:
        self.n = n

    def init(self):
        return ("idle",) * self.n

    def internal(self, state):
        nxt = {"idle": "a", "a": "b"}
        return tuple(
            Outcome(f"step {i}", state[:i] + (nxt[s],) + state[i + 1 :]) for i, s in enumerate(state) if s in nxt
        )

    def permute(self, state, perm):
        out = [None] * self.n
        for i, v in enumerate(state):
            out[perm[i]] = v
        return tuple(out)


class Tangled(Stepper):
    """Remembers the order sagas stepped in: not per-saga slots."""

    name = "tangled"

    def init(self):
        return ()

    def internal(self, state):
        return tuple(Outcome(f"step {i}", (*state, i)) for i in range(self.n) if i not in state)

    def permute(self, state, perm):
        return tuple(perm[i] for i in state)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_any_number_of_sagas_reduces_to_the_orbit_count(n):
    system = System((Stepper(n),), (Property.always("ok", lambda v: True),), sagas=n)
    r = explore(system, Config(bus="unordered"))  # symmetry: the default, when allowed
    assert r.config.symmetry is True
    # Orbits of 3**n states: multisets of n values out of 3, C(n + 2, 2).
    assert r.stats.states == (n + 2) * (n + 1) // 2
    assert explore(system, Config(bus="unordered", symmetry=False)).stats.states == 3**n


def test_more_than_six_sagas_without_per_saga_slots_is_a_clear_error():
    system = System((Tangled(7),), sagas=7)
    with pytest.raises(UsageError, match="sorted canonical form"):
        explore(system, Config(bus="unordered", symmetry=True))
    # Up to 6 sagas such a model gets the general form.
    assert explore(System((Tangled(4),), sagas=4), Config(bus="unordered", symmetry=True)).ok


def test_the_readme_bench_command_compares_the_two_forms(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    command = "python bench/bench_check.py --sagas 3 --sagas 5 --max-states 10000"
    assert f"$ {command}" in (repo / "README.md").read_text(encoding="utf-8")
    out = subprocess.run(
        [sys.executable, *command.split()[1:]], cwd=repo, capture_output=True, text=True, timeout=170, check=True
    ).stdout
    assert "3 sagas: sorted form" in out and "(same states)" in out
    assert "5 sagas: sorted form" in out and "(bounded runs)" in out


def test_bench_symmetry_short_compares_old_and_new_paths():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "bench/bench_symmetry.py", "--short", "--json"],
        cwd=repo, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    import json

    report = json.loads(out)
    assert report["same_counts"] is True
    paths = {(r["sagas"], r["path"]): r for r in report["runs"]}
    assert paths[(6, "old")]["loop"] == "generic" and paths[(6, "new")]["loop"] == "sorted"
    assert paths[(2, "new")]["loop"] == "sorted" and paths[(2, "old")]["form"] == "general"
    assert paths[(6, "new")]["states"] == paths[(6, "old")]["states"] > 1000
