"""Liveness (``eventually``, ``leads_to`` per saga) with symmetry asked for.

The checker does not check them on the symmetry-reduced graph (the analysis would
follow saga indices that a renaming swaps, and compare action names a renaming
changes: see ``explore()``); it switches symmetry off with a note and checks the full
graph. These tests pin that the verdicts and counterexamples are then exactly those of
a run without symmetry, on the order designs with per-saga liveness properties added
(the seed design leaves sagas stuck; the corrected one ends every saga) and on a model
where only one saga at a time can livelock, and that each counterexample replays:
the named saga's goal never comes on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sagaspec.model import Config, Msg, Outcome, Participant, Property, System, explore
from sagaspec.model.engine import Engine
from sagaspec.model.path import replay
from sagaspec.model.saga import saga_system
from sagaspec.model.view import View

SAGAS = Path(__file__).resolve().parents[2] / "spec" / "sagas"
ENDED = "order.status == 'completed' || order.status == 'cancelled'"
LIVENESS = f"""
  open-order-ends:
    leads_to: {{from: "order.status == 'open'", to: "{ENDED}"}}
    description: an open order is completed or cancelled
  order-ends:
    eventually: "{ENDED}"
    description: every order is completed or cancelled
"""


def _with_liveness(tmp_path, design: str) -> Path:
    text = (SAGAS / f"order-{design}.saga.yaml").read_text()
    head, sep, tail = text.partition("\nproperties:\n")
    assert sep, "the shipped spec has a properties section"
    out = tmp_path / f"order-{design}-live.saga.yaml"
    out.write_text(head + sep + LIVENESS.lstrip("\n") + tail)
    return out


def _goal(prop: Property):
    return prop.then if prop.kind == "leads-to" else prop.pred


def _assert_replays(system: System, config: Config, v) -> None:
    """The counterexample replays without symmetry, and the named saga's goal is false
    from where it counts to the end (a stuck end, or around the whole loop)."""
    prop = next(p for p in system.properties if p.name == v.property)
    plain = Config(**{**config.to_dict(), "symmetry": False})
    path = replay(Engine(system, plain), plain, v.path.actions)
    assert path.states == v.path.states
    goal = _goal(prop)
    holds = [bool(goal(path.view(i), v.saga) if prop.per_saga else goal(path.view(i))) for i in range(len(path) + 1)]
    if v.path.loop is None:
        assert v.kind == "stuck" and path.view(-1).quiescent
        start = len(path)
    else:
        assert v.kind == "cycle" and path.snapshot(len(path)) == path.snapshot(v.path.loop)
        start = v.path.loop
    assert not any(holds[start:])
    if prop.kind == "leads-to":  # the trigger held, and the goal never since
        trig = [i for i in range(len(path) + 1) if prop.pred(path.view(i), v.saga)]
        assert trig and not any(holds[max(trig):])


def _same(system: System, config: Config):
    on = explore(system, Config(**{**config.to_dict(), "symmetry": True}))
    off = explore(system, Config(**{**config.to_dict(), "symmetry": False}))
    assert on.complete and off.complete
    assert any("symmetry reduction is off" in n for n in on.notes)
    assert on.verdicts == off.verdicts
    assert on.stats.states == off.stats.states
    assert [(v.property, v.kind, v.saga, len(v.path)) for v in on.violations] == [
        (v.property, v.kind, v.saga, len(v.path)) for v in off.violations
    ]
    live = [v for v in on.violations if v.property_kind in ("eventually", "leads-to")]
    for v in live:
        _assert_replays(system, config, v)
    return on


@pytest.mark.timeout(300)
@pytest.mark.parametrize("bus", ["unordered-dup", "unordered"])
def test_order_designs_liveness_with_symmetry_asked_for_equals_without(tmp_path, bus):
    seed = _same(saga_system(_with_liveness(tmp_path, "seed"), orders=2), Config(bus=bus))
    assert seed.verdicts["open-order-ends"] == seed.verdicts["order-ends"] == "violated"
    corrected = _same(saga_system(_with_liveness(tmp_path, "corrected"), orders=2), Config(bus=bus))
    assert corrected.verdicts["open-order-ends"] == corrected.verdicts["order-ends"] == "held"
    assert corrected.ok


class Gates(Participant):
    """One gate per saga: ``open`` may ``close`` or ``escape``, ``closed`` may ``open``.
    Escaping is enabled only while the gate is open, so under weak fairness one saga can
    flap forever while the others escape (strong fairness forbids it). Sagas are
    interchangeable (``permute``)."""

    name = "gates"
    subscribes = frozenset()
    publishes = frozenset({"Escaped"})

    def __init__(self, sagas: int) -> None:
        self.sagas = sagas

    def init(self):
        return ("open",) * self.sagas

    def internal(self, state):
        out = []
        for i, g in enumerate(state):
            if g == "open":
                out.append(Outcome(f"close {i}", state[:i] + ("closed",) + state[i + 1 :]))
                out.append(Outcome(f"escape {i}", state[:i] + ("out",) + state[i + 1 :], (Msg("Escaped", i, self.name),)))
            elif g == "closed":
                out.append(Outcome(f"open {i}", state[:i] + ("open",) + state[i + 1 :]))
        return tuple(out)

    def on_event(self, state, msg):  # pragma: no cover - subscribes to nothing
        return (Outcome("ignore", state),)

    def permute(self, state, perm):
        out = [None] * len(state)
        for i, v in enumerate(state):
            out[perm[i]] = v
        return tuple(out)


def _gates(sagas: int) -> System:
    return System(
        (Gates(sagas),),
        (
            Property.eventually("escapes", lambda v, i: v["gates"][i] == "out", per_saga=True),
            Property.leads_to(
                "closed-escapes", lambda v, i: v["gates"][i] == "closed", lambda v, i: v["gates"][i] == "out", per_saga=True
            ),
        ),
        sagas=sagas,
        name=f"gates/{sagas}",
    )


@pytest.mark.parametrize("sagas", [2, 3])
def test_a_livelock_of_one_saga_is_found_with_symmetry_asked_for(sagas):
    config = Config(bus="unordered", idempotency=False)
    r = _same(_gates(sagas), config)
    assert r.verdicts == {"escapes": "violated", "closed-escapes": "violated"}
    for v in r.violations:
        assert v.kind == "cycle" and v.saga is not None
        # The named saga's gate flaps on the loop (closes and opens again).
        looped = {v.path.view(i)["gates"][v.saga] for i in range(v.path.loop, len(v.path) + 1)}
        assert looped == {"open", "closed"}
    strong = _same(_gates(sagas), Config(bus="unordered", idempotency=False, fairness="strong"))
    assert strong.ok


def test_the_named_saga_is_the_one_whose_goal_fails():
    # A counterexample for "escapes" names a saga whose gate is not out on the loop,
    # and another saga's goal may well hold there (the check is per saga, not global).
    r = explore(_gates(2), Config(bus="unordered", idempotency=False, symmetry=True))
    v = r.violation("escapes")
    loop = [View(v.path.engine, v.path.raw_state(i)) for i in range(v.path.loop, len(v.path) + 1)]
    assert all(view["gates"][v.saga] != "out" for view in loop)
