"""Exhaustive breadth-first exploration and random-walk simulation.

:func:`explore` visits every reachable state once, breadth first, so the first violation
found for each property is a *shortest* counterexample. Like TLC it keeps only a 60-bit
fingerprint per visited state plus the parent's number and the action's number (compact
``array`` columns); a trace is rebuilt by re-executing actions from the initial state.
Fingerprints are computed incrementally (each move adds a constant, plus on a FIFO bus
the weight changes of the queues it touches), so a successor's tuple is built only when
it is new; under symmetry the frontier keeps every state's fingerprints under all
renamings (:meth:`~sagaspec.model.engine.Engine.fingerprint_vector`), so a successor
that must be renamed is not built either. The frontier holds the current and the next
BFS level. The visited fingerprints are two sets (earlier levels, next level), which
also tell whether an edge leads back. The graph (for liveness under fairness and for
export) is kept as CSR arrays, with a visited dict from fingerprints to state numbers,
when needed, and turned into a networkx graph on demand by
:meth:`~sagaspec.model.results.CheckResult.graph`; when every edge leads from one BFS
level to the next the graph has no cycle and the cycle analysis is skipped, so for
``at_rest`` properties the graph is kept only once the search meets an edge back (it
then runs again keeping it).

:func:`simulate` runs seeded random walks for bounds too large to exhaust; its result
says it is not exhaustive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import random
import sys
import time
from array import array
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sagaspec.model import _por
from sagaspec.model._loops import compiled as compiled_loop
from sagaspec.model._por import (
    ABORT_SUPPORT,
    check_declarations,
    por_blocker,
    reducer_for,
    run_reduced,
)
from sagaspec.model._sorted_symmetry import run_sorted
from sagaspec.model.engine import FAULTS, Engine, _generate
from sagaspec.model.liveness import (
    bottom_cycles,
    concrete_run,
    confirm_fair_violation,
    edge_renamings,
    fair_cycle,
    fair_tour,
    quotient_fair_violations,
    shortest_cycle,
)
from sagaspec.model.path import Path, shrink
from sagaspec.model.properties import FAIR_KINDS, HELD, UNKNOWN, VACUOUS, VIOLATED, Property
from sagaspec.model.results import CYCLE, INVARIANT, STUCK, CheckResult, Stats, Violation
from sagaspec.model.system import Config, System, settle_symmetry
from sagaspec.model.view import View

from sagaspec.errors import ModelError, PropertyError, UsageError

__all__ = ["Stats", "Violation", "CheckResult", "explore", "simulate"]

#: Use the generic loop even where the inlined one applies (tests compare the two).
_FORCE_GENERIC = False
#: Check eventually/leads_to on the symmetry-reduced graph (unsound: tests switch it on
#: to show a verdict it gets wrong; see explore()).
_FAIR_SYMMETRY = False
#: Check eventually/leads_to under symmetry on the quotient with the renaming of each
#: edge carried along (sound; _fair_liveness); False: switch symmetry off for them.
_FAIR_QUOTIENT = True
#: How many candidate counterexamples of the quotient are tried on the concrete graph
#: before the unreduced graph decides.
_FAIR_CANDIDATES = 32
#: Reduce with the generic loop (``_por.run_reduced``) even where a generated one applies
#: (tests and bench/bench_check.py compare the two).
_REDUCED_GENERIC = False
#: Searches that keep no graph use the lean generated loops (sets of fingerprints, no
#: state numbers), and a search for at_rest properties keeps the graph only once it has
#: an edge back (a cycle is possible); False: the dict loops throughout, as before
#: (bench/bench_check.py runs both).
_LEAN = True
#: Hand what a search leaves alive to the oldest generation without a collection (see
#: _gc_paused); False: as before, and the cycle analysis runs with collection on.
_GC_HANDOFF = True



# --------------------------------------------------------------------------- properties
class _ReadView(View):
    """A :class:`View` that records which participants' local states a predicate reads."""

    __slots__ = ("_read",)

    def __init__(self, engine, state: tuple) -> None:
        super().__init__(engine, state)
        self._read = 0

    def __getitem__(self, name: str):
        p = self._index(name)
        self._read |= 1 << p
        return self._e.local(p, self._s[p])

    def locals(self):
        self._read |= (1 << self._e.n) - 1
        return super().locals()


class _Props:
    """Property evaluation, cached per combination of the local states it reads.

    A predicate that reads only ``view[name]`` is a function of the participants' local
    states, so its result is cached: under the numbers of the local states of the
    participants it has read so far (its *support*; ``single-charge`` reads only
    Payment's, so it is evaluated once per Payment state, not once per combination). A
    pure predicate reading the same values takes the same path and reads the same
    participants, so the cache is exact; when an evaluation reads a participant outside
    the support, the support grows and that property's cache starts afresh. Reading
    anything else (the bus, quiescence, stores, budgets) marks that evaluation
    *dynamic*: it is not cached and the predicate is evaluated again in every state.

    For the search, :meth:`classify` folds all ``always`` and ``sometimes`` properties of
    a locals-combination into one int: bit ``k`` set when property ``k`` needs attention
    (an ``always`` one is false, a ``sometimes`` one is true), bit ``k + P`` when its
    evaluation was dynamic. The hot loop then does one dict lookup and one ``&`` per state.
    """

    def __init__(self, engine: Engine, props: tuple[Property, ...]) -> None:
        self.engine = engine
        self.props = props
        self.count = len(props)
        self.view = _ReadView(engine, ())
        self.memo: list[dict] = [{} for _ in props]
        self.support = [0] * len(props)  # bitmask of participants property k reads
        self.growth = 0  # how many times a support grew
        self._pick = [_pick_lids(0)] * len(props)
        self.classes: dict[tuple, int] = {}
        self.safety = [k for k, p in enumerate(props) if p.kind in ("always", "sometimes")]
        n = engine.n
        plid = engine.plid
        # A generated, unrolled key function: (lid_0, ..., lid_{n-1}).
        self._key = _generate(
            "locals_key",
            "lambda s: (" + "".join(f"L{p}[s[{p}]], " for p in range(n)) + ")",
            {f"L{p}": plid[p] for p in range(n)},
        )

    def key(self, state: tuple) -> tuple:
        return self._key(state)

    def evaluate(self, k: int, state: tuple) -> tuple[bool, bool]:
        """``(result, dynamic)`` of property ``k`` in ``state`` (no caching)."""
        view = self.view
        view._s = state
        view._other = False
        view._read = 0
        prop = self.props[k]
        try:
            r = prop.pred(view)
        except (ModelError, PropertyError) as exc:
            raise PropertyError(f"property {prop.name!r}: {exc}") from exc
        except Exception as exc:
            raise PropertyError(
                f"property {prop.name!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        if r is None:
            raise PropertyError(f"property {prop.name!r} returned None; a predicate must return a bool")
        return bool(r), view._other

    def _remember(self, k: int, key: tuple, r: bool) -> None:
        """Cache a static result of property ``k`` (just evaluated) for locals ``key``."""
        read = self.view._read
        if read & ~self.support[k]:
            self.grown(k, read)
        self.memo[k][self._pick[k](key)] = r

    def grown(self, k: int, read: int) -> None:
        """Property ``k`` was seen reading the participants in ``read`` too."""
        self.support[k] |= read
        self._pick[k] = _pick_lids(self.support[k])
        self.memo[k] = {}
        self.growth += 1  # (the reduced search relies on the supports: model/_por.py)

    def holds(self, k: int, state: tuple, key: tuple) -> bool:
        r = self.memo[k].get(self._pick[k](key))
        if r is not None:
            return r
        r, dynamic = self.evaluate(k, state)
        if not dynamic:
            self._remember(k, key, r)
        return r

    def classify(self, key: tuple, state: tuple, active: int = -1) -> int:
        """The bits of ``state``'s locals combination ``key`` (cached), see the class doc.

        Only properties with a bit in ``active`` are evaluated; the others get 0. The
        search passes the properties still undecided, which only ever shrink, so a
        cached 0 is never read for a property that matters.
        """
        bits = 0
        count = self.count
        props = self.props
        memo, pick = self.memo, self._pick
        for k in self.safety:
            if not active >> k & 1:
                continue
            r = memo[k].get(pick[k](key))
            if r is None:
                r, dynamic = self.evaluate(k, state)
                if dynamic:
                    bits |= 1 << (k + count)
                    continue
                self._remember(k, key, r)
            if r != (props[k].kind == "always"):
                bits |= 1 << k
        self.classes[key] = bits
        return bits


def _pick_lids(support: int):
    """``key -> the local-state numbers of the participants in support`` (a tuple)."""
    ps = [p for p in range(support.bit_length()) if support >> p & 1]
    if not ps:
        return lambda key: ()
    if len(ps) == 1:
        (p,) = ps
        return lambda key: (key[p],)
    return itemgetter(*ps)


# --------------------------------------------------------------------------- the search
class _Search:
    def __init__(
        self,
        engine: Engine,
        *,
        on_progress: Callable[[Stats], Any] | None,
        stop_at_first: bool,
        keep_graph: bool,
        progress_interval: float,
        max_states: int | None,
    ) -> None:
        self.engine = engine
        self.system = engine.system
        self.config = engine.config
        self.on_progress = on_progress
        self.stop_at_first = stop_at_first
        self.keep_graph = keep_graph
        self.interval = progress_interval
        self.max_states = max_states
        self.props = _Props(engine, self.system.properties)
        self.parent = array("I")
        self.act = array("H")
        self.offsets: array | None = array("I") if keep_graph else None
        self.targets: array | None = array("I") if keep_graph else None
        self.edges = 0
        self.depth = 0
        self.expanded = 0
        self.peak_frontier = 0
        self.frontier_bytes = 0
        self.vector_bytes = 0  # size of a frontier state's fingerprint vector, if any
        self.queued_fp_bytes: int | None = None  # bytes a loop queues per state instead, if set
        self.seen_values = True  # the visited dict maps fingerprints to state numbers
        self.seen: Any = None
        self.level_seen: set | None = None  # a lean loop's set of the next level's states
        # A lean search standing in for one that keeps the graph (see explore()) stops at
        # its first edge back, and sets graph_needed.
        self.lazy_graph = False
        self.graph_needed = False
        self.start = 0.0
        self.cpu_start = 0.0
        self.found: dict[int, tuple[Any, str]] = {}  # property -> (state, kind)
        self.witness: dict[int, int] = {}  # sometimes property -> state
        self.interrupted = False
        self.out_of_memory = False
        self.truncated = False
        self.stopped = False
        self.cycles: list[list[int]] = []
        self.loop = ""  # which BFS loop ran: "incremental", "fifo" or "generic"
        # Every edge found so far goes from one BFS level to the next: the graph is
        # then acyclic and the cycle analysis has nothing to find (see _liveness).
        self.layered = True
        # A reduced search stops at its first violation: the plain search that follows
        # finds the shortest counterexamples (model/_por.py).
        self.reducing = False
        self.por_abort: str | None = None  # why the reduced search stopped (model/_por.py)
        self.por_reduced = 0  # expansions the reduced search did not do in full
        self._update_active()

    def _update_active(self) -> None:
        """Bits of the properties still worth evaluating (see :class:`_Props`)."""
        count = self.props.count
        live = [
            k for k in self.props.safety if k not in self.found and k not in self.witness
        ]
        self.active = sum(1 << k for k in live) | sum(1 << (k + count) for k in live)
        self.eventual = [
            k for k, p in enumerate(self.props.props) if p.kind == "at-rest" and k not in self.found
        ]

    # -- accounting
    def stats(self, queue: int = 0) -> Stats:
        n = len(self.parent)
        secs = max(time.perf_counter() - self.start, 1e-9)
        cpu = max(time.process_time() - self.cpu_start, 1e-9)
        mem = self.memory()
        return Stats(
            states=n,
            edges=self.edges,
            depth=self.depth,
            queue=queue,
            seconds=round(secs, 3),
            cpu_seconds=round(cpu, 3),
            states_per_s=round(n / secs, 1),
            memory_bytes=mem,
            bytes_per_state=round(mem / n, 1) if n else 0.0,
            collision_probability=n * n / 2.0**61,
        )

    def memory(self) -> int:
        """Bytes held by the search: visited set, trace columns, graph, frontier, tables.

        The visited set is ``sys.getsizeof`` of the set/dict plus 32 bytes per fingerprint
        (60-bit ints are 32-byte objects) and, when the graph is kept, 32 per state-number
        value. The frontier is the peak number of queued states times the measured size
        of a queued state. Interning and memo tables are estimated from their sizes.
        ``bench/bench_check.py`` cross-checks this estimate with tracemalloc.
        """
        n = len(self.parent)
        total = sys.getsizeof(self.seen) + 32 * n
        if self.level_seen is not None:
            total += sys.getsizeof(self.level_seen)
        if isinstance(self.seen, dict) and self.seen_values:
            total += 32 * n
        for arr in (self.parent, self.act, self.offsets, self.targets):
            if arr is not None:
                total += sys.getsizeof(arr)
        # Per queued state: the tuples, a list slot, and its fingerprint (a 32-byte int) or
        # fingerprint vector in a parallel list (or what the loop queues instead).
        fp = 8 + (self.vector_bytes or 32) if self.queued_fp_bytes is None else self.queued_fp_bytes
        total += self.peak_frontier * (self.frontier_bytes + 8 + fp)
        total += self.tables_bytes()
        return total

    def tables_bytes(self) -> int:
        e = self.engine
        total = 0
        for p in range(e.n):
            total += sys.getsizeof(e._pid[p]) + sys.getsizeof(e.pinfo[p]) + sys.getsizeof(e.plid[p])
            total += len(e.pinfo[p]) * (64 + 8)  # (lid, mask, crashes) tuples
            total += sys.getsizeof(e._imoves[p]) + sys.getsizeof(e._crash[p])
            total += sys.getsizeof(e._lid[p]) + sys.getsizeof(e.lobj[p])
        total += sys.getsizeof(e._dmoves) + len(e._dmoves) * 120
        total += sys.getsizeof(e._hot) + sys.getsizeof(e._hot0) + len(e._hot) * 120
        total += sys.getsizeof(e._fhot) + sys.getsizeof(e._fhot0) + len(e._fhot) * 160
        total += sum(sys.getsizeof(t) for t in (e._qnum, e.qhead, e.qpop, e.qpush, e.qz)) + 100 * len(e._qnum)
        total += sys.getsizeof(e._handler)
        total += sys.getsizeof(self.props.classes) + len(self.props.classes) * 100
        for memo in self.props.memo:
            total += sys.getsizeof(memo)
        if e.sorted is not None:
            total += e.sorted.tables_bytes()
        elif e.psym:
            total += sum(sys.getsizeof(t) for row in e._rpid for t in row) + sum(map(sys.getsizeof, e._rdel))
        elif e.symmetric:
            total += sum(sys.getsizeof(t) for row in e._ppid for t in row)
            total += sum(sys.getsizeof(t) + 100 * len(t) for t in (*e._prow, *e._narrow))
        if e.vectors:
            vec_size = sys.getsizeof(e.lanes)  # a vector with every lane in use
            tables = (*e._pvec, e._dvec, e._qvec, *e._cvec, getattr(self, "queue_changes", {}))
            total += sum(sys.getsizeof(t) + vec_size * len(t) for t in tables)
            moves = sum(len(m) for m in e._dmoves.values()) + sum(len(m) for t in e._imoves for m in t.values())
            moves += sum(len(m) for m in e._fhot.values()) + sum(len(m) for t in e._finternal for m in t.values())
            total += moves * vec_size
        return total

    def _progress(self, queue: int) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats(queue))

    # -- properties
    def _attention(self, i: int, state: tuple, bits: int) -> None:
        """Slow path: some live property needs a look in ``state`` (number ``i``)."""
        props = self.props
        count = props.count
        changed = False
        for k in props.safety:
            if k in self.found or k in self.witness:
                continue
            if bits >> (k + count) & 1:
                r = props.evaluate(k, state)[0]
                hit = r != (props.props[k].kind == "always")
            else:
                hit = bool(bits >> k & 1)
            if not hit:
                continue
            changed = True
            if props.props[k].kind == "always":
                self.found[k] = (i, INVARIANT)
                if self.stop_at_first or self.reducing:
                    self.stopped = True
            else:
                self.witness[k] = i
        if changed:
            self._update_active()

    def _quiescent(self, i: int, state: tuple) -> None:
        props = self.props
        key = props.key(state)
        changed = False
        for k in self.eventual:
            if not props.holds(k, state, key):
                self.found[k] = (i, STUCK)
                changed = True
                if self.stop_at_first or self.reducing:
                    self.stopped = True
        if changed:
            self._update_active()

    def _check(self, i: int, state: tuple, quiescent: bool) -> None:
        if self.active:
            props = self.props
            key = props.key(state)
            bits = props.classes.get(key)
            if bits is None:
                bits = props.classify(key, state, self.active)
            if bits & self.active:
                self._attention(i, state, bits)
        if quiescent and self.eventual:
            self._quiescent(i, state)

    # -- the BFS
    def fast_loop(self) -> str | None:
        """Which generated loop (:mod:`sagaspec.model._loops`) searches this engine, or
        ``None`` for the generic loop over :meth:`Engine.expand`."""
        return _loop_kind(self.engine)

    def run(self, reducer: Any = None) -> None:
        """Search; with ``reducer`` (:mod:`sagaspec.model._por`), over its stubborn sets."""
        # The search allocates millions of small acyclic tuples and ints that reference
        # counting frees; cyclic collections would only rescan the growing frontier and
        # memo tables (about 8% of the time on the 3-order saga). Paused, then restored.
        with _gc_paused():
            return self._run(reducer)

    def _run(self, reducer: Any = None) -> None:
        try:
            kind = self.fast_loop()
            if reducer is not None and (kind is None or _REDUCED_GENERIC or _por._CYCLES != "layered"):
                self.loop = "generic"
                return run_reduced(self, reducer)
            if kind is None:
                self.loop = "generic"
                return self._run_generic()
            self.loop = kind
            if kind == "sorted":
                return run_sorted(self, reducer)
            if kind == "fifo":
                return self._run_fifo(reducer)
            # (bench/bench_scale.py swaps in an old plain loop, which takes no reducer.)
            return self._run_incremental(reducer) if reducer is not None else self._run_incremental()
        except OverflowError:
            # The action column is 16-bit and the parent column 32-bit.
            raise ModelError(
                "model too large for the explorer: a state with more than 65,535 enabled "
                "actions, or more than 4 billion states"
            ) from None

    def _begin(self) -> tuple:
        e = self.engine
        init = e.initial()
        f = e.fingerprint(init)
        self.seen = {f: 0} if self.keep_graph else {f}
        self.parent.append(0)
        self.act.append(0)
        self.frontier_bytes = sys.getsizeof(init) + sys.getsizeof(init[e.n])
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        return init

    def _report(self, expanded: int, edges: int, queued: int | None = None) -> None:
        """A progress report from a search loop (``queued``: states in its two levels)."""
        self.edges = edges
        if queued is not None:
            self.peak_frontier = max(self.peak_frontier, queued)
        self.expanded = expanded
        self._progress(len(self.parent) - expanded)

    def _next_level(self, frontier: list, nxt: list, depth: int) -> int:
        """A level is done: account for the frontier; the depth of the next one."""
        self.peak_frontier = max(self.peak_frontier, len(frontier) + len(nxt))
        self._end_level(nxt)
        if nxt:
            depth += 1
        self.depth = depth
        return depth

    def _end_level(self, nxt: list) -> None:
        if nxt:
            sample = nxt[len(nxt) // 2]
            self.frontier_bytes = max(
                self.frontier_bytes, sys.getsizeof(sample) + sys.getsizeof(sample[self.engine.n])
            )

    def _run_incremental(self, reducer: Any = None) -> None:
        """The BFS for unordered buses: incremental fingerprints, successors built lazily
        (the loop is generated: :mod:`sagaspec.model._loops`).

        Each move stores the constant it adds to the additive fingerprint
        (:meth:`Engine.additive_fingerprint`), so a successor's fingerprint is one
        addition away and its tuple is only built when it is new (most edges lead to
        states already seen). With symmetry, a generated check on the successor's
        participant states tells whether it is already canonical (the common case: the
        same shortcut applies) or which renaming makes it so; moves carry fingerprint
        vectors (:meth:`Engine.fingerprint_vector`: the fingerprints of all renamings),
        so even a successor that must be renamed is tested for "seen?" with one
        addition and a shift, and built and renamed only when it is new.

        Memory on big runs: the frontier queues states and their fingerprints (in an
        8-byte array), not vectors: a state's vector is recomputed when it is expanded
        and one of its moves needs a renaming (one generated call; a 4-order vector is
        24 lanes, about 250 bytes, and the frontier holds millions of states). When
        the graph is not kept, the visited dict maps every fingerprint to the shared
        ``0`` instead of a state number (a 32-byte int per state); parents are in the
        ``parent`` column.

        Enumerates successors in exactly the order of :meth:`Engine.expand`;
        ``tests/model/test_engine.py`` checks the graphs agree.
        """
        init, seen, f0 = self._begin_additive()
        self.queued_fp_bytes = 8
        self._loop("incremental", reducer, [init], array("Q", (f0,)), seen)

    def _run_fifo(self, reducer: Any = None) -> None:
        """The BFS for the FIFO bus: :meth:`_run_incremental` with queues as bus items.

        The bus is a short sorted tuple of interned channel queues, and a queue's weight
        is part of the additive fingerprint, so a successor's fingerprint is the
        parent's plus the move's participant constant plus the weight changes of the
        queue it pops and of the queues its publishes are appended to (found by
        bisection, pushes memoized): still no successor tuple unless it is new. With
        symmetry the same narrowing check and fingerprint vectors apply; a state's
        vector is computed from scratch, and only when one of its successors needs
        renaming (cheaper here than carrying it: FIFO queue changes are not constants
        of the move). Enumerates successors in exactly the order of
        :meth:`Engine.expand` (``tests/model/test_engine_symmetry.py`` checks the
        graphs agree).
        """
        init, seen, f0 = self._begin_additive()
        self._loop("fifo", reducer, [init], [f0], seen)

    def _begin_additive(self) -> tuple[tuple, dict, int]:
        init = self._begin()
        f0 = self.engine.additive_fingerprint(init)
        seen: dict[int, int] = {f0: 0}
        self.seen = seen
        self.vector_bytes = 0
        return init, seen, f0

    def _loop(self, kind: str, reducer: Any, frontier: list, ffps: Any, seen: dict, fsigs: Any = None) -> None:
        """Run the generated loop ``kind``, reduced by ``reducer`` unless ``None``."""
        lean = _LEAN and not self.keep_graph
        loop = compiled_loop(kind, reducer is not None, lean)
        if lean:
            seen = set(seen)  # (the initial state's fingerprint)
            self.seen_values = False
        else:
            # (A plain loop without the graph stores no state numbers in the visited dict.)
            self.seen_values = self.keep_graph or reducer is not None
        if reducer is None:
            loop(self, frontier, ffps, fsigs, seen, None, False)
        else:
            loop(self, frontier, ffps, fsigs, seen, reducer.select, reducer.static)

    def _finish(self, i: int, depth: int) -> None:
        keep = min(len(self.parent), len(self.act))  # a MemoryError may split an append
        if self.max_states is not None:
            # The state bound is a hard bound: drop the states the last expansion found
            # beyond it (never expanded or checked; every expanded state is below it).
            keep = min(keep, self.max_states)
        del self.parent[keep:]
        del self.act[keep:]
        if self.keep_graph and not (self.interrupted or self.stopped):
            self.offsets.append(len(self.targets))
        self.depth = depth
        self.expanded = i

    def _run_generic(self) -> None:
        """The BFS over :meth:`Engine.expand`: the reference the inlined loops are tested against."""
        e = self.engine
        fp = e.fingerprint
        expand = e.expand
        keep = self.keep_graph
        max_depth = self.config.max_depth
        max_states = self.max_states
        parent, act = self.parent, self.act
        offsets, targets = self.offsets, self.targets
        init = self._begin()
        seen = self.seen
        frontier = [init]
        last = self.start
        i = 0
        depth = 0
        try:
            while frontier:
                self.depth = depth
                nxt: list[tuple] = []
                nstart = len(parent)  # states numbered below are at this depth or less
                expand_level = max_depth is None or depth < max_depth
                for s in frontier:
                    if not expand_level:
                        quiet = e.is_quiescent(s)
                        if not quiet:
                            self.truncated = True
                        self._check(i, s, quiet)
                        if keep:
                            offsets.append(len(targets))
                        i += 1
                        continue
                    succs, quiet, _ = expand(s)
                    self._check(i, s, quiet)
                    if self.stopped:
                        break
                    self.edges += len(succs)
                    if keep:
                        offsets.append(len(targets))
                        for a, t in enumerate(succs):
                            f = fp(t)
                            j = seen.get(f)
                            if j is None:
                                j = len(parent)
                                seen[f] = j
                                parent.append(i)
                                act.append(a)
                                nxt.append(t)
                            elif j < nstart:
                                self.layered = False
                            targets.append(j)
                    else:
                        for a, t in enumerate(succs):
                            f = fp(t)
                            if f not in seen:
                                seen.add(f)
                                parent.append(i)
                                act.append(a)
                                nxt.append(t)
                    i += 1
                    # Checked after every expansion, so at most one expansion's new states
                    # pass the bound (and _finish drops those).
                    if max_states is not None and len(parent) >= max_states:
                        self.truncated = True
                        self.stopped = True
                        break
                    if not i & 255:
                        now = time.perf_counter()
                        if now - last >= self.interval:
                            last = now
                            self._report(i, self.edges, len(frontier) + len(nxt))
                if self.stopped:
                    break
                depth = self._next_level(frontier, nxt, depth)
                frontier = nxt
                now = time.perf_counter()
                if now - last >= self.interval:
                    last = now
                    self._report(i, self.edges)
        except (KeyboardInterrupt, MemoryError) as exc:
            # Out of memory stops the search like Ctrl-C: what it found so far stands.
            self.interrupted = True
            self.out_of_memory = isinstance(exc, MemoryError)
        self._finish(i, depth)

    # -- traces
    def chain(self, idx: int) -> list[int]:
        out = [idx]
        parent = self.parent
        while idx:
            idx = parent[idx]
            out.append(idx)
        return out[::-1]

    def canonical_states(self, idx: int) -> tuple[list[tuple], list[int]]:
        e = self.engine
        chain = self.chain(idx)
        s = e.initial()
        states = [s]
        acts = []
        for j in chain[1:]:
            a = self.act[j]
            succs = e.expand(s)[0]
            s = succs[a]
            states.append(s)
            acts.append(a)
        return states, acts

    def concretize(self, states: list[tuple], acts: list[int], loop: int | None = None) -> Path:
        """A real execution through the canonical ``states`` (action indices ``acts``)."""
        e = self.engine
        if not e.symmetric:
            descr = []
            for s, a in zip(states, acts, strict=False):
                descr.append(e.expand(s, actions=True)[2][a])
            return Path(e, states, descr, loop=loop)
        c = e.initial(canonical=False)
        raw = [c]
        descr = []
        targets = list(states[1:])
        if loop is not None:
            # The canonical cycle closes up to a renaming of the sagas; repeat it until
            # the concrete execution returns to the very same state.
            cycle = states[loop + 1:]
            loop_raw_index = None
        k = 0
        while k < len(targets):
            t = targets[k]
            succs, _q, ds = e.expand(c, actions=True, canonical=False)
            for succ, d0 in zip(succs, ds, strict=True):
                if e.canonical(succ) == t:
                    c, d = succ, d0
                    break
            else:  # pragma: no cover - guarded by construction
                raise ModelError("internal error: trace does not re-execute")
            raw.append(c)
            descr.append(d)
            k += 1
            if loop is not None and k == len(targets):
                if loop_raw_index is None:
                    loop_raw_index = loop
                if c == raw[loop_raw_index]:
                    break
                if len(raw) > (e.renamings + 1) * (len(states) + 1):
                    raise ModelError("internal error: symmetric lasso does not close")
                targets.extend(cycle)
        return Path(e, raw, descr, loop=loop)

    def path_to(self, idx: int) -> Path:
        states, acts = self.canonical_states(idx)
        return self.concretize(states, acts)

    def lasso(self, members: list[int]) -> Path:
        entry = members[0]
        states, acts = self.canonical_states(entry)
        loop = len(states) - 1
        cycle = shortest_cycle(entry, set(members), self.offsets, self.targets)
        e = self.engine
        s = states[-1]
        for _v, a in cycle:
            s = e.expand(s)[0][a]
            states.append(s)
            acts.append(a)
        return self.concretize(states, acts, loop=loop)

    def state_of(self, idx: int) -> tuple:
        return self.states_of([idx])[idx]

    def states_of(self, indices) -> dict[int, tuple]:
        """The (canonical) states numbered ``indices``, re-executed along the BFS tree.

        Shared ancestors are re-executed once (a cache of every state on the way), so
        rebuilding a whole strongly connected component costs about one expansion per
        distinct ancestor rather than one per state and depth.
        """
        e = self.engine
        cache: dict[int, tuple] = {0: e.initial()}
        parent, act = self.parent, self.act
        for idx in sorted(indices):
            chain = []
            j = idx
            while j not in cache:
                chain.append(j)
                j = parent[j]
            s = cache[j]
            for j in reversed(chain):
                s = e.expand(s)[0][act[j]]
                cache[j] = s
        return {i: cache[i] for i in indices}


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection inside (the search and the cycle analysis).

    What the search leaves alive (memo and move tables, the reducer's choices, millions
    of objects on big runs) was allocated while collection was off, so it is all in the
    youngest generation: the first collection after re-enabling would traverse every
    object (0.3 s of the 7 s reduced search of 3 orders with a crash each). Unless the
    caller froze objects itself, freeze + unfreeze moves them to the oldest generation
    without that traversal (where a full collection, rare, still sees them).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if _GC_HANDOFF and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _loop_kind(e: Engine) -> str | None:
    """See :meth:`_Search.fast_loop`."""
    if _FORCE_GENERIC or e.setbus or e.psym:
        # (The set bus: a publish already in the set adds nothing, so a move's
        # fingerprint change is not a constant of the move, which the generated
        # loops need. Participant symmetry: every successor is built and renamed.)
        return None
    if e.sorted is not None:
        return "sorted"  # "seen?" by orbit fingerprint (_sorted_symmetry.run_sorted)
    return "fifo" if e.fifo else "incremental"


def _fault_edges(search: _Search, exits: list[tuple[int, int]]) -> set[int]:
    """Positions of the fault edges among ``exits`` (``(state, edge position)`` pairs)."""
    e = search.engine
    by_state: dict[int, list[int]] = {}
    for v, k in exits:
        by_state.setdefault(v, []).append(k)
    states = search.states_of(by_state)
    offsets = search.offsets
    out = set()
    for v, ks in by_state.items():
        descr = e.expand(states[v], actions=True)[2]
        base = offsets[v]
        out.update(k for k in ks if descr[k - base][0] in FAULTS)
    return out


def _liveness(search: _Search) -> None:
    """``at_rest`` properties on bottom cycles (needs the complete graph)."""
    props = search.props
    pending = [k for k, p in enumerate(props.props) if p.kind == "at-rest" and k not in search.found]
    if not pending:
        return
    if search.layered:
        # Every edge leads from a BFS level to the next one, so no path returns to a
        # state: no cycles (terminal states were checked as quiescent by the search).
        return
    n = len(search.offsets) - 1
    cycles = bottom_cycles(n, search.offsets, search.targets, faults=lambda exits: _fault_edges(search, exits))
    search.cycles = cycles
    for members in cycles:
        pending = [k for k in pending if k not in search.found]
        if not pending:
            break
        states = search.states_of(members)
        for k in pending:
            if not any(props.holds(k, s, props.key(s)) for s in states.values()):
                search.found[k] = (members, CYCLE)


class _Route:
    """A counterexample as graph steps from the initial state: ``[(state, action index)]``,
    with ``loop`` the step the last state returns to (a lasso) or ``None``."""

    __slots__ = ("steps", "loop", "saga", "path")

    def __init__(self, steps: list[tuple[int, int]], loop: int | None, saga: int | None) -> None:
        self.steps = steps
        self.loop = loop
        self.saga = saga
        self.path: Path | None = None  # the concrete run, when already built


class _Labelled:
    """Every state of a complete search, its quiescence, and each edge's fairness action.

    Built with one :meth:`Engine.expand` per state, in BFS order (a state's children are
    numbered consecutively, so each is one successor of its parent's expansion). An
    edge's action is ``("i", participant, label)`` for an internal step, ``("d",
    delivery)`` for handling an in-flight message (any outcome, or dropping it), and
    ``None`` for a fault.
    """

    def __init__(self, search: _Search) -> None:
        e = search.engine
        parent, act = search.parent, search.act
        self.offsets, self.targets = search.offsets, search.targets
        n = len(parent)
        self.n = n
        states: list[Any] = [None] * n
        states[0] = e.initial()
        actions: list[Any] = [None] * len(self.targets)
        quiet = bytearray(n)
        names: dict[tuple, tuple] = {}
        offsets = self.offsets
        j = 1
        for i in range(n):
            succs, q, ds = e.expand(states[i], actions=True)
            quiet[i] = q
            base = offsets[i]
            for a, (kind, p, d, label) in enumerate(ds):
                if kind in FAULTS:
                    continue
                key = ("i", p, label) if d < 0 else ("d", d)
                actions[base + a] = names.setdefault(key, key)
            while j < n and parent[j] == i:
                states[j] = succs[act[j]]
                j += 1
        self.states, self.actions, self.quiet = states, actions, quiet
        self._enabled: dict[int, frozenset] = {}

    def enabled(self, v: int) -> frozenset:
        r = self._enabled.get(v)
        if r is None:
            acts = self.actions
            r = self._enabled[v] = frozenset(
                a for a in acts[self.offsets[v] : self.offsets[v + 1]] if a is not None
            )
        return r


def _predicate(engine: Engine, prop: Property, fn: Callable, saga: int | None) -> Callable[[tuple], bool]:
    """``state -> fn`` holds there, for ``saga`` if not None; errors name the property."""
    view = View(engine, ())
    what = prop.name if saga is None else f"{prop.name} (saga {saga})"

    def holds(state: tuple) -> bool:
        view._s = state
        try:
            r = fn(view) if saga is None else fn(view, saga)
        except (ModelError, PropertyError) as exc:
            raise PropertyError(f"property {what!r}: {exc}") from exc
        except Exception as exc:
            raise PropertyError(f"property {what!r} raised {type(exc).__name__}: {exc}") from exc
        if r is None:
            raise PropertyError(f"property {what!r} returned None; a predicate must return a bool")
        return bool(r)

    return holds


def _fair_violation(search: _Search, g: _Labelled, prop: Property, saga: int | None, strong: bool) -> _Route | None:
    """A fair run violating ``prop`` (``eventually`` or ``leads-to``) for ``saga``, or None.

    ``eventually p`` is ``init ~> p``. For ``p ~> q``: from every ``p``-and-not-``q``
    state (the seeds), the states reachable through not-``q`` states (faults included:
    they are possible) form the region; a quiescent state in it, or a fair cycle
    (:func:`fair_cycle`) among its non-fault edges, is a run on which ``q`` never comes.
    """
    states, offsets, targets = g.states, g.offsets, g.targets
    n = g.n
    if prop.kind == "eventually":
        q = _predicate(search.engine, prop, prop.pred, saga)
        seeds = [0] if not q(states[0]) else []
    else:
        p = _predicate(search.engine, prop, prop.pred, saga)
        q = _predicate(search.engine, prop, prop.then, saga)
        seeds = [v for v in range(n) if p(states[v]) and not q(states[v])]
    if not seeds:
        return None
    prev: dict[int, tuple[int, int] | None] = dict.fromkeys(seeds)
    order = list(seeds)
    qcache: dict[int, bool] = {}
    pos = 0
    while pos < len(order):
        v = order[pos]
        pos += 1
        for k in range(offsets[v], offsets[v + 1]):
            w = targets[k]
            if w in prev:
                continue
            r = qcache.get(w)
            if r is None:
                r = qcache[w] = q(states[w])
            if not r:
                prev[w] = (v, k)
                order.append(w)

    def route_to(v: int) -> list[tuple[int, int]]:
        tail = []
        while prev[v] is not None:
            u, k = prev[v]
            tail.append((u, k - offsets[u]))
            v = u
        chain = search.chain(v)
        head = [(u, search.act[w]) for u, w in zip(chain, chain[1:], strict=False)]
        return head + tail[::-1]

    for v in order:
        if g.quiet[v]:
            return _Route(route_to(v), None, saga)
    region = set(order)
    edges = []
    actions = g.actions
    for v in order:
        for k in range(offsets[v], offsets[v + 1]):
            a = actions[k]
            if a is not None and targets[k] in region:
                edges.append((v, targets[k], a, k))
    found = fair_cycle(order, edges, g.enabled, strong=strong)
    if found is None:
        return None
    members, required = found
    inside = set(members)
    rank = {v: i for i, v in enumerate(order)}
    entry = min(members, key=rank.__getitem__)
    inner = [e for e in edges if e[0] in inside and e[1] in inside]
    tour = fair_tour(entry, members, inner, required)
    prefix = route_to(entry)
    return _Route(prefix + [(u, k - offsets[u]) for u, _w, _a, k in tour], len(prefix), saga)


def _fair_quotient(system: System, config: Config) -> bool:
    """Whether eventually/leads_to are checked on the symmetry-reduced graph (renamings of
    the sagas by the general canonical form; not participant symmetry, not the sorted form)."""
    from sagaspec.model.engine import SORTED_MIN_PERMS

    return _FAIR_QUOTIENT and not system.symmetric and math.factorial(max(system.sagas, 1)) < SORTED_MIN_PERMS


def _fair_liveness(search: _Search) -> None:
    """``eventually`` and ``leads_to`` properties over fair runs (needs the complete graph)."""
    props = search.props.props
    pending = [k for k, p in enumerate(props) if p.kind in FAIR_KINDS and k not in search.found]
    if not pending:
        return
    g = _Labelled(search)
    strong = search.config.fairness == "strong"
    if search.engine.symmetric and search.engine.perms and not _FAIR_SYMMETRY:
        # On the quotient, the tracked saga's index carried along each edge's renaming
        # (model/liveness.py); a candidate is confirmed on the concrete run, and one that
        # is not (fairness over the actions the quotient cannot name) sends explore()
        # back to the full graph.
        ren = edge_renamings(search.engine, g)
        for k in pending:
            tried = 0
            for steps, loop in () if ren is None else quotient_fair_violations(search, g, ren, props[k], strong, _predicate):
                tried += 1
                route = _Route(steps, loop, None)
                route.path = concrete_run(search.engine, steps, loop, g.states)
                ok = route.path is not None
                if ok:
                    ok, route.saga = confirm_fair_violation(search.engine, route.path, props[k], strong)
                if ok:
                    search.found[k] = (route, STUCK if loop is None else CYCLE)
                    break
                if tried == _FAIR_CANDIDATES:
                    break
            if ren is None or (tried and k not in search.found):
                search.fair_fallback = True
                return
        return
    for k in pending:
        prop = props[k]
        for saga in range(search.system.sagas) if prop.per_saga else (None,):
            route = _fair_violation(search, g, prop, saga, strong)
            if route is not None:
                search.found[k] = (route, STUCK if route.loop is None else CYCLE)
                break


def _route_path(search: _Search, route: _Route) -> Path:
    e = search.engine
    s = e.initial()
    states, acts = [s], []
    for _v, a in route.steps:
        s = e.expand(s)[0][a]
        states.append(s)
        acts.append(a)
    return search.concretize(states, acts, loop=route.loop)


def _shrunk(engine: Engine, path: Path, prop: Property) -> Path:
    """``shrink`` a counterexample; explain a property that does not replay."""
    try:
        return shrink(engine, None, path, prop)
    except ModelError:
        if engine.symmetric:
            raise ModelError(
                f"property {prop.name!r} is not symmetric in the sagas: a state violating it "
                "under symmetry reduction does not violate it after renaming the sagas "
                "(quantify over all sagas, or check without symmetry)"
            ) from None
        raise ModelError(
            f"property {prop.name!r} gives different answers for the same state "
            "(a predicate must be a pure function of the View)"
        ) from None


def _result(search: _Search, *, stats: Stats, exhaustive: bool = True, notes: tuple[str, ...] = ()) -> CheckResult:
    system = search.system
    engine = search.engine
    violations = []
    verdicts: dict[str, str] = {}
    complete = not (search.interrupted or search.truncated or search.stopped)
    witnesses = {}
    for k, prop in enumerate(system.properties):
        if k in search.found:
            where, kind = search.found[k]
            saga = None
            if isinstance(where, _Route):
                # A run that never meets the goal: shrinking could let it meet it, so no.
                path = small = where.path or _route_path(search, where)
                saga = where.saga
            else:
                path = search.lasso(where) if kind == CYCLE else search.path_to(where)
                small = _shrunk(engine, path, prop) if kind != CYCLE else path
            violations.append(Violation(prop.name, kind, path, small, prop.description, prop.kind, saga))
            verdicts[prop.name] = VIOLATED
        elif prop.kind == "sometimes":
            if k in search.witness:
                verdicts[prop.name] = HELD
                witnesses[prop.name] = search.path_to(search.witness[k])
            else:
                verdicts[prop.name] = VACUOUS if complete else UNKNOWN
        else:
            verdicts[prop.name] = HELD if complete else UNKNOWN
    return CheckResult(
        system=system,
        config=search.config,
        stats=stats,
        violations=violations,
        verdicts=verdicts,
        complete=complete,
        exhaustive=exhaustive,
        interrupted=search.interrupted,
        truncated=search.truncated,
        out_of_memory=search.out_of_memory,
        witnesses=witnesses,
        notes=list(notes),
        warnings=[w for w in (engine.noop_warning(),) if w],
        _search=search,
    )



_POR_AGAIN = "partial-order reduction: "


def _explore_reduced(
    engine: Engine,
    cyclic: bool,
    notes: list[str],
    *,
    on_progress: Callable[[Stats], Any] | None,
    stop_at_first: bool,
    progress_interval: float,
    max_states: int | None,
    found: list[str],
) -> CheckResult | None:
    """The search over stubborn sets (:mod:`sagaspec.model._por`), or ``None`` when its
    answer cannot stand (a violation, a cycle, a property it cannot follow): the caller
    then searches without reduction, ``notes`` says why and ``found`` gets the
    properties it saw violated."""
    reducer = reducer_for(engine)
    support: list[int] = []
    wasted = 0
    while True:
        search = _Search(
            engine,
            on_progress=on_progress,
            stop_at_first=stop_at_first,
            keep_graph=False,
            progress_interval=progress_interval,
            max_states=max_states,
        )
        for k, read in enumerate(support):
            if read:
                search.props.grown(k, read)
        search.reducing = True
        search.run(reducer)
        if search.por_abort != ABORT_SUPPORT or search.interrupted:
            break
        # A property read a participant the reduction had assumed it does not: start
        # again knowing it (supports only grow, so this ends).
        wasted += len(search.parent)
        support = list(search.props.support)
    states = len(search.parent)
    if wasted:
        notes.append(
            f"partial-order reduction started again after {wasted:,} states: a property was "
            "seen reading more participants than first observed"
        )
    why = None
    if search.interrupted:
        pass  # what it found stands, as in a plain search
    elif search.por_abort:
        why = search.por_abort
    elif search.found:
        why = "a violation was found, so the search runs again for the shortest counterexamples"
    elif cyclic and not search.layered and not (search.interrupted or search.truncated):
        why = "the reduced graph has cycles, which at_rest properties need the full graph for"
    else:
        why = check_declarations(engine, reducer.publishes)
    if why is not None:
        notes.append(f"{_POR_AGAIN}{why}; {states:,} states explored with it, then without")
        found.extend(search.props.props[k].name for k in search.found)  # (found again: see explore)
        return None
    if on_progress is not None and not search.interrupted:
        try:
            search._progress(states - search.expanded)
        except (KeyboardInterrupt, MemoryError) as exc:
            search.interrupted = True
            search.out_of_memory = isinstance(exc, MemoryError)
    notes.append(
        f"partial-order reduction: {states:,} states explored, {search.por_reduced:,} of "
        f"{search.expanded:,} expansions reduced (the unreduced count needs a run without it)"
    )
    return _result(search, stats=search.stats(queue=states - search.expanded), notes=tuple(notes))


def explore(
    system: System,
    config: Config | None = None,
    *,
    on_progress: Callable[[Stats], Any] | None = None,
    stop_at_first: bool = False,
    keep_graph: bool | None = None,
    progress_interval: float = 1.0,
    max_states: int | None = None,
) -> CheckResult:
    """Explore every reachable state of ``system`` under ``config``, breadth first.

    Parameters
    ----------
    on_progress
        Called about every ``progress_interval`` seconds with a :class:`Stats` snapshot,
        and once more when the search ends (so even a short search reports a line).
        If it raises :class:`KeyboardInterrupt` (as Ctrl-C does anywhere in the search),
        the search stops and a partial result (``complete=False``) is returned.
    stop_at_first
        Stop at the first violation of any property.
    keep_graph
        Keep the state graph (CSR arrays, 4 bytes per edge). ``None``: only when there
        are ``at_rest``, ``eventually`` or ``leads_to`` properties (cycles need it;
        ``False`` is then refused rather than leave them unchecked).
    max_states
        Stop (incomplete) after this many distinct states.

    The first violation of each property is a shortest path (BFS order; actions in the
    engine's deterministic order), reported together with its shrunk form.
    """
    config = config or Config()
    if max_states is not None and (not isinstance(max_states, int) or max_states < 1):
        raise UsageError(f"explore: max_states must be a positive integer or None, got {max_states!r}")
    config = settle_symmetry(system, config)
    notes: list[str] = []
    fair = [p.name for p in system.properties if p.kind in FAIR_KINDS]
    if fair and config.symmetry and not _FAIR_SYMMETRY and not _fair_quotient(system, config):
        # Not sound on the symmetry-reduced (quotient) graph, so checked on the full one
        # (TLC has the same limit). A quotient edge leads to the canonical form of the
        # successor, i.e. renames the sagas; the analysis follows saga *indices*: a
        # per-saga goal "saga i" is evaluated on each representative for index i while
        # the saga it tracks moves to another index, and fairness compares action names
        # ("deliver saga 0's event", "flip 0") that a renaming swaps. Two sagas whose
        # slots a step swaps, with "eventually flag_i": every run sets each saga's flag,
        # but the quotient is one state with a self-loop where index 0's flag is unset,
        # a fair cycle, so it would report a violation
        # (tests/model/test_liveness_fairness.py). _fair_liveness carries the renaming
        # along each edge (Emerson & Sistla's annotated quotient) for renamings of the
        # sagas by the general canonical form; participant symmetry and the sorted form
        # (many sagas) do not give each edge's renaming, so those still switch it off.
        # Partial-order reduction is off here too (por_blocker).
        config = dataclasses.replace(config, symmetry=False)
        notes.append(
            f"symmetry reduction is off: {', '.join(fair)} (eventually/leads-to) are checked "
            "over fair runs of the unreduced state graph"
        )
    for p in system.properties:
        if p.per_saga and system.sagas < 1:
            raise ModelError(f"property {p.name!r} is per saga, but system {system.name!r} declares no sagas (System(sagas=N))")
    engine = Engine(system, config)
    cyclic = any(p.kind in ("at-rest", *FAIR_KINDS) for p in system.properties)
    if keep_graph is not None and cyclic and not keep_graph:
        raise UsageError("explore: keep_graph=False would leave at_rest/eventually/leads_to properties unchecked")
    found: list[str] = []  # properties the reduced search saw violated, if it gave way
    if config.por is not False:  # (None: wherever it applies; True: asked for)
        why = "the state graph was asked for" if keep_graph else por_blocker(
            engine, fair=bool(fair), max_depth=config.max_depth
        )
        if why is None:
            reduced = _explore_reduced(
                engine, cyclic, notes, on_progress=on_progress, stop_at_first=stop_at_first,
                progress_interval=progress_interval, max_states=max_states, found=found,
            )
            if reduced is not None:
                return reduced
        elif config.por:
            notes.append(f"partial-order reduction is off: {why}")
    # at_rest properties need the graph only if it has a cycle, and a search whose every
    # edge leads to the next level has none: such a search keeps no graph (lean loop) and
    # stops at its first edge back, then the search runs again keeping it.
    lazy = keep_graph is None and cyclic and not fair and _LEAN and _loop_kind(engine) is not None
    if keep_graph is None:
        keep_graph = cyclic
    search = _Search(
        engine,
        on_progress=on_progress,
        stop_at_first=stop_at_first,
        keep_graph=keep_graph and not lazy,
        progress_interval=progress_interval,
        max_states=max_states,
    )
    search.lazy_graph = lazy
    search.run()
    if search.graph_needed and not search.interrupted:
        search = _Search(
            engine,
            on_progress=on_progress,
            stop_at_first=stop_at_first,
            keep_graph=True,
            progress_interval=progress_interval,
            max_states=max_states,
        )
        search.run()
    if config.por is not False and notes and notes[-1].startswith(_POR_AGAIN):
        notes[-1] += f" ({len(search.parent):,} states)"
        if not (search.interrupted or search.stopped or search.truncated):
            # Every state the reduced search met is reachable: a violation it found that
            # the full search does not find is a predicate that changed its mind.
            names = [search.props.props[k].name for k in search.found]
            for name in found:
                if name not in names:
                    raise ModelError(
                        f"property {name!r} gives different answers for the same state "
                        "(a predicate must be a pure function of the View)"
                    )
    if on_progress is not None and not search.interrupted:
        try:
            search._progress(len(search.parent) - search.expanded)
        except (KeyboardInterrupt, MemoryError) as exc:
            search.interrupted = True
            search.out_of_memory = isinstance(exc, MemoryError)
    if keep_graph and not (search.interrupted or search.stopped or search.truncated):
        try:
            with _gc_paused() if _GC_HANDOFF else contextlib.nullcontext():
                # (the analysis builds big lists and dicts of tuples)
                _liveness(search)
                _fair_liveness(search)
        except KeyboardInterrupt:
            # Interrupted while analysing cycles: what the search proved still stands,
            # liveness properties not yet decided are then "unknown".
            search.interrupted = True
    if getattr(search, "fair_fallback", False):
        full = explore(
            system, dataclasses.replace(config, symmetry=False), on_progress=on_progress, stop_at_first=stop_at_first,
            keep_graph=keep_graph, progress_interval=progress_interval, max_states=max_states,
        )
        note = ("symmetry reduction is off: a fair run the symmetry-reduced graph suggests did not confirm "
                "(fairness over actions a renaming of the sagas changes), so the unreduced graph was checked")
        return dataclasses.replace(full, notes=(*notes, note, *full.notes))
    # The statistics cover the search and the cycle analysis, not the trace rendering.
    return _result(search, stats=search.stats(queue=len(search.parent) - search.expanded), notes=tuple(notes))


def simulate(
    system: System,
    config: Config | None = None,
    walks: int = 1000,
    depth: int = 200,
    seed: int = 0,
    *,
    on_progress: Callable[[Stats], Any] | None = None,
    progress_interval: float = 1.0,
    stop_at_first: bool = False,
) -> CheckResult:
    """Random walks: ``walks`` runs of at most ``depth`` steps from the initial state.

    Each step picks an enabled action uniformly with a ``random.Random(seed)``, so a run
    is reproducible. ``always`` properties are checked in every visited state,
    ``at_rest`` ones where a walk ends quiescent, ``eventually`` and ``leads_to`` ones on
    a walk that ends quiescent without meeting the goal, ``sometimes`` ones anywhere.
    Violations are shrunk. The result has ``exhaustive=False`` and ``complete=False``:
    properties not violated are ``"unknown"`` (not proven), ``sometimes`` ones seen are
    ``"held"``. Cycles are not analysed.
    """
    config = config or Config()
    for name, value, low in (("walks", walks, 1), ("depth", depth, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UsageError(f"simulate: {name} must be an integer >= {low}, got {value!r}")
    config = settle_symmetry(system, config)
    engine = Engine(system, config)
    rng = random.Random(seed)
    props = _Props(engine, system.properties)
    found: dict[int, tuple[list, list, str]] = {}
    witness: dict[int, tuple[list, list]] = {}
    seen: set[int] = set()
    fp = engine.fingerprint
    start = time.perf_counter()
    last = start
    steps = 0
    interrupted = False
    walk = 0
    max_len = 0

    def snapshot() -> Stats:
        secs = max(time.perf_counter() - start, 1e-9)
        mem = sys.getsizeof(seen) + 32 * len(seen)
        return Stats(
            states=len(seen), edges=steps, depth=max_len, queue=0, seconds=round(secs, 3),
            states_per_s=round(len(seen) / secs, 1), memory_bytes=mem,
            bytes_per_state=round(mem / max(len(seen), 1), 1),
            collision_probability=len(seen) ** 2 / 2.0**61, mode="simulation", walks=walk,
        )

    count = props.count
    saga_of: dict[int, int | None] = {}

    def _walk_violates(prop: Property, saga: int | None, states: list) -> bool:
        """The walk ended quiescent: did the goal never hold (after the last trigger)?"""
        goal = _predicate(engine, prop, prop.then if prop.kind == "leads-to" else prop.pred, saga)
        if prop.kind == "eventually":
            return not any(goal(t) for t in states)
        trigger = _predicate(engine, prop, prop.pred, saga)
        pending = False
        for t in states:
            if goal(t):
                pending = False
            elif trigger(t):
                pending = True
        return pending

    def check(states: list, descr: list, quiescent: bool) -> None:
        s = states[-1]
        key = props.key(s)
        bits = props.classes.get(key)
        if bits is None:
            bits = props.classify(key, s)
        if bits:  # some always-property false or sometimes-property true, or dynamic
            for k in props.safety:
                if k in found or k in witness:
                    continue
                if bits >> (k + count) & 1:
                    hit = props.evaluate(k, s)[0] != (props.props[k].kind == "always")
                else:
                    hit = bool(bits >> k & 1)
                if hit and props.props[k].kind == "always":
                    found[k] = (list(states), list(descr), INVARIANT)
                elif hit:
                    witness[k] = (list(states), list(descr))
        if quiescent:
            for k, prop in enumerate(props.props):
                if k in found:
                    continue
                if prop.kind == "at-rest" and not props.holds(k, s, key):
                    found[k] = (list(states), list(descr), STUCK)
                elif prop.kind in FAIR_KINDS:
                    for saga in range(system.sagas) if prop.per_saga else (None,):
                        if _walk_violates(prop, saga, states):
                            found[k] = (list(states), list(descr), STUCK)
                            saga_of[k] = saga
                            break

    try:
        for walk in range(1, walks + 1):  # noqa: B007 - reported in stats
            s = engine.initial(canonical=False)
            states, descr = [s], []
            seen.add(fp(s))
            for _ in range(depth + 1):
                succs, quiet, ds = engine.expand(s, actions=True, canonical=False)
                check(states, descr, quiet)
                if not succs or len(descr) >= depth or (stop_at_first and found):
                    break
                j = rng.randrange(len(succs))
                s = succs[j]
                states.append(s)
                descr.append(ds[j])
                seen.add(fp(s))
                steps += 1
            max_len = max(max_len, len(descr))
            if stop_at_first and found:
                break
            now = time.perf_counter()
            if on_progress is not None and now - last >= progress_interval:
                last = now
                on_progress(snapshot())
    except KeyboardInterrupt:
        interrupted = True
    violations = []
    verdicts = {}
    witnesses = {}
    for k, prop in enumerate(system.properties):
        if k in found:
            states, descr, kind = found[k]
            path = Path(engine, states, descr)
            fair = prop.kind in FAIR_KINDS  # (a shrunk walk might meet the goal)
            small = path if fair else shrink(engine, None, path, prop)
            violations.append(Violation(prop.name, kind, path, small, prop.description, prop.kind, saga_of.get(k)))
            verdicts[prop.name] = VIOLATED
        elif k in witness:
            states, descr = witness[k]
            witnesses[prop.name] = shrink(engine, None, Path(engine, states, descr), prop)
            verdicts[prop.name] = HELD
        else:
            verdicts[prop.name] = UNKNOWN
    return CheckResult(
        system=system, config=config, stats=snapshot(), violations=violations,
        verdicts=verdicts, complete=False, exhaustive=False, interrupted=interrupted,
        witnesses=witnesses, warnings=[w for w in (engine.noop_warning(),) if w],
    )
