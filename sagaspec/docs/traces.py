"""Model executions (:class:`sagaspec.model.path.Path`) as sequence diagrams and diffs.

A path's steps become arrows through an *event bus* lifeline, as in the pattern's
usual sequence diagram: a service publishes to the bus in the step whose handler produced the event,
and the bus delivers it in a later step, so reordering, duplicates and crashes are
visible where they happen. Every arrow carries the number of the model step it belongs
to. The same conversion serves the docs' flows and the ``check`` report.

Message colours follow the design's roles: failure events red, compensations amber,
the successful outcome green, everything else blue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sagaspec.docs.diagrams import Lifeline, Message, Note, SequenceDiagram
from sagaspec.spec.designs import Design

__all__ = [
    "BUS",
    "tone_of",
    "path_diagram",
    "step_publishes",
    "step_changes",
    "DiffRow",
    "lifelines_for",
]

#: Id of the event-bus lifeline.
BUS = "bus"

def tone_of(event: str, design: Design | None = None) -> str:
    """Colour role of ``event`` in ``design`` (``forward`` without a design): failures,
    compensations, then outcomes and the terminal events that follow a success (a
    confirmation sent after the saga completed)."""
    if design is None:
        return "forward"
    if event in design.failures:
        return "failure"
    if event in design.compensates:
        return "compensation"
    if event in design.outcomes or event in design.terminal:
        return "outcome"
    return "forward"


def _title(name: str) -> str:
    return name[:1].upper() + name[1:]


def lifelines_for(names: Iterable[str], bus: bool = True) -> tuple[Lifeline, ...]:
    """The first participant, then the bus, then the others (the usual sequence-diagram order)."""
    names = list(names)
    lanes = [Lifeline(n, _title(n)) for n in names]
    if bus and lanes:
        lanes.insert(1, Lifeline(BUS, "Event bus", "bus"))
    return tuple(lanes)


def _msg_label(msg, many_sagas: bool) -> str:
    return f"{msg.type}[{msg.saga}]" if many_sagas else msg.type


def step_publishes(path: Any, i: int) -> tuple[tuple, tuple]:
    """``(published, lost)`` messages of step ``i`` (1-based) of ``path``.

    Computed by asking the participant's handler again (handlers are pure), so a message
    nobody subscribes to (the seed's ``PaymentFailed``) is shown too: it is published,
    it just never arrives anywhere.
    """
    step = path.steps[i - 1]
    a = step.action
    if a.kind in ("crash", "drop"):
        return (), ()
    try:
        part = path.system.participant(a.participant)
        local = path.snapshot(i - 1).locals[a.participant]
        outs = part.internal(local) if a.kind == "internal" else part.on_event(local, a.msg)
    except Exception:  # a path of a model we cannot re-run: trust the path
        return tuple(step.published), tuple(step.lost)
    for out in outs:
        if out.label == a.label:
            pubs = tuple(out.publish)
            return ((), pubs) if a.kind == "crash-before-publish" else (pubs, ())
    return tuple(step.published), tuple(step.lost)


def path_diagram(
    path: Any,
    *,
    title: str = "",
    design: Design | None = None,
    key: str = "",
    sagas: int | None = None,
) -> SequenceDiagram:
    """The sequence diagram of a model :class:`~sagaspec.model.path.Path`.

    ``sagas`` overrides the number of sagas used to decide whether message labels need a
    saga index (``OrderCreated[1]``); by default it is the system's.
    """
    names = list(path.engine.names)
    many = (sagas if sagas is not None else path.system.sagas) > 1
    items: list = []
    subscribers = path.system.subscribers
    for i, step in enumerate(path.steps, start=1):
        a = step.action
        who = a.participant
        published, lost = step_publishes(path, i)
        if a.kind == "internal":
            items.append(Note((who,), a.label, "external", step=i))
        elif a.kind == "crash":
            items.append(Note((who,), "CRASH and restart (volatile state lost)", "fault", step=i))
        else:
            m = a.msg
            label = _msg_label(m, many)
            tone = tone_of(m.type, design)
            detail = f"step {i}: {a}"
            if a.kind == "drop":
                items.append(
                    Message(BUS, who, f"{label} (ignored: already processed)", tone, i, detail, True)
                )
                continue
            items.append(Message(BUS, who, label, tone, i, detail, a.kind == "duplicate"))
            if a.label:
                items.append(Note((who,), a.label, "info", step=i))
            if a.kind == "duplicate":
                items.append(Note((BUS,), "duplicate delivery: a copy stays in flight", "fault", step=i))
            elif a.kind == "crash-in-handler":
                items.append(
                    Note((who,), "CRASH before ack: the message will be redelivered", "fault", step=i)
                )
            elif a.kind == "crash-before-publish":
                gone = ", ".join(_msg_label(x, many) for x in lost) or "nothing"
                items.append(
                    Note((who,), f"CRASH before publishing: {gone} LOST", "fault", step=i)
                )
        for m in published:
            to = ", ".join(subscribers(m.type)) or "nobody"
            items.append(
                Message(
                    who, BUS, _msg_label(m, many), tone_of(m.type, design), i,
                    f"step {i}: {who} publishes {m.type} (subscribers: {to})",
                )
            )
            if not subscribers(m.type) and (design is None or m.type not in design.terminal):
                # A non-terminal event nobody consumes is a hole in the choreography.
                items.append(
                    Note((BUS,), f"nobody subscribes to {m.type}", "failure" if design else "info", step=i)
                )
    if path.loop is not None:
        items.append(
            Note((names[0], names[-1]), f"loops back to the state after step {path.loop}, forever", "fault")
        )
    return SequenceDiagram(title, lifelines_for(names), tuple(items), id=key)


@dataclass(frozen=True)
class DiffRow:
    """One changed part of the state at one step."""

    step: int
    action: str
    where: str
    before: str
    after: str


def step_changes(path: Any) -> list[DiffRow]:
    """Every state change along ``path``, step by step (what the check report tabulates).

    Steps that change no local state (a message that only moves through the bus) still
    get one row, with the in-flight messages as the changed part.
    """
    from sagaspec.model.path import state_changes

    rows: list[DiffRow] = []
    prev = path.initial
    for i, step in enumerate(path.steps, start=1):
        changes = state_changes(prev, step.state)
        action = str(step.action)
        if not changes:
            changes = [("(no local state changed)", "", "")]
        for where, before, after in changes:
            if before is None and isinstance(after, str) and after[:1] in "+-":
                rows.append(DiffRow(i, action, where, "", after))
            else:
                rows.append(DiffRow(i, action, where, _short(before), _short(after)))
        prev = step.state
    return rows


def _short(value: Any, limit: int = 120) -> str:
    from sagaspec.model.path import render_value

    text = value if isinstance(value, str) else render_value(value, nested=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
