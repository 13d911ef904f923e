"""The chooser's cheap draws are the draws hypothesis' public ``data.draw`` makes.

``DrawChooser`` draws through the conjecture data (``choosers._drawer``) and draws a
saga's schema fields from one strategy per spec (``payloads.saga_fields``): cheaper, and
the very same choices and spans, so a seed generates, mutates and shrinks the same cases.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sagaspec.conformance.choosers import _drawer
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.payloads import fresh_saga, saga_fields, saga_strategy

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"


def _cases(cheap: bool, fail_at: int | None = None) -> tuple[list, list]:
    """Every example a seeded run draws (and the falsifying one, when some draw of an
    example is at least ``fail_at``: hypothesis shrinks it and replays it once more;
    without sagas, whose schema strings are slow to shrink)."""
    spec = suite_model(str(SAGAS / "travel.saga.yaml"), 1).spec
    seen: list = []
    fast: list = []

    @seed(5)
    @settings(max_examples=40, database=None, deadline=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.generate, Phase.shrink])
    @given(st.data())
    def case(data):
        d = _drawer(data) if cheap else data.draw
        fast.append(d != data.draw)
        k = d(st.integers(1, 2), label="sagas") if fail_at is None else 0
        if cheap:
            sagas = [fresh_saga(spec, i, "x", d(saga_fields(spec), label=f"saga {i}"))
                     for i in range(k)]
        else:
            sagas = [d(saga_strategy(spec, i, "x"), label=f"saga {i}") for i in range(k)]
        steps = [d(st.integers(0, 31), label="pick") for _ in range(d(st.integers(0, 6)))]
        seen.append(([s.fields for s in sagas], steps))
        assert fail_at is None or max(steps, default=0) < fail_at

    try:
        case()
    except AssertionError:
        assert fail_at is not None
    return seen, fast


def test_cheap_draws_generate_the_same_examples():
    old, fast_old = _cases(cheap=False)
    new, fast_new = _cases(cheap=True)
    assert new == old and len(old) == 40
    assert not any(fast_old)
    assert all(fast_new)  # every example took the cheap path (no hypothesis fell back)


def test_cheap_draws_shrink_to_the_same_failure_and_report_its_draws():
    old, _ = _cases(cheap=False, fail_at=20)
    new, fast = _cases(cheap=True, fail_at=20)
    assert new == old and min(len(s) for _, s in old[-1:]) >= 1
    # The final replay of the failure draws publicly (hypothesis notes its draws).
    assert fast[-1] is False and any(fast)
