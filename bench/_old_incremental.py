"""The explorer's incremental BFS loop as it was before the frontier stopped queueing
fingerprint vectors and the visited dict stopped storing state numbers it does not need
(frozen copy of ``_Search._run_incremental``, commit 8139f8f/b5afbf3).

Only ``bench/bench_scale.py --compare`` uses it, to run the old and the new loop side by
side in one benchmark run; it is not part of the package.
"""

from __future__ import annotations

import sys
import time

from sagaspec.model.engine import LANE


def run_incremental_old(self) -> None:
    """The BFS for unordered buses: incremental fingerprints, successors built lazily.

    Each move stores the constant it adds to the additive fingerprint
    (:meth:`Engine.additive_fingerprint`), so a successor's fingerprint is one
    addition away and its tuple is only built when it is new (most edges lead to
    states already seen). With symmetry, a generated check on the successor's
    participant states tells whether it is already canonical (the common case: the
    same shortcut applies) or which renaming makes it so; the frontier keeps each
    state's :meth:`Engine.fingerprint_vector` (the fingerprints of all its
    renamings) and moves carry vectors too, so even a successor that must be
    renamed is tested for "seen?" with one addition and a shift, and built and
    renamed only when it is new. Enumerates successors in exactly the order of
    :meth:`Engine.expand`; ``tests/model/test_engine.py`` checks the graphs agree.
    """
    e = self.engine
    n = e.n
    keep = self.keep_graph
    max_depth = self.config.max_depth
    max_states = self.max_states
    parent, act = self.parent, self.act
    targets = self.targets
    offsets = self.offsets
    props = self.props
    keyf = props._key
    classes = props.classes
    classify = props.classify
    builders = e.builders
    imoves = e._imoves
    internal_moves = e.internal_moves
    iparts = e.internal_parts
    dmoves_dup = e._hot
    dmoves_nodup = e._hot0
    moves_dup = e.hot_moves
    moves_nodup = e.hot_moves_no_dup
    ddest = e.ddest
    pz = e.pz
    crash_tab = e._crash
    crash_move = e.crash_move
    crashes = bool(e.crash_budget)
    sym = e.symmetric
    vec = e.vectors
    q0 = -1  # moves of participants p <= q0 may need renaming (see Engine.settled)
    if sym:
        canon = e.canonical
        perm = e.permute_state
        settled = e.settled
        narrow = e._narrow
        single = e._single
        finish = e.finish
        nperms = len(e.perms)
        full = (1 << nperms) - 1
        narrow0 = narrow[0]
        pre0 = (full,)
    if vec:
        fvec = e._fvec
        tiebreak = e.tiebreak
        lanes = e.lanes
        crash_vector = e.crash_vector
        lshift = tuple(LANE * k for k in range(nperms))
    afp = e.additive_fingerprint
    mask = 0x0FFF_FFFF_FFFF_FFFF
    shift = 24
    rng = range(n)
    init = self._begin()
    f0 = afp(init)
    seen: dict[int, int] = {f0: 0}
    self.seen = seen
    seen_get = seen.get
    frontier = [init]
    # Per frontier state: its fingerprint, or with vectors its fingerprint vector
    # (the fingerprint is lane 0).
    ffps = [fvec(init) if vec else f0]
    self.vector_bytes = sys.getsizeof(ffps[0]) if vec else 0
    last = self.start
    i = 0
    depth = 0
    edges = 0
    layered = True
    try:
        while frontier:
            self.depth = depth
            nxt: list[tuple] = []
            nfps: list[int] = []
            push = nxt.append
            pushf = nfps.append
            nstart = len(parent)  # states numbered below are at this depth or less
            expand_level = max_depth is None or depth < max_depth
            active = self.active  # shrinks only in _attention and _quiescent
            for s, fx in zip(frontier, ffps):  # noqa: B905 - same length by construction
                bus = s[n]
                if active:
                    bits = classes.get(keyf(s))
                    if bits is None:
                        bits = classify(keyf(s), s, active)
                    if bits & active:
                        self._attention(i, s, bits)
                        active = self.active
                        if self.stopped:
                            break
                if not expand_level:
                    quiet = e.is_quiescent(s)
                    if not quiet:
                        self.truncated = True
                    elif self.eventual:
                        self._quiescent(i, s)
                        active = self.active
                    if keep:
                        offsets.append(len(targets))
                    i += 1
                    continue
                if keep:
                    offsets.append(len(targets))
                dups = s[n + 1]
                a = 0
                if sym:
                    if narrow0[(s[0] << nperms) | full] == 1:
                        q0, pre = 0, pre0  # the common case, without a call
                    else:
                        q0, pre = settled(s)
                    fs = fx & mask if vec else fx
                else:
                    fs = fx
                # -- internal actions
                for p in iparts:
                    pid = s[p]
                    moves = imoves[p].get(pid)
                    if moves is None:
                        moves = internal_moves(p, pid)
                    for mv in moves:
                        npid = mv[1]
                        if p <= q0:
                            m = narrow[p][(npid << nperms) | pre[p]]
                            k = single[m] if not m & (m - 1) else finish[p](s, m)
                        else:
                            k = 0
                        if not k:
                            f = (fs + mv[6]) & mask
                        elif vec:
                            if k > 0:
                                f = ((fx + mv[7]) >> lshift[k]) & mask
                            else:
                                f, k = tiebreak[-k](fx + mv[7])
                        else:
                            pubs = mv[2]
                            t = builders[p](s, npid, tuple(sorted(bus + pubs)) if pubs else bus, dups)
                            f = afp(perm(t, k) if k > 0 else canon(t))
                        j = seen_get(f)
                        if j is None:
                            j = len(parent)
                            seen[f] = j
                            parent.append(i)
                            act.append(a)
                            pubs = mv[2]
                            t = builders[p](s, npid, tuple(sorted(bus + pubs)) if pubs else bus, dups)
                            if k:
                                t = perm(t, k) if k > 0 else canon(t)
                            push(t)
                            if vec:
                                pushf(fvec(t) if k else (fx + mv[7]) & lanes)
                            else:
                                pushf(f)
                        elif j < nstart:
                            layered = False
                        if keep:
                            targets.append(j)
                        a += 1
                # -- deliveries
                if bus:
                    if dups:
                        dmoves, delivery_moves = dmoves_dup, moves_dup
                    else:
                        dmoves, delivery_moves = dmoves_nodup, moves_nodup
                    prev = -1
                    for d in bus:
                        if d == prev:
                            continue
                        prev = d
                        p = ddest[d]
                        pid = s[p]
                        moves = dmoves.get((pid << shift) | d)
                        if moves is None:
                            moves = delivery_moves(pid, d)
                        if p > q0:
                            # The successors are canonical as they are (see settled).
                            for npid, pubs, keep_copy, spend, delta, dv in moves:
                                f = (fs + delta) & mask
                                j = seen_get(f)
                                if j is None:
                                    j = len(parent)
                                    seen[f] = j
                                    parent.append(i)
                                    act.append(a)
                                    if keep_copy:
                                        nb = tuple(sorted(bus + pubs)) if pubs else bus
                                    else:
                                        pos = bus.index(d)
                                        rest = bus[:pos] + bus[pos + 1 :]
                                        nb = tuple(sorted(rest + pubs)) if pubs else rest
                                    push(builders[p](s, npid, nb, dups - spend))
                                    pushf((fx + dv) & lanes if vec else f)
                                elif j < nstart:
                                    layered = False
                                if keep:
                                    targets.append(j)
                                a += 1
                            continue
                        for npid, pubs, keep_copy, spend, delta, dv in moves:
                            m = narrow[p][(npid << nperms) | pre[p]]
                            if m == 1:  # the identity alone: canonical as it is
                                k = 0
                            else:
                                k = single[m] if not m & (m - 1) else finish[p](s, m)
                            if not k:
                                f = (fs + delta) & mask
                            elif vec:
                                if k > 0:
                                    f = ((fx + dv) >> lshift[k]) & mask
                                else:
                                    f, k = tiebreak[-k](fx + dv)
                            else:
                                if keep_copy:
                                    nb = tuple(sorted(bus + pubs)) if pubs else bus
                                else:
                                    pos = bus.index(d)
                                    rest = bus[:pos] + bus[pos + 1 :]
                                    nb = tuple(sorted(rest + pubs)) if pubs else rest
                                t = builders[p](s, npid, nb, dups - spend)
                                f = afp(perm(t, k) if k > 0 else canon(t))
                            j = seen_get(f)
                            if j is None:
                                j = len(parent)
                                seen[f] = j
                                parent.append(i)
                                act.append(a)
                                if keep_copy:
                                    nb = tuple(sorted(bus + pubs)) if pubs else bus
                                else:
                                    pos = bus.index(d)
                                    rest = bus[:pos] + bus[pos + 1 :]
                                    nb = tuple(sorted(rest + pubs)) if pubs else rest
                                t = builders[p](s, npid, nb, dups - spend)
                                if k:
                                    t = perm(t, k) if k > 0 else canon(t)
                                push(t)
                                if vec:
                                    pushf(fvec(t) if k else (fx + dv) & lanes)
                                else:
                                    pushf(f)
                            elif j < nstart:
                                layered = False
                            if keep:
                                targets.append(j)
                            a += 1
                # Quiescent: no internal step, no delivery (nothing in flight, or every
                # in-flight message declined); idle crashes are faults and follow.
                quiet = not a
                # -- idle crashes
                if crashes:
                    for p in rng:
                        pid = s[p]
                        cp = crash_tab[p].get(pid)
                        if cp is None:
                            cp = crash_move(p, pid)
                        if cp < 0:
                            continue
                        if p <= q0:
                            m = narrow[p][(cp << nperms) | pre[p]]
                            k = single[m] if not m & (m - 1) else finish[p](s, m)
                        else:
                            k = 0
                        if not k:
                            f = (fs + pz[p][cp] - pz[p][pid]) & mask
                        elif vec:
                            if k > 0:
                                f = ((fx + crash_vector(p, pid, cp)) >> lshift[k]) & mask
                            else:
                                f, k = tiebreak[-k](fx + crash_vector(p, pid, cp))
                        else:
                            t = builders[p](s, cp, bus, dups)
                            f = afp(perm(t, k) if k > 0 else canon(t))
                        j = seen_get(f)
                        if j is None:
                            j = len(parent)
                            seen[f] = j
                            parent.append(i)
                            act.append(a)
                            t = builders[p](s, cp, bus, dups)
                            if k:
                                t = perm(t, k) if k > 0 else canon(t)
                            push(t)
                            if vec:
                                pushf(fvec(t) if k else (fx + crash_vector(p, pid, cp)) & lanes)
                            else:
                                pushf(f)
                        elif j < nstart:
                            layered = False
                        if keep:
                            targets.append(j)
                        a += 1
                edges += a
                if quiet and self.eventual:
                    self._quiescent(i, s)
                    active = self.active
                    if self.stopped:
                        break
                i += 1
                # Checked after every expansion, so at most one expansion's new states
                # pass the bound (and _finish drops those).
                if max_states is not None and len(parent) >= max_states:
                    self.truncated = True
                    self.stopped = True
                    break
                if not i & 1023:
                    now = time.perf_counter()
                    if now - last >= self.interval:
                        last = now
                        self.edges = edges
                        self.peak_frontier = max(self.peak_frontier, len(frontier) + len(nxt))
                        self.expanded = i
                        self._progress(len(parent) - i)
            if self.stopped:
                break
            self.peak_frontier = max(self.peak_frontier, len(frontier) + len(nxt))
            self._end_level(nxt)
            if vec and nfps:
                self.vector_bytes = max(self.vector_bytes, sys.getsizeof(nfps[len(nfps) // 2]))
            if nxt:
                depth += 1
            frontier = nxt
            ffps = nfps
            now = time.perf_counter()
            if now - last >= self.interval:
                last = now
                self.edges = edges
                self.depth = depth
                self.expanded = i
                self._progress(len(parent) - i)
    except (KeyboardInterrupt, MemoryError) as exc:
        # Out of memory stops the search like Ctrl-C: what it found so far stands.
        self.interrupted = True
        self.out_of_memory = isinstance(exc, MemoryError)
    self.edges = edges
    self.layered = layered
    self._finish(i, depth)

