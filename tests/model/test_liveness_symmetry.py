"""Liveness (``eventually``, ``leads_to`` per saga) under symmetry reduction.

The checker analyses the symmetry-reduced graph with the tracked saga's index carried
along each edge's renaming, confirms a counterexample on the concrete run it unrolls
to, and checks the unreduced graph only when one does not confirm (fairness over
actions whose names a renaming changes). Verdicts must be those of a run without
symmetry, on the order designs with per-saga liveness properties added (the seed
design leaves sagas stuck; the corrected one ends every saga) and on a model where one
saga at a time can livelock; each counterexample replays without symmetry, the named
saga's goal never comes on it, and its loop is fair.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sagaspec.model import Config, Msg, Outcome, Participant, Property, System, explore
from sagaspec.model.engine import FAULTS, Engine
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


def _fair(path, strong: bool) -> bool:
    """Every action fairness demands of the lasso's loop is taken in it: an internal step
    by participant and label, a delivery by the message whatever its outcome."""
    e = path.engine

    def name(d) -> tuple:
        kind, p, delivery, label = d
        return ("i", p, label) if delivery < 0 else ("d", delivery)

    taken, sets = set(), []
    for i in range(path.loop, len(path)):
        succs, _q, ds = e.expand(path.raw_state(i), actions=True, canonical=False)
        sets.append({name(d) for d in ds if d[0] not in FAULTS})
        taken |= {name(d) for t, d in zip(succs, ds, strict=True) if t == path.raw_state(i + 1) and d[0] not in FAULTS}
    return (set.union(*sets) if strong else set.intersection(*sets)) <= taken


def _same(system: System, config: Config):
    """The run with symmetry and the one without: same verdicts, valid counterexamples."""
    on = explore(system, Config(**{**config.to_dict(), "symmetry": True}))
    off = explore(system, Config(**{**config.to_dict(), "symmetry": False}))
    assert on.complete and off.complete
    assert on.verdicts == off.verdicts
    kinds = ("eventually", "leads-to")
    assert [(v.property, v.kind) for v in on.violations if v.property_kind in kinds] == [
        (v.property, v.kind) for v in off.violations if v.property_kind in kinds
    ]
    for v in on.violations:
        if v.property_kind in kinds:
            _assert_replays(system, config, v)
            if v.path.loop is not None:
                assert _fair(v.path, config.fairness == "strong")
    return on, off


def _reduced(on, off) -> bool:
    """The run with symmetry stayed on the reduced graph (no fallback)."""
    return on.config.symmetry and on.stats.states < off.stats.states and not any("symmetry" in n for n in on.notes)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("bus", ["unordered-dup", "unordered"])
def test_order_designs_liveness_with_symmetry_asked_for_equals_without(tmp_path, bus):
    seed, off = _same(saga_system(_with_liveness(tmp_path, "seed"), orders=2), Config(bus=bus))
    assert seed.verdicts["open-order-ends"] == seed.verdicts["order-ends"] == "violated"
    assert _reduced(seed, off)
    # (Both searches are breadth-first: the stuck ends are as near.)
    assert {v.property: len(v.path) for v in seed.violations} == {v.property: len(v.path) for v in off.violations}
    corrected, off = _same(saga_system(_with_liveness(tmp_path, "corrected"), orders=2), Config(bus=bus))
    assert corrected.verdicts["open-order-ends"] == corrected.verdicts["order-ends"] == "held"
    assert corrected.ok and _reduced(corrected, off)


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
def test_a_livelock_of_one_saga_is_found_on_the_reduced_graph(sagas):
    config = Config(bus="unordered", idempotency=False)
    r, off = _same(_gates(sagas), config)
    assert r.verdicts == {"escapes": "violated", "closed-escapes": "violated"} and _reduced(r, off)
    for v in r.violations:
        assert v.kind == "cycle" and v.saga is not None
        # The named saga's gate flaps on the loop (closes and opens again).
        looped = {v.path.view(i)["gates"][v.saga] for i in range(v.path.loop, len(v.path) + 1)}
        assert looped == {"open", "closed"}


def test_strong_fairness_over_unnamed_steps_falls_back_to_the_full_graph():
    # Under strong fairness no gate flaps forever. The gates' steps are internal, which
    # name no saga, so the reduced graph cannot tell "escape" of the flapping saga from
    # another's: its candidate loop does not confirm and the full graph decides.
    r, off = _same(_gates(2), Config(bus="unordered", idempotency=False, fairness="strong"))
    assert r.ok and not r.config.symmetry and r.stats.states == off.stats.states
    assert any("did not confirm" in n for n in r.notes)


def test_the_named_saga_is_the_one_whose_goal_fails():
    r = explore(_gates(3), Config(bus="unordered", idempotency=False, symmetry=True))
    for v in r.violations:
        loop = [View(v.path.engine, v.path.raw_state(i)) for i in range(v.path.loop, len(v.path) + 1)]
        assert all(view["gates"][v.saga] != "out" for view in loop)
        # The concrete loop returns to its very state (repeated until the renaming closes).
        assert v.path.raw_state(len(v.path)) == v.path.raw_state(v.path.loop)


def _renamed(state, perm):
    out = [None] * len(state)
    for i, v in enumerate(state):
        out[perm[i]] = v
    return tuple(out)


class Starter(Participant):
    """Starts each saga (an internal step) and answers each Pong with a Ping."""

    name = "a"
    subscribes = frozenset({"Pong"})
    publishes = frozenset({"Ping"})

    def __init__(self, sagas: int) -> None:
        self.sagas = sagas

    def init(self):
        return ("idle",) * self.sagas

    def internal(self, state):
        return tuple(
            Outcome(f"start {i}", state[:i] + ("on",) + state[i + 1 :], (Msg("Ping", i, self.name),))
            for i, s in enumerate(state)
            if s == "idle"
        )

    def on_event(self, state, msg):
        return (Outcome("ping", state, (Msg("Ping", msg.saga, self.name),)),)

    def permute(self, state, perm):
        return _renamed(state, perm)


class Echo(Participant):
    """Answers a Ping with a Pong, or is done with the saga: one delivery, two outcomes,
    so fairness (over actions, not outcomes) lets a saga ping-pong forever."""

    name = "b"
    subscribes = frozenset({"Ping"})
    publishes = frozenset({"Pong"})

    def __init__(self, sagas: int) -> None:
        self.sagas = sagas

    def init(self):
        return (0,) * self.sagas

    def on_event(self, state, msg):
        i = msg.saga
        return (Outcome("pong", state, (Msg("Pong", i, self.name),)), Outcome("done", state[:i] + (1,) + state[i + 1 :]))

    def permute(self, state, perm):
        return _renamed(state, perm)


@pytest.mark.parametrize("fairness", ["weak", "strong"])
@pytest.mark.parametrize("sagas", [2, 3])
def test_a_message_livelock_is_confirmed_on_the_reduced_graph(sagas, fairness):
    # The first fair cycle of the quotient may leave another saga's start waiting (an
    # internal step, which fairness there cannot name): it does not confirm, and the
    # next candidate, where every saga runs, does.
    system = System(
        (Starter(sagas), Echo(sagas)),
        (
            Property.eventually("done", lambda v, i: v["b"][i] == 1, per_saga=True),
            Property.leads_to("started-done", lambda v, i: v["a"][i] == "on", lambda v, i: v["b"][i] == 1, per_saga=True),
        ),
        sagas=sagas,
        name=f"ping-pong/{sagas}",
    )
    r, off = _same(system, Config(bus="unordered", idempotency=False, fairness=fairness))
    assert r.verdicts == {"done": "violated", "started-done": "violated"} and _reduced(r, off)
    assert all(v.kind == "cycle" for v in r.violations)
