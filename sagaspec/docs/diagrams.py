"""Sequence diagrams and state machines as data, rendered to SVG and to Mermaid.

Both renderings come from the same object, so the HTML site (inline SVG, no JavaScript)
and the Markdown pages (Mermaid, which GitHub renders) always show the same diagram.
Layouts are computed here in pure Python: a sequence diagram is lifelines on a grid of
rows; a state machine is a layered (Sugiyama-style) drawing, top to bottom, with a
barycentre pass to reduce crossings and simple collision avoidance for edge labels.

Every SVG element that carries meaning is tagged with ``data-*`` attributes
(``data-participant``, ``data-src``/``data-dst``/``data-label``, ``data-state``) so a
browser test can check what was drawn without parsing geometry.

>>> d = SequenceDiagram("demo", ("order", "bus"), (Message("order", "bus", "OrderCreated"),))
>>> print(d.to_mermaid())
sequenceDiagram
    participant order as order
    participant bus as bus
    order->>bus: OrderCreated
>>> "data-label=\\"OrderCreated\\"" in d.to_svg()
True
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

from sagaspec.docs.svg import FONT_FAMILY, esc, num, slug, text_width, wrap

__all__ = [
    "TONES",
    "Lifeline",
    "Message",
    "Note",
    "Divider",
    "SequenceDiagram",
    "State",
    "Transition",
    "StateMachine",
]

#: Colour of each message/transition tone: (stroke, light fill).
TONES: dict[str, tuple[str, str]] = {
    "forward": ("#1d4ed8", "#dbeafe"),
    "failure": ("#b91c1c", "#fee2e2"),
    "compensation": ("#b45309", "#fef3c7"),
    "outcome": ("#047857", "#d1fae5"),
    "external": ("#4b5563", "#f3f4f6"),
    "fault": ("#7c3aed", "#ede9fe"),
    "info": ("#374151", "#fefce8"),
}

_STYLE = "text{font-family:" + FONT_FAMILY + ";fill:#111827}" + (
    ""
    ".ss-title{font-size:15px;font-weight:bold}"
    ".ss-head rect{fill:#f8fafc;stroke:#334155;stroke-width:1.2}"
    ".ss-head text{font-size:13px;font-weight:bold;text-anchor:middle}"
    ".ss-lifeline{stroke:#94a3b8;stroke-width:1;stroke-dasharray:4 4}"
    ".ss-step{font-size:11px;fill:#64748b;text-anchor:end}"
    ".ss-label{font-size:12px}"
    ".ss-note text{font-size:12px}"
    ".ss-divider line{stroke:#64748b;stroke-dasharray:6 3}"
    ".ss-divider text{font-size:12px;font-style:italic;text-anchor:middle}"
    ".ss-state rect{stroke-width:1.4}"
    ".ss-state text{font-size:12.5px;text-anchor:middle}"
    ".ss-edge-label{font-size:11px}"
)


def _tone(name: str) -> tuple[str, str]:
    return TONES.get(name, TONES["forward"])


def _markers(prefix: str, tones: set[str]) -> str:
    parts = []
    for t in sorted(tones):
        stroke, _ = _tone(t)
        parts.append(
            f'<marker id="{prefix}-arrow-{t}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{stroke}"/></marker>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _mermaid_text(text: str) -> str:
    # Mermaid ends a message at ';' and starts comments/entities at '#'.
    codes = {"#": "#35;", ";": "#59;", "\n": "<br/>"}
    return re.sub(r"[#;\n]", lambda m: codes[m.group()], str(text)).strip()


def _mermaid_id(name: str) -> str:
    ident = "".join(ch if ch.isalnum() else "_" for ch in name)
    # A few words are Mermaid keywords; prefixing keeps every id safe.
    return ident if ident not in {"end", "note", "loop", "alt", "opt", "par"} else f"p_{ident}"


# --------------------------------------------------------------------------------------
# Sequence diagrams


@dataclass(frozen=True)
class Lifeline:
    """A participant column: ``id`` is referenced by messages, ``label`` is shown."""

    id: str
    label: str = ""
    kind: str = "service"  # "service", "bus" or "actor"

    @property
    def title(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class Message:
    """An arrow from ``src`` to ``dst`` (equal for a self-call).

    ``step`` is the number of the model transition the arrow belongs to, shown in a
    left gutter; ``detail`` becomes a tooltip; ``dashed`` marks duplicates/redeliveries.
    """

    src: str
    dst: str
    label: str
    tone: str = "forward"
    step: int | None = None
    detail: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Note:
    """A note box over one participant, or spanning from the first to the last given."""

    over: tuple[str, ...]
    text: str
    tone: str = "info"
    step: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.over, str):
            object.__setattr__(self, "over", (self.over,))


@dataclass(frozen=True)
class Divider:
    """A horizontal rule across all lifelines (e.g. "customer places order 2")."""

    text: str


Item = Message | Note | Divider


@dataclass(frozen=True)
class SequenceDiagram:
    """A titled sequence of messages between lifelines.

    ``participants`` may be plain ids or :class:`Lifeline` objects; order is left to right.
    """

    title: str
    participants: tuple[Lifeline | str, ...]
    items: tuple[Item, ...]
    id: str = ""

    @property
    def lifelines(self) -> tuple[Lifeline, ...]:
        return tuple(p if isinstance(p, Lifeline) else Lifeline(p) for p in self.participants)

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(i for i in self.items if isinstance(i, Message))

    @property
    def key(self) -> str:
        return self.id or slug(self.title)

    # -- Mermaid -------------------------------------------------------------------
    def to_mermaid(self) -> str:
        lines = ["sequenceDiagram"]
        for p in self.lifelines:
            word = "actor" if p.kind == "actor" else "participant"
            lines.append(f"    {word} {_mermaid_id(p.id)} as {_mermaid_text(p.title)}")
        first = _mermaid_id(self.lifelines[0].id) if self.lifelines else ""
        last = _mermaid_id(self.lifelines[-1].id) if self.lifelines else ""
        for item in self.items:
            if isinstance(item, Message):
                arrow = "-->>" if item.dashed else "->>"
                lines.append(
                    f"    {_mermaid_id(item.src)}{arrow}{_mermaid_id(item.dst)}: "
                    f"{_mermaid_text(item.label)}"
                )
            elif isinstance(item, Note):
                over = ",".join(_mermaid_id(o) for o in (item.over[0], item.over[-1]))
                if len(item.over) == 1 or item.over[0] == item.over[-1]:
                    over = _mermaid_id(item.over[0])
                lines.append(f"    Note over {over}: {_mermaid_text(item.text)}")
            else:
                span = first if first == last else f"{first},{last}"
                lines.append(f"    Note over {span}: {_mermaid_text(item.text)}")
        return "\n".join(lines)

    # -- SVG -----------------------------------------------------------------------
    def to_svg(self) -> str:
        return _SequenceLayout(self).render()


class _SequenceLayout:
    HEAD_H = 34.0
    ROW_MSG = 36.0
    ROW_SELF = 50.0
    ROW_DIV = 34.0
    NOTE_W = 230.0
    LABEL_SIZE = 12.0

    def __init__(self, diagram: SequenceDiagram) -> None:
        self.d = diagram
        self.lanes = diagram.lifelines
        self.index = {p.id: i for i, p in enumerate(self.lanes)}
        for item in diagram.items:
            names = (
                (item.src, item.dst) if isinstance(item, Message)
                else item.over if isinstance(item, Note) else ()
            )
            for n in names:
                if n not in self.index:
                    raise ValueError(f"diagram {diagram.title!r}: unknown participant {n!r}")
        self.prefix = "sd-" + diagram.key
        self._layout()

    def _note_lines(self, note: Note) -> list[str]:
        return wrap(note.text, self.NOTE_W - 16, self.LABEL_SIZE)

    def _layout(self) -> None:
        n = len(self.lanes)
        self.box_w = [max(96.0, text_width(p.title, 13) + 28) for p in self.lanes]
        gaps = [max((self.box_w[i] + self.box_w[i + 1]) / 2 + 24, 120.0) for i in range(n - 1)]
        left_need = self.box_w[0] / 2 if n else 0.0
        right_need = self.box_w[-1] / 2 if n else 0.0

        def widen(a: int, b: int, need: float) -> None:
            have = sum(gaps[a:b])
            if have < need:
                extra = (need - have) / (b - a)
                for k in range(a, b):
                    gaps[k] += extra

        for item in self.d.items:
            if isinstance(item, Message):
                a, b = sorted((self.index[item.src], self.index[item.dst]))
                w = text_width(item.label, self.LABEL_SIZE) + 36
                if a != b:
                    widen(a, b, w)
                elif a < n - 1:
                    widen(a, a + 1, w + 30)
                else:
                    right_need = max(right_need, w + 30)
            elif isinstance(item, Note):
                a, b = sorted((self.index[item.over[0]], self.index[item.over[-1]]))
                width = max(text_width(t, self.LABEL_SIZE) for t in self._note_lines(item)) + 20
                if a == b:
                    half = width / 2 + 6
                    if a > 0:
                        widen(a - 1, a, half + self.box_w[a - 1] / 4)
                    else:
                        left_need = max(left_need, half)
                    if a < n - 1:
                        widen(a, a + 1, half + self.box_w[a + 1] / 4)
                    else:
                        right_need = max(right_need, half)
        has_steps = any(getattr(i, "step", None) is not None for i in self.d.items)
        self.gutter = 34.0 if has_steps else 0.0
        x = 16.0 + self.gutter + left_need
        self.xs = [x]
        for g in gaps:
            x += g
            self.xs.append(x)
        self.width = (self.xs[-1] if self.xs else x) + right_need + 16
        self.title_h = 26.0 if self.d.title else 0.0

    def render(self) -> str:
        d = self.d
        tones = {i.tone for i in d.items if isinstance(i, Message)} | {"forward"}
        top = 12 + self.title_h
        body: list[str] = []
        y = top + self.HEAD_H + 14
        rows: list[str] = []
        shown: set[int] = set()
        for item in d.items:
            step = getattr(item, "step", None)
            self.show_step = step is not None and step not in shown
            if step is not None:
                shown.add(step)
            if isinstance(item, Message):
                h = self._message(item, y, rows)
            elif isinstance(item, Note):
                h = self._note(item, y, rows)
            else:
                h = self._divider(item, y, rows)
            y += h
        bottom = y + 10
        height = bottom + self.HEAD_H + 12
        # Lifelines first so arrows and notes paint over them.
        for x in self.xs:
            body.append(
                f'<line class="ss-lifeline" x1="{num(x)}" y1="{num(top + self.HEAD_H)}" '
                f'x2="{num(x)}" y2="{num(bottom)}"/>'
            )
        body.extend(rows)
        for i, (p, x) in enumerate(zip(self.lanes, self.xs, strict=True)):
            for yy in (top, bottom):
                body.append(self._head(p, x, yy, self.box_w[i], yy == top))
        title = (
            f'<text class="ss-title" x="16" y="{num(12 + 15)}">{esc(d.title)}</text>'
            if d.title else ""
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="ss-diagram ss-sequence" '
            f'data-diagram="{esc(d.key)}" width="{num(self.width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(self.width)} {num(height)}" role="img" '
            f'aria-label="{esc(d.title or "sequence diagram")}">'
            f"<title>{esc(d.title or 'sequence diagram')}</title>"
            f"<style>{_STYLE}</style>{_markers(self.prefix, tones)}"
            f"{title}{''.join(body)}</svg>"
        )

    def _head(self, p: Lifeline, x: float, y: float, w: float, first: bool) -> str:
        attrs = f' data-participant="{esc(p.id)}"' if first else ' aria-hidden="true"'
        rx = 16 if p.kind == "actor" else 4
        fill = ' style="fill:#eef2ff"' if p.kind == "bus" else ""
        return (
            f'<g class="ss-head"{attrs}><rect x="{num(x - w / 2)}" y="{num(y)}" '
            f'width="{num(w)}" height="{num(self.HEAD_H)}" rx="{rx}"{fill}/>'
            f'<text x="{num(x)}" y="{num(y + 21.5)}">{esc(p.title)}</text></g>'
        )

    def _step(self, step: int | None, y: float) -> str:
        if step is None or not self.show_step:
            return ""
        return f'<text class="ss-step" x="{num(16 + self.gutter - 8)}" y="{num(y)}">{step}</text>'

    def _message(self, m: Message, y: float, out: list[str]) -> float:
        stroke, _ = _tone(m.tone)
        x1, x2 = self.xs[self.index[m.src]], self.xs[self.index[m.dst]]
        dash = ' stroke-dasharray="6 4"' if m.dashed else ""
        marker = f'marker-end="url(#{self.prefix}-arrow-{m.tone if m.tone in TONES else "forward"})"'
        tip = f"<title>{esc(m.detail)}</title>" if m.detail else ""
        attrs = (
            f'class="ss-message ss-{esc(m.tone)}" data-src="{esc(m.src)}" '
            f'data-dst="{esc(m.dst)}" data-label="{esc(m.label)}"'
            + (f' data-step="{m.step}"' if m.step is not None else "")
        )
        if x1 == x2:
            path = (
                f'<path d="M{num(x1)},{num(y + 18)} h34 v16 h-32" fill="none" '
                f'stroke="{stroke}" stroke-width="1.6"{dash} {marker}/>'
            )
            label = (
                f'<text class="ss-label" x="{num(x1 + 40)}" y="{num(y + 30)}">{esc(m.label)}</text>'
            )
            out.append(f"<g {attrs}>{tip}{path}{label}{self._step(m.step, y + 30)}</g>")
            return self.ROW_SELF
        ly = y + 24
        direction = 1 if x2 > x1 else -1
        line = (
            f'<line x1="{num(x1)}" y1="{num(ly)}" x2="{num(x2 - direction * 2)}" y2="{num(ly)}" '
            f'stroke="{stroke}" stroke-width="1.6"{dash} {marker}/>'
        )
        label = (
            f'<text class="ss-label" x="{num((x1 + x2) / 2)}" y="{num(ly - 6)}" '
            f'text-anchor="middle" fill="{stroke}">{esc(m.label)}</text>'
        )
        out.append(f"<g {attrs}>{tip}{line}{label}{self._step(m.step, ly + 4)}</g>")
        return self.ROW_MSG

    def _note(self, note: Note, y: float, out: list[str]) -> float:
        stroke, fill = _tone(note.tone)
        lines = self._note_lines(note)
        a, b = sorted((self.index[note.over[0]], self.index[note.over[-1]]))
        text_w = max(text_width(t, self.LABEL_SIZE) for t in lines) + 20
        if a == b:
            w = text_w
            x = self.xs[a] - w / 2
        else:
            x = self.xs[a] - 30
            w = max(self.xs[b] - self.xs[a] + 60, text_w)
        h = 15 * len(lines) + 10
        texts = "".join(
            f'<text x="{num(x + w / 2)}" y="{num(y + 6 + 15 * (k + 1) - 2)}" '
            f'text-anchor="middle">{esc(t)}</text>'
            for k, t in enumerate(lines)
        )
        over = " ".join(note.over)
        out.append(
            f'<g class="ss-note ss-{esc(note.tone)}" data-over="{esc(over)}" '
            f'data-text="{esc(note.text)}"><rect x="{num(x)}" y="{num(y + 4)}" '
            f'width="{num(w)}" height="{num(h)}" rx="3" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="0.8"/>{texts}{self._step(note.step, y + 19)}</g>'
        )
        return h + 12

    def _divider(self, div: Divider, y: float, out: list[str]) -> float:
        x1, x2 = 16 + self.gutter, self.width - 16
        w = text_width(div.text, 12) + 20
        mid = (x1 + x2) / 2
        out.append(
            f'<g class="ss-divider" data-text="{esc(div.text)}">'
            f'<line x1="{num(x1)}" y1="{num(y + 17)}" x2="{num(x2)}" y2="{num(y + 17)}"/>'
            f'<rect x="{num(mid - w / 2)}" y="{num(y + 7)}" width="{num(w)}" height="20" '
            f'fill="#ffffff" stroke="#64748b" stroke-width="0.8" rx="3"/>'
            f'<text x="{num(mid)}" y="{num(y + 21)}">{esc(div.text)}</text></g>'
        )
        return self.ROW_DIV


# --------------------------------------------------------------------------------------
# State machines


@dataclass(frozen=True)
class State:
    """A node: ``id`` is referenced by transitions, ``label`` (may hold newlines) is shown."""

    id: str
    label: str
    initial: bool = False
    final: bool = False
    tone: str = "info"
    detail: str = ""


@dataclass(frozen=True)
class Transition:
    """An edge ``src -> dst`` labelled with what triggers it and what it publishes."""

    src: str
    dst: str
    label: str
    tone: str = "forward"


@dataclass(frozen=True)
class StateMachine:
    """A titled state machine; states keep their given order (it breaks layout ties)."""

    title: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    id: str = ""

    @property
    def key(self) -> str:
        return self.id or slug(self.title)

    def to_mermaid(self) -> str:
        ids = {s.id: f"s{k}" for k, s in enumerate(self.states)}
        lines = ["stateDiagram-v2"]
        for s in self.states:
            lines.append(f'    state "{_mermaid_text(s.label).replace(chr(34), "")}" as {ids[s.id]}')
        for s in self.states:
            if s.initial:
                lines.append(f"    [*] --> {ids[s.id]}")
        for t in _merge_parallel(self.transitions):
            lines.append(f"    {ids[t.src]} --> {ids[t.dst]}: {_mermaid_text(t.label)}")
        for s in self.states:
            if s.final:
                lines.append(f"    {ids[s.id]} --> [*]")
        return "\n".join(lines)

    def to_svg(self) -> str:
        return _StateLayout(self).render()


def _merge_parallel(transitions: tuple[Transition, ...]) -> list[Transition]:
    """Join edges with the same ends into one edge with a multi-line label."""
    merged: dict[tuple[str, str], list[Transition]] = {}
    for t in transitions:
        merged.setdefault((t.src, t.dst), []).append(t)
    out = []
    for (src, dst), group in merged.items():
        labels = list(dict.fromkeys(t.label for t in group))
        out.append(Transition(src, dst, "\n".join(labels), group[0].tone))
    return out


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float

    def crossed_by(self, points, pad: float = 3.0) -> bool:
        """Whether a line through ``points`` (dense samples) passes through the box."""
        return any(
            self.x - pad <= x <= self.x + self.w + pad and self.y - pad <= y <= self.y + self.h + pad
            for x, y in points
        )

    def overlaps(self, other: _Box, pad: float = 2.0) -> bool:
        return not (
            self.x + self.w + pad <= other.x or other.x + other.w + pad <= self.x
            or self.y + self.h + pad <= other.y or other.y + other.h + pad <= self.y
        )


@dataclass
class _Node:
    state: State
    lines: list[str]
    w: float
    h: float
    layer: int = 0
    extra_right: float = 0.0  # room for a self-loop and its label
    x: float = 0.0  # centre
    y: float = 0.0  # top
    out_slots: list = field(default_factory=list)


class _StateLayout:
    LAYER_GAP = 92.0
    NODE_GAP = 56.0
    EDGE_LABEL_W = 190.0

    def __init__(self, sm: StateMachine) -> None:
        self.sm = sm
        self.prefix = "sm-" + sm.key
        self.nodes = {
            s.id: self._node(s) for s in sm.states
        }
        for t in sm.transitions:
            if t.src not in self.nodes or t.dst not in self.nodes:
                raise ValueError(f"state machine {sm.title!r}: unknown state in {t}")
        self.edges = _merge_parallel(sm.transitions)
        for e in self.edges:
            if e.src == e.dst:
                lines = [ln for part in e.label.split("\n") for ln in wrap(part, self.EDGE_LABEL_W, 11)]
                self.nodes[e.src].extra_right = max(text_width(t, 11) for t in lines) + 52
        self._layers()
        self._order()
        self._place()

    @staticmethod
    def _node(s: State) -> _Node:
        lines = s.label.split("\n")
        w = max(96.0, max(text_width(t, 12.5) for t in lines) + 28)
        return _Node(s, lines, w, 17 * len(lines) + 16)

    def _layers(self) -> None:
        succ: dict[str, list[str]] = {k: [] for k in self.nodes}
        for e in self.edges:
            if e.src != e.dst:
                succ[e.src].append(e.dst)
        roots = [s.id for s in self.sm.states if s.initial] or [self.sm.states[0].id]
        # Breadth-first discovery order; an edge against it is a back edge (a cycle),
        # drawn around the right. Layers are longest paths over the forward edges, so
        # no forward edge stays inside one layer.
        seen: dict[str, int] = {}
        queue = deque()
        for r in roots:
            seen[r] = len(seen)
            queue.append(r)
        while queue:
            cur = queue.popleft()
            for nxt in succ[cur]:
                if nxt not in seen:
                    seen[nxt] = len(seen)
                    queue.append(nxt)
        for s in self.sm.states:  # unreachable states keep their given order, last
            seen.setdefault(s.id, len(seen))
        depth = {k: 0 for k in seen}
        for cur in sorted(seen, key=seen.get):
            for nxt in succ[cur]:
                if seen[nxt] > seen[cur]:
                    depth[nxt] = max(depth[nxt], depth[cur] + 1)
        for s in self.sm.states:
            self.nodes[s.id].layer = depth[s.id]
        count = max(n.layer for n in self.nodes.values()) + 1
        self.layers: list[list[str]] = [[] for _ in range(count)]
        for s in self.sm.states:
            self.layers[self.nodes[s.id].layer].append(s.id)

    def _order(self) -> None:
        preds: dict[str, list[str]] = {k: [] for k in self.nodes}
        succs: dict[str, list[str]] = {k: [] for k in self.nodes}
        for e in self.edges:
            if self.nodes[e.src].layer < self.nodes[e.dst].layer:
                preds[e.dst].append(e.src)
                succs[e.src].append(e.dst)

        def sweep(layer_ids: list[list[str]], neighbours, rng) -> None:
            for li in rng:
                prev = {n: k for k, n in enumerate(layer_ids[li - 1 if neighbours is preds else li + 1])}
                cur = layer_ids[li]

                def key(n: str, cur=cur, prev=prev) -> float:
                    ps = [prev[p] for p in neighbours[n] if p in prev]
                    return sum(ps) / len(ps) if ps else cur.index(n)

                layer_ids[li] = sorted(cur, key=key)

        for _ in range(3):
            sweep(self.layers, preds, range(1, len(self.layers)))
            sweep(self.layers, succs, range(len(self.layers) - 2, -1, -1))

    def _place(self) -> None:
        widths = [
            sum(self.nodes[n].w + self.nodes[n].extra_right for n in layer)
            + self.NODE_GAP * (len(layer) - 1)
            for layer in self.layers
        ]
        full = max(widths, default=0.0)
        # A gap crossed by many labelled edges gets taller, so their labels fit.
        crossing = [0] * len(self.layers)
        tallest = [0.0] * len(self.layers)
        for e in self.edges:
            a, b = self.nodes[e.src].layer, self.nodes[e.dst].layer
            if a < b:
                crossing[a] += 1
                lines = sum(len(wrap(part, self.EDGE_LABEL_W, 11)) for part in e.label.split("\n"))
                tallest[a] = max(tallest[a], 13.0 * lines + 4)
        y = 0.0
        for k, (layer, lw) in enumerate(zip(self.layers, widths, strict=True)):
            x = (full - lw) / 2
            h = max((self.nodes[n].h for n in layer), default=0.0)
            for n in layer:
                node = self.nodes[n]
                node.x = x + node.w / 2
                node.y = y + (h - node.h) / 2
                x += node.w + node.extra_right + self.NODE_GAP
            y += h + max(self.LAYER_GAP, tallest[k] + 44) + 18 * max(0, crossing[k] - 3)

    def render(self) -> str:
        sm = self.sm
        tones = {e.tone for e in self.edges} | {"forward"}
        occupied = [_Box(n.x - n.w / 2, n.y, n.w, n.h) for n in self.nodes.values()]
        right_edge = max(
            (n.x + n.w / 2 + n.extra_right for n in self.nodes.values()), default=0.0
        )
        parts: list[str] = []
        labels: list[str] = []
        # Out/in attachment points spread along node sides, so parallel edges separate.
        outs: dict[str, list[Transition]] = {}
        ins: dict[str, list[Transition]] = {}
        forward = [
            e for e in self.edges
            if self.nodes[e.src].layer < self.nodes[e.dst].layer
        ]
        for e in forward:
            outs.setdefault(e.src, []).append(e)
            ins.setdefault(e.dst, []).append(e)
        for group in (*outs.values(), *ins.values()):
            group.sort(key=lambda e: (self.nodes[e.dst].x, self.nodes[e.src].x))
        bulge = 0
        # Every edge's geometry first, so a label can stay off the other edges' lines.
        shapes: list[tuple] = []
        for e in self.edges:
            src, dst = self.nodes[e.src], self.nodes[e.dst]
            stroke, _ = _tone(e.tone)
            marker = f'marker-end="url(#{self.prefix}-arrow-{e.tone if e.tone in TONES else "forward"})"'
            if e in forward:
                og, ig = outs[e.src], ins[e.dst]
                sx = src.x + (og.index(e) + 1) / (len(og) + 1) * src.w - src.w / 2
                dx = dst.x + (ig.index(e) + 1) / (len(ig) + 1) * dst.w - dst.w / 2
                p0, p3 = (sx, src.y + src.h), (dx, dst.y)
                dy = (p3[1] - p0[1]) / 2
                p1, p2 = (p0[0], p0[1] + dy), (p3[0], p3[1] - dy)
                cands = (0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8)
            elif e.src == e.dst:
                p0 = (src.x + src.w / 2, src.y + src.h * 0.3)
                p3 = (src.x + src.w / 2, src.y + src.h * 0.7)
                p1, p2 = (p0[0] + 36, p0[1] - 14), (p3[0] + 36, p3[1] + 14)
                cands = (0.5, 0.0, 1.0)
            else:
                # Back or same-layer edge: out of the source's right side, up the
                # right margin, and into the target from above.
                bulge += 1
                reach = right_edge + 34 + 26 * bulge
                p0 = (src.x + src.w / 2, src.y + src.h / 2)
                p3 = (dst.x + dst.w / 4, dst.y)
                top = dst.y - 22 - 6 * bulge
                p1, p2 = (reach, p0[1]), (reach, top)
                cands = (0.5, 0.4, 0.6, 0.3, 0.7)
            if e in forward or e.src == e.dst:
                d = (
                    f"M{num(p0[0])},{num(p0[1])} C{num(p1[0])},{num(p1[1])} "
                    f"{num(p2[0])},{num(p2[1])} {num(p3[0])},{num(p3[1])}"
                )
            else:
                d = (
                    f"M{num(p0[0])},{num(p0[1])} L{num(reach - 10)},{num(p0[1])} "
                    f"Q{num(reach)},{num(p0[1])} {num(reach)},{num(p0[1] - 10)} "
                    f"L{num(reach)},{num(top + 10)} Q{num(reach)},{num(top)} {num(reach - 10)},{num(top)} "
                    f"L{num(p3[0] + 10)},{num(top)} Q{num(p3[0])},{num(top)} {num(p3[0])},{num(top + 10)} "
                    f"L{num(p3[0])},{num(p3[1])}"
                )
                # Label candidates along the vertical run in the right margin.
                p0, p1, p2, p3 = (reach, p0[1]), (reach, p0[1]), (reach, top), (reach, top)
            if e in forward or e.src == e.dst:
                line = [_bezier((p0, p1, p2, p3), k / 32) for k in range(33)]
            else:
                line = _polyline(((src.x + src.w / 2, src.y + src.h / 2), (reach, src.y + src.h / 2),
                                  (reach, top), (dst.x + dst.w / 4, top), (dst.x + dst.w / 4, dst.y)))
            shapes.append((e, src, stroke, marker, d, (p0, p1, p2, p3), cands, line))
        for index, (e, src, stroke, marker, d, (p0, p1, p2, p3), cands, _line) in enumerate(shapes):
            others = [pt for j, shape in enumerate(shapes) if j != index for pt in shape[7]]
            text_lines = [ln for part in e.label.split("\n") for ln in wrap(part, self.EDGE_LABEL_W, 11)]
            lw = max(text_width(t, 11) for t in text_lines) + 8
            lh = 13 * len(text_lines) + 4
            box = None
            side = e.src == e.dst or e not in forward
            # Along the edge first, then beside it (left/right of the curve).
            shifts = (0.0,) if side else (0.0, lw / 2 + 6, -(lw / 2 + 6), lw + 10, -(lw + 10))
            for shift in shifts:
                for t in cands:
                    cx, cy = _bezier((p0, p1, p2, p3), t)
                    if e.src == e.dst:
                        # Beside the loop: centred, then top- or bottom-aligned with it.
                        top = {0.5: cy - lh / 2, 0.0: src.y, 1.0: src.y + src.h - lh}[t]
                        cand = _Box(src.x + src.w / 2 + 34, top, lw, lh)
                    elif side:
                        cand = _Box(cx + 6, cy - lh / 2, lw, lh)
                    else:
                        cand = _Box(cx - lw / 2 + shift, cy - lh / 2, lw, lh)
                    if not any(cand.overlaps(o) for o in occupied) and not cand.crossed_by(others):
                        box = cand
                        break
                if box is not None:
                    break
            if box is None and e.src != e.dst:
                # A wider search along and beside the line, still off the other lines: along
                # a curve and to either side of it, or further right of a margin run.
                wide = [k / 20 for k in range(2, 19)]
                if side:
                    offsets = [(6.0 + dx, 0.0) for dx in range(0, 280, 14)]
                else:
                    offsets = [(f * (lw / 2 + 6) - lw / 2, 0.0) for f in (0, 1, -1, 2, -2, 3, -3)]
                for ox, _oy in offsets:
                    for t in wide:
                        cx, cy = _bezier((p0, p1, p2, p3), t)
                        cand = _Box(cx + ox, cy - lh / 2, lw, lh)
                        if not any(cand.overlaps(o) for o in occupied) and not cand.crossed_by(others):
                            box = cand
                            break
                    if box is not None:
                        break
            if box is None:  # no place off the other lines: at least off the other labels
                for shift in shifts:
                    for t in cands:
                        cx, cy = _bezier((p0, p1, p2, p3), t)
                        if e.src == e.dst:
                            top = {0.5: cy - lh / 2, 0.0: src.y, 1.0: src.y + src.h - lh}[t]
                            cand = _Box(src.x + src.w / 2 + 34, top, lw, lh)
                        elif side:
                            cand = _Box(cx + 6, cy - lh / 2, lw, lh)
                        else:
                            cand = _Box(cx - lw / 2 + shift, cy - lh / 2, lw, lh)
                        if not any(cand.overlaps(o) for o in occupied):
                            box = cand
                            break
                    if box is not None:
                        break
            if box is None:  # everything collides: stack below the last label
                cx, cy = _bezier((p0, p1, p2, p3), 0.5)
                box = _Box(cx - lw / 2, cy - lh / 2, lw, lh)
                while any(box.overlaps(o) for o in occupied):
                    box.y += lh / 2
            occupied.append(box)
            parts.append(
                f'<g class="ss-edge ss-{esc(e.tone)}" data-src="{esc(e.src)}" '
                f'data-dst="{esc(e.dst)}" data-label="{esc(e.label)}">'
                f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.5" {marker}/></g>'
            )
            texts = "".join(
                # Inline style: the stylesheet's text fill would win over a fill attribute,
                # and the colour is what ties a label to its edge.
                f'<text class="ss-edge-label" x="{num(box.x + lw / 2)}" '
                f'y="{num(box.y + 13 * (k + 1))}" text-anchor="middle" style="fill:{stroke}">'
                f"{esc(t)}</text>"
                for k, t in enumerate(text_lines)
            )
            labels.append(
                f'<g class="ss-label-box" data-edge="{esc(e.src)}->{esc(e.dst)}" '
                f'aria-hidden="true"><rect x="{num(box.x)}" y="{num(box.y)}" width="{num(lw)}" '
                f'height="{num(lh)}" fill="#ffffff" fill-opacity="0.92"/>{texts}</g>'
            )
        nodes_svg = []
        for s in sm.states:
            n = self.nodes[s.id]
            stroke, fill = _tone(s.tone)
            double = (
                f'<rect x="{num(n.x - n.w / 2 - 4)}" y="{num(n.y - 4)}" width="{num(n.w + 8)}" '
                f'height="{num(n.h + 8)}" rx="12" fill="none" stroke="{stroke}"/>'
                if s.final else ""
            )
            start = (
                f'<circle cx="{num(n.x - n.w / 2 - 18)}" cy="{num(n.y + n.h / 2)}" r="6" '
                f'fill="#111827"/><line x1="{num(n.x - n.w / 2 - 12)}" '
                f'y1="{num(n.y + n.h / 2)}" x2="{num(n.x - n.w / 2 - 2)}" y2="{num(n.y + n.h / 2)}" '
                f'stroke="#111827" stroke-width="1.5"/>'
                if s.initial else ""
            )
            texts = "".join(
                f'<text x="{num(n.x)}" y="{num(n.y + 8 + 17 * (k + 1) - 3)}">{esc(t)}</text>'
                for k, t in enumerate(n.lines)
            )
            tip = f"<title>{esc(s.detail)}</title>" if s.detail else ""
            nodes_svg.append(
                f'<g class="ss-state" data-state="{esc(s.id)}" data-label="{esc(s.label)}">{tip}'
                f'{double}<rect x="{num(n.x - n.w / 2)}" y="{num(n.y)}" width="{num(n.w)}" '
                f'height="{num(n.h)}" rx="9" fill="{fill}" stroke="{stroke}"/>{start}{texts}</g>'
            )
        # Bounds of everything drawn, then shift into a margin.
        xs = [b.x for b in occupied] + [n.x - n.w / 2 - 28 for n in self.nodes.values()]
        xe = [b.x + b.w for b in occupied] + [right_edge + 34 + 26 * bulge if bulge else 0.0]
        ys = [b.y for b in occupied]
        ye = [b.y + b.h for b in occupied]
        min_x, max_x = min(xs), max(xe)
        title_h = 30.0 if sm.title else 0.0
        min_y, max_y = min(ys) - 8, max(ye) + 8
        dx, dy = 16 - min_x, 12 + title_h - min_y
        width = max_x - min_x + 32
        height = max_y - min_y + 24 + title_h
        title = f'<text class="ss-title" x="16" y="27">{esc(sm.title)}</text>' if sm.title else ""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="ss-diagram ss-statemachine" '
            f'data-diagram="{esc(sm.key)}" width="{num(width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" role="img" aria-label="{esc(sm.title)}">'
            f"<title>{esc(sm.title)}</title><style>{_STYLE}</style>"
            f"{_markers(self.prefix, tones)}{title}"
            f'<g transform="translate({num(dx)},{num(dy)})">'
            f"{''.join(parts)}{''.join(nodes_svg)}{''.join(labels)}</g></svg>"
        )


def _polyline(corners, step: float = 4.0) -> list[tuple[float, float]]:
    """Points every ``step`` pixels along the straight segments through ``corners``."""
    out = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out


def _bezier(points, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    u = 1 - t
    x = u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3
    y = u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3
    if math.isnan(x) or math.isnan(y):  # pragma: no cover - defensive
        return x0, y0
    return x, y
