"""The compiled transition system: interned states, memoized handlers, deterministic steps.

:class:`Engine` turns a :class:`~sagaspec.model.system.System` and a
:class:`~sagaspec.model.system.Config` into a fast successor function, in the spirit of
stateright's ``Model`` (``init_states``/``actions``/``next_state``) and TLC's state store.

Representation (why it is fast)
-------------------------------
Everything is interned to small ints once, so a global state is a flat tuple of ints
``(pid_0, ..., pid_{n-1}, bus, duplicates_left)``:

* ``pid_p`` numbers participant ``p``'s *whole* per-participant state: its local state,
  its idempotency store (a bitmask over the deliveries it has processed) and its
  remaining crash budget.
* a *delivery* ``d`` is one in-flight copy's identity ``(dest, Msg)``; ``bus`` is the
  sorted tuple of the deliveries in flight (a multiset) or, for FIFO, the sorted tuple
  of the non-empty channel queues, each interned to a *queue number*
  ``channel << QBITS | index`` (so sorting orders them by channel) with memoized
  head, pop and push (:meth:`Engine.queue`). On the ``"set"`` bus it is the sorted
  tuple of *distinct* deliveries (a set: a delivery stays after it is received).

Handlers are pure, so their results are cached per ``(local state, delivery)`` and the
moves of a participant per ``(pid, delivery)``: after warm-up a step is a dict lookup
plus a tuple splice. Each move also carries the constant it adds to the state's
additive fingerprint (:meth:`Engine.additive_fingerprint`), so the search can test
"seen?" before building anything. Symmetry reduction renames the sagas so that the
participant states are the least (ties broken by fingerprint, see
:meth:`Engine.canonical`), with the comparisons memoized per participant state and the
hot functions generated and unrolled per model; moves also carry their fingerprint
constant under every renaming, packed in one int (:meth:`Engine.fingerprint_vector`),
so a successor that must be renamed is still tested for "seen?" without being built.

Semantics of a step (documented in the README too)
--------------------------------------------------
``internal``
    A participant's spontaneous action (:meth:`Participant.internal`).
``deliver``
    One in-flight copy of ``msg`` is delivered to ``participant`` and acknowledged: the
    handler's new state, the idempotency store update and the publishes commit together.
    On the ``"set"`` bus the message stays (TLA+'s ``msgs``), and a delivery whose
    successor is the state itself (a stutter) is not a step. A handler that declines
    (returns ``()``, see :attr:`Participant.guarded`) gives no step: the message waits.
``duplicate``
    Like ``deliver`` but a copy stays in flight (at-least-once redelivery); spends one
    unit of the global duplicate budget.
``drop``
    With idempotency on, a copy of a message already in the participant's store is
    acknowledged and dropped without calling the handler (label ``"ignored"``).
``crash``
    The participant crashes while idle and restarts: its local state becomes
    ``restart(state)``; durable state, idempotency store and every unacknowledged
    message are kept. Crashes that change nothing are not explored. Spends one unit of
    that participant's crash budget.
``crash-in-handler``
    The handler ran and committed (new state, store update, publishes in the outbox),
    then the participant crashed before acknowledging: the state is restarted, the
    publishes still go out (the outbox relay sends them after restart), and the message
    stays in flight to be redelivered (and dropped by the idempotency store, if on).
``crash-before-publish``
    Only with ``Config(outbox=False)``: as above, but the crash hits between the commit
    and the publish, so the publishes are lost (the dual-write problem).
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Hashable

from sagaspec.model._sorted_symmetry import SortedCanon, sorted_layout_ok
from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.model.system import Config, System

from sagaspec.errors import ModelError, UsageError

__all__ = ["Engine", "KIND_NAMES", "FAULTS"]

# Move kinds (codes used in the hot loop; names used in Actions and traces).
INTERNAL, DELIVER, DUPLICATE, DROP, CRASH, CRASH_IN, CRASH_LOST = range(7)
KIND_NAMES = (
    "internal",
    "deliver",
    "duplicate",
    "drop",
    "crash",
    "crash-in-handler",
    "crash-before-publish",
)
KIND_CODES = {name: code for code, name in enumerate(KIND_NAMES)}
#: Move kinds that are faults: possible within their budget, never obliged by fairness.
FAULTS = frozenset({DUPLICATE, CRASH, CRASH_IN, CRASH_LOST})

# Deliveries are numbered below 2**SHIFT so (pid, delivery) packs into one int key.
SHIFT = 24
_DLIMIT = 1 << SHIFT


_M64 = (1 << 64) - 1
FP_MASK = (1 << 60) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a well-spread 60-bit value for an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return (x ^ (x >> 31)) & FP_MASK


#: Weight of one unit of the duplicate budget in the additive fingerprint.
_DUP_WEIGHT = _mix(0xD0B1E)

#: FIFO queue numbers are ``channel << QBITS | index``; index 0 is the empty queue.
QBITS = 32
_QLOW = (1 << QBITS) - 1

#: Bits per renaming in a packed fingerprint vector (:meth:`Engine.fingerprint_vector`):
#: 60-bit lanes with room for sums of up to 2**(LANE - 60) terms before a carry.
LANE = 72
#: Packed vectors up to 4 sagas (24 renamings, 216 bytes per vector); beyond, the search
#: builds and renames successors instead.
MAX_VECTOR_PERMS = 24
#: From this many renamings on (5 sagas: 120, past the vectors' reach), sort the sagas
#: by signature instead of trying every renaming, when the participants' states allow
#: it (:mod:`sagaspec.model._sorted_symmetry`, with its own search loop). Up to 4 sagas
#: the general form with vectors is as fast or faster (``bench/bench_symmetry.py``).
SORTED_MIN_PERMS = 120

_no_vector = lambda *_a: 0  # noqa: E731 - moves carry vector 0 when vectors are off


def _generate(name: str, src: str, env: dict | None = None):
    """Compile generated source (built from integers only) under its own file name.

    ``src`` is an expression (usually a lambda) or a ``def name(...)`` block; each gets a
    distinct ``<sagaspec:name>`` file name so profiles and tracebacks tell them apart.
    """
    env = {} if env is None else env
    filename = f"<sagaspec:{name}>"
    if src.startswith("def "):
        exec(compile(src, filename, "exec"), env)  # noqa: S102 - generated from integers only
        return env.pop(src[4 : src.index("(")])
    return eval(compile(src, filename, "eval"), env)  # noqa: S307 - generated from integers only


def _describe(obj: object, limit: int = 200) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Engine:
    """The transition system of one (system, config) pair. Not thread-safe; cheap to make.

    Public methods work on *internal* states (tuples of ints, see the module docstring):
    :meth:`initial`, :meth:`expand`, :meth:`canonical`, :meth:`fingerprint`, and the
    decoders :meth:`local`, :meth:`in_flight`, :meth:`processed`, :meth:`is_quiescent`.
    """

    def __init__(self, system: System, config: Config | None = None) -> None:
        config = config or Config()
        if not isinstance(system, System):
            raise UsageError(f"expected a System, got {type(system).__name__}")
        if not isinstance(config, Config):
            raise UsageError(f"expected a Config, got {type(config).__name__}")
        self.system = system
        self.config = config
        self.parts: tuple[Participant, ...] = system.participants
        self.n = n = len(self.parts)
        self.names = tuple(p.name for p in self.parts)
        # Participants that may have internal actions (the others inherit "none").
        self.internal_parts = tuple(
            p for p, part in enumerate(self.parts) if type(part).internal is not Participant.internal
        )
        self.pindex = {name: i for i, name in enumerate(self.names)}
        self.idem = config.idempotency
        self.fifo = config.bus == "fifo"
        self.setbus = config.bus == "set"
        # Some delivery may have no move (a declined message): quiescence must then look
        # at the deliveries, not just at whether anything is in flight.
        self.may_decline = self.setbus or any(part.guarded for part in self.parts)
        self.outbox = config.outbox
        self.dup_budget = config.duplicates or 0
        self.crash_budget = config.crashes
        # Interning tables. lobj[p][lid] is a local state; pinfo[p][pid] = (lid, mask, crashes_left).
        self.lobj: list[list[Hashable]] = [[] for _ in range(n)]
        self._lid: list[dict] = [{} for _ in range(n)]
        self.pinfo: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        self.plid: list[list[int]] = [[] for _ in range(n)]
        # Additive fingerprint weights: pz[p][pid] per participant state, dz[d] per copy.
        self.pz: list[list[int]] = [[] for _ in range(n)]
        self.dz: list[int] = []
        self._pid: list[dict] = [{} for _ in range(n)]
        self.msgs: list[Msg] = []
        self._mid: dict[Msg, int] = {}
        self.ddest: list[int] = []
        self.dmid: list[int] = []
        self.dchan: list[int] = []
        self._did: dict[tuple[int, int], int] = {}
        self.chans: list[tuple[str, int]] = []
        self._chan: dict[tuple[str, int], int] = {}
        # FIFO queues: _queues[c][index] is a queue of channel c (index 0: empty).
        self._queues: list[list[tuple[int, ...]]] = []
        self._qnum: dict[tuple[int, tuple[int, ...]], int] = {}
        self.qhead = _Lazy(lambda q: self.qhead.setdefault(q, self.queue(q)[0]))
        self.qpop = _Lazy(self._make_qpop)
        self.qpush = _Lazy(self._make_qpush)
        # qz[q]: a queue's weight in the additive fingerprint (0 for an empty queue, which
        # is never in a bus, so a queue emptied or created changes the sum by a weight).
        self.qz = _Lazy(lambda q: self.qz.setdefault(q, _mix(q ^ 0x6B6B_0000_0000_0000) if q & _QLOW else 0))
        self._subs: dict[str, tuple[int, ...]] = {}
        # Memo tables of pure results.
        self._handler: dict[int, tuple] = {}  # (lid << SHIFT | d) -> ((label, nlid, pubs), ...)
        self._dmoves: dict[int, tuple] = {}  # (pid << SHIFT | d) -> moves
        self._hot: dict[int, tuple] = {}  # the same, compact (see hot_moves)
        self._hot0: dict[int, tuple] = {}  # the same without the duplicating moves
        self._fhot: dict[int, tuple] = {}  # the same for the FIFO loop (see fifo_moves)
        self._fhot0: dict[int, tuple] = {}
        self._finternal: list[dict[int, tuple]] = [{} for _ in range(n)]
        self._imoves: list[dict[int, tuple]] = [{} for _ in range(n)]  # pid -> moves
        # Internal steps that change nothing (self-loops): (participant, label, local state).
        self.noops: list[tuple[int, str, int]] = []
        self._crash: list[dict[int, int]] = [{} for _ in range(n)]  # pid -> pid after crash, -1
        self._restart: list[dict[int, int]] = [{} for _ in range(n)]  # lid -> lid
        self._internal_out: list[dict[int, tuple]] = [{} for _ in range(n)]  # lid -> outs
        # builders[p](state, pid, bus, dups): state with participant p's pid, the bus and
        # the duplicate budget replaced. Generated and unrolled: building the successor
        # tuple is the hottest operation of the search.
        self.builders = tuple(
            _generate(
                f"build{p}",
                "lambda s, x, b, d: ("
                + "".join("x, " if q == p else f"s[{q}], " for q in range(n))
                + "b, d)",
            )
            for p in range(n)
        )
        # The weights of the bus's items: in-flight copies, or FIFO queues.
        self._bus_weights = self.qz.__getitem__ if self.fifo else self.dz.__getitem__
        self.additive_fingerprint = _generate(
            "additive_fingerprint",
            "lambda s: ("
            + "".join(f"Z{p}[s[{p}]] + " for p in range(n))
            + f"sum(map(BZ, s[{n}])) + s[{n + 1}] * W) & MASK",
            {**{f"Z{p}": self.pz[p] for p in range(n)}, "BZ": self._bus_weights,
             "W": _DUP_WEIGHT, "MASK": FP_MASK},
        )
        # Symmetry.
        self.symmetric = bool(config.symmetry)
        self.vectors = False
        self.perms: list[tuple[int, ...]] = []
        self.renamings = 1  # how many renamings of the sagas there are (n!)
        self.sorted = None  # the sorted canonical form, when it applies (see _sorted_symmetry)
        self.psym = bool(self.symmetric and system.symmetric)  # over participants, not sagas
        self._init = self._initial_raw()
        if self.psym:
            self._setup_participant_symmetry()
        elif self.symmetric:
            self._check_symmetry()
            if self.renamings >= SORTED_MIN_PERMS and sorted_layout_ok(self):
                self.sorted = SortedCanon(self)
                self.canonical = self.sorted.canonical
            else:
                self._setup_symmetry()

    # ------------------------------------------------------------------ interning
    def _intern_local(self, p: int, state: Hashable, what: str) -> int:
        table = self._lid[p]
        try:
            lid = table.get(state)
        except TypeError:
            raise ModelError(
                f"participant {self.names[p]!r}: {what} returned an unhashable state {_describe(state)}; "
                "use frozen dataclasses, tuples and frozensets"
            ) from None
        if lid is None:
            lid = len(self.lobj[p])
            table[state] = lid
            self.lobj[p].append(state)
        return lid

    def _intern_pid(self, p: int, lid: int, mask: int, crashes: int) -> int:
        key = (lid, mask, crashes)
        pid = self._pid[p].get(key)
        if pid is None:
            pid = len(self.pinfo[p])
            self._pid[p][key] = pid
            self.pinfo[p].append(key)
            self.plid[p].append(lid)
            self.pz[p].append(_mix((p << 40) ^ pid ^ 0x5A5A_0000_0000_0000))
        return pid

    def _intern_msg(self, msg: Msg) -> int:
        mid = self._mid.get(msg)
        if mid is None:
            mid = len(self.msgs)
            self._mid[msg] = mid
            self.msgs.append(msg)
        return mid

    def _intern_delivery(self, dest: int, mid: int) -> int:
        key = (dest, mid)
        d = self._did.get(key)
        if d is None:
            d = len(self.ddest)
            if d >= _DLIMIT:
                raise ModelError(f"model has more than {_DLIMIT} distinct message deliveries")
            self._did[key] = d
            self.ddest.append(dest)
            self.dmid.append(mid)
            self.dz.append(_mix(d ^ 0x3C3C_0000_0000_0000))
            ckey = (self.msgs[mid].src, dest)
            c = self._chan.get(ckey)
            if c is None:
                c = len(self.chans)
                self._chan[ckey] = c
                self.chans.append(ckey)
                self._queues.append([()])
                self._qnum[(c, ())] = c << QBITS
            self.dchan.append(c)
        return d

    # ------------------------------------------------------------------ FIFO queues
    def queue(self, q: int) -> tuple[int, ...]:
        """The deliveries, oldest first, of FIFO queue number ``q``."""
        return self._queues[q >> QBITS][q & _QLOW]

    def _intern_queue(self, c: int, queue: tuple[int, ...]) -> int:
        key = (c, queue)
        q = self._qnum.get(key)
        if q is None:
            table = self._queues[c]
            q = self._qnum[key] = (c << QBITS) | len(table)
            table.append(queue)
        return q

    def _make_qpop(self, q: int) -> int:
        r = self.qpop[q] = self._intern_queue(q >> QBITS, self.queue(q)[1:])
        return r

    def _make_qpush(self, key: int) -> int:
        q, d = key >> SHIFT, key & (_DLIMIT - 1)
        r = self.qpush[key] = self._intern_queue(q >> QBITS, (*self.queue(q), d))
        return r

    def fifo_add(self, bus: tuple, pubs: tuple) -> tuple:
        """A FIFO bus with the deliveries ``pubs`` appended to their channels, in order."""
        dchan, qpush = self.dchan, self.qpush
        for d in pubs:
            c = dchan[d]
            empty = c << QBITS
            i = bisect_left(bus, empty)
            if i < len(bus) and bus[i] >> QBITS == c:
                bus = (*bus[:i], qpush[(bus[i] << SHIFT) | d], *bus[i + 1 :])
            else:
                bus = (*bus[:i], qpush[(empty << SHIFT) | d], *bus[i:])
        return bus

    def subscribers(self, event_type: str) -> tuple[int, ...]:
        subs = self._subs.get(event_type)
        if subs is None:
            subs = tuple(i for i, p in enumerate(self.parts) if event_type in p.subscribes)
            self._subs[event_type] = subs
        return subs

    def delivery(self, dest: int, msg: Msg) -> int:
        """The delivery number of ``msg`` to participant ``dest`` (interned on first use)."""
        return self._intern_delivery(dest, self._intern_msg(msg))

    def _publish(self, p: int, publish: object, what: str) -> tuple[int, ...]:
        if not isinstance(publish, tuple):
            raise ModelError(f"participant {self.names[p]!r}: {what} published {_describe(publish)}; expected a tuple of Msg")
        out: list[int] = []
        for msg in publish:
            if not isinstance(msg, Msg):
                raise ModelError(f"participant {self.names[p]!r}: {what} published {_describe(msg)}, not a Msg")
            try:
                mid = self._intern_msg(msg)
            except TypeError:
                raise ModelError(f"participant {self.names[p]!r}: {what} published an unhashable message {_describe(msg)}") from None
            for dest in self.subscribers(msg.type):
                out.append(self._intern_delivery(dest, mid))
        return tuple(out)

    def _outcomes(self, p: int, outs: object, what: str, *, allow_empty: bool) -> tuple:
        if not isinstance(outs, tuple | list):
            raise ModelError(f"participant {self.names[p]!r}: {what} returned {_describe(outs)}; expected a tuple of Outcome")
        if not outs and not allow_empty:
            raise ModelError(
                f"participant {self.names[p]!r}: {what} returned no outcome (at least one is required; "
                "set guarded = True on the participant if it may decline a message)"
            )
        result = []
        labels: set[str] = set()
        for o in outs:
            if not isinstance(o, Outcome):
                raise ModelError(f"participant {self.names[p]!r}: {what} returned {_describe(o)}, not an Outcome")
            if not isinstance(o.label, str):
                raise ModelError(f"participant {self.names[p]!r}: {what} returned an outcome whose label is not a string")
            if o.label in labels:
                raise ModelError(
                    f"participant {self.names[p]!r}: {what} returned two outcomes labelled {o.label!r}; "
                    "labels must be distinct so traces replay"
                )
            labels.add(o.label)
            nlid = self._intern_local(p, o.state, what)
            pubs = self._publish(p, o.publish, what)
            result.append((o.label, nlid, pubs, tuple(o.publish)))
        return tuple(result)

    # ------------------------------------------------------------------ memoized moves
    def _call(self, p: int, fn, *args):
        try:
            return fn(*args)
        except ModelError:
            raise
        except Exception as exc:
            part = self.parts[p]
            call = f"{fn.__name__}({', '.join(_describe(a, 120) for a in args)})"
            raise ModelError(
                f"participant {part.name!r}: {call} raised {type(exc).__name__}: {exc}"
            ) from exc

    def _handler_outs(self, p: int, lid: int, d: int) -> tuple:
        key = (lid << SHIFT) | d
        outs = self._handler.get(key)
        if outs is None:
            local = self.lobj[p][lid]
            msg = self.msgs[self.dmid[d]]
            raw = self._call(p, self.parts[p].on_event, local, msg)
            outs = self._outcomes(
                p, raw, f"on_event(..., {msg!r})", allow_empty=self.setbus or self.parts[p].guarded
            )
            self._handler[key] = outs
        return outs

    def _restart_lid(self, p: int, lid: int) -> int:
        r = self._restart[p].get(lid)
        if r is None:
            raw = self._call(p, self.parts[p].restart, self.lobj[p][lid])
            r = self._intern_local(p, raw, "restart()")
            self._restart[p][lid] = r
        return r

    def _sort_pubs(self, pubs: tuple[int, ...]) -> tuple[int, ...]:
        # FIFO keeps publish order (per channel); the unordered bus is a sorted multiset,
        # the set bus a sorted set.
        if self.fifo:
            return pubs
        return tuple(sorted(set(pubs))) if self.setbus else tuple(sorted(pubs))

    def delivery_moves(self, pid: int, d: int) -> tuple:
        """Moves of delivering ``d`` to its participant in state ``pid``.

        Each move is ``(kind, new_pid, publishes, keep, spend_dup, label, delta, vector)``:
        ``keep`` means the delivered copy stays in flight, ``spend_dup`` that it costs one
        duplicate, and ``delta`` is what the move adds to the additive fingerprint (see
        :meth:`additive_fingerprint`), which depends on nothing else. ``vector`` is the
        same constant for every renaming of the sagas, packed (see
        :meth:`fingerprint_vector`; 0 when vectors are off).
        """
        key = (pid << SHIFT) | d
        moves = self._dmoves.get(key)
        if moves is not None:
            return moves
        p = self.ddest[d]
        lid, mask, crashes = self.pinfo[p][pid]
        bit = 1 << d
        pz, dz = self.pz[p], self.dz
        here = pz[pid]
        # (FIFO moves carry their vectors in fifo_moves: the bus part depends on queues.)
        vec = self._move_vector if self.vectors and not self.fifo else _no_vector
        if self.idem and mask & bit:
            # (On the set bus dropping would leave the state as it is: a stutter, no step.)
            moves = () if self.setbus else ((DROP, pid, (), 0, 0, "ignored", -dz[d], vec(p, pid, pid, d, (), 0)),)
        else:
            out = []
            nmask = mask | bit if self.idem else mask
            # On the set bus the received message stays: the move keeps it. (Its delta is
            # meaningless there, since a publish may already be in the set; the set bus
            # is searched by the generic loop, which fingerprints whole states.)
            stays = 1 if self.setbus else 0
            for label, nlid, pubs, _msgs in self._handler_outs(p, lid, d):
                pubs = self._sort_pubs(pubs)
                added = sum(dz[x] for x in pubs)
                npid = self._intern_pid(p, nlid, nmask, crashes)
                step = pz[npid] - here + added
                out.append((DELIVER, npid, pubs, stays, 0, label, step - dz[d], vec(p, pid, npid, d, pubs, 0)))
                if self.dup_budget:
                    out.append(
                        (DUPLICATE, npid, pubs, 1, 1, label, step - _DUP_WEIGHT, vec(p, pid, npid, -1, pubs, 1))
                    )
                if crashes:
                    cpid = self._intern_pid(p, self._restart_lid(p, nlid), nmask, crashes - 1)
                    out.append(
                        (CRASH_IN, cpid, pubs, 1, 0, label, pz[cpid] - here + added, vec(p, pid, cpid, -1, pubs, 0))
                    )
                    if not self.outbox and pubs:
                        out.append(
                            (CRASH_LOST, cpid, (), 1, 0, label, pz[cpid] - here, vec(p, pid, cpid, -1, (), 0))
                        )
            moves = tuple(out)
        self._dmoves[key] = moves
        return moves

    def hot_moves(self, pid: int, d: int) -> tuple:
        """:meth:`delivery_moves` as the search loop reads them (memoized in ``_hot``).

        Each is ``(new_pid, publishes, keep, spend_dup, delta, vector)``: the fields the
        search needs, so its inner loop unpacks less.
        """
        key = (pid << SHIFT) | d
        moves = self._hot.get(key)
        if moves is None:
            moves = self._hot[key] = tuple(
                (npid, pubs, keep, spend, delta, vec)
                for _kind, npid, pubs, keep, spend, _label, delta, vec in self.delivery_moves(pid, d)
            )
        return moves

    def hot_moves_no_dup(self, pid: int, d: int) -> tuple:
        """:meth:`hot_moves` without the moves that spend a duplicate (budget spent)."""
        key = (pid << SHIFT) | d
        moves = self._hot0.get(key)
        if moves is None:
            moves = self._hot0[key] = tuple(mv for mv in self.hot_moves(pid, d) if not mv[3])
        return moves

    def fifo_moves(self, pid: int, d: int) -> tuple:
        """:meth:`delivery_moves` as the FIFO search loop reads them (memoized).

        Each is ``(new_pid, publishes, keep, spend_dup, delta, vector, plan)``: ``delta``
        and ``vector`` cover the participant and the duplicate budget only (the bus part
        depends on the queues), and ``plan`` groups the publishes by channel, in order,
        as ``(channel << QBITS, channel << QBITS | QLOW, deliveries)``.
        """
        key = (pid << SHIFT) | d
        moves = self._fhot.get(key)
        if moves is None:
            p = self.ddest[d]
            moves = self._fhot[key] = tuple(
                self._fifo_move(p, pid, npid, pubs, keep, spend)
                for _kind, npid, pubs, keep, spend, _label, _delta, _vec in self.delivery_moves(pid, d)
            )
        return moves

    def fifo_moves_no_dup(self, pid: int, d: int) -> tuple:
        """:meth:`fifo_moves` without the moves that spend a duplicate (budget spent)."""
        key = (pid << SHIFT) | d
        moves = self._fhot0.get(key)
        if moves is None:
            moves = self._fhot0[key] = tuple(mv for mv in self.fifo_moves(pid, d) if not mv[3])
        return moves

    def fifo_internal_moves(self, p: int, pid: int) -> tuple:
        """:meth:`internal_moves` in the shape of :meth:`fifo_moves` (memoized)."""
        moves = self._finternal[p].get(pid)
        if moves is None:
            moves = self._finternal[p][pid] = tuple(
                self._fifo_move(p, pid, mv[1], mv[2], 0, 0) for mv in self.internal_moves(p, pid)
            )
        return moves

    def _fifo_move(self, p: int, pid: int, npid: int, pubs: tuple, keep: int, spend: int) -> tuple:
        pz = self.pz[p]
        delta = pz[npid] - pz[pid] - spend * _DUP_WEIGHT
        vec = self._move_vector(p, pid, npid, -1, (), spend) if self.vectors else 0
        groups: dict[int, list[int]] = {}
        for x in pubs:
            groups.setdefault(self.dchan[x] << QBITS, []).append(x)
        plan = tuple((c0, c0 | _QLOW, tuple(xs)) for c0, xs in groups.items())
        return (npid, pubs, keep, spend, delta, vec, plan)

    def internal_moves(self, p: int, pid: int) -> tuple:
        """Internal moves of participant ``p`` in state ``pid`` (same shape as delivery moves)."""
        moves = self._imoves[p].get(pid)
        if moves is not None:
            return moves
        lid, mask, crashes = self.pinfo[p][pid]
        outs = self._internal_out[p].get(lid)
        if outs is None:
            raw = self._call(p, self.parts[p].internal, self.lobj[p][lid])
            outs = self._outcomes(p, raw, "internal()", allow_empty=True)
            self._internal_out[p][lid] = outs
        pz, dz = self.pz[p], self.dz
        vec = self._move_vector if self.vectors and not self.fifo else _no_vector
        out = []
        for label, nlid, pubs, _msgs in outs:
            npid = self._intern_pid(p, nlid, mask, crashes)
            delta = pz[npid] - pz[pid] + sum(dz[x] for x in pubs)
            pubs = self._sort_pubs(pubs)
            out.append((INTERNAL, npid, pubs, 0, 0, label, delta, vec(p, pid, npid, -1, pubs, 0)))
            if npid == pid and not pubs:
                self.noops.append((p, label, lid))
        moves = tuple(out)
        self._imoves[p][pid] = moves
        return moves

    def crash_move(self, p: int, pid: int) -> int:
        """The pid after an idle crash of ``p`` in ``pid``, or -1 if none (budget, no-op)."""
        r = self._crash[p].get(pid)
        if r is None:
            lid, mask, crashes = self.pinfo[p][pid]
            r = -1
            if crashes:
                rl = self._restart_lid(p, lid)
                if rl != lid:
                    r = self._intern_pid(p, rl, mask, crashes - 1)
            self._crash[p][pid] = r
        return r

    # ------------------------------------------------------------------ states
    def _initial_raw(self) -> tuple:
        pids = []
        for p, part in enumerate(self.parts):
            local = self._call(p, part.init)
            lid = self._intern_local(p, local, "init()")
            pids.append(self._intern_pid(p, lid, 0, self.crash_budget))
        return (*pids, (), self.dup_budget)

    def initial(self, *, canonical: bool = True) -> tuple:
        """The initial state (its canonical representative under symmetry)."""
        return self.canonical(self._init) if canonical and self.symmetric else self._init

    @staticmethod
    def fingerprint(state: tuple) -> int:
        """A 60-bit fingerprint of an internal state (TLC-style visited-set key).

        States are tuples of ints, whose hash does not depend on PYTHONHASHSEED, so
        fingerprints are reproducible across runs.
        """
        return hash(state) & 0x0FFF_FFFF_FFFF_FFFF

    def additive_fingerprint(self, state: tuple) -> int:
        """The 60-bit fingerprint the inlined searches use.

        ``sum(pz[p][pid_p]) + sum(weight of each bus item) + dups * W`` modulo 2**60, with
        pseudo-random weights; a bus item is an in-flight copy (unordered bus) or a
        whole channel queue (FIFO: the order inside a channel is in the queue's number).
        A move changes one participant, removes or keeps one copy, adds its publishes
        and maybe spends a duplicate. On the unordered bus the successor's fingerprint
        is then the parent's plus a constant stored in the move; on FIFO, plus the
        weight changes of the queues it pops and pushes (memoized per queue). Either way
        the search checks "seen?" before it builds the successor tuple (TLC-style
        incremental fingerprinting). Two different states collide with probability about
        2**-60 (a difference of random weights must vanish).
        """
        n = self.n
        total = sum(self.pz[p][state[p]] for p in range(n))
        total += sum(map(self._bus_weights, state[n]))
        total += state[n + 1] * _DUP_WEIGHT
        return total & FP_MASK

    def _bus_add(self, bus: tuple, pubs: tuple) -> tuple:
        if not pubs:
            return bus
        if self.setbus:
            return tuple(sorted(set(bus).union(pubs)))
        if not self.fifo:
            return tuple(sorted(bus + pubs))
        return self.fifo_add(bus, pubs)

    def deliverable(self, bus: tuple) -> list[tuple[int, int, tuple]]:
        """``(position, delivery, bus without that copy)`` for each distinct deliverable copy."""
        out = []
        if not self.fifo:
            prev = -1
            for i, d in enumerate(bus):
                if d != prev:
                    out.append((i, d, bus[:i] + bus[i + 1 :]))
                    prev = d
        else:
            head, pop = self.qhead, self.qpop
            for i, q in enumerate(bus):
                nq = pop[q]
                rest = (*bus[:i], nq, *bus[i + 1 :]) if nq & _QLOW else bus[:i] + bus[i + 1 :]
                out.append((i, head[q], rest))
        return out

    def expand(self, state: tuple, *, actions: bool = False, canonical: bool = True):
        """Successors of ``state`` in the deterministic action order.

        Returns ``(successors, quiescent, descriptors)``: ``quiescent`` is true when no
        step but a fault is enabled: no internal action, and nothing in flight or every
        in-flight message declined (or, on the set bus, a stutter); ``descriptors`` (only with
        ``actions=True``, else ``None``) holds ``(kind, participant, delivery, label)``
        per successor. Order: internal actions by participant, then deliveries in bus
        order (per outcome: deliver, duplicate, crash-in-handler, crash-before-publish),
        then idle crashes by participant. With symmetry, successors are canonicalized
        unless ``canonical=False``.
        """
        n = self.n
        bus = state[n]
        dups = state[n + 1]
        succ: list[tuple] = []
        descr: list | None = [] if actions else None
        quiescent = True
        add = self._bus_add
        for p in range(n):
            pid = state[p]
            moves = self._imoves[p].get(pid)
            if moves is None:
                moves = self.internal_moves(p, pid)
            if moves:
                quiescent = False
                head = state[:p]
                tail = state[p + 1 : n]
                for mv in moves:
                    succ.append((*head, mv[1], *tail, add(bus, mv[2]), dups))
                    if actions:
                        descr.append((mv[0], p, -1, mv[5]))
        if bus:
            ddest = self.ddest
            dmoves = self._dmoves
            setbus = self.setbus
            for _i, d, rest in self.deliverable(bus):
                p = ddest[d]
                pid = state[p]
                moves = dmoves.get((pid << SHIFT) | d)
                if moves is None:
                    moves = self.delivery_moves(pid, d)
                head = state[:p]
                tail = state[p + 1 : n]
                for kind, npid, pubs, keep, spend, label, _delta, _vec in moves:
                    if spend:
                        if not dups:
                            continue
                        t = (*head, npid, *tail, add(bus, pubs), dups - 1)
                    else:
                        t = (*head, npid, *tail, add(bus if keep else rest, pubs), dups)
                        if setbus and t == state:
                            continue  # a stutter: receiving it again changes nothing
                        if kind == DELIVER or kind == DROP:
                            quiescent = False
                    succ.append(t)
                    if actions:
                        descr.append((kind, p, d, label))
        if self.crash_budget:
            for p in range(n):
                cp = self._crash[p].get(state[p])
                if cp is None:
                    cp = self.crash_move(p, state[p])
                if cp >= 0:
                    succ.append((*state[:p], cp, *state[p + 1 :]))
                    if actions:
                        descr.append((CRASH, p, -1, "restart"))
        if canonical and self.symmetric:
            canon = self.canonical
            succ = [canon(s) for s in succ]
        return succ, quiescent, descr

    # ------------------------------------------------------------------ decoding
    def local(self, p: int, pid: int) -> Hashable:
        """Participant ``p``'s local state in per-participant state ``pid``."""
        return self.lobj[p][self.plid[p][pid]]

    def crashes_left(self, p: int, pid: int) -> int:
        return self.pinfo[p][pid][2]

    def processed(self, p: int, pid: int) -> frozenset[Msg]:
        """The messages in participant ``p``'s idempotency store."""
        mask = self.pinfo[p][pid][1]
        out = []
        d = 0
        while mask:
            if mask & 1:
                out.append(self.msgs[self.dmid[d]])
            mask >>= 1
            d += 1
        return frozenset(out)

    def bus_deliveries(self, bus: tuple) -> list[int]:
        """Every in-flight copy (deliveries, with repeats), in bus order."""
        if not self.fifo:
            return list(bus)
        return [d for q in bus for d in self.queue(q)]

    def in_flight(self, state: tuple) -> tuple[tuple[str, Msg], ...]:
        """Every in-flight copy as ``(dest name, Msg)``."""
        names, msgs, dmid, ddest = self.names, self.msgs, self.dmid, self.ddest
        return tuple((names[ddest[d]], msgs[dmid[d]]) for d in self.bus_deliveries(state[self.n]))

    def is_quiescent(self, state: tuple) -> bool:
        """No step but a fault enabled (see :meth:`expand`)."""
        if any(self.internal_moves(p, state[p]) for p in range(self.n)):
            return False
        if not state[self.n]:
            return True
        if not self.may_decline:
            return False  # every in-flight message can be handled or dropped
        return self.expand(state, canonical=False)[1]

    def published(self, state: tuple, descr: tuple) -> tuple[tuple[Msg, ...], tuple[Msg, ...]]:
        """``(published, lost)`` messages of the move ``descr`` taken in ``state``.

        Every message the handler published counts, including those nobody subscribes
        to (they reach no one, which is often the bug). ``lost`` is non-empty only for
        ``crash-before-publish``.
        """
        kind, p, d, label = descr
        if kind in (CRASH, DROP):
            return (), ()
        lid = self.plid[p][state[p]]
        if d < 0:
            outs = self._internal_out[p].get(lid, ())
        else:
            outs = self._handler_outs(p, lid, d)
        for out in outs:
            if out[0] == label:
                return ((), out[3]) if kind == CRASH_LOST else (out[3], ())
        return (), ()

    def noop_warning(self) -> str | None:
        """One line about the internal steps that change nothing, or None if there are none.

        Such a step is a self-loop: harmless for safety, but a run may take it forever, so
        it usually means a handler forgot to change its state or to publish.
        """
        if not self.noops:
            return None
        p, label, lid = self.noops[0]
        more = len(self.noops) - 1
        return (
            f"participant {self.names[p]!r}: internal step {label!r} changes nothing in local state "
            f"{_describe(self.lobj[p][lid])} (a self-loop: the run can repeat it forever)"
            + (f"; {more} more such step{'s' if more > 1 else ''}" if more else "")
        )

    def describe_move(self, descr: tuple) -> tuple[str, str, Msg | None, str]:
        """``(kind, participant, msg, label)`` of an ``expand(..., actions=True)`` descriptor."""
        kind, p, d, label = descr
        return KIND_NAMES[kind], self.names[p], (self.msgs[self.dmid[d]] if d >= 0 else None), label

    # ------------------------------------------------------------------ symmetry
    def canonical(self, state: tuple) -> tuple:
        """The representative of ``state``'s orbit under renaming the sagas.

        Without symmetry this is ``state`` itself. With symmetry the instance gets a
        generated function (see :meth:`_setup_symmetry`). Of the renamings ``k``, keep
        those whose renamed participant states ``permute_state(state, k)[:n]`` are the
        least, lexicographically by interned number: the candidates (a bitmask) are
        narrowed participant by participant, each step memoized per ``(pid, mask)``.
        Several renamings remain only when they fix the participant states and differ
        in the bus; then the one whose renamed state has the least additive fingerprint
        wins (the search knows those fingerprints without building the states, see
        :meth:`fingerprint_vector`), the least ``k`` among equal ones. So two states
        get the same representative iff one is a renaming of the other (up to a 60-bit
        fingerprint collision between renamings of one state, the visited set's own
        assumption). ``tie(state, mask)`` is that last step alone.
        """
        return state

    def fingerprint_vector(self, state: tuple) -> int:
        """The additive fingerprints of every renaming of ``state``, packed in one int.

        Lane ``k`` (bits ``LANE*k`` up) holds ``additive_fingerprint(permute_state(state,
        k))``. Moves carry the same vector of constants (the last field of a move), so
        the search gets the fingerprint of any renaming of a successor with one big-int
        addition and a shift: it needs no successor tuple to test "seen?" even when the
        successor must be renamed to become canonical. Only with symmetry and at most
        :data:`MAX_VECTOR_PERMS` renamings (``Engine.vectors``); the search falls back
        to building and renaming otherwise.
        """
        if not self.vectors:
            raise UsageError(
                f"fingerprint vectors need symmetry and at most {MAX_VECTOR_PERMS} renamings (Engine.vectors)"
            )
        return self._fvec(state)

    def _setup_participant_symmetry(self) -> None:
        """Symmetry over interchangeable participants: the least of all renamings.

        A renaming ``k`` maps participant index ``p`` to ``pmaps[k][p]`` (a permutation
        inside each of ``System.symmetric``'s groups, the identity elsewhere): the state
        of ``p`` moves to that slot with the names in it renamed
        (:meth:`Participant.rename`), and each in-flight copy goes to the renamed
        receiver with ``Msg.src`` renamed. The representative of a state is the least
        of its renamed tuples, a canonical form of the orbit (exact, no tie-break); it
        costs one renaming per group element, so it suits the small groups of models
        written one participant per node (5 resource managers: 120). The search takes
        the generic loop (:meth:`expand` with canonical successors).
        """
        for part in self.parts:
            if type(part).rename is Participant.rename:
                raise UsageError(
                    f"symmetry: participant {part.name!r} does not implement rename(state, names)"
                )
        n = self.n
        maps = [tuple(range(n))]
        for group in self.system.symmetric:
            idx = [self.pindex[x] for x in group]
            grown = []
            for base in maps:
                for image in itertools.permutations(idx):
                    m = list(base)
                    for a, b in zip(idx, image, strict=True):
                        m[a] = b
                    grown.append(tuple(m))
            maps = grown
        self.pmaps = maps  # maps[0] is the identity
        # _pinv[k][q]: the participant whose state renaming k moves to slot q.
        self._pinv = [tuple(sorted(range(n), key=m.__getitem__)) for m in maps]
        self._all_renamings = tuple(range(len(maps)))
        self.pnames = [{self.names[p]: self.names[m[p]] for p in range(n) if m[p] != p} for m in maps]
        self.renamings = len(maps)
        self._rpid: list[list[dict[int, int]]] = [[{} for _ in range(n)] for _ in maps]
        self._rdel: list[dict[int, int]] = [{} for _ in maps]
        self.permute_state = self._rename_state
        self.canonical = self._participant_canonical

    def _participant_canonical(self, state: tuple) -> tuple:
        # The least renamed tuple, found slot by slot: keep the renamings that give the
        # least participant state in slot 0, then among them in slot 1, ... (pid lookups,
        # memoized); only renamings still tied on every participant are built whole and
        # compared (they differ in the bus). The same least tuple as building them all.
        rpid, inv = self._rpid, self._pinv
        cands = self._all_renamings
        for q in range(self.n):
            least = -1
            keep: list[int] = []
            for k in cands:
                p = inv[k][q]
                table = rpid[k][p]
                v = table.get(state[p])
                if v is None:
                    v = table[state[p]] = self._rename_pid(k, p, state[p])
                if least < 0 or v < least:
                    least = v
                    keep = [k]
                elif v == least:
                    keep.append(k)
            cands = keep
            if len(cands) == 1:
                k = cands[0]
                return state if k == 0 else self._rename_state(state, k)
        return min(self._rename_state(state, k) for k in cands)

    def _rename_state(self, state: tuple, k: int) -> tuple:
        """``state`` under participant renaming ``k`` (see :meth:`_setup_participant_symmetry`)."""
        n = self.n
        m = self.pmaps[k]
        out: list = [0] * n
        for p in range(n):
            table = self._rpid[k][p]
            r = table.get(state[p])
            if r is None:
                r = table[state[p]] = self._rename_pid(k, p, state[p])
            out[m[p]] = r
        rdel = self._rdel[k]
        bus = state[n]
        if self.fifo:
            queues = []
            for q in bus:
                ds = tuple(rdel[d] if d in rdel else self._rename_delivery(k, d) for d in self.queue(q))
                queues.append(self._intern_queue(self.dchan[ds[0]], ds))
            nb = tuple(sorted(queues))
        else:
            nb = tuple(sorted(rdel[d] if d in rdel else self._rename_delivery(k, d) for d in bus))
        return (*out, nb, state[n + 1])

    def _rename_delivery(self, k: int, d: int) -> int:
        names = self.pnames[k]
        msg = self.msgs[self.dmid[d]]
        if msg.src in names:
            msg = Msg(msg.type, msg.saga, names[msg.src], msg.data)
        r = self._rdel[k][d] = self._intern_delivery(self.pmaps[k][self.ddest[d]], self._intern_msg(msg))
        return r

    def _rename_pid(self, k: int, p: int, pid: int) -> int:
        lid, mask, crashes = self.pinfo[p][pid]
        q = self.pmaps[k][p]
        raw = self._call(p, self.parts[p].rename, self.lobj[p][lid], dict(self.pnames[k]))
        nlid = self._intern_local(q, raw, "rename()")
        nmask = 0
        d = 0
        rest = mask
        while rest:
            if rest & 1:
                nd = self._rdel[k].get(d)
                nmask |= 1 << (nd if nd is not None else self._rename_delivery(k, d))
            rest >>= 1
            d += 1
        return self._intern_pid(q, nlid, nmask, crashes)

    def _check_symmetry(self) -> None:
        k = self.system.sagas
        if k < 2:
            raise UsageError(
                f"symmetry needs a system with at least 2 interchangeable sagas (System.sagas is {k})"
            )
        for part in self.parts:
            if type(part).permute is Participant.permute:
                raise UsageError(
                    f"symmetry: participant {part.name!r} does not implement permute(state, perm)"
                )
        self.renamings = math.factorial(k)

    def _setup_symmetry(self) -> None:
        """The general canonical form: the least of all ``n!`` renamings (see :meth:`canonical`)."""
        k = self.system.sagas
        if k > 6:
            raise UsageError(
                f"symmetry over {k} sagas ({k}! renamings) needs the sorted canonical form: an "
                "unordered bus and participant states made of per-saga slots plus shared values"
            )
        # perm 0 is the identity, so an already-canonical state needs no work.
        self.perms = list(itertools.permutations(range(k)))
        count = len(self.perms)
        self._P = count
        self._full = (1 << count) - 1
        self._single = {1 << j: j for j in range(count)}
        self._bits = _Lazy(lambda m: self._bits.setdefault(m, tuple(j for j in range(count) if m >> j & 1)))
        self._pmsg: list[dict[int, int]] = [{} for _ in self.perms]
        self._ppid: list[list[dict[int, int]]] = [[{} for _ in self.perms] for _ in self.parts]
        self._plid: list[list[dict[int, int]]] = [[{} for _ in self.perms] for _ in self.parts]
        self._pmask: list[dict[int, int]] = [{} for _ in self.perms]
        # _prow[p][pid]: pid under every permutation; _narrow[p][pid << P | mask]: the
        # subset of the permutations in mask that minimise participant p's pid. Both fill
        # themselves on a miss (dict subclasses with __missing__), so the generated code
        # below can index them directly.
        self._prow = [_Lazy(lambda pid, p=p: self._make_row(p, pid)) for p in range(self.n)]
        self._narrow = [_Lazy(lambda key, p=p: self._make_narrow(p, key)) for p in range(self.n)]
        self._pdel = [_Lazy(lambda d, k=k: self._perm_delivery(k, d)) for k in range(count)]
        self._pqueue = [_Lazy(lambda q, k=k: self._perm_queue(k, q)) for k in range(count)]
        n = self.n
        env = {f"R{p}": self._prow[p] for p in range(n)}
        env.update({f"N{p}": self._narrow[p] for p in range(n)})
        env.update(single=self._single)
        env["tie"] = self.tie = self._tie_fp
        # The bus renamed by k: each delivery (unordered) or queue (FIFO) renamed through
        # its lazily filled table, sorted again.
        env["BT"] = self._pqueue if self.fifo else self._pdel
        self.permute_state = _generate(
            "permute_state",
            "lambda s, k: ("
            + "".join(f"R{p}[s[{p}]][k], " for p in range(n))
            + f"tuple(sorted(map(BT[k].__getitem__, s[{n}]))), s[{n + 1}])",
            env,
        )
        env["perm"] = self.permute_state
        src = ["def canonical(s):", f"    m = {self._full}"]
        for p in range(n):
            src += [
                f"    m = N{p}[(s[{p}] << {count}) | m]",
                "    k = single.get(m)",
                "    if k is not None:",
                "        return s if k == 0 else perm(s, k)",
            ]
        src.append("    return tie(s, m)")
        self.canonical = _generate("canonical", "\n".join(src), env)
        # settled(s) for a canonical s: ``(q, pre)`` where q is the first participant
        # such that s[0..q] alone already make the identity the only canonicalizing
        # renaming (n if none), and pre[p] for p <= q the candidates left by s[0..p-1]. A
        # move of a participant after q leaves those pids alone, so its successor is
        # canonical as it is: the search skips the check. For a move of p <= q to pid
        # x, ``narrow[p][x << P | pre[p]]`` is the next step, and finish[p](s, m)
        # continues with s[p+1:]. The result is the renaming that canonicalizes the
        # successor, decided from the participant states alone: 0 (already canonical),
        # k > 0, or -mask when the renamings in mask tie on them (the bus decides).
        full = self._full
        src = ["def settled(s):"]
        masks = [str(full)]
        for p in range(n):
            src += [
                f"    m{p + 1} = N{p}[(s[{p}] << {count}) | {masks[-1]}]",
                f"    if m{p + 1} == 1:",
                f"        return ({p}, ({', '.join(masks)},))",
            ]
            masks.append(f"m{p + 1}")
        src.append(f"    return ({n}, ({', '.join(masks[:n])},))")
        self.settled = _generate("settled", "\n".join(src), env)
        finish = []
        for q in range(n):
            src = ["def finish(s, m):"]
            for p in range(q + 1, n):
                src += [
                    f"    m = N{p}[(s[{p}] << {count}) | m]",
                    "    if not m & (m - 1):",
                    "        return single[m]",
                ]
            src.append("    return -m")
            finish.append(_generate(f"finish{q}", "\n".join(src), env))
        self.finish = tuple(finish)
        self.vectors = count <= MAX_VECTOR_PERMS
        if self.vectors:
            self._setup_vectors()

    def _setup_vectors(self) -> None:
        """Generated helpers for :meth:`fingerprint_vector` (see there)."""
        n, count = self.n, self._P
        self.lanes = sum(FP_MASK << (LANE * k) for k in range(count))
        self._dup_lanes = sum(_DUP_WEIGHT << (LANE * k) for k in range(count))
        self._lane_ones = sum(1 << (LANE * k) for k in range(count))
        # _pvec[p][pid], _dvec[d]: the packed weights of a pid / an in-flight copy under
        # every renaming; _cvec[p][pid]: the vector of an idle crash.
        self._pvec = [_Lazy(lambda pid, p=p: self._make_pvec(p, pid)) for p in range(n)]
        self._dvec = _Lazy(self._make_dvec)
        self._qvec = _Lazy(self._make_qvec)
        self._cvec: list[dict[int, int]] = [{} for _ in range(n)]
        env = {f"V{p}": self._pvec[p] for p in range(n)}
        bus_vec = self._qvec if self.fifo else self._dvec
        env.update(DV=bus_vec.__getitem__, WW=self._dup_lanes, LANES=self.lanes)
        # Lanes stay below 2**60 * terms: LANE bits leave room for 2**(LANE-60) terms.
        self._fvec = _generate(
            "fingerprint_vector",
            "lambda s: ("
            + "".join(f"V{p}[s[{p}]] + " for p in range(n))
            + f"sum(map(DV, s[{n}])) + s[{n + 1}] * WW) & LANES",
            env,
        )
        # tiebreak[mask](y): (least lane of y among the renamings in mask, its k).
        self.tiebreak = _Lazy(self._make_tiebreak)

    def _make_tiebreak(self, m: int):
        terms = ", ".join(f"((y >> {LANE * k}) & {FP_MASK}, {k})" for k in self._bits[m])
        fn = _generate(f"tiebreak{m}", f"lambda y: min({terms})")
        self.tiebreak[m] = fn
        return fn

    def _pack(self, values) -> int:
        return sum((v & FP_MASK) << (LANE * k) for k, v in enumerate(values))

    def _make_pvec(self, p: int, pid: int) -> int:
        pz = self.pz[p]
        v = self._pack(pz[x] for x in self._prow[p][pid])
        self._pvec[p][pid] = v
        return v

    def _make_qvec(self, q: int) -> int:
        qz = self.qz
        v = self._pack(qz[self._pqueue[k][q]] for k in range(self._P)) if q & _QLOW else 0
        self._qvec[q] = v
        return v

    def lane_delta(self, new: int, old: int) -> int:
        """``new - old`` lane by lane (modulo 2**60 in every lane) for packed vectors."""
        return (new + self.lanes - old + self._lane_ones) & self.lanes

    def _make_dvec(self, d: int) -> int:
        dz = self.dz
        v = self._pack(dz[self._pdel[k][d]] for k in range(self._P))
        self._dvec[d] = v
        return v

    def _move_vector(self, p: int, pid: int, npid: int, taken: int, pubs: tuple, spend: int) -> int:
        """The vector a move adds (participant ``p``: ``pid`` -> ``npid``, copy ``taken``
        leaves the bus unless -1, ``pubs`` join it, ``spend`` duplicates are spent)."""
        neg = self._lane_neg
        pvec, dvec = self._pvec[p], self._dvec
        v = pvec[npid] + neg(pvec[pid])
        for x in pubs:
            v += dvec[x]
        if taken >= 0:
            v += neg(dvec[taken])
        if spend:
            v += neg(self._dup_lanes)
        return v & self.lanes

    def _lane_neg(self, v: int) -> int:
        # Lane-wise -v modulo 2**60: (2**60 - 1 - v) + 1 in every lane, no borrows.
        return self.lanes - v + self._lane_ones

    def crash_vector(self, p: int, pid: int, cpid: int) -> int:
        """The vector of an idle crash of ``p`` from ``pid`` to ``cpid``."""
        v = self._cvec[p].get(pid)
        if v is None:
            v = self._cvec[p][pid] = self._move_vector(p, pid, cpid, -1, (), 0)
        return v

    def _perm_msg(self, k: int, mid: int) -> int:
        r = self._pmsg[k].get(mid)
        if r is None:
            m = self.msgs[mid]
            perm = self.perms[k]
            if 0 <= m.saga < len(perm):
                m = Msg(m.type, perm[m.saga], m.src, m.data)
            r = self._intern_msg(m)
            self._pmsg[k][mid] = r
        return r

    def _perm_delivery(self, k: int, d: int) -> int:
        r = self._pdel[k].get(d)
        if r is None:
            r = self._intern_delivery(self.ddest[d], self._perm_msg(k, self.dmid[d]))
            self._pdel[k][d] = r
        return r

    def _perm_pid(self, p: int, k: int, pid: int) -> int:
        if k == 0:  # the identity
            return pid
        table = self._ppid[p][k]
        r = table.get(pid)
        if r is None:
            lid, mask, crashes = self.pinfo[p][pid]
            # Many pids share a local state (they differ in the store or the budget):
            # permute() runs once per (participant, local state, renaming).
            lids = self._plid[p][k]
            nlid = lids.get(lid)
            if nlid is None:
                raw = self._call(p, self.parts[p].permute, self.lobj[p][lid], self.perms[k])
                nlid = lids[lid] = self._intern_local(p, raw, "permute()")
            masks = self._pmask[k]
            nmask = masks.get(mask)
            if nmask is None:
                nmask = 0
                d = 0
                rest = mask
                while rest:
                    if rest & 1:
                        nmask |= 1 << self._perm_delivery(k, d)
                    rest >>= 1
                    d += 1
                masks[mask] = nmask
            r = self._intern_pid(p, nlid, nmask, crashes)
            table[pid] = r
        return r

    def _make_row(self, p: int, pid: int) -> tuple[int, ...]:
        row = tuple(self._perm_pid(p, k, pid) for k in range(self._P))
        self._prow[p][pid] = row
        return row

    def _narrow_row(self, p: int, pid: int) -> list[int]:
        """The sort keys :meth:`_make_narrow` compares: the renamed states' interned ids."""
        return self._prow[p][pid]

    def _make_narrow(self, p: int, key: int) -> int:
        pid, mask = key >> self._P, key & self._full
        row = self._narrow_row(p, pid)
        ks = [k for k in range(self._P) if mask >> k & 1]
        m = min(row[k] for k in ks)
        r = 0
        for k in ks:
            if row[k] == m:
                r |= 1 << k
        self._narrow[p][key] = r
        return r

    def _tie_fp(self, state: tuple, mask: int) -> tuple:
        # Ties on every participant: the least fingerprint decides. The renamed
        # participant states are the same for every k in mask, so only the renamed bus
        # changes the sum.
        n = self.n
        ks = self._bits[mask]
        k0 = ks[0]
        common = state[n + 1] * _DUP_WEIGHT
        for p in range(n):
            common += self.pz[p][self._prow[p][state[p]][k0]]
        bus = state[n]
        bz = self._bus_weights
        tables = self._pqueue if self.fifo else self._pdel
        _f, k = min(((common + sum(map(bz, map(tables[k].__getitem__, bus)))) & FP_MASK, k) for k in ks)
        return state if k == 0 else self.permute_state(state, k)

    def _perm_queue(self, k: int, q: int) -> int:
        # Renaming the sagas keeps a message's source and destination, so its channel.
        pd = self._pdel[k]
        r = self._pqueue[k][q] = self._intern_queue(q >> QBITS, tuple(pd[d] for d in self.queue(q)))
        return r


class _Lazy(dict):
    """A dict that computes a missing entry with ``make(key)`` (which stores it)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key):
        return self.make(key)
