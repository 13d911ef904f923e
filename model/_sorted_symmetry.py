"""Symmetry reduction by sorting the sagas: a canonical form in O(n log n) for n sagas.

The general canonical form (:meth:`Engine.canonical`) keeps, of all ``n!`` renamings of
the sagas, the one with the least participant states: 120 renamings per state for 5
sagas, 720 for 6. When every participant's local state is a tuple of per-saga slots, or
a record whose fields are either such tuples or shared values (the layout of the order
saga's participants), each saga has a *signature*: its slot in every participant, the
messages of it that every participant has processed (idempotency store), and its
messages in flight; everything else is shared. Two states are renamings of each other
iff their shared parts are equal and their multisets of signatures are, so renaming the
sagas into signature order is a canonical form: sort ``n`` signatures instead of trying
``n!`` renamings. Sagas with equal signatures are interchangeable (renaming one into
the other leaves the state as it is), so ties need no breaking.

The layout is read from the states themselves: a tuple of ``n`` slots (or a record
field holding one) is per-saga when :meth:`Participant.permute` moves its slots to
their new positions for every swap of two neighbouring sagas (those swaps generate all
renamings); a field that no swap changes is shared. A local state that is neither
stops the run with a clear error (check it with ``Config(symmetry=False)`` or the
general form). Only for unordered buses: on a FIFO bus the order of two sagas' messages
in one channel belongs to neither saga.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable

from sagaspec.model.participant import Msg

from sagaspec.errors import ModelError

__all__ = ["SortedCanon", "sorted_layout_ok", "layout_blocker", "run_sorted", "FP_MASK", "MOVE_BITS"]


def _rearranged(slots: tuple, perm: tuple[int, ...]) -> tuple:
    out = [None] * len(slots)
    for i, v in enumerate(slots):
        out[perm[i]] = v
    return tuple(out)


def _fields(x: Hashable) -> tuple[tuple[str, ...], tuple] | None:
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return tuple(x._fields), tuple(x)
    fields = getattr(type(x), "__dataclass_fields__", None)
    if fields is not None:
        names = tuple(fields)
        return names, tuple(getattr(x, f) for f in names)
    return None


def _split(part, x: Hashable, n: int) -> tuple[tuple, tuple] | None:
    """``(shared values, per-saga slots)`` of local state ``x``, or None if it has no such layout.

    ``slots[i]`` is saga ``i``'s part (a tuple of its values in every per-saga field).
    """
    swaps = []
    for i in range(n - 1):
        perm = list(range(n))
        perm[i], perm[i + 1] = i + 1, i
        swaps.append(tuple(perm))
    moved = [part.permute(x, perm) for perm in swaps]
    record = _fields(x)
    if record is None:
        if isinstance(x, tuple) and len(x) == n and all(m == _rearranged(x, p) for m, p in zip(moved, swaps, strict=True)):
            return (), tuple((v,) for v in x)
        if all(m == x for m in moved):
            return (x,), ((),) * n
        return None
    _names, values = record
    moved_values = []
    for m in moved:
        r = _fields(m)
        if r is None or len(r[1]) != len(values):
            return None
        moved_values.append(r[1])
    shared, per_saga = [], []
    for f, v in enumerate(values):
        if all(mv[f] == v for mv in moved_values):
            shared.append(v)
        elif isinstance(v, tuple) and len(v) == n and all(
            mv[f] == _rearranged(v, p) for mv, p in zip(moved_values, swaps, strict=True)
        ):
            per_saga.append(v)
        else:
            return None
    slots = tuple(tuple(v[i] for v in per_saga) for i in range(n))
    return tuple(shared), slots


#: Local states looked at before choosing the sorted form (a layout that breaks later
#: stops the run with an error naming the state).
PROBE_STATES = 200


def sorted_layout_ok(engine) -> bool:
    """Whether the sorted canonical form applies: an unordered bus, and the per-saga
    layout in every local state of the first :data:`PROBE_STATES` states reached."""
    if engine.fifo:
        return False
    n = engine.system.sagas
    checked = [set() for _ in engine.parts]
    queue, seen = [engine._init], {engine._init}
    while queue and len(seen) <= PROBE_STATES:
        s = queue.pop(0)
        for p, part in enumerate(engine.parts):
            lid = engine.pinfo[p][s[p]][0]
            if lid not in checked[p]:
                checked[p].add(lid)
                if _split(part, engine.lobj[p][lid], n) is None:
                    return False
        for t in engine.expand(s, canonical=False)[0]:
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return True


def layout_blocker(parts, n: int) -> str | None:
    """Why the participants' initial states are not per-saga slots (None: they are)."""
    for part in parts:
        if _split(part, part.init(), n) is None:
            return f"participant {part.name!r}'s state is not per-saga slots plus shared values"
    return None


_M64 = (1 << 64) - 1
FP_MASK = (1 << 60) - 1
#: A move's change to one saga's signature is interned to a number below 2**MOVE_BITS,
#: so (signature, change) packs into one int key.
MOVE_BITS = 24


def _mix(x: int) -> int:
    """SplitMix64's finaliser (as the engine's): a well-spread 60-bit weight."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return (x ^ (x >> 31)) & FP_MASK


class _Memo(dict):
    """A dict that computes a missing entry with ``make(key)`` (which stores it)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key):
        return self.make(key)


def _generate(name: str, src: str, env: dict | None = None):
    return eval(compile(src, f"<sagaspec:{name}>", "eval"), env or {})  # noqa: S307 - built from integers only


class SortedCanon:
    """The sorted canonical form of an :class:`~sagaspec.model.engine.Engine` (see the
    module doc), and the orbit fingerprint the search loop :func:`run_sorted` uses.

    A saga's *signature* is the tuple of its slot key in every participant (its per-saga
    values and the messages of it that participant processed, interned to ints) and the
    key of its in-flight messages (the sorted tuple of their saga-free keys, interned);
    signatures are interned too (``sig[sid]``). The canonical form renames the sagas
    into signature order. The *orbit fingerprint* is ``dups*W + sum_p G_p + sum(weights
    of in-flight copies of no saga) + sum_i weight(sig_i)`` modulo 2**60, ``G_p`` a
    weight of participant ``p``'s shared part (shared values, crash budget left, messages
    of no saga processed): renaming the sagas permutes the signatures and changes
    nothing else, so it is the same for every state of an orbit and, but for a 60-bit
    collision, differs between orbits. A move of participant ``p`` changes ``G_p``, the
    copies of no saga and the signatures of the sagas it touches (usually one), so its
    effect is a constant plus, per saga touched, a memoized step from old signature to
    new (:meth:`annotate`): the search tests "seen?" without building the successor.
    """

    def __init__(self, engine) -> None:
        self.e = e = engine
        self.n = n = engine.system.sagas
        self.P = P = engine.n
        self._rename_pid: list[dict[tuple, int]] = [{} for _ in engine.parts]  # (pid, perm) -> pid
        self._rename_lid: list[dict[tuple, int]] = [{} for _ in engine.parts]  # (lid, perm) -> lid
        self._rename_d: dict[tuple, int] = {}  # (delivery, perm) -> delivery
        self._keys: dict[Hashable, int] = {}  # saga-free values -> small ints (orderable)
        # pk[p][pid] = (G_p weight, slot key per saga); dk[d] = (saga or -1, key, weight).
        self.pk = [_Memo(lambda pid, p=p: self._make_pk(p, pid)) for p in range(P)]
        self.dk = _Memo(self._make_dk)
        # In-flight keys of one saga: a sorted tuple of message keys, interned.
        self._fly: dict[tuple, int] = {(): 0}
        self.fly: list[tuple] = [()]
        # Signatures, interned: sig[sid], weight[sid].
        self._sid: dict[tuple, int] = {}
        self.sig: list[tuple] = []
        self.weight: list[int] = []
        # A move's change to one saga's signature, interned: (p, new slot key, removed
        # message keys, added message keys) -> number. step[sid << MOVE_BITS | change] is
        # the new signature's number << 60 | its weight minus the old one's (mod 2**60):
        # one lookup gives both, and the fingerprint's mask drops the number.
        self._change: dict[tuple, int] = {}
        self.changes: list[tuple] = []
        self.step: dict[int, int] = {}  # filled by make_step (a plain dict: the loop indexes it)
        self.dup_weight = _mix(0xD0B1E5)
        # Per renaming met: a lazily filled table per participant and one for deliveries;
        # _rename(state, tables) is generated and unrolled over the participants.
        self._perm_tables: dict[tuple, tuple] = {}
        self._rename = _generate(
            "sorted_rename",
            "lambda s, T: ("
            + "".join(f"T[{p}][s[{p}]], " for p in range(P))
            + f"tuple(sorted(map(T[{P}].__getitem__, s[{P}]))), s[{P + 1}])",
        )
        self.in_order = _generate(
            "sorted_in_order", "lambda x: " + " <= ".join(f"S[x[{i}]]" for i in range(n)), {"S": self.sig}
        )
        # Moves with their fingerprint parts, memoized like the engine's moves.
        self.dmoves = _Memo(lambda key: self._dmoves(key, e.hot_moves, self.dmoves))
        self.dmoves0 = _Memo(lambda key: self._dmoves(key, e.hot_moves_no_dup, self.dmoves0))
        self.imoves = [_Memo(lambda pid, p=p: self._imoves(p, pid)) for p in range(P)]
        self.cmoves = [_Memo(lambda pid, p=p: self._cmove(p, pid)) for p in range(P)]

    def tables_bytes(self) -> int:
        """An estimate of the memo tables' size (for the search's memory accounting)."""
        tables = [self._keys, self.dk, self._fly, self.fly, self._sid, self.sig, self.weight, self._change,
                  self.step, self._rename_d, self.dmoves, self.dmoves0, *self._perm_tables.values(),
                  *self.pk, *self._rename_pid, *self._rename_lid, *self.imoves, *self.cmoves]
        return sum(sys.getsizeof(t) + 100 * len(t) for t in tables)

    def _key(self, value: Hashable) -> int:
        k = self._keys.get(value)
        if k is None:
            k = self._keys[value] = len(self._keys)
        return k

    # -- signatures
    def _make_dk(self, d: int) -> tuple[int, int, int]:
        e = self.e
        m = e.msgs[e.dmid[d]]
        saga = m.saga if 0 <= m.saga < self.n else -1
        k = self._key(("msg", e.ddest[d], m.type, m.src, m.data))
        r = self.dk[d] = (saga, k, _mix(k ^ 0x7D7D_0000_0000_0000))
        return r

    def _make_pk(self, p: int, pid: int) -> tuple[int, tuple[int, ...]]:
        e, n, key = self.e, self.n, self._key
        lid, mask, crashes = e.pinfo[p][pid]
        split = _split(e.parts[p], e.lobj[p][lid], n)
        if split is None:
            raise ModelError(
                f"symmetry over {n} sagas: participant {e.names[p]!r} reached local state "
                f"{e.lobj[p][lid]!r}, which is not per-saga slots plus shared values (the sorted "
                "canonical form needs that layout); check with Config(symmetry=False)"
            )
        shared, slots = split
        done: list[list[int]] = [[] for _ in range(n)]
        free: list[int] = []
        d = 0
        while mask:
            if mask & 1:
                saga, k, _w = self.dk[d]
                (done[saga] if saga >= 0 else free).append(k)
            mask >>= 1
            d += 1
        g = _mix(key(("shared", p, shared, crashes, tuple(sorted(free)))) ^ 0x6A6A_0000_0000_0000)
        keys = tuple(key(("slot", p, slots[i], tuple(sorted(done[i])))) for i in range(n))
        r = self.pk[p][pid] = (g, keys)
        return r

    def _fly_id(self, keys: tuple) -> int:
        f = self._fly.get(keys)
        if f is None:
            f = self._fly[keys] = len(self.fly)
            self.fly.append(keys)
        return f

    def _sig_id(self, sig: tuple) -> int:
        s = self._sid.get(sig)
        if s is None:
            s = self._sid[sig] = len(self.sig)
            self.sig.append(sig)
            self.weight.append(_mix((hash(sig) & _M64) ^ 0x51A5_0000_0000))
        return s

    def signatures(self, state: tuple) -> tuple[tuple[int, ...], int]:
        """``(signature number per saga, the fingerprint's saga-free part)`` of ``state``."""
        P, n, dk = self.P, self.n, self.dk
        rest = state[P + 1] * self.dup_weight
        fly: list[list[int]] = [[] for _ in range(n)]
        for d in state[P]:
            saga, k, w = dk[d]
            if saga >= 0:
                fly[saga].append(k)
            else:
                rest += w
        cols = []
        for p in range(P):
            g, keys = self.pk[p][state[p]]
            rest += g
            cols.append(keys)
        sids = tuple(
            self._sig_id((*col, self._fly_id(tuple(sorted(fly[i]))))) for i, col in enumerate(zip(*cols, strict=True))
        )
        return sids, rest

    def fingerprint(self, state: tuple) -> int:
        """The orbit fingerprint of ``state`` from scratch (the same for all its renamings)."""
        sids, rest = self.signatures(state)
        weight = self.weight
        return (rest + sum(weight[s] for s in sids)) & FP_MASK

    def renaming(self, sids) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(perm, sids in order)``: ``perm[i]`` is the new index of saga ``i``."""
        order = sorted(range(self.n), key=[self.sig[s] for s in sids].__getitem__)
        perm = [0] * self.n
        for rank, i in enumerate(order):
            perm[i] = rank
        return tuple(perm), tuple(sids[i] for i in order)

    def canonical(self, state: tuple) -> tuple:
        """``state`` renamed into signature order (itself if it already is)."""
        sids = self.signatures(state)[0]
        if self.in_order(sids):
            return state
        return self.rename(state, self.renaming(sids)[0])

    def rename(self, state: tuple, perm: tuple[int, ...]) -> tuple:
        """``state`` with saga ``i`` renamed ``perm[i]``."""
        tables = self._perm_tables.get(perm)
        if tables is None:
            tables = self._perm_tables[perm] = (
                *(_Memo(lambda pid, p=p, t=perm: self.rename_pid(p, pid, t)) for p in range(self.P)),
                _Memo(lambda d, t=perm: self.rename_delivery(d, t)),
            )
        return self._rename(state, tables)

    # -- moves
    def make_step(self, key: int) -> int:
        sid, c = key >> MOVE_BITS, key & ((1 << MOVE_BITS) - 1)
        p, slot, removed, added = self.changes[c]
        sig = self.sig[sid]
        fly = list(self.fly[sig[-1]])
        for k in removed:
            fly.remove(k)
        fly.extend(added)
        new = self._sig_id((*sig[:p], slot, *sig[p + 1 : -1], self._fly_id(tuple(sorted(fly)))))
        r = self.step[key] = (new << 60) | ((self.weight[new] - self.weight[sid]) & FP_MASK)
        return r

    def annotate(self, p: int, pid: int, npid: int, taken: int, pubs: tuple, spend: int) -> tuple:
        """``(constant, z, change, ((saga, change), ...))`` of a move: participant ``p``
        from ``pid`` to ``npid``, copy ``taken`` leaves the bus unless -1, ``pubs`` join
        it, ``spend`` duplicates spent. The successor's fingerprint is the state's plus
        the constant plus, per saga touched, ``step[sid << MOVE_BITS | change]``. The
        common case gets its own fields: ``z`` is the one saga touched (its change
        next), -1 if none, -2 if several (then the tuple lists them)."""
        g0, k0 = self.pk[p][pid]
        g1, k1 = self.pk[p][npid]
        const = g1 - g0 - (self.dup_weight if spend else 0)
        removed: dict[int, list[int]] = {}
        added: dict[int, list[int]] = {}
        for d, into in [(x, added) for x in pubs] + ([(taken, removed)] if taken >= 0 else []):
            saga, k, w = self.dk[d]
            if saga >= 0:
                into.setdefault(saga, []).append(k)
            else:
                const += w if into is added else -w
        touched = sorted({i for i in range(self.n) if k0[i] != k1[i]} | set(removed) | set(added))
        out = []
        for i in touched:
            change = (p, k1[i], tuple(removed.get(i, ())), tuple(added.get(i, ())))
            c = self._change.get(change)
            if c is None:
                c = self._change[change] = len(self.changes)
                if c >> MOVE_BITS:
                    raise ModelError(f"symmetry: more than {1 << MOVE_BITS} distinct per-saga changes")
                self.changes.append(change)
            out.append((i, c))
        if len(out) == 1:
            return const, out[0][0], out[0][1], ()
        return const, -1 if not out else -2, 0, tuple(out)

    def _dmoves(self, key: int, source, table) -> tuple:
        from sagaspec.model.engine import SHIFT

        pid, d = key >> SHIFT, key & ((1 << SHIFT) - 1)
        p = self.e.ddest[d]
        r = table[key] = tuple(
            (npid, pubs, keep, spend, *self.annotate(p, pid, npid, -1 if keep else d, pubs, spend))
            for npid, pubs, keep, spend, _delta, _vec in source(pid, d)
        )
        return r

    def _imoves(self, p: int, pid: int) -> tuple:
        r = self.imoves[p][pid] = tuple(
            (mv[1], mv[2], *self.annotate(p, pid, mv[1], -1, mv[2], 0)) for mv in self.e.internal_moves(p, pid)
        )
        return r

    def _cmove(self, p: int, pid: int):
        cp = self.e.crash_move(p, pid)
        r = self.cmoves[p][pid] = None if cp < 0 else (cp, *self.annotate(p, pid, cp, -1, (), 0))
        return r

    # -- renaming
    def rename_delivery(self, d: int, perm: tuple[int, ...]) -> int:
        """Delivery ``d`` with its message's saga renamed by ``perm`` (memoized)."""
        key = (d, perm)
        r = self._rename_d.get(key)
        if r is None:
            e = self.e
            m = e.msgs[e.dmid[d]]
            if 0 <= m.saga < self.n:
                m = Msg(m.type, perm[m.saga], m.src, m.data)
            r = self._rename_d[key] = e._intern_delivery(e.ddest[d], e._intern_msg(m))
        return r

    def rename_pid(self, p: int, pid: int, perm: tuple[int, ...]) -> int:
        """Participant ``p``'s state ``pid`` with the sagas renamed by ``perm`` (memoized):
        its local state through :meth:`Participant.permute`, its store message by message."""
        key = (pid, perm)
        r = self._rename_pid[p].get(key)
        if r is None:
            e = self.e
            lid, mask, crashes = e.pinfo[p][pid]
            lkey = (lid, perm)
            nlid = self._rename_lid[p].get(lkey)
            if nlid is None:
                raw = e._call(p, e.parts[p].permute, e.lobj[p][lid], perm)
                nlid = self._rename_lid[p][lkey] = e._intern_local(p, raw, "permute()")
            nmask = 0
            d = 0
            while mask:
                if mask & 1:
                    nmask |= 1 << self.rename_delivery(d, perm)
                mask >>= 1
                d += 1
            r = self._rename_pid[p][key] = e._intern_pid(p, nlid, nmask, crashes)
        return r


# --------------------------------------------------------------------------- the search loop
def run_sorted(search, reducer=None) -> None:
    """Breadth-first search with the sorted canonical form (any number of sagas); with
    ``reducer``, over its stubborn sets (:mod:`sagaspec.model._por`).

    "Seen?" is decided by the orbit fingerprint (see :class:`SortedCanon`), a constant
    and a memoized signature step or two away from the state's, so a successor is built
    and renamed into signature order only when it is new; the frontier keeps each
    state's signature numbers. Successors come in the order of :meth:`Engine.expand`,
    so the graph is the generic loop's (tested). The loop is generated from the
    template the other search loops share (:mod:`sagaspec.model._loops`).
    """
    sc = search.engine.sorted
    init = search._begin()
    sids, rest = sc.signatures(init)
    f0 = (rest + sum(sc.weight[x] for x in sids)) & FP_MASK
    seen = {f0: 0}
    search.seen = seen
    # Per queued state: its fingerprint and its signature numbers (memory accounting).
    search.vector_bytes = 32 + sys.getsizeof(sids) + 32 * len(sids)
    search._loop("sorted", reducer, [init], [f0], seen, [tuple(x << MOVE_BITS for x in sids)])
