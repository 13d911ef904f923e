"""Where a crash lands: before the commit, after the commit, after publishing.

Each point has its own correct behaviour (the event redelivered and processed once; the
outbox published by the restarted process; the re-sent events taken as duplicates), and
a service that gets one of them wrong is caught only when that point is generated. Both
pipelines: the hypothesis suite (``--design``) and the seeded scheduler (``--spec``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.adapters.base import Adapter
from sagaspec.adapters.crash import CRASH_POINTS, honoured_points, parse_crash_points
from sagaspec.adapters.inprocess import InProcessAdapter
from sagaspec.conformance import RunConfig, Runner
from sagaspec.conformance.harness import Step
from sagaspec.conformance.spec_conform import InProcessSpecAdapter, case_seed, run_case
from sagaspec.spec.sagafile import resolve_spec

from sagaspec.cli import main
from sagaspec.errors import UsageError

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
SHOP = str(SAGAS / "shop.saga.yaml")


def _lossy(service):
    """``service`` whose restarted process forgets its unsent outbox (it lived in memory)."""

    class LosesOutbox(type(service)):
        def restarted(self):
            fresh = super().restarted()
            fresh.__class__ = type(self)  # and so does the next restart
            fresh.store.mark_sent([i for i, _ in fresh.store.pending_outbox()])
            return fresh

    service.__class__ = LosesOutbox
    return service


def _target(participant: str, lossy: bool) -> InProcessAdapter:
    from sagaspec.examples.system import make_target

    target = make_target(participant)
    if lossy:
        made = target.make
        target.make = lambda: {n: _lossy(s) for n, s in made().items()}
        target.reset()
    return InProcessAdapter(target, label="loses-outbox" if lossy else "reference")


def _crashes(runner) -> Counter:
    return Counter(s.get("point") for path, _ in runner.covered for s in path
                   if s["op"] == "crash")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("points", [None, ("after-commit",), ("before-commit",),
                                    ("after-publish",)])
def test_a_service_that_loses_its_outbox_is_caught_only_by_after_commit_crashes(
        conform, points):
    """Killed after its commit, the service's restart drops the outbox: the event is
    acknowledged as processed (the redelivery is a duplicate) and its reaction never
    comes. Killed before the commit or after publishing, nothing is lost."""
    r = conform(adapter=_target("payment", lossy=True), participant="payment", seed=1,
                crash_points=points, all_bugs=False, shrink=False)
    if points is not None and "after-commit" not in points:
        assert r.final.failures == [], [f.message for f in r.failures.values()]
        return
    assert r.final.failures == ["model"], r.final.failures
    failure = r.failures["model"]
    assert "still requires" in failure.message, failure.message
    saved = json.loads(Path(failure.file).read_text(encoding="utf-8"))
    crashes = [s for s in saved["steps"] if s["op"] == "crash"]
    assert [s["point"] for s in crashes][-1:] == ["after-commit"], crashes
    again = conform(adapter=_target("payment", lossy=True), participant="payment",
                    replay=failure.file)
    assert again.final.failures == ["model"]
    fixed = conform(adapter=_target("payment", lossy=False), participant="payment",
                    replay=failure.file)
    assert fixed.final.failures == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("participant", ["system", "inventory"])
def test_the_reference_passes_crashes_at_every_point_and_each_is_generated(participant,
                                                                         tmp_path):
    runner = Runner(RunConfig(adapter="inprocess:", participant=participant, examples=60,
                              seed=2, all_bugs=False, shrink=False, coverage=False,
                              failures_dir=tmp_path))
    final = list(runner.execute())[-1]
    assert final.failures == [], final.failures
    seen = _crashes(runner)
    assert set(seen) == set(CRASH_POINTS), seen


@pytest.mark.timeout(60)
def test_restricted_points_are_the_only_ones_generated(tmp_path):
    runner = Runner(RunConfig(adapter="inprocess:", participant="payment", examples=40,
                              seed=1, shrink=False, coverage=False, failures_dir=tmp_path,
                              crash_points=("after-publish",)))
    assert list(runner.execute())[-1].failures == []
    assert set(_crashes(runner)) == {"after-publish"}


class _Fixed(Adapter):
    """An adapter whose crash always arms one point it names (as the broker adapters)."""

    crash_point = "before-commit"

    def __init__(self) -> None:
        self.inner = _target("payment", lossy=False)

    @property
    def capabilities(self):
        return self.inner.capabilities

    async def deliver(self, event):
        await self.inner.deliver(event)

    async def collect(self, timeout):
        return await self.inner.collect(timeout)

    async def setup(self, world):
        await self.inner.setup(world)

    async def reset(self):
        await self.inner.reset()

    async def deliver_raw(self, payload):
        await self.inner.deliver_raw(payload)

    async def crash(self, participant):
        await self.inner.crash(participant, self.crash_point)


class _Unsaid(_Fixed):
    crash_point = None


def test_points_an_adapter_cannot_honour_are_refused_in_one_line(tmp_path):
    assert honoured_points(_Fixed()) == ("before-commit",)
    assert honoured_points(_Unsaid()) == ()
    assert honoured_points(_target("payment", lossy=False)) == CRASH_POINTS
    for adapter, where in ((_Fixed(), "before-commit"), (_Unsaid(), "a point it does not name")):
        runner = Runner(RunConfig(adapter=adapter, participant="payment", examples=2,
                                  failures_dir=tmp_path, coverage=False,
                                  crash_points=("after-commit",)))
        with pytest.raises(UsageError) as info:
            list(runner.execute())
        assert str(info.value) == (f"--crash-points after-commit: the adapter {adapter!r} "
                                   f"cannot crash there; it crashes at {where}")
    # Not asked for by name: the run uses what the adapter honours and says so.
    runner = Runner(RunConfig(adapter=_Fixed(), participant="payment", examples=20, seed=1,
                              failures_dir=tmp_path, coverage=False, shrink=False))
    final = list(runner.execute())[-1]
    assert final.failures == []
    assert ("crashes land only at before-commit: the adapter cannot be told to crash at "
            "after-commit, after-publish") in final.notes
    assert set(_crashes(runner)) <= {"before-commit"}


def test_the_point_is_typed_data_of_a_saved_step():
    step = Step("crash", src="suite", to="payment", kind="payment", point="after-commit")
    assert Step.from_json(step.to_json()) == step
    assert "point" not in Step("crash", kind="payment").to_json()
    with pytest.raises(ValueError, match="'point' of a crash step: 'mid-air' is not one of"):
        Step.from_json({"op": "crash", "kind": "payment", "point": "mid-air"})
    assert parse_crash_points(None) == CRASH_POINTS
    with pytest.raises(ValueError, match="unknown crash point"):
        parse_crash_points("after-commit,later")


def test_the_cli_takes_crash_points_and_refuses_unknown_ones_in_one_line():
    runner = CliRunner()
    bad = runner.invoke(main, ["conform", "--participant", "payment", "-n", "1",
                               "--crash-points", "after-commit,later"])
    assert bad.exit_code == 2
    assert "unknown crash point(s) later; expected a comma list of before-commit, " \
           "after-commit, after-publish" in bad.output
    assert "Traceback" not in bad.output


# -- the seeded scheduler (--spec) -------------------------------------------------------
class _LosesOutbox(InProcessSpecAdapter):
    """The shop's services, except that a process killed after its commit comes back
    without its outbox: what the restart would re-send is lost."""

    armed: str | None = None
    lost = False

    def arm_crash(self, participant, point):
        self.armed = point
        super().arm_crash(participant, point)

    def deliver(self, participant, event, invalid=False):
        acked = super().deliver(participant, event, invalid)
        self.lost, self.armed = not acked and self.armed == "after-commit", None
        return acked

    def collect(self, done):
        got = super().collect(done)
        if self.lost:
            self.lost = False
            return []
        return got


@pytest.mark.timeout(120)
def test_the_seeded_scheduler_catches_a_lost_outbox_only_at_after_commit():
    spec = resolve_spec(SHOP)

    def caught(points, adapter_class):
        out = 0
        for k in range(40):
            s = case_seed(1, k)
            r = run_case(spec, adapter_class(spec), s, sagas=1 + s % 3, crash_points=points)
            out += bool(r.failures)
            assert all(f.check == "model" for f in r.failures), r.failures
        return out

    assert caught(CRASH_POINTS, _LosesOutbox) > 0
    assert caught(("after-commit",), _LosesOutbox) > 0
    assert caught(("before-commit", "after-publish"), _LosesOutbox) == 0
    assert caught(CRASH_POINTS, InProcessSpecAdapter) == 0


def test_the_seeded_scheduler_crashes_only_at_the_points_asked_for():
    spec = resolve_spec(SHOP)
    logs = [line for k in range(30)
            for line in run_case(spec, InProcessSpecAdapter(spec), case_seed(1, k),
                                 crash_points=("after-publish",)).log if "killed at" in line]
    assert logs and all("killed at after-publish" in line for line in logs), logs[:3]


def test_the_spec_cli_says_where_crashes_land():
    r = CliRunner().invoke(main, ["conform", "--spec", SHOP, "-n", "3", "--seed", "1",
                                  "--crash-points", "after-commit"])
    assert r.exit_code == 0, r.output
    assert "crashes land only at after-commit" in r.output
