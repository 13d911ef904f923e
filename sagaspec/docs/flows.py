"""Flows and service state machines, derived from the model (never drawn by hand).

For the docs, one saga is explored exhaustively on a bus that delivers each message
exactly once in any order (``Config(bus="unordered")``), once with enough stock and once
with none, so every business branch is reachable (payment approved or declined,
reservation made or refused). Then:

* every distinct *quiescent* end state is one **flow**, shown by the shortest path that
  reaches it: the happy path, each compensation path, each stuck saga (in a design with
  holes). A flow whose path needs a message to overtake an earlier one for the same
  participant (published earlier) is marked *reordered* and says which.
* every participant's local transitions over the explored graph, projected on the
  participant's *status* (the first text field of its local state; counters and join
  memory are kept in the tooltip and the transition table), form its **state machine**.

Duplicates and crashes are left out on purpose: they are what the idempotency store and
the durable state make invisible, and the model checker (not the docs) proves that.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sagaspec.docs.diagrams import SequenceDiagram, State, StateMachine, Transition
from sagaspec.docs.sagadoc import DocSaga, doc_saga
from sagaspec.docs.svg import slug
from sagaspec.docs.traces import path_diagram, step_publishes, tone_of
from sagaspec.spec.designs import Design
from sagaspec.spec.sagafile import SagaSpec

__all__ = [
    "Flow",
    "LocalTransition",
    "ModelView",
    "explore_one_saga",
    "status_of",
]


def status_of(local: Hashable) -> str:
    """The participant's status in ``local``: its first text field, else its repr.

    >>> status_of(((("open", 1, 0, 0, 0),)))
    'open'
    >>> status_of((1, (("reserved", 1, 1, 0),)))
    'reserved'
    >>> status_of(3)
    '3'
    """
    stack = [local]
    while stack:
        cur = stack.pop(0)
        if isinstance(cur, str):
            return cur
        if isinstance(cur, tuple | list):
            stack = list(cur) + stack
    return repr(local)


@dataclass(frozen=True)
class Flow:
    """One way a single saga can end, with the shortest model path that gets there."""

    key: str
    title: str
    kind: str  # "happy", "compensation" or "stuck"
    outcome: str | None
    failures: tuple[str, ...]
    compensations: tuple[str, ...]
    overtakes: tuple[str, ...]
    stock: int | None  # None: the saga has no stock param
    path: Any = field(compare=False, repr=False)
    diagram: SequenceDiagram = field(compare=False, repr=False)
    noun: str = "saga"  # what one saga is about ("order")

    @property
    def reordered(self) -> bool:
        return bool(self.overtakes)

    @property
    def published(self) -> tuple[str, ...]:
        return _all_published(self.path)

    @property
    def summary(self) -> str:
        parts = []
        if self.kind == "happy":
            parts.append(f"Every step succeeds and the {self.noun} completes.")
        elif self.kind == "compensation":
            parts.append(
                f"{' and '.join(self.failures) or 'A failure'} leads to {self.outcome or 'no outcome'}"
                + (f", compensated by {', '.join(self.compensations)}." if self.compensations
                   else "; nothing needs compensating.")
            )
        else:
            parts.append(
                "The saga gets stuck: the bus is quiet but no outcome was published"
                + (f" after {' and '.join(self.failures)}." if self.failures else ".")
            )
        if self.overtakes:
            parts.append("Needs reordering: " + "; ".join(self.overtakes) + ".")
        if self.stock is not None:
            parts.append(f"Stock at the start: {self.stock}.")
        return " ".join(parts)


@dataclass(frozen=True)
class LocalTransition:
    """A participant's local step seen during exploration (projected on statuses)."""

    participant: str
    src: str
    dst: str
    trigger: str  # the delivered event type, or "(internal)"
    label: str
    publishes: tuple[str, ...]


@dataclass
class ModelView:
    """What the docs take from the model for one design."""

    design: Design
    flows: list[Flow]
    transitions: dict[str, list[LocalTransition]]
    initial: dict[str, str]
    finals: dict[str, set[str]]
    locals_by_status: dict[str, dict[str, list[Hashable]]]
    states_explored: int

    def machine(self, participant: str) -> StateMachine:
        """The participant's state machine (statuses and labelled transitions)."""
        trans = self.transitions.get(participant, [])
        order: dict[str, None] = {self.initial[participant]: None}
        for t in trans:
            order.setdefault(t.src, None)
            order.setdefault(t.dst, None)
        states = []
        for k, status in enumerate(order):
            detail = "; ".join(repr(x) for x in self.locals_by_status[participant].get(status, []))
            states.append(
                State(
                    f"{participant}-{k}",
                    status,
                    initial=status == self.initial[participant],
                    final=status in self.finals[participant],
                    tone="outcome" if status in self.finals[participant] else "info",
                    detail=f"local states: {detail}" if detail else "",
                )
            )
        ids = {s.label: s.id for s in states}
        edges = []
        seen = set()
        # Self-loops with the same outcome ("ignore (order cancelled)") share one label.
        loops: dict[tuple[str, str], list[str]] = {}
        for t in trans:
            if t.src == t.dst and not t.publishes and t.trigger != "(internal)":
                loops.setdefault((t.src, t.label), []).append(t.trigger)
        for (status, label), triggers in loops.items():
            tx = Transition(ids[status], ids[status], f"{label}: {', '.join(dict.fromkeys(triggers))}", "external")
            seen.add((status, status, tx.label))
            edges.append(tx)
        for t in trans:
            if t.src == t.dst and not t.publishes and t.trigger != "(internal)":
                continue
            text = _edge_text(t)
            if (t.src, t.dst, text) in seen:
                continue
            seen.add((t.src, t.dst, text))
            tones = [tone_of(e, self.design) for e in t.publishes]
            tone = next(
                (x for x in ("failure", "compensation", "outcome") if x in tones),
                "external" if not t.publishes else "forward",
            )
            edges.append(Transition(ids[t.src], ids[t.dst], text, tone))
        return StateMachine(
            f"{participant}: state machine (one saga)", tuple(states), tuple(edges),
            id=f"machine-{participant}",
        )


def _all_published(path) -> tuple[str, ...]:
    return tuple(
        m.type for i in range(1, len(path) + 1) for m in step_publishes(path, i)[0]
    )


def _edge_text(t: LocalTransition) -> str:
    """``trigger / publishes``; the handler's outcome only where nothing else explains
    the edge (a self-loop such as ``wait (join)`` or ``ignore (...)``, an internal step).
    The transition table under the diagram has every outcome."""
    if t.trigger == "(internal)":
        head = t.label
    elif t.src == t.dst and not t.publishes:
        head = f"{t.trigger}: {t.label}"
    else:
        head = t.trigger
    return head + (f" / {', '.join(t.publishes)}" if t.publishes else "")


def _overtakes(path) -> list[str]:
    """Messages delivered to a participant while one published earlier for it waits.

    Per-channel FIFO does not prevent this: the two messages usually come from
    different publishers (``InventoryReservationFailed`` from inventory can reach payment
    before ``OrderCreated`` from order).
    """
    published_at: dict[Any, int] = {}
    delivered: dict[tuple[str, Any], int] = {}
    pending: list[tuple[int, str, Any]] = []  # (publish step, dest, msg)
    subscribers = path.system.subscribers
    for i, step in enumerate(path.steps, start=1):
        a = step.action
        if a.msg is not None and a.kind in ("deliver", "crash-in-handler", "crash-before-publish"):
            delivered.setdefault((a.participant, a.msg), i)
        for m in step_publishes(path, i)[0]:
            published_at.setdefault(m, i)
            for dest in subscribers(m.type):
                pending.append((i, dest, m))
    found = []
    for dest_step in sorted(delivered.items(), key=lambda kv: kv[1]):
        (dest, msg), when = dest_step
        sent = published_at.get(msg)
        if sent is None:
            continue
        for other_sent, other_dest, other in pending:
            if (
                other_dest == dest and other_sent < sent
                and delivered.get((dest, other), 10**9) > when
            ):
                found.append(f"{msg.type} overtakes {other.type} at {dest}")
    return list(dict.fromkeys(found))


def _flow_title(kind, outcome, failures, compensations, overtakes, noun="saga") -> str:
    if kind == "happy":
        title = f"Happy path: {noun} completed"
    elif kind == "compensation":
        title = " + ".join(failures) if failures else "Cancelled"
        title += f" → {outcome}" if outcome else ""
        if compensations:
            title += " → " + ", ".join(compensations)
    else:
        title = (" + ".join(failures) + ": " if failures else "") + "saga stuck, no outcome"
    if overtakes:
        title += f" ({overtakes[0]})"
    return title


def explore_one_saga(design: Design | SagaSpec | DocSaga | str, *, units: int = 1) -> ModelView:
    """Explore one saga of ``design`` and collect flows/machines.

    ``design`` is a shipped name, a spec file or spec, or a shipped Design. A saga with
    ``stock`` and ``units`` params is explored twice, with stock ``units`` and ``0``.
    Raises :class:`~sagaspec.errors.DesignError` when the model cannot interpret the design.
    """
    from sagaspec.model.engine import Engine
    from sagaspec.model.path import Action, replay
    from sagaspec.model.saga import saga_system
    from sagaspec.model.system import Config

    saga = doc_saga(design)
    d = saga.design
    config = Config(bus="unordered")
    flows: dict[tuple, Flow] = {}
    trans: dict[str, dict[tuple, LocalTransition]] = {}
    initial: dict[str, str] = {}
    finals: dict[str, set[str]] = {}
    locals_by_status: dict[str, dict[str, list]] = {}
    explored = 0

    def note_local(name: str, local: Hashable) -> str:
        status = status_of(local)
        bucket = locals_by_status.setdefault(name, {}).setdefault(status, [])
        if local not in bucket:
            bucket.append(local)
        return status

    for stock in (units, 0) if saga.has_stock else (None,):
        params = {"stock": stock, "units": units} if stock is not None else {}
        system = saga_system(saga.model_ref, orders=1, **params)
        engine = Engine(system, config)
        names = engine.names
        init = engine.initial()
        for p, name in enumerate(names):
            initial.setdefault(name, note_local(name, engine.local(p, init[p])))
            finals.setdefault(name, set())
            trans.setdefault(name, {})
        parent: dict[tuple, tuple | None] = {init: None}
        queue = deque([init])
        ends = []
        while queue:
            s = queue.popleft()
            succ, quiescent, descr = engine.expand(s, actions=True)
            if quiescent:
                ends.append(s)
            for t, dsc in zip(succ, descr, strict=True):
                kind, who, msg, label = engine.describe_move(dsc)
                if kind in ("internal", "deliver"):
                    p = engine.pindex[who]
                    a = note_local(who, engine.local(p, s[p]))
                    b = note_local(who, engine.local(p, t[p]))
                    pubs = _published(engine.parts[p], engine.local(p, s[p]), msg, label)
                    key = (a, b, msg.type if msg else "(internal)", label, pubs)
                    trans[who].setdefault(
                        key, LocalTransition(who, a, b, key[2], label, pubs)
                    )
                if t not in parent:
                    parent[t] = (s, dsc)
                    queue.append(t)
        explored += len(parent)
        for end in ends:
            for p, name in enumerate(names):
                finals[name].add(note_local(name, engine.local(p, end[p])))
            chain = []
            cur = end
            while parent[cur] is not None:
                cur, dsc = parent[cur]
                chain.append(Action(*engine.describe_move(dsc)))
            chain.reverse()
            signature = tuple(a.token() for a in chain)
            if signature in flows:
                continue
            path = replay(system, config, chain)
            published = _all_published(path)
            outcome = next((e for e in published if e in d.outcomes), None)
            failures = tuple(dict.fromkeys(e for e in published if e in d.failures))
            compensations = tuple(
                dict.fromkeys(e for e in published if e in d.compensates and e not in d.outcomes)
            )
            if outcome is None:
                kind = "stuck"
            elif failures or outcome in d.compensates:  # an outcome that undoes the trigger
                kind = "compensation"
            else:
                kind = "happy"
            overtakes = tuple(_overtakes(path))
            title = _flow_title(kind, outcome, failures, compensations, overtakes, saga.noun)
            flows[signature] = Flow(
                key="", title=title, kind=kind, outcome=outcome, failures=failures,
                compensations=compensations, overtakes=overtakes, stock=stock, path=path,
                diagram=None,  # filled below, once keys are unique
                noun=saga.noun,
            )
    rank = {"happy": 0, "compensation": 1, "stuck": 2}
    ordered = sorted(
        flows.values(),
        key=lambda f: (rank[f.kind], bool(f.overtakes), len(f.path), f.title),
    )
    out: list[Flow] = []
    used: set[str] = set()
    for f in ordered:
        key = slug(f.title)
        n = 2
        while key in used:
            key = f"{slug(f.title)}-{n}"
            n += 1
        used.add(key)
        title = f.title if key == slug(f.title) else f"{f.title} ({key.rsplit('-', 1)[-1]})"
        diagram = path_diagram(f.path, title=title, design=d, key=f"flow-{key}")
        out.append(
            Flow(key, title, f.kind, f.outcome, f.failures, f.compensations, f.overtakes,
                 f.stock, f.path, diagram, f.noun)
        )
    return ModelView(
        design=d,
        flows=out,
        transitions={k: list(v.values()) for k, v in trans.items()},
        initial=initial,
        finals=finals,
        locals_by_status=locals_by_status,
        states_explored=explored,
    )


def _published(part, local: Hashable, msg, label: str) -> tuple[str, ...]:
    """Event types the handler publishes in this step (asked again: handlers are pure).

    The bus cannot tell us: a message nobody subscribes to never enters it.
    """
    outs = part.internal(local) if msg is None else part.on_event(local, msg)
    for out in outs:
        if out.label == label:
            return tuple(dict.fromkeys(m.type for m in out.publish))
    return ()
