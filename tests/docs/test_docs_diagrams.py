"""Diagram objects render to well-formed SVG and to Mermaid, with the same content."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sagaspec.docs.diagrams import (
    Divider,
    Lifeline,
    Message,
    Note,
    SequenceDiagram,
    State,
    StateMachine,
    Transition,
)
from sagaspec.docs.svg import text_width, wrap

SVG = "{http://www.w3.org/2000/svg}"


def _seq():
    lanes = (Lifeline("order", "Order"), Lifeline("bus", "Event bus", "bus"), Lifeline("payment", "Payment"))
    items = (
        Note(("order",), "place order", "external", step=1),
        Message("order", "bus", "OrderCreated", step=1),
        Message("bus", "payment", "OrderCreated", step=2),
        Note(("payment",), "charge; declined #1", step=2),
        Message("payment", "bus", "PaymentFailed", "failure", step=2),
        Divider("payment crashes"),
        Message("bus", "payment", "OrderCreated (duplicate)", dashed=True, step=3),
        Message("payment", "payment", "self call", step=4),
    )
    return SequenceDiagram("Declined <payment>", lanes, items, id="demo")


def test_sequence_svg_is_well_formed_and_tagged():
    root = ET.fromstring(_seq().to_svg())
    assert root.tag == SVG + "svg"
    assert root.get("data-diagram") == "demo"
    heads = [g.get("data-participant") for g in root.iter(SVG + "g") if g.get("data-participant")]
    assert heads == ["order", "bus", "payment"]
    msgs = [
        (g.get("data-src"), g.get("data-dst"), g.get("data-label"))
        for g in root.iter(SVG + "g") if "ss-message" in (g.get("class") or "")
    ]
    assert msgs == [
        ("order", "bus", "OrderCreated"),
        ("bus", "payment", "OrderCreated"),
        ("payment", "bus", "PaymentFailed"),
        ("bus", "payment", "OrderCreated (duplicate)"),
        ("payment", "payment", "self call"),
    ]
    # The title is escaped, not markup.
    assert root.find(SVG + "title").text == "Declined <payment>"
    # Arrowhead markers are namespaced per diagram so several SVGs can share a page.
    assert all(m.get("id").startswith("sd-demo-") for m in root.iter(SVG + "marker"))


def test_sequence_layout_leaves_room_for_labels():
    long = "InventoryReservationFailed"
    d = SequenceDiagram("", ("a", "b"), (Message("a", "b", long),))
    root = ET.fromstring(d.to_svg())
    xs = [float(line.get("x1")) for line in root.iter(SVG + "line") if line.get("class") == "ss-lifeline"]
    assert xs[1] - xs[0] >= text_width(long, 12)


def test_sequence_mermaid_escapes_and_matches():
    text = _seq().to_mermaid()
    assert text.splitlines()[0] == "sequenceDiagram"
    assert "participant bus as Event bus" in text
    assert "Note over payment: charge#59; declined #35;1" in text
    assert "bus-->>payment: OrderCreated (duplicate)" in text
    assert "Note over order,payment: payment crashes" in text
    assert text.count("->>") == 5


def test_unknown_participant_is_rejected():
    d = SequenceDiagram("x", ("a",), (Message("a", "zz", "E"),))
    with pytest.raises(ValueError, match="unknown participant 'zz'"):
        d.to_svg()


def _machine():
    states = (
        State("n", "none", initial=True),
        State("c", "charged", final=True),
        State("d", "declined", final=True),
        State("r", "refunded", final=True),
    )
    trans = (
        Transition("n", "c", "OrderCreated: approve / PaymentProcessed"),
        Transition("n", "d", "OrderCreated: decline / PaymentFailed", "failure"),
        Transition("c", "r", "OrderCancelled: refund / PaymentRefunded", "compensation"),
        Transition("d", "d", "OrderCancelled: ignore"),
        Transition("r", "c", "back edge"),
        Transition("n", "c", "second label, same edge"),
    )
    return StateMachine("payment", states, trans, id="m")


def test_state_machine_svg_has_every_state_and_merged_edges():
    root = ET.fromstring(_machine().to_svg())
    states = [g.get("data-label") for g in root.iter(SVG + "g") if "ss-state" in (g.get("class") or "")]
    assert states == ["none", "charged", "declined", "refunded"]
    edges = [(g.get("data-src"), g.get("data-dst")) for g in root.iter(SVG + "g") if "ss-edge" in (g.get("class") or "")]
    assert sorted(edges) == sorted([("n", "c"), ("n", "d"), ("c", "r"), ("d", "d"), ("r", "c")])
    merged = [g.get("data-label") for g in root.iter(SVG + "g") if g.get("data-src") == "n" and g.get("data-dst") == "c"]
    assert merged == ["OrderCreated: approve / PaymentProcessed\nsecond label, same edge"]


def test_state_machine_labels_do_not_overlap_each_other():
    root = ET.fromstring(_machine().to_svg())
    boxes = []
    for g in root.iter(SVG + "g"):
        if g.get("aria-hidden") == "true":
            r = g.find(SVG + "rect")
            boxes.append(tuple(float(r.get(k)) for k in ("x", "y", "width", "height")))
    assert len(boxes) == 5
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
            assert apart, (a, b)


def test_state_machine_mermaid():
    text = _machine().to_mermaid()
    assert text.splitlines()[0] == "stateDiagram-v2"
    assert "[*] --> s0" in text and "s3 --> [*]" in text
    assert "s0 --> s1: OrderCreated: approve / PaymentProcessed<br/>second label, same edge" in text


def test_rendering_is_deterministic():
    assert _seq().to_svg() == _seq().to_svg()
    assert _machine().to_svg() == _machine().to_svg()


def test_wrap_respects_width():
    lines = wrap("OrderCancelled: remember cancellation and ignore the late OrderCreated", 150, 11)
    assert len(lines) > 1
    assert all(text_width(line, 11) <= 150 or " " not in line for line in lines)
