"""Property results are cached per the local states a predicate reads (its support).

A predicate that reads ``view["ticker"]`` and, only when the ticker is high, also
``view["echo"]`` must give the same verdicts and the same first violation as the same
predicate evaluated afresh in every state, while being evaluated far less often.
"""

from __future__ import annotations

import pytest
from sagaspec.model import Config, Msg, Outcome, Participant, Property, System, explore

pytestmark = pytest.mark.timeout(60)


class Ticker(Participant):
    """Ticks 0..4, publishing a Tick each time."""

    name = "ticker"

    def init(self):
        return 0

    def internal(self, state):
        if state >= 4:
            return ()
        # Numbered, so the idempotency store does not take the ticks for duplicates.
        return (Outcome("tick", state + 1, (Msg("Tick", 0, self.name, (("n", state),)),)),)


class Echo(Participant):
    """Counts the Ticks it receives (and may lose count on a crash)."""

    name = "echo"
    subscribes = frozenset({"Tick"})

    def init(self):
        return 0

    def on_event(self, state, msg):
        return (Outcome("count", state + 1),)


class Noise(Participant):
    """A bystander counting to 5 on its own (never read by the predicates)."""

    name = "noise"

    def init(self):
        return 0

    def internal(self, state):
        return (Outcome("step", state + 1),) if state < 5 else ()


def _system(pred, calls):
    def counted(v):
        calls.append(1)
        return pred(v)

    def counted_behind(v):
        calls.append(1)
        return behind(v)

    return System(
        (Ticker(), Echo(), Noise()),
        (
            Property.always("echo-behind", counted_behind),
            Property.always("not-both-high", pred),
            Property.sometimes("echo-caught-up", lambda v: v["echo"] == 4),
        ),
        name="ticks",
    )


def behind(v):
    # Holds everywhere (so it is evaluated all search long); reads echo only once the
    # ticker is high, so its support grows during the search.
    return v["ticker"] < 2 or v["echo"] <= v["ticker"]


def static(v):
    return v["ticker"] < 3 or v["echo"] < 3


def dynamic(v):
    v.duplicates_left  # noqa: B018 - reading a budget makes every evaluation uncached
    return static(v)


@pytest.mark.parametrize(
    "cfg", [Config(duplicates=1, por=False), Config(duplicates=0, bus="unordered", por=False), Config(bus="fifo", por=False)]
)
def test_support_cache_gives_the_same_results_as_evaluating_every_state(cfg):
    cached_calls, fresh_calls = [], []
    at_end: list[int] = []  # evaluations when the search ends (the last progress call)
    cached = explore(_system(static, cached_calls), cfg, on_progress=lambda _st: at_end.append(len(cached_calls)))
    fresh = explore(_system(dynamic, fresh_calls), cfg)
    assert cached.verdicts == fresh.verdicts
    assert cached.verdicts["not-both-high"] == "violated"
    a, b = cached.violation("not-both-high"), fresh.violation("not-both-high")
    assert a.path.actions == b.path.actions
    assert cached._search.found == fresh._search.found
    # The search evaluated echo-behind about once per (ticker, echo) pair (a few more
    # while its support grew), not once per combination with noise's 6 states.
    assert at_end[-1] <= 5 * 5 + 5 < cached.stats.states
    props = cached._search.props
    support = props.support[0]
    assert [p.name for i, p in enumerate(cached.system.participants) if support >> i & 1] == ["ticker", "echo"]
