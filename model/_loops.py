"""The breadth-first search loops, generated from one template.

The hot loops of :mod:`sagaspec.model.explore` are specialised per bus and symmetry
form (unordered bus with incremental fingerprints, FIFO bus with queue weights, sorted
symmetry with orbit fingerprints), and each comes plain or with partial-order
reduction. Their common parts are written once here: the level-by-level frontier, the
property checks, the depth and state bounds, progress, and the bookkeeping of one edge
(:data:`EDGE`: "seen?", number a new state, record its parent and action, note an edge
back to an earlier level). Each specialisation supplies only its setup and how it
enumerates moves and fingerprints a successor (``BODIES``); :func:`source` pastes them
together and :func:`compiled` compiles the result once per variant.

With reduction (``reduce=True``) the loop asks ``select(state, supports, active)`` for
a stubborn set (:mod:`sagaspec.model._por`), as a bitmask over the state's *groups* of
moves in enumeration order (each internal step, all outcomes of one delivery, each idle
crash; -1: every group), and skips the groups outside it while still counting their
moves, so action numbers index the full expansion and traces replay as usual. It stops
(the caller then searches without reduction) where the reduction's soundness
conditions ask for it: an edge back to an earlier level once a set was reduced, a
property reading more than local states, or one reading a participant it was assumed
not to. The generic loops over :meth:`Engine.expand` stay hand-written in
``explore.py`` and ``_por.py``: they are the references the generated loops are tested
against (same states, edges, depth, verdicts and shortest traces).
"""

from __future__ import annotations

__all__ = ["EDGE", "source", "compiled"]

#: One edge, once the successor's fingerprint ``f`` is known: ``{build}`` builds and
#: queues a new successor ``t`` (and whatever the loop queues with it), ``{back}`` runs
#: at an edge to an earlier level, ``{store}`` is what the visited dict keeps.
EDGE = """\
j = seen_get(f)
if j is None:
    j = len(parent)
    seen[f] = {store}
    parent.append(idx)
    act.append(a)
{build}
    pushf(f)
elif j < nstart:
    layered = False
{back}
if keep:
    targets.append(j)
a += 1
"""

#: The edge of a search that keeps no graph (no state numbers needed): "seen?" asks the
#: set of the next level's states first (where a layered search finds most successors
#: it has seen), then the set of every earlier state; an edge to one of those is an edge
#: back (``{back}``). Sets of fingerprints instead of a dict to state numbers: no
#: 32-byte number object per state, and on a hit one cache miss fewer in the table and
#: none in the value (bench/bench_check.py, old vs new).
LEAN_EDGE = """\
if f in level:
    pass
elif f in old:
    layered = False
{back}
else:
    level_add(f)
    parent.append(idx)
    act.append(a)
{build}
    pushf(f)
a += 1
"""

# A lean search standing in for one that keeps the graph (at_rest properties: the graph
# matters only if it has cycles) stops at its first edge back; explore() then searches
# again keeping the graph.
_BACK_LAZY = """\
    if lazy:
        search.graph_needed = True
        search.stopped = True"""

# With reduction: an edge back to an earlier level stops the reduced search once a set
# was reduced (the layered check of model/_por.py).
_BACK = """\
    if reduced:
        search.por_abort = ABORT_CYCLE
        search.stopped = True"""

# Skipping a group outside the stubborn set (its moves still count for the numbering).
_SKIP_ONE = """\
if not sel >> g & 1:
    g += 1
    a += 1
    edges -= 1
    continue
g += 1
"""
_SKIP_GROUP = """\
if moves:
    if not sel >> g & 1:
        g += 1
        a += len(moves)
        edges -= len(moves)
        continue
    g += 1
"""

_SKELETON = """\
def {name}(search, frontier, ffps, fsigs, seen, select, static):
    e = search.engine
    n = e.n
    keep = search.keep_graph
    max_depth = search.config.max_depth
    max_states = search.max_states
    parent, act, targets, offsets = search.parent, search.act, search.targets, search.offsets
    props = search.props
    keyf, classes, classify = props._key, props.classes, props.classify
    count = props.count
    builders = e.builders
    iparts = e.internal_parts
    ddest = e.ddest
    crashes = bool(e.crash_budget)
    rng = range(n)
{visited}
    interval = search.interval
    last = search.start
    mask, shift, move_bits, qlow, bisect = MASK, SHIFT, MOVE_BITS, QLOW, bisect_left
{setup}
    idx = 0
    depth = 0
    edges = 0
    layered = True
    reduced = 0
    sel = -1
    g = 0
    growth = props.growth
    chosen = search.active  # the live properties the supports are for
    supports = support_sets(search)
    try:
        while frontier:
            search.depth = depth
            nxt = []
            push = nxt.append
{level}
{lean_level}
            nstart = len(parent)  # states numbered below are at this depth or less
            expand_level = max_depth is None or depth < max_depth
            active = search.active  # shrinks only in _attention and _quiescent
            for {items}:
                bus = s[n]
                if active:
                    bits = classes.get(keyf(s))
                    if bits is None:
                        bits = classify(keyf(s), s, active)
{dynamic}
                    if bits & active:
                        search._attention(idx, s, bits)
                        active = search.active
                        if search.stopped:
                            break
                if not expand_level:
                    quiet = e.is_quiescent(s)
                    if not quiet:
                        search.truncated = True
                    elif search.eventual:
                        search._quiescent(idx, s)
                        active = search.active
                    if keep:
                        offsets.append(len(targets))
                    idx += 1
                    continue
                if keep:
                    offsets.append(len(targets))
                dups = s[n + 1]
                a = 0
{prelude}
{choose}
{body}
                edges += a
{after}
                if quiet and search.eventual:
                    search._quiescent(idx, s)
                    active = search.active
                    if search.stopped:
                        break
                idx += 1
                # Checked after every expansion, so at most one expansion's new states
                # pass the bound (and _finish drops those).
                if max_states is not None and len(parent) >= max_states:
                    search.truncated = True
                    search.stopped = True
                    break
                if not idx & 1023:
                    now = perf_counter()
                    if now - last >= interval:
                        last = now
                        search._report(idx, edges, len(frontier) + len(nxt))
            if search.stopped:
                break
            depth = search._next_level(frontier, nxt, depth)
            frontier = nxt
{advance}
            now = perf_counter()
            if now - last >= interval:
                last = now
                search._report(idx, edges)
    except (KeyboardInterrupt, MemoryError) as exc:
        # Out of memory stops the search like Ctrl-C: what it found so far stands.
        search.interrupted = True
        search.out_of_memory = isinstance(exc, MemoryError)
    search.edges = edges
    search.layered = layered
{lean_finish}
{finish}
    search._finish(idx, depth)
"""

# The reduction's per-state parts (empty in the plain loops).
_DYNAMIC = """\
if bits >> count & active:
    search.por_abort = ABORT_DYNAMIC
    search.stopped = True
    break"""
_CHOOSE = """\
if props.growth != growth or search.active != chosen:
    growth, chosen = props.growth, search.active
    now_supports = support_sets(search)
    if reduced and not static and any(x not in supports for x in now_supports):
        search.por_abort = ABORT_SUPPORT
        search.stopped = True
        break
    supports = now_supports
sel = select(s, supports, chosen)
if sel != -1:
    reduced += 1
g = 0"""
_AFTER = """\
if search.stopped:
    break"""
_FINISH = """\
if reduced and not layered and not search.por_abort:
    search.por_abort = ABORT_CYCLE  # an edge back came before the first reduction
search.por_reduced = reduced"""


# --------------------------------------------------------------------------- unordered bus
# Symmetry by the general canonical form (the unordered and the FIFO bus): which
# successors may need a renaming, and the fingerprint vectors that test them.
_SYM_SETUP = """\
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
    crash_vector = e.crash_vector
    lshift = tuple(LANE * k for k in range(nperms))
afp = e.additive_fingerprint"""

_INC_SETUP = """\
imoves = e._imoves
internal_moves = e.internal_moves
dmoves_dup, dmoves_nodup = e._hot, e._hot0
moves_dup, moves_nodup = e.hot_moves, e.hot_moves_no_dup
pz = e.pz
crash_tab = e._crash
crash_move = e.crash_move
""" + _SYM_SETUP

_INC_LEVEL = """\
nfps = array("Q")
pushf = nfps.append"""

_INC_PRELUDE = """\
fs = ffps[pos_s]
fx = None  # the fingerprint vector, computed when a move needs a renaming
if sym:
    if narrow0[(s[0] << nperms) | full] == 1:
        q0, pre = 0, pre0  # the common case, without a call
    else:
        q0, pre = settled(s)"""

# Renaming ``k`` of a successor (0: canonical as it is; > 0 a renaming; < 0 a tie to
# break), then its fingerprint ``f``: one addition, a vector lookup, or (no vectors)
# the renamed successor fingerprinted from scratch.
_INC_K = """\
if p <= q0:
    m = narrow[p][({new} << nperms) | pre[p]]
    k = single[m] if not m & (m - 1) else finish[p](s, m)
else:
    k = 0"""
_INC_FP = """\
if not k:
    f = (fs + {delta}) & mask
elif vec:
    if fx is None:
        fx = fvec(s)
    if k > 0:
        f = ((fx + {vector}) >> lshift[k]) & mask
    else:
        f, k = tiebreak[-k](fx + {vector})
else:
{make}
    f = afp(perm(t, k) if k > 0 else canon(t))"""
_INC_PUSH = """\
if k:
    t = perm(t, k) if k > 0 else canon(t)
push(t)"""

_NEW_BUS = """\
if keep_copy:
    nb = tuple(sorted(bus + pubs)) if pubs else bus
else:
    pos = bus.index(d)
    rest = bus[:pos] + bus[pos + 1 :]
    nb = tuple(sorted(rest + pubs)) if pubs else rest"""
_BUILD_DELIVERY = _NEW_BUS + "\nt = builders[p](s, npid, nb, dups - spend)"
_BUILD_CRASH = "t = builders[p](s, cp, bus, dups)"
# Each participant's internal moves (the loop over them follows).
_INTERNAL_MOVES = """\
# -- internal actions
for p in iparts:
    pid = s[p]
    moves = imoves[p].get(pid)
    if moves is None:
        moves = internal_moves(p, pid)"""

_INC_BODY = """\
{internal_moves}
    for mv in moves:
{skip_one}
        npid = mv[1]
{k_internal}
{fp_internal}
{edge_internal}
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
{skip_group}
        if p > q0:
            # The successors are canonical as they are (see settled).
            for npid, pubs, keep_copy, spend, delta, _dv in moves:
                f = (fs + delta) & mask
{edge_settled}
            continue
        for npid, pubs, keep_copy, spend, delta, dv in moves:
            m = narrow[p][(npid << nperms) | pre[p]]
            if m == 1:  # the identity alone: canonical as it is
                k = 0
            else:
                k = single[m] if not m & (m - 1) else finish[p](s, m)
{fp_delivery}
{edge_delivery}
{crashes}"""

# Quiescence, then the idle crashes (the bus is unchanged): the same on both buses.
_CRASHES = """\
# Quiescent: no internal step, no delivery (nothing in flight, or every in-flight
# message declined); idle crashes are faults and follow.
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
{skip_one}
{k_crash}
{fp_crash}
{edge_crash}"""


def _crashes(edge, skip_one: str) -> str:
    return _CRASHES.format(
        skip_one=_indent(skip_one, 8),
        k_crash=_indent(_INC_K.format(new="cp"), 8),
        fp_crash=_indent(
            _INC_FP.format(delta="pz[p][cp] - pz[p][pid]", vector="crash_vector(p, pid, cp)", make=_indent(_BUILD_CRASH, 4)), 8
        ),
        edge_crash=_indent(edge(_BUILD_CRASH + "\n" + _INC_PUSH), 8),
    )


def _incremental(edge, skip_one: str, skip_group: str) -> str:
    build_internal = "t = builders[p](s, npid, tuple(sorted(bus + mv[2])) if mv[2] else bus, dups)"
    return _INC_BODY.format(
        internal_moves=_INTERNAL_MOVES,
        skip_one=_indent(skip_one, 8),
        k_internal=_indent(_INC_K.format(new="npid"), 8),
        fp_internal=_indent(_INC_FP.format(delta="mv[6]", vector="mv[7]", make=_indent(build_internal, 4)), 8),
        edge_internal=_indent(edge(build_internal + "\n" + _INC_PUSH), 8),
        skip_group=_indent(skip_group, 8),
        edge_settled=_indent(edge(_BUILD_DELIVERY + "\npush(t)"), 16),
        fp_delivery=_indent(_INC_FP.format(delta="delta", vector="dv", make=_indent(_BUILD_DELIVERY, 4)), 12),
        edge_delivery=_indent(edge(_BUILD_DELIVERY + "\n" + _INC_PUSH), 12),
        crashes=_crashes(edge, skip_one),
    )


# --------------------------------------------------------------------------- FIFO bus
_FIFO_SETUP = """\
imoves = e._finternal
internal_moves = e.fifo_internal_moves
dmoves_dup, dmoves_nodup = e._fhot, e._fhot0
moves_dup, moves_nodup = e.fifo_moves, e.fifo_moves_no_dup
qhead, qpop, qpush, qz = e.qhead, e.qpop, e.qpush, e.qz
add = e.fifo_add
pz = e.pz
crash_tab = e._crash
crash_move = e.crash_move
""" + _SYM_SETUP + """
if vec:
    bus_vector = fifo_bus_vector(search)"""

_FIFO_LEVEL = """\
nfps = []
pushf = nfps.append"""

_FIFO_PRELUDE = """\
nbus = len(bus)
if sym:
    if narrow0[(s[0] << nperms) | full] == 1:
        q0, pre = 0, pre0  # the common case, without a call
    else:
        q0, pre = settled(s)
    fx = None  # the state's fingerprint vector, when first needed"""

_FIFO_K = """\
k = 0
if p <= q0:
    m = narrow[p][({new} << nperms) | pre[p]]
    if m != 1:
        k = single[m] if not m & (m - 1) else finish[p](s, m)"""

# The weight changes of the queues a move pushes its publishes onto (``{find}`` finds a
# channel's queue in the bus; a delivery knows the queue it pops without bisection).
_FIFO_FIND = """\
at = bisect(bus, c0)
cur = bus[at] if at < nbus and bus[at] <= cend else c0"""
_FIFO_PLAN = """\
for c0, cend, xs in plan:
{find}
    new = cur
    for x in xs:
        new = qpush[(new << shift) | x]
    f += qz[new] - qz[cur]
f &= mask"""
_FIFO_RENAMED = """\
if k:
    if vec:
        if fx is None:
            fx = fvec(s)
        y = fx + dv + bus_vector(bus, {q}, {keep_copy}, plan)
        if k > 0:
            f = (y >> lshift[k]) & mask
        else:
            f, k = tiebreak[-k](y)
    else:
{make}
        f = afp(perm(t, k) if k > 0 else canon(t))"""
_FIFO_NEW_BUS = """\
if keep_copy:
    nb = bus
else:
    pos = bus.index(q)
    nb = (*bus[:pos], nq, *bus[pos + 1 :]) if nq & qlow else bus[:pos] + bus[pos + 1 :]"""

_FIFO_BODY = """\
# (publishes only: q = -1 pops nothing)
{internal_moves}
    for npid, pubs, _keep, _spend, delta, dv, plan in moves:
{skip_one}
        f = fs + delta
{plan_internal}
{k_internal}
{renamed_internal}
{edge_internal}
# -- deliveries: the head of each channel, in channel order
if bus:
    if dups:
        dmoves, delivery_moves = dmoves_dup, moves_dup
    else:
        dmoves, delivery_moves = dmoves_nodup, moves_nodup
    for q in bus:
        d = qhead[q]
        p = ddest[d]
        pid = s[p]
        moves = dmoves.get((pid << shift) | d)
        if moves is None:
            moves = delivery_moves(pid, d)
{skip_group}
        qc0 = q & ~qlow
        nq = qpop[q]
        popped = qz[nq] - qz[q]
        for npid, pubs, keep_copy, spend, delta, dv, plan in moves:
            f = fs + delta if keep_copy else fs + delta + popped
{plan_delivery}
{k_delivery}
{renamed_delivery}
{edge_delivery}
{crashes}"""


def _fifo(edge, skip_one: str, skip_group: str) -> str:
    build_internal = "t = builders[p](s, npid, add(bus, pubs) if pubs else bus, dups)"
    build_delivery = _FIFO_NEW_BUS + "\nt = builders[p](s, npid, add(nb, pubs) if pubs else nb, dups - spend)"
    find_popped = "if c0 == qc0:\n    cur = q if keep_copy else nq\nelse:\n" + _indent(_FIFO_FIND, 4)
    return _FIFO_BODY.format(
        internal_moves=_INTERNAL_MOVES,
        skip_one=_indent(skip_one, 8),
        plan_internal=_indent(_FIFO_PLAN.format(find=_indent(_FIFO_FIND, 4)), 8),
        k_internal=_indent(_FIFO_K.format(new="npid"), 8),
        renamed_internal=_indent(
            _FIFO_RENAMED.format(q="-1", keep_copy="0", make=_indent(build_internal, 8)), 8
        ),
        edge_internal=_indent(edge(build_internal + "\n" + _INC_PUSH), 8),
        skip_group=_indent(skip_group, 8),
        plan_delivery=_indent(_FIFO_PLAN.format(find=_indent(find_popped, 4)), 12),
        k_delivery=_indent(_FIFO_K.format(new="npid"), 12),
        renamed_delivery=_indent(
            _FIFO_RENAMED.format(q="q", keep_copy="keep_copy", make=_indent(build_delivery, 8)), 12
        ),
        edge_delivery=_indent(edge(build_delivery + "\n" + _INC_PUSH), 12),
        crashes=_crashes(edge, skip_one),
    )


# --------------------------------------------------------------------------- sorted symmetry
_SORTED_SETUP = """\
sc = e.sorted
step, make_step, in_order, renaming, rename, S = sc.step, sc.make_step, sc.in_order, sc.renaming, sc.rename, sc.sig
zlast = sc.n - 1
imoves, dmoves_dup, dmoves_nodup, cmoves = sc.imoves, sc.dmoves, sc.dmoves0, sc.cmoves"""

_SORTED_LEVEL = """\
nfps = []
nsigs = []
pushf = nfps.append
pushs = nsigs.append"""

# The orbit fingerprint of a successor: the state's plus the move's constant plus, per
# saga the move touches, a memoized signature step (see SortedCanon.annotate).
_SORTED_FP = """\
if z >= 0:
    try:
        f = (fs + const + step[sk[z] | c]) & mask
    except KeyError:
        f = (fs + const + make_step(sk[z] | c)) & mask
elif z == -1:
    f = (fs + const) & mask
else:
    f = fs + const
    for zz, cc in aff:
        v = step.get(sk[zz] | cc)
        f += make_step(sk[zz] | cc) if v is None else v
    f &= mask"""

# A new successor is queued renamed into signature order, with its signature numbers.
_SORTED_PUSH = """\
if z >= 0:
    x = step[sk[z] | c] >> 60
    y = S[x]
    if (z == 0 or S[sk[z - 1] >> move_bits] <= y) and (z == zlast or y <= S[sk[z + 1] >> move_bits]):
        push(t)
        pushs((*sk[:z], x << move_bits, *sk[z + 1 :]))
    else:
        ns = [v >> move_bits for v in sk]
        ns[z] = x
        perm, ns = renaming(ns)
        push(rename(t, perm))
        pushs(tuple([v << move_bits for v in ns]))
elif z == -1:
    push(t)
    pushs(sk)
else:
    ns = [v >> move_bits for v in sk]
    for zz, cc in aff:
        ns[zz] = step[sk[zz] | cc] >> 60
    if in_order(ns):
        push(t)
    else:
        perm, ns = renaming(ns)
        push(rename(t, perm))
    pushs(tuple([v << move_bits for v in ns]))"""

_SORTED_BODY = """\
for p in iparts:
    for npid, pubs, const, z, c, aff in imoves[p][s[p]]:
{skip_one}
{fp_internal}
{edge_internal}
if bus:
    dmoves = dmoves_dup if dups else dmoves_nodup
    prev = -1
    for d in bus:
        if d == prev:
            continue
        prev = d
        p = ddest[d]
        moves = dmoves[(s[p] << shift) | d]
{skip_group}
        for npid, pubs, keep_copy, spend, const, z, c, aff in moves:
{fp_delivery}
{edge_delivery}
quiet = not a
if crashes:
    for p in rng:
        cm = cmoves[p][s[p]]
        if cm is None:
            continue
{skip_one}
        cp, const, z, c, aff = cm
{fp_crash}
{edge_crash}"""


def _sorted(edge, skip_one: str, skip_group: str) -> str:
    build_internal = "t = builders[p](s, npid, tuple(sorted(bus + pubs)) if pubs else bus, dups)"
    return _SORTED_BODY.format(
        skip_one=_indent(skip_one, 8),
        fp_internal=_indent(_SORTED_FP, 8),
        edge_internal=_indent(edge(build_internal + "\n" + _SORTED_PUSH), 8),
        skip_group=_indent(skip_group, 8),
        fp_delivery=_indent(_SORTED_FP, 12),
        edge_delivery=_indent(edge(_BUILD_DELIVERY + "\n" + _SORTED_PUSH), 12),
        fp_crash=_indent(_SORTED_FP, 8),
        edge_crash=_indent(edge(_BUILD_CRASH + "\n" + _SORTED_PUSH), 8),
    )


#: Per loop: its setup, its next level's queues, how it walks the frontier, what it
#: computes per state before the moves, its moves (a function of the edge template and
#: the reduction's skips), and how the queues advance a level.
BODIES = {
    "incremental": (_INC_SETUP, _INC_LEVEL, "pos_s, s in enumerate(frontier)", _INC_PRELUDE, _incremental, "ffps = nfps"),
    "fifo": (_FIFO_SETUP, _FIFO_LEVEL, "s, fs in zip(frontier, ffps)", _FIFO_PRELUDE, _fifo, "ffps = nfps"),
    "sorted": (
        _SORTED_SETUP, _SORTED_LEVEL, "s, fs, sk in zip(frontier, ffps, fsigs)", "", _sorted, "ffps = nfps\nfsigs = nsigs"
    ),
}


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line else line for line in text.splitlines())


# The visited set's setup, per level and at the end: a dict to state numbers (the graph
# kept), or the lean loop's two sets (``old``: states numbered before this level;
# ``level``: the next level's), merged as each level starts and at the end.
_VISITED = "seen_get = seen.get"
_LEAN_VISITED = """\
old = set()
level = seen  # the initial state's
level_add = level.add
lazy = search.lazy_graph"""
_LEAN_LEVEL = """\
old |= level
level = set()
level_add = level.add
search.seen, search.level_seen = old, level"""
_LEAN_FINISH = """\
old |= level
search.seen, search.level_seen = old, None"""


def source(kind: str, reduce: bool, lean: bool = False) -> str:
    """The source of the loop for ``kind`` (a key of :data:`BODIES`), with or without
    partial-order reduction; ``lean``: without the graph (:data:`LEAN_EDGE`), else with
    the visited dict of :data:`EDGE` (the graph kept when ``search.keep_graph``)."""
    back = _BACK if reduce else ""

    def edge(build: str) -> str:
        if lean:
            return LEAN_EDGE.format(build=_indent(build, 4), back=back or _BACK_LAZY).replace("\n\n", "\n")
        # Without the graph a plain loop's visited dict maps every fingerprint to the
        # shared 0 (no edge needs a target's number); the reduced loop needs them all,
        # for its check of edges back to earlier levels.
        store = "j" if reduce else "j if keep else 0"
        return EDGE.format(build=_indent(build, 4), back=back, store=store).replace("\n\n", "\n")

    setup, level, items, prelude, moves, advance = BODIES[kind]
    return _SKELETON.format(
        name=_name(kind, reduce, lean),
        visited=_indent(_LEAN_VISITED if lean else _VISITED, 4),
        setup=_indent(setup, 4),
        level=_indent(level, 12),
        lean_level=_indent(_LEAN_LEVEL if lean else "", 12),
        items=items,
        dynamic=_indent(_DYNAMIC if reduce else "", 20),
        prelude=_indent(prelude, 16),
        choose=_indent(_CHOOSE if reduce else "", 16),
        body=_indent(moves(edge, _SKIP_ONE if reduce else "", _SKIP_GROUP if reduce else ""), 16),
        # (A lean plain loop stops at its first edge back when it stands in for the graph.)
        after=_indent(_AFTER if reduce or lean else "", 16),
        advance=_indent(advance, 12),
        lean_finish=_indent(_LEAN_FINISH if lean else "", 4),
        finish=_indent(_FINISH if reduce else "", 4),
    )


def _name(kind: str, reduce: bool, lean: bool) -> str:
    return f"run_{kind}{'_reduced' if reduce else ''}{'_lean' if lean else ''}"


_compiled: dict[tuple[str, bool, bool], object] = {}


def compiled(kind: str, reduce: bool, lean: bool = False):
    """The loop function for ``kind``, compiled once:
    ``(search, frontier, ffps, fsigs, seen, select, static) -> None`` (``select`` and
    ``static``, the reducer's, are used only with reduction; ``seen``: the visited dict,
    or with ``lean`` the set of the initial state's fingerprint)."""
    fn = _compiled.get((kind, reduce, lean))
    if fn is None:
        from array import array
        from bisect import bisect_left
        from time import perf_counter

        from sagaspec.model import _por
        from sagaspec.model._sorted_symmetry import FP_MASK, MOVE_BITS
        from sagaspec.model.engine import LANE, QBITS, SHIFT

        env = {
            "MASK": FP_MASK, "MOVE_BITS": MOVE_BITS, "SHIFT": SHIFT, "LANE": LANE, "QLOW": (1 << QBITS) - 1,
            "perf_counter": perf_counter, "array": array, "bisect_left": bisect_left,
            "ABORT_CYCLE": _por.ABORT_CYCLE, "ABORT_DYNAMIC": _por.ABORT_DYNAMIC,
            "ABORT_SUPPORT": _por.ABORT_SUPPORT, "support_sets": _por.support_sets,
            "fifo_bus_vector": fifo_bus_vector,
        }
        name = _name(kind, reduce, lean)
        exec(compile(source(kind, reduce, lean), f"<sagaspec:{name}>", "exec"), env)  # noqa: S102 - a fixed template
        fn = _compiled[(kind, reduce, lean)] = env[name]
    return fn


def fifo_bus_vector(search):
    """``bus_vector(bus, q, keep_copy, plan)`` for the FIFO loop: the fingerprint vector of
    the queue changes of popping ``q`` (unless kept or -1) and appending the plan's
    publishes (the vector twin of the loop's inline sums), memoized per change."""
    from bisect import bisect_left

    from sagaspec.model.engine import QBITS, SHIFT

    e = search.engine
    qlow = (1 << QBITS) - 1
    qpop, qpush, qvec, lane_delta = e.qpop, e.qpush, e._qvec, e.lane_delta
    changes: dict[int, int] = {}  # (old << 48 | new queue) -> vector of the change
    search.queue_changes = changes  # (for the memory accounting)

    def bus_vector(bus: tuple, q: int, keep_copy: int, plan: tuple) -> int:
        v = 0
        qc0 = q & ~qlow
        if q >= 0 and not keep_copy:
            key = (q << 48) | qpop[q]
            dv = changes.get(key)
            if dv is None:
                dv = changes[key] = lane_delta(qvec[qpop[q]], qvec[q])
            v += dv
        for c0, cend, xs in plan:
            if c0 == qc0:
                cur = q if keep_copy else qpop[q]
            else:
                at = bisect_left(bus, c0)
                cur = bus[at] if at < len(bus) and bus[at] <= cend else c0
            new = cur
            for x in xs:
                new = qpush[(new << SHIFT) | x]
            key = (cur << 48) | new
            dv = changes.get(key)
            if dv is None:
                dv = changes[key] = lane_delta(qvec[new], qvec[cur])
            v += dv
        return v

    return bus_vector
