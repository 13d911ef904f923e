"""Two-phase commit (Gray/Lamport's TwoPhase) in about a page of the modelling API.

A transaction manager ``tm`` and resource managers ``rm0..rm{N-1}``. A working RM may
prepare (telling the TM) or abort on its own. The TM commits once every RM is prepared,
or may decide to abort while undecided. RMs obey the decision. Safety: no RM commits
while another aborts. The broken TM commits as soon as *one* RM is prepared.
"""

from __future__ import annotations

import pytest
from sagaspec.model import Config, Msg, Outcome, Participant, Property, System, explore

pytestmark = pytest.mark.timeout(120)


class TM(Participant):
    name = "tm"
    subscribes = frozenset({"Prepared"})

    def __init__(self, rms: int, broken: bool = False):
        self.rms, self.broken = rms, broken

    def init(self):
        return ("init", frozenset())  # (decision, RMs known prepared)

    def on_event(self, state, msg):
        return (Outcome("note", (state[0], state[1] | {msg.src})),)

    def internal(self, state):
        decision, prepared = state
        if decision != "init":
            return ()
        out = [Outcome("abort", ("aborted", prepared), (Msg("Abort", 0, "tm"),))]
        if len(prepared) == self.rms or (self.broken and prepared):
            out.insert(0, Outcome("commit", ("committed", prepared), (Msg("Commit", 0, "tm"),)))
        return tuple(out)


class RM(Participant):
    subscribes = frozenset({"Commit", "Abort"})

    def __init__(self, i: int):
        self.name = f"rm{i}"

    def init(self):
        return "working"

    def internal(self, state):
        if state != "working":
            return ()
        return (Outcome("prepare", "prepared", (Msg("Prepared", 0, self.name),)), Outcome("abort", "aborted"))

    def on_event(self, state, msg):
        return (Outcome("obey", "committed" if msg.type == "Commit" else "aborted"),)


def two_phase(rms: int = 3, broken: bool = False) -> System:
    names = [f"rm{i}" for i in range(rms)]

    def consistent(v):
        states = {v[n] for n in names}
        return not ("committed" in states and "aborted" in states)

    return System(
        (TM(rms, broken), *(RM(i) for i in range(rms))),
        (
            Property.always("consistent", consistent),
            Property.eventually("all-decided", lambda v: all(v[n] in ("committed", "aborted") for n in names)),
            Property.sometimes("commits", lambda v: all(v[n] == "committed" for n in names)),
        ),
        name=f"two-phase-commit/{rms}{'-broken' if broken else ''}",
    )


def test_two_phase_commit_is_safe_and_live():
    r = explore(two_phase(3), Config(bus="unordered"))
    assert r.ok and r.complete
    assert r.verdicts == {"consistent": "held", "all-decided": "held", "commits": "held"}
    assert (r.stats.states, r.stats.edges) == (STATES_3, EDGES_3)


def test_two_phase_commit_with_duplicates_and_crashes_is_still_safe():
    r = explore(two_phase(2), Config(bus="unordered-dup", duplicates=1, crashes=1))
    assert r.ok, [v.message for v in r.violations]


def test_broken_coordinator_has_a_pinned_shortest_counterexample():
    r = explore(two_phase(2, broken=True), Config(bus="unordered"))
    v = r.violation("consistent")
    assert [a.token() for a in v.path.actions] == [
        "i,rm0,,,,prepare",
        "i,rm1,,,,abort",
        "d,tm,Prepared,0,rm0,note",
        "i,tm,,,,commit",
        "d,rm0,Commit,0,tm,obey",
    ]
    assert v.shrunk_path == v.path
    assert (v.path.final["rm0"], v.path.final["rm1"]) == ("committed", "aborted")


# Pinned: 3 RMs, exactly-once unordered bus. Changing the engine's semantics changes these.
STATES_3, EDGES_3 = 415, 1397
