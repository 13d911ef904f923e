"""Partial-order reduction (stubborn sets) for the breadth-first search.

A step belongs to one participant: it changes that participant's state, takes at most
one in-flight copy addressed to it and adds publishes. Steps of different participants
therefore commute on the unordered and FIFO buses, except two duplicate deliveries,
which share the global duplicate budget. What makes a participant's steps depend on
another's is that the other may *send* to it: a message published later is a new step
of the receiver that may conflict with the steps it has now (a join that depends on the
order of arrival). So the set expanded in a state is never "one participant's enabled
steps" alone but the steps of a participant ``p`` together with every participant that
may ever send to ``p``, directly or through others (its *upstream closure*, from the
event types each participant declares in ``Participant.publishes``; a participant that
declares nothing may publish anything). Nothing outside the closure can enable,
disable or change a step inside it, so the set is stubborn (Valmari's D1/D2, with a
non-fault step of ``p`` as the key step).

Besides, dropping a copy already in the receiver's idempotency store changes no local
state and commutes with every other step: it is expanded alone.

Conditions that keep the reduced search sound (checked per state):

* visibility: the properties still to decide (``always`` and ``sometimes``) read the
  local states of some participants (the search learns which); the expanded set either
  touches none of them or contains all of them (with their closure);
* duplicates: while duplicates are left, a set with a duplicating step is used only if
  it is every enabled step (a duplicate elsewhere could spend the budget first);
* the cycle proviso, in its breadth-first form: if any successor of the reduced set has
  been seen before, the state is expanded fully;
* a predicate found reading more than local states, or a participant outside what
  the search assumed it reads, stops the reduced search (the caller then runs a plain
  search).

Quiescent states (no step but a fault enabled) are all kept, which decides ``at_rest``
properties when the reduced graph has no cycle: a cycle of the full graph gives one in
the reduced graph (the key step stays enabled), so an acyclic reduced graph means an
acyclic full graph. When the reduced graph has a cycle the caller searches again
without reduction.
"""

from __future__ import annotations

import time

from sagaspec.model.engine import DROP, DUPLICATE, FAULTS, Engine

__all__ = ["por_blocker", "Reducer", "run_reduced", "check_declarations", "ABORT_SUPPORT"]

#: The cycle proviso (tests switch it off to show what it prevents).
_PROVISO = True

#: Why the reduced search stopped early (the caller then runs a plain search).
ABORT_DYNAMIC = "a property read more than the participants' local states"
ABORT_SUPPORT = "a property read a participant the reduced search had treated as invisible"


def por_blocker(engine: Engine, *, fair: bool, max_depth: int | None) -> str | None:
    """Why partial-order reduction cannot be used for this run (``None``: it can)."""
    if engine.setbus:
        return "the set bus keeps messages, so a publish can turn another step into a stutter"
    if fair:
        return "eventually/leads-to properties are checked over fair runs of the full graph"
    if max_depth is not None:
        return "a depth bound cuts the reduced and the full graph at different places"
    return None


class Reducer:
    """The static part: each participant's upstream closure, as a bitmask."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        parts = engine.parts
        n = engine.n
        publishes = []
        for part in parts:
            declared = getattr(part, "publishes", None)
            publishes.append(None if declared is None else frozenset(declared))
        self.publishes = publishes
        # senders[p]: participants that may publish an event type p subscribes to.
        senders = [0] * n
        for p, part in enumerate(parts):
            for q in range(n):
                if q != p and (publishes[q] is None or publishes[q] & part.subscribes):
                    senders[p] |= 1 << q
        closure = []
        for p in range(n):
            c = 1 << p
            todo = [p]
            while todo:
                x = todo.pop()
                rest = senders[x] & ~c
                c |= rest
                todo.extend(q for q in range(n) if rest >> q & 1)
            closure.append(c)
        self.closure = closure
        self.everyone = (1 << n) - 1

    def choose(self, state: tuple, descr: list, supports: tuple[int, ...]) -> list[int] | None:
        """Indices (into ``descr``) of a stubborn set smaller than all, or ``None``.

        ``descr`` is :meth:`Engine.expand`'s ``(kind, participant, delivery, label)`` per
        successor; ``supports`` holds, per undecided ``always``/``sometimes`` property,
        the participants whose local states it reads. A set qualifies for a property
        when it contains all of those participants or none (Valmari's visibility
        condition, per property): the property's value then either moves only with the
        set's steps or is untouched by them.
        """
        for a, dsc in enumerate(descr):
            if dsc[0] == DROP:
                return [a]
        total = len(descr)
        dups = state[self.engine.n + 1]
        keys = 0
        for kind, p, _d, _label in descr:
            if kind not in FAULTS:
                keys |= 1 << p
        best: list[int] | None = None
        tried = 0
        for p in range(self.engine.n):
            if not keys >> p & 1:
                continue
            c = self.closure[p]
            if c == self.everyone or c & tried == c:
                continue
            tried |= c
            if any(c & s and c & s != s for s in supports):
                continue  # touches some participants a property reads, not all of them
            pick = [a for a, dsc in enumerate(descr) if c >> dsc[1] & 1]
            if len(pick) == total:
                continue
            if dups and any(descr[a][0] == DUPLICATE for a in pick):
                continue
            if best is None or len(pick) < len(best):
                best = pick
        return best


def _supports(search) -> tuple[int, ...]:
    props = search.props
    active = search.active
    return tuple({props.support[k] for k in props.safety if active >> k & 1})


def run_reduced(search, reducer: Reducer) -> None:
    """Breadth-first search over stubborn sets; fills ``search`` like the plain loops.

    The action numbers stored per state index the *full* expansion
    (:meth:`Engine.expand`), so traces replay as usual. Sets ``search.por_abort`` when
    the reduction had to stop (see the module docstring), ``search.layered`` as the
    plain loops do, and counts reduced expansions in ``search.por_reduced``.
    """
    e = search.engine
    fp = e.fingerprint
    expand = e.expand
    canonical = e.canonical if e.symmetric else None
    choose = reducer.choose
    props = search.props
    count = props.count
    max_states = search.max_states
    parent, act = search.parent, search.act
    init = search._begin()
    seen: dict[int, int] = {fp(init): 0}
    search.seen = seen
    frontier = [init]
    last = search.start
    i = 0
    depth = 0
    edges = 0
    layered = True
    reduced = 0
    supports = _supports(search)
    growth = props.growth
    active = search.active
    try:
        while frontier:
            search.depth = depth
            nxt: list[tuple] = []
            nstart = len(parent)
            for s in frontier:
                succs, quiet, descr = expand(s, actions=True, canonical=False)
                if active:
                    key = props.key(s)
                    bits = props.classes.get(key)
                    if bits is None:
                        bits = props.classify(key, s, active)
                    if bits >> count & active:
                        search.por_abort = ABORT_DYNAMIC
                        search.stopped = True
                        break
                    if bits & active:
                        search._attention(i, s, bits)
                        if search.stopped:
                            break
                if quiet and search.eventual:
                    search._quiescent(i, s)
                    if search.stopped:
                        break
                if props.growth != growth or search.active != active:
                    growth, active = props.growth, search.active
                    now = _supports(search)
                    if reduced and any(x not in supports for x in now):
                        search.por_abort = ABORT_SUPPORT
                        search.stopped = True
                        break
                    supports = now
                pick = None if quiet else choose(s, descr, supports)
                if pick is not None:
                    cands = [(a, canonical(succs[a]) if canonical else succs[a]) for a in pick]
                    fps = [fp(t) for _a, t in cands]
                    if _PROVISO and any(f in seen for f in fps):
                        pick = None  # the cycle proviso: expand fully
                    else:
                        reduced += 1
                if pick is None:
                    cands = [(a, canonical(t) if canonical else t) for a, t in enumerate(succs)]
                    fps = [fp(t) for _a, t in cands]
                edges += len(cands)
                for (a, t), f in zip(cands, fps, strict=True):
                    j = seen.get(f)
                    if j is None:
                        seen[f] = len(parent)
                        parent.append(i)
                        act.append(a)
                        nxt.append(t)
                    elif j < nstart:
                        layered = False
                i += 1
                if max_states is not None and len(parent) >= max_states:
                    search.truncated = True
                    search.stopped = True
                    break
                if not i & 255:
                    now_t = time.perf_counter()
                    if now_t - last >= search.interval:
                        last = now_t
                        search.edges = edges
                        search.peak_frontier = max(search.peak_frontier, len(frontier) + len(nxt))
                        search.expanded = i
                        search._progress(len(parent) - i)
            if search.stopped:
                break
            search.peak_frontier = max(search.peak_frontier, len(frontier) + len(nxt))
            search._end_level(nxt)
            if nxt:
                depth += 1
            frontier = nxt
    except (KeyboardInterrupt, MemoryError) as exc:
        search.interrupted = True
        search.out_of_memory = isinstance(exc, MemoryError)
    search.edges = edges
    search.layered = layered
    search.por_reduced = reduced
    search._finish(i, depth)


def check_declarations(engine: Engine, publishes: list) -> str | None:
    """A handler outcome the search met that publishes an undeclared event type, or None."""
    for p, declared in enumerate(publishes):
        if declared is None:
            continue
        outs = [o for key, o in engine._handler.items() if engine.ddest[key & ((1 << 24) - 1)] == p]
        outs += list(engine._internal_out[p].values())
        for group in outs:
            for _label, _nlid, _pubs, msgs in group:
                for m in msgs:
                    if m.type not in declared:
                        return (
                            f"participant {engine.names[p]!r} published {m.type!r}, which its "
                            f"publishes ({', '.join(sorted(declared)) or 'none'}) does not declare"
                        )
    return None
