"""Held-back ("serial") cases steer the order in which one saga's concurrent events reach
the target (conformance/choosers.py DrawChooser._held_back): two failures of one order
reach Order in the order no case delivered them yet, the saga still running alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sagaspec.conformance.choosers import DrawChooser
from sagaspec.conformance.coverage import Steering
from sagaspec.conformance.harness import Act

SHIPPING = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "order-shipping.saga.yaml")


class _Data:
    """Draws answer 0; the draw ``stop_at`` (counting from 1) raises, as hypothesis does
    when a case runs out of data."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.n, self.stop_at = 0, stop_at

    def draw(self, strategy, label=None):
        self.n += 1
        if self.n == self.stop_at:
            raise RuntimeError("out of data")
        return 0


def _chooser(steering: Steering, data: _Data | None = None) -> DrawChooser:
    chooser = DrawChooser(data or _Data(), steering)
    chooser._mine = steering.open()
    return chooser


def _flights(*types: str, saga: int = 0) -> list[Act]:
    return [Act("deliver", (t, saga, "x", "order"), i) for i, t in enumerate(types)]


CASE = SimpleNamespace(sut=("order",))


def test_a_second_case_delivers_concurrent_failures_in_the_order_not_made_yet():
    st = Steering()
    first = _chooser(st)
    both = _flights("PaymentFailed", "InventoryReservationFailed")
    assert first._held_back(both, CASE, 0).key[0] == "PaymentFailed"  # as drawn
    assert not first._mine  # made once the failure it went ahead of arrived too
    assert first._held_back(both[1:], CASE, 0).key[0] == "InventoryReservationFailed"
    assert first._mine == {("ahead", "order", "PaymentFailed", ("InventoryReservationFailed",))}
    second = _chooser(st)
    # The same draw: the other failure goes first now (that order is new).
    assert second._held_back(both, CASE, 0).key[0] == "InventoryReservationFailed"
    # Only the earliest saga's messages are candidates: the saga still runs alone.
    later = _flights("PaymentFailed", "InventoryReservationFailed", saga=1)
    assert second._held_back(later + both, CASE, 0).key[1] == 0


def test_an_order_of_a_case_cut_short_is_not_remembered():
    st = Steering()
    cut = _chooser(st, _Data(stop_at=1))
    both = _flights("PaymentFailed", "InventoryReservationFailed")
    cut._held_back(both, CASE, 0)
    cut._held_back(both[1:], CASE, 0)
    cut.draw = cut._orders_undone_on_abort(cut.draw)
    with pytest.raises(RuntimeError):
        cut.draw(None)  # hypothesis drops the case: no check saw where the order led
    again = _chooser(st)
    assert again._held_back(both, CASE, 0).key[0] == "PaymentFailed"  # still as drawn


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mutant", ["drop-guard-4", "forget-update-4"])
def test_the_inventory_failure_before_the_payment_failure_is_reached_on_every_seed(conform, mutant):
    """Order cancels on the inventory failure, then gets the payment failure: the mutant
    (the cancel's guard dropped, or its status update forgotten) cancels twice. Held-back
    cases deliver both failures of the first order, the payment's first: missed on seed 3
    of these five at the default count before held-back cases steered that order."""
    missed = []
    for seed in range(1, 6):
        r = conform(design=SHIPPING, participant="order", mutant=mutant, seed=seed,
                    all_bugs=False, shrink=False)
        assert set(r.final.failures) <= {"one-outcome", "model"}, (seed, r.final.failures)
        if not r.final.failures:
            missed.append(seed)
    assert not missed, f"not found at the default example count on seeds {missed}"
