"""What the model checker finds on the shipped designs, with pinned (golden) results.

The must-show holes of the seed design, each with its shortest trace, and the corrected
design passing exhaustively with 2 orders + duplicates + one crash per participant and
with 3 orders + duplicates.

Golden files live in ``tests/model/golden/``: ``saga_runs.json`` pins the distinct state
count, BFS depth, verdicts and counterexample lengths of every run below, and
``saga_traces/<run>.<property>.txt`` the text of each shortest (and, when shorter, shrunk)
counterexample. After an intended change to the model or the engine, regenerate them
with::

    SAGASPEC_REGEN_GOLDEN=1 python -m pytest tests/model/test_saga_check.py

and review the diff. The variable is never set by default, so a plain run compares.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sagaspec.model import Config, explore
from sagaspec.model.saga import saga_system

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("SAGASPEC_REGEN_GOLDEN") == "1"

# name -> (saga_system kwargs, Config kwargs)
RUNS: dict[str, tuple[dict, dict]] = {
    "seed-o2": ({"design": "seed", "orders": 2}, {"symmetry": True}),
    "seed-o2-nosym": ({"design": "seed", "orders": 2}, {"symmetry": False}),
    "seed-o2-no-idempotency": ({"design": "seed", "orders": 2}, {"symmetry": True, "idempotency": False}),
    "seed-o2-fifo": ({"design": "seed", "orders": 2}, {"symmetry": True, "bus": "fifo"}),
    "seed-o1-crash-volatile-join": (
        {"design": "seed", "orders": 1, "stock": 1, "declines": False},
        {"crashes": 1},
    ),
    "corrected-o2": ({"design": "corrected", "orders": 2}, {"symmetry": True}),
    "corrected-o2-nosym": ({"design": "corrected", "orders": 2}, {"symmetry": False}),
    "corrected-o2-fifo-dup": ({"design": "corrected", "orders": 2}, {"symmetry": True, "bus": "fifo", "duplicates": 1}),
    "corrected-o2-dup-crash1": ({"design": "corrected", "orders": 2}, {"symmetry": True, "crashes": 1}),
    "corrected-o3-dup": ({"design": "corrected", "orders": 3}, {"symmetry": True}),
    "corrected-o2-no-idempotency": ({"design": "corrected", "orders": 2}, {"symmetry": True, "idempotency": False}),
    "corrected-o1-no-outbox-crash": (
        {"design": "corrected", "orders": 1, "stock": 1},
        {"crashes": 1, "outbox": False},
    ),
}

_cache: dict = {}


def run(name: str):
    if name not in _cache:
        model, cfg = RUNS[name]
        # (The full search: the golden counts are those of no reduction.)
        _cache[name] = explore(saga_system(**model), Config(por=False, **cfg))
    return _cache[name]


def actions(path):
    return [(a.kind, a.participant, a.msg.type if a.msg else None, a.msg.saga if a.msg else None, a.label)
            for a in path.actions]


# --------------------------------------------------------------------------- seed: must show
@pytest.mark.timeout(120)
def test_seed_stuck_saga_when_payment_is_declined():
    r = run("seed-o2")
    v = r.violation("saga-terminates")
    assert v is not None and v.kind == "stuck"
    assert len(v.path) == 9
    final = v.path.final
    assert final.quiescent
    stuck = [i for i, o in enumerate(final["order"]) if not (o.completed or o.cancelled)]
    assert stuck, "the violating state must contain a saga without outcome"
    for i in stuck:
        assert final["payment"][i].status == "declined"
    # Nobody subscribes to PaymentFailed: the decline is never even delivered.
    assert r.system.subscribers("PaymentFailed") == ()


@pytest.mark.timeout(120)
def test_seed_reservation_never_released_after_failed_payment():
    v = run("seed-o2").violation("no-reservation-left")
    assert v is not None and len(v.path) == 9
    final = v.path.final
    held = [i for i, s in enumerate(final["inventory"].slots) if s.held]
    assert held
    for i in held:
        assert final["payment"][i].status == "declined"
        assert final["order"][i].completed == 0
    assert ("deliver", "payment", "OrderCreated", held[0], "decline") in actions(v.path)


@pytest.mark.timeout(120)
def test_seed_refund_without_charge_when_reservation_failure_overtakes_order_created():
    v = run("seed-o2").violation("refund-needs-charge")
    assert v is not None and v.kind == "invariant" and len(v.path) == 5
    steps = actions(v.path)
    kind, who, event, saga, label = steps[-1]
    assert (kind, who, event, label) == ("deliver", "payment", "InventoryReservationFailed", "refund (nothing charged)")
    # Payment had not seen OrderCreated of that saga yet: the failure overtook it.
    assert not any(s[1] == "payment" and s[2] == "OrderCreated" and s[3] == saga for s in steps)


@pytest.mark.timeout(120)
def test_seed_charge_left_on_cancelled_order_after_the_overtaking():
    v = run("seed-o2").violation("no-charge-left")
    assert v is not None and len(v.path) == 10
    final = v.path.final
    (i,) = [i for i, p in enumerate(final["payment"]) if p.held]
    assert final["order"][i].cancelled == 1 and final["order"][i].completed == 0
    steps = actions(v.path)
    refund = steps.index(("deliver", "payment", "InventoryReservationFailed", i, "refund (nothing charged)"))
    charge = steps.index(("deliver", "payment", "OrderCreated", i, "approve"))
    assert refund < charge


@pytest.mark.timeout(120)
def test_seed_double_charge_with_duplicates_and_no_idempotency_store():
    with_store = run("seed-o2")
    assert with_store.verdicts["single-charge"] == "held"
    v = run("seed-o2-no-idempotency").violation("single-charge")
    assert v is not None and len(v.path) == 3
    assert actions(v.path) == [
        ("internal", "order", None, None, "place order 0"),
        ("duplicate", "payment", "OrderCreated", 0, "approve"),
        ("deliver", "payment", "OrderCreated", 0, "approve"),
    ]
    assert v.path.final["payment"][0].charges == 2


@pytest.mark.timeout(120)
def test_seed_volatile_join_memory_loses_a_saga_on_crash():
    """With no decline and enough stock, only Order's crash can strand the saga."""
    v = run("seed-o1-crash-volatile-join").violation("saga-terminates")
    assert v is not None
    kinds = [(a.kind, a.participant) for a in v.path.actions]
    assert ("crash", "order") in kinds
    model, cfg = RUNS["seed-o1-crash-volatile-join"]
    same_without_crash = explore(saga_system(**model), Config(por=False, **{**cfg, "crashes": 0}))
    assert same_without_crash.violations == []
    assert same_without_crash.verdicts["saga-terminates"] == "held"


@pytest.mark.timeout(120)
def test_seed_overtaking_happens_on_fifo_channels_too():
    # Per-channel FIFO does not help: OrderCreated and the failure come from different publishers.
    assert run("seed-o2-fifo").verdicts["refund-needs-charge"] == "violated"


# --------------------------------------------------------------------------- corrected
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["corrected-o2", "corrected-o2-fifo-dup", "corrected-o2-dup-crash1", "corrected-o3-dup"])
def test_corrected_passes_exhaustively(name):
    r = run(name)
    assert r.complete and r.exhaustive and not r.interrupted
    assert r.violations == []
    assert set(r.verdicts.values()) == {"held"}, r.verdicts
    assert r.ok


@pytest.mark.timeout(120)
def test_corrected_notification_guards_itself_without_the_store():
    """The checker found that an unguarded Notification reaction emails twice for a
    duplicate OrderCompleted when the idempotency store is off. The corrected design now
    guards it (a ``()`` alternative: nothing for a repeat); without that fix this fails."""
    r = run("corrected-o2-no-idempotency")
    assert r.verdicts["single-email"] == "held"
    assert r.verdicts["single-charge"] == "held"
    assert not r.violations

    # The same design with the old, unguarded reaction shows the hole.
    from importlib import resources

    from sagaspec.spec.sagafile import parse_spec

    text = resources.files("sagaspec.spec").joinpath("sagas/order-corrected.saga.yaml").read_text()
    guard = """          - label: ignore (already sent)
            when: status != 'none'
          - label: email
            when: status == 'none'
"""
    assert guard in text
    unguarded = parse_spec(text.replace(guard, "          - label: email\n"), "corrected-unguarded-notification")
    bad = explore(saga_system(unguarded, orders=2), Config(symmetry=True, idempotency=False))
    v = bad.violation("single-email")
    assert v is not None
    assert [a.kind for a in v.path.actions if a.participant == "notification"] == ["duplicate", "deliver"]


@pytest.mark.timeout(120)
def test_corrected_needs_the_transactional_outbox():
    r = run("corrected-o1-no-outbox-crash")
    v = r.violation("saga-terminates")
    assert v is not None
    assert any(a.kind == "crash-before-publish" for a in v.path.actions)


@pytest.mark.timeout(120)
def test_symmetry_keeps_verdicts_and_shortest_lengths():
    for design in ("seed", "corrected"):
        sym, plain = run(f"{design}-o2"), run(f"{design}-o2-nosym")
        assert sym.verdicts == plain.verdicts
        assert {v.property: len(v.path) for v in sym.violations} == {
            v.property: len(v.path) for v in plain.violations
        }
        assert sym.stats.states < plain.stats.states


# --------------------------------------------------------------------------- golden
def _summary(result) -> dict:
    return {
        "states": result.stats.states,
        "depth": result.stats.depth,
        "complete": result.complete,
        "verdicts": result.verdicts,
        "shortest": {v.property: len(v.path) for v in result.violations},
        "shrunk": {v.property: len(v.shrunk_path) for v in result.violations},
    }


def _trace_files(name, result) -> dict[str, str]:
    files = {}
    for v in result.violations:
        files[f"{name}.{v.property}.txt"] = v.path.format() + "\n"
        if v.shrunk_path.actions != v.path.actions:
            files[f"{name}.{v.property}.shrunk.txt"] = v.shrunk_path.format() + "\n"
    return files


@pytest.mark.timeout(600)
def test_golden_state_counts_and_verdicts():
    target = GOLDEN / "saga_runs.json"
    actual = {name: _summary(run(name)) for name in RUNS}
    if REGEN:
        GOLDEN.mkdir(exist_ok=True)
        target.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert target.exists(), "golden file missing: run with SAGASPEC_REGEN_GOLDEN=1"
    expected = json.loads(target.read_text())
    assert sorted(expected) == sorted(actual)
    for name in RUNS:
        assert actual[name] == expected[name], name


@pytest.mark.timeout(600)
def test_golden_counterexample_traces():
    folder = GOLDEN / "saga_traces"
    actual: dict[str, str] = {}
    for name in RUNS:
        actual.update(_trace_files(name, run(name)))
    if REGEN:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.txt"):
            old.unlink()
        for fname, text in actual.items():
            (folder / fname).write_text(text)
    on_disk = {p.name: p.read_text() for p in folder.glob("*.txt")}
    assert sorted(on_disk) == sorted(actual), "run with SAGASPEC_REGEN_GOLDEN=1 after an intended change"
    for fname, text in actual.items():
        assert text == on_disk[fname], fname


@pytest.mark.timeout(600)
def test_golden_reduced_counts_and_the_full_searchs_verdicts():
    """The default search (partial-order reduction wherever it applies) on every run:
    the verdicts and shortest counterexamples of the full search, and pinned counts of
    what it explored (``saga_runs_reduced.json``; where a violation sends it back to
    the full search, the full count)."""
    target = GOLDEN / "saga_runs_reduced.json"
    actual = {}
    for name, (model, cfg) in RUNS.items():
        r = explore(saga_system(**model), Config(**cfg))
        full = run(name)
        assert r.verdicts == full.verdicts, name
        assert [(v.property, len(v.path)) for v in r.violations] == [(v.property, len(v.path)) for v in full.violations], name
        stood = r._search.por_reduced > 0
        assert r.stats.states < full.stats.states if stood else r.stats.states == full.stats.states, name
        actual[name] = {"states": r.stats.states, "edges": r.stats.edges, "reduced": stood}
    if REGEN:
        target.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    assert json.loads(target.read_text()) == actual
    # The reduction stands on every run without violations.
    assert all(actual[name]["reduced"] for name in RUNS if run(name).ok)
