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

__all__ = ["DrawChooser", "ScriptChooser", "OPS"]

#: Action kinds, most ordinary first (hypothesis shrinks toward the first).
OPS = ("deliver", "place", "duplicate", "crash", "invalid", "raw")
#: 40% of the steps are deliveries, 20% duplicates; the rest place orders and inject faults.
_WEIGHTED = (0, 0, 0, 0, 1, 2, 2, 3, 4, 5)


class DrawChooser:
    """Every decision drawn from hypothesis ``data`` (see the module docstring)."""

    def __init__(self, data: Any) -> None:
        self.data = data

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
        return sagas, world

    def schedule(self, case: Case) -> str:
        return self.data.draw(st.sampled_from(("fifo", "lifo")), label="schedule")

    def more(self, case: Case) -> bool:
        return self.data.draw(st.integers(0, 9), label="continue") != 0

    def late_duplicates(self, case: Case) -> int:
        return self.data.draw(st.integers(0, 2), label="late duplicates")

    def action(self, case: Case, acts: Sequence[Act]) -> Act | None:
        # Draw from the fixed OPS tuple (a disabled op falls through to the next enabled
        # one) so an op keeps its meaning while hypothesis deletes other steps.
        present = {a.op for a in acts}
        i = _WEIGHTED[self.data.draw(st.integers(0, len(_WEIGHTED) - 1), label="op")]
        op = next(OPS[(i + k) % len(OPS)] for k in range(len(OPS))
                  if OPS[(i + k) % len(OPS)] in present)
        mine = [a for a in acts if a.op == op]
        if len(mine) == 1:
            return mine[0]
        return mine[self.data.draw(st.integers(0, len(mine) - 1), label=op)]

    def outcome(self, case: Case, participant: str, msg: Msg,
                outcomes: Sequence[Outcome]) -> Outcome:
        if len(outcomes) == 1:
            return outcomes[0]
        i = self.data.draw(st.integers(0, len(outcomes) - 1), label=f"{participant} outcome")
        return outcomes[i]

    def free(self, case: Case, event_type: str) -> dict[str, Any]:
        if event_type not in FREE_FIELDS:
            return {}
        return self.data.draw(free_fields(event_type), label=f"{event_type} fields")

    def negative(self, case: Case, raw: bool) -> tuple[int, int, int]:
        kinds = RAW_KINDS if raw else NEGATIVE_KINDS
        d = self.data.draw
        return (d(st.integers(0, len(kinds) - 1), label="bad kind"),
                d(st.integers(0, 3), label="bad saga"),
                d(st.integers(0, 3), label="bad type"))


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

    def free(self, case: Case, event_type: str) -> dict[str, Any]:
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
