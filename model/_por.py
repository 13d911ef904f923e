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
* no step is postponed forever around a cycle: the reduced search stops (the caller
  then runs a plain search) at an edge back to an earlier breadth-first level, so a
  finished reduced graph is acyclic, hence so is the full graph (below), where ignoring
  cannot happen (``_CYCLES``; the breadth-first cycle proviso, which expands a state
  fully when any reduced successor was seen before, is the alternative: it turned
  away nearly every reduced set on the order saga);
* a predicate found reading more than local states, or a participant outside what
  the search assumed it reads, stops the reduced search (the caller then runs a plain
  search).

Quiescent states (no step but a fault enabled) are all kept, which decides ``at_rest``
properties when the reduced graph has no cycle: a cycle of the full graph gives one in
the reduced graph (the key step stays enabled), so an acyclic reduced graph means an
acyclic full graph. When the reduced graph has a cycle the caller searches again
without reduction.

Saga-level units (:class:`SagaReducer`, used when every participant is compiled from a
spec and the bus is unordered): a transition is "deliver event type ``e`` of saga ``i``
to ``p``", "trigger ``r`` of ``p`` on saga ``i``" or "crash ``p``". A reaction reads and
writes its saga's slot and the shared variables its expressions name, and emits on its
own saga only, so transitions of different sagas commute unless they touch a shared
variable one of them writes; a crash (restart and the participant's budget) touches all
of the participant while it has budget left. The stubborn set is Valmari's closure: an
enabled transition brings in every transition it may conflict with, a disabled one a
necessary enabling set (the reactions that may emit its event on its saga; for a
trigger, the writers of what its guards read). Visibility is per property *instance*:
instance ``i`` of a per-saga property reads saga ``i``'s variables only, and a set with
one enabled transition that writes them contains every transition that does.
"""

from __future__ import annotations

import time

from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.engine import CRASH, DROP, DUPLICATE, FAULTS, Engine

__all__ = ["por_blocker", "Reducer", "SagaReducer", "reducer_for", "run_reduced", "check_declarations", "ABORT_SUPPORT"]

#: How the reduced search avoids ignoring a step forever around a cycle (tests switch
#: it to show what each way prevents): "layered" expands without a proviso and stops
#: (the caller then searches without reduction) at the first edge that does not lead
#: to the next breadth-first level, so a finished search has an acyclic reduced graph,
#: hence an acyclic full graph (a cycle of the full graph gives one in the reduced
#: graph: its key steps stay enabled), where no step can be postponed forever;
#: "proviso" expands a state fully when a successor of the reduced set was seen
#: before; "none" is unsound (tests only).
_CYCLES = "layered"

#: Why the reduced search stopped early (the caller then runs a plain search).
ABORT_DYNAMIC = "a property read more than the participants' local states"
ABORT_SUPPORT = "a property read a participant the reduced search had treated as invisible"
ABORT_CYCLE = "the reduced graph may have cycles (an edge back to an earlier breadth-first level)"


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

    #: Visibility from the supports the search learns (not from static read sets).
    static = False

    def choose(
        self, state: tuple, descr: list, supports: tuple[int, ...], succs: list | None = None, active: int = -1
    ) -> list[int] | None:
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


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _access(reaction, slot_vars, shared_vars) -> tuple[frozenset, frozenset, frozenset, frozenset, frozenset]:
    """``(slot reads, slot writes, shared reads, shared writes, emits)`` of a reaction."""
    reads: set[str] = set()
    writes: set[str] = set()
    emits: set[str] = set()
    if reaction is not None:
        for _ev, var in reaction.memory:
            reads.add(var)
            writes.add(var)
        for alt in reaction.alternatives:
            if alt.when is not None:
                reads.update(alt.when.refs)
            for var, expr in alt.updates:
                writes.add(var)
                reads.update(expr.refs)
            emits.update(alt.emit)
    return (
        frozenset(reads & slot_vars), frozenset(writes & slot_vars),
        frozenset(reads & shared_vars), frozenset(writes & shared_vars), frozenset(emits),
    )


def _saga_blocker(engine: Engine) -> str | None:
    """Why saga-level units cannot be used (``None``: they can)."""
    if engine.fifo:
        return "a FIFO channel orders the messages of different sagas"
    if engine.psym:
        return "participant symmetry"
    if engine.system.sagas < 1:
        return "no sagas declared"
    if not all(isinstance(part, SpecParticipantModel) for part in engine.parts):
        return "a participant is not compiled from a spec (no read/write sets)"
    for prop in engine.system.properties:
        if prop.kind in ("always", "sometimes") and getattr(prop.pred, "reads", None) is None:
            return f"property {prop.name!r} declares no read set"
    return None


def reducer_for(engine: Engine) -> Reducer | SagaReducer:
    """:class:`SagaReducer` when the model allows it, else the per-participant :class:`Reducer`."""
    return Reducer(engine) if _saga_blocker(engine) else SagaReducer(engine)


class SagaReducer:
    """Stubborn sets over (participant, saga, reaction) transitions (module docstring)."""

    static = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        parts = engine.parts
        n = engine.n
        sagas = self.sagas = engine.system.sagas
        self.publishes = [None] * n  # emits come from the compiled reactions, not declarations
        tp: list[int] = []  # participant of transition t
        ti: list[int] = []  # saga (-1: the crash of the participant)
        acc: list[tuple] = []
        self.tid: dict[tuple, int] = {}
        self.trig: list[list[int]] = []  # trig[p][i]: mask of p's triggers on saga i
        self.xid = []
        slot = [[0] * sagas for _ in range(n)]
        allp = [0] * n
        self.volatile: list[frozenset] = []
        for p, part in enumerate(parts):
            slot_vars = frozenset(part.index)
            shared_vars = frozenset(part.sindex)
            self.volatile.append(
                frozenset(part.slot_cls._fields[k] for k in part.volatile)
                | frozenset(part.shared_names[k] for k in part.svolatile)
            )
            kinds = [(("D", e), _access(part.by_event.get(e), slot_vars, shared_vars)) for e in sorted(part.subscribes)]
            kinds += [(("G", k), _access(r, slot_vars, shared_vars)) for k, r in enumerate(part.triggers)]
            trig = []
            for i in range(sagas):
                tmask = 0
                for key, a in kinds:
                    t = len(tp)
                    self.tid[(p, i, key)] = t
                    tp.append(p)
                    ti.append(i)
                    acc.append(a)
                    slot[p][i] |= 1 << t
                    if key[0] == "G":
                        tmask |= 1 << t
                trig.append(tmask)
                allp[p] |= slot[p][i]
            self.trig.append(trig)
        for p in range(n):
            t = len(tp)
            self.xid.append(t)
            tp.append(p)
            ti.append(-1)
            acc.append((frozenset(),) * 5)
            allp[p] |= 1 << t
        self.tp, self.ti, self.allp = tp, ti, allp
        count = len(tp)
        dep = [0] * count
        enab = [0] * count
        for t in range(count):
            p, i = tp[t], ti[t]
            if i < 0:
                dep[t] = allp[p]
                continue
            rs, ws, rsh, wsh, _em = acc[t]
            dep[t] = slot[p][i]
            for u in _bits(allp[p]):
                if ti[u] < 0:
                    continue
                _r, uws, ursh, uwsh, _e = acc[u]
                if wsh & (ursh | uwsh) or rsh & uwsh:
                    dep[t] |= 1 << u
                if t in (self.tid.get((p, i, ("G", k))) for k in range(len(parts[p].triggers))):
                    # A trigger is enabled by whatever writes what its guards read.
                    if (ti[u] == i and rs & uws) or rsh & uwsh:
                        enab[t] |= 1 << u
            if any(t == self.tid.get((p, i, ("G", k))) for k in range(len(parts[p].triggers))):
                if (rs | rsh) & self.volatile[p]:
                    enab[t] |= 1 << self.xid[p]
            else:
                event = next(key[1] for (q, j, key), x in self.tid.items() if x == t)
                # A delivery is enabled by the reactions that emit its event on its saga.
                for u in range(count):
                    if ti[u] == i and event in acc[u][4]:
                        enab[t] |= 1 << u
        self.dep, self.enab = dep, enab
        # Visible transitions of each property instance: the writers of what it reads.
        self.vis: dict[int, list[int]] = {}
        for k, prop in enumerate(engine.system.properties):
            if prop.kind not in ("always", "sometimes"):
                continue
            refs, over_all = prop.pred.reads
            masks = [0] * sagas
            for pname, var in refs:
                p = engine.pindex[pname]
                for t in _bits(allp[p]):
                    i = ti[t]
                    if i < 0:
                        if var in self.volatile[p]:
                            for j in range(sagas):
                                masks[j] |= 1 << t
                        continue
                    _rs, ws, _rsh, wsh, _em = acc[t]
                    if var in wsh:
                        for j in range(sagas):
                            masks[j] |= 1 << t
                    elif var in ws:
                        masks[i] |= 1 << t
            if over_all:
                whole = 0
                for m in masks:
                    whole |= m
                masks = [whole]
            self.vis[k] = [m for m in masks if m]
        self._cache: dict[tuple, list[int]] = {}
        self._grow_for: dict[int, list[int]] = {}
        self._dmask: dict[int, int] = {}
        self._imask: dict[tuple, int] = {}

    def _transition(self, state: tuple, dsc: tuple, succ: tuple | None) -> int:
        """The transitions (a mask) of one step, or 0 when it cannot be told (memoized)."""
        kind, p, d, _label = dsc
        if d >= 0:
            m = self._dmask.get(d)
            if m is None:
                e = self.engine
                msg = e.msgs[e.dmid[d]]
                t = self.tid.get((p, msg.saga, ("D", msg.type)))
                m = self._dmask[d] = 0 if t is None else 1 << t
            return m
        if kind == CRASH:
            return 1 << self.xid[p]
        if succ is None:
            return 0
        key = (p, state[p], succ[p])
        m = self._imask.get(key)
        if m is None:
            m = self._imask[key] = self._internal(p, state[p], succ[p])
        return m

    def _internal(self, p: int, pid: int, npid: int) -> int:
        e = self.engine
        part = e.parts[p]
        old = part._split(e.local(p, pid))[1]
        new = part._split(e.local(p, npid))[1]
        changed = [i for i in range(self.sagas) if old[i] != new[i]]
        if len(changed) != 1:
            return 0
        return self.trig[p][changed[0]]

    def _closure(self, key: int, enabled: int, budget: int, grow: list[int]) -> int:
        """The least set of transitions with ``key`` closed under the rules of the
        module docstring; ``grow[t]``: what an enabled ``t`` brings in (its conflicts
        and, when it is visible, the instances' visible transitions)."""
        tp, enab, allp, xid = self.tp, self.enab, self.allp, self.xid
        done = 0
        todo = key
        while todo:
            done |= todo
            add = 0
            while todo:
                low = todo & -todo
                todo ^= low
                t = low.bit_length() - 1
                p = tp[t]
                if enabled & low:
                    add |= grow[t]
                    if budget >> p & 1:
                        add |= allp[p]
                elif t == xid[p]:
                    if budget >> p & 1:
                        add |= allp[p]
                else:
                    add |= enab[t]
            todo = add & ~done
        return done

    def _grow(self, active: int) -> list[int]:
        grow = self._grow_for.get(active)
        if grow is None:
            grow = list(self.dep)
            for k, masks in self.vis.items():
                if active >> k & 1:
                    for v in masks:
                        for t in _bits(v):
                            grow[t] |= v
            self._grow_for[active] = grow
        return grow

    def choose(
        self, state: tuple, descr: list, supports: tuple[int, ...], succs: list | None = None, active: int = -1
    ) -> list[int] | None:
        """Indices (into ``descr``) of a stubborn set smaller than all, or ``None``."""
        for a, dsc in enumerate(descr):
            if dsc[0] == DROP:
                return [a]
        e = self.engine
        masks = []
        enabled = 0
        keys = 0
        for a, dsc in enumerate(descr):
            m = self._transition(state, dsc, succs[a] if succs is not None else None)
            if not m:
                return None
            masks.append(m)
            enabled |= m
            if dsc[0] not in FAULTS:
                keys |= m
        budget = 0
        for p in range(e.n):
            if e.crashes_left(p, state[p]):
                budget |= 1 << p
        ck = (enabled, keys, budget, active)
        cands = self._cache.get(ck)
        if cands is None:
            grow = self._grow(active)
            cands = []
            for t in _bits(keys):
                c = self._closure(1 << t, enabled, budget, grow)
                if enabled & ~c and c not in cands:
                    cands.append(c)
            self._cache[ck] = cands
        dups = state[e.n + 1]
        best: list[int] | None = None
        for c in cands:
            pick = [a for a, m in enumerate(masks) if m & c]
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
                    if reduced and not reducer.static and any(x not in supports for x in now):
                        search.por_abort = ABORT_SUPPORT
                        search.stopped = True
                        break
                    supports = now
                pick = None if quiet else choose(s, descr, supports, succs, active)
                if pick is not None:
                    cands = [(a, canonical(succs[a]) if canonical else succs[a]) for a in pick]
                    fps = [fp(t) for _a, t in cands]
                    if _CYCLES == "proviso" and any(f in seen for f in fps):
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
                        if _CYCLES == "layered" and reduced:
                            search.por_abort = ABORT_CYCLE
                            search.stopped = True
                if search.stopped:
                    break
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
    if _CYCLES == "layered" and reduced and not layered and not search.por_abort:
        search.por_abort = ABORT_CYCLE  # an edge back came before the first reduction
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
