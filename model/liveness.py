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
