"""Engine semantics on tiny hand-written participants.

Each test builds a model small enough to reason about by hand, so every pinned number
and trace below can be checked on paper.
"""

from __future__ import annotations

import pytest
from sagaspec.model import (
    Config,
    Engine,
    Msg,
    Outcome,
    Participant,
    Property,
    System,
    explore,
    load_system,
    simulate,
)

from sagaspec.errors import ModelError, PropertyError, UsageError

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- tiny models
class Sender(Participant):
    """Publishes ``count`` messages of ``types`` (in order), one internal step each."""

    name = "sender"

    def __init__(self, types=("Inc",), count=1, saga=0):
        self.types = types
        self.count = count
        self.saga = saga

    def init(self):
        return 0

    def internal(self, state):
        if state >= self.count * len(self.types):
            return ()
        t = self.types[state % len(self.types)]
        return (Outcome(f"send-{t}", state + 1, (Msg(t, self.saga, self.name),)),)


class Burst(Participant):
    """Publishes all of ``types`` in one step (one outcome, several messages)."""

    name = "sender"

    def __init__(self, types):
        self.types = types

    def init(self):
        return False

    def internal(self, state):
        if state:
            return ()
        return (Outcome("send", True, tuple(Msg(t, 0, self.name) for t in self.types)),)


class Counter(Participant):
    """Counts the ``Inc`` messages it handles (a non-idempotent side effect)."""

    name = "counter"
    subscribes = frozenset({"Inc"})

    def init(self):
        return 0

    def on_event(self, state, msg):
        return (Outcome("count", state + 1),)


class Recorder(Participant):
    """Records the order in which it receives messages."""

    name = "recorder"
    subscribes = frozenset({"A", "B"})

    def init(self):
        return ()

    def on_event(self, state, msg):
        return (Outcome("record", state + (msg.type,)),)


def counter_system(**props):
    return System(
        (Sender(), Counter()),
        (Property.always("at-most-once", lambda v: v["counter"] <= 1),
         Property.sometimes("counted", lambda v: v["counter"] >= 1)),
        name="counter",
    )


# --------------------------------------------------------------------------- duplicates
def test_duplicate_with_idempotency_off_double_counts_with_a_three_step_trace():
    r = explore(counter_system(), Config(idempotency=False, duplicates=1))
    v = r.violation("at-most-once")
    assert v is not None and v.kind == "invariant"
    assert [a.token() for a in v.path.actions] == [
        "i,sender,,,,send-Inc",
        "u,counter,Inc,0,sender,count",
        "d,counter,Inc,0,sender,count",
    ]
    assert v.path.final["counter"] == 2
    assert r.verdicts == {"at-most-once": "violated", "counted": "held"}


def test_idempotency_store_drops_the_duplicate():
    r = explore(counter_system(), Config(idempotency=True, duplicates=3))
    assert r.ok and r.complete
    # send; deliver (keep copy or not); the kept copy is acked and dropped ("ignored").
    kinds = {a.kind for s in range(r.stats.states) for a in r.path_to(s).actions}
    assert "drop" in kinds


@pytest.mark.parametrize("budget,reachable", [(0, 1), (1, 2), (2, 3), (3, 4)])
def test_duplicate_budget_bounds_the_redeliveries(budget, reachable):
    bus = "unordered" if budget == 0 else "unordered-dup"
    system = System(
        (Sender(), Counter()),
        (Property.sometimes("max", lambda v, k=reachable: v["counter"] == k),
         Property.always("bound", lambda v, k=reachable: v["counter"] <= k)),
    )
    r = explore(system, Config(bus=bus, duplicates=budget, idempotency=False))
    assert r.verdicts == {"max": "held", "bound": "held"}
    assert len(r.witnesses["max"]) == 1 + reachable  # send, then one delivery per count


def test_unordered_bus_rejects_a_duplicate_budget():
    with pytest.raises(UsageError, match="exactly once"):
        Config(bus="unordered", duplicates=1)


# --------------------------------------------------------------------------- ordering
def _order_system(sender):
    return System(
        (sender, Recorder()),
        (Property.always("a-before-b", lambda v: v["recorder"] in ((), ("A",), ("A", "B"))),),
    )


@pytest.mark.parametrize("sender", [Sender(types=("A", "B")), Burst(("A", "B"))], ids=["two-steps", "one-step"])
def test_fifo_keeps_channel_order_and_unordered_does_not(sender):
    fifo = explore(_order_system(sender), Config(bus="fifo"))
    assert fifo.ok, fifo.violations
    unordered = explore(_order_system(sender), Config(bus="unordered"))
    v = unordered.violation("a-before-b")
    assert v is not None
    assert v.path.final["recorder"] == ("B",)


def test_fifo_state_space_is_smaller_than_unordered():
    sys_ = _order_system(Burst(("A", "B", "A2")))
    assert explore(sys_, Config(bus="fifo")).stats.states < explore(sys_, Config(bus="unordered")).stats.states


# --------------------------------------------------------------------------- crashes
class Volatile(Participant):
    """Durable count + volatile flag; ``restart`` loses the flag."""

    name = "counter"
    subscribes = frozenset({"Inc"})

    def init(self):
        return (0, False)

    def on_event(self, state, msg):
        return (Outcome("count", (state[0] + 1, True)),)

    def restart(self, state):
        return (state[0], False)


def test_crash_in_handler_redelivers_and_idempotency_absorbs_it():
    system = System(
        (Sender(), Volatile()),
        (Property.always("at-most-once", lambda v: v["counter"][0] <= 1),
         Property.sometimes("flag-lost", lambda v: v["counter"] == (1, False))),
    )
    off = explore(system, Config(bus="unordered", crashes=1, idempotency=False))
    v = off.violation("at-most-once")
    assert [a.kind for a in v.path.actions] == ["internal", "crash-in-handler", "deliver"]
    # After the crash the message is still in flight (unacknowledged).
    assert v.path.steps[1].state.in_flight == (("counter", Msg("Inc", 0, "sender")),)
    on = explore(system, Config(bus="unordered", crashes=1, idempotency=True))
    assert on.ok
    assert on.verdicts["flag-lost"] == "held"
    # The crash budget is per participant and spent: no second crash.
    assert all(s.crashes_left["counter"] >= 0 for s in on.witnesses["flag-lost"].states)


def test_idle_crash_loses_volatile_state_only():
    system = System(
        (Sender(), Volatile()),
        (Property.sometimes("lost", lambda v: v["counter"] == (1, False)),),
    )
    r = explore(system, Config(bus="unordered", crashes=1))
    path = r.witnesses["lost"]
    assert [a.kind for a in path.actions] in (["internal", "crash-in-handler"], ["internal", "deliver", "crash"])
    no_crash = explore(system, Config(bus="unordered", crashes=0))
    assert no_crash.verdicts["lost"] == "vacuous"


class Relay(Participant):
    """Forwards ``Inc`` as ``Done``."""

    name = "relay"
    subscribes = frozenset({"Inc"})

    def init(self):
        return 0

    def on_event(self, state, msg):
        return (Outcome("forward", state + 1, (Msg("Done", msg.saga, self.name),)),)


class Sink(Participant):
    name = "sink"
    subscribes = frozenset({"Done"})

    def init(self):
        return False

    def on_event(self, state, msg):
        return (Outcome("done", True),)


def test_without_outbox_a_crash_loses_the_publish_and_the_saga_is_stuck():
    system = System(
        (Sender(), Relay(), Sink()),
        (Property.at_rest("done", lambda v: v["sink"]),),
    )
    assert explore(system, Config(bus="unordered", crashes=1, outbox=True)).ok
    r = explore(system, Config(bus="unordered", crashes=1, outbox=False))
    v = r.violation("done")
    assert v.kind == "stuck"
    assert [a.kind for a in v.path.actions] == ["internal", "crash-before-publish", "drop"]
    assert v.path.steps[1].lost == (Msg("Done", 0, "relay"),)
    assert v.path.final.quiescent


# --------------------------------------------------------------------------- liveness
class Retry(Participant):
    """waiting -> trying -> waiting ... ; with ``exit`` it may also succeed."""

    name = "retry"

    def __init__(self, exit: bool):
        self.exit = exit

    def init(self):
        return "waiting"

    def internal(self, state):
        if state == "waiting":
            return (Outcome("try", "trying"),)
        if state == "trying":
            out = (Outcome("fail", "waiting"),)
            return out + ((Outcome("succeed", "done"),) if self.exit else ())
        return ()


@pytest.mark.parametrize("use_scipy", [False, True])
def test_at_rest_on_a_trap_cycle_is_a_lasso(use_scipy, monkeypatch):
    import importlib

    import sagaspec.model.liveness as liveness

    if use_scipy and not liveness.have_scipy():
        pytest.fail("scipy is a dev dependency (pip install -e '.[dev]'); its analysis path must be tested")
    ex = importlib.import_module("sagaspec.model.explore")
    calls = []

    def forced(n, offsets, targets, use_scipy=None, faults=None):
        calls.append(n)
        return liveness.bottom_cycles(n, offsets, targets, use_scipy=use_scipy_flag, faults=faults)

    use_scipy_flag = use_scipy
    monkeypatch.setattr(ex, "bottom_cycles", forced)
    prop = Property.at_rest("done", lambda v: v["retry"] == "done")
    trap = explore(System((Retry(exit=False),), (prop,)))
    v = trap.violation("done")
    assert v.kind == "cycle"
    assert v.path.loop == 0 and [a.label for a in v.path.actions] == ["try", "fail"]
    assert "back to the state after step 0" in str(v.path)
    fair = explore(System((Retry(exit=True),), (prop,)))
    assert fair.ok
    assert calls == [2, 3]


def test_strong_components_scipy_and_python_agree():
    from sagaspec.model.liveness import bottom_cycles, have_scipy, strong_components

    if not have_scipy():
        pytest.fail("scipy is a dev dependency (pip install -e '.[dev]'); its analysis path must be tested")
    import random
    from array import array

    rng = random.Random(7)
    for _ in range(20):
        n = rng.randrange(1, 60)
        offsets, targets = array("I", [0]), array("I")
        for _v in range(n):
            for _k in range(rng.randrange(0, 3)):
                targets.append(rng.randrange(n))
            offsets.append(len(targets))
        a = strong_components(n, offsets, targets, use_scipy=False)
        b = strong_components(n, offsets, targets, use_scipy=True)
        assert a[0] == b[0]
        # same partition up to labels
        assert {frozenset(i for i in range(n) if a[1][i] == c) for c in set(a[1])} == {
            frozenset(i for i in range(n) if b[1][i] == c) for c in set(b[1])
        }
        assert bottom_cycles(n, offsets, targets, use_scipy=False) == bottom_cycles(
            n, offsets, targets, use_scipy=True
        )


# --------------------------------------------------------------------------- BFS: shortest traces
def test_first_violation_is_a_shortest_path_in_the_state_graph():
    import networkx as nx

    system = System(
        (Sender(count=3), Counter()),
        (Property.always("below-3", lambda v: v["counter"] < 3),),
    )
    r = explore(system, Config(idempotency=False, duplicates=2), keep_graph=True)
    v = r.violation("below-3")
    g = r.graph()
    dist = nx.single_source_shortest_path_length(g, 0)
    bad = [s for s in g.nodes if r.path_to(s).final["counter"] >= 3]
    assert len(v.path) == min(dist[s] for s in bad)
    assert len(v.path) == 4  # one send is enough: two duplicate deliveries, then the last copy
    assert len(v.shrunk_path) == len(v.path)


def test_action_order_is_deterministic_across_runs():
    system = counter_system()
    a = explore(system, Config(idempotency=False, duplicates=2))
    b = explore(system, Config(idempotency=False, duplicates=2))
    assert a.violation("at-most-once").path.encode() == b.violation("at-most-once").path.encode()
    assert (a.stats.states, a.stats.edges) == (b.stats.states, b.stats.edges)


def test_max_depth_gives_an_incomplete_result():
    system = System((Sender(count=5), Counter()), (Property.always("t", lambda v: True),))
    r = explore(system, Config(max_depth=2))
    assert not r.complete and r.truncated and r.stats.depth == 2
    assert r.verdicts["t"] == "unknown" and not r.ok


# --------------------------------------------------------------------------- symmetry
def _slot_model(n: int, broken: bool):
    """n sagas; each is placed, then handled by a worker; broken: the worker may do it twice."""

    def put(t, i, v):
        return t[:i] + (v,) + t[i + 1 :]

    def perm(t, p):
        out = [None] * len(t)
        for i, v in enumerate(t):
            out[p[i]] = v
        return tuple(out)

    class Client(Participant):
        name = "client"

        def init(self):
            return (0,) * n

        def internal(self, s):
            return tuple(
                Outcome(f"place-{i}", put(s, i, 1), (Msg("Place", i, "client"),))
                for i in range(n) if s[i] == 0
            )

        def permute(self, s, p):
            return perm(s, p)

    class Worker(Participant):
        name = "worker"
        subscribes = frozenset({"Place"})

        def init(self):
            return (0,) * n

        def on_event(self, s, m):
            i = m.saga
            if s[i] and not broken:
                return (Outcome("skip", s),)
            return (Outcome("work", put(s, i, s[i] + 1)), Outcome("fail", put(s, i, 9)))

        def permute(self, s, p):
            return perm(s, p)

    props = (
        Property.always("once", lambda v: all(x in (0, 1, 9) for x in v["worker"])),
        Property.at_rest("all-done", lambda v: all(x for x in v["worker"])),
        Property.sometimes("some-failed", lambda v: 9 in v["worker"]),
    )
    return System((Client(), Worker()), props, name=f"slots{n}", sagas=n)


@pytest.mark.parametrize("broken", [False, True])
def test_symmetry_preserves_verdicts_and_trace_lengths(broken):
    for n in (2, 3):
        system = _slot_model(n, broken)
        cfg = Config(duplicates=1, idempotency=not broken, symmetry=False)
        plain = explore(system, cfg)
        sym = explore(system, Config(duplicates=1, idempotency=not broken, symmetry=True))
        assert plain.verdicts == sym.verdicts
        assert sym.stats.states < plain.stats.states
        for v in plain.violations:
            w = sym.violation(v.property)
            assert len(w.path) == len(v.path)
            # the symmetric trace is a real execution of the unreduced model
            replayed = type(w.path).decode(system, cfg.__class__(**{**cfg.to_dict(), "symmetry": True}), w.path.encode())
            assert replayed == w.path


def test_symmetry_counts_orbits():
    # Per saga: (placed?, in flight?, worker slot) takes 4 values (idle, in flight, done,
    # failed), so 4**3 = 64 states; up to renaming the sagas, multisets: C(4+3-1, 3) = 20.
    system = _slot_model(3, False)
    plain = explore(system, Config(duplicates=0, bus="unordered", symmetry=False))
    sym = explore(system, Config(duplicates=0, bus="unordered", symmetry=True))
    assert (plain.stats.states, sym.stats.states) == (64, 20)


def test_symmetry_needs_permute_and_sagas():
    with pytest.raises(UsageError, match="sagas"):
        Engine(counter_system(), Config(symmetry=True))
    system = System((Sender(), Counter()), (), sagas=2)
    with pytest.raises(UsageError, match="permute"):
        Engine(system, Config(symmetry=True))


# --------------------------------------------------------------------------- interrupts and errors
def test_keyboard_interrupt_from_progress_returns_a_partial_result():
    calls = []

    def progress(stats):
        calls.append(stats)
        raise KeyboardInterrupt

    system = _slot_model(3, False)
    r = explore(system, Config(), on_progress=progress, progress_interval=0.0)
    assert calls and r.interrupted and not r.complete and not r.ok
    assert 0 < r.stats.states and r.stats.queue > 0
    assert set(r.verdicts.values()) <= {"unknown", "held"}
    assert r.verdicts["once"] == "unknown"


def test_progress_callback_gets_live_stats():
    seen = []
    explore(_slot_model(3, False), Config(), on_progress=seen.append, progress_interval=0.0)
    assert seen and all(s.states > 0 and s.edges > 0 and s.memory_bytes > 0 for s in seen)
    assert [s.states for s in seen] == sorted(s.states for s in seen)


def test_property_that_raises_names_the_property():
    system = System(
        (Sender(), Counter()),
        (Property.always("fine", lambda v: True), Property.always("broken", lambda v: v["counter"]["x"])),
    )
    with pytest.raises(PropertyError, match="'broken' raised TypeError"):
        explore(system)
    unknown = System((Sender(), Counter()), (Property.always("typo", lambda v: v["countr"] == 0),))
    with pytest.raises(PropertyError, match="'typo'.*no participant 'countr'"):
        explore(unknown)


def test_handler_errors_name_the_participant():
    class Bad(Counter):
        def on_event(self, state, msg):
            return ()

    with pytest.raises(ModelError, match="'counter'.*no outcome"):
        explore(System((Sender(), Bad())))

    class Boom(Counter):
        def on_event(self, state, msg):
            raise RuntimeError("kaput")

    with pytest.raises(ModelError, match="'counter': on_event.*RuntimeError: kaput"):
        explore(System((Sender(), Boom())))

    class Unhashable(Counter):
        def on_event(self, state, msg):
            return (Outcome("x", [1]),)

    with pytest.raises(ModelError, match="unhashable"):
        explore(System((Sender(), Unhashable())))


def test_system_validation():
    with pytest.raises(ModelError, match="two participants"):
        System((Counter(), Counter()))
    with pytest.raises(ModelError, match="two properties"):
        System((Counter(),), (Property.always("a", bool), Property.always("a", bool)))
    with pytest.raises(ModelError, match="not a Participant"):
        System((object(),))


# --------------------------------------------------------------------------- simulation
def test_simulation_finds_the_double_count_and_says_it_is_not_exhaustive():
    r = simulate(counter_system(), Config(idempotency=False, duplicates=1), walks=200, depth=10, seed=1)
    assert not r.exhaustive and not r.complete
    v = r.violation("at-most-once")
    assert v is not None and v.shrunk_path.final["counter"] == 2
    assert len(v.shrunk_path) == 3
    ok = simulate(counter_system(), Config(), walks=50, depth=10, seed=1)
    assert ok.ok and ok.verdicts["at-most-once"] == "unknown" and ok.stats.mode == "simulation"


def test_simulation_is_reproducible_by_seed():
    a = simulate(_slot_model(3, True), Config(idempotency=False), walks=30, depth=20, seed=5)
    b = simulate(_slot_model(3, True), Config(idempotency=False), walks=30, depth=20, seed=5)
    assert a.stats.states == b.stats.states
    assert [v.path.encode() for v in a.violations] == [v.path.encode() for v in b.violations]


# --------------------------------------------------------------------------- loading
def test_load_system_from_module_and_file(tmp_path):
    f = tmp_path / "mymodel.py"
    f.write_text(
        "from sagaspec.model import System, Participant, Outcome\n"
        "class P(Participant):\n"
        "    name = 'p'\n"
        "    def init(self):\n"
        "        return 0\n"
        "SYSTEM = System((P(),), name='mine')\n"
        "def make():\n"
        "    return SYSTEM\n"
        "NOT_A_SYSTEM = 3\n"
        "def broken():\n"
        "    raise ValueError('nope')\n"
    )
    assert load_system(f"{f}:SYSTEM").name == "mine"
    assert load_system(f"{f}:make").name == "mine"
    with pytest.raises(ModelError, match="is a int, expected a System"):
        load_system(f"{f}:NOT_A_SYSTEM")
    with pytest.raises(ModelError, match="no attribute 'MISSING'"):
        load_system(f"{f}:MISSING")
    with pytest.raises(ModelError, match="calling broken\\(\\) failed: ValueError: nope"):
        load_system(f"{f}:broken")
    with pytest.raises(ModelError, match="cannot import 'no_such_pkg_xyz.mod'"):
        load_system("no_such_pkg_xyz.mod:X")
    with pytest.raises(ModelError, match="expected 'pkg.module:NAME'"):
        load_system("no-colon")
    bad = tmp_path / "bad.py"
    bad.write_text("raise ImportError('broken dependency')\n")
    with pytest.raises(ModelError, match="importing .* failed: ImportError: broken dependency"):
        load_system(f"{bad}:X")


@pytest.mark.parametrize(
    "cfg",
    [
        Config(crashes=1, duplicates=1),
        Config(idempotency=False, duplicates=2, outbox=False, crashes=1),
        Config(symmetry=True, crashes=1),
        Config(max_depth=4),
    ],
    ids=["crash-dup", "no-idem-no-outbox", "symmetry", "depth"],
)
def test_inlined_search_loop_matches_engine_expand(cfg, monkeypatch):
    """The hot loop inlines Engine.expand; traces are rebuilt with expand: same graph."""
    import importlib

    # (the package re-exports the function explore, which shadows the module attribute)
    ex = importlib.import_module("sagaspec.model.explore")
    system = _slot_model(2, broken=True)
    fast = explore(system, cfg, keep_graph=True)._search
    monkeypatch.setattr(ex, "_FORCE_GENERIC", True)
    slow = explore(system, cfg, keep_graph=True)._search
    assert fast.parent == slow.parent and fast.act == slow.act
    assert fast.offsets == slow.offsets and fast.targets == slow.targets
    assert fast.found == slow.found and fast.witness == slow.witness


def test_incremental_fingerprints_equal_fingerprints_from_scratch():
    system = _slot_model(3, broken=True)
    cfg = Config(crashes=1, duplicates=1, idempotency=False)
    r = explore(system, cfg, keep_graph=True)  # (state numbers: the dict loop)
    lean = explore(system, cfg)._search.seen  # (the lean loop's set)
    search = r._search
    engine = search.engine
    assert len(lean) == r.stats.states
    for idx in range(0, r.stats.states, 97):
        states, _acts = search.canonical_states(idx)
        assert search.seen[engine.additive_fingerprint(states[-1])] == idx
        assert engine.additive_fingerprint(states[-1]) in lean


class Loops(Participant):
    """Per saga: idle -> trying <-> waiting, forever (no way out): a livelock per saga."""

    name = "loops"

    def __init__(self, n):
        self.n = n

    def init(self):
        return (0,) * self.n

    def internal(self, s):
        out = []
        for i, v in enumerate(s):
            nxt = {0: 1, 1: 2, 2: 1}[v]
            out.append(Outcome(f"step-{i}", s[:i] + (nxt,) + s[i + 1 :]))
        return tuple(out)

    def permute(self, s, perm):
        out = [0] * self.n
        for i, v in enumerate(s):
            out[perm[i]] = v
        return tuple(out)


@pytest.mark.parametrize("symmetry", [False, True])
def test_lasso_is_a_real_closed_cycle_also_under_symmetry(symmetry):
    system = System((Loops(2),), (Property.at_rest("never", lambda v: False),), sagas=2)
    r = explore(system, Config(symmetry=symmetry))
    v = r.violation("never")
    assert v.kind == "cycle"
    path = v.path
    assert path.loop is not None and path.raw_state(-1) == path.raw_state(path.loop)
    assert type(path).decode(system, Config(symmetry=symmetry), path.encode()) == path


def test_view_reads_locals_bus_stores_and_budgets():
    path = explore(
        System((Burst(("A", "B", "A")), Recorder()), (Property.sometimes("two", lambda v: len(v["recorder"]) == 2),)),
        Config(duplicates=1, crashes=1),
    ).witnesses["two"]
    first = path.view(1)  # after the burst: A, B, A in flight (A twice: the same event)
    assert first["sender"] is True and "recorder" in first and "nobody" not in first
    assert first.in_flight() == 3
    assert first.in_flight("A") == 2 and first.in_flight("B", saga=0) == 1
    assert first.in_flight(saga=1) == 0 and first.in_flight(dest="recorder") == 3
    assert sorted(m.type for _d, m in first.messages) == ["A", "A", "B"]
    assert not first.quiescent
    assert first.duplicates_left == 1 and first.crashes_left("recorder") == 1
    end = path.view(-1)
    assert len(end.processed("recorder")) == 2
    assert end.locals() == {"sender": True, "recorder": end["recorder"]}


@pytest.mark.parametrize(
    "module",
    ["__init__", "participant", "system", "properties", "engine", "view", "path", "explore", "results", "liveness"],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module("sagaspec.model" if module == "__init__" else f"sagaspec.model.{module}")
    failed, _tried = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_a_predicate_that_changes_its_mind_is_reported():
    calls = []

    def flaky(v):
        calls.append(1)
        return len(calls) > 1  # false only the first time: not a function of the state

    system = System((Sender(), Counter()), (Property.always("flaky", flaky),))
    with pytest.raises(ModelError, match="'flaky' gives different answers for the same state"):
        explore(system)


@pytest.mark.parametrize(
    "design,orders,cfg",
    [
        ("corrected", 2, Config(symmetry=True)),
        ("seed", 2, Config(symmetry=True, idempotency=False)),
        ("corrected", 1, Config(outbox=False, crashes=1)),
    ],
    ids=["corrected-sym", "seed-sym-noidem", "corrected-crash-nooutbox"],
)
def test_inlined_search_loop_matches_engine_expand_on_the_order_saga(design, orders, cfg, monkeypatch):
    import importlib

    from sagaspec.model import saga_system

    ex = importlib.import_module("sagaspec.model.explore")
    system = saga_system(design, orders=orders)
    fast = explore(system, cfg, keep_graph=True)._search
    monkeypatch.setattr(ex, "_FORCE_GENERIC", True)
    slow = explore(system, cfg, keep_graph=True)._search
    assert len(fast.parent) > 1000
    assert fast.parent == slow.parent and fast.act == slow.act
    assert fast.offsets == slow.offsets and fast.targets == slow.targets
    assert fast.found == slow.found and fast.witness == slow.witness
