"""Frozen copy of ``sagaspec.model.distributed`` as of commit 9a8d227: the distributed search
before fingerprints were stable across processes (owners asked "do you have these?"
before states were built and sent) and before the workers became long-lived actors
(per BFS level an expand task per worker, a pick task per pair, a receive per worker).

Only ``bench/bench_distributed.py`` uses it (variant ``old``), to run the old and the new
search side by side in one benchmark run; it is not part of the package. The workers
import it by name (``_old_distributed``): the bench puts ``bench/`` on ``sys.path``,
which Dask's spawned workers inherit.

Original module doc:

Exhaustive search over several processes or machines, on Dask distributed.

:func:`explore_distributed` gives the verdicts and counts of
:func:`~sagaspec.model.explore.explore`, with the state space partitioned across
workers by hash (the design of Stern and Dill's parallel Murphi and of TLC's
distributed mode):

* Each worker rebuilds the system from a :class:`Recipe` (a shipped design's
  ``System.meta`` or a ``pkg.module:NAME`` target; closures are never pickled) and
  runs its own :class:`~sagaspec.model.engine.Engine`.
* A state belongs to the worker its *orbit hash* picks: a hash that is the same for
  every renaming of the sagas and in every process (interned numbers and Python's
  string hashes differ between processes, so neither can decide ownership), of the
  whole state or of one participant's state (:func:`choose_partition`: fewer
  successors cross to another worker). The owner keeps the fingerprints of its
  states, checks their properties and expands them; no other worker does.
* On the unordered bus a worker runs the sequential search's incremental loop: the
  orbit hash is a sum over the state's parts, so a successor's fingerprint and owner
  are its parent's plus constants of the move, and a successor is built only when it is
  new to this worker (kept, or batched for its owner). Other buses build every
  successor.
* The search goes breadth first, one level at a time, so the first violation of each
  property is found at its shortest depth: every worker expands its frontier, keeps the
  successors it owns and sends the others in one batch per owner; the driver starts the
  next level when every owner has received and deduplicated its batches. Batches carry
  states as tuples of the sender's interned numbers (with their orbit sums) plus, once
  per pair of workers, the new local states and messages those numbers stand for, so a
  level costs about 30 bytes per state sent.
* Traces are not kept across workers: the shortest counterexamples and the witnesses
  of ``sometimes`` properties are re-executed by the sequential search bounded at the
  depth the distributed search found them (and checked against it).
* Cycles need the state graph, which the workers do not collect. When every edge leads
  from one BFS level to the next (no state is reached again at a later level) the graph
  has no cycle and ``at_rest`` properties are decided by the quiescent states alone.
  Otherwise, and for ``eventually``/``leads_to``, those properties are checked by the
  sequential search (``liveness="sequential"``) or reported unknown
  (``liveness="unknown"``); the result's notes say which.

Dask is an optional dependency: ``pip install 'sagaspec[cluster]'``.
"""

from __future__ import annotations

import dataclasses
import enum
import gc
import hashlib
import io
import itertools
import os
import pickle
import sys
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagaspec.model.engine import FP_MASK, LANE, SHIFT, Engine, _generate
from sagaspec.model.explore import _Search, explore
from sagaspec.model.participant import Msg
from sagaspec.model.properties import FAIR_KINDS, HELD, UNKNOWN, VACUOUS, VIOLATED
from sagaspec.model.results import CYCLE, CheckResult, Stats
from sagaspec.model.system import Config, System, load_system, settle_symmetry

from sagaspec.errors import ModelError, UsageError

__all__ = ["Recipe", "Traffic", "explore_distributed", "require_cluster_extra"]

INSTALL_HINT = "pip install 'sagaspec[cluster]'"
_M64 = (1 << 64) - 1
_K = 0x9E3779B97F4A7C15  # odd: 2**64 / the golden ratio


def require_cluster_extra() -> None:
    """Raise a one-line :class:`UsageError` when Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(
            f"--workers/--cluster run the search on Dask distributed, which is not installed: {INSTALL_HINT}"
        ) from None


# --------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """How a worker rebuilds the system: picklable data, never a closure.

    ``meta``: a saga system's ``System.meta`` (rebuilt with
    :func:`~sagaspec.model.saga.saga_system_from_meta`); ``target``: a
    ``pkg.module:NAME`` or ``file.py:NAME`` for :func:`load_system`, imported with
    ``path`` in front of ``sys.path``. ``properties``: the names to keep (None: all).
    """

    meta: dict | None = None
    target: str | None = None
    path: tuple[str, ...] = ()
    properties: tuple[str, ...] | None = None

    @classmethod
    def of(cls, system: System, target: str | None = None) -> Recipe:
        """The recipe of ``system``: from ``target`` if given, else from its saga meta."""
        props = tuple(p.name for p in system.properties)
        if target is not None:
            return cls(target=target, path=(os.getcwd(),), properties=props)
        meta = dict(system.meta or {})
        if "design" not in meta:
            raise UsageError(
                f"system {system.name!r} cannot be rebuilt on a worker: give its target "
                "(pkg.module:NAME) or build it with saga_system()"
            )
        design = meta["design"]
        if isinstance(design, str) and os.path.exists(design):
            meta["design"] = os.path.abspath(design)
        return cls(meta=meta, properties=props)

    def build(self) -> System:
        if self.target is not None:
            for entry in self.path:
                if entry not in sys.path:
                    sys.path.append(entry)
            system = load_system(self.target)
        else:
            from sagaspec.model.saga import saga_system_from_meta

            system = saga_system_from_meta(dict(self.meta or {}))
        if self.properties is not None:
            by_name = {p.name: p for p in system.properties}
            missing = [n for n in self.properties if n not in by_name]
            if missing:
                raise ModelError(f"the rebuilt system has no property {', '.join(missing)}")
            system = dataclasses.replace(system, properties=tuple(by_name[n] for n in self.properties))
        return system


# --------------------------------------------------------------------------- stable hashing
def _stable(obj: Any, out: list) -> None:
    """Append a process-independent encoding of ``obj`` (equal values, equal encodings)."""
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        out.append(f"{type(obj).__name__[0]}{obj!r};")
    elif isinstance(obj, enum.Enum):
        out.append(f"E{type(obj).__qualname__}.{obj.name};")
    elif isinstance(obj, (tuple, list)):
        # A namedtuple equals the plain tuple of its values, so it encodes as one.
        out.append("(")
        for x in obj:
            _stable(x, out)
        out.append(")")
    elif isinstance(obj, (frozenset, set)):
        parts = []
        for x in obj:
            sub: list = []
            _stable(x, sub)
            parts.append("".join(sub))
        out.append("{" + "".join(sorted(parts)) + "}")
    elif isinstance(obj, dict):
        parts = []
        for k, v in obj.items():
            sub = []
            _stable(k, sub)
            _stable(v, sub)
            parts.append("".join(sub))
        out.append("<" + "".join(sorted(parts)) + ">")
    elif dataclasses.is_dataclass(obj):
        out.append(f"D{type(obj).__qualname__}(")
        for f in dataclasses.fields(obj):
            _stable(getattr(obj, f.name), out)
        out.append(")")
    else:
        raise ModelError(
            f"cannot partition states across workers: a local state holds a {type(obj).__name__}, "
            "which has no process-independent form; use tuples, frozensets, dataclasses, enums and scalars"
        )


def _h64(key: tuple) -> int:
    out: list = []
    _stable(key, out)
    return int.from_bytes(hashlib.blake2b("".join(out).encode(), digest_size=8).digest(), "little")


# --------------------------------------------------------------------------- batches
class _Pickler(pickle.Pickler):
    """Pickles the classes a worker cannot import by name (those a spec model makes at run
    time) as references to the same class of the receiving worker's own participants
    (found by attribute name, see :func:`_class_registry`), so a received local state is
    an instance of the receiver's class."""

    def __init__(self, file, registry: dict) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._by_class = {cls: key for key, cls in registry.items()}

    def persistent_id(self, obj):
        return self._by_class.get(obj) if isinstance(obj, type) else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, registry: dict) -> None:
        super().__init__(file)
        self._registry = registry

    def persistent_load(self, key):
        return self._registry[tuple(key)]


def _importable(cls: type) -> bool:
    mod = sys.modules.get(cls.__module__)
    obj = mod
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def _class_registry(system: System) -> dict:
    """``(participant index, attribute) -> class`` for the classes participants keep as
    attributes and that pickle cannot find by name (built the same way on every worker)."""
    out = {}
    for p, part in enumerate(system.participants):
        for name, value in sorted(vars(part).items()):
            if isinstance(value, type) and not _importable(value):
                out[(p, name)] = value
    return out


class _Memo(dict):
    """A dict that computes and stores a missing entry with ``make(key)``."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


# --------------------------------------------------------------------------- a worker's share
class _Shard:
    """One worker's part of the search: its engine, visited fingerprints and frontier."""

    def __init__(self, recipe: Recipe, config: Config, index: int, count: int, loop: str = "auto",
                 partition: tuple[int, ...] | None = None) -> None:
        system = recipe.build()
        self.registry = _class_registry(system)
        self.engine = e = Engine(system, config)
        # The sequential search's property bookkeeping, reused as is: its ``found`` and
        # ``witness`` record the BFS depth of the first state (the "index" we pass).
        self.search = _Search(
            e, on_progress=None, stop_at_first=False, keep_graph=False,
            progress_interval=1e9, max_states=None,
        )
        self.index, self.count = index, count
        n = e.n
        self.n = n
        sagas = system.sagas if e.symmetric else 0
        self.perms = list(itertools.permutations(range(sagas))) if sagas else [()]
        self.partition = partition
        whole = partition is None
        self.dup_weight = _h64(("dups",)) * len(self.perms) if whole else 0
        self._orbit_pid = [_Memo((lambda pid, p=p: self._inv_pid(p, pid)) if whole or p in partition else (lambda pid: 0))
                           for p in range(n)]
        self._orbit_item = _Memo(self._inv_item if whole else (lambda x: 0))
        self._orbit_sum = self._make_orbit_sum()
        # The loop of the sequential search for unordered buses, with ownership (see
        # _expand_fast); the other buses and symmetries expand every successor.
        self.fast = loop != "generic" and e.sorted is None and not (e.fifo or e.setbus or e.psym)
        self.loop = "fast" if self.fast else "generic"
        # What this worker has told each other worker its numbers stand for.
        self.sent_pid = [[set() for _ in range(n)] for _ in range(count)]
        self.sent_d: list[set] = [set() for _ in range(count)]
        # Other workers' numbers in this worker's numbering.
        self.tr_pid = [[{} for _ in range(n)] for _ in range(count)]
        self.tr_d: list[dict[int, int]] = [{} for _ in range(count)]
        # Fast loop: fingerprint (the engine's additive one, as the sequential search's)
        # -> BFS level; the frontier's fingerprints and orbit sums in parallel arrays.
        # Generic loop: a set of fingerprints, plus the current level's.
        self.seen: Any = {} if self.fast else set()
        self.new: set[int] = set()
        self.level = 0
        self.frontier: list[tuple] = []
        self.next: list[tuple] = []
        self.ffps, self.fos = array("Q"), array("Q")
        self.nfps, self.nos = array("Q"), array("Q")
        self.batches_out = 0  # messages: one batch per other worker and level, if not empty
        self.received = 0  # states other workers sent here
        self.received_dup = 0  # ... that this worker already had
        self._oi: list[dict] = [{} for _ in range(n)]  # orbit-sum deltas of internal moves
        self._od_dup: dict[int, tuple] = {}  # ... of delivery moves (keyed as Engine._hot)
        self._od_nodup: dict[int, tuple] = {}
        self._convs: dict[int, Any] = {}
        self.cpu_expand = self.cpu_encode = self.cpu_receive = 0.0
        self._cpu_mark = 0.0  # self.cpu at the end of the previous level
        self.layered = True
        self.sent_prev: set[int] = set()
        self.edges = 0
        self.bytes_out = [0] * count
        self.states_out = [0] * count
        self.cpu = 0.0
        self.wall = 0.0  # seconds spent in expand/receive (the rest is waiting)
        init = e.initial()
        if self.owner(init) == index:
            if self.fast:
                self._add_fast(init, self._orbit_sum(init))
            else:
                self._add(init)
        self._turn()

    # -- ownership
    def _renamed(self, msg: Msg, perm: tuple) -> Msg:
        if perm and 0 <= msg.saga < len(perm):
            return Msg(msg.type, perm[msg.saga], msg.src, msg.data)
        return msg

    def _inv_pid(self, p: int, pid: int) -> int:
        e = self.engine
        lid, mask, crashes = e.pinfo[p][pid]
        local = e.lobj[p][lid]
        ds = [d for d in range(mask.bit_length()) if mask >> d & 1]
        part = e.parts[p]
        total = 0
        for perm in self.perms:
            mine = part.permute(local, perm) if perm and perm != tuple(range(len(perm))) else local
            store = frozenset((e.ddest[d], self._renamed(e.msgs[e.dmid[d]], perm)) for d in ds)
            total += _h64(("p", p, mine, store, crashes))
        return total & _M64

    def _inv_item(self, x: int) -> int:
        e = self.engine
        ds = e.queue(x) if e.fifo else (x,)
        total = 0
        for perm in self.perms:
            total += _h64(("b", tuple((e.ddest[d], self._renamed(e.msgs[e.dmid[d]], perm)) for d in ds)))
        return total & _M64

    def owner(self, s: tuple) -> int:
        """The worker that owns ``s``'s orbit (the same answer in every process).

        The sum of the orbit hashes of the state's parts (each a sum of 64-bit hashes,
        memoized per interned part), mixed, modulo the number of workers.
        """
        return self._own(self._orbit_sum(s))

    def _own(self, o: int) -> int:
        # The low bits of a sum depend on the low bits of its terms alone (the parity of a
        # sum is the XOR of the parities): multiply by an odd constant and take the high
        # half, which depends on every bit (Fibonacci hashing). Without it 2 workers owned
        # 58% and 42% of the 10.6M states of corrected, 3 orders, 1 crash.
        return ((o * _K & _M64) >> 32) % self.count

    def _make_orbit_sum(self):
        """``s -> sum of its parts' orbit hashes mod 2**64``: additive, so a move changes it
        by a constant of the move (see _expand_fast); generated and unrolled per model."""
        n = self.n
        env = {f"P{p}": self._orbit_pid[p] for p in range(n)}
        env.update(B=self._orbit_item.__getitem__, W=self.dup_weight, M=_M64)
        src = ("lambda s: (" + "".join(f"P{p}[s[{p}]] + " for p in range(n))
               + f"sum(map(B, s[{n}])) + s[{n + 1}] * W) & M")
        return _generate("orbit_sum", src, env)

    def _turn(self) -> None:
        """The next level becomes the frontier."""
        self.frontier, self.next = self.next, []
        self.ffps, self.nfps = self.nfps, array("Q")
        self.fos, self.nos = self.nos, array("Q")

    def _add_fast(self, s: tuple, o: int) -> bool:
        """Add ``s`` (any renaming, this worker's numbering) with orbit sum ``o`` if new."""
        e = self.engine
        if e.symmetric:
            s = e.canonical(s)
        f = e.additive_fingerprint(s)
        j = self.seen.get(f)
        if j is not None:
            if j < self.level:
                self.layered = False
            return False
        self.seen[f] = self.level
        self.next.append(s)
        self.nfps.append(f)
        self.nos.append(o)
        return True

    def _add(self, s: tuple) -> bool:
        f = Engine.fingerprint(s)
        if f in self.seen:
            if f not in self.new:
                self.layered = False
            return False
        self.seen.add(f)
        self.new.add(f)
        self.next.append(s)
        return True

    # -- one level
    def expand(self, depth: int, expand: bool) -> tuple:
        """Check and expand the frontier; the batches for worker 0, 1, ... (None: nothing)."""
        t0 = time.process_time()
        w0 = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.level = depth + 1
            if self.fast:
                out, outo, edges, truncated = self._expand_fast(depth, expand)
            else:
                out, edges, truncated = self._expand_generic(depth, expand)
                outo = None
            self.edges += edges
            t1 = time.process_time()
            self.cpu_expand += t1 - t0
            batches: list = [None] * self.count
            for w in range(self.count):
                if out[w]:
                    batches[w] = self._encode(w, out[w], outo[w] if outo is not None else None)
                    self.batches_out += 1
                    self.bytes_out[w] += len(batches[w][0]) + len(batches[w][1])
                    self.states_out[w] += len(out[w])
            self.cpu_encode += time.process_time() - t1
            search = self.search
            # The driver reads this back from receive(): no task of its own per level.
            self.summary = {
                "found": {k: kind for k, (_i, kind) in search.found.items()},
                "witness": sorted(search.witness),
                "edges": edges,
                "truncated": truncated,
            }
            return tuple(batches)
        finally:
            self.cpu += time.process_time() - t0
            self.wall += time.perf_counter() - w0
            if collecting:
                gc.enable()

    def _expand_generic(self, depth: int, expand: bool) -> tuple:
        """Every successor built, canonicalized and fingerprinted (the other buses)."""
        e, search, me, count = self.engine, self.search, self.index, self.count
        out: list[list] = [[] for _ in range(count)]
        owner, check, fp = self.owner, search._check, Engine.fingerprint
        seen, nxt = self.seen, self.next
        new = self.new = set()
        # Fingerprints (in this worker's numbering) of the states sent to their owners at
        # this level and the previous one: most successors are reached many times, and a
        # state sent once need not be sent (nor its owner looked up) again. One sent at
        # the previous level is at this depth or less, so the edge to it is not layered.
        sent_now: set[int] = set()
        sent_prev = self.sent_prev
        layered = True
        truncated = False
        edges = 0
        for s in self.frontier:
            if not expand:
                quiet = e.is_quiescent(s)
                truncated |= not quiet
                check(depth, s, quiet)
                continue
            succs, quiet, _ = e.expand(s)
            check(depth, s, quiet)
            edges += len(succs)
            for t in succs:
                f = fp(t)
                if f in seen:
                    if layered and f not in new:
                        layered = False
                    continue
                if f in sent_now:
                    continue
                if f in sent_prev:
                    layered = False
                    continue
                w = owner(t) if count > 1 else me
                if w == me:
                    seen.add(f)
                    new.add(f)
                    nxt.append(t)
                else:
                    sent_now.add(f)
                    out[w].append(t)
        self.sent_prev = sent_now
        self.layered = self.layered and layered
        self.frontier = []
        return out, edges, truncated

    def _odelta_internal(self, p: int, pid: int, moves: tuple) -> tuple:
        op, ob = self._orbit_pid[p], self._orbit_item
        here = op[pid]
        return tuple(op[mv[1]] - here + sum(ob[x] for x in mv[2]) for mv in moves)

    def _odelta_delivery(self, p: int, pid: int, d: int, moves: tuple) -> tuple:
        op, ob, dw = self._orbit_pid[p], self._orbit_item, self.dup_weight
        here, gone = op[pid], ob[d]
        return tuple(
            op[npid] - here + sum(ob[x] for x in pubs) - (0 if keep else gone) - spend * dw
            for npid, pubs, keep, spend, _delta, _dv in moves
        )

    def _expand_fast(self, depth: int, expand: bool) -> tuple:
        """The sequential search's loop for unordered buses (``_Search._run_incremental``)
        with ownership: a successor's fingerprint and orbit sum are its parent's plus
        constants of the move, so "seen or sent already?" and "whose?" are answered
        before the successor is built, and only new states are built (kept, or batched
        for their owner). Enumerates the successors in the order of Engine.expand."""
        e, search, me, count = self.engine, self.search, self.index, self.count
        n = e.n
        out: list[list] = [[] for _ in range(count)]
        outo: list = [array("Q") for _ in range(count)]
        check = search._check
        seen = self.seen
        seen_get = seen.get
        lvl = self.level
        push, pushf, pusho = self.next.append, self.nfps.append, self.nos.append
        sent_now: set[int] = set()
        sent_prev = self.sent_prev
        builders = e.builders
        imoves = e._imoves
        internal_moves = e.internal_moves
        iparts = e.internal_parts
        dmoves_dup, dmoves_nodup = e._hot, e._hot0
        moves_dup, moves_nodup = e.hot_moves, e.hot_moves_no_dup
        ddest = e.ddest
        pz = e.pz
        crash_tab = e._crash
        crash_move = e.crash_move
        crashes = bool(e.crash_budget)
        sym = e.symmetric
        vec = e.vectors
        afp = e.additive_fingerprint
        # Orbit-sum deltas per move, memoized beside the engine's move tables.
        oi: list[dict] = self._oi
        od_dup, od_nodup = self._od_dup, self._od_nodup
        odi, odd = self._odelta_internal, self._odelta_delivery
        opid = self._orbit_pid
        M, K, C = _M64, _K, count
        q0 = -1
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
        mask = FP_MASK
        shift = SHIFT
        rng = range(n)
        layered = True
        truncated = False
        edges = 0
        ffps, fos = self.ffps, self.fos

        # A new successor t with fingerprint f and orbit sum o: this worker's, or batched
        # for its owner (and remembered, so it is sent once per two levels).
        def route(f: int, o: int, t: tuple) -> None:
            w = ((o * K & M) >> 32) % C
            if w == me:
                seen[f] = lvl
                push(t)
                pushf(f)
                pusho(o)
            else:
                sent_now.add(f)
                out[w].append(t)
                outo[w].append(o)

        for pos_s, s in enumerate(self.frontier):
            if not expand:
                quiet = e.is_quiescent(s)
                truncated |= not quiet
                check(depth, s, quiet)
                continue
            bus = s[n]
            dups = s[n + 1]
            a = 0
            fs = ffps[pos_s]
            os_ = fos[pos_s]
            fx = None
            if sym:
                if narrow0[(s[0] << nperms) | full] == 1:
                    q0, pre = 0, pre0
                else:
                    q0, pre = settled(s)
            # -- internal actions
            for p in iparts:
                pid = s[p]
                moves = imoves[p].get(pid)
                if moves is None:
                    moves = internal_moves(p, pid)
                ods = oi[p].get(pid)
                if ods is None:
                    ods = oi[p][pid] = odi(p, pid, moves)
                for mv, od in zip(moves, ods, strict=True):
                    npid = mv[1]
                    if p <= q0:
                        m = narrow[p][(npid << nperms) | pre[p]]
                        k = single[m] if not m & (m - 1) else finish[p](s, m)
                    else:
                        k = 0
                    if not k:
                        f = (fs + mv[6]) & mask
                    elif vec:
                        if fx is None:
                            fx = fvec(s)
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
                        if f not in sent_now:
                            if f in sent_prev:
                                layered = False
                            else:
                                pubs = mv[2]
                                t = builders[p](s, npid, tuple(sorted(bus + pubs)) if pubs else bus, dups)
                                if k:
                                    t = perm(t, k) if k > 0 else canon(t)
                                route(f, (os_ + od) & M, t)
                    elif j < lvl:
                        layered = False
                    a += 1
            # -- deliveries
            if bus:
                if dups:
                    dmoves, delivery_moves, odt = dmoves_dup, moves_dup, od_dup
                else:
                    dmoves, delivery_moves, odt = dmoves_nodup, moves_nodup, od_nodup
                prev = -1
                for d in bus:
                    if d == prev:
                        continue
                    prev = d
                    p = ddest[d]
                    pid = s[p]
                    key = (pid << shift) | d
                    moves = dmoves.get(key)
                    if moves is None:
                        moves = delivery_moves(pid, d)
                    ods = odt.get(key)
                    if ods is None:
                        ods = odt[key] = odd(p, pid, d, moves)
                    if p > q0:
                        # The successors are canonical as they are (see Engine.settled).
                        for (npid, pubs, keep_copy, spend, delta, _dv), od in zip(moves, ods, strict=True):
                            f = (fs + delta) & mask
                            j = seen_get(f)
                            if j is None:
                                if f not in sent_now:
                                    if f in sent_prev:
                                        layered = False
                                    else:
                                        if keep_copy:
                                            nb = tuple(sorted(bus + pubs)) if pubs else bus
                                        else:
                                            at = bus.index(d)
                                            rest = bus[:at] + bus[at + 1 :]
                                            nb = tuple(sorted(rest + pubs)) if pubs else rest
                                        route(f, (os_ + od) & M, builders[p](s, npid, nb, dups - spend))
                            elif j < lvl:
                                layered = False
                            a += 1
                        continue
                    for (npid, pubs, keep_copy, spend, delta, dv), od in zip(moves, ods, strict=True):
                        m = narrow[p][(npid << nperms) | pre[p]]
                        if m == 1:
                            k = 0
                        else:
                            k = single[m] if not m & (m - 1) else finish[p](s, m)
                        if not k:
                            f = (fs + delta) & mask
                        elif vec:
                            if fx is None:
                                fx = fvec(s)
                            if k > 0:
                                f = ((fx + dv) >> lshift[k]) & mask
                            else:
                                f, k = tiebreak[-k](fx + dv)
                        else:
                            if keep_copy:
                                nb = tuple(sorted(bus + pubs)) if pubs else bus
                            else:
                                at = bus.index(d)
                                rest = bus[:at] + bus[at + 1 :]
                                nb = tuple(sorted(rest + pubs)) if pubs else rest
                            t = builders[p](s, npid, nb, dups - spend)
                            f = afp(perm(t, k) if k > 0 else canon(t))
                        j = seen_get(f)
                        if j is None:
                            if f not in sent_now:
                                if f in sent_prev:
                                    layered = False
                                else:
                                    if keep_copy:
                                        nb = tuple(sorted(bus + pubs)) if pubs else bus
                                    else:
                                        at = bus.index(d)
                                        rest = bus[:at] + bus[at + 1 :]
                                        nb = tuple(sorted(rest + pubs)) if pubs else rest
                                    t = builders[p](s, npid, nb, dups - spend)
                                    if k:
                                        t = perm(t, k) if k > 0 else canon(t)
                                    route(f, (os_ + od) & M, t)
                        elif j < lvl:
                            layered = False
                        a += 1
            # Quiescent: no internal step, no delivery; idle crashes are faults and follow.
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
                        if fx is None:
                            fx = fvec(s)
                        if k > 0:
                            f = ((fx + crash_vector(p, pid, cp)) >> lshift[k]) & mask
                        else:
                            f, k = tiebreak[-k](fx + crash_vector(p, pid, cp))
                    else:
                        t = builders[p](s, cp, bus, dups)
                        f = afp(perm(t, k) if k > 0 else canon(t))
                    j = seen_get(f)
                    if j is None:
                        if f not in sent_now:
                            if f in sent_prev:
                                layered = False
                            else:
                                t = builders[p](s, cp, bus, dups)
                                if k:
                                    t = perm(t, k) if k > 0 else canon(t)
                                op = opid[p]
                                route(f, (os_ + op[cp] - op[pid]) & M, t)
                    elif j < lvl:
                        layered = False
                    a += 1
            edges += a
            check(depth, s, quiet)
        self.sent_prev = sent_now
        self.layered = self.layered and layered
        self.frontier = []
        self.ffps, self.fos = array("Q"), array("Q")
        return out, outo, edges, truncated

    def _encode(self, w: int, states: list[tuple], orbits: array | None) -> tuple:
        """One batch for worker ``w``: the states as rows of this worker's numbers (and
        their orbit sums, fast loop), plus what the numbers ``w`` has not seen stand for."""
        e, n = self.engine, self.n
        sent_d, sent_pid = self.sent_d[w], self.sent_pid[w]
        new_d: list = []
        new_pid: list = []

        def need_d(d: int) -> None:
            if d not in sent_d:
                sent_d.add(d)
                new_d.append((d, e.ddest[d], e.msgs[e.dmid[d]]))

        rows = []
        fifo = e.fifo
        for s in states:
            for p in range(n):
                pid = s[p]
                if pid not in sent_pid[p]:
                    sent_pid[p].add(pid)
                    lid, mask, crashes = e.pinfo[p][pid]
                    ds = tuple(d for d in range(mask.bit_length()) if mask >> d & 1)
                    for d in ds:
                        need_d(d)
                    new_pid.append((p, pid, e.lobj[p][lid], ds, crashes))
            if fifo:
                bus = tuple(e.queue(q) for q in s[n])
                for queue in bus:
                    for d in queue:
                        need_d(d)
            else:
                bus = s[n]
                for d in bus:
                    if d not in sent_d:
                        need_d(d)
            rows.append((*s[:n], bus, s[n + 1]) if fifo else s)
        # The tables through the class-aware pickler; the rows (ints only) and the orbit
        # sums (raw 8-byte words) through the C pickler's fast path.
        buf = io.BytesIO()
        _Pickler(buf, self.registry).dump((self.index, new_d, new_pid))
        body = (rows, orbits.tobytes() if orbits is not None else None)
        return buf.getvalue(), pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)

    def receive(self, batches: tuple) -> dict:
        """Deduplicate the states other workers sent; ``{"new": states added}``."""
        t0 = time.process_time()
        w0 = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            for data in batches:
                if data is not None:
                    self._decode(data)
        finally:
            self.wall += time.perf_counter() - w0
            if collecting:
                gc.enable()
        added = len(self.next)
        self._turn()
        dt = time.process_time() - t0
        self.cpu += dt
        self.cpu_receive += dt
        level_cpu, self._cpu_mark = self.cpu - self._cpu_mark, self.cpu
        memory = sys.getsizeof(self.seen) + 32 * len(self.seen)  # the visited set, as explore() counts it
        return {"new": added, "layered": self.layered, "memory": memory, "cpu": level_cpu, **self.summary}

    def _decode(self, data: tuple) -> None:
        e, n = self.engine, self.n
        src, new_d, new_pid = _Unpickler(io.BytesIO(data[0]), self.registry).load()
        rows, orbits = pickle.loads(data[1])
        td, tp = self.tr_d[src], self.tr_pid[src]
        for d, dest, msg in new_d:
            td[d] = e._intern_delivery(dest, e._intern_msg(msg))
        for p, pid, local, ds, crashes in new_pid:
            lid = e._intern_local(p, local, "a state received from another worker")
            mask = 0
            for d in ds:
                mask |= 1 << td[d]
            tp[p][pid] = e._intern_pid(p, lid, mask, crashes)
        self.received += len(rows)
        before = len(self.next)
        if self.fast:
            # Generated per model: a row in this worker's numbering, canonical, its
            # fingerprint; then "seen?" (the orbit sum came with the row).
            conv = self._converter(src)
            seen, lvl = self.seen, self.level
            seen_get = seen.get
            push, pushf, pusho = self.next.append, self.nfps.append, self.nos.append
            os_ = array("Q")
            os_.frombytes(orbits)
            layered = True
            for row, o in zip(rows, os_, strict=True):
                s, f = conv(row)
                j = seen_get(f)
                if j is None:
                    seen[f] = lvl
                    push(s)
                    pushf(f)
                    pusho(o)
                elif j < lvl:
                    layered = False
            self.layered = self.layered and layered
            self.received_dup += len(rows) - (len(self.next) - before)
            return
        canon = e.canonical if e.symmetric else None
        add = self._add
        fifo = e.fifo
        for row in rows:
            if fifo:
                qs = []
                for queue in row[n]:
                    ds = tuple(td[d] for d in queue)
                    qs.append(e._intern_queue(e.dchan[ds[0]], ds))
                bus = tuple(sorted(qs))
            else:
                bus = tuple(sorted([td[d] for d in row[n]]))
            s = (*[tp[p][row[p]] for p in range(n)], bus, row[n + 1])
            add(canon(s) if canon else s)
        self.received_dup += len(rows) - (len(self.next) - before)

    def _converter(self, src: int):
        """``row -> (state, fingerprint)``: worker ``src``'s numbers translated to this
        worker's, the state canonicalized (symmetry) and fingerprinted as the fast loop does."""
        conv = self._convs.get(src)
        if conv is None:
            e, n = self.engine, self.n
            env = {f"T{p}": self.tr_pid[src][p] for p in range(n)}
            env.update(TD=self.tr_d[src].__getitem__, AFP=e.additive_fingerprint,
                       CANON=e.canonical if e.symmetric else None)
            state = "(" + "".join(f"T{p}[r[{p}]], " for p in range(n)) + f"tuple(sorted(map(TD, r[{n}]))), r[{n + 1}])"
            if e.symmetric:
                body = f"    s = CANON({state})\n    return s, AFP(s)"
            else:
                body = f"    s = {state}\n    return s, AFP(s)"
            conv = self._convs[src] = _generate("convert", "def convert(r):\n" + body, env)
        return conv

    def report(self) -> dict:
        seen = self.seen
        return {
            "states": len(seen),
            "edges": self.edges,
            "cpu_seconds": self.cpu,
            "busy_seconds": self.wall,
            "cpu_expand": self.cpu_expand,
            "cpu_encode": self.cpu_encode,
            "cpu_receive": self.cpu_receive,
            "received": self.received,
            "batches_out": self.batches_out,
            "received_dup": self.received_dup,
            "loop": self.loop,
            "bytes_out": list(self.bytes_out),
            "states_out": list(self.states_out),
            "memory_bytes": sys.getsizeof(seen) + 32 * len(seen) + self.search.tables_bytes(),
        }


# --------------------------------------------------------------------------- the partition
_DEBUG_CHOICE = False

def choose_partition(recipe: Recipe, config: Config, count: int, *, sample: int = 20_000,
                     probe: int = 2_000) -> tuple[int, ...] | None:
    """The participants whose states decide a state's owner (None: the whole state).

    Hashing the whole state spreads states evenly, but then a successor belongs to
    another worker (W-1)/W of the time, and most of those the owner has already found
    from its own states (on corrected, 2 orders, 1 crash, 93% of the states sent arrived
    as duplicates): a successor is built, batched, sent and translated for nothing.
    Hashing one participant's state keeps the successors of every move that leaves it
    alone (locality-preserving partitions, as in Lerda and Sisto's distributed SPIN), at
    the price of balance when that participant has few states. The choice: the search
    itself run to ``sample`` states on one worker; over its widest level, each candidate
    (each participant, the whole state) scores ``imbalance * (1 + crossing)``, where
    imbalance is the busiest worker's share of the states times ``count`` and crossing
    the fraction of the edges of ``probe`` states whose ends have different owners.
    """
    if count < 2:
        return None
    shard = _Shard(recipe, config, 0, 1, "auto", None)
    e, n = shard.engine, shard.n
    depth = 0
    states = shard.frontier  # the widest level reached (the last, unless the sample ends the search)
    collecting = gc.isenabled()
    gc.disable()
    try:
        while len(shard.seen) < sample:
            shard.expand(depth, True)
            added = shard.receive(())["new"]
            if not added:
                break
            if len(shard.frontier) >= len(states):
                states = shard.frontier
            depth += 1
    finally:
        if collecting:
            gc.enable()
    if len(states) < 4 * count:
        return None
    orbit, whole = shard._orbit_pid, shard._orbit_sum
    K, M = _K, _M64

    def bucket(cand, s):  # as _Shard._own with ``count`` workers
        o = whole(s) if cand is None else sum(orbit[p][s[p]] for p in cand) & M
        return ((o * K & M) >> 32) % count

    step = max(1, len(states) // probe)
    picked = states[::step]
    succs = [(s, e.expand(s)[0]) for s in picked]
    best, best_score = None, None
    for cand in [None, *((p,) for p in range(n))]:
        loads = [0] * count
        for s in states:
            loads[bucket(cand, s)] += 1
        imbalance = max(loads) * count / len(states)
        edges = crossing = 0
        for s, ts in succs:
            b = bucket(cand, s)
            edges += len(ts)
            crossing += sum(1 for t in ts if bucket(cand, t) != b)
        score = imbalance * (1 + crossing / max(edges, 1))
        if _DEBUG_CHOICE:
            print("partition", cand, "imbalance", round(imbalance, 3), "crossing", round(crossing / max(edges, 1), 3),
                  "score", round(score, 3), "sample", len(states), file=sys.stderr)
        if best_score is None or score < best_score:
            best, best_score = cand, score
    return best


# --------------------------------------------------------------------------- worker tasks
_SHARDS: dict[str, _Shard] = {}


def _t_init(run: str, recipe: Recipe, config: Config, index: int, count: int, loop: str,
            partition: tuple[int, ...] | None) -> int:
    shard = _SHARDS[run] = _Shard(recipe, config, index, count, loop, partition)
    return len(shard.frontier)


def _t_expand(run: str, depth: int, expand: bool) -> tuple:
    return _SHARDS[run].expand(depth, expand)


def _t_pick(value: tuple, i: int):
    return value[i]


def _t_receive(run: str, _own: tuple, *batches) -> dict:
    # ``_own``: this worker's expand result, an argument only so the receive runs after it.
    return _SHARDS[run].receive(batches)


def _t_report(run: str) -> dict:
    return _SHARDS[run].report()


def _t_drop(run: str) -> None:
    _SHARDS.pop(run, None)
    gc.collect()


# --------------------------------------------------------------------------- the driver
@dataclass
class Traffic:
    """What one worker did: states stored and the batches it sent to the others."""

    worker: int
    states: int
    edges: int
    cpu_seconds: float
    states_sent: int
    bytes_sent: int
    memory_bytes: int = 0
    extra: dict = field(default_factory=dict)


def _client(workers: int | None, cluster: str | None):
    require_cluster_extra()
    import logging

    from distributed import Client, LocalCluster

    if cluster:
        try:
            return Client(cluster, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--cluster {cluster}: cannot reach the Dask scheduler ({exc})") from None
    local = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
        memory_limit=0, silence_logs=logging.ERROR,
    )
    return Client(local), local


def explore_distributed(
    system: System,
    config: Config | None = None,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    recipe: Recipe | None = None,
    on_progress: Callable[[Stats], Any] | None = None,
    progress_interval: float = 1.0,
    stop_at_first: bool = False,
    liveness: str = "sequential",
    traffic: list | None = None,
    timings: dict | None = None,
    partition: tuple[int, ...] | str | None = "auto",
    loop: str = "auto",
) -> CheckResult:
    """:func:`~sagaspec.model.explore.explore` on ``workers`` local processes or on the
    Dask scheduler at ``cluster`` (``tcp://host:8786``; every worker it has takes part).

    ``recipe``: how workers rebuild ``system`` (default :meth:`Recipe.of`, for saga
    systems). ``liveness``: ``"sequential"`` checks the properties that need cycles with
    the sequential search, ``"unknown"`` leaves them undecided (see the module doc).
    ``partition``: the participants whose states decide owners (None: the whole state;
    ``"auto"``: :func:`choose_partition`). ``loop``: ``"generic"`` makes the workers
    build every successor, as before the fast loop (for benchmarks).
    ``traffic``: if a list, one :class:`Traffic` per worker is appended; ``timings``: if
    a dict, it gets the wall seconds of each phase (``startup`` of the workers,
    ``search``, ``liveness``, ``traces``). The result's statistics cover the search. ``on_progress``
    gets a :class:`Stats` snapshot per level and every ``progress_interval`` seconds; a
    :class:`KeyboardInterrupt` there or anywhere stops the search with a partial result.
    """
    if liveness not in ("sequential", "unknown"):
        raise UsageError(f"liveness must be 'sequential' or 'unknown', got {liveness!r}")
    if (workers is None) == (cluster is None):
        raise UsageError("explore_distributed: give either workers=N or cluster=ADDRESS")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    config = settle_symmetry(system, config or Config())
    recipe = recipe or Recipe.of(system)
    props = system.properties
    for p in props:
        if p.per_saga and system.sagas < 1:
            raise ModelError(f"property {p.name!r} is per saga, but system {system.name!r} declares no sagas (System(sagas=N))")
    # Properties the level-by-level search decides alone (cycles aside, see below).
    fair = {k for k, p in enumerate(props) if p.kind in FAIR_KINDS}
    Engine(system, config)  # fail here, with the engine's own message, not on a worker
    began = time.perf_counter()
    client, local = _client(workers, cluster)
    run = uuid.uuid4().hex
    start = time.perf_counter()
    phase = {"startup": start - began}
    found: dict[int, tuple[int, str]] = {}
    witness: dict[int, int] = {}
    interrupted = truncated = stopped = False
    layered = True
    depth = 0
    states = edges = 0
    frontier = 0
    held = 0  # bytes of the workers' visited sets, as of the last level
    critical = 0.0
    notes: list[str] = []
    reports: list[dict] = []
    last = start

    def snapshot(queue: int) -> Stats:
        secs = max(time.perf_counter() - start, 1e-9)
        return Stats(states=states, edges=edges, depth=depth, queue=queue, seconds=round(secs, 3),
                     states_per_s=round(states / secs, 1), memory_bytes=held,
                     bytes_per_state=round(held / states, 1) if states else 0.0)

    def wait_for(futures: list) -> list:
        nonlocal last
        from distributed import wait

        while True:
            try:
                wait(futures, timeout=max(progress_interval, 0.05), return_when="ALL_COMPLETED")
                return client.gather(futures)
            except TimeoutError:
                pass
            now = time.perf_counter()
            if on_progress is not None and now - last >= progress_interval:
                last = now
                on_progress(snapshot(frontier))

    addrs: list[str] = []
    try:
        addrs = sorted(client.scheduler_info()["workers"])
        if not addrs:
            raise UsageError(f"--cluster {cluster}: the Dask scheduler has no workers")
        count = len(addrs)
        opts = {"pure": False, "allow_other_workers": False}
        if partition == "auto":
            partition = choose_partition(recipe, config, count)
        inits = [client.submit(_t_init, run, recipe, config, i, count, loop, partition, workers=[a], **opts)
                 for i, a in enumerate(addrs)]
        frontier = sum(wait_for(inits))
        states = frontier
        start = time.perf_counter()  # the search proper (the shards are built)
        phase["startup"] = start - began
        max_depth = config.max_depth
        while frontier:
            expand = max_depth is None or depth < max_depth
            # Per level: an expand task per worker, a task per pair of workers picking
            # one batch out (run where it was made: Dask moves it straight to its
            # owner), a receive task per worker.
            exp = [client.submit(_t_expand, run, depth, expand, workers=[a], **opts) for a in addrs]
            recv = []
            for j, a in enumerate(addrs):
                parts = [client.submit(_t_pick, f, j, workers=[src], **opts)
                         for i, (f, src) in enumerate(zip(exp, addrs, strict=True)) if i != j]
                recv.append(client.submit(_t_receive, run, exp[j], *parts, workers=[a], **opts))
            level_recv = wait_for(recv)
            del exp, recv, parts
            for summary in level_recv:
                edges += summary["edges"]
                truncated |= summary["truncated"]
                for k, kind in summary["found"].items():
                    if k not in found:
                        found[k] = (depth, kind)
                for k in summary["witness"]:
                    witness.setdefault(k, depth)
            # The level ends with its slowest worker: the sum of those CPU seconds is the
            # search time on idle cores with free messages (the critical path).
            critical += max(r["cpu"] for r in level_recv)
            new = sum(r["new"] for r in level_recv)
            held = sum(r["memory"] for r in level_recv)
            layered = all(r["layered"] for r in level_recv)
            states += new
            if stop_at_first and found:
                stopped = True
                break
            if not expand:
                break
            frontier = new
            if new:
                depth += 1
            if on_progress is not None:
                last = time.perf_counter()
                on_progress(snapshot(frontier))
        reports = wait_for([client.submit(_t_report, run, workers=[a], **opts) for a in addrs])
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            if addrs and local is None:  # a shared cluster keeps running: free its memory
                client.gather([client.submit(_t_drop, run, workers=[a], pure=False) for a in addrs])
        except Exception:  # noqa: BLE001 - the cluster may be gone; the result stands
            pass
        finally:
            client.close()
            if local is not None:
                local.close()
    seconds = time.perf_counter() - start
    phase["search"] = seconds
    phase["critical_cpu"] = critical
    if partition == "auto":
        partition = None
    phase["partition"] = partition
    mark = time.perf_counter()
    complete = not (interrupted or truncated or stopped)
    if traffic is not None:
        for i, r in enumerate(reports):
            traffic.append(Traffic(i, r["states"], r["edges"], round(r["cpu_seconds"], 3),
                                   sum(r["states_out"]), sum(r["bytes_out"]), r["memory_bytes"],
                                   {"bytes_to": r["bytes_out"], "states_to": r["states_out"],
                                    "busy_seconds": round(r["busy_seconds"], 3),
                                    **{k: r[k] for k in ("cpu_expand", "cpu_encode", "cpu_receive", "received",
                                                         "received_dup", "batches_out", "loop")}}))
    memory = sum(r["memory_bytes"] for r in reports)
    stats = Stats(
        states=states, edges=edges, depth=depth, queue=0 if complete else frontier,
        seconds=round(seconds, 3), cpu_seconds=round(sum(r["cpu_seconds"] for r in reports), 3),
        states_per_s=round(states / max(seconds, 1e-9), 1), memory_bytes=memory,
        bytes_per_state=round(memory / states, 1) if states and memory else 0.0,
        collision_probability=states * states / 2.0**61,
    )
    where = f"{len(addrs)} Dask worker{'s' if len(addrs) != 1 else ''}" + (f" at {cluster}" if cluster else "")
    notes.append(f"distributed search over {where}, without partial-order reduction (the state count is "
                 f"that of --no-por); counterexamples and witnesses re-executed by the sequential search")
    # Liveness: properties whose verdict needs the cycles of the state graph.
    needs_cycles = set(fair)
    if not layered:
        needs_cycles |= {k for k, p in enumerate(props) if p.kind == "at-rest" and k not in found}
    for k in fair:
        found.pop(k, None)
    verdicts: dict[str, str] = {}
    violations = []
    witnesses = {}
    decided_elsewhere: dict[str, str] = {}
    if complete and needs_cycles:
        names = [props[k].name for k in sorted(needs_cycles)]
        if liveness == "sequential":
            sub = dataclasses.replace(system, properties=tuple(props[k] for k in sorted(needs_cycles)))
            try:
                seq = explore(sub, config)
            except KeyboardInterrupt:
                interrupted, complete = True, False
                seq = None
            if seq is not None:
                notes.append(f"{', '.join(names)}: checked by the sequential search (cycles need the state graph, which the workers do not keep)")
                notes.extend(n for n in seq.notes if n not in notes)
                decided_elsewhere.update(seq.verdicts)
                violations.extend(seq.violations)
                if not seq.complete:
                    for name in names:
                        if decided_elsewhere.get(name) == HELD:
                            decided_elsewhere[name] = UNKNOWN
        else:
            notes.append(f"{', '.join(names)}: not checked (cycles need the state graph, which the workers do not keep); run without --workers to check them")
            decided_elsewhere.update(dict.fromkeys(names, UNKNOWN))
    elif needs_cycles:
        decided_elsewhere.update({props[k].name: UNKNOWN for k in needs_cycles if k not in found})
    # Shortest traces: the sequential search, bounded at the deepest depth needed.
    wanted = {k: d for k, (d, kind) in found.items() if kind != CYCLE}
    wanted.update({k: d for k, d in witness.items() if props[k].kind == "sometimes"})
    seq_found = {}
    phase["liveness"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if wanted:
        bound = max(wanted.values())
        sub = dataclasses.replace(system, properties=tuple(props[k] for k in sorted(wanted)))
        try:
            again = explore(sub, dataclasses.replace(config, max_depth=bound))
        except KeyboardInterrupt:
            again = None
            interrupted, complete = True, False
        if again is not None:
            seq_found = {v.property: v for v in again.violations}
            for k, d in wanted.items():
                name = props[k].name
                if k in found:
                    v = seq_found.get(name)
                    if v is None or len(v.path) != d:
                        raise ModelError(
                            f"internal error: the distributed search found {name!r} violated at depth {d}, "
                            f"the sequential search {'not' if v is None else f'at depth {len(v.path)}'}"
                        )
                    violations.append(v)
                elif name in again.witnesses:
                    witnesses[name] = again.witnesses[name]
    phase["traces"] = time.perf_counter() - mark
    if timings is not None:
        timings.update({k: round(v, 3) if isinstance(v, float) else v for k, v in phase.items()})
    for k, prop in enumerate(props):
        if prop.name in decided_elsewhere:
            verdicts[prop.name] = decided_elsewhere[prop.name]
        elif k in found:
            verdicts[prop.name] = VIOLATED if prop.name in seq_found else UNKNOWN
        elif prop.kind == "sometimes":
            verdicts[prop.name] = HELD if k in witness else (VACUOUS if complete else UNKNOWN)
        else:
            verdicts[prop.name] = HELD if complete else UNKNOWN
    order = {p.name: i for i, p in enumerate(props)}
    violations.sort(key=lambda v: order.get(v.property, 0))
    return CheckResult(
        system=system, config=config, stats=stats, violations=violations, verdicts=verdicts,
        complete=complete, exhaustive=True, interrupted=interrupted, truncated=truncated,
        witnesses=witnesses, notes=notes,
    )

