"""A guard conjunct that only a late event and a world value together reach: the
overtaking policy's drain and steering toward the shared starting values a guard needs
(conformance/choosers.py ``drained``, conformance/coverage.py ``Steering.boundary``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sagaspec.conformance.coverage import Steering, boundary_values, guard_hits
from sagaspec.model.participant import Msg

ROOT = Path(__file__).resolve().parents[2]
SHIPPING = str(ROOT / "examples" / "sagas" / "order-shipping.saga.yaml")
CORRECTED = str(ROOT / "spec" / "sagas" / "order-corrected.saga.yaml")


def _inventory():
    from sagaspec.conformance.models import suite_model

    model = suite_model(CORRECTED, 1)
    return model.spec, next(p for p in model.participants if p.name == "inventory").inner


def test_a_late_creation_misses_the_out_of_stock_target_only_by_the_stock():
    spec, inv = _inventory()
    cancelled = inv.state_cls(1, (inv._slot(inv.init()[-1][0]._replace(status="cancelled")),))
    met, near = guard_hits(spec, inv, [cancelled], Msg("OrderCreated", 0, "order"))
    # status != 'none' with stock: the reserve alternative's other conjunct holds (met),
    # the out-of-stock one's does not (missed only by the starting stock).
    (reserve,), (short,) = met, near
    assert reserve[3] == short[3] == 0 and reserve[2] != short[2]
    empty = cancelled._replace(free=0)
    assert guard_hits(spec, inv, [empty], Msg("OrderCreated", 0, "order")) == ({short}, {reserve})
    assert boundary_values(spec, "inventory", "free", range(3), inv.params, [short]) == [0]
    assert boundary_values(spec, "inventory", "free", range(3), inv.params, [reserve]) == [1, 2]


def test_steering_asks_for_the_missed_value_until_a_case_meets_the_target():
    spec, inv = _inventory()
    s = Steering()
    s.open()
    s.saw(set(), {("inventory", 0, 2, 0)})
    # The case that missed it does not steer itself (a case reads the cases before it).
    assert s.boundary(spec, "inventory", "free", 0, 2, 2, inv.params) == 2
    s.open()
    assert s.boundary(spec, "inventory", "free", 0, 2, 2, inv.params) == 0
    assert s.snapshot().boundary(spec, "inventory", "free", 0, 2, 1, inv.params) == 0
    s.saw({("inventory", 0, 2, 0)}, set())
    s.open()
    assert s.boundary(spec, "inventory", "free", 0, 2, 2, inv.params) == 2


@pytest.mark.timeout(600)
@pytest.mark.parametrize("design", [SHIPPING, CORRECTED], ids=["order-shipping", "order-corrected"])
def test_a_late_creation_with_short_stock_is_reached_on_every_seed(conform, design):
    """Inventory's out-of-stock guard without its ``status == 'none'`` conjunct fails a
    creation that reaches it after its cancellation while stock is short. Missed on seeds
    1 and 4 (order-shipping) and 5 (order-corrected) when an overtaking case's drain
    delivered oldest first and the starting stock was drawn blind to that guard."""
    missed = []
    for seed in range(1, 6):
        r = conform(design=design, participant="inventory", mutant="drop-conjunct-11",
                    seed=seed, all_bugs=False, shrink=False)
        assert set(r.final.failures) <= {"model"}, (seed, r.final.failures)
        if not r.final.failures:
            missed.append(seed)
    assert not missed, f"not found at the default example count on seeds {missed}"
