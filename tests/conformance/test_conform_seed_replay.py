"""The model checker's seed-design counterexamples, replayed against the seed reference
services, fail in the same way (the same property)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sagaspec.model.explore import explore
from sagaspec.model.saga import saga_system
from sagaspec.model.system import Config

from sagaspec.cli import main

# Which targets reproduce which counterexample. Safety violations are judged on what the
# service under test publishes, so the participant that broke the property is the
# target (payment refunds without a charge); eventual ones show from any target whose
# test case can follow the trace. The whole system cannot be made to reorder its own
# deliveries, so only the counterexamples that need no reordering replay against it.
TARGETS = {
    "refund-needs-charge": ("payment",),
    "saga-terminates": ("payment", "order", "inventory", "system"),
    "no-charge-left": ("payment", "order", "inventory"),
    "no-reservation-left": ("payment", "order", "inventory", "system"),
}


@pytest.fixture(scope="module")
def seed_traces(tmp_path_factory):
    """Counterexamples of `sagaspec check --design seed` (Python API), as trace files."""
    result = explore(saga_system("seed", orders=2), Config())
    out = tmp_path_factory.mktemp("traces")
    files = {}
    for v in result.violations:
        data = v.shrunk_path.to_dict()
        data["property"] = v.property
        path = out / f"{v.property}.json"
        path.write_text(json.dumps(data))
        files[v.property] = path
    return files


def test_the_model_checker_finds_the_seed_holes(seed_traces):
    assert set(TARGETS) <= set(seed_traces)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("prop", sorted(TARGETS))
def test_seed_counterexample_fails_the_same_way_against_the_seed_services(
        conform, seed_traces, prop):
    for participant in TARGETS[prop]:
        r = conform(participant=participant, design="seed", replay=seed_traces[prop])
        assert r.final.failures == [prop], (participant, [f.message for f in r.failures.values()])
        failure = r.failures[prop]
        assert failure.divergence is None
        # The corrected services, given the same trace, do not break the property.
        fixed = conform(participant=participant, design="corrected", replay=seed_traces[prop])
        assert prop not in fixed.final.failures, participant


@pytest.mark.timeout(120)
def test_trace_files_written_by_sagaspec_check_replay_from_the_cli(tmp_path):
    traces = tmp_path / "traces"
    done = CliRunner().invoke(main, ["check", "--design", "seed", "--trace-out", str(traces)])
    assert done.exit_code == 1, done.output
    trace = next(traces.glob("*refund-needs-charge*.json"))
    res = CliRunner().invoke(main, ["conform", "--participant", "payment", "--design", "seed",
                                    "--replay", str(trace), "--failures-dir",
                                    str(tmp_path / "f"), "--no-coverage"])
    assert res.exit_code == 1, res.output
    assert "FAILED refund-needs-charge" in res.output
    assert "Reproduce with: sagaspec conform" in res.output
