"""Render a test case as a sequence diagram (plain text and Mermaid) and a message list.

Lifelines: ``suite`` (the saga's external starter and the fault injector), each
participant the suite played (in the spec's order when ``participants`` is given, else
in the order they first appear), the system under test (marked ``*``), and ``bus``
(where the SUT publishes). A delivery is an arrow from the event's publisher to its
receiver, labelled with the event, its saga index and, for a played participant, the
outcome the suite chose. A whole system driven delivery by delivery (a steppable
system) has a lifeline per participant, every one under test: a delivery goes to its
participant and what that participant published leaves from its lifeline. A crash's label
says where its next handling dies (the crash point). Examples on the order saga are in
``tests/conformance/test_diagram.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sagaspec.conformance.harness import SYSTEM

__all__ = ["text_diagram", "mermaid_diagram", "exchanged", "lifelines"]

#: Who starts a saga from outside and injects faults: drawn as the one ``suite`` lifeline.
_OUTSIDE = ("suite", "customer")


def _as_dict(step: Any) -> dict[str, Any]:
    return step if isinstance(step, dict) else step.to_json()


def lifelines(steps: Sequence[Any], sut: str, participants: Sequence[str] = ()) -> list[str]:
    """``suite``, the played participants (in ``participants``' order, the rest as they
    first appear), ``sut``, ``bus``."""
    seen: dict[str, None] = {}
    for s in map(_as_dict, steps):
        for k in ("src", "to"):
            if s.get(k) and s[k] != sut and s[k] not in _OUTSIDE:
                seen.setdefault(s[k])
    played = [n for n in participants if n in seen] + [n for n in seen if n not in participants]
    return ["suite", *played, sut, "bus"]


def _label(s: dict[str, Any]) -> str:
    m = s.get("msg") or {}
    ev = s.get("event") or {}
    op = s["op"]
    if op == "place":
        out = s.get("outcome")
        return f"start saga {m.get('saga')}" + (f": {out}" if out else "")
    if op == "crash":
        point = f"; its next handling dies at {s['point']}" if s.get("point") else ""
        return f"CRASH {s.get('kind') or s.get('to')} and restart{point}"
    if op == "invalid":
        return f"invalid {s.get('kind')} {m.get('type')}[{m.get('saga')}] {ev.get('eventId', '')}".rstrip()
    if op == "raw":
        return f"raw bytes ({s.get('kind')})"
    if op == "quiet":
        return "wait until quiet"
    text = f"{m.get('type')}[{m.get('saga')}] {ev.get('eventId', '')}".rstrip()
    if op == "duplicate":
        text += " (duplicate)"
    if s.get("outcome") and s.get("outcome") != "ignored (duplicate)":
        text += f" -> {s['outcome']}"
    elif s.get("outcome"):
        text += " -> ignored (duplicate)"
    return text


def _ends(s: dict[str, Any], sut: str) -> tuple[str, str]:
    op = s["op"]
    if op == "place":
        return "suite", s.get("to") or sut
    if op == "crash" and sut == SYSTEM and s.get("kind"):
        return "suite", s["kind"]  # its participant's lifeline, when it has one
    if op in ("crash", "invalid", "raw"):
        return "suite", s.get("to") or sut
    if op == "quiet":
        return sut, sut
    return (s.get("src") or "suite"), (s.get("to") or sut)


def _inside(c: str, sut: str) -> bool:
    """Whether lifeline ``c`` is under test: the SUT, or a participant of a whole system."""
    return c == sut or (sut == SYSTEM and c not in (*_OUTSIDE, "bus"))


def _publisher(s: dict[str, Any], sut: str, cols: Sequence[str]) -> str:
    """The lifeline what ``s`` made the SUT publish leaves from: the participant of a
    system that was given the delivery (or restarted), else the SUT."""
    op = s["op"]
    who = s.get("kind") if op == "crash" else (s.get("msg") or {}).get("src") if op == "place" else s.get("to")
    if sut == SYSTEM and op in ("deliver", "duplicate", "crash", "place") and who in cols and _inside(who, sut):
        return who
    return sut


def text_diagram(steps: Sequence[Any], sut: str, participants: Sequence[str] = ()) -> str:
    """A plain-text sequence diagram of ``steps`` (numbered rows; SUT marked ``*``)."""
    steps = [_as_dict(s) for s in steps]
    cols = lifelines(steps, sut, participants)
    heads = [c + ("*" if _inside(c, sut) else "") for c in cols]
    w = max(11, *(len(h) + 2 for h in heads))
    center = {c: i * w + w // 2 for i, c in enumerate(cols)}
    total = len(cols) * w
    num_w = len(str(len(steps))) + 2

    def row(a: str, b: str, note: str, num: str = "") -> str:
        line = [" "] * total
        for c in cols:
            line[center[c]] = "|"
        x0, x1 = center.get(a, center["suite"]), center.get(b, center[sut])
        if x0 == x1:
            line[x0] = "*"
        else:
            lo, hi = sorted((x0, x1))
            for x in range(lo + 1, hi):
                line[x] = "-"
            line[hi if x1 > x0 else lo] = ">" if x1 > x0 else "<"
        return f"{num:>{num_w - 1}} " + "".join(line).rstrip() + "   " + note

    out = [" " * num_w + "".join(h.center(w) for h in heads).rstrip()]
    for i, s in enumerate(steps, start=1):
        a, b = _ends(s, sut)
        out.append(row(a, b, _label(s), str(i)))
        for p in s.get("published", ()):
            out.append(row(_publisher(s, sut, cols), "bus", f"publishes {p.get('eventType')} {p.get('eventId', '')}".rstrip()))
        for r in s.get("raw_published", ()):
            out.append(row(sut, "bus", f"!! {r.get('reason')}"))
    return "\n".join(out)


def _mm(text: str) -> str:
    return str(text).replace(";", ",").replace("#", "no.").replace("\n", " ")


def mermaid_diagram(steps: Sequence[Any], sut: str, participants: Sequence[str] = ()) -> str:
    """The same diagram as a Mermaid ``sequenceDiagram``."""
    steps = [_as_dict(s) for s in steps]
    cols = lifelines(steps, sut, participants)
    ident = {c: c.replace("-", "_") for c in cols}
    lines = ["sequenceDiagram"]
    for c in cols:
        alias = f"{c} (under test)" if _inside(c, sut) else c
        lines.append(f"    participant {ident[c]} as {_mm(alias)}")
    for i, s in enumerate(steps, start=1):
        a, b = _ends(s, sut)
        a, b = ident.get(a, ident["suite"]), ident.get(b, ident[sut])
        if s["op"] == "crash" or s["op"] == "quiet":
            lines.append(f"    Note over {b}: {i}. {_mm(_label(s))}")
        else:
            lines.append(f"    {a}->>{b}: {i}. {_mm(_label(s))}")
        for p in s.get("published", ()):
            lines.append(f"    {ident[_publisher(s, sut, cols)]}-->>{ident['bus']}: {_mm(p.get('eventType'))} "
                         f"{_mm(p.get('eventId', ''))}")
        for r in s.get("raw_published", ()):
            lines.append(f"    Note over {ident[sut]}: {_mm(r.get('reason'))}")
    return "\n".join(lines) + "\n"


def exchanged(steps: Sequence[Any], sut: str) -> list[str]:
    """The messages exchanged with the SUT, one line each, in order."""
    out = []
    for s in map(_as_dict, steps):
        to = s.get("to")
        if (to == sut or (_inside(str(to), sut) and s["op"] in ("deliver", "duplicate"))) and \
                s["op"] in ("deliver", "duplicate", "place", "invalid", "raw"):
            m = s.get("msg") or {}
            ev = s.get("event") or {}
            if s["op"] == "place":
                out.append(f"{s.get('src') or 'suite'} -> {sut}: start saga {m.get('saga')}")
            elif s["op"] == "raw":
                out.append(f"suite -> {sut}: raw bytes ({s.get('kind')})")
            elif s["op"] == "invalid":
                out.append(f"suite -> {sut}: invalid ({s.get('kind')}) {m.get('type')}"
                           f"[{m.get('saga')}] {ev.get('eventId', '')}".rstrip())
            else:
                dup = " (duplicate)" if s["op"] == "duplicate" else ""
                out.append(f"{s.get('src')} -> {to}: {m.get('type')}[{m.get('saga')}] "
                           f"{ev.get('eventId', '')}{dup}".rstrip())
        for p in s.get("published", ()):
            out.append(f"{_publisher(s, sut, (str(to), str(s.get('kind'))))} -> bus: {p.get('eventType')} {p.get('eventId', '')}".rstrip())
    return out
