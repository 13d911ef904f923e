"""Who decides what a test case does: hypothesis, a recorded case, or a model trace.

:class:`DrawChooser` draws every decision from hypothesis' ``st.data()`` so hypothesis
generates and *shrinks* whole test cases: fewer steps, earlier choices (index 0 is
always the most ordinary: the oldest in-flight message, the first outcome), smaller
payloads. :class:`ScriptChooser` answers from a recorded list of steps (a saved failure,
or a model checker trace converted by :mod:`sagaspec.conformance.cases`), and reports
where the service made the recorded path impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from sagaspec.adapters.base import KNOBS, World, shared_domains
from sagaspec.conformance.coverage import Steering, guard_hits, transition
from sagaspec.conformance.harness import Act, Case, CaseSettings, Scripted, Step
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.payloads import (
    NEGATIVE_KINDS,
    RAW_KINDS,
    declared_draw,
    declared_fields,
    declared_saga,
    free_field_names,
    free_fields,
    fresh_saga,
    key_pool,
    saga_fields,
)
from sagaspec.model.participant import Msg, Outcome

__all__ = ["DrawChooser", "ScriptChooser", "OPS", "PICKS"]

#: Action kinds, most ordinary first (hypothesis shrinks toward the first).
OPS = ("deliver", "place", "duplicate", "crash", "invalid", "raw")
#: Weight of each op among the enabled ones: 40% of the steps are deliveries, 20%
#: duplicates; the rest place orders and inject faults (when all are enabled).
WEIGHTS = {"deliver": 4, "place": 1, "duplicate": 2, "crash": 1, "invalid": 1, "raw": 1}
#: Range of the op draw, read by cumulative weight modulo the enabled ops' total weight
#: (2520 = lcm(1..10): every possible total divides it, so the reading stays exact).
OP_RANGE = 2520
#: Range of the abstract "which one" draws, scaled to the candidates there are (see
#: :func:`_scaled`). Fixed, so the shape of a case's draws never depends on what the
#: service published.
PICKS = 32
#: Range of a played participant's outcome draw (a multiple of 2 and 3: the model's
#: branching factors, so ``k % n`` stays uniform).
OUTCOMES = 6
#: Range of the bad-input kind draw (a multiple of both kind lists' lengths).
BAD_KINDS = 12
#: A crash's point is read from the op draw above the bad kind's digits
#: (``u // POINT_UNIT``), modulo :data:`POINT_RANGE` (a multiple of 1, 2 and 3: any
#: subset of the crash points), then among the run's points: no draw of its own, so
#: adding the point left every case's draws as they were, and a run restricted to
#: ``before-commit`` makes the very cases it made before crash points were chosen.
POINT_UNIT = 10 * BAD_KINDS
POINT_RANGE = 6
#: A case whose first step's op draw is at least this (five cases in six) ends with an
#: event of a saga it never started, when it left a saga unplaced (see
#: :meth:`DrawChooser.stray`). Read from a draw the case makes anyway: a draw of its own
#: (even the case's last) moved hypothesis' later examples, so turning strays on changed
#: every seed's schedules; this way every case makes the draws and steps it made without
#: strays, plus the stray at the end. Shrinking that draw toward 0 removes the stray.
STRAY_FROM = OP_RANGE // 6
#: The overtaking policy: a FIFO or LIFO case whose first op draw ``u`` has
#: ``(u // 60) % 2`` set delivers to the played participants first while anything
#: is in flight to them, the target's deliveries waiting, newest first, and one played
#: participant that can publish a failure event (which one: read from the same draw)
#: leans to the model's last outcomes (the failure a compensation follows); the others
#: decide as drawn, so the failure may come late (a carrier refusing a completed saga)
#: as well as early.
#: A saga runs ahead in the played world (a failure, its compensation) while its earlier
#: events to the target wait, so a later event reaches the target before an earlier one
#: (a cancellation before the creation) on purpose, not by a lucky interleaving. Read
#: from a draw the case makes anyway (see :data:`STRAY_FROM` for why not a draw of its
#: own), a bit no other reading of it uses; shrinking that draw to 0 turns it off.
#: ``False``: never (bench/bench_overtaken.py compares).
OVERTAKE = True
#: Scheduling policies, most ordinary first: the oldest in-flight message first, the
#: newest first (late and overtaken events), or one saga at a time ("hold back", its
#: own messages oldest or newest first): each later saga's trigger is held until
#: everything of the earlier ones was delivered, so a whole flow, compensations that
#: give shared resources back included, runs before the next saga competes for what is
#: left, set up tight. Random interleaving reaches that order rarely (a
#: release-then-compete situation in under 1% of cases).
POLICIES = ("fifo", "lifo", "serial", "serial-lifo")
#: How often each policy is drawn: the random interleavings stay most of the budget
#: (reordering mutants need them), one case in five is held back.
POLICY_ODDS = {"fifo": 2, "lifo": 2, "serial": 1, "serial-lifo": 1}
#: The fixed draws, built once (a fresh ``sampled_from`` per case is the same draw, made
#: dearer: hypothesis validates each new strategy object; ``integers`` looks it up).
_POLICY = st.sampled_from([p for p in POLICIES for _ in range(POLICY_ODDS[p])])
_OP = st.integers(0, OP_RANGE - 1)
_PICK = st.integers(0, PICKS - 1)
_OUTCOME = st.integers(0, OUTCOMES - 1)
_CONTINUE = st.integers(0, 9)
_LATE = st.integers(0, 2)


class DrawChooser:
    """Every decision drawn from hypothesis ``data`` (see the module docstring).

    The draws of a case depend only on earlier draws, never on what the service
    published or in which order it arrived: hypothesis replays and shrinks a case by its
    choice sequence and rejects one whose draws change shape on replay
    (``FlakyStrategyDefinition``), which real, asynchronous services would otherwise
    provoke. So every draw is *abstract* and interpreted against the current state:

    * each step draws an op (read by :data:`WEIGHTS` over the enabled ops) and a pick from
      ``range(PICKS)``, scaled to the candidates (0 = the policy's first
      candidate: the oldest message under FIFO; see :func:`_scaled`); a bad input's
      details are read from the same two draws; a step with nothing enabled still
      makes its draws and does nothing;
    * the scheduling policy is drawn first (:data:`POLICIES`); a held-back case
      ("serial") has two sagas or more, shared resources set up tight, the first
      saga's played outcomes leaning to the model's last ones (the failures a
      compensation follows), and plays every step in saga order without faults;
    * the played participants' outcomes are drawn up front, one per (participant,
      message type, saga), read modulo the outcomes the model offers when the message
      arrives (0 = the model's first outcome);
    * the free payload fields are drawn up front, per (event type, saga), for the types
      the played participants publish; drained and late deliveries use them too;
    * with ``steering`` (:class:`~sagaspec.conformance.coverage.Steering`, on by
      default), a FIFO or LIFO case reads its delivery, duplicate and played-outcome
      draws among the choices whose model transition no case made yet, when the drawn
      choice's was made already; a held-back case keeps its own order and outcomes, but
      delivers its saga's concurrent messages to the target in an order no case made
      yet (see :meth:`_held_back`).
    """

    def __init__(self, data: Any, steering: Steering | None = None) -> None:
        self.data = data
        #: ``data.draw``, or the same draw made cheaper (see :func:`_drawer`).
        self.draw = _drawer(data)
        self._steering = steering
        #: This case's own model transitions (steering's; see :meth:`Steering.open`).
        self._mine: set[tuple] = set()
        self._steer = False
        self._policy = "fifo"
        self._outcomes: dict[tuple[str, str, int], int] = {}
        self._free: dict[tuple[str, int], dict[str, Any]] = {}
        self._bad: tuple[int, int, int] = (0, 0, 0)
        #: The first step's op and pick draws (the stray decision reads them).
        self._first: tuple[int, int] | None = None
        #: Whether this case plays the overtaking policy (see :data:`OVERTAKE`).
        self._overtake = False
        self._failing: str | None = None
        #: A held-back case's arrival orders begun, each with the deliveries it waits for
        #: (see :meth:`_held_back`).
        self._ahead: list[tuple[tuple, set[tuple]]] = []
        self._made: set[tuple] = set()

    def begin(self, settings: CaseSettings, token: str) -> tuple[list[SagaInfo], World | None]:
        from sagaspec.conformance.models import suite_model

        d = self.draw
        spec = suite_model(settings.design, 1).spec
        caps = settings.capabilities
        knobs = KNOBS in caps
        # A target with a per-key world needs sagas competing for a few keys: the
        # trigger's draw: says how.
        catalogue = not knobs and declared_draw(spec)
        # The policy comes first: holding sagas back needs two of them, competing for
        # shared resources set up tight (see POLICIES).
        self._policy = d(_POLICY, label="schedule")
        serial = self._policy.startswith("serial")
        if self._steering is not None:
            self._mine = self._steering.open()
            self._steer = not serial
            if serial:
                self.draw = self._orders_undone_on_abort(self.draw)
        k = d(st.integers(min(2, settings.max_sagas) if serial else 1, settings.max_sagas),
              label="sagas")
        if catalogue:
            sagas = [declared_saga(spec, i, token, d(declared_fields(spec), label=f"saga {i}"))
                     for i in range(k)]
        else:
            sagas = [fresh_saga(spec, i, token, d(saga_fields(spec), label=f"saga {i}"))
                     for i in range(k)]
        world = None
        if "setup" in caps and knobs:
            # Every knob per saga; shrinking goes to each knob's first value.
            world = World(knobs={s.sagaId: {name: d(st.sampled_from(values),
                                                     label=f"{name} {s.index}")
                                             for name, values in spec.world.items()}
                                 for s in sagas},
                          shared=self._shared(spec, settings, k, tight=serial))
        elif "setup" in caps and catalogue:
            # Held back, the first saga takes exactly what there is (or one unit less
            # or more) per key: a later saga on that key fits only with units given back.
            stock = {key: _demand(spec, sagas[0], key) + d(st.integers(0, 1), label=f"stock {key}")
                     if serial else d(st.integers(0, 6), label=f"stock {key}")
                     for key in key_pool(spec)}
            world = World.from_json({"stock": stock, **_rule_data(d, spec, sagas)})
        self._played_decisions(settings, k)
        return sagas, world

    def _shared(self, spec: Any, settings: CaseSettings, sagas: int,
                tight: bool = False) -> dict[str, Any]:
        """Starting values of the shared variables a guard reads (a stock level), drawn
        within the spec's domain, at most one unit per saga above its minimum: so the
        guards decide exactly, and sagas compete for what is there. ``tight``: at least
        one unit, fewer than one per saga, when the domain allows it."""
        from sagaspec.conformance.models import AnyStock, suite_model

        domains = shared_domains(spec)
        out: dict[str, Any] = {}
        for p in suite_model(settings.design, 1).participants:
            if isinstance(p, AnyStock):
                for name in p.inner.shared_names:
                    key = f"{p.name}.{name}"
                    var, low, high = domains[key]
                    if var.kind in ("int", "counter"):
                        lo = low or 0
                        hi = lo + sagas if high is None else min(high, lo + sagas)
                        if tight and lo + 1 <= hi - 1:
                            lo, hi = lo + 1, hi - 1
                        v = self.data.draw(st.integers(lo, hi), label=f"shared {key}")
                        if self._steering is not None and not tight:
                            v = self._steering.boundary(spec, p.name, name, lo, hi, v,
                                                        p.inner.params)
                        out[key] = v
        return out

    def _played_decisions(self, settings: CaseSettings, sagas: int) -> None:
        """Draw what the played participants will decide, before anything happens."""
        from sagaspec.conformance.models import suite_model

        d = self.draw
        model = suite_model(settings.design, sagas)
        sut = settings.sut
        played = [p for p in model.participants if p.name not in sut]
        keys = []
        for p in played:
            types = sorted(p.subscribes)
            # The customer's trigger: a played Order decides how it places an order.
            types += sorted(t for t in model.triggers if model.publisher(t) == p.name)
            keys += [(p.name, t) for t in types]
        for i in range(sagas):
            for name, t in keys:
                k = d(_OUTCOME, label=f"{name} on {t}[{i}]")
                # Held back, the first saga leans to the model's last outcomes (the
                # failures a compensation follows), the others to the first (ordinary).
                if self._policy.startswith("serial") and i == 0:
                    k = OUTCOMES - 1 - k
                self._outcomes[(name, t, i)] = k
        free_types = sorted({t for p in played for t in getattr(p, "publishes", ())
                             if free_field_names(model.spec, t)})
        for i in range(sagas):
            for t in free_types:
                self._free[(t, i)] = d(free_fields(model.spec, t), label=f"{t}[{i}] fields")

    def schedule(self, case: Case) -> str:
        # A held-back saga's own messages go oldest first ("serial") or newest first.
        return "lifo" if self._policy.endswith("lifo") else "fifo"

    def more(self, case: Case) -> bool:
        stop = self.draw(_CONTINUE, label="continue") == 0
        if self._policy.startswith("serial"):
            # Played out to the end (within the step bound): the held sagas must run.
            return bool(case.inflight) or len(case.placed) < len(case.sagas)
        return not stop

    def late_duplicates(self, case: Case) -> int:
        return self.draw(_LATE, label="late duplicates")

    def action(self, case: Case, acts: Sequence[Act]) -> Act | None:
        """The step's act, or ``None`` when nothing is enabled (the draws are made anyway)."""
        d = self.draw
        # The op is read over the *enabled* ops by weight: a fixed-range draw (its shape
        # never depends on the service), but no weight is lost to a disabled op. A
        # disabled op used to fall through to the next one in OPS, which doubled
        # "invalid" once crashes ran out and "duplicate" once every order was placed,
        # and starved the deliveries and duplicates that build multi-step scenarios.
        u = d(_OP, label="op")
        pick = d(_PICK, label="pick")
        if self._first is None:
            self._first = (u, pick)
            self._overtake = (OVERTAKE and self._policy in ("fifo", "lifo")
                              and (u // 60) % 2 == 1)
            failing = _failing(case)
            self._failing = failing[(u // 720) % len(failing)] if failing else None
        present = {a.op for a in acts}
        live = [o for o in OPS if o in present]
        op = _weighted(live, u)
        # A bad input's details come from the same two draws (no draw of their own, so
        # the step's shape does not depend on which op the enabled set made of ``u``):
        # the kind from ``u`` above the weights, the saga and type from the pick.
        self._bad = ((u // 10) % BAD_KINDS, pick % 4, (pick // 4) % 4)
        if self._policy.startswith("serial") and op not in ("duplicate", "crash"):
            # Held back: the sagas run one at a time, and duplicates and crashes still
            # happen at the ordinary rate (a held-back case without them starved the
            # duplicate- and crash-dependent mutants of a third of the cases).
            return self._held_back(acts, case, pick)
        if op is None:
            return None
        mine = [a for a in acts if a.op == op]
        if op == "duplicate":
            # A played participant drops a copy it handled (the suite plays it so): only a
            # copy to the service under test tests something, when there is one.
            mine = [a for a in mine if a.key[3] not in case.played] or mine
        if op == "deliver" and self._overtake:
            mine = _overtaking(mine, case)
        j = _scaled(pick, len(mine))
        if self._steer and op in ("deliver", "duplicate"):
            keys = [_delivery_key(case, a) for a in mine]
            if op == "duplicate" and any(k is not None and k[-1] and self._steering.new(k, self._mine)
                                         for k in keys):
                # A new copy of a message whose handling had an effect goes first.
                keys = [k if k is not None and k[-1] else None for k in keys]
            j = self._steering.choose(keys, j, self._mine)
        act = mine[j]
        if op == "crash":
            act = _with_point(act, case, u)
        return act

    def _orders_undone_on_abort(self, draw: Any) -> Any:
        """``draw``, but a draw that stops the case (hypothesis ran out of data for it:
        the case is dropped, not run to its end) first takes the case's arrival orders
        back out of steering's memory: no check saw where they led."""

        def guarded(strategy: Any, label: str | None = None) -> Any:
            try:
                return draw(strategy, label=label)
            except BaseException:
                self._mine.difference_update(self._made)
                raise

        return guarded

    def _held_back(self, acts: Sequence[Act], case: Case, pick: int) -> Act | None:
        """The "serial" policy's act: a delivery of the earliest saga with messages in
        flight (``pick`` among them), else the next saga's trigger; no faults.

        With steering, when two or more of that saga's messages are in flight to the
        target at once, the one ``pick`` names goes first unless an earlier case already
        delivered it ahead of the same others (see :func:`_arrival_key`): then one no
        case delivered first yet, so concurrent events (two failures) reach the target in
        every order over the run, the saga still running alone (seed 3 of order-shipping
        delivered the payment's failure first in all 16 held-back cases that failed both
        steps, and missed the mutants that cancel twice when the inventory's comes
        first). An order counts as made once the messages it went ahead of were
        delivered too, and only by a case hypothesis runs to its end (see
        :meth:`_orders_undone_on_abort`): one cut short made the first half only."""
        flights = [a for a in acts if a.op == "deliver"]
        if not flights:
            return next((a for a in acts if a.op == "place"), None)
        first = min(a.key[1] for a in flights)
        mine = [a for a in flights if a.key[1] == first]
        j = _scaled(pick, len(mine))
        if self._steering is not None:
            keys = [_arrival_key(a, mine, case) for a in mine]
            j = self._steering.choose(keys, j, self._mine | {k for k, _w in self._ahead})
            act = mine[j]
            for _k, waiting in self._ahead:
                waiting.discard(act.key)
            if keys[j] is not None:
                self._ahead.append((keys[j], {a.key for a in mine
                                              if a is not act and a.key[3] in case.sut}))
            made = [k for k, waiting in self._ahead if not waiting]
            self._made.update(made)
            self._mine.update(made)
            self._ahead = [(k, w) for k, w in self._ahead if w]
        return mine[j]

    def outcome(self, case: Case, participant: str, msg: Msg,
                outcomes: Sequence[Outcome]) -> Outcome:
        k = self._outcomes.get((participant, msg.type, msg.saga), 0)
        if self._overtake and self._failing in (None, participant):
            k = OUTCOMES - 1 - k  # the failures a compensation follows
        j = k % len(outcomes)
        if self._steer and len(outcomes) > 1 and participant in case.states:
            model = case.model.participant(participant)
            seen = transition(model, [(case.states[participant], False)], msg.type, msg.saga,
                              len(case.sagas), participant)
            j = self._steering.choose([(*seen, o.label) for o in outcomes], j, self._mine)
        return outcomes[j]

    def free(self, case: Case, event_type: str, saga: int) -> dict[str, Any]:
        return dict(self._free.get((event_type, saga), {}))

    def negative(self, case: Case, raw: bool) -> tuple[int, int, int]:
        return self._bad

    def delivering(self, case: Case, d: Any) -> None:
        """Steering notes the guard targets a delivery to the service meets or misses
        only by the world's shared starting values (see ``Steering.boundary``)."""
        oracle = case.oracle
        if self._steering is None or not (case.world and case.world.shared) or \
                d.to not in oracle.sut:
            return
        i = oracle.sut.index(d.to)
        model = getattr(oracle.participants[d.to], "inner", None)
        if not getattr(model, "shared_names", ()):
            return
        states = {c.states[i] for c in oracle.belief if d.msg not in c.done[i]}
        self._steering.saw(*guard_hits(case.model.spec, model, states, d.msg))

    def drained(self, case: Case) -> int | None:
        """The in-flight message the end-of-case drain delivers next: in an overtaking
        case (see :data:`OVERTAKE`), the played participants' first, so the played world
        runs ahead even when the case's steps ran out early; then a saga's newest message
        to the target when it follows from an older one still in flight to it (a
        cancellation caused by the failure the creation caused), else ``None`` (the
        policy's order: concurrent events, such as two failures, as they came). No draw."""
        if not self._overtake:
            return None
        order = range(len(case.inflight))
        acts = [Act("deliver", (d.msg.type, d.msg.saga, d.msg.src, d.to), i)
                for i, d in ((i, case.inflight[i]) for i in (reversed(order) if case.lifo else order))]
        first = _overtaking(acts, case)[0]
        if first.key[3] not in case.sut:
            return first.index
        new = case.inflight[first.index]
        causes = _causes(case, new.event)
        if any(d.to == new.to and d.msg.saga == new.msg.saga and d.event.get("eventId") in causes
               for d in case.inflight):
            return first.index
        return None

    def stray(self, case: Case) -> Act | None:
        """The event of a saga never started that ends the case, or ``None``: read from
        the first step's draws (see :data:`STRAY_FROM`), of the last saga slot left
        unplaced, its type among the SUT's non-trigger types by the first pick."""
        if self._first is None or self._first[0] < STRAY_FROM:
            return None
        types, free = case.stray_candidates()
        if not types or not free:
            return None
        return Act("stray", (types[_scaled(self._first[1], len(types))], free[-1]))


def _drawer(data: Any) -> Any:
    """``data.draw``, or the very same draw without its per-call bookkeeping.

    ``data.draw`` snapshots the global random state twice (to warn of a strategy that
    uses it) and formats a note per call: about two thirds of a small draw's cost, and a
    case makes dozens. The conjecture data's own ``draw`` takes the same strategy, so the
    choice sequence and the spans hypothesis mutates and shrinks by are the same; only
    the notes are lost, so a run whose draws hypothesis reports (a failure's final
    replay, or verbose) keeps ``data.draw``, as does any hypothesis without these
    internals. A strategy built once per spec (a saga's fields, the free fields) is
    drawn by its compiled form (:mod:`sagaspec.conformance._fastdraw`: the same
    conjecture calls and spans without the nested draws' dispatch).
    """
    try:
        from hypothesis import Verbosity, settings
        from hypothesis.control import current_build_context
        from sagaspec.conformance._fastdraw import compiled

        raw = data.conjecture_data.draw
        context = current_build_context()
        if context.is_final or settings.default.verbosity >= Verbosity.verbose:
            return data.draw
    except Exception:  # noqa: BLE001 - another hypothesis, or no test: the public draw
        return data.draw

    def draw(strategy: Any, label: str | None = None) -> Any:
        return raw(compiled(strategy))

    return draw


def _failing(case: Case) -> list[str]:
    """The played participants that can publish a failure event (the spec's role); none
    known (a model without a spec): every played participant leans to its failures."""
    spec = case.model.spec
    out = []
    for name in case.played:
        try:
            publishes = spec.participant(name).publishes
        except Exception:  # noqa: BLE001 - a participant of no spec
            continue
        if any(spec.event(e).role == "failure" for e in publishes):
            out.append(name)
    return out


def _causes(case: Case, event: dict[str, Any]) -> set[str]:
    """The eventIds ``event`` follows from (its causationId chain) among ``case``'s events."""
    parent: dict[str, Any] = {}
    for step in case.steps:
        for e in (*step.emitted, *step.published, step.event or {}):
            if isinstance(e, dict) and e.get("eventId"):
                parent.setdefault(e["eventId"], e.get("causationId"))
    out: set[str] = set()
    x = event.get("causationId")
    while x and x not in out:
        out.add(x)
        x = parent.get(x)
    return out


def _with_point(act: Act, case: Case, u: int) -> Act:
    """A SUT crash ``act`` with its point, read from the op draw ``u`` (see
    :data:`POINT_UNIT`); a played participant's crash has none.

    >>> [(u // POINT_UNIT) % POINT_RANGE for u in (0, 119, 120, 360, 2519)]
    [0, 0, 1, 3, 2]
    """
    points = case.s.crash_points
    if not points or act.key[0] not in case.sut:
        return act
    return replace(act, point=points[(u // POINT_UNIT) % POINT_RANGE % len(points)])


def _overtaking(flights: Sequence[Act], case: Case) -> list[Act]:
    """The overtaking policy's candidates among ``flights`` (newest first): deliveries
    to played participants while there are any (the target's wait), else the newest
    in-flight message of each saga to the target."""
    played = [a for a in flights if a.key[3] not in case.sut]
    if played:
        return played
    newest: dict[tuple, Act] = {}
    for a in flights:  # Act.index: the position in flight, the newest last
        key = (a.key[1], a.key[3])
        if key not in newest or a.index > newest[key].index:
            newest[key] = a
    return list(newest.values())


def _delivery_key(case: Case, act: Act) -> tuple | None:
    """The model transition of delivery (or duplicate) ``act``: its receiver's state as
    the suite plays it, or every state the oracle holds possible for a SUT participant."""
    n = len(case.delivered)
    d = (case.inflight[act.index] if act.op == "deliver" else
         case.delivered[act.index] if act.index < n else case.delivered_played[act.index - n])
    if d.to in case.states:
        if act.op == "duplicate":
            return None  # a played participant drops a copy it handled: no transition
        model = case.model.participant(d.to)
        states: Any = [(case.states[d.to], d.msg in case.done[d.to])]
    else:
        oracle = case.oracle
        if d.to not in oracle.sut:
            return None
        i = oracle.sut.index(d.to)
        model = oracle.participants[d.to]
        states = {(c.states[i], d.msg in c.done[i]) for c in oracle.belief}
    key = transition(model, states, d.msg.type, d.msg.saga, len(case.sagas), d.to)
    if act.op == "duplicate":
        # Whether its first handling published: redelivering what had an effect is what
        # tells a handler that redoes its work from one that does not; a copy of a
        # message that changed nothing visible tells little, so the two are not one
        # transition to steering.
        key = (*key, _had_effect(case, d))
    return key


def _had_effect(case: Case, d: Any) -> bool:
    """Whether the first handling of delivery ``d`` in ``case`` published anything."""
    want = {"type": d.msg.type, "saga": d.msg.saga, "src": d.msg.src}
    for step in case.steps:
        if step.op in ("deliver", "duplicate") and step.to == d.to and step.msg == want:
            return bool(step.published or step.emitted)
    return False


def _demand(spec: Any, saga: SagaInfo, key: str) -> int:
    """Units of ``key`` saga ``saga``'s lines ask for (0 for a saga without lines)."""
    from sagaspec.conformance.world import lines

    return sum(q for k, q in lines(saga, spec.keys[0]) if k == key)


def _arrival_key(act: Act, flights: Sequence[Act], case: Case) -> tuple | None:
    """What delivering ``act`` first among ``flights`` (one saga's in-flight messages)
    makes, for steering a held-back case: the target's receiving its type while the
    types of the saga's other messages to the target wait; ``None`` for a delivery to a
    played participant, or when it is the saga's only message to the target (no order
    to choose)."""
    to = act.key[3]
    if to not in case.sut:
        return None
    waiting = sorted(a.key[0] for a in flights if a is not act and a.key[3] in case.sut)
    if not waiting:
        return None
    return ("ahead", to, act.key[0], tuple(waiting))


def _scaled(pick: int, n: int) -> int:
    """Candidate ``pick`` (of ``range(PICKS)``) reads among ``n``: scaled, not modulo.

    Scaling keeps hypothesis' lean toward small draws a lean toward the policy's first
    candidates (the oldest message under FIFO), as a direct ``integers(0, n - 1)`` draw
    had; ``pick % n`` spread it evenly and delivered young messages as often as old
    ones, which broke up the causal chains multi-step scenarios need. Beyond
    :data:`PICKS` candidates, modulo (every one stays reachable).

    >>> [_scaled(p, 4) for p in (0, 7, 8, 31)], _scaled(40 % PICKS, 40)
    ([0, 0, 1, 3], 8)
    """
    return pick * n // PICKS if n <= PICKS else pick % n


def _weighted(live: Sequence[str], u: int) -> str | None:
    """The op ``u`` selects among ``live`` by cumulative :data:`WEIGHTS` (0 -> the first).

    >>> _weighted(["deliver", "place"], 0), _weighted(["deliver", "place"], 4)
    ('deliver', 'place')
    >>> _weighted([], 7) is None
    True
    """
    total = sum(WEIGHTS[o] for o in live)
    if not total:
        return None
    r = u % total
    for o in live:
        r -= WEIGHTS[o]
        if r < 0:
            return o
    raise AssertionError("unreachable")


def _rule_data(draw: Any, spec: Any, sagas: Sequence[SagaInfo]) -> dict[str, Any]:
    """The world data the spec's rules read, by name, in the rules' order: a list
    (``in``) holds the rule's field of each saga drawn into it; a limit (``above``) is
    :func:`_limit`."""
    out: dict[str, Any] = {}
    for rule in spec.rules:
        if rule.data in out:
            continue
        if rule.test == "in":
            # Sorted, each once: a set, sent in one form (World sends sets so).
            out[rule.data] = sorted({s.fields[rule.field] for s in sagas
                                     if draw(st.booleans(), label=f"{rule.data} {s.index}")})
        else:
            out[rule.data] = _limit(draw, rule.data, [s.fields[rule.field] for s in sagas])
    return out


def _limit(draw: Any, name: str, values: Sequence[Any]) -> str | None:
    """A limit (a world rule's ``above`` data) for one case in three, set at a saga's
    value (that saga passes) or one unit of its last digit below it (that saga is over
    it), so both sides of the limit are exercised; none otherwise (shrinks to none)."""
    if draw(st.integers(0, 2), label=name) != 2:
        return None
    k = draw(st.integers(0, 2 * len(values) - 1), label=f"{name} at")
    value = Decimal(str(values[k % len(values)]))
    if k >= len(values):
        value -= Decimal((0, (1,), value.as_tuple().exponent))
    return str(value)


def _matches(act: Act, step: Step) -> bool:
    if act.op != step.op:
        return False
    if act.op in ("deliver", "duplicate"):
        m = step.msg or {}
        return act.key == (m.get("type"), m.get("saga"), m.get("src"), step.to)
    if act.op == "place":
        return (step.msg or {}).get("saga") == act.key[0]
    if act.op == "crash":
        return act.key[0] == (step.kind or step.to)
    return True


def _replayed_crash(act: Act, step: Step, case: Case) -> Act | None:
    """The recorded crash ``step`` as the act to perform: at its recorded point, when the
    run's adapter honours it (``None`` otherwise: the replay cannot follow)."""
    if step.point is None or act.key[0] not in case.sut:
        return act
    if step.point not in case.s.crash_points:
        return None
    return replace(act, point=step.point)


class ScriptChooser(Scripted):
    """Replays recorded steps; sagas get fresh ids, everything else is as recorded.

    ``divergence`` is set (one line) when the service's behaviour made a recorded step
    impossible; the replay then stops generating and finishes the case as usual.
    """

    def __init__(self, steps: Sequence[Step], sagas: Sequence[SagaInfo],
                 world: World | None) -> None:
        # The recorded drain is replayed step by step too (its order is the policy's);
        # a stray comes once the case is over (stray()).
        self.steps = [s for s in steps if s.op not in ("quiet", "stray")]
        self._strays = [s for s in steps if s.op == "stray"]
        self.all = list(steps)
        self.sagas = list(sagas)
        self.world = world
        self.pos = 0
        self.divergence: str | None = None
        # (participant, msg) -> recorded outcome labels, in order.
        self._outcomes: list[tuple[str, tuple, str]] = []
        self._emitted: list[dict[str, Any]] = []
        for s in steps:
            if s.outcome is not None and s.msg is not None:
                # A placed saga's outcome is its trigger's publisher's (the step's msg).
                who = s.msg.get("src", s.to) if s.op == "place" else s.to
                self._outcomes.append((who, (s.msg["type"], s.msg["saga"]), s.outcome))
            self._emitted.extend(s.emitted)

    def begin(self, settings: CaseSettings, token: str) -> tuple[list[SagaInfo], World | None]:
        from sagaspec.conformance.models import suite_model

        self.spec = suite_model(settings.design, 1).spec
        fresh = [fresh_saga(self.spec, s.index, token, s.fields) for s in self.sagas]
        world = self.world
        if world is not None and world.knobs:
            # Knob values are per sagaId: carry them over to the fresh ids.
            renamed = {old.sagaId: new.sagaId for old, new in zip(self.sagas, fresh, strict=True)}
            world = replace(world, knobs={renamed.get(sid, sid): dict(v)
                                          for sid, v in world.knobs.items()})
        return fresh, world

    def schedule(self, case: Case) -> str:
        return "fifo"

    def late_duplicates(self, case: Case) -> int:
        return 0  # the recorded drain already holds them

    def more(self, case: Case) -> bool:
        return self.pos < len(self.steps) and self.divergence is None

    def action(self, case: Case, acts: Sequence[Act]) -> Act | None:
        want = self.steps[self.pos]
        self.pos += 1
        for a in acts:
            if _matches(a, want):
                if a.op != "crash":
                    return a
                pointed = _replayed_crash(a, want, case)
                if pointed is not None:
                    return pointed
                self.divergence = (f"step {self.pos}: the recorded crash of {a.key[0]} at "
                                   f"{want.point} is not possible here: the adapter crashes "
                                   f"at {', '.join(case.s.crash_points) or 'a point it does not name'}")
                return None
        enabled = ", ".join(a.describe() for a in acts[:8]) or "nothing"
        what = want.op + (f" {want.msg['type']}[{want.msg['saga']}] to {want.to}"
                          if want.msg else f" {want.kind or want.to}")
        self.divergence = (f"step {self.pos}: the recorded '{what}' is not possible here "
                           f"(enabled: {enabled})")
        return None

    def outcome(self, case: Case, participant: str, msg: Msg,
                outcomes: Sequence[Outcome]) -> Outcome:
        key = (msg.type, msg.saga)
        for i, (who, k, label) in enumerate(self._outcomes):
            if who == participant and k == key:
                del self._outcomes[i]
                for o in outcomes:
                    if o.label == label:
                        return o
                break
        return outcomes[0]

    def free(self, case: Case, event_type: str, saga: int) -> dict[str, Any]:
        names = free_field_names(self.spec, event_type)
        for i, ev in enumerate(self._emitted):
            if ev.get("eventType") == event_type:
                del self._emitted[i]
                return {k: ev[k] for k in names if k in ev}
        return {}

    def stray(self, case: Case) -> Act | None:
        """The recorded stray event, if the case had one (and its saga is unplaced)."""
        if not self._strays or self.divergence is not None:
            return None
        m = self._strays[0].msg or {}
        types, free = case.stray_candidates()
        if m.get("type") not in types or m.get("saga") not in free:
            self.divergence = (f"the recorded stray {m.get('type')}[{m.get('saga')}] is not "
                               "possible here (its saga was started, or the target does not "
                               "consume that type)")
            return None
        return Act("stray", (m["type"], m["saga"]))

    def negative(self, case: Case, raw: bool) -> tuple[int, int, int]:
        want = self.steps[self.pos - 1]
        kinds = RAW_KINDS if raw else NEGATIVE_KINDS
        kind = kinds.index(want.kind) if want.kind in kinds else 0
        msg = want.msg or {}
        placed = sorted(case.placed)
        saga = placed.index(msg["saga"]) if msg.get("saga") in placed else 0
        types = case.subscribed_types()
        t = types.index(msg["type"]) if msg.get("type") in types else 0
        return kind, saga, t
