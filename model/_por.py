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

from sagaspec.model._sorted_symmetry import _Memo
from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.engine import CRASH, DELIVER, DROP, INTERNAL, SHIFT, Engine

__all__ = [
    "por_blocker", "Reducer", "SagaReducer", "reducer_for", "run_reduced", "support_sets", "descr_groups",
    "check_declarations", "ABORT_SUPPORT", "ABORT_DYNAMIC", "ABORT_CYCLE",
]

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


class _Units:
    """What both reducers share: the state's moves in groups, and a memoized choice.

    A *group* is ``(kind, participant, unit mask, moves)``: each internal step (kind
    ``INTERNAL``), each in-flight delivery with any outcome (``DROP`` when it is dropped
    as already processed, else ``DELIVER``: all its outcomes, duplicates and crashes in
    the handler), each idle crash (``CRASH``), in :meth:`Engine.expand`'s order, which
    is how the search loops number them. The unit mask is what the reducer's stubborn
    sets are made of (participants, or (participant, saga) transitions; 0: unknown).
    :meth:`choose` depends only on the groups, the participants with crash budget left,
    whether duplicates are left, the supports and the live properties, so
    :meth:`select` (what the generated loops of :mod:`sagaspec.model._loops` call)
    memoizes it on those, with the groups interned to numbers (many states share them).
    """

    #: Visibility from the supports the search learns (not from static read sets).
    static = False

    def _init_units(self) -> None:
        e = self.engine
        self._pgroups = [_Memo(lambda pid, p=p: self._make_pgroups(p, pid)) for p in range(e.n)]
        self._dgroups = (_Memo(lambda key: self._make_dgroup(key, 0)), _Memo(lambda key: self._make_dgroup(key, 1)))
        self._choice: dict[tuple, int] = {}
        self._choice_supports: tuple[int, ...] | None = None
        self._gnum: dict[tuple, int] = {}
        self._gtab: list[tuple] = []

    def unit_internal(self, p: int, pid: int, npid: int) -> int:
        return 1 << p

    def unit_delivery(self, d: int) -> int:
        return 1 << self.engine.ddest[d]

    def unit_crash(self, p: int) -> int:
        return 1 << p

    def _gid(self, group: tuple) -> int:
        """A group's number (groups are interned, so a state's groups key as small ints)."""
        g = self._gnum.get(group)
        if g is None:
            g = self._gnum[group] = len(self._gtab)
            self._gtab.append(group)
        return g

    def _make_pgroups(self, p: int, pid: int) -> tuple:
        e = self.engine
        internal = tuple(self._gid((INTERNAL, p, self.unit_internal(p, pid, mv[1]), 1)) for mv in e.internal_moves(p, pid))
        crash = self._gid((CRASH, p, self.unit_crash(p), 1)) if e.crash_budget and e.crash_move(p, pid) >= 0 else -1
        r = self._pgroups[p][pid] = (internal, crash, (1 << p) if e.crashes_left(p, pid) else 0)
        return r

    def _make_dgroup(self, key: int, dups: int) -> int:
        e = self.engine
        pid, d = key >> SHIFT, key & ((1 << SHIFT) - 1)
        moves = e.hot_moves(pid, d) if dups else e.hot_moves_no_dup(pid, d)
        r = -1
        if moves:
            kind = DROP if e.delivery_moves(pid, d)[0][0] == DROP else DELIVER
            r = self._gid((kind, e.ddest[d], self.unit_delivery(d), len(moves)))
            if kind == DROP:
                r = -2 - r  # (a drop is chosen alone: select stops scanning at one)
        self._dgroups[dups][key] = r
        return r

    def group_ids(self, state: tuple) -> tuple[list[int], int]:
        """``(group numbers, budget)``: the groups of ``state`` (their numbers; the groups
        themselves are ``_gtab[number]``) and the participants (a mask) with crash budget
        left."""
        out, crashes, budget = self._local_ids(state)
        for x in self._delivery_ids(state):
            out.append(x if x >= 0 else -2 - x)
        return out + crashes, budget

    def _local_ids(self, state: tuple) -> tuple[list[int], list[int], int]:
        """``(internal groups, crash groups, budget)`` of ``state``'s participants."""
        out: list[int] = []
        crashes = []
        budget = 0
        pgroups = self._pgroups
        for p in range(self.engine.n):
            internal, crash, b = pgroups[p][state[p]]
            if internal:
                out += internal
            if crash >= 0:
                crashes.append(crash)
            budget |= b
        return out, crashes, budget

    def _delivery_ids(self, state: tuple, stop: bool = False) -> list[int]:
        """The delivery groups of ``state`` in order, a drop's as ``-2 - number``; with
        ``stop``, up to the first drop."""
        e = self.engine
        n = e.n
        out: list[int] = []
        bus = state[n]
        if bus:
            ddest = e.ddest
            dgroups = self._dgroups[1 if state[n + 1] else 0]
            if e.fifo:
                qhead = e.qhead
                for q in bus:
                    d = qhead[q]
                    x = dgroups[(state[ddest[d]] << SHIFT) | d]
                    if x != -1:
                        out.append(x)
                        if stop and x < 0:
                            break
            else:
                prev = -1
                for d in bus:
                    if d != prev:
                        prev = d
                        x = dgroups[(state[ddest[d]] << SHIFT) | d]
                        if x != -1:
                            out.append(x)
                            if stop and x < 0:
                                break
        return out

    def select(self, state: tuple, supports: tuple[int, ...], active: int = -1) -> int:
        """The stubborn set of ``state`` as a bitmask over its groups (-1: all).

        :meth:`choose`'s, memoized; a drop is looked for first, without the key: most
        states of a run with duplicates have one, and it is expanded alone whatever the
        other groups are (so the memo would hold a key per such state)."""
        if supports != self._choice_supports:
            self._choice = {}
            self._choice_supports = supports
        e = self.engine
        n = e.n
        deliveries: list[int] = []
        bus = state[n]
        if bus:
            if e.fifo:
                deliveries = self._delivery_ids(state, True)
                drop = bool(deliveries) and deliveries[-1] < -1
                if drop:
                    deliveries.pop()
            else:
                # (_delivery_ids inlined: this runs once per state of the search)
                drop = False
                ddest = e.ddest
                dgroups = self._dgroups[1 if state[n + 1] else 0]
                push = deliveries.append
                prev = -1
                for d in bus:
                    if d != prev:
                        prev = d
                        x = dgroups[(state[ddest[d]] << SHIFT) | d]
                        if x >= 0:
                            push(x)
                        elif x != -1:
                            drop = True
                            break
            if drop:
                k = len(deliveries)  # (the drop's place among the groups)
                pgroups = self._pgroups
                for p in range(n):
                    k += len(pgroups[p][state[p]][0])
                return 1 << k
        out, crashes, budget = self._local_ids(state)
        ids = out + deliveries + crashes
        key = (tuple(ids), budget, 1 if state[n + 1] else 0, active)
        r = self._choice.get(key)
        if r is None:
            gtab = self._gtab
            r = self._choice[key] = self.choose([gtab[g] for g in ids], budget, key[2], supports, active)
        return r

    def choose(self, groups: list, budget: int, dups: int, supports: tuple[int, ...], active: int = -1) -> int:
        """A stubborn set smaller than all, as a bitmask over ``groups``, or -1 (all):
        a drop alone if there is one (it commutes with everything), else
        :meth:`stubborn`'s."""
        for g, grp in enumerate(groups):
            if grp[0] == DROP:
                return 1 << g
        return self.stubborn(groups, budget, dups, supports, active)

    def stubborn(self, groups: list, budget: int, dups: int, supports: tuple[int, ...], active: int) -> int:
        raise NotImplementedError


class Reducer(_Units):
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
        self._init_units()

    def stubborn(self, groups: list, budget: int, dups: int, supports: tuple[int, ...], active: int) -> int:
        """A stubborn set smaller than all, as a bitmask over ``groups``, or -1 (all).

        ``supports`` holds, per undecided ``always``/``sometimes`` property, the
        participants whose local states it reads. A set qualifies for a property when
        it contains all of those participants or none (Valmari's visibility condition,
        per property): the property's value then either moves only with the set's
        steps or is untouched by them.
        """
        keys = 0
        total = 0
        for kind, p, _m, cnt in groups:
            total += cnt
            if kind != CRASH:
                keys |= 1 << p
        best = -1
        best_size = 0
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
            sel, size, duplicating = _picked(groups, [c >> q & 1 for _k, q, _m, _n in groups])
            if size == total:
                continue
            if dups and duplicating:
                continue  # (a delivery's duplicate could spend the budget first)
            if best == -1 or size < best_size:
                best, best_size = sel, size
        return best


def _picked(groups: list, inside: list) -> tuple[int, int, bool]:
    """``(bitmask, moves, whether a delivery is among them)`` of the groups ``inside``
    marks (a delivery may be duplicated while duplicates are left)."""
    sel = 0
    size = 0
    duplicating = False
    for g, grp in enumerate(groups):
        if inside[g]:
            sel |= 1 << g
            size += grp[3]
            duplicating = duplicating or grp[0] == DELIVER
    return sel, size, duplicating


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


class SagaReducer(_Units):
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
        self._tables_for: dict[int, tuple] = {}
        self._dmask: dict[int, int] = {}
        self._imask: dict[tuple, int] = {}
        self._init_units()

    def unit_delivery(self, d: int) -> int:
        m = self._dmask.get(d)
        if m is None:
            e = self.engine
            msg = e.msgs[e.dmid[d]]
            t = self.tid.get((e.ddest[d], msg.saga, ("D", msg.type)))
            m = self._dmask[d] = 0 if t is None else 1 << t
        return m

    def unit_internal(self, p: int, pid: int, npid: int) -> int:
        key = (p, pid, npid)
        m = self._imask.get(key)
        if m is None:
            m = self._imask[key] = self._internal(p, pid, npid)
        return m

    def unit_crash(self, p: int) -> int:
        return 1 << self.xid[p]

    def _internal(self, p: int, pid: int, npid: int) -> int:
        e = self.engine
        part = e.parts[p]
        old = part._split(e.local(p, pid))[1]
        new = part._split(e.local(p, npid))[1]
        changed = [i for i in range(self.sagas) if old[i] != new[i]]
        if len(changed) != 1:
            return 0
        return self.trig[p][changed[0]]

    def _closure(self, key: int, enabled: int, crashing: list, tables: tuple, full: int = 0) -> int:
        """The least set of transitions with ``key`` closed under the rules of the
        module docstring: an enabled transition brings in what it may conflict with
        (and, when it is visible, the instances' visible transitions), a disabled one
        its enabling set, and while a participant has crash budget one of its enabled
        transitions or its crash brings in all of it (``crashing``: for each
        participant with budget left, those transitions and all of its). 0 instead once the set holds
        every enabled transition, or a transition of ``full`` (whose closure does):
        such a set reduces nothing, and most closures end there (on the order saga
        most transitions touch the shared stock), so stopping early saves most rounds.

        Breadth-first over the transitions 8 at a time: ``tables`` (:meth:`_tables`)
        hold, per byte of the transition mask, what each pattern of enabled and of
        disabled transitions brings in, so a round costs a few lookups rather than a
        loop over single transitions (this is most of the selection's time)."""
        grows, enabs, nbytes = tables
        disabled = ~enabled
        done = 0
        todo = key
        while todo:
            done |= todo
            if done & enabled == enabled or done & full:
                return 0
            add = 0
            on = todo & enabled
            off = todo & disabled
            for b in range(nbytes):
                x = on >> (b << 3) & 255
                if x:
                    add |= grows[b][x]
                x = off >> (b << 3) & 255
                if x:
                    add |= enabs[b][x]
            for trigger, whole in crashing:
                if todo & trigger:
                    add |= whole
            todo = add & ~done
        return done

    def _tables(self, active: int) -> tuple:
        """``(grows, enabs, bytes)`` for :meth:`_closure`: ``grows[b][x]`` is the union of
        what the enabled transitions ``x << 8b`` bring in (their conflicts and, for the
        properties ``active`` marks, the visible transitions), ``enabs[b][x]`` that of
        the disabled ones' enabling sets."""
        tables = self._tables_for.get(active)
        if tables is None:
            grow = list(self.dep)
            for k, masks in self.vis.items():
                if active >> k & 1:
                    for v in masks:
                        for t in _bits(v):
                            grow[t] |= v
            count = len(grow)
            nbytes = (count + 7) >> 3
            grows, enabs = [], []
            for b in range(nbytes):
                g = [0] * 256
                en = [0] * 256
                for x in range(1, 256):
                    low = x & -x
                    t = (b << 3) + low.bit_length() - 1
                    g[x] = g[x ^ low] | (grow[t] if t < count else 0)
                    en[x] = en[x ^ low] | (self.enab[t] if t < count else 0)
                grows.append(g)
                enabs.append(en)
            tables = self._tables_for[active] = (grows, enabs, nbytes)
        return tables

    def stubborn(self, groups: list, budget: int, dups: int, supports: tuple[int, ...], active: int) -> int:
        """A stubborn set smaller than all, as a bitmask over ``groups``, or -1 (all)."""
        enabled = 0
        keys = 0
        for kind, _p, m, _cnt in groups:
            if not m:
                return -1
            enabled |= m
            if kind != CRASH:
                keys |= m
        ck = (enabled, keys, budget, active)
        cands = self._cache.get(ck)
        if cands is None:
            tables = self._tables(active)
            cands = []
            full = 0  # keys whose closure holds every enabled transition
            allp, xid = self.allp, self.xid
            crashing = [(allp[p] & enabled | 1 << xid[p], allp[p]) for p in _bits(budget)]
            for t in _bits(keys):
                c = self._closure(1 << t, enabled, crashing, tables, full)
                if not c:
                    full |= 1 << t
                elif c not in cands:
                    cands.append(c)
            self._cache[ck] = cands
        best = -1
        best_size = 0
        for c in cands:
            # (_picked, inlined: a group is in when its transitions meet the set)
            sel = size = 0
            duplicating = False
            bit = 1
            for kind, _p, m, cnt in groups:
                if m & c:
                    sel |= bit
                    size += cnt
                    if kind == DELIVER:
                        duplicating = True
                bit <<= 1
            if dups and duplicating:
                continue
            if best == -1 or size < best_size:
                best, best_size = sel, size
        return best


def support_sets(search) -> tuple[int, ...]:
    """The distinct supports (participants read) of the properties still undecided."""
    props = search.props
    active = search.active
    return tuple({props.support[k] for k in props.safety if active >> k & 1})


def descr_groups(reducer, state: tuple, descr: list, succs: list) -> tuple[list, int, list[range]]:
    """``(groups, budget, move indices per group)`` of ``state`` read off
    :meth:`Engine.expand`'s descriptors and raw successors (the reference loop's way;
    the generated loops use :meth:`_Units.group_ids`)."""
    e = reducer.engine
    groups: list = []
    spans: list[range] = []
    a = 0
    while a < len(descr):
        kind, p, d, _label = descr[a]
        b = a + 1
        if d >= 0:
            while b < len(descr) and descr[b][2] == d:
                b += 1
            groups.append((DROP if kind == DROP else DELIVER, p, reducer.unit_delivery(d), b - a))
        elif kind == INTERNAL:
            groups.append((INTERNAL, p, reducer.unit_internal(p, state[p], succs[a][p]), 1))
        else:
            groups.append((CRASH, p, reducer.unit_crash(p), 1))
        spans.append(range(a, b))
        a = b
    budget = sum(1 << p for p in range(e.n) if e.crashes_left(p, state[p]))
    return groups, budget, spans


def run_reduced(search, reducer: Reducer) -> None:
    """Breadth-first search over stubborn sets through :meth:`Engine.expand`: the
    reference the generated reduced loops (:mod:`sagaspec.model._loops`) are tested
    against, and the loop for participant symmetry and for ``_CYCLES`` other than
    "layered". Fills ``search`` like the plain loops.

    The action numbers stored per state index the *full* expansion, so traces replay
    as usual. Sets ``search.por_abort`` when the reduction had to stop (see the module
    docstring), ``search.layered`` as the plain loops do, and counts reduced expansions
    in ``search.por_reduced``.
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
    supports = support_sets(search)
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
                if props.growth != growth or search.active != active:
                    growth, active = props.growth, search.active
                    now = support_sets(search)
                    if reduced and not reducer.static and any(x not in supports for x in now):
                        search.por_abort = ABORT_SUPPORT
                        search.stopped = True
                        break
                    supports = now
                pick = None
                if not quiet:
                    groups, budget, spans = descr_groups(reducer, s, descr, succs)
                    sel = choose(groups, budget, 1 if s[e.n + 1] else 0, supports, active)
                    if sel != -1:
                        pick = [a for g, span in enumerate(spans) if sel >> g & 1 for a in span]
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
                # (After the expansion, as in the generated loops: a property evaluated
                # here that grows a support is noticed before the next choice.)
                if quiet and search.eventual:
                    search._quiescent(i, s)
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
                        search._report(i, edges, len(frontier) + len(nxt))
            if search.stopped:
                break
            depth = search._next_level(frontier, nxt, depth)
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
