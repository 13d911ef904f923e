"""Cycle analysis of an explored state graph: strongly connected components, bottom cycles.

The explorer stores the graph compactly as CSR arrays (``offsets[i]:offsets[i+1]`` index
the successors of state ``i`` in ``targets``, in action order). Liveness under fairness
needs the *bottom* strongly connected components (those no edge leaves) that contain a
cycle. SciPy's C implementation is used when it is installed (millions of edges in well
under a second); otherwise an iterative Tarjan in pure Python gives the same answer.
:func:`to_networkx` converts the arrays for analysis and export.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence

__all__ = ["strong_components", "bottom_cycles", "shortest_cycle", "to_networkx", "have_scipy"]


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
    n: int, offsets: Sequence[int], targets: Sequence[int], *, use_scipy: bool | None = None
) -> list[list[int]]:
    """Bottom SCCs that contain a cycle, each as a sorted list of states, by first state.

    A bottom SCC has no edge leaving it; it contains a cycle when it has more than one
    state or a self-loop. Terminal states (no successors) are not included: the explorer
    checks them as quiescent states.
    """
    if use_scipy is None:
        use_scipy = _want_scipy(n, offsets)
    if use_scipy:
        return _bottom_cycles_numpy(n, offsets, targets)
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
    for v in range(n):
        cv = comp[v]
        for k in range(offsets[v], offsets[v + 1]):
            w = targets[k]
            if comp[w] != cv:
                leaves[cv] = 1
            elif w == v:
                cyclic[cv] = 1
    members: dict[int, list[int]] = {}
    for v in range(n):
        c = comp[v]
        if not leaves[c] and (size[c] > 1 or cyclic[c]):
            members.setdefault(c, []).append(v)
    return sorted(members.values(), key=lambda m: m[0])


def _bottom_cycles_numpy(n: int, offsets: Sequence[int], targets: Sequence[int]) -> list[list[int]]:
    import numpy as np

    count, labels = _scipy_components(n, offsets, targets)
    indptr, indices = _csr(n, offsets, targets)
    src = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    loops = src == indices
    if count == n and not loops.any():
        return []
    ls, lt = labels[src], labels[indices]
    leaves = np.zeros(count, dtype=bool)
    leaves[ls[ls != lt]] = True
    cyclic = np.bincount(labels, minlength=count) > 1
    cyclic[ls[loops]] = True
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
