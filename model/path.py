"""Executions of a model: actions, paths, replay, shrinking, and their renderings.

A :class:`Path` is an initial state plus numbered steps ``(Action, state)``. It prints
as numbered steps showing only what changed, renders as a Mermaid or plain-text
sequence diagram, saves as JSON (the format the conformance suite replays against a real
service) and encodes to a compact string. Paths are always *re-executed* from the
initial state, so a decoded or loaded path is checked, not trusted.

>>> Action("deliver", "hotel", Msg("TripRequested", 0, "trip"), "book")
Action('deliver', 'hotel', TripRequested(saga 0, from trip), 'book')
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from sagaspec.model.engine import KIND_NAMES, Engine
from sagaspec.model.participant import Msg
from sagaspec.model.properties import Property
from sagaspec.model.system import Config, System
from sagaspec.model.view import View

from sagaspec.errors import InputError, ModelError, PropertyError

__all__ = ["Action", "Snapshot", "Step", "Path", "replay", "shrink", "TRACE_FORMAT", "ENCODING_PREFIX"]

TRACE_FORMAT = "sagaspec.trace/1"
ENCODING_PREFIX = "ssp1:"
_KIND_LETTER = {
    "internal": "i",
    "deliver": "d",
    "duplicate": "u",
    "drop": "x",
    "crash": "c",
    "crash-in-handler": "h",
    "crash-before-publish": "l",
}
_LETTER_KIND = {v: k for k, v in _KIND_LETTER.items()}
_KIND_RANK = {k: i for i, k in enumerate(KIND_NAMES)}


def _msg_text(msg: Msg) -> str:
    return f"{msg.type}(saga {msg.saga}, from {msg.src})" if not msg.data else (
        f"{msg.type}(saga {msg.saga}, from {msg.src}, {dict(msg.data)!r})"
    )


def _short(msg: Msg) -> str:
    return f"{msg.type}[{msg.saga}]"


@dataclass(frozen=True)
class Action:
    """One step of an execution.

    ``kind`` is one of ``internal``, ``deliver``, ``duplicate``, ``drop``, ``crash``,
    ``crash-in-handler``, ``crash-before-publish`` (see :mod:`sagaspec.model.engine`);
    ``participant`` acts; ``msg`` is the delivered message (``None`` for internal actions
    and idle crashes); ``label`` names the handler's outcome. Actions are ordered by
    ``(participant, kind, msg, label)``.
    """

    kind: str
    participant: str
    msg: Msg | None = None
    label: str = ""

    def sort_key(self) -> tuple:
        m = self.msg
        mk = () if m is None else (m.saga, m.type, m.src, repr(m.data))
        return (self.participant, _KIND_RANK.get(self.kind, 99), mk, self.label)

    def __lt__(self, other: Action) -> bool:
        return self.sort_key() < other.sort_key()

    def __le__(self, other: Action) -> bool:
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: Action) -> bool:
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: Action) -> bool:
        return self.sort_key() >= other.sort_key()

    @property
    def saga(self) -> int | None:
        return None if self.msg is None else self.msg.saga

    def token(self) -> str:
        """The compact, replayable form of this action (see :meth:`Path.encode`)."""
        fields = [_KIND_LETTER[self.kind], self.participant]
        if self.msg is not None:
            fields += [self.msg.type, str(self.msg.saga), self.msg.src]
            if self.msg.data:
                fields.append(repr(self.msg.data))
        else:
            fields += ["", "", ""]
        fields.append(self.label)
        return ",".join(quote(f, safe="") for f in fields)

    def __str__(self) -> str:
        who = self.participant
        if self.kind == "internal":
            return f"{who}: {self.label}"
        if self.kind == "crash":
            return f"{who}: crash and restart"
        m = _msg_text(self.msg) if self.msg is not None else "?"
        if self.kind == "deliver":
            return f"{who} <- {m}: {self.label}"
        if self.kind == "duplicate":
            return f"{who} <- {m}: {self.label} (a duplicate copy stays in flight)"
        if self.kind == "drop":
            return f"{who} <- {m}: ignored, already processed (idempotency store)"
        if self.kind == "crash-in-handler":
            return f"{who} <- {m}: {self.label}, then crash before ack (publishes kept, message redelivered)"
        if self.kind == "crash-before-publish":
            return f"{who} <- {m}: {self.label}, then crash before publishing (publishes lost, message redelivered)"
        return f"{who}: {self.kind} {self.label}"

    def __repr__(self) -> str:
        m = "None" if self.msg is None else (
            f"{self.msg.type}(saga {self.msg.saga}, from {self.msg.src})"
        )
        return f"Action({self.kind!r}, {self.participant!r}, {m}, {self.label!r})"


@dataclass(frozen=True)
class Snapshot:
    """A decoded global state: locals by participant, in-flight copies, stores, budgets."""

    locals: dict[str, Hashable]
    in_flight: tuple[tuple[str, Msg], ...]
    processed: dict[str, frozenset[Msg]]
    crashes_left: dict[str, int]
    duplicates_left: int
    quiescent: bool

    def __getitem__(self, name: str) -> Hashable:
        return self.locals[name]


@dataclass(frozen=True)
class Step:
    """One numbered step: the action, what it published, and the state after it."""

    action: Action
    published: tuple[Msg, ...]
    lost: tuple[Msg, ...]
    state: Snapshot


# --------------------------------------------------------------------------- JSON helpers
def jsonable(value: Any) -> Any:
    """A JSON-friendly rendering of a local state (dataclasses, tuples, sets, enums...)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
        except TypeError:
            return items
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return repr(value)


def _msg_json(msg: Msg, to: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"event": msg.type, "saga": msg.saga, "src": msg.src}
    if msg.data:
        out["data"] = {str(k): jsonable(v) for k, v in msg.data}
    if to is not None:
        out["to"] = list(to)
    return out


# --------------------------------------------------------------------------- readable text
def _fields(value: Any) -> list[tuple[str, Any]] | None:
    """``(name, value)`` of a record (dataclass or NamedTuple), else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return [(name, getattr(value, name)) for name in value._fields]
    return None


def render_value(value: Any, *, nested: bool = False) -> str:
    """A local-state value as people read it: records as ``field=value``, strings bare.

    >>> from typing import NamedTuple
    >>> class Slot(NamedTuple):
    ...     status: str
    ...     paid: int
    >>> render_value(Slot("idle", 0)), render_value((Slot("open", 1),))
    ('status=idle paid=0', '({status=open paid=1})')
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):  # as spec files write them
        return "true" if value else "false"
    if isinstance(value, str):
        # Bare unless that would be ambiguous (empty, spaces, separators).
        return value if value and value.isprintable() and not any(c in value for c in " ,=()[]{}") else repr(value)
    fields = _fields(value)
    if fields is not None:
        text = " ".join(f"{k}={render_value(v, nested=True)}" for k, v in fields)
        return f"{{{text}}}" if nested else text
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(render_value(v, nested=True) for v in value)) + "}"
    if isinstance(value, tuple | list):
        inner = ", ".join(render_value(v, nested=True) for v in value)
        return f"({inner}{',' if len(value) == 1 and isinstance(value, tuple) and not _fields(value[0]) else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k, nested=True)}: {render_value(v, nested=True)}" for k, v in value.items()) + "}"
    return repr(value)


def render_state(where: str, value: Any) -> list[tuple[str, str]]:
    """``(where, text)`` lines for one local state: a collection of records is one line each.

    >>> from typing import NamedTuple
    >>> class Slot(NamedTuple):
    ...     status: str
    >>> render_state("trip", (Slot("idle"), Slot("open")))
    [('trip[0]', 'status=idle'), ('trip[1]', 'status=open')]
    """
    fields = _fields(value)
    if fields is not None:
        flat = [(k, v) for k, v in fields if not _is_collection_of_records(v)]
        deep = [(k, v) for k, v in fields if _is_collection_of_records(v)]
        out = [(where, " ".join(f"{k}={render_value(v, nested=True)}" for k, v in flat))] if flat else []
        for k, v in deep:
            out += render_state(f"{where}.{k}", v)
        return out
    if _is_collection_of_records(value):
        out = []
        for i, item in enumerate(value):
            out += render_state(f"{where}[{i}]", item)
        return out
    return [(where, render_value(value))]


def _is_collection_of_records(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and not hasattr(value, "_fields")
        and bool(value)
        and all(_fields(v) is not None for v in value)
    )


def render_change(before: Any, after: Any) -> str:
    """``before -> after`` (or a set's ``+added -removed``, as :func:`state_changes` gives it)."""
    if before is None and isinstance(after, str) and after[:1] in "+-":
        return after
    return f"{render_value(before, nested=True)} -> {render_value(after, nested=True)}"


def grouped_changes(changes: Sequence[tuple[str, Any, Any]]) -> list[str]:
    """Changes of one step, one text per record: ``payment[1]: status none -> charged, charges 0 -> 1``."""
    groups: dict[str, list[str]] = {}
    for where, before, after in changes:
        head, dot, field = where.rpartition(".")
        if not dot or "[" in field:
            head, field = where, ""
        groups.setdefault(head, []).append(
            f"{field} {render_change(before, after)}" if field else render_change(before, after)
        )
    return [f"{head}: {', '.join(parts)}" for head, parts in groups.items()]


# --------------------------------------------------------------------------- diffs
def _diff(before: Any, after: Any, where: str, out: list[tuple[str, Any, Any]], depth: int = 0) -> None:
    if before == after:
        return
    if depth < 4 and type(before) is type(after):
        if dataclasses.is_dataclass(before) and not isinstance(before, type):
            for f in dataclasses.fields(before):
                _diff(getattr(before, f.name), getattr(after, f.name), f"{where}.{f.name}", out, depth + 1)
            return
        if isinstance(before, tuple) and len(before) == len(after) and not hasattr(before, "_fields"):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                _diff(b, a, f"{where}[{i}]", out, depth + 1)
            return
        if isinstance(before, tuple) and hasattr(before, "_fields"):
            for name in before._fields:
                _diff(getattr(before, name), getattr(after, name), f"{where}.{name}", out, depth + 1)
            return
        if isinstance(before, dict):
            for k in sorted(set(before) | set(after), key=repr):
                _diff(before.get(k), after.get(k), f"{where}[{k!r}]", out, depth + 1)
            return
        if isinstance(before, frozenset | set):
            added = sorted(render_value(v, nested=True) for v in after - before)
            removed = sorted(render_value(v, nested=True) for v in before - after)
            text = " ".join([*(f"+{a}" for a in added), *(f"-{r}" for r in removed)])
            out.append((where, None, text))
            return
    out.append((where, before, after))


def state_changes(before: Snapshot, after: Snapshot) -> list[tuple[str, Any, Any]]:
    """``(where, before, after)`` for every changed part of the local states and budgets.

    A set-valued change is reported as ``(where, None, "+added -removed")``.
    """
    out: list[tuple[str, Any, Any]] = []
    for name, local in after.locals.items():
        _diff(before.locals[name], local, name, out)
    for name, left in after.crashes_left.items():
        if before.crashes_left[name] != left:
            out.append((f"{name} crashes left", before.crashes_left[name], left))
    if before.duplicates_left != after.duplicates_left:
        out.append(("duplicates left", before.duplicates_left, after.duplicates_left))
    return out


# --------------------------------------------------------------------------- Path
class Path:
    """An execution: ``initial`` plus ``steps``, re-executed on the given engine.

    Build one with :func:`replay` (from actions), :meth:`decode` (from :meth:`encode`),
    :meth:`from_json`, or get one from a check result. ``loop`` is set for a lasso
    (a violation on a cycle): the last state equals ``states[loop]``.
    """

    def __init__(
        self,
        engine: Engine,
        raw_states: Sequence[tuple],
        descriptors: Sequence[tuple],
        *,
        loop: int | None = None,
    ) -> None:
        if len(raw_states) != len(descriptors) + 1:
            raise ValueError("a path needs one more state than actions")
        self._engine = engine
        self._raw = tuple(raw_states)
        self._descr = tuple(descriptors)
        self.loop = loop
        self._snapshots: list[Snapshot | None] = [None] * len(self._raw)
        self._steps: list[Step] | None = None

    # -- basic access
    @property
    def system(self) -> System:
        return self._engine.system

    @property
    def config(self) -> Config:
        return self._engine.config

    @property
    def engine(self) -> Engine:
        return self._engine

    def __len__(self) -> int:
        return len(self._descr)

    def __iter__(self):
        """``(action, state after it)`` for each step."""
        return ((step.action, step.state) for step in self.steps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and self.actions == other.actions and self.loop == other.loop

    def __hash__(self) -> int:
        return hash((tuple(self.actions), self.loop))

    def snapshot(self, i: int) -> Snapshot:
        """The decoded state after step ``i`` (0 = the initial state)."""
        snap = self._snapshots[i]
        if snap is None:
            e = self._engine
            s = self._raw[i]
            snap = Snapshot(
                locals={name: e.local(p, s[p]) for p, name in enumerate(e.names)},
                in_flight=e.in_flight(s),
                processed={name: e.processed(p, s[p]) for p, name in enumerate(e.names)},
                crashes_left={name: e.crashes_left(p, s[p]) for p, name in enumerate(e.names)},
                duplicates_left=s[e.n + 1],
                quiescent=e.is_quiescent(s),
            )
            self._snapshots[i] = snap
        return snap

    @property
    def initial(self) -> Snapshot:
        return self.snapshot(0)

    @property
    def final(self) -> Snapshot:
        return self.snapshot(len(self._raw) - 1)

    @property
    def states(self) -> list[Snapshot]:
        return [self.snapshot(i) for i in range(len(self._raw))]

    def view(self, i: int = -1) -> View:
        """A property :class:`View` of the state after step ``i`` (default: the last)."""
        return View(self._engine, self._raw[i])

    def raw_state(self, i: int) -> tuple:
        return self._raw[i]

    @property
    def actions(self) -> list[Action]:
        e = self._engine
        return [Action(*e.describe_move(d)) for d in self._descr]

    def _publishes(self, i: int) -> tuple[tuple[Msg, ...], tuple[Msg, ...]]:
        """(published, lost) by step ``i`` (1-based)."""
        return self._engine.published(self._raw[i - 1], self._descr[i - 1])

    @property
    def steps(self) -> list[Step]:
        if self._steps is None:
            out = []
            for i, a in enumerate(self.actions, start=1):
                pub, lost = self._publishes(i)
                out.append(Step(a, pub, lost, self.snapshot(i)))
            self._steps = out
        return self._steps

    # -- rendering
    def format(self, *, title: str | None = None) -> str:
        """Numbered steps showing only what changed (the ``str()`` of a path)."""
        e = self._engine
        lines = []
        if title:
            lines.append(title)
        init = self.initial
        lines.append("initial state:")
        for name, local in init.locals.items():
            for where, text in render_state(name, local):
                lines.append(f"  {where} = {text}")
        prev = init
        width = len(str(len(self)))
        for i, step in enumerate(self.steps, start=1):
            text = f"{i:>{width}}. {step.action}"
            lines.append(text)
            pad = " " * (width + 2)
            if step.published:
                lines.append(pad + "publishes " + ", ".join(
                    f"{_short(m)} -> {', '.join(self.system.subscribers(m.type)) or 'nobody'}"
                    for m in step.published
                ))
            if step.lost:
                lines.append(pad + "LOST (never published) " + ", ".join(_short(m) for m in step.lost))
            for where, before, after in state_changes(prev, step.state):
                lines.append(f"{pad}{where}: {render_change(before, after)}")
            prev = step.state
        if self.loop is not None:
            lines.append(f"{' ' * width}  ... and back to the state after step {self.loop}: this cycle repeats forever")
        final = self.final
        if final.in_flight:
            lines.append("in flight at the end: " + ", ".join(
                f"{_short(m)} -> {dest}" for dest, m in final.in_flight
            ))
        elif final.quiescent:
            lines.append("at the end: nothing in flight, nothing enabled (quiescent)")
        del e
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"<Path of {len(self)} steps of {self.system.name!r}>"

    def mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram``: lifelines, messages as arrows, faults as notes."""
        names = list(self._engine.names)
        lines = ["sequenceDiagram"]
        extra = sorted({m.src for s in self.steps for m in ([s.action.msg] if s.action.msg else [])} - set(names))
        for name in names + extra:
            lines.append(f"    participant {_mm(name)}")
        for i, step in enumerate(self.steps, start=1):
            a = step.action
            who = _mm(a.participant)
            if a.kind == "internal":
                lines.append(f"    Note over {who}: {i}. {_mm(a.label)}")
            elif a.kind == "crash":
                lines.append(f"    Note over {who}: {i}. CRASH, restart (volatile state lost)")
            else:
                m = a.msg
                src = _mm(m.src)
                text = f"{i}. {m.type}[{m.saga}]"
                if a.kind == "drop":
                    lines.append(f"    {src}-->>{who}: {_mm(text)} (ignored, already processed)")
                    continue
                lines.append(f"    {src}->>{who}: {_mm(text + ' -> ' + a.label)}")
                unheard = [m for m in step.published if not self.system.subscribers(m.type)]
                if unheard:
                    lines.append(
                        f"    Note over {who}: publishes {_mm(', '.join(_short(m) for m in unheard))}, nobody subscribes"
                    )
                if a.kind == "duplicate":
                    lines.append(f"    Note over {src},{who}: duplicate, a copy stays in flight")
                elif a.kind == "crash-in-handler":
                    lines.append(f"    Note over {who}: CRASH before ack, message will be redelivered")
                elif a.kind == "crash-before-publish":
                    lines.append(f"    Note over {who}: CRASH before publishing, publishes LOST")
        if self.loop is not None:
            lines.append(f"    Note over {_mm(names[0])}: loops back to the state after step {self.loop}")
        return "\n".join(lines) + "\n"

    def sequence(self, *, changes: bool = False) -> str:
        """A plain-text sequence diagram (lifelines as columns, one line per step).

        ``changes``: under each step, one line per changed record (only what changed).
        """
        names = list(self._engine.names)
        extra = sorted({s.action.msg.src for s in self.steps if s.action.msg} - set(names))
        cols = names + extra
        w = max(12, *(len(c) + 2 for c in cols))
        center = {c: i * w + w // 2 for i, c in enumerate(cols)}
        total = len(cols) * w
        num_w = len(str(len(self))) + 2

        def blank() -> list[str]:
            row = [" "] * total
            for c in cols:
                row[center[c]] = "|"
            return row

        head = "".join(c.center(w) for c in cols)
        out = [" " * num_w + head.rstrip()]
        for i, step in enumerate(self.steps, start=1):
            a = step.action
            row = blank()
            note = ""
            if a.msg is None:
                row[center[a.participant]] = "*"
                note = f"{a.participant}: " + (a.label if a.kind == "internal" else "CRASH, restart")
            else:
                x0, x1 = center[a.msg.src], center[a.participant]
                lo, hi = sorted((x0, x1))
                if lo == hi:
                    row[lo] = "@"
                else:
                    for x in range(lo + 1, hi):
                        row[x] = "." if a.kind == "drop" else "-"
                    row[hi if x1 > x0 else lo] = ">" if x1 > x0 else "<"
                note = f"{_short(a.msg)} -> {a.participant}: " + {
                    "deliver": a.label,
                    "duplicate": f"{a.label} (duplicate stays)",
                    "drop": "ignored (already processed)",
                    "crash-in-handler": f"{a.label}, CRASH before ack",
                    "crash-before-publish": f"{a.label}, CRASH, publishes lost",
                }.get(a.kind, a.label)
            unheard = [m for m in step.published if not self.system.subscribers(m.type)]
            if unheard:
                note += " [publishes " + ", ".join(_short(m) for m in unheard) + " -> nobody]"
            out.append(f"{i:>{num_w - 2}}  " + "".join(row).rstrip() + "   " + note)
            if changes:
                changed = grouped_changes(state_changes(self.snapshot(i - 1), step.state))
                if changed:
                    out.append(" " * num_w + "".join(blank()).rstrip() + "     " + "; ".join(changed))
        if self.loop is not None:
            out.append(" " * num_w + f"(then back to the state after step {self.loop}, forever)")
        return "\n".join(out) + "\n"

    # -- serialisation
    def encode(self) -> str:
        """A compact replayable string: ``ssp1:`` then one token per step, ``;``-separated."""
        body = ";".join(a.token() for a in self.actions)
        loop = "" if self.loop is None else f"@{self.loop}"
        return f"{ENCODING_PREFIX}{body}{loop}"

    @classmethod
    def decode(cls, system: System | Engine, config: Config | None, text: str) -> Path:
        """Re-execute an :meth:`encode` string on ``system``; :class:`InputError` if it does not replay."""
        if not isinstance(text, str) or not text.startswith(ENCODING_PREFIX):
            raise InputError(f"encoded path must start with {ENCODING_PREFIX!r}")
        body = text[len(ENCODING_PREFIX):]
        loop = None
        if "@" in body:
            body, _, tail = body.rpartition("@")
            try:
                loop = int(tail)
            except ValueError:
                raise InputError(f"encoded path: bad loop marker @{tail!r}") from None
        tokens = [t for t in body.split(";") if t]
        for t in tokens:
            letter = t.split(",", 1)[0]
            if letter not in _LETTER_KIND:
                raise InputError(f"encoded path: unknown step kind {unquote(letter)!r} in {t!r}")
        return _replay_tokens(system, config, tokens, loop=loop)

    def to_dict(self) -> dict[str, Any]:
        """The JSON trace format (``sagaspec.trace/1``) used by the conformance suite.

        Per step: ``kind``, ``participant``, ``event``/``saga``/``src`` of the delivered
        message (``null`` for internal actions and idle crashes), ``outcome`` (the
        handler's label), ``published`` (each with its subscribers in ``to``), ``lost``,
        ``changes`` (what changed, as ``[where, before, after]``), and ``token`` (the
        step's compact form, used to replay).
        """
        steps = []
        prev = self.initial
        for i, step in enumerate(self.steps, start=1):
            a = step.action
            subs = self.system.subscribers
            steps.append({
                "step": i,
                "kind": a.kind,
                "participant": a.participant,
                "event": a.msg.type if a.msg else None,
                "saga": a.msg.saga if a.msg else None,
                "src": a.msg.src if a.msg else None,
                "data": ({str(k): jsonable(v) for k, v in a.msg.data} if a.msg and a.msg.data else None),
                "outcome": a.label,
                "published": [_msg_json(m, subs(m.type)) for m in step.published],
                "lost": [_msg_json(m, subs(m.type)) for m in step.lost],
                "changes": [[w, jsonable(b), jsonable(x)] for w, b, x in state_changes(prev, step.state)],
                "in_flight": len(step.state.in_flight),
                "token": a.token(),
            })
            prev = step.state
        return {
            "format": TRACE_FORMAT,
            "system": self.system.name,
            "config": self.config.to_dict(),
            "participants": list(self._engine.names),
            "initial": {k: jsonable(v) for k, v in self.initial.locals.items()},
            "steps": steps,
            "loop": self.loop,
            "final": {k: jsonable(v) for k, v in self.final.locals.items()},
            "encoded": self.encode(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, system: System | Engine, config: Config | None, data: str | dict) -> Path:
        """Re-execute a :meth:`to_json` trace on ``system`` (``config`` None: the trace's own)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InputError(f"trace is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
            raise InputError(f"trace: expected an object with format {TRACE_FORMAT!r}")
        if config is None and not isinstance(system, Engine):
            config = Config.from_dict(data.get("config") or {})
        tokens = []
        for i, step in enumerate(data.get("steps") or [], start=1):
            if not isinstance(step, dict):
                raise InputError(f"trace step {i}: expected an object")
            tok = step.get("token")
            if not isinstance(tok, str):
                tok = _token_from_fields(step, i)
            tokens.append(tok)
        return _replay_tokens(system, config, tokens, loop=data.get("loop"))


def _unique(msgs) -> tuple[Msg, ...]:
    seen: dict[Msg, None] = {}
    for m in msgs:
        seen.setdefault(m, None)
    return tuple(seen)


def _mm(text: str) -> str:
    # Mermaid treats ';' as a statement end and '#' as an entity start.
    return str(text).replace(";", ",").replace("#", "no.").replace("\n", " ")


def _token_from_fields(step: dict, i: int) -> str:
    kind = step.get("kind")
    if kind not in _KIND_LETTER:
        raise InputError(f"trace step {i}: unknown kind {kind!r}; expected one of {', '.join(_KIND_LETTER)}")
    if step.get("data"):
        raise InputError(f"trace step {i}: a message with data needs the step's 'token' to replay")
    a = Action(
        kind,
        str(step.get("participant")),
        None if step.get("event") is None else Msg(str(step["event"]), int(step["saga"]), str(step.get("src"))),
        str(step.get("outcome", "")),
    )
    return a.token()


# --------------------------------------------------------------------------- replay
def _engine_for(system: System | Engine, config: Config | None) -> Engine:
    if isinstance(system, Engine):
        if config is not None and config != system.config:
            raise ModelError("replay: the engine's config differs from the one given")
        return system
    return Engine(system, config or Config())


def _enabled(engine: Engine, state: tuple) -> list[tuple[Action, tuple, tuple]]:
    succs, _q, descr = engine.expand(state, actions=True, canonical=False)
    return [(Action(*engine.describe_move(d)), d, t) for d, t in zip(descr, succs, strict=True)]


def _replay_tokens(system, config, tokens: Sequence[str], *, loop: int | None = None) -> Path:
    engine = _engine_for(system, config)
    state = engine.initial(canonical=False)
    states = [state]
    descr = []
    for i, tok in enumerate(tokens, start=1):
        options = _enabled(engine, state)
        for option in options:
            if option[0].token() == tok:
                _a, d, nxt = option
                break
        else:
            enabled = ", ".join(a.token() for a, _d, _t in options[:8]) or "nothing"
            raise InputError(
                f"step {i}: action {unquote(tok)!r} is not enabled in {engine.system.name!r} "
                f"(enabled: {enabled})"
            )
        state = nxt
        states.append(state)
        descr.append(d)
    if loop is not None and (not isinstance(loop, int) or not 0 <= loop < len(states) or states[loop] != states[-1]):
        raise InputError(f"path: loop marker {loop!r} does not close a cycle")
    return Path(engine, states, descr, loop=loop)


def replay(system: System | Engine, config: Config | None, actions: Sequence[Action | str]) -> Path:
    """Execute ``actions`` (Actions or tokens) from the initial state.

    Raises :class:`~sagaspec.errors.InputError` naming the first step that is not enabled.
    """
    return _replay_tokens(system, config, [a if isinstance(a, str) else a.token() for a in actions])


# --------------------------------------------------------------------------- shrinking
def violation_check(prop: Property) -> Callable[[View], bool]:
    """A "this state violates ``prop``" test for :func:`shrink` and trace replay.

    ``at_rest``: quiescent and false. ``eventually``/``leads_to``: quiescent with the goal
    false (for every saga, or some saga if per saga): what the last state of a stuck
    counterexample shows (whether the goal held earlier on is a property of the run).
    """
    pred = prop.then if prop.kind == "leads-to" else prop.pred

    def evaluate(view: View) -> bool:
        try:
            if prop.per_saga:
                return all(pred(view, i) for i in range(view._e.system.sagas))
            return bool(pred(view))
        except Exception as exc:
            raise PropertyError(f"property {prop.name!r} raised {type(exc).__name__}: {exc}") from exc

    if prop.kind == "always":
        return lambda v: not evaluate(v)
    if prop.kind in ("at-rest", "eventually", "leads-to"):
        return lambda v: v.quiescent and not evaluate(v)
    return evaluate  # sometimes: a "witness" state


def _first_hit(engine: Engine, tokens: Sequence[str], bad: Callable[[View], bool]) -> Path | None:
    """Replay ``tokens`` leniently; the prefix ending at the first ``bad`` state, or None."""
    state = engine.initial(canonical=False)
    states, descr = [state], []
    if bad(View(engine, state)):
        return Path(engine, states, descr)
    for tok in tokens:
        for option in _enabled(engine, state):
            if option[0].token() == tok:
                _a, d, nxt = option
                break
        else:
            return None
        state = nxt
        states.append(state)
        descr.append(d)
        if bad(View(engine, state)):
            return Path(engine, states, descr)
    return None


def shrink(
    system: System | Engine,
    config: Config | None,
    path: Path,
    violated: Property | Callable[[View], bool],
) -> Path:
    """Drop every step the violation does not need.

    ``violated`` is the violated :class:`Property` (a state violates an ``always``
    property where its predicate is false, an ``at_rest`` one where it is quiescent
    and false) or any ``View -> bool`` test. Chunks of steps, then single steps, are
    removed while the remaining actions still replay and still reach a violating state;
    the result ends at its first violating state. A lasso (cycle) is returned unchanged.
    """
    if path.loop is not None:
        return path
    engine = _engine_for(system, config)
    bad = violation_check(violated) if isinstance(violated, Property) else violated
    tokens = [a.token() for a in path.actions]
    best = _first_hit(engine, tokens, bad)
    if best is None:
        raise ModelError("shrink: the path does not reach a violating state")
    tokens = [a.token() for a in best.actions]
    chunk = max(1, len(tokens) // 2)
    while chunk >= 1:
        i = len(tokens) - chunk
        progressed = False
        while i >= 0:
            candidate = tokens[:i] + tokens[i + chunk:]
            hit = _first_hit(engine, candidate, bad)
            if hit is not None and len(hit) < len(tokens):
                best = hit
                tokens = [a.token() for a in hit.actions]
                progressed = True
                i = min(i, len(tokens)) - chunk
            else:
                i -= 1 if chunk == 1 else chunk
        if not progressed:
            chunk //= 2
    return best
