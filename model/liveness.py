"""Cycle analysis of an explored state graph: strongly connected components, bottom cycles.

The explorer stores the graph compactly as CSR arrays (``offsets[i]:offsets[i+1]`` index
the successors of state ``i`` in ``targets``, in action order). ``at_rest`` properties
need the *bottom* strongly connected components (those no non-fault edge leaves) that
contain a cycle. SciPy's C implementation is used when it is installed (millions of
edges in well under a second); otherwise an iterative Tarjan in pure Python gives the
same answer. ``eventually`` and ``leads_to`` properties need *fair* cycles in a part of
the graph (:func:`fair_cycle`, weak or strong fairness over labelled actions) and a
cycle through them that takes the actions fairness demands (:func:`fair_tour`).
:func:`to_networkx` converts the arrays for analysis and export.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Hashable, Sequence

__all__ = [
    "strong_components", "bottom_cycles", "shortest_cycle", "fair_cycle", "fair_tour", "to_networkx", "have_scipy",
]


#: Use SciPy above this many edges: importing it costs about a second, which the pure
#: Python Tarjan (about half a microsecond per edge) only loses on millions of edges.
SCIPY_MIN_EDGES = 1_000_000
_SCIPY: list[bool] = []


def have_scipy() -> bool:
    """Whether ``scipy.sparse.csgraph`` imports (checked once)."""
    if not _SCIPY:
        try:
            import scipy.sparse.csgraph  # noqa: F401
        except Exception:
            _SCIPY.append(False)
        else:
            _SCIPY.append(True)
    return _SCIPY[0]


def _want_scipy(n: int, offsets: Sequence[int]) -> bool:
    return n > 0 and offsets[n] > SCIPY_MIN_EDGES and have_scipy()


def _tarjan(n: int, offsets: Sequence[int], targets: Sequence[int]) -> tuple[int, list[int]]:
    index = [-1] * n
    low = [0] * n
    onstack = bytearray(n)
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        onstack[root] = 1
        work = [[root, offsets[root]]]
        while work:
            frame = work[-1]
            v, pos = frame
            if pos < offsets[v + 1]:
                w = targets[pos]
                frame[1] = pos + 1
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    onstack[w] = 1
                    work.append([w, offsets[w]])
                elif onstack[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    while True:
                        w = stack.pop()
                        onstack[w] = 0
                        comp[w] = ncomp
                        if w == v:
                            break
                    ncomp += 1
    return ncomp, comp


def _csr(n: int, offsets: Sequence[int], targets: Sequence[int]):
    import numpy as np

    def as_int32(a, count):
        if isinstance(a, array) and a.itemsize == 4:
            return np.frombuffer(a, dtype=np.uint32)[:count].view(np.int32)
        return np.asarray(a[:count], dtype=np.int32)

    indptr = as_int32(offsets, n + 1)
    indices = as_int32(targets, int(indptr[-1]) if n else 0)
    return indptr, indices


def strong_components(
    n: int, offsets: Sequence[int], targets: Sequence[int], *, use_scipy: bool | None = None
) -> tuple[int, list[int]]:
    """``(count, label per state)`` of the strongly connected components."""
    if use_scipy is None:
        use_scipy = _want_scipy(n, offsets)
    if use_scipy:
        count, labels = _scipy_components(n, offsets, targets)
        return count, labels.tolist()
    return _tarjan(n, offsets, targets)


def _scipy_components(n: int, offsets: Sequence[int], targets: Sequence[int]):
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    indptr, indices = _csr(n, offsets, targets)
    graph = csr_matrix((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, n))
    count, labels = connected_components(graph, directed=True, connection="strong")
    return int(count), labels


def bottom_cycles(
    n: int,
    offsets: Sequence[int],
    targets: Sequence[int],
    *,
    use_scipy: bool | None = None,
    faults: Callable[[list[tuple[int, int]]], set[int]] | None = None,
) -> list[list[int]]:
    """Bottom SCCs that contain a cycle, each as a sorted list of states, by first state.

    A bottom SCC has no edge leaving it; it contains a cycle when it has more than one
    state or a self-loop. Terminal states (no successors) are not included: the explorer
    checks them as quiescent states. ``faults``, if given, is called once with the
    ``(state, edge position)`` of every edge leaving a cyclic SCC and returns the
    positions of the *fault* edges among them, which do not count as a way out (a fault
    is possible, never obliged). Fault edges must lie on no cycle (they spend a budget),
    so the components are the same with or without them.
    """
    if use_scipy is None:
        use_scipy = _want_scipy(n, offsets)
    if use_scipy:
        return _bottom_cycles_numpy(n, offsets, targets, faults)
    count, comp = _tarjan(n, offsets, targets)
    selfloop = set()
    if count == n:
        for v in range(n):
            for k in range(offsets[v], offsets[v + 1]):
                if targets[k] == v:
                    selfloop.add(v)
                    break
        if not selfloop:
            return []
    size = [0] * count
    for c in comp:
        size[c] += 1
    leaves = bytearray(count)
    cyclic = bytearray(count)
    exits: list[tuple[int, int]] = []
    for v in range(n):
        cv = comp[v]
        for k in range(offsets[v], offsets[v + 1]):
            w = targets[k]
            if comp[w] != cv:
                exits.append((v, k))
            elif w == v:
                cyclic[cv] = 1
    for c in range(count):
        if size[c] > 1:
            cyclic[c] = 1
    exits = [(v, k) for v, k in exits if cyclic[comp[v]]]
    fault = faults(exits) if faults is not None and exits else set()
    for v, k in exits:
        if k not in fault:
            leaves[comp[v]] = 1
    members: dict[int, list[int]] = {}
    for v in range(n):
        c = comp[v]
        if not leaves[c] and (size[c] > 1 or cyclic[c]):
            members.setdefault(c, []).append(v)
    return sorted(members.values(), key=lambda m: m[0])


def _bottom_cycles_numpy(n: int, offsets: Sequence[int], targets: Sequence[int], faults=None) -> list[list[int]]:
    import numpy as np

    count, labels = _scipy_components(n, offsets, targets)
    indptr, indices = _csr(n, offsets, targets)
    src = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    loops = src == indices
    if count == n and not loops.any():
        return []
    ls, lt = labels[src], labels[indices]
    cyclic = np.bincount(labels, minlength=count) > 1
    cyclic[ls[loops]] = True
    out = (ls != lt) & cyclic[ls]
    if faults is not None and out.any():
        where = np.nonzero(out)[0]
        fault = faults(list(zip(src[where].tolist(), where.tolist(), strict=True)))
        if fault:
            out[np.fromiter(fault, dtype=np.int64, count=len(fault))] = False
    leaves = np.zeros(count, dtype=bool)
    leaves[ls[out]] = True
    bottom = cyclic & ~leaves
    states = np.nonzero(bottom[labels])[0]
    members: dict[int, list[int]] = {}
    for v, c in zip(states.tolist(), labels[states].tolist(), strict=True):
        members.setdefault(c, []).append(v)
    return sorted(members.values(), key=lambda m: m[0])


def shortest_cycle(
    entry: int, members: set[int], offsets: Sequence[int], targets: Sequence[int]
) -> list[tuple[int, int]]:
    """The shortest cycle from ``entry`` back to it inside ``members``.

    Returned as ``[(state, action index), ...]``: take action ``a`` in ``state`` each step.
    """
    prev: dict[int, tuple[int, int]] = {}
    queue = deque([entry])
    seen = {entry}
    while queue:
        v = queue.popleft()
        base = offsets[v]
        for k in range(base, offsets[v + 1]):
            w = targets[k]
            if w == entry:
                steps = [(v, k - base)]
                while v != entry:
                    u, a = prev[v]
                    steps.append((u, a))
                    v = u
                return steps[::-1]
            if w in members and w not in seen:
                seen.add(w)
                prev[w] = (v, k - base)
                queue.append(w)
    raise ValueError(f"state {entry} is on no cycle")


def to_networkx(n: int, offsets: Sequence[int], targets: Sequence[int]):
    """A :class:`networkx.MultiDiGraph`: nodes are state numbers, edges carry ``action``."""
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(
        (v, targets[k], {"action": k - offsets[v]})
        for v in range(n)
        for k in range(offsets[v], offsets[v + 1])
    )
    return g


# --------------------------------------------------------------------------- fairness
#: One labelled edge of a region: ``(source, target, action, edge position)``.
Edge = tuple[int, int, Hashable, int]


def _components(nodes: list[int], edges: list[Edge]) -> list[tuple[list[int], list[Edge]]]:
    """SCCs of the subgraph ``(nodes, edges)`` that contain a cycle, with their inner edges."""
    index = {v: i for i, v in enumerate(nodes)}
    m = len(nodes)
    out_deg = [0] * (m + 1)
    for u, _w, _a, _k in edges:
        out_deg[index[u] + 1] += 1
    offsets = [0] * (m + 1)
    for i in range(m):
        offsets[i + 1] = offsets[i] + out_deg[i + 1]
    fill = offsets[:-1].copy()
    targets = [0] * len(edges)
    for u, w, _a, _k in edges:
        i = index[u]
        targets[fill[i]] = index[w]
        fill[i] += 1
    _count, comp = _tarjan(m, offsets, targets)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(comp):
        groups.setdefault(c, []).append(nodes[i])
    inner: dict[int, list[Edge]] = {}
    for e in edges:
        cu = comp[index[e[0]]]
        if cu == comp[index[e[1]]]:
            inner.setdefault(cu, []).append(e)
    return [(sorted(groups[c]), inner[c]) for c in sorted(inner, key=lambda c: min(groups[c]))]


def fair_cycle(
    nodes: Sequence[int],
    edges: Sequence[Edge],
    enabled: Callable[[int], frozenset],
    *,
    strong: bool,
) -> tuple[list[int], list[Edge]] | None:
    """A strongly connected set of ``nodes`` on which a fair run can stay forever.

    ``edges`` are the labelled edges among ``nodes`` (fault edges left out: faults are
    never obliged); ``enabled(v)`` is the set of actions enabled in ``v`` in the whole
    graph (also those whose edges leave ``nodes``). Weak fairness (TLA+ WF): a
    component is fair when every action enabled in *all* its states has an edge inside
    it. Strong fairness (SF): when every action enabled in *some* of its states has an
    edge inside it; otherwise the states enabling an action it cannot take inside are
    removed and what remains is searched again (the Emerson-Lei / Streett pruning).
    Returns ``(members, required)``, ``required`` holding one inner edge per action
    the cycle must take, or ``None``.
    """
    work = [sorted(nodes)]
    edge_list = list(edges)
    while work:
        part = work.pop()
        inside = set(part)
        sub = [e for e in edge_list if e[0] in inside and e[1] in inside]
        for members, inner in _components(part, sub):
            taken: dict[Hashable, Edge] = {}
            for e in inner:
                taken.setdefault(e[2], e)
            if strong:
                wanted: set = set()
                for v in members:
                    wanted |= enabled(v)
                bad = wanted - taken.keys()
                if not bad:
                    return members, [taken[a] for a in sorted(wanted, key=repr)]
                keep = [v for v in members if not enabled(v) & bad]
                if keep:
                    work.append(keep)
            else:
                always = None
                for v in members:
                    always = set(enabled(v)) if always is None else always & enabled(v)
                if always is not None and always <= taken.keys():
                    return members, [taken[a] for a in sorted(always, key=repr)]
    return None


def fair_tour(entry: int, members: Sequence[int], inner: Sequence[Edge], required: Sequence[Edge]) -> list[Edge]:
    """A cycle from ``entry`` back to it inside ``members`` that takes every ``required``
    edge and visits every member (so an action enabled in all of its states is one
    enabled in all of the component's), as a list of edges.
    """
    succ: dict[int, list[Edge]] = {}
    for e in inner:
        succ.setdefault(e[0], []).append(e)

    def walk(frm: int, goal: Callable[[int], bool]) -> list[Edge]:
        if goal(frm):
            return []
        prev: dict[int, Edge] = {}
        queue = deque([frm])
        seen = {frm}
        while queue:
            v = queue.popleft()
            for e in succ.get(v, ()):
                w = e[1]
                if w in seen:
                    continue
                seen.add(w)
                prev[w] = e
                if goal(w):
                    steps = [e]
                    while steps[-1][0] != frm:
                        steps.append(prev[steps[-1][0]])
                    return steps[::-1]
                queue.append(w)
        raise ValueError("fair_tour: the members are not strongly connected")

    tour: list[Edge] = []
    visited = {entry}
    cur = entry
    for e in required:
        steps = walk(cur, lambda v, u=e[0]: v == u) + [e]
        tour += steps
        visited.update(s[1] for s in steps)
        cur = e[1]
    rest = set(members) - visited
    while rest:
        steps = walk(cur, lambda v: v in rest)
        tour += steps
        for s in steps:
            rest.discard(s[1])
        cur = tour[-1][1]
    tour += walk(cur, lambda v: v == entry) if tour else []
    if not tour:  # a single state with a self-loop and nothing required
        tour = [next(e for e in inner if e[0] == entry and e[1] == entry)]
    return tour


# --------------------------------------------------------------------------- under symmetry
def quotient_fair_violations(search, g, renaming: Sequence[int], prop, strong: bool, predicate: Callable):
    """Candidate fair runs violating ``prop`` on the symmetry-reduced graph (a generator).

    The quotient graph's edges lead to canonical forms, i.e. rename the sagas:
    ``renaming[k]`` is the renaming (an index into ``engine.perms``) that edge ``k``
    applies to its successor. A per-saga property is about one saga, which a renaming
    moves to another index, so the analysis runs on pairs (state, index of the tracked
    saga), the index carried along each edge through its renaming (Emerson and
    Sistla's annotated quotient): with symmetric predicates a run of the full graph
    that violates the property for a saga projects onto a run of the pairs that
    violates it for the tracked index, and back.

    Fairness names actions, and a renaming changes a name, except those of the tracked
    saga (named relative to it) and those of no saga; other actions are left out of
    fairness here (never demanded), which can only add fair cycles. So no candidate at
    all means no fair run of the full graph violates the property; a candidate must be
    confirmed on the concrete run it unrolls to (:func:`confirm_fair_violation`). After
    a fair cycle, the next candidate comes from the region without its states (one
    that left an action of another saga waiting may hide, deeper, one that does not):
    once one was given, running out of candidates decides nothing.

    Yields ``(steps, loop)``: ``steps`` as ``[(state, action index)]`` from the initial
    state, ``loop`` the step a lasso returns to (None: stuck at a quiescent state).
    """
    e = search.engine
    states, offsets, targets, actions = g.states, g.offsets, g.targets, g.actions
    n = g.n
    per = prop.per_saga
    width = search.system.sagas if per else 1
    perms = e.perms
    goal_fn = prop.then if prop.kind == "leads-to" else prop.pred
    goals = [predicate(e, prop, goal_fn, j if per else None) for j in range(width)]
    if prop.kind == "eventually":
        seeds = [j for j in range(width) if not goals[j](states[0])]
    else:
        trig = [predicate(e, prop, prop.pred, j if per else None) for j in range(width)]
        seeds = [v * width + j for v in range(n) for j in range(width) if trig[j](states[v]) and not goals[j](states[v])]
    if not seeds:
        return
    prev: dict[int, tuple[int, int] | None] = dict.fromkeys(seeds)
    order = list(seeds)
    pos = 0
    while pos < len(order):
        x = order[pos]
        pos += 1
        v, j = divmod(x, width)
        for k in range(offsets[v], offsets[v + 1]):
            w = targets[k]
            y = w * width + (perms[renaming[k]][j] if per else 0)
            if y in prev:
                continue
            if not goals[y % width](states[w]):
                prev[y] = (x, k)
                order.append(y)

    def route_to(x: int) -> list[tuple[int, int]]:
        tail = []
        while prev[x] is not None:
            u, k = prev[x]
            tail.append((u // width, k - offsets[u // width]))
            x = u
        chain = search.chain(x // width)
        head = [(u, search.act[w]) for u, w in zip(chain, chain[1:], strict=False)]
        return head + tail[::-1]

    for x in order:
        if g.quiet[x // width]:
            yield route_to(x), None
    # Fairness names relative to the tracked saga (module note above); OTHER: not demanded.
    into = {j: next(k for k, p in enumerate(perms) if p[j] == 0) for j in range(width)} if per else {}
    names: dict[tuple, Hashable] = {}

    def name(k: int, j: int) -> Hashable:
        a = actions[k]
        if a is None:
            return None
        key = (a, j)
        r = names.get(key)
        if r is None:
            r = _OTHER
            if a[0] == "d":
                saga = e.msgs[e.dmid[a[1]]].saga
                if saga < 0:
                    r = a
                elif per and saga == j:
                    r = ("d", e._perm_delivery(into[j], a[1]))
            names[key] = r
        return r

    region = set(order)
    edges = []
    for x in order:
        v, j = divmod(x, width)
        for k in range(offsets[v], offsets[v + 1]):
            a = name(k, j)
            if a is None:
                continue
            y = targets[k] * width + (perms[renaming[k]][j] if per else 0)
            if y in region:
                edges.append((x, y, a, k))
    enabled_memo: dict[int, frozenset] = {}

    def enabled(x: int) -> frozenset:
        r = enabled_memo.get(x)
        if r is None:
            v, j = divmod(x, width)
            r = enabled_memo[x] = frozenset(
                a for a in (name(k, j) for k in range(offsets[v], offsets[v + 1])) if a is not None and a is not _OTHER
            )
        return r

    rank = {x: i for i, x in enumerate(order)}
    while True:
        found = fair_cycle(order, edges, enabled, strong=strong)
        if found is None:
            return
        members, required = found
        inside = set(members)
        entry = min(members, key=rank.__getitem__)
        inner = [ed for ed in edges if ed[0] in inside and ed[1] in inside]
        tour = fair_tour(entry, members, inner, required)
        prefix = route_to(entry)
        yield prefix + [(u // width, k - offsets[u // width]) for u, _w, _a, k in tour], len(prefix)
        order = [x for x in order if x not in inside]
        edges = [ed for ed in edges if ed[0] not in inside and ed[1] not in inside]


#: An action a renaming changes the name of (another saga's, or an internal step, whose
#: saga the graph does not say): never demanded by fairness on the quotient.
_OTHER = ("other",)


def edge_renamings(engine, g) -> array | None:
    """``renaming[k]``: the renaming (index into ``engine.perms``) that takes edge ``k``'s
    concrete successor to the canonical state the edge leads to (None: one does not,
    so the model is not symmetric as its ``permute`` methods claim)."""
    out = array("H", bytes(2 * len(g.targets)))
    states, offsets, targets = g.states, g.offsets, g.targets
    count = len(engine.perms)
    permute = engine.permute_state
    for v in range(g.n):
        base = offsets[v]
        for a, t in enumerate(engine.expand(states[v], canonical=False)[0]):
            r = states[targets[base + a]]
            if t != r:
                k = next((k for k in range(1, count) if permute(t, k) == r), None)
                if k is None:
                    return None
                out[base + a] = k
    return out


def confirm_fair_violation(engine, path, prop, strong: bool) -> tuple[bool, int | None]:
    """Whether the concrete ``path`` (a stuck end, or a lasso: ``path.loop``) violates
    ``prop`` on a fair run, and for which saga (``(False, None)``: it does not).

    The goal never holds from the (last) trigger (``leads_to``; ``eventually``: from the
    start) to the end and around the loop, and on a lasso every action fairness demands of its
    loop is taken in it (weak: enabled in all its states; strong: in some)."""
    last = len(path)
    start = last if path.loop is None else path.loop
    goal = prop.then if prop.kind == "leads-to" else prop.pred
    views = [path.view(i) for i in range(last + 1)]
    if path.loop is None and not views[-1].quiescent:
        return False, None
    if path.loop is not None and not _fair_loop(engine, path, strong):
        return False, None
    for saga in range(engine.system.sagas) if prop.per_saga else (None,):
        holds = [bool(goal(v, saga) if saga is not None else goal(v)) for v in views]
        if prop.kind == "eventually":
            ok = not any(holds)
        else:
            # (a trigger met inside the loop comes back: the goal must then stay false
            # around all of it)
            trig = [i for i, v in enumerate(views) if (prop.pred(v, saga) if saga is not None else prop.pred(v))]
            ok = bool(trig) and not any(holds[min(trig[-1], start):])
        if ok:
            return True, saga
    return False, None


def _fair_loop(engine, path, strong: bool) -> bool:
    def label(descr) -> Hashable:
        kind, p, d, lab = descr
        return ("i", p, lab) if d < 0 else ("d", d)

    from sagaspec.model.engine import FAULTS

    loop, last = path.loop, len(path)
    taken = {label(path._descr[i]) for i in range(loop, last) if path._descr[i][0] not in FAULTS}
    sets = []
    for i in range(loop, last):
        _succs, _q, ds = engine.expand(path.raw_state(i), actions=True, canonical=False)
        sets.append({label(d) for d in ds if d[0] not in FAULTS})
    wanted = set.union(*sets) if strong else set.intersection(*sets)
    return wanted <= taken


def concrete_run(engine, steps: Sequence[tuple[int, int]], loop: int | None, canonical_states: Sequence[tuple]):
    """The concrete execution (a :class:`~sagaspec.model.path.Path`) of quotient
    ``steps`` (``[(state, action index)]``, ``canonical_states[state]``), each action
    taken as the renaming of the canonical state's action, so the run follows the same
    saga the analysis tracked (matching successors by canonical form alone may follow
    another saga that is in the same situation); a lasso's loop is repeated until the
    concrete run returns to the very same state (at most once per renaming). None when
    a renamed step is no step of the concrete state, or the loop does not close: the
    model is not symmetric as its ``permute`` methods claim."""
    from sagaspec.model.path import Path

    perms = engine.perms
    index = {p: k for k, p in enumerate(perms)}
    inverse = [index[tuple(sorted(range(len(p)), key=p.__getitem__))] for p in perms]
    permute = engine.permute_state

    def renamed(c: tuple, v: tuple) -> int:
        return 0 if c == v else next((k for k in range(1, len(perms)) if permute(c, k) == v), -1)

    c = engine.initial(canonical=False)
    raw, descr = [c], []

    def step(v: int, a: int) -> bool:
        nonlocal c
        sigma = renamed(c, canonical_states[v])
        if sigma < 0:
            return False
        t = engine.expand(canonical_states[v], canonical=False)[0][a]
        want = t if sigma == 0 else permute(t, inverse[sigma])
        succs, _q, ds = engine.expand(c, actions=True, canonical=False)
        if want not in succs:
            return False
        c = want
        raw.append(c)
        descr.append(ds[succs.index(want)])
        return True

    if not all(step(v, a) for v, a in steps):
        return None
    if loop is not None:
        cycle = steps[loop:]
        for _ in range(len(perms)):
            if c == raw[loop]:
                break
            if not all(step(v, a) for v, a in cycle):
                return None
        else:
            return None
    return Path(engine, raw, descr, loop=loop)
