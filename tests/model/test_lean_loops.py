"""The lean search loops (no graph kept: sets of fingerprints, no state numbers).

A search that keeps no graph runs the lean variant of each generated loop
(``model/_loops.py``, ``LEAN_EDGE``), and a search for ``at_rest`` properties keeps the
graph only once it meets an edge back (``explore``: the lean search stops there and the
search runs again keeping it). Both must explore exactly what the dict loops do: same
states in the same order, same parents and actions, same edges, depth, verdicts and
counterexamples; and the lean loop must tell a layered graph from one with an edge back
exactly as the graph does.
"""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from retrymodel import Retry
from sagaspec.model import Config, Property, System, explore
from sagaspec.model.saga import saga_system

explore_module = importlib.import_module("sagaspec.model.explore")  # (the package exports a function of that name)
engine_module = importlib.import_module("sagaspec.model.engine")


def _run(system, cfg, monkeypatch, *, lean: bool, sorted_form: bool = False, **kw):
    with monkeypatch.context() as m:
        m.setattr(explore_module, "_LEAN", lean)
        if sorted_form:
            m.setattr(engine_module, "SORTED_MIN_PERMS", 0)
        r = explore(system, cfg, **kw)
    s = r._search
    return r, {
        "loop": s.loop, "states": r.stats.states, "edges": r.stats.edges, "depth": r.stats.depth,
        "parent": list(s.parent), "act": list(s.act), "verdicts": r.verdicts, "notes": r.notes,
        "complete": r.complete, "found": {k: (v if isinstance(v[0], int) else None) for k, v in s.found.items()},
        "witness": s.witness,
        "trace": [[(a.kind, a.participant, a.label) for a in v.path.actions] for v in r.violations],
    }


CASES = {
    # (design, orders, config, sorted symmetry form). Each loop meets crashes and duplicates
    # (a case with both on the unordered bus is 395k states: crashes are met without them).
    "corrected-o2-crash-plain": ("corrected", 2, Config(crashes=1, duplicates=0, por=False), False),
    "corrected-o2-crash-por": ("corrected", 2, Config(crashes=1, por=True), False),
    "corrected-o2-nosym": ("corrected", 2, Config(symmetry=False, por=False), False),
    "corrected-o2-fifo-dup-crash": ("corrected", 2, Config(bus="fifo", duplicates=1, crashes=1, por=False), False),
    "corrected-o2-fifo-por": ("corrected", 2, Config(bus="fifo", duplicates=1, por=True), False),
    "corrected-o2-sorted": ("corrected", 2, Config(crashes=1, duplicates=0, por=False), True),
    "corrected-o2-sorted-por": ("corrected", 2, Config(por=True), True),
    "seed-o2-violations": ("seed", 2, Config(por=False), False),
    "seed-o2-no-idempotency-por": ("seed", 2, Config(idempotency=False, por=True), False),
    "corrected-o2-depth": ("corrected", 2, Config(max_depth=6, por=False), False),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(CASES))
def test_lean_loops_explore_what_the_dict_loops_do(name, monkeypatch):
    design, orders, cfg, sorted_form = CASES[name]
    system = saga_system(design, orders=orders)
    new_r, new = _run(system, cfg, monkeypatch, lean=True, sorted_form=sorted_form)
    old_r, old = _run(system, cfg, monkeypatch, lean=False, sorted_form=sorted_form)
    assert new == old
    assert new["loop"] in ("incremental", "fifo", "sorted")
    # The lean search kept no graph (the configurations' graphs are layered) and no state
    # numbers: less memory by the explorer's own accounting.
    assert new_r._search.offsets is None and isinstance(new_r._search.seen, set)
    assert len(new_r._search.seen) == new["states"] or not new["complete"]
    assert new_r.stats.memory_bytes < old_r.stats.memory_bytes


def test_lean_loops_stop_where_the_dict_loops_do_at_a_state_bound(monkeypatch):
    system = saga_system("corrected", orders=2)
    cfg = Config(crashes=1, por=False)
    _, new = _run(system, cfg, monkeypatch, lean=True, max_states=5000)
    _, old = _run(system, cfg, monkeypatch, lean=False, max_states=5000)
    assert new == old and not new["complete"] and new["states"] == 5000


def _retry_system(can_succeed: bool) -> System:
    return System(
        (Retry(can_succeed),),
        (Property.at_rest("all-done", lambda v: all(x == 3 for x in v["retry"])),
         Property.always("bounded", lambda v: all(x <= 3 for x in v["retry"]))),
        sagas=2,
    )


@pytest.mark.parametrize("symmetry", [False, True])
@pytest.mark.parametrize("can_succeed", [False, True])
def test_a_cycle_makes_the_lean_search_keep_the_graph_after_all(symmetry, can_succeed, monkeypatch):
    system = _retry_system(can_succeed)
    cfg = Config(symmetry=symmetry, por=False)
    calls = []
    real_run = explore_module._Search.run

    def spy(search, reducer=None):
        real_run(search, reducer)
        calls.append((search.keep_graph, search.lazy_graph, search.graph_needed))

    monkeypatch.setattr(explore_module._Search, "run", spy)
    new_r, new = _run(system, cfg, monkeypatch, lean=True)
    assert calls == [(False, True, True), (True, False, False)]  # lean, stopped at the edge back; then the graph
    old_r, old = _run(system, cfg, monkeypatch, lean=False)
    assert new == old
    assert not new_r._search.layered and new_r._search.offsets is not None
    assert new_r.verdicts["all-done"] == ("held" if can_succeed else "violated")


@pytest.mark.parametrize("can_succeed", [False, True])
def test_the_lean_loop_tells_an_edge_back_as_the_graph_does(can_succeed, monkeypatch):
    # Safety properties only (no graph asked for): the lean loop still records whether
    # the graph is layered, and agrees with the graph kept.
    def safety_only(system):
        return dataclasses.replace(system, properties=[p for p in system.properties if p.kind == "always"])

    cyclic = safety_only(_retry_system(can_succeed))
    acyclic = safety_only(saga_system("corrected", orders=2))
    for system in (cyclic, acyclic):
        with monkeypatch.context() as m:
            m.setattr(explore_module, "_LEAN", True)
            lean = explore(system, Config(por=False))._search
            graph = explore(system, Config(por=False), keep_graph=True)._search
        assert lean.offsets is None and graph.offsets is not None
        assert lean.layered == graph.layered
        assert lean.layered == (system is acyclic)


@pytest.mark.parametrize("por", [None, False])
def test_no_collection_after_the_search_traverses_what_it_left_alive(por, monkeypatch):
    """The objects a search leaves alive (memo and move tables: thousands on 2 orders)
    were allocated with collection off; they are handed to the oldest generation
    untraversed, so no collection during explore() walks a young generation that big
    (without the hand-off the first one after the search walks them all)."""
    import gc

    walked: list[int] = []

    def on_gc(phase, info):
        if phase == "start":
            walked.append(sum(len(gc.get_objects(generation=g)) for g in range(info["generation"] + 1)))

    system = saga_system("corrected", orders=2)
    sizes = {}
    gc.collect()
    gc.callbacks.append(on_gc)
    try:
        for handoff in (False, True):
            monkeypatch.setattr(explore_module, "_GC_HANDOFF", handoff)
            walked.clear()
            r = explore(system, Config(crashes=1, duplicates=0, por=por))  # (22k, 6k objects walked without)
            assert r.ok and r.complete
            sizes[handoff] = max(walked, default=0)
    finally:
        gc.callbacks.remove(on_gc)
    assert sizes[False] > 5_000  # (the situation the hand-off is for)
    assert sizes[True] < 2_000
    assert gc.isenabled() and gc.get_freeze_count() == 0
