"""Paths: replay, encode/decode, JSON traces, renderings, shrinking."""

from __future__ import annotations

import json

import pytest
from sagaspec.model import (
    Action,
    Config,
    Msg,
    Outcome,
    Participant,
    Path,
    Property,
    System,
    explore,
    replay,
    shrink,
)

from sagaspec.errors import InputError, ModelError

pytestmark = pytest.mark.timeout(120)


class Sender(Participant):
    name = "sender"

    def init(self):
        return 0

    def internal(self, state):
        return () if state else (Outcome("send", 1, (Msg("Inc", 0, "sender"),)),)


class Counter(Participant):
    name = "counter"
    subscribes = frozenset({"Inc"})

    def init(self):
        return 0

    def on_event(self, state, msg):
        return (Outcome("count", state + 1, (Msg("Counted", 0, "counter"),)),)


class Log(Participant):
    name = "log"
    subscribes = frozenset({"Counted"})

    def init(self):
        return ()

    def on_event(self, state, msg):
        return (Outcome("append", state + (msg.type,)),)


class Noise(Participant):
    """Three internal ticks that matter to nothing."""

    name = "noise"

    def init(self):
        return 0

    def internal(self, state):
        return () if state >= 3 else (Outcome("tick", state + 1),)


SYSTEM = System(
    (Sender(), Counter(), Log(), Noise()),
    (Property.always("at-most-once", lambda v: v["counter"] <= 1),),
    name="paths",
)
CFG = Config(idempotency=False, duplicates=1)

LONG = [
    "i,noise,,,,tick",
    "i,sender,,,,send",
    "i,noise,,,,tick",
    "u,counter,Inc,0,sender,count",
    "d,log,Counted,0,counter,append",
    "i,noise,,,,tick",
    "d,counter,Inc,0,sender,count",
]


def test_replay_executes_actions_and_reports_the_first_disabled_step():
    path = replay(SYSTEM, CFG, LONG)
    assert len(path) == 7 and path.final["counter"] == 2 and path.final["noise"] == 3
    with pytest.raises(InputError, match="step 3: action 'd,counter,Inc,0,sender,count' is not enabled"):
        replay(SYSTEM, CFG, ["i,sender,,,,send", "d,counter,Inc,0,sender,count", "d,counter,Inc,0,sender,count"])
    actions = path.actions
    assert replay(SYSTEM, CFG, actions) == path


def test_encode_decode_round_trip_and_tampering():
    path = replay(SYSTEM, CFG, LONG)
    text = path.encode()
    assert text == "ssp1:" + ";".join(LONG)
    assert Path.decode(SYSTEM, CFG, text) == path
    with pytest.raises(InputError, match="must start with"):
        Path.decode(SYSTEM, CFG, "nope")
    with pytest.raises(InputError, match="unknown step kind"):
        Path.decode(SYSTEM, CFG, "ssp1:z,counter")
    # Under exactly-once delivery the duplicate step cannot happen.
    with pytest.raises(InputError, match="step 4"):
        Path.decode(SYSTEM, Config(bus="unordered", idempotency=False), text)


def test_json_trace_has_what_the_conformance_suite_replays():
    path = replay(SYSTEM, CFG, LONG)
    data = json.loads(path.to_json())
    assert data["format"] == "sagaspec.trace/1"
    assert data["participants"] == ["sender", "counter", "log", "noise"]
    step = data["steps"][3]
    assert step == {
        "step": 4,
        "kind": "duplicate",
        "participant": "counter",
        "event": "Inc",
        "saga": 0,
        "src": "sender",
        "data": None,
        "outcome": "count",
        "published": [{"event": "Counted", "saga": 0, "src": "counter", "to": ["log"]}],
        "lost": [],
        "changes": [["counter", 0, 1], ["duplicates left", 1, 0]],
        "in_flight": 2,
        "token": "u,counter,Inc,0,sender,count",
    }
    assert data["steps"][0]["event"] is None and data["steps"][0]["kind"] == "internal"
    assert Path.from_json(SYSTEM, None, data) == path
    # Without tokens the fields alone replay too.
    for s in data["steps"]:
        del s["token"]
    assert Path.from_json(SYSTEM, None, json.dumps(data)) == path
    with pytest.raises(InputError, match="format"):
        Path.from_json(SYSTEM, None, {"steps": []})


def test_str_shows_numbered_steps_with_only_what_changed():
    text = str(replay(SYSTEM, CFG, LONG[:4]))
    assert text.splitlines() == [
        "initial state:",
        "  sender = 0",
        "  counter = 0",
        "  log = ()",
        "  noise = 0",
        "1. noise: tick",
        "   noise: 0 -> 1",
        "2. sender: send",
        "   publishes Inc[0] -> counter",
        "   sender: 0 -> 1",
        "3. noise: tick",
        "   noise: 1 -> 2",
        "4. counter <- Inc(saga 0, from sender): count (a duplicate copy stays in flight)",
        "   publishes Counted[0] -> log",
        "   counter: 0 -> 1",
        "   duplicates left: 1 -> 0",
        "in flight at the end: Inc[0] -> counter, Counted[0] -> log",
    ]


def test_mermaid_and_text_sequence_diagrams():
    path = replay(SYSTEM, CFG, LONG)
    mm = path.mermaid()
    assert mm.startswith("sequenceDiagram\n    participant sender\n    participant counter\n")
    assert "    sender->>counter: 4. Inc[0] -> count\n" in mm
    assert "    Note over sender,counter: duplicate, a copy stays in flight\n" in mm
    assert "    Note over noise: 1. tick\n" in mm
    seq = path.sequence()
    lines = seq.splitlines()
    assert lines[0].split() == ["sender", "counter", "log", "noise"]
    row = lines[4]
    assert row.lstrip().startswith("4") and "->" not in row.split("   ")[0]
    assert "---->" in row or "--->" in row
    assert row.rstrip().endswith("Inc[0] -> counter: count (duplicate stays)")


def test_shrink_drops_every_step_the_violation_does_not_need():
    path = replay(SYSTEM, CFG, LONG)
    small = shrink(SYSTEM, CFG, path, SYSTEM.property("at-most-once"))
    assert [a.token() for a in small.actions] == [
        "i,sender,,,,send",
        "u,counter,Inc,0,sender,count",
        "d,counter,Inc,0,sender,count",
    ]
    assert small.final["counter"] == 2
    # 1-minimal: dropping any remaining step loses the violation (or does not replay).
    bad = lambda v: v["counter"] > 1  # noqa: E731
    for i in range(len(small)):
        rest = small.actions[:i] + small.actions[i + 1 :]
        try:
            p = replay(SYSTEM, CFG, rest)
        except InputError:
            continue
        assert not any(bad(p.view(j)) for j in range(len(p) + 1))
    with pytest.raises(ModelError, match="does not reach a violating state"):
        shrink(SYSTEM, CFG, replay(SYSTEM, CFG, LONG[:3]), SYSTEM.property("at-most-once"))


def test_check_result_reports_shortest_and_shrunk_paths():
    r = explore(SYSTEM, CFG)
    v = r.violation("at-most-once")
    assert len(v.path) == 3 and v.shrunk_path == v.path
    assert Path.decode(SYSTEM, CFG, v.path.encode()) == v.path
    doc = json.loads(r.to_json())
    assert doc["violations"][0]["path"]["encoded"] == v.path.encode()
    assert doc["properties"] == [
        {"name": "at-most-once", "kind": "always", "verdict": "violated", "description": ""}
    ]
    assert doc["ok"] is False


def test_actions_are_ordered_and_printable():
    a = Action("deliver", "b", Msg("X", 1, "a"), "ok")
    b = Action("internal", "a", None, "go")
    c = Action("deliver", "b", Msg("X", 0, "a"), "ok")
    assert sorted([a, b, c]) == [b, c, a]
    assert str(a) == "b <- X(saga 1, from a): ok"
    assert Action("drop", "b", Msg("X", 1, "a"), "ignored").token() == "x,b,X,1,a,ignored"


def test_a_message_nobody_subscribes_to_is_shown_as_published_to_nobody():
    class Shout(Participant):
        name = "shout"

        def init(self):
            return 0

        def internal(self, state):
            return () if state else (Outcome("shout", 1, (Msg("Echo", 0, "shout"),)),)

    path = replay(System((Shout(),)), Config(), ["i,shout,,,,shout"])
    assert path.steps[0].published == (Msg("Echo", 0, "shout"),)
    assert "publishes Echo[0] -> nobody" in str(path)
    assert path.to_dict()["steps"][0]["published"] == [{"event": "Echo", "saga": 0, "src": "shout", "to": []}]
    assert "[publishes Echo[0] -> nobody]" in path.sequence()
    assert path.final.quiescent and not path.final.in_flight
