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
from typing import Any

from hypothesis import strategies as st
from sagaspec.adapters.base import World
from sagaspec.conformance.harness import Act, Case, CaseSettings, Scripted, Step
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.payloads import (
    FREE_FIELDS,
    NEGATIVE_KINDS,
    RAW_KINDS,
    SKUS,
    free_fields,
    make_saga,
    saga_fields,
)
from sagaspec.model.participant import Msg, Outcome

__all__ = ["DrawChooser", "ScriptChooser", "OPS", "PICKS"]

#: Action kinds, most ordinary first (hypothesis shrinks toward the first).
OPS = ("deliver", "place", "duplicate", "crash", "invalid", "raw")
#: 40% of the steps are deliveries, 20% duplicates; the rest place orders and inject faults.
_WEIGHTED = (0, 0, 0, 0, 1, 2, 2, 3, 4, 5)
#: Range of the abstract "which one" draws, read modulo the candidates there are. Fixed,
#: so the shape of a case's draws never depends on what the service published; large
#: enough that a pick among a long in-flight list is still close to uniform.
PICKS = 32
#: Range of a played participant's outcome draw (a multiple of 2 and 3: the model's
#: branching factors, so ``k % n`` stays uniform).
OUTCOMES = 6
#: Range of the bad-input kind draw (a multiple of both kind lists' lengths).
BAD_KINDS = 12


class DrawChooser:
    """Every decision drawn from hypothesis ``data`` (see the module docstring).

    The draws of a case depend only on earlier draws, never on what the service
    published or in which order it arrived: hypothesis replays and shrinks a case by its
    choice sequence and rejects one whose draws change shape on replay
    (``FlakyStrategyDefinition``), which real, asynchronous services would otherwise
    provoke. So every draw is *abstract* and interpreted against the current state:

    * each step draws an op (from the fixed :data:`OPS` weighting) and a pick from
      ``range(PICKS)``, read as ``pick % len(candidates)`` (0 = the policy's first
      candidate: the oldest message under FIFO); the bad-input details are drawn when
      the op drawn is a bad input, whether or not it ends up enabled; a step with
      nothing enabled still makes its draws and does nothing;
    * the played participants' outcomes are drawn up front, one per (participant,
      message type, saga), read modulo the outcomes the model offers when the message
      arrives (0 = the model's first outcome);
    * the free payload fields are drawn up front, per (event type, saga), for the types
      the played participants publish; drained and late deliveries use them too.
    """

    def __init__(self, data: Any) -> None:
        self.data = data
        self._outcomes: dict[tuple[str, str, int], int] = {}
        self._free: dict[tuple[str, int], dict[str, Any]] = {}
        self._bad: tuple[int, int, int] = (0, 0, 0)

    def begin(self, settings: CaseSettings, token: str) -> tuple[list[SagaInfo], World | None]:
        d = self.data.draw
        k = d(st.integers(1, settings.max_sagas), label="sagas")
        sagas = [make_saga(i, token, d(saga_fields(), label=f"saga {i}")) for i in range(k)]
        world = None
        if "setup" in settings.capabilities:
            stock = {sku: d(st.integers(0, 6), label=f"stock {sku}") for sku in SKUS}
            declined = frozenset(s.userId for s in sagas
                                 if d(st.booleans(), label=f"decline {s.index}"))
            world = World(stock=stock, declined_users=declined,
                          decline_over=_amount_limit(d, sagas))
        self._played_decisions(settings, k)
        return sagas, world

    def _played_decisions(self, settings: CaseSettings, sagas: int) -> None:
        """Draw what the played participants will decide, before anything happens."""
        from sagaspec.conformance.models import suite_model

        d = self.data.draw
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
                self._outcomes[(name, t, i)] = d(st.integers(0, OUTCOMES - 1),
                                                 label=f"{name} on {t}[{i}]")
        free_types = sorted({t for p in played for t in getattr(p, "publishes", ())
                             if t in FREE_FIELDS})
        for i in range(sagas):
            for t in free_types:
                self._free[(t, i)] = d(free_fields(t), label=f"{t}[{i}] fields")

    def schedule(self, case: Case) -> str:
        return self.data.draw(st.sampled_from(("fifo", "lifo")), label="schedule")

    def more(self, case: Case) -> bool:
        return self.data.draw(st.integers(0, 9), label="continue") != 0

    def late_duplicates(self, case: Case) -> int:
        return self.data.draw(st.integers(0, 2), label="late duplicates")

    def action(self, case: Case, acts: Sequence[Act]) -> Act | None:
        """The step's act, or ``None`` when nothing is enabled (the draws are made anyway)."""
        d = self.data.draw
        # Draw from the fixed OPS tuple (a disabled op falls through to the next enabled
        # one) so an op keeps its meaning while hypothesis deletes other steps.
        i = _WEIGHTED[d(st.integers(0, len(_WEIGHTED) - 1), label="op")]
        pick = d(st.integers(0, PICKS - 1), label="pick")
        if OPS[i] in ("invalid", "raw"):
            self._bad = (d(st.integers(0, BAD_KINDS - 1), label="bad kind"),
                         d(st.integers(0, 3), label="bad saga"),
                         d(st.integers(0, 3), label="bad type"))
        else:
            self._bad = (0, 0, 0)
        present = {a.op for a in acts}
        if not present:
            return None
        op = next(OPS[(i + k) % len(OPS)] for k in range(len(OPS))
                  if OPS[(i + k) % len(OPS)] in present)
        mine = [a for a in acts if a.op == op]
        return mine[pick % len(mine)]

    def outcome(self, case: Case, participant: str, msg: Msg,
                outcomes: Sequence[Outcome]) -> Outcome:
        k = self._outcomes.get((participant, msg.type, msg.saga), 0)
        return outcomes[k % len(outcomes)]

    def free(self, case: Case, event_type: str, saga: int) -> dict[str, Any]:
        return dict(self._free.get((event_type, saga), {}))

    def negative(self, case: Case, raw: bool) -> tuple[int, int, int]:
        return self._bad


def _amount_limit(draw: Any, sagas: Sequence[SagaInfo]) -> str | None:
    """A payment amount limit (``World.decline_over``) for one case in three, set at a
    saga's amount (that order passes) or a cent below it (that order is declined), so
    both sides of the limit are exercised; none otherwise (shrinks to none)."""
    if draw(st.integers(0, 2), label="amount limit") != 2:
        return None
    k = draw(st.integers(0, 2 * len(sagas) - 1), label="limit at")
    cents = int(sagas[k % len(sagas)].amount.replace(".", ""))
    cents -= k >= len(sagas)
    return f"{cents // 100}.{cents % 100:02d}"


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


class ScriptChooser(Scripted):
    """Replays recorded steps; sagas get fresh ids, everything else is as recorded.

    ``divergence`` is set (one line) when the service's behaviour made a recorded step
    impossible; the replay then stops generating and finishes the case as usual.
    """

    def __init__(self, steps: Sequence[Step], sagas: Sequence[SagaInfo],
                 world: World | None) -> None:
        # The recorded drain is replayed step by step too (its order is the policy's).
        self.steps = [s for s in steps if s.op != "quiet"]
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
                who = s.to if s.op != "place" else "order"
                self._outcomes.append((who, (s.msg["type"], s.msg["saga"]), s.outcome))
            self._emitted.extend(s.emitted)

    def begin(self, settings: CaseSettings, token: str) -> tuple[list[SagaInfo], World | None]:
        fresh = [SagaInfo(s.index, f"saga-{token}-{s.index}", f"order-{token}-{s.index}",
                          s.userId, s.amount, s.currency, s.items) for s in self.sagas]
        return fresh, self.world

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
                return a
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
        names = FREE_FIELDS.get(event_type, ())
        for i, ev in enumerate(self._emitted):
            if ev.get("eventType") == event_type:
                del self._emitted[i]
                return {k: ev[k] for k in names if k in ev}
        return {}

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
