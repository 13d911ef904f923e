"""Exhaustive search over several processes or machines, on Dask distributed.

:func:`explore_distributed` gives the verdicts and counts of
:func:`~sagaspec.model.explore.explore`, with the state space partitioned across
workers by hash (the design of Stern and Dill's parallel Murphi and of TLC's
distributed mode):

* Each worker is a long-lived Dask actor holding its share (:class:`_Shard`). It
  rebuilds the system from a :class:`Recipe` (a shipped design's ``System.meta`` or a
  ``pkg.module:NAME`` target; closures are never pickled) and runs its own
  :class:`~sagaspec.model.engine.Engine`.
* A state belongs to one worker, the same in every process and for every renaming of
  the sagas (interned numbers and Python's string hashes differ between processes, so
  neither can decide): by the whole state, or by one participant's state when a sample
  shows fewer successors cross workers that way, each of that participant's states the
  sample saw placed by its counts there (:func:`choose_owners`). The owner
  keeps the fingerprints of its states, checks their properties and expands them.
* On the unordered bus a worker runs the sequential search's incremental loop
  (generated from the same template, :mod:`sagaspec.model._distributed_loop`) with
  *stable fingerprints*: its engine weighs each participant state and in-flight copy by
  a hash of what it holds, and picks an orbit's representative by those weights, so a
  state's fingerprint is the same in every process and is the one key of the worker's
  visited set. For a successor another worker owns it notes that fingerprint and where
  the successor came from, without building it; the owner is asked "do you have
  these?" in one batch and answers with the ones it lacks (on the order saga, under
  1%), and only those are built and sent. Other buses and symmetries build every
  successor and send those other workers own.
* The search goes breadth first, one level at a time, so the first violation of each
  property is found at its shortest depth. A level is up to three rounds (expand; ask,
  or deduplicate what was sent; build what was lacked), each one actor call per worker;
  the driver relays the batches (no task per pair of workers). States travel as tuples
  of the sender's interned numbers plus, once per pair of workers, the local states and
  messages those numbers stand for.
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

import collections
import dataclasses
import enum
import gc
import hashlib
import io
import itertools
import os
import pickle
import random
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagaspec.model import _distributed_loop
from sagaspec.model.engine import FP_MASK, Engine, _generate
from sagaspec.model.explore import _Search, explore
from sagaspec.model.participant import Msg
from sagaspec.model.properties import FAIR_KINDS, HELD, UNKNOWN, VACUOUS, VIOLATED
from sagaspec.model.results import CYCLE, CheckResult, Stats
from sagaspec.model.system import Config, System, load_system, settle_symmetry

from sagaspec.errors import ModelError, UsageError

__all__ = ["Recipe", "Traffic", "explore_distributed", "local_cluster", "require_cluster_extra", "run_in_process"]

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


# --------------------------------------------------------------------------- stable fingerprints
class _StableEngine(Engine):
    """An :class:`Engine` whose fingerprint weights are hashes of what a participant state
    or an in-flight copy holds, not of the order they were interned in, and whose
    canonical form (the least renaming, participant by participant) compares participant
    states by those weights, not by their interned numbers: the representative of an
    orbit, so its fingerprint, is the same in every process."""

    def _intern_pid(self, p: int, lid: int, mask: int, crashes: int) -> int:
        count = len(self.pinfo[p])
        pid = super()._intern_pid(p, lid, mask, crashes)
        if pid == count:
            store = frozenset((self.ddest[d], self.msgs[self.dmid[d]]) for d in range(mask.bit_length()) if mask >> d & 1)
            self.pz[p][pid] = _h64(("p", p, self.lobj[p][lid], store, crashes)) & FP_MASK
        return pid

    def _intern_delivery(self, dest: int, mid: int) -> int:
        count = len(self.ddest)
        d = super()._intern_delivery(dest, mid)
        if d == count:
            self.dz[d] = _h64(("d", dest, self.msgs[mid])) & FP_MASK
        return d

    def _narrow_row(self, p: int, pid: int) -> list[int]:
        # The weight of a renamed participant state (a hash of what it holds) as its sort
        # key instead of its interned number. Two states with one weight collide in the
        # fingerprint anyway (the visited set's assumption).
        pz = self.pz[p]
        return [pz[x] for x in self._prow[p][pid]]


# --------------------------------------------------------------------------- a worker's share
class _Shard:
    """One worker's part of the search: its engine, visited fingerprints and frontier.

    A level is up to three rounds, each ending when every worker is done with it:
    :meth:`expand` (keep the successors this worker owns; for the others, the fast loop
    notes their fingerprints, the generic loop builds them), then :meth:`claim`
    ("which of these do you lack?", fast) or :meth:`receive` (deduplicate the states
    sent, generic), then :meth:`build` (the successors their owners lacked, fast),
    which the next :meth:`expand` adds to its frontier first (each exactly once: a
    state arriving unclaimed, twice, or not at all is an internal error).
    """

    def __init__(self, recipe: Recipe, config: Config, index: int, count: int, loop: str = "auto",
                 partition: tuple[int, ...] | None = None, owners: dict[int, int] | None = None) -> None:
        system = recipe.build()
        # Owners by the partition's participants: orbit hash -> worker for the states the
        # sample placed (see choose_owners); the hash decides the others.
        self.owners = owners or {}
        self.registry = _class_registry(system)
        probe = Engine(system, config)
        # The fast loop: the sequential search's incremental loop for unordered buses
        # (model/_loops.py), with stable fingerprints when other workers ask for them.
        # Other buses and symmetries take the generic loop.
        self.fast = loop != "generic" and probe.sorted is None and not (probe.fifo or probe.setbus or probe.psym) \
            and (probe.vectors or not probe.symmetric)
        self.engine = e = _StableEngine(system, config) if self.fast and count > 1 else probe
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
        self.loop = "fast" if self.fast else "generic"
        if self.fast:
            mode = "local" if count == 1 else "shared"
            if partition is not None and len(partition) != 1:
                raise UsageError(f"partition: the fast loop takes one participant, got {partition!r}")
            self._level = _distributed_loop.compiled(mode, "whole" if whole else "part")
            self.p0 = -1 if whole else partition[0]
            self.own_tab = _Memo(lambda pid: self._own(self._orbit_pid[self.p0][pid])) if not whole else None
        # What this worker has told each other worker its numbers stand for.
        self.sent_pid = [[set() for _ in range(n)] for _ in range(count)]
        self.sent_d: list[set] = [set() for _ in range(count)]
        # Other workers' numbers in this worker's numbering.
        self.tr_pid = [[{} for _ in range(n)] for _ in range(count)]
        self.tr_d: list[dict[int, int]] = [{} for _ in range(count)]
        # Fast loop: fingerprint (the engine's additive one, as the sequential search's;
        # with several workers the same in every process) -> BFS level, of the states
        # owned and claimed; the frontier's fingerprints in a parallel array. Generic
        # loop: a set of fingerprints, plus the current level's.
        self.seen: Any = {} if self.fast else set()
        self.new: set[int] = set()
        self.level = 0
        self.frontier: list[tuple] = []
        self.next: list[tuple] = []
        self.expanded: list[tuple] = []  # the last level expanded (the fast loop builds from it)
        self.ffps = array("Q")
        self.nfps = array("Q")
        self.fvs: list = []  # fast loop, several workers: the frontier's fingerprint vectors (None: unknown)
        self.nfvs: list = []
        # Fast loop, per other worker: the fingerprints asked for at this level and where
        # each successor came from (frontier position << REF_BITS | action number).
        self.cand_fp = [array("Q") for _ in range(count)]
        self.cand_ref = [array("Q") for _ in range(count)]
        self.sent_now: set[int] = set()
        self.sent_prev: set[int] = set()
        # Fast loop: the fingerprints claimed at this level, until their states arrive.
        self.awaiting: set[int] = set()
        self.own_new = 0
        self.batches_out = 0  # messages: one per other worker and round, if not empty
        self.received = 0  # states other workers sent (generic) or asked about (fast)
        self.received_dup = 0  # ... that this worker already had
        self.asked = [0] * count  # fast: stable fingerprints sent to each worker
        self._convs: dict[int, Any] = {}
        self.cpu_expand = self.cpu_encode = self.cpu_receive = 0.0
        self.cpu_claim = self.cpu_build = self.cpu_decode = 0.0
        self.layered = True
        self.edges = 0
        self.widths: list[int] = []  # states expanded per level (the balance, level by level)
        self.bytes_out = [0] * count
        self.states_out = [0] * count
        self.cpu = 0.0
        self.wall = 0.0  # seconds spent in the rounds (the rest is waiting)
        self.summary: dict = {}
        init = e.initial()
        if self.owner(init) == index:
            if self.fast:
                f = e.additive_fingerprint(init)
                self.seen[f] = 0
                self.next.append(init)
                self.nfps.append(f)
                self.nfvs.append(None)
            else:
                self._add(init)
        self.own_new = len(self.next)

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

    def sigma(self, s: tuple) -> int:
        """The stable fingerprint of ``s``'s orbit (fast loop, several workers): the same
        for every renaming and in every process, the one the workers keep and ask about
        (the additive fingerprint of the canonical representative)."""
        e = self.engine
        return e.additive_fingerprint(e.canonical(s) if e.symmetric else s)

    def owner(self, s: tuple) -> int:
        """The worker that owns ``s``'s orbit (the same answer in every process).

        Generic loop: the sum of the orbit hashes of the state's parts (each a sum of
        64-bit hashes, memoized per interned part), mixed, modulo the number of workers.
        Fast loop: the stable fingerprint modulo the workers (whole state), or the orbit
        hash of the partition's participant.
        """
        if self.fast and self.count > 1:
            if self.partition is None:
                # (A stable fingerprint is a sum of random weights: its low bits are spread.)
                return self.sigma(s) % self.count
            return self.own_tab[s[self.p0]]
        return self._own(self._orbit_sum(s))

    def _own(self, o: int) -> int:
        w = self.owners.get(o)
        if w is not None:
            return w
        # The low bits of a sum depend on the low bits of its terms alone (the parity of a
        # sum is the XOR of the parities): multiply by an odd constant and take the high
        # half, which depends on every bit (Fibonacci hashing). Without it 2 workers owned
        # 58% and 42% of the 10.6M states of corrected, 3 orders, 1 crash.
        return ((o * _K & _M64) >> 32) % self.count

    def _make_orbit_sum(self):
        """``s -> sum of its parts' orbit hashes mod 2**64``: generated and unrolled per model."""
        n = self.n
        env = {f"P{p}": self._orbit_pid[p] for p in range(n)}
        env.update(B=self._orbit_item.__getitem__, W=self.dup_weight, M=_M64)
        src = ("lambda s: (" + "".join(f"P{p}[s[{p}]] + " for p in range(n))
               + f"sum(map(B, s[{n}])) + s[{n + 1}] * W) & M")
        return _generate("orbit_sum", src, env)

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

    # -- the rounds of a level
    def _round(self, fn, *args):
        t0 = time.process_time()
        w0 = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            out = fn(*args)
        finally:
            if collecting:
                gc.enable()
            dt = time.process_time() - t0
            self.cpu += dt
            self.wall += time.perf_counter() - w0
        out["cpu"] = dt
        return out

    def expand(self, depth: int, expand: bool, incoming: tuple = ()) -> dict:
        """Add the states built for this worker (``incoming``, fast loop), then check and
        expand the level: ``{"out": {worker: batch}, "own_new": successors kept, ...}``."""
        return self._round(self._expand, depth, expand, incoming)

    def _expand(self, depth: int, expand: bool, incoming: tuple) -> dict:
        t0 = time.process_time()
        for data in incoming:
            self._decode(data, depth)
        self._arrived()
        self.frontier, self.next = self.next, []
        self.ffps, self.nfps = self.nfps, array("Q")
        self.fvs, self.nfvs = self.nfvs, []
        self.level = depth + 1
        self.widths.append(len(self.frontier))
        count = self.count
        if self.fast:
            self.sent_now = set()
            self.cand_fp = [array("Q") for _ in range(count)]
            self.cand_ref = [array("Q") for _ in range(count)]
            fvs = self.fvs if count == 1 or len(self.fvs) == len(self.frontier) else [None] * len(self.frontier)
            edges, truncated, layered = self._level(self, self.frontier, self.ffps, fvs, depth, expand)
            self.fvs = []
            self.sent_prev = self.sent_now
            self.layered = self.layered and layered
            self.expanded = self.frontier
            self.ffps = array("Q")
            out = {}
            for w in range(count):
                if self.cand_fp[w]:
                    out[w] = self.cand_fp[w].tobytes()
                    self.asked[w] += len(self.cand_fp[w])
        else:
            raw, edges, truncated = self._expand_generic(depth, expand)
            out = None
        self.frontier = []
        self.edges += edges
        t1 = time.process_time()
        self.cpu_expand += t1 - t0
        if out is None:
            out = {}
            for w in range(count):
                if raw[w]:
                    out[w] = self._encode(w, raw[w])
                    self.states_out[w] += len(raw[w])
        for w, data in out.items():
            self.batches_out += 1
            self.bytes_out[w] += _size(data)
        self.cpu_encode += time.process_time() - t1
        search = self.search
        self.own_new = len(self.next)
        return {
            "out": out,
            "own_new": self.own_new,
            "found": {k: kind for k, (_i, kind) in search.found.items()},
            "witness": sorted(search.witness),
            "edges": edges,
            "truncated": truncated,
            "memory": self.memory(),
        }

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
        return out, edges, truncated

    def claim(self, offers: tuple) -> dict:
        """Fast loop: ``offers`` are ``(worker, stable fingerprints)``; claim those this
        worker lacks (each once: the first offer of a fingerprint wins).
        ``{"wanted": {worker: positions in its offer}, "new": claimed}``."""
        return self._round(self._claim, offers)

    def _claim(self, offers: tuple) -> dict:
        t0 = time.process_time()
        try:
            return self._claim_all(offers)
        finally:
            self.cpu_claim += time.process_time() - t0

    def _claim_all(self, offers: tuple) -> dict:
        seen, lvl = self.seen, self.level
        seen_get = seen.get
        awaiting = self.awaiting
        wanted = {}
        claimed = 0
        layered = True
        for src, data in offers:
            got = array("Q")
            got.frombytes(data)
            self.received += len(got)
            mine = array("I")
            take = mine.append
            for i, g in enumerate(got):
                j = seen_get(g)
                if j is None:
                    # Taken now, so a later offer of it (or this worker's own successor
                    # at the next level) finds it; its state arrives with the next expand.
                    seen[g] = lvl
                    awaiting.add(g)
                    take(i)
                elif j < lvl:
                    layered = False
            if mine:
                wanted[src] = mine.tobytes()
                self.bytes_out[src] += len(wanted[src])
                self.batches_out += 1
                claimed += len(mine)
            self.received_dup += len(got) - len(mine)
        self.layered = self.layered and layered
        return {"wanted": wanted, "new": claimed}

    def build(self, wanted: tuple) -> dict:
        """Fast loop: build the successors other workers claimed (``(worker, positions in
        what this worker offered it)``); ``{"out": {worker: batch}}``."""
        return self._round(self._build, wanted)

    def _build(self, wanted: tuple) -> dict:
        t0 = time.process_time()
        try:
            return self._build_all(wanted)
        finally:
            self.cpu_build += time.process_time() - t0

    def _build_all(self, wanted: tuple) -> dict:
        e = self.engine
        expand = e.expand
        parents: dict[int, list] = {}
        out = {}
        for w, data in wanted:
            idx = array("I")
            idx.frombytes(data)
            refs = self.cand_ref[w]
            states = []
            for i in idx:
                ref = refs[i]
                pos, a = ref >> _distributed_loop.REF_BITS, ref & ((1 << _distributed_loop.REF_BITS) - 1)
                succ = parents.get(pos)
                if succ is None:
                    # (The owner canonicalizes what it receives, in its own numbering.)
                    succ = parents[pos] = expand(self.expanded[pos], canonical=False)[0]
                states.append(succ[a])
            out[w] = self._encode(w, states)
            self.states_out[w] += len(states)
            self.bytes_out[w] += _size(out[w])
            self.batches_out += 1
        return {"out": out}

    def _arrived(self) -> None:
        """Every state claimed at the last level has arrived (fast loop)."""
        if self.awaiting:
            lost = len(self.awaiting)
            raise ModelError(f"internal error: {lost} state{'s' if lost > 1 else ''} claimed by this worker never arrived")

    def receive(self, batches: tuple) -> dict:
        """Generic loop: deduplicate the states other workers sent; ``{"new": states added}``."""
        return self._round(self._receive, batches)

    def _receive(self, batches: tuple) -> dict:
        before = len(self.next)
        for data in batches:
            self._decode(data, self.level)
        return {"new": len(self.next) - before}

    def started(self) -> int:
        """The states this worker holds at the start (the initial state, or none)."""
        return self.own_new

    def is_fast(self) -> bool:
        return self.fast

    def memory(self) -> int:
        seen = self.seen
        # The visited set as explore() counts it.
        return sys.getsizeof(seen) + 32 * len(seen)

    def _encode(self, w: int, states: list[tuple]) -> tuple:
        """One batch for worker ``w``: the states as rows of this worker's numbers, plus
        what the numbers ``w`` has not seen stand for."""
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
        # The tables through the class-aware pickler; the rows (ints only) through the C
        # pickler's fast path.
        buf = io.BytesIO()
        _Pickler(buf, self.registry).dump((self.index, new_d, new_pid))
        return buf.getvalue(), pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)

    def _decode(self, data: tuple, level: int) -> None:
        t0 = time.process_time()
        try:
            self._decode_batch(data, level)
        finally:
            self.cpu_decode += time.process_time() - t0

    def _decode_batch(self, data: tuple, level: int) -> None:
        e, n = self.engine, self.n
        src, new_d, new_pid = _Unpickler(io.BytesIO(data[0]), self.registry).load()
        rows = pickle.loads(data[1])
        td, tp = self.tr_d[src], self.tr_pid[src]
        for d, dest, msg in new_d:
            td[d] = e._intern_delivery(dest, e._intern_msg(msg))
        for p, pid, local, ds, crashes in new_pid:
            lid = e._intern_local(p, local, "a state received from another worker")
            mask = 0
            for d in ds:
                mask |= 1 << td[d]
            tp[p][pid] = e._intern_pid(p, lid, mask, crashes)
        before = len(self.next)
        if self.fast:
            # States this worker claimed (their fingerprints are in ``seen`` already), each
            # expected once. Generated per model: a row in this worker's numbering,
            # canonical, its fingerprint.
            conv = self._converter(src)
            awaiting = self.awaiting
            push, pushf, pushv = self.next.append, self.nfps.append, self.nfvs.append
            for row in rows:
                s, f = conv(row)
                if f not in awaiting:
                    raise ModelError("internal error: a state arrived that this worker did not claim, or arrived twice")
                awaiting.discard(f)
                push(s)
                pushf(f)
                pushv(None)
            return
        self.received += len(rows)
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
            "widths": list(self.widths),
            "cpu_seconds": self.cpu,
            "busy_seconds": self.wall,
            "cpu_expand": self.cpu_expand,
            "cpu_encode": self.cpu_encode,
            "cpu_receive": self.cpu - self.cpu_expand - self.cpu_encode,
            "cpu_claim": self.cpu_claim,
            "cpu_build": self.cpu_build,
            "cpu_decode": self.cpu_decode,
            "received": self.received,
            "batches_out": self.batches_out,
            "received_dup": self.received_dup,
            "asked": list(self.asked),
            "layered": self.layered,
            "loop": self.loop,
            "bytes_out": list(self.bytes_out),
            "states_out": list(self.states_out),
            "memory_bytes": self.memory() + self.search.tables_bytes(),
        }


def _size(data: Any) -> int:
    return len(data) if isinstance(data, bytes) else sum(len(x) for x in data)


def _offers(first: list[dict], count: int) -> list[tuple]:
    """Per owner, ``(sender, batch)`` from the expand round's results. An owner claims
    in the order given: worker ``j`` hears from ``j+1, j+2, ...`` first, so the states
    lacked are built by every worker alike (not mostly by worker 0)."""
    out = []
    for j in range(count):
        order = [(j + 1 + k) % count for k in range(count - 1)]
        out.append(tuple((i, first[i]["out"][j]) for i in order if j in first[i]["out"]))
    return out


def run_in_process(shards: list[_Shard], max_states: int | None = None) -> int:
    """The driver's rounds without Dask (tests, and the partition's sample): returns the
    depth reached. Stops after the level that reaches ``max_states`` states."""
    count, depth = len(shards), 0
    incoming: list[list] = [[] for _ in shards]
    total = sum(s.own_new for s in shards)
    while True:
        first = [s.expand(depth, True, tuple(incoming[j])) for j, s in enumerate(shards)]
        incoming = [[] for _ in shards]
        offers = _offers(first, count)
        if shards[0].fast:
            second = [s.claim(offers[j]) for j, s in enumerate(shards)]
            asks = [tuple((j, second[j]["wanted"][i]) for j in range(count) if i in second[j]["wanted"])
                    for i in range(count)]
            for i, s in enumerate(shards):
                if asks[i]:
                    for j, data in s.build(asks[i])["out"].items():
                        incoming[j].append(data)
        else:
            second = [s.receive(tuple(d for _i, d in offers[j])) for j, s in enumerate(shards)]
        new = sum(f["own_new"] for f in first) + sum(r["new"] for r in second)
        total += new
        if not new or (max_states is not None and total >= max_states):
            if new:
                for j, s in enumerate(shards):  # the last level's states join the frontier
                    for data in incoming[j]:
                        s._decode(data, depth + 1)
            return depth
        depth += 1


# --------------------------------------------------------------------------- the partition
@dataclass(frozen=True)
class Choice:
    """How states are placed: ``partition`` (the participants whose states decide a state's
    owner; None: the whole state; see :func:`choose_owners`), ``owners``
    (orbit hash of the partition's participant state -> worker, for the states the sample
    saw; the hash places the rest), the sample's share of states per worker under them
    (``predicted``, summed over its levels) and the sample's size in states."""

    partition: tuple[int, ...] | None
    owners: dict[int, int]
    predicted: tuple[float, ...]
    sample: int


def _balance(levels: list[dict[int, int]], count: int) -> dict[int, int]:
    """Each class (a key of the per-level counts) to one of ``count`` workers, largest
    first, to the worker where it least raises the sum over levels of the busiest
    worker's load: every level ends at a barrier, so that sum is the critical path."""
    vec: dict[int, dict[int, int]] = {}
    for d, level in enumerate(levels):
        for o, k in level.items():
            vec.setdefault(o, {})[d] = k
    loads = [[0] * len(levels) for _ in range(count)]
    owners = {}
    for o, v in sorted(vec.items(), key=lambda x: (-sum(x[1].values()), x[0])):
        def cost(w, v=v):
            raised = 0
            for d, k in v.items():
                top = max(loads[x][d] for x in range(count))
                raised += max(loads[w][d] + k, top) - top
            return raised, sum(loads[w])
        w = min(range(count), key=cost)
        owners[o] = w
        for d, k in v.items():
            loads[w][d] += k
    return owners


class _Part:
    """``s -> the orbit hash of participant p's state``."""

    __slots__ = ("p", "tab")

    def __init__(self, tab, p: int) -> None:
        self.tab, self.p = tab, p

    def __call__(self, s: tuple) -> int:
        return self.tab[s[self.p]]


_DEBUG_CHOICE = False


def choose_owners(recipe: Recipe, config: Config, count: int, *, sample: int = 3_000,
                  probe: int = 2_000, balance: bool = True, seed: int = 0) -> Choice:
    """The participants whose states decide a state's owner (None: the whole state), and
    with ``balance`` which worker owns each of their states the sample saw.

    Hashing the whole state spreads states evenly, but then a successor belongs to
    another worker (W-1)/W of the time, and most of those the owner has already found
    from its own states (on corrected, 2 orders, 1 crash, 93% of the states sent arrived
    as duplicates): a successor is looked up, asked for and often built and sent for
    nothing. Hashing one participant's state keeps the successors of every move that
    leaves it alone (locality-preserving partitions, as in Lerda and Sisto's distributed
    SPIN), at the price of balance: that participant has tens of states, a few of them in
    a tenth of all states each (hashed, they split corrected, 3 orders, 1 crash 47/53%).

    The sample: the search level by level on one worker, each level cut to ``sample``
    states at random (``seed``) before it is expanded, to the last level. (The first
    states of the search alone mislead: on that run the participant states the first
    35,000 states hold most of place its 10.6M states 40/60%.) Each participant's states
    are placed by their counts in the sample's levels (:func:`_balance`; by hash without
    ``balance``); each candidate (each participant, the whole state) scores
    ``imbalance * (1 + crossing)``, where imbalance is the sum over the sample's levels of
    the busiest worker's states, times ``count``, over the sample's states, and crossing
    the fraction of the edges of ``probe`` sampled states whose ends have different owners.
    """
    if count < 2:
        return Choice(None, {}, (1.0,), 0)
    shard = _Shard(recipe, config, 0, 1, "auto", None)
    e = shard.engine
    rnd = random.Random(seed)
    init = e.initial()
    seen = {init}
    levels = [[init]]
    expanded: list[tuple] = []
    while levels[-1]:
        nxt = {}
        for s in levels[-1]:
            ts = e.expand(s)[0]
            expanded.append((s, ts))
            for t in ts:
                if t not in seen:
                    nxt[t] = None
        seen.update(nxt)
        states = list(nxt)
        levels.append(rnd.sample(states, sample) if len(states) > sample else states)
    levels.pop()
    total = sum(len(lv) for lv in levels)
    if total < 4 * count:
        return Choice(None, {}, (1.0,) + (0.0,) * (count - 1), total)
    orbit, whole = shard._orbit_pid, shard._orbit_sum
    K, M = _K, _M64
    succs = expanded[::max(1, len(expanded) // probe)]
    best, best_score = None, None
    for cand in [None, *((p,) for p in range(shard.n))]:
        key = whole if cand is None else _Part(orbit[cand[0]], cand[0])
        counts = [dict(collections.Counter(map(key, lv))) for lv in levels]
        owners = _balance(counts, count) if balance and cand is not None else {}

        def bucket(o, owners=owners):  # as _Shard._own with ``count`` workers
            w = owners.get(o)
            return ((o * K & M) >> 32) % count if w is None else w

        critical = 0
        shares = [0] * count
        for level in counts:
            loads = [0] * count
            for o, k in level.items():
                loads[bucket(o)] += k
            critical += max(loads)
            shares = [a + b for a, b in zip(shares, loads, strict=True)]
        imbalance = critical * count / total
        edges = crossing = 0
        for s, ts in succs:
            b = bucket(key(s))
            edges += len(ts)
            crossing += sum(1 for t in ts if bucket(key(t)) != b)
        score = imbalance * (1 + crossing / max(edges, 1))
        if _DEBUG_CHOICE:
            print("partition", cand, "imbalance", round(imbalance, 3), "crossing", round(crossing / max(edges, 1), 3),
                  "score", round(score, 3), "sample", total, file=sys.stderr)
        if best_score is None or score < best_score:
            best = Choice(cand, owners, tuple(round(x / total, 4) for x in shares), total)
            best_score = score
    return best


# --------------------------------------------------------------------------- the driver
@dataclass
class Traffic:
    """What one worker did: states stored and what it sent the others."""

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
    from distributed import Client

    if cluster:
        try:
            return Client(cluster, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--cluster {cluster}: cannot reach the Dask scheduler ({exc})") from None
    local = local_cluster(workers)
    return Client(local), local


def local_cluster(workers: int):
    """A Dask ``LocalCluster`` of ``workers`` worker processes of one thread each, as
    ``--workers N`` starts one (also the tests' and the bench's).

    Its processes are forked from a fork server that has imported Dask and this module
    (which a worker needs for its actor), not spawned: a spawned worker is a fresh
    interpreter importing both. On a shared 2-core machine a command starting two
    workers took 2.0-2.4 CPU s spawned, 1.3-1.7 forked, and their stop 0.2-0.65 s rather
    than 0.02-0.05 (``bench/bench_distributed.py --startup``). A fork server is a
    single-threaded process, so forking it is safe where forking this one (whose event
    loop runs in a thread) is not. Kept: a start method other than Dask's default
    (``spawn``) set in Dask's configuration, and ``spawn`` where the platform has no fork
    server (Windows). A worker the nanny restarts later is started by whatever the
    configuration then says."""
    import logging
    import multiprocessing

    import dask
    from distributed import LocalCluster

    key = "distributed.worker.multiprocessing-method"
    method = dask.config.get(key)
    if method == "spawn" and "forkserver" in multiprocessing.get_all_start_methods():
        method = "forkserver"
    with dask.config.set({key: method}):
        if method == "forkserver":
            from distributed.utils import get_mp_context

            # Dask sets its preload on the first call (once per process); this module too,
            # which each worker would otherwise import on its first actor (0.2-0.5 CPU s).
            get_mp_context().set_forkserver_preload(["distributed", __name__])
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            memory_limit=0, silence_logs=logging.ERROR,
        )


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
    balance: bool = True,
) -> CheckResult:
    """:func:`~sagaspec.model.explore.explore` on ``workers`` local processes or on the
    Dask scheduler at ``cluster`` (``tcp://host:8786``; every worker it has takes part).

    ``recipe``: how workers rebuild ``system`` (default :meth:`Recipe.of`, for saga
    systems). ``liveness``: ``"sequential"`` checks the properties that need cycles with
    the sequential search, ``"unknown"`` leaves them undecided (see the module doc).
    ``partition``: the participants whose states decide owners (None: the whole state;
    ``"auto"``: :func:`choose_owners`, which with ``balance`` also places that
    participant's states by a sample's counts rather than by hash). ``loop``: ``"generic"`` makes the workers
    build every successor and send those other workers own (as on the other buses).
    ``traffic``: if a list, one :class:`Traffic` per worker is appended; ``timings``: if
    a dict, it gets the wall seconds of each phase (``startup`` of the workers,
    ``search``, ``shutdown`` of the workers, ``liveness``, ``traces``), ``critical_cpu`` (per round the slowest
    worker's CPU seconds, summed), the ``partition`` used, ``owners`` (how many
    participant states the sample placed), ``predicted`` (its share of states per worker)
    and ``sample`` (seconds of the choice, part of ``startup``). The result's statistics cover the search. ``on_progress``
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
        out = []
        for fut in futures:
            while True:
                try:
                    out.append(fut.result(timeout=max(progress_interval, 0.05)))
                    break
                except TimeoutError:
                    pass
                now = time.perf_counter()
                if on_progress is not None and now - last >= progress_interval:
                    last = now
                    on_progress(snapshot(frontier))
        return out

    addrs: list[str] = []
    handles: list = []
    try:
        addrs = sorted(client.scheduler_info()["workers"])
        if not addrs:
            raise UsageError(f"--cluster {cluster}: the Dask scheduler has no workers")
        count = len(addrs)
        owners: dict[int, int] = {}
        if partition == "auto":
            mark = time.perf_counter()
            choice = choose_owners(recipe, config, count, balance=balance)
            partition, owners = choice.partition, choice.owners
            phase.update(owners=len(owners), predicted=choice.predicted, sample=time.perf_counter() - mark)
        # One long-lived actor per worker holds its share; the driver calls it once per
        # round and relays what the workers send each other (no task per pair of workers).
        handles = [client.submit(_Shard, recipe, config, i, count, loop, partition, owners, workers=[a], actor=True,
                                 pure=False, allow_other_workers=False) for i, a in enumerate(addrs)]
        actors = [h.result() for h in handles]
        frontier = sum(wait_for([a.started() for a in actors]))
        fast = wait_for([actors[0].is_fast()])[0]
        states = frontier
        start = time.perf_counter()  # the search proper (the shards are built)
        phase["startup"] = start - began
        max_depth = config.max_depth
        incoming: list[list] = [[] for _ in actors]
        while frontier:
            expand = max_depth is None or depth < max_depth
            first = wait_for([a.expand(depth, expand, tuple(incoming[j])) for j, a in enumerate(actors)])
            incoming = [[] for _ in actors]
            rounds = [max(r["cpu"] for r in first)]
            for summary in first:
                edges += summary["edges"]
                truncated |= summary["truncated"]
                for k, kind in summary["found"].items():
                    if k not in found:
                        found[k] = (depth, kind)
                for k in summary["witness"]:
                    witness.setdefault(k, depth)
            new = sum(r["own_new"] for r in first)
            offers = _offers(first, count)
            if any(offers):
                if fast:
                    second = wait_for([a.claim(offers[j]) for j, a in enumerate(actors)])
                    asks = [tuple((j, second[j]["wanted"][i]) for j in range(count) if i in second[j]["wanted"])
                            for i in range(count)]
                    busy = [i for i in range(count) if asks[i]]
                    third = wait_for([actors[i].build(asks[i]) for i in busy])
                    for r in third:
                        for j, data in r["out"].items():
                            incoming[j].append(data)
                    rounds.append(max(r["cpu"] for r in second))
                    if third:
                        rounds.append(max(r["cpu"] for r in third))
                else:
                    second = wait_for([a.receive(tuple(d for _i, d in offers[j])) for j, a in enumerate(actors)])
                    rounds.append(max(r["cpu"] for r in second))
                new += sum(r["new"] for r in second)
            # Every round ends with its slowest worker: the sum of those CPU seconds is the
            # search time on idle cores with free messages (the critical path).
            critical += sum(rounds)
            held = sum(r["memory"] for r in first)
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
        reports = wait_for([a.report() for a in actors])
        held = sum(r["memory_bytes"] for r in reports)
        layered = all(r["layered"] for r in reports)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # The search ends here: stopping the workers (seconds for a local cluster whose
        # workers free gigabytes) is a phase of its own.
        searched = time.perf_counter()
        # Releasing the actors' futures frees their memory on a shared cluster.
        handles = []
        client.close()
        if local is not None:
            local.close()
    seconds = searched - start
    phase["search"] = seconds
    phase["shutdown"] = time.perf_counter() - searched
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
                                   {"bytes_to": r["bytes_out"], "states_to": r["states_out"], "asked_to": r["asked"],
                                    "widths": r["widths"],
                                    "busy_seconds": round(r["busy_seconds"], 3),
                                    **{k: r[k] for k in ("cpu_expand", "cpu_encode", "cpu_receive", "cpu_claim",
                                                         "cpu_build", "cpu_decode", "received", "received_dup",
                                                         "batches_out", "loop")}}))
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

