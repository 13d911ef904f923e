"""The stubborn-set selection made cheaper selects what it selected before.

``bench/_old_por.py`` keeps the selection as it was (every state's groups keyed into a
memo, each candidate closure computed one transition at a time to the end); the
shipped one looks for a drop before building a key, computes closures a byte of
transitions at a time and stops one as soon as it holds every enabled transition.
On every golden configuration (and with the per-participant units forced), each state
the reduced search asks about gets the same set from both.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest
from sagaspec.model import Config, explore
from sagaspec.model._por import Reducer, SagaReducer
from sagaspec.model.saga import saga_system
from test_saga_check import RUNS

explore_module = importlib.import_module("sagaspec.model.explore")  # (the package exports a function of that name)
OLD = Path(__file__).resolve().parents[2] / "bench" / "_old_por.py"


def _old_selection():
    spec = importlib.util.spec_from_file_location("_old_por", OLD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OldSelection


OldSelection = _old_selection()


def _recorded(monkeypatch, model: dict, cfg: dict, units=None) -> tuple[list, list, object]:
    """The default search on the model, with every ``select`` call and its answer."""
    calls: list = []
    reducers: list = []
    make = units or explore_module.reducer_for

    def recording(engine):
        reducer = make(engine)
        reducers.append(reducer)
        real = reducer.select

        def select(state, supports, active=-1):
            r = real(state, supports, active)
            calls.append((state, supports, active, r))
            return r

        reducer.select = select
        return reducer

    monkeypatch.setattr(explore_module, "reducer_for", recording)
    result = explore(saga_system(**model), Config(**cfg))
    return calls, reducers, result


def _assert_same_selection(calls, reducers):
    assert len(reducers) == 1 and calls
    old = OldSelection(reducers[0])
    differ = [(s, r, old.select(s, sup, act)) for s, sup, act, r in calls if old.select(s, sup, act) != r]
    assert not differ, f"{len(differ)} of {len(calls)} states select differently, e.g. {differ[0]}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_selection_equals_the_old_one_on_the_golden_configurations(monkeypatch, name):
    model, cfg = RUNS[name]
    calls, reducers, _result = _recorded(monkeypatch, model, cfg)
    _assert_same_selection(calls, reducers)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["corrected-o2", "corrected-o2-nosym", "seed-o2"])
def test_the_selection_equals_the_old_one_with_per_participant_units(monkeypatch, name):
    model, cfg = RUNS[name]
    calls, reducers, _result = _recorded(monkeypatch, model, cfg, Reducer)
    assert type(reducers[0]) is Reducer
    _assert_same_selection(calls, reducers)
    assert any(r != -1 for *_x, r in calls)  # (a run where nothing was reduced would test little)


def test_the_headline_shape_selects_drops_and_reduced_sets_as_before(monkeypatch):
    # Crashes and duplicates together: drops, crash budgets and the closures' early stop
    # all occur (2 orders: the 3-order headline run is bench/bench_check.py's).
    calls, reducers, result = _recorded(monkeypatch, {"design": "corrected", "orders": 2}, {"crashes": 1})
    assert isinstance(reducers[0], SagaReducer) and result.ok
    _assert_same_selection(calls, reducers)
    sizes = {bin(r).count("1") for *_x, r in calls if r != -1}
    assert 1 in sizes and max(sizes) > 1  # drops alone, and larger stubborn sets
