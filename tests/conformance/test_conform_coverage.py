"""Model edge coverage: the model checker's graph, and runs mapped onto it."""

from __future__ import annotations

import pytest
from sagaspec.conformance.coverage import coverage_graph, covering_paths, map_case
from sagaspec.model.explore import explore
from sagaspec.model.system import Config


@pytest.mark.parametrize("dups, crashes", [(0, 0), (1, 0), (0, 1)])
def test_the_coverage_graph_is_the_model_checkers(dups, crashes):
    graph = coverage_graph("corrected", 1, dups, crashes)
    result = explore(graph.engine.system, Config(duplicates=dups, crashes=crashes),
                     keep_graph=True)
    assert (graph.states, graph.edges) == (result.stats.states, result.stats.edges)
    assert graph.edges == result.graph().number_of_edges()


def test_pinned_graph_size_of_the_default_bounds():
    graph = coverage_graph("corrected", 1, 1, 0)
    assert (graph.states, graph.edges) == (317, 785)


def test_covering_paths_traverse_every_edge():
    graph = coverage_graph("corrected", 1, 1, 0)
    paths = covering_paths(graph)
    seen = {(s, d) for p in paths for s, d in p}
    assert len(seen) == graph.edges


def test_a_happy_path_case_maps_onto_one_path_of_the_graph(conform):
    r = conform(participant="payment", examples=1, seed=1, max_sagas=1, faults=False,
                coverage=True)
    cov = r.final.coverage
    assert cov["edges"] == 785 and 0 < cov["covered"] < 785
    assert cov["share"] == round(cov["covered"] / 785, 4)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("participant", ["payment", "inventory", "order"])
def test_cover_edges_reaches_every_edge_through_a_single_participant(conform, participant):
    r = conform(participant=participant, cover_edges=True, coverage=True)
    assert r.final.failures == []
    assert r.final.coverage["share"] == 1.0, r.final.coverage
    assert any("cover-edges:" in n for n in r.final.notes)


@pytest.mark.timeout(120)
def test_the_whole_system_covers_only_what_its_own_bus_schedules(conform, monkeypatch):
    # A steppable system is driven along each covering path delivery by delivery ...
    r = conform(participant="system", cover_edges=True, coverage=True)
    assert r.final.failures == []
    assert r.final.coverage["share"] == 1.0
    # ... one that runs each saga by itself reorders nothing for the suite: coverage says so.
    from sagaspec.conformance import harness

    monkeypatch.setattr(harness, "STEP_SYSTEM", False)
    r = conform(participant="system", cover_edges=True, coverage=True)
    assert r.final.failures == []
    assert 0 < r.final.coverage["share"] < 0.2


def test_unmappable_steps_count_as_leaving_the_bounds():
    graph = coverage_graph("corrected", 1, 1, 0)
    place = {"op": "place", "src": "customer", "to": "order",
             "msg": {"type": "OrderCreated", "saga": 1, "src": "order"}}
    edges, inside = map_case(graph, [place], "payment", {})
    assert (edges, inside) == (set(), False)  # a second order is outside orders=1


def test_a_stray_saga_leaves_the_bounds_and_does_not_break_the_mapping():
    """A case may deliver an event of a saga it never started (a ``stray`` step), after
    which the service's answers name that saga: beyond the graph's sagas, so the case
    leaves the bounds (this raised IndexError in the model's reaction lookup)."""
    graph = coverage_graph("corrected", 1, 1, 0)
    place = {"op": "place", "src": "customer", "to": "order",
             "msg": {"type": "OrderCreated", "saga": 0, "src": "order"}}
    stray = {"op": "stray", "src": "suite", "to": "payment",
             "msg": {"type": "OrderCancelled", "saga": 1, "src": "order"}}
    deliver = {"op": "deliver", "src": "order", "to": "payment",
               "msg": {"type": "OrderCancelled", "saga": 1, "src": "order"}}
    edges, inside = map_case(graph, [place, stray, deliver], "payment", {})
    assert inside is False
    alone, _ = map_case(graph, [place], "payment", {})
    assert edges == alone  # the prefix before the stray still counts
    edges, inside = map_case(graph, [place, deliver], "payment", {})
    assert inside is False


def test_a_stepped_system_maps_each_delivery_onto_the_graph(conform):
    """The suite steps the reference system one delivery at a time: each recorded delivery
    is a move of the graph (mapped as one system step, it explained nothing: 0 edges)."""
    r = conform(participant="system", examples=10, seed=1, max_sagas=1, faults=False,
                coverage=True)
    cov = r.final.coverage
    assert cov["cases_leaving_bounds"] == 0, cov
    assert cov["covered"] >= 10, cov  # a saga's place and deliveries: several edges
