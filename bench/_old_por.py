"""The stubborn-set selection as it was before it was made cheaper (frozen copy of
``_Units.select``/``group_ids``/``choose``, ``Reducer.stubborn`` and
``SagaReducer.stubborn``/``_closure``/``_grow`` of ``model/_por.py``, commit 02b03c8).

``bench/bench_check.py --por-select`` runs it beside the shipped selection (same inputs,
old vs new time per state), and ``tests/model/test_por_select.py`` checks both select
the same groups on the golden configurations. It is not part of the package.
"""

from __future__ import annotations

from sagaspec.model._por import Reducer, SagaReducer
from sagaspec.model._sorted_symmetry import _Memo
from sagaspec.model.engine import CRASH, DELIVER, DROP, INTERNAL, SHIFT


class OldSelection:
    """The old ``select(state, supports, active)`` over ``reducer``'s static tables
    (upstream closures, or transitions with their conflicts and enabling sets), with
    its own memos."""

    def __init__(self, reducer) -> None:
        self.r = reducer
        self.engine = e = reducer.engine
        self.saga = isinstance(reducer, SagaReducer)
        assert self.saga or isinstance(reducer, Reducer)
        self._pgroups = [_Memo(lambda pid, p=p: self._make_pgroups(p, pid)) for p in range(e.n)]
        self._dgroups = (_Memo(lambda key: self._make_dgroup(key, 0)), _Memo(lambda key: self._make_dgroup(key, 1)))
        self._choice: dict[tuple, int] = {}
        self._choice_supports = None
        self._gnum: dict[tuple, int] = {}
        self._gtab: list[tuple] = []
        self._cache: dict[tuple, list[int]] = {}
        self._grow_for: dict[int, list[int]] = {}

    def _gid(self, group: tuple) -> int:
        g = self._gnum.get(group)
        if g is None:
            g = self._gnum[group] = len(self._gtab)
            self._gtab.append(group)
        return g

    def _make_pgroups(self, p: int, pid: int) -> tuple:
        e, r = self.engine, self.r
        internal = tuple(self._gid((INTERNAL, p, r.unit_internal(p, pid, mv[1]), 1)) for mv in e.internal_moves(p, pid))
        crash = self._gid((CRASH, p, r.unit_crash(p), 1)) if e.crash_budget and e.crash_move(p, pid) >= 0 else -1
        res = self._pgroups[p][pid] = (internal, crash, (1 << p) if e.crashes_left(p, pid) else 0)
        return res

    def _make_dgroup(self, key: int, dups: int) -> int:
        e = self.engine
        pid, d = key >> SHIFT, key & ((1 << SHIFT) - 1)
        moves = e.hot_moves(pid, d) if dups else e.hot_moves_no_dup(pid, d)
        res = -1
        if moves:
            kind = DROP if e.delivery_moves(pid, d)[0][0] == DROP else DELIVER
            res = self._gid((kind, e.ddest[d], self.r.unit_delivery(d), len(moves)))
        self._dgroups[dups][key] = res
        return res

    def group_ids(self, state: tuple) -> tuple[list[int], int]:
        e = self.engine
        n = e.n
        out: list[int] = []
        crashes = []
        budget = 0
        pgroups = self._pgroups
        for p in range(n):
            internal, crash, b = pgroups[p][state[p]]
            if internal:
                out += internal
            if crash >= 0:
                crashes.append(crash)
            budget |= b
        bus = state[n]
        if bus:
            ddest = e.ddest
            dgroups = self._dgroups[1 if state[n + 1] else 0]
            if e.fifo:
                qhead = e.qhead
                for q in bus:
                    d = qhead[q]
                    x = dgroups[(state[ddest[d]] << SHIFT) | d]
                    if x >= 0:
                        out.append(x)
            else:
                prev = -1
                for d in bus:
                    if d != prev:
                        prev = d
                        x = dgroups[(state[ddest[d]] << SHIFT) | d]
                        if x >= 0:
                            out.append(x)
        if crashes:
            out += crashes
        return out, budget

    def select(self, state: tuple, supports: tuple[int, ...], active: int = -1) -> int:
        if supports != self._choice_supports:
            self._choice = {}
            self._choice_supports = supports
        ids, budget = self.group_ids(state)
        dups = 1 if state[self.engine.n + 1] else 0
        key = (tuple(ids), budget, dups, active)
        res = self._choice.get(key)
        if res is None:
            gtab = self._gtab
            res = self._choice[key] = self.choose([gtab[g] for g in ids], budget, dups, supports, active)
        return res

    def choose(self, groups: list, budget: int, dups: int, supports: tuple[int, ...], active: int = -1) -> int:
        for g, grp in enumerate(groups):
            if grp[0] == DROP:
                return 1 << g
        if self.saga:
            return self._saga_stubborn(groups, budget, dups, supports, active)
        return self._participant_stubborn(groups, budget, dups, supports, active)

    def _participant_stubborn(self, groups, budget, dups, supports, active) -> int:
        r = self.r
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
            c = r.closure[p]
            if c == r.everyone or c & tried == c:
                continue
            tried |= c
            if any(c & s and c & s != s for s in supports):
                continue
            sel, size, duplicating = _picked(groups, [c >> q & 1 for _k, q, _m, _n in groups])
            if size == total:
                continue
            if dups and duplicating:
                continue
            if best == -1 or size < best_size:
                best, best_size = sel, size
        return best

    def _closure(self, key: int, enabled: int, budget: int, grow: list[int]) -> int:
        r = self.r
        tp, enab, allp, xid = r.tp, r.enab, r.allp, r.xid
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
            grow = list(self.r.dep)
            for k, masks in self.r.vis.items():
                if active >> k & 1:
                    for v in masks:
                        for t in _bits(v):
                            grow[t] |= v
            self._grow_for[active] = grow
        return grow

    def _saga_stubborn(self, groups, budget, dups, supports, active) -> int:
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
            grow = self._grow(active)
            cands = []
            for t in _bits(keys):
                c = self._closure(1 << t, enabled, budget, grow)
                if enabled & ~c and c not in cands:
                    cands.append(c)
            self._cache[ck] = cands
        best = -1
        best_size = 0
        for c in cands:
            sel, size, duplicating = _picked(groups, [m & c for _k, _p, m, _n in groups])
            if dups and duplicating:
                continue
            if best == -1 or size < best_size:
                best, best_size = sel, size
        return best


def _picked(groups: list, inside: list) -> tuple[int, int, bool]:
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
