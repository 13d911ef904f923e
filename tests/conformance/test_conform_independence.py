"""The suite's draws do not depend on what the service published, or in which order.

Over a broker the services' outputs arrive in a varying order. Hypothesis replays and
shrinks a case by its choice sequence; if the suite's draws depended on that order it
would raise ``FlakyStrategyDefinition`` and stop generating early. Here an adapter wrapper
reorders every collected batch (seeded) against the in-process reference services: each
run must still make exactly the examples asked for, with no failure and no note.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from sagaspec.adapters.base import Adapter
from sagaspec.adapters.spec import load_adapter
from sagaspec.conformance.runner import RunConfig, Runner, run

PUBLISHER = {
    "OrderCreated": "order", "OrderCompleted": "order", "OrderCancelled": "order",
    "PaymentProcessed": "payment", "PaymentFailed": "payment", "PaymentRefunded": "payment",
    "InventoryReserved": "inventory", "InventoryReservationFailed": "inventory",
    "InventoryReleased": "inventory", "NotificationSent": "notification",
}


def _ordered(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether ``a`` (published first) happened before ``b`` in the reference system.

    One service publishes in program order; Order reacts to everything Payment and
    Inventory published for the saga before; everyone else reacts to Order's events.
    Only outputs of different services that neither waited for are concurrent: an
    asynchronous bus may show them in any order.
    """
    pa, pb = PUBLISHER.get(a.get("eventType")), PUBLISHER.get(b.get("eventType"))
    if pa == pb or b.get("causationId") == a.get("eventId"):
        return True
    return a.get("sagaId") == b.get("sagaId") and "order" in (pa, pb)


def reorder(batch: list[Any], rng: random.Random, everything: bool) -> list[Any]:
    """A random order of ``batch``: any (``everything``) or one the bus could show."""
    if everything:
        out = list(batch)
        rng.shuffle(out)
        return out
    left, out = list(batch), []
    while left:
        ready = [x for i, x in enumerate(left) if not any(
            isinstance(x, dict) and isinstance(y, dict) and _ordered(y, x)
            for y in left[:i])]
        pick = rng.choice(ready)
        left.remove(pick)
        out.append(pick)
    return out


class Reordered(Adapter):
    """Delegates to ``inner``; every collected batch comes back reordered (seeded)."""

    name = "reordered"

    def __init__(self, inner: Adapter, seed: int, everything: bool) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.everything = everything
        self.changed = 0

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def deliver(self, event):
        await self.inner.deliver(event)

    async def collect(self, timeout):
        got = list(await self.inner.collect(timeout))
        out = reorder(got, self.rng, self.everything)
        self.changed += out != got
        return out

    async def place_order(self, order):
        await self.inner.place_order(order)

    async def deliver_raw(self, payload):
        await self.inner.deliver_raw(payload)

    async def setup(self, world):
        await self.inner.setup(world)

    async def crash(self, participant):
        await self.inner.crash(participant)

    async def reset(self):
        await self.inner.reset()


N = 40


@pytest.mark.timeout(120)
@pytest.mark.parametrize("participant", ["payment", "order", "inventory", "notification",
                                         "system"])
def test_reordered_outputs_still_run_every_example(participant):
    made: list[Reordered] = []

    def factory() -> Reordered:
        inner = load_adapter("inprocess:", participant=participant, design="corrected",
                             mutant=None, mapping=None)
        # A lone service's outputs may come in any order; the whole system's only as
        # the bus could show them (what one service waited for stays before it).
        made.append(Reordered(inner, seed=7, everything=participant != "system"))
        return made[-1]

    final = run(RunConfig(adapter=factory, participant=participant, examples=N, seed=11,
                          failures_dir=None, coverage=False))
    assert final.failures == [], final
    assert final.examples == N and not final.interrupted, (final.examples, final.notes)
    # (A system the suite cannot step through is said to run each saga by itself: that
    # note describes the target, not a problem of the run.)
    assert [n for n in final.notes if "runs each saga by itself" not in n] == [], final.notes
    if participant == "system":
        # The wrapper did change what the suite saw (a lone reference service publishes
        # at most one event per step, so only the system's batches can be reordered).
        assert made[0].changed > 0


def test_an_inconsistent_generation_is_reported_as_a_suite_bug(monkeypatch):
    """Should the suite's draws ever depend on the service again, the run says so plainly
    (not as a flaky failure of the service)."""
    from sagaspec.conformance import choosers

    real = choosers.DrawChooser.schedule
    coin = random.Random(0)

    def uneven(self, case):
        if coin.random() < 0.5:  # an extra draw on some runs only: inconsistent shape
            self.data.draw(choosers.st.integers(0, 1000))
        return real(self, case)

    monkeypatch.setattr(choosers.DrawChooser, "schedule", uneven)
    # Hypothesis notices the inconsistency only when it revisits a prefix, which takes a
    # seed-dependent number of examples: the budget leaves room (the run ends early once
    # it is noticed).
    runner = Runner(RunConfig(adapter="inprocess:", participant="payment", examples=200,
                              seed=1, failures_dir=None, coverage=False))
    final = [e for e in runner.execute()][-1]
    assert final.failures == []
    assert any(n.startswith("suite bug: hypothesis found the suite's data generation "
                            "inconsistent") for n in final.notes), final.notes
    assert not any("flaky" in n for n in final.notes)
