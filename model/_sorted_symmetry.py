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

__all__ = ["SortedCanon", "sorted_layout_ok", "layout_blocker"]


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


class SortedCanon:
    """The sorted canonical form of an :class:`~sagaspec.model.engine.Engine` (see the module doc)."""

    def __init__(self, engine) -> None:
        self.e = engine
        self.n = engine.system.sagas
        self._rename_pid: list[dict[tuple, int]] = [{} for _ in engine.parts]  # (pid, perm) -> pid
        self._rename_lid: list[dict[tuple, int]] = [{} for _ in engine.parts]  # (lid, perm) -> lid
        self._rename_d: dict[tuple, int] = {}  # (delivery, perm) -> delivery
        self._keys: dict[Hashable, int] = {}  # saga-free values -> small ints (orderable)
        self._lsig: list[dict[int, tuple[int, ...]]] = [{} for _ in engine.parts]  # lid -> per saga
        self._psig: list[dict[int, tuple[int, ...]]] = [{} for _ in engine.parts]  # pid -> per saga
        self._dsig: dict[int, tuple[int, int]] = {}  # delivery -> (saga or -1, saga-free key)
        # Memo per combination of participant states and per bus (both recur a lot).
        self._combos: dict[tuple, tuple] = {}
        self._buses: dict[tuple, tuple] = {}

    def tables_bytes(self) -> int:
        """An estimate of the memo tables' size (for the search's memory accounting)."""
        tables = [self._keys, self._dsig, self._combos, self._buses, self._rename_d,
                  *self._lsig, *self._psig, *self._rename_pid, *self._rename_lid]
        return sum(sys.getsizeof(t) + 100 * len(t) for t in tables)

    def _key(self, value: Hashable) -> int:
        k = self._keys.get(value)
        if k is None:
            k = self._keys[value] = len(self._keys)
        return k

    def _delivery(self, d: int) -> tuple[int, int]:
        r = self._dsig.get(d)
        if r is None:
            e = self.e
            m = e.msgs[e.dmid[d]]
            saga = m.saga if 0 <= m.saga < self.n else -1
            r = self._dsig[d] = (saga, self._key(("msg", e.ddest[d], m.type, m.src, m.data)))
        return r

    def _local(self, p: int, lid: int) -> tuple[int, ...]:
        r = self._lsig[p].get(lid)
        if r is None:
            e = self.e
            split = _split(e.parts[p], e.lobj[p][lid], self.n)
            if split is None:
                raise ModelError(
                    f"symmetry over {self.n} sagas: participant {e.names[p]!r} reached local state "
                    f"{e.lobj[p][lid]!r}, which is not per-saga slots plus shared values (the sorted "
                    "canonical form needs that layout); check with Config(symmetry=False)"
                )
            shared, slots = split
            # The shared part goes into every saga's signature: it is the same for all of
            # them in one state, and it makes the signature a function of the local state.
            r = self._lsig[p][lid] = tuple(self._key(("slot", p, shared, s)) for s in slots)
        return r

    def _pid(self, p: int, pid: int) -> tuple[int, ...]:
        r = self._psig[p].get(pid)
        if r is None:
            lid, mask, _crashes = self.e.pinfo[p][pid]
            done: list[list[int]] = [[] for _ in range(self.n)]
            d = 0
            while mask:
                if mask & 1:
                    saga, key = self._delivery(d)
                    if saga >= 0:
                        done[saga].append(key)
                mask >>= 1
                d += 1
            local = self._local(p, lid)
            r = self._psig[p][pid] = tuple(
                self._key((local[i], tuple(sorted(done[i])))) for i in range(self.n)
            )
        return r

    def _combo(self, pids: tuple) -> tuple[tuple[int, ...], ...]:
        """Per saga, its signature in every participant, for participant states ``pids``."""
        r = self._combos.get(pids)
        if r is None:
            r = self._combos[pids] = tuple(zip(*(self._pid(p, pid) for p, pid in enumerate(pids)), strict=True))
        return r

    def _flying(self, bus: tuple) -> tuple[tuple[int, ...], ...]:
        """Per saga, its in-flight messages (saga-free keys, sorted), for ``bus``."""
        r = self._buses.get(bus)
        if r is None:
            flying: list[list[int]] = [[] for _ in range(self.n)]
            for d in bus:
                saga, key = self._delivery(d)
                if saga >= 0:
                    flying[saga].append(key)
            r = self._buses[bus] = tuple(tuple(sorted(f)) for f in flying)
        return r

    def renaming(self, state: tuple) -> tuple[int, ...]:
        """The renaming (``perm[i]`` = new index of saga ``i``) that sorts the signatures."""
        n = self.e.n
        keyed = list(zip(self._combo(state[:n]), self._flying(state[n]), strict=True))
        order = sorted(range(self.n), key=keyed.__getitem__)
        perm = [0] * self.n
        for rank, i in enumerate(order):
            perm[i] = rank
        return tuple(perm)

    def canonical(self, state: tuple) -> tuple:
        """``state`` renamed into signature order (itself if it already is)."""
        n = self.e.n
        keyed = list(zip(self._combo(state[:n]), self._flying(state[n]), strict=True))
        if all(keyed[i] <= keyed[i + 1] for i in range(self.n - 1)):
            return state
        order = sorted(range(self.n), key=keyed.__getitem__)
        perm = [0] * self.n
        for rank, i in enumerate(order):
            perm[i] = rank
        perm = tuple(perm)
        pids = tuple(self.rename_pid(p, state[p], perm) for p in range(n))
        bus = tuple(sorted(self.rename_delivery(d, perm) for d in state[n]))
        return (*pids, bus, state[n + 1])

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
