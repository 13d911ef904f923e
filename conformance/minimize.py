"""Step-level minimisation of a failing case, after hypothesis' shrinking.

Hypothesis shrinks the *choices* that generated a case; a choice sequence can sit in a
local minimum that still carries a whole irrelevant saga (the auto-placed first order,
say, when the bug shows on the second). This pass works on the recorded steps instead,
as the model checker shrinks its traces: it replays candidate cases against the service
and keeps one when it still breaks the *same* check and exchanges fewer events with the
service. Candidates, in order: drop one saga entirely (steps renumbered), then drop one
step (latest first). Each replay is deterministic in the suite; the service's own
answers decide, so a candidate the service makes impossible simply fails to reproduce.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sagaspec.conformance.checks import CheckFailed
from sagaspec.conformance.diagram import exchanged
from sagaspec.conformance.harness import Case, Step
from sagaspec.conformance.history import SagaInfo

__all__ = ["minimize"]


def _size(case: Case) -> tuple[int, int]:
    return len(exchanged([s.to_json() for s in case.steps], case.label)), len(case.steps)


def _drop_saga(steps: list[Step], sagas: list[SagaInfo], j: int) -> tuple[list[Step], list[SagaInfo]]:
    out = []
    for s in steps:
        m = s.msg
        if m is not None and m.get("saga") == j:
            continue
        if m is not None and m.get("saga", -1) > j:
            s = replace(s, msg={**m, "saga": m["saga"] - 1})
        out.append(s)
    kept = [SagaInfo(k, x.sagaId, x.fields)
            for k, x in enumerate(x for x in sagas if x.index != j)]
    return out, kept


def minimize(replay: Callable[[list[Step], list[SagaInfo]], tuple[Case, CheckFailed | None]],
             case: Case, exc: CheckFailed, *, budget_seconds: float = 10.0,
             max_runs: int = 300) -> tuple[Case, CheckFailed, int]:
    """The smallest case found that still fails ``exc.check``, its failure, and the
    number of replays spent. ``replay(steps, sagas)`` runs a scripted case."""
    best, best_exc = case, exc
    runs = 0
    deadline = time.perf_counter() + budget_seconds

    def attempt(steps: list[Step], sagas: list[SagaInfo]) -> bool:
        nonlocal best, best_exc, runs
        runs += 1
        got, err = replay(steps, sagas)
        if err is None or err.check != exc.check:
            return False
        if _size(got) < _size(best):
            best, best_exc = got, err
            return True
        return False

    improved = True
    while improved and runs < max_runs and time.perf_counter() < deadline:
        improved = False
        steps = [s for s in best.steps if s.op != "quiet"]
        sagas: list[Any] = list(best.sagas)
        if len(sagas) > 1:
            for j in range(len(sagas)):
                cand_steps, cand_sagas = _drop_saga(steps, sagas, j)
                if attempt(cand_steps, cand_sagas):
                    improved = True
                    break
            if improved:
                continue
        for i in reversed(range(len(steps))):
            if runs >= max_runs or time.perf_counter() >= deadline:
                break
            if attempt(steps[:i] + steps[i + 1:], sagas):
                improved = True
                break
    return best, best_exc, runs
