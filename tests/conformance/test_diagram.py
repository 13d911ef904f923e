"""Sequence diagrams of test cases (conformance/diagram.py), with the order saga as data:
the lifelines are the steps' participants (in the spec's order when it is given), the
arrows the events the steps name; the generic module names no saga of its own."""

from __future__ import annotations

from sagaspec.conformance.diagram import exchanged, lifelines, mermaid_diagram, text_diagram
from sagaspec.spec.sagafile import shipped_spec

SPEC = shipped_spec("corrected")
TRIGGER = next(e.name for e in SPEC.events if e.role == "trigger")
STARTER = next(p.name for p in SPEC.participants if TRIGGER in p.publishes)
SUT = next(p for p in SPEC.participants if TRIGGER in p.subscribes)  # the first step's service
STEP = SUT.publishes[0]
OTHERS = [p.name for p in SPEC.participants if p.name not in (STARTER, SUT.name)]


def _steps() -> list[dict]:
    return [
        {"op": "place", "src": "customer", "to": STARTER, "msg": {"type": TRIGGER, "saga": 0},
         "outcome": "by the book"},
        {"op": "deliver", "src": STARTER, "to": SUT.name,
         "msg": {"type": TRIGGER, "saga": 0, "src": STARTER}, "event": {"eventId": "evt-1"},
         "published": [{"eventType": STEP, "eventId": "evt-2", "sagaId": "s"}]},
        {"op": "duplicate", "src": STARTER, "to": SUT.name,
         "msg": {"type": TRIGGER, "saga": 0, "src": STARTER}, "event": {"eventId": "evt-1"},
         "outcome": "ignored (duplicate)"},
    ]


def test_text_diagram_rows_are_the_steps_and_what_the_sut_published():
    text = text_diagram(_steps(), SUT.name)
    head, first, second, publish, dup = text.splitlines()
    assert head.split() == ["suite", STARTER, SUT.name + "*", "bus"]
    assert first.strip().startswith("1") and first.endswith("start saga 0: by the book")
    assert "---------->" in second and second.endswith(f"{TRIGGER}[0] evt-1")
    assert publish.endswith(f"publishes {STEP} evt-2")
    assert dup.endswith(f"{TRIGGER}[0] evt-1 (duplicate) -> ignored (duplicate)")
    # the arrow of the delivery runs from the publisher's column to the SUT's
    assert second.index("|") < second.index(">")


def test_exchanged_lists_what_the_sut_received_and_published():
    assert exchanged(_steps(), SUT.name) == [
        f"{STARTER} -> {SUT.name}: {TRIGGER}[0] evt-1",
        f"{SUT.name} -> bus: {STEP} evt-2",
        f"{STARTER} -> {SUT.name}: {TRIGGER}[0] evt-1 (duplicate)",
    ]


def test_mermaid_diagram_marks_the_sut_and_notes_faults():
    steps = [*_steps(), {"op": "crash", "to": SUT.name, "kind": "before-commit"}]
    mm = mermaid_diagram(steps, SUT.name)
    assert mm.startswith("sequenceDiagram\n")
    assert f"    participant {SUT.name} as {SUT.name} (under test)" in mm
    assert f"    {SUT.name}-->>bus: {STEP} evt-2" in mm
    assert f"    Note over {SUT.name}: 4. CRASH before-commit and restart" in mm


def test_lifelines_follow_the_given_participant_order_else_first_appearance():
    later, earlier = OTHERS[-1], OTHERS[0]
    steps = [{"op": "deliver", "src": later, "to": SUT.name, "msg": {}},
             {"op": "deliver", "src": earlier, "to": SUT.name, "msg": {}},
             {"op": "place", "src": "customer", "to": SUT.name, "msg": {}}]
    assert lifelines(steps, SUT.name) == ["suite", later, earlier, SUT.name, "bus"]
    order = [p.name for p in SPEC.participants]
    assert lifelines(steps, SUT.name, order) == ["suite", earlier, later, SUT.name, "bus"]


def test_a_crash_label_names_its_point_and_a_stepped_system_has_a_lifeline_per_participant():
    sut = "system"  # a whole system driven delivery by delivery: steps name the receiver
    steps = [
        {"op": "place", "src": "customer", "to": sut, "msg": {"type": TRIGGER, "saga": 0, "src": STARTER},
         "published": [{"eventType": TRIGGER, "eventId": "evt-1"}]},
        {"op": "crash", "src": "suite", "to": sut, "kind": SUT.name, "point": "after-commit"},
        {"op": "deliver", "src": STARTER, "to": SUT.name, "msg": {"type": TRIGGER, "saga": 0, "src": STARTER},
         "event": {"eventId": "evt-1"}, "published": [{"eventType": STEP, "eventId": "evt-2"}]},
    ]
    text = text_diagram(steps, sut)
    head, place, placed, crash, deliver, published = text.splitlines()
    assert head.split() == ["suite", STARTER + "*", SUT.name + "*", sut + "*", "bus"]
    assert crash.endswith(f"CRASH {SUT.name} and restart; its next handling dies at after-commit")
    # What a participant published leaves from its own lifeline, not the system's: the
    # bars left of the arrow are the lifelines up to its own (suite, starter, ...).
    assert published.endswith(f"publishes {STEP} evt-2")
    assert published.split("-")[0].count("|") == 3  # from the SUT participant's lifeline
    assert placed.split("-")[0].count("|") == 2  # the trigger leaves from its starter
    assert place.endswith("start saga 0") and deliver.endswith(f"{TRIGGER}[0] evt-1")
    mm = mermaid_diagram(steps, sut)
    assert f"    participant {SUT.name} as {SUT.name} (under test)" in mm
    assert f"    {SUT.name}-->>bus: {STEP} evt-2" in mm
    assert exchanged(steps, sut)[-2:] == [f"{STARTER} -> {SUT.name}: {TRIGGER}[0] evt-1",
                                          f"{SUT.name} -> bus: {STEP} evt-2"]
