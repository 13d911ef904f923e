"""Model coverage: which transitions of the model's state graph a run exercised.

The graph is the model checker's: :class:`sagaspec.model.engine.Engine` over the suite's
model (:func:`sagaspec.conformance.models.suite_model`, whose Inventory may run out of
stock for any order) for the *coverage bounds*: ``orders`` concurrent orders, a
``duplicates`` budget and a per-participant ``crashes`` budget. An edge is a state plus
one enabled action (the engine's deterministic action order); its count equals
``explore(...).stats.edges`` for the same system and config.

Each test case is mapped onto the graph by following its recorded steps from the
initial state: a step of a played participant is the move with its recorded outcome; a
step of the service is the move whose outcome publishes what the service published
(several candidates are followed at once when that is ambiguous); for the whole system,
the service's internal deliveries are searched (each publication must be explained, and
the bus must end empty since the suite waits for quiet after every step), unless the
suite stepped the system (its adapter takes one delivery at a time): then each recorded
delivery is a move, as for one participant. A case that
leaves the bounds (a second order when ``orders=1``, a second duplicate, an injected bad
input, ...) counts the edges it covered up to there.

``cover_edges`` is the mode that drives the service along paths covering every edge:
greedy paths (shortest path to the first uncovered edge, then uncovered edges while
there are some), each replayed as a test case with the world set up so the service
takes the path's branches.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import Counter, deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sagaspec.model.engine import KIND_NAMES, Engine
from sagaspec.model.participant import Msg
from sagaspec.model.system import Config, System

__all__ = ["CoverageGraph", "coverage_graph", "edge_coverage", "cover_edges", "map_case",
           "Steering", "SpecSteering", "transition"]

_BEAM = 256
_CLOSURE_LIMIT = 20_000


@dataclass
class CoverageGraph:
    """The reachable state graph of the coverage bounds (built once, by BFS)."""

    engine: Engine
    initial: tuple
    # state -> list of (descriptor, successor)
    adj: dict[tuple, list[tuple[tuple, tuple]]]
    depth: dict[tuple, int]
    bounds: dict[str, int]

    @property
    def edges(self) -> int:
        return sum(len(v) for v in self.adj.values())

    @property
    def states(self) -> int:
        return len(self.adj)


_GRAPHS: dict[tuple, CoverageGraph] = {}


def coverage_graph(design: str, orders: int = 1, duplicates: int = 1,
                   crashes: int = 0) -> CoverageGraph:
    """The coverage graph of ``design`` for the given bounds (cached per process)."""
    key = (design, orders, duplicates, crashes)
    got = _GRAPHS.get(key)
    if got is not None:
        return got
    from sagaspec.conformance.models import suite_model

    model = suite_model(design, orders)
    system = System(participants=model.participants, name=f"conformance/{design}",
                    sagas=orders)
    engine = Engine(system, Config(duplicates=duplicates, crashes=crashes))
    init = engine.initial(canonical=False)
    adj: dict[tuple, list[tuple[tuple, tuple]]] = {}
    depth = {init: 0}
    queue = deque([init])
    while queue:
        s = queue.popleft()
        succs, _q, descr = engine.expand(s, actions=True, canonical=False)
        adj[s] = list(zip(descr, succs, strict=True))
        for t in succs:
            if t not in depth:
                depth[t] = depth[s] + 1
                queue.append(t)
    graph = CoverageGraph(engine, init, adj, depth,
                          {"orders": orders, "duplicates": duplicates, "crashes": crashes})
    _GRAPHS[key] = graph
    return graph


# -- mapping a case onto the graph ---------------------------------------------------------
def _msg(d: dict[str, Any]) -> Msg:
    return Msg(d["type"], int(d["saga"]), d["src"])


def _pub_key(events: Sequence[dict[str, Any]], sagas: dict[str, int]) -> Counter:
    return Counter((e.get("eventType"), sagas.get(e.get("sagaId"), -1)) for e in events)


def _labels(engine: Engine, state: tuple, p: int, msg: Msg, published: Counter) -> set[str]:
    """Outcome labels of participant ``p`` for ``msg`` that publish exactly ``published``."""
    part = engine.parts[p]
    local = engine.local(p, state[p])
    return {o.label for o in part.on_event(local, msg)
            if Counter((m.type, m.saga) for m in o.publish) == published}


def _starts(engine: Engine, state: tuple, d: tuple, msg: dict[str, Any]) -> bool:
    """Whether edge ``d`` from ``state`` is the internal step of the trigger's publisher
    that publishes the trigger ``msg`` (its type and saga): the saga's start."""
    if d[0] != 0 or engine.names[d[1]] != msg.get("src"):
        return False
    part = engine.parts[d[1]]
    return any(o.label == d[3] and any(m.type == msg.get("type") and m.saga == msg.get("saga")
                                       for m in o.publish)
               for o in part.internal(engine.local(d[1], state[d[1]])))


def _processed(engine: Engine, state: tuple, p: int, msg: Msg) -> bool:
    return msg in engine.processed(p, state[p])


def map_case(graph: CoverageGraph, steps: Sequence[dict[str, Any]], participant: str,
             sagas: dict[str, int]) -> tuple[set[tuple], bool]:
    """Edges of ``graph`` a case exercised, and whether it stayed inside the bounds."""
    e = graph.engine
    sut = set(e.names) if participant == "system" else {participant}
    beam: dict[tuple, frozenset] = {graph.initial: frozenset()}
    # How many times each (msg, receiver) is delivered from here on (duplicate lookahead).
    deliveries = []
    for st in steps:
        if st["op"] in ("deliver", "duplicate") and st.get("msg"):
            to = participant if st.get("to") == participant else st.get("to")
            deliveries.append((st["msg"]["type"], st["msg"]["saga"], st["msg"]["src"], to))
    remaining = Counter(deliveries)
    # A whole system the suite steps (its adapter hands over each delivery) records every
    # delivery as a step of its own: followed one by one, as for a single participant.
    stepped = participant == "system" and bool(deliveries)
    inside = True
    orders = graph.bounds.get("orders", 1)
    for st in steps:
        op = st["op"]
        if op in ("invalid", "raw", "quiet"):
            continue
        msg = st.get("msg") or {}
        if op == "stray" or msg.get("saga", 0) >= orders:
            # A saga the graph does not have (one more than its bounds, or a saga the
            # case never started): the rest of the case is outside the graph.
            inside = False
            break
        if participant == "system" and not stepped:
            beam, ok = _system_step(graph, beam, st, sagas)
        else:
            beam, ok = _single_step(graph, beam, st, participant, sut, sagas, remaining)
        if not ok or not beam:
            inside = False
            break
    if not beam:
        return set(), False
    # The first surviving explanation (deterministic: states are tuples of ints).
    best = min(beam.items(), key=lambda kv: (len(kv[1]), kv[0]))
    return set(best[1]), inside


def _follow(graph: CoverageGraph, state: tuple, want) -> list[tuple[tuple, tuple]]:
    return [(d, t) for d, t in graph.adj.get(state, ()) if want(d, t)]


def _single_step(graph, beam, st, participant, sut, sagas, remaining):
    e = graph.engine
    op = st["op"]
    out: dict[tuple, frozenset] = {}
    if op == "place":
        p = e.pindex[st["msg"]["src"]]  # the trigger's publisher
        want = None
    elif op == "crash":
        name = st.get("kind") or st.get("to")
        if name not in e.pindex:
            return beam, False
        p = e.pindex[name]

        def want(d, _t):
            return KIND_NAMES[d[0]] == "crash" and d[1] == p
    elif op in ("deliver", "duplicate"):
        to = participant if st.get("to") == participant else st.get("to")
        if to not in e.pindex:
            return beam, False
        p = e.pindex[to]
        msg = _msg(st["msg"])
        key = (msg.type, msg.saga, msg.src, to)
        remaining[key] -= 1
        again = remaining[key] > 0
        played_label = st.get("outcome")
        published = _pub_key(st.get("published", ()), sagas) if to in sut else \
            _pub_key(st.get("emitted", ()), sagas)
        new_out: dict[tuple, frozenset] = {}
        for s, edges in beam.items():
            if _processed(e, s, p, msg):
                kinds, labels = {"drop"}, None
            else:
                kinds = {"duplicate"} if again else {"deliver"}
                labels = {played_label} if to not in sut and played_label else \
                    _labels(e, s, p, msg, published)
            for d, t in graph.adj.get(s, ()):
                if d[1] != p or d[2] < 0 or KIND_NAMES[d[0]] not in kinds:
                    continue
                if e.msgs[e.dmid[d[2]]] != msg:
                    continue
                if labels is not None and d[3] not in labels:
                    continue
                new_out.setdefault(t, edges | {(s, d)})
        return _trim(new_out), bool(new_out)
    else:
        return beam, True
    for s, edges in beam.items():
        pick = want or (lambda d, _t, s=s: _starts(e, s, d, st["msg"]))
        for d, t in _follow(graph, s, pick):
            out.setdefault(t, edges | {(s, d)})
    if op == "crash" and not out:
        return beam, True  # a crash that changes nothing is not a model move
    return _trim(out), bool(out)


def _system_step(graph, beam, st, sagas):
    """The visible step, then the system's own deliveries until quiet, explaining
    exactly what it published."""
    e = graph.engine
    op = st["op"]
    out: dict[tuple, frozenset] = {}
    if op == "place":
        for s, edges in beam.items():
            for d, t in _follow(graph, s, lambda d, _t, s=s: _starts(e, s, d, st["msg"])):
                out.setdefault(t, edges | {(s, d)})
    elif op == "crash":
        name = st.get("kind")
        p = e.pindex.get(name, -1)
        for s, edges in beam.items():
            nxt = _follow(graph, s, lambda d, _t: KIND_NAMES[d[0]] == "crash" and d[1] == p)
            if not nxt:
                out.setdefault(s, edges)
            for d, t in nxt:
                out.setdefault(t, edges | {(s, d)})
    else:
        return beam, False  # an injected duplicate is outside what the mapping follows
    published = _pub_key(st.get("published", ()), sagas)
    if op == "place":
        published = published - Counter({(st["msg"]["type"], st["msg"]["saga"]): 1})
    done: dict[tuple, frozenset] = {}
    frontier = [(s, edges, published) for s, edges in out.items()]
    seen = 0
    while frontier and seen < _CLOSURE_LIMIT:
        nxt = []
        for s, edges, left in frontier:
            seen += 1
            if not s[e.n] and not +left:
                done.setdefault(s, edges)
                continue
            for d, t in graph.adj.get(s, ()):
                kind = KIND_NAMES[d[0]]
                if kind not in ("deliver", "drop"):
                    continue
                p = d[1]
                msg = e.msgs[e.dmid[d[2]]]
                pubs = Counter()
                if kind == "deliver":
                    for o in e.parts[p].on_event(e.local(p, s[p]), msg):
                        if o.label == d[3]:
                            pubs = Counter((m.type, m.saga) for m in o.publish)
                            break
                rest = left - pubs
                if sum(rest.values()) != sum(left.values()) - sum(pubs.values()):
                    continue  # publishes something the system did not publish
                nxt.append((t, edges | {(s, d)}, rest))
        frontier = nxt[:_BEAM * 8]
    return _trim(done), bool(done)


def _trim(beam: dict[tuple, frozenset]) -> dict[tuple, frozenset]:
    if len(beam) <= _BEAM:
        return beam
    keep = sorted(beam.items(), key=lambda kv: (len(kv[1]), kv[0]))[:_BEAM]
    return dict(keep)


# -- reporting ---------------------------------------------------------------------------
def edge_coverage(runner: Any, cases: Sequence[list[dict[str, Any]]]) -> dict[str, Any]:
    """The share of the coverage graph's edges the run's cases exercised."""
    c = runner.config
    crashes = getattr(c, "cover_crashes", 0)
    graph = coverage_graph(c.design, c.cover_orders, c.cover_duplicates, crashes)
    covered: set[tuple] = set()
    outside = 0
    for steps, sagas in cases:
        edges, inside = map_case(graph, steps, c.participant, sagas)
        covered |= edges
        outside += not inside
    total = graph.edges
    return {
        "edges": total,
        "covered": len(covered),
        "share": round(len(covered) / total, 4) if total else 0.0,
        "states": graph.states,
        "bounds": dict(graph.bounds),
        "cases": len(cases),
        "cases_leaving_bounds": outside,
        **_steered(runner),
    }


def _steered(runner: Any) -> dict[str, Any]:
    """What steering did in a generated run (nothing for a replay or ``--cover-edges``)."""
    if runner.config.mode != "generate":
        return {}
    st = getattr(runner, "steering", None)
    if st is None:
        return {"steered": {"on": False}}
    return {"steered": {"on": True, "choices": st.steered,
                        "transitions": len(st.covered | (st._open or set()))}}


# -- driving the service along every edge --------------------------------------------------
def covering_paths(graph: CoverageGraph, max_len: int = 40) -> list[list[tuple[tuple, tuple]]]:
    """Greedy paths from the initial state that together traverse every edge."""
    parent: dict[tuple, tuple[tuple, tuple] | None] = {graph.initial: None}
    queue = deque([graph.initial])
    while queue:
        s = queue.popleft()
        for d, t in graph.adj[s]:
            if t not in parent:
                parent[t] = (s, d)
                queue.append(t)

    def shortest(to: tuple) -> list[tuple[tuple, tuple]]:
        out = []
        while parent[to] is not None:
            s, d = parent[to]
            out.append((s, d))
            to = s
        return out[::-1]

    uncovered = {(s, i) for s, moves in graph.adj.items() for i in range(len(moves))}
    order = sorted(uncovered, key=lambda x: (graph.depth[x[0]], x))
    paths: list[list[tuple[tuple, tuple]]] = []
    for u, i in order:
        if (u, i) not in uncovered:
            continue
        path = shortest(u)
        for s, d in path:
            idx = next(k for k, (dd, _t) in enumerate(graph.adj[s]) if dd == d)
            uncovered.discard((s, idx))
        d, v = graph.adj[u][i]
        uncovered.discard((u, i))
        path.append((u, d))
        while len(path) < max_len:
            nxt = next(((k, dd, t) for k, (dd, t) in enumerate(graph.adj.get(v, ()))
                        if (v, k) in uncovered), None)
            if nxt is None:
                break
            k, dd, t = nxt
            uncovered.discard((v, k))
            path.append((v, dd))
            v = t
        paths.append(path)
    return paths


def cover_edges(runner: Any, loop: asyncio.AbstractEventLoop, adapter: Any,
                caps: frozenset[str]) -> None:
    """Run one replayed case per covering path (the ``--cover-edges`` mode)."""
    import time

    from sagaspec.conformance.cases import case_from_trace
    from sagaspec.conformance.checks import CheckFailed
    from sagaspec.conformance.choosers import ScriptChooser
    from sagaspec.conformance.harness import steppable
    from sagaspec.model.path import Path

    c = runner.config
    graph = coverage_graph(c.design, c.cover_orders, c.cover_duplicates,
                           getattr(c, "cover_crashes", 0))
    paths = covering_paths(graph)
    runner.notes.append(f"cover-edges: {len(paths)} paths over {graph.edges} edges "
                        f"({graph.states} states, bounds {graph.bounds})")
    for n, path in enumerate(paths, start=1):
        states = [graph.initial] + [next(t for d2, t in graph.adj[s] if d2 == d)
                                    for s, d in path]
        trace = Path(graph.engine, states, [d for _s, d in path]).to_dict()
        trace["system"] = f"conformance/{c.design}"
        cf = case_from_trace(trace, participant=c.participant, design=c.design,
                             stepped=steppable(c.participant, caps, adapter))
        settings = runner._settings(caps)
        settings.crash_played = True
        settings.max_steps = len(cf.steps) + 1
        settings.max_sagas = len(cf.sagas)
        chooser = ScriptChooser(cf.steps, cf.sagas, cf.world if "setup" in caps else None)
        t = time.perf_counter()
        try:
            case = runner.run_case(loop, adapter, caps, chooser, settings)
        except CheckFailed as exc:
            case = runner._current
            runner.stats.examples += 1
            runner._example(n, "cover", "failed", case, t, exc.check)
            if exc.check not in runner.failures:
                runner._report_failure(exc.check, case, exc, divergence=chooser.divergence)
            continue
        runner.stats.examples += 1
        runner._example(n, "cover", "passed", case, t, None)


# -- steering: cases led toward model transitions not made yet ------------------------------
@functools.lru_cache(maxsize=64)
def _perms(saga: int, sagas: int) -> tuple[tuple[int, ...], ...]:
    """The renamings of ``sagas`` sagas that make saga ``saga`` saga 0."""
    return tuple(p for p in itertools.permutations(range(sagas)) if p[saga] == 0)


def _seen_from(model: Any, state: Hashable, saga: int, sagas: int) -> Hashable:
    """``state`` as seen by saga ``saga``: the same whatever the other sagas are called
    (their states as a multiset), so the transitions of saga 0 and of saga 1 from like
    states are one transition. A model without ``permute``: the state and the saga."""
    try:
        return frozenset(model.permute(state, p) for p in _perms(saga, sagas))
    except NotImplementedError:
        return (state, saga)


def transition(model: Any, states: Iterable[tuple[Hashable, bool]], msg_type: str, saga: int,
               sagas: int, receiver: str) -> tuple:
    """The model transition of delivering a ``msg_type`` of saga ``saga`` to ``receiver``
    (``model``) in any of ``states`` (each with whether it already processed that
    message): what steering counts. The outcome is not part of it (it follows from the
    state, or is a choice of its own, see :meth:`Steering.new`)."""
    return (receiver, msg_type,
            frozenset((_seen_from(model, s, saga, sagas), done) for s, done in states))


class Steering:
    """Coverage-guided steering: the model transitions the run's cases made, so a case
    can prefer, among the choices it draws (which message to deliver next, which outcome
    a played participant takes), one whose model successor is a transition no earlier
    case made. The model is the oracle, so the successor of every choice is known before
    it is taken.

    A case's choices must come out the same when it runs again with the same draws
    (hypothesis shrinks and replays it; ``--case K`` reruns it): so a case reads the
    memory of the cases *before* it (:meth:`open`), and once a case failed the memory
    stops growing (:meth:`freeze`): every later run of that case, or of any case made
    after it, sees what it saw.
    """

    def __init__(self) -> None:
        self.covered: set[tuple] = set()
        self.frozen = False
        self._open: set[tuple] | None = None
        #: Choices steering changed (for the bench's and the report's counts).
        self.steered = 0
        #: Guard targets met, and those missed only by a shared variable's starting value
        #: (see :func:`guard_hits`), in the order first missed; this case's own.
        self.met: set[tuple] = set()
        self.near: dict[tuple, None] = {}
        self._guards: tuple[set, dict] | None = None

    def open(self) -> set[tuple]:
        """Start a case: the previous case's transitions join the memory (unless frozen);
        returns the new case's own set (steering adds to it as the case goes)."""
        if self._open is not None and not self.frozen:
            self.covered |= self._open
        if self._guards is not None and not self.frozen:
            self.met |= self._guards[0]
            self.near.update(self._guards[1])
        self._open = set()
        self._guards = (set(), {})
        return self._open

    def freeze(self) -> None:
        """A case failed: the memory stays as that case saw it."""
        self.frozen = True
        self._open = None
        self._guards = None

    def saw(self, met: set, near: set) -> None:
        """A delivery met guard targets ``met`` and missed ``near`` only by the world."""
        if self._guards is not None:
            self._guards[0].update(met)
            self._guards[1].update(dict.fromkeys(sorted(near)))

    def boundary(self, spec: Any, name: str, var: str, lo: int, hi: int, drawn: int,
                 params: dict) -> int:
        """The starting value of shared variable ``var`` of ``name`` a case takes: the
        ``drawn`` one, unless an earlier case missed a guard target only by that value
        and no case met it since: then one the target needs (the draw picks which), so
        a situation a schedule reached is tried again with the world its guard wants."""
        wanted = [k for k in self.near if k not in self.met]
        fit = boundary_values(spec, name, var, range(lo, hi + 1), params, wanted) if wanted else []
        if not fit or drawn in fit:
            return drawn
        self.steered += 1
        return fit[(drawn - lo) * len(fit) // (hi - lo + 1)]

    def new(self, key: tuple | None, mine: set[tuple]) -> bool:
        return key is not None and key not in self.covered and key not in mine

    def choose(self, keys: Sequence[tuple | None], default: int, mine: set[tuple]) -> int:
        """The index to take among choices with model transitions ``keys``: ``default``
        (the drawn one) when its transition is new or none is, else the new one
        ``default`` scales to among the new ones (so the draw still decides which);
        the transition taken joins ``mine``."""
        fresh = [i for i, k in enumerate(keys) if self.new(k, mine)]
        pick = default
        if fresh and default not in fresh:
            pick = fresh[default * len(fresh) // len(keys)]
            self.steered += 1
        if keys[pick] is not None:
            mine.add(keys[pick])
        return pick

    def snapshot(self) -> Steering:
        """A steering that reads this memory as it is now and never adds to it (a case
        run again, or run against another adapter, makes the same choices)."""
        out = Steering()
        out.covered = set(self.covered)
        out.met, out.near = set(self.met), dict(self.near)
        out.frozen = True
        return out


def spec_transition(oracle: Any, dest: str, event: dict[str, Any], first: bool) -> tuple | None:
    """The model transition of handing ``event`` to ``dest`` (a second time unless
    ``first``) under :class:`~sagaspec.conformance.spec_oracle.SpecOracle` ``oracle``."""
    i = oracle.index.get(event.get("sagaId"))
    if i is None or dest not in oracle.models:
        return None
    return transition(oracle.models[dest], [(s, not first) for s in oracle.states[dest]],
                      str(event.get("eventType")), i, len(oracle.saga_ids), dest)


class SpecSteering:
    """Steering's memory in a ``--spec`` run: the model transitions cases ``0..k-1`` make
    against the reference services here, with every fault and their default sagas.

    A function of the spec and the seed alone: ``--case K`` (with any ``--case-sagas``
    or ``--faults``) sees what case K saw in the whole run, whatever the adapter and
    whatever the service under test did in the earlier cases.
    """

    def __init__(self, spec: Any, seed: int) -> None:
        from sagaspec.conformance.spec_conform import InProcessSpecAdapter

        self.spec, self.seed = spec, seed
        self.reference = InProcessSpecAdapter(spec)
        self.learn = Steering()
        self.next = 0
        self._seen: dict[int, Any] = {}  # case -> its steering (shrinking runs it again)

    def before(self, k: int) -> Any:
        """Steering for case ``k``: the memory of the cases before it, read-only."""
        from sagaspec.conformance.spec_conform import case_seed, run_case

        if k in self._seen:
            return self._seen[k].snapshot()
        if k < self.next:  # an earlier case asked for afresh: learn again from case 0
            self.learn, self.next = Steering(), 0
        while self.next < k:
            s = case_seed(self.seed, self.next)
            run_case(self.spec, self.reference, s, sagas=1 + s % 3, steering=self.learn)
            self.next += 1
        self.learn.open()  # the last case's transitions join the memory
        self._seen[k] = self.learn.snapshot()
        return self._seen[k].snapshot()


# -- guard boundaries: the shared variables' starting values a guard conjunct needs ---------
@dataclass(frozen=True)
class _Target:
    """Alternative ``alt`` of the reaction to ``events`` with its conjunct ``k`` false and
    every other one true (the situation in which dropping ``k`` changes the reaction):
    ``state`` the others that read the participant's own state, ``shared`` those that read
    only shared variables and params (the world's starting values decide those)."""

    key: tuple
    events: frozenset[str]
    k: Any
    state: tuple
    shared: tuple


_TARGETS: dict[tuple[int, str], tuple[Any, tuple[_Target, ...]]] = {}


def _targets(spec: Any, name: str) -> tuple[_Target, ...]:
    """The guard targets of participant ``name`` of ``spec`` that a shared variable decides."""
    got = _TARGETS.get((id(spec), name))
    if got is not None and got[0] is spec:
        return got[1]
    _TARGETS[(id(spec), name)] = (spec, out := _find_targets(spec, name))
    return out


def _find_targets(spec: Any, name: str) -> tuple[_Target, ...]:
    from sagaspec.model.mutation import _conjuncts, _guard_env

    p = spec.participant(name)
    if not p.shared:
        return ()
    env = _guard_env(spec, p)
    slot = {v.name for v in p.state}
    out = []
    for r, reaction in enumerate(p.reactions):
        for j, alt in enumerate(reaction.alternatives):
            if alt.when is None or not hasattr(alt.when, "program"):
                continue
            parts = [env.compile(c, lambda _off, w=alt.when.where: w, "bool")
                     for c in _conjuncts(alt.when.text)]
            if len(parts) < 2:
                continue
            for k, c in enumerate(parts):
                others = [x for n, x in enumerate(parts) if n != k]
                shared = tuple(x for x in others if not x.refs & slot)
                if shared:
                    out.append(_Target((name, r, j, k), frozenset(reaction.on), c,
                                       tuple(x for x in others if x.refs & slot), shared))
    return tuple(out)


def guard_hits(spec: Any, model: Any, states: Iterable[Hashable], msg: Msg) -> tuple[set, set]:
    """The guard targets of ``spec`` a delivery of ``msg`` to ``model`` (its compiled
    participant, with shared variables) meets in any of ``states``, and those it misses
    only by a shared variable: (met, near)."""
    met: set[tuple] = set()
    near: set[tuple] = set()
    targets = [t for t in _targets(spec, model.name) if msg.type in t.events]
    for state in states if targets else ():
        shared, slots = model._split(state)
        data = model._data(slots[msg.saga], shared)
        for t in targets:
            if t.k(data) is False and all(x(data) is True for x in t.state):
                (met if all(x(data) is True for x in t.shared) else near).add(t.key)
    return met, near


def boundary_values(spec: Any, name: str, var: str, values: Sequence[Any], params: dict,
                    wanted: Iterable[tuple]) -> list[Any]:
    """Of ``values`` (shared variable ``var`` of participant ``name`` at the start), those
    the first target of ``wanted`` that reads ``var`` needs (its shared conjuncts hold);
    empty when no target wants ``var``."""
    for t in _targets(spec, name):
        if t.key not in wanted or not all(var in x.refs for x in t.shared):
            continue
        try:
            fit = [v for v in values if all(x({**params, var: v}) is True for x in t.shared)]
        except Exception:  # noqa: BLE001 - a conjunct reading another shared variable too
            continue
        if fit:
            return fit
    return []
