"""TwoPhase.tla (Gray and Lamport's two-phase commit) written as message passing.

One transaction manager ``tm`` and one participant per resource manager ``rm0..``, all
talking through the persistent message set (``Config(bus="set")``), as the TLA+ spec's
``msgs`` variable: a message once sent stays forever and may be received any number of
times. Receives are guarded, as the spec's actions are: the TM takes ``Prepared`` only
while undecided (``TMRcvPrepared``: ``tmState = "init"``), an RM takes ``Commit`` or
``Abort`` only while working or prepared (receiving a decision again, or in a final
state, is a stutter in the spec). Every other action of the spec is an internal step
(``TMCommit``, ``TMAbort``, ``RMPrepare``, ``RMChooseToAbort``).

State counts, and why they equal TLC's: TLC counts distinct ``(rmState, tmState,
tmPrepared, msgs)`` tuples. Here a state is ``(each RM's local state, the TM's local
state (tmState, tmPrepared), the bus, the duplicate budget)``: with the idempotency
store off and no crash budget a participant's state is its local state alone, the
budget is always 0, and the bus is the set of (receiver, message) pairs in flight. Every
message has a receiver (``Prepared`` goes to the TM, ``Commit`` and ``Abort`` to every
RM), so that set is ``msgs`` with each message paired with its fixed receivers: the same
information. The state is therefore the TLA+ state, one for one, and the explorer's
distinct states are TLC's distinct states: 288, 1,568 and 8,832 for 3, 4 and 5 RMs.
"""

from __future__ import annotations

import importlib

import pytest
from sagaspec.model import Config, Engine, Msg, Outcome, Participant, Property, System, explore

from sagaspec.errors import ModelError, UsageError

pytestmark = pytest.mark.timeout(300)

explore_module = importlib.import_module("sagaspec.model.explore")

SET_BUS = Config(bus="set", idempotency=False)


class TM(Participant):
    name = "tm"
    subscribes = frozenset({"Prepared"})
    guarded = True  # (needed on the other buses only; on the set bus any receive may decline)

    def __init__(self, rms: int, broken: bool = False):
        self.rms, self.broken = rms, broken

    def init(self):
        return ("init", frozenset())  # (tmState, tmPrepared)

    def on_event(self, state, msg):
        tm_state, prepared = state
        if tm_state != "init":
            return ()  # TMRcvPrepared is enabled only while undecided
        return (Outcome("rcv-prepared", (tm_state, prepared | {msg.src})),)

    def internal(self, state):
        tm_state, prepared = state
        if tm_state != "init":
            return ()
        out = []
        if len(prepared) == self.rms or (self.broken and prepared):
            out.append(Outcome("commit", ("committed", prepared), (Msg("Commit", 0, "tm"),)))
        out.append(Outcome("abort", ("aborted", prepared), (Msg("Abort", 0, "tm"),)))
        return tuple(out)


class RM(Participant):
    subscribes = frozenset({"Commit", "Abort"})
    guarded = True

    def __init__(self, i: int):
        self.name = f"rm{i}"

    def init(self):
        return "working"

    def internal(self, state):
        if state != "working":
            return ()
        return (
            Outcome("prepare", "prepared", (Msg("Prepared", 0, self.name),)),
            Outcome("choose-to-abort", "aborted"),
        )

    def on_event(self, state, msg):
        if state not in ("working", "prepared"):
            return ()
        return (Outcome("rcv-" + msg.type.lower(), "committed" if msg.type == "Commit" else "aborted"),)


def two_phase(rms: int, broken: bool = False) -> System:
    names = [f"rm{i}" for i in range(rms)]

    def consistent(v):
        states = {v[n] for n in names}
        return not ("committed" in states and "aborted" in states)

    return System(
        (TM(rms, broken), *(RM(i) for i in range(rms))),
        (
            Property.always("consistent", consistent),
            Property.at_rest("all-decided", lambda v: all(v[n] in ("committed", "aborted") for n in names)),
            Property.sometimes("commits", lambda v: all(v[n] == "committed" for n in names)),
        ),
        name=f"TwoPhase/{rms}{'-broken' if broken else ''}",
    )


@pytest.mark.parametrize("rms,states", [(3, 288), (4, 1_568), (5, 8_832)])
def test_message_passing_two_phase_has_tlcs_state_counts(rms, states):
    r = explore(two_phase(rms), SET_BUS)
    assert r.complete and r.ok, [v.message for v in r.violations]
    assert r.verdicts == {"consistent": "held", "all-decided": "held", "commits": "held"}
    assert r.stats.states == states
    assert r._search.loop == "generic"


def test_the_set_bus_is_searched_by_the_generic_loop_only():
    """The inlined loops add a constant per move to the fingerprint; on the set bus a
    publish already in the set adds nothing, so the set bus must take the generic loop
    (the same one the differential tests hold the inlined loops to)."""
    assert explore(two_phase(2), SET_BUS)._search.loop == "generic"
    assert explore(two_phase(2), Config(bus="unordered", idempotency=False))._search.loop == "incremental"
    assert explore(two_phase(2), Config(bus="fifo", idempotency=False))._search.loop == "fifo"


def test_messages_stay_in_the_set_and_are_received_again():
    system = two_phase(2)
    e = Engine(system, SET_BUS)
    s = e.initial()
    # rm0 prepares: Prepared(rm0) joins the set.
    s = next(t for t, d in zip(*_expand(e, s), strict=True) if d == ("internal", "rm0", None, "prepare"))
    assert [m.type for _dest, m in e.in_flight(s)] == ["Prepared"]
    # The TM receives it: the message stays in flight.
    s = next(t for t, d in zip(*_expand(e, s), strict=True) if d[0] == "deliver" and d[1] == "tm")
    assert [m.type for _dest, m in e.in_flight(s)] == ["Prepared"]
    # Receiving it again changes nothing (a stutter), so it is not offered as a step.
    assert not any(d[0] == "deliver" for d in _expand(e, s)[1])
    # The TM aborts: Abort reaches both RMs; publishing it is one message in the set.
    s = next(t for t, d in zip(*_expand(e, s), strict=True) if d == ("internal", "tm", None, "abort"))
    assert sorted((dest, m.type) for dest, m in e.in_flight(s)) == [
        ("rm0", "Abort"), ("rm1", "Abort"), ("tm", "Prepared"),
    ]
    # rm1 receives Abort; the message stays for rm0 and for rm1 (which now declines it).
    s = next(t for t, d in zip(*_expand(e, s), strict=True) if d[:2] == ("deliver", "rm1"))
    assert len(e.in_flight(s)) == 3
    assert e.local(e.pindex["rm1"], s[e.pindex["rm1"]]) == "aborted"


def _expand(e, s):
    """Successors of ``s`` and their moves as ``(kind, participant, message type, label)``."""
    succs, _quiet, descr = e.expand(s, actions=True)
    names = []
    for d in descr:
        kind, part, msg, label = e.describe_move(d)
        names.append((kind, part, None if msg is None else msg.type, label))
    return succs, names


def test_publishing_an_equal_message_twice_is_one_message():
    class Twice(Participant):
        name = "twice"

        def init(self):
            return 0

        def internal(self, state):
            if state >= 2:
                return ()
            return (Outcome("send", state + 1, (Msg("Ping", 0, "twice"), Msg("Ping", 0, "twice"))),)

    class Sink(Participant):
        name = "sink"
        subscribes = frozenset({"Ping"})

        def init(self):
            return 0

        def on_event(self, state, msg):
            return (Outcome("got", min(state + 1, 3)),)

    prop = Property.always("one-ping", lambda v: v.in_flight("Ping") <= 1)
    r = explore(System((Twice(), Sink()), (prop,)), SET_BUS)
    assert r.ok and r.complete
    # twice in 0..2 and sink in 0..3, and Ping in the set from twice's first send on:
    # (0, 0) without Ping, then (1..2) x (0..3) with it; a multiset would count copies.
    assert r.stats.states == 1 + 2 * 4


def test_broken_tm_violates_consistency_with_a_shortest_trace():
    r = explore(two_phase(2, broken=True), SET_BUS)
    v = r.violation("consistent")
    assert [a.token() for a in v.path.actions] == [
        "i,rm0,,,,prepare",
        "i,rm1,,,,choose-to-abort",
        "d,tm,Prepared,0,rm0,rcv-prepared",
        "i,tm,,,,commit",
        "d,rm0,Commit,0,tm,rcv-commit",
    ]
    # The message stays after each receive: every later state still holds Prepared(rm0).
    assert all(
        any(m.type == "Prepared" for _dest, m in snap.in_flight) for snap in v.path.states[1:]
    )
    # rm1 (aborted) declines Commit, the TM (decided) declines Prepared: at rest, with
    # messages in the set.
    assert v.path.final.quiescent and len(v.path.final.in_flight) == 3


def test_a_state_where_every_message_is_declined_is_quiescent():
    """After the decision every RM declines it and the TM declines Prepared: the run is at
    rest with messages in the set, so at_rest properties are judged there."""
    system = System(
        two_phase(2).participants,
        (Property.at_rest("never-at-rest", lambda v: False),),
    )
    r = explore(system, SET_BUS)
    v = r.violation("never-at-rest")
    assert v.kind == "stuck"
    assert v.path.final.quiescent and v.path.final.in_flight
    e = r._search.engine
    last = v.path.raw_state(-1)
    assert e.is_quiescent(last) and e.expand(last)[0] == []


def test_set_bus_refuses_a_duplicate_budget():
    with pytest.raises(UsageError, match="bus 'set' keeps every message.*duplicates must be 0"):
        Config(bus="set", duplicates=1)
    assert Config(bus="set").duplicates == 0


class UnguardedTM(TM):
    guarded = False


@pytest.mark.parametrize("bus", ["unordered", "unordered-dup", "fifo"])
def test_declining_is_an_error_on_other_buses_unless_the_participant_is_guarded(bus):
    unguarded = System((UnguardedTM(2), RM(0), RM(1)))
    with pytest.raises(ModelError, match="'tm'.*returned no outcome.*guarded = True"):
        explore(unguarded, Config(bus=bus, idempotency=False))
    assert explore(two_phase(2), Config(bus=bus, idempotency=False)).complete
    # On the set bus the unguarded TM may decline.
    assert explore(unguarded, SET_BUS).complete
