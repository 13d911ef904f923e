"""Config() and `sagaspec check` share their defaults; counting states without properties;
a step that changes nothing is reported once."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner
from sagaspec.model import Config, Outcome, Participant, System, explore, saga_system, simulate
from sagaspec.model.system import symmetry_blocker

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(120)


def check(*args: str):
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def test_config_defaults_are_the_clis():
    cfg = Config()
    assert (cfg.bus, cfg.duplicates, cfg.idempotency, cfg.outbox, cfg.symmetry, cfg.por) == (
        "unordered-dup", 1, True, True, None, None
    )
    system = saga_system("corrected", orders=2)
    api = explore(system)
    assert api.config.symmetry is True  # settled: the saga allows it
    cli = json.loads(check("--json").stdout)
    assert cli["config"] == api.config.to_dict()
    assert cli["stats"]["states"] == api.stats.states and cli["stats"]["edges"] == api.stats.edges
    # Partial-order reduction wherever it applies, in both; --no-por and por=False agree too.
    assert api._search.por_reduced > 0
    off = explore(system, Config(por=False))
    cli_off = json.loads(check("--json", "--no-por").stdout)
    assert cli_off["config"] == off.config.to_dict() and cli_off["stats"]["states"] == off.stats.states
    assert off.stats.states > api.stats.states and off.verdicts == api.verdicts
    # One order: nothing to rename, so symmetry settles off, in both.
    one = explore(saga_system("corrected", orders=1))
    assert one.config.symmetry is False
    assert symmetry_blocker(saga_system("corrected", orders=1)).startswith("needs at least 2")
    assert simulate(system, walks=1, depth=3).config.symmetry is True
    with pytest.raises(Exception, match="symmetry must be"):
        Config(symmetry="yes")


def test_explicit_symmetry_off_is_respected():
    system = saga_system("corrected", orders=2)
    off = explore(system, Config(symmetry=False))
    assert off.config.symmetry is False and off.stats.states > explore(system).stats.states


class Counter(Participant):
    """Counts to 3; "idle" changes nothing (a self-loop) in every state below 3."""

    name = "counter"

    def init(self):
        return 0

    def internal(self, state):
        return (Outcome("tick", state + 1), Outcome("idle", state)) if state < 3 else ()


def test_a_model_without_properties_counts_its_states_and_a_noop_step_is_warned_once():
    r = explore(System((Counter(),), name="counter"))
    assert r.ok and r.complete and r.verdicts == {} and r.stats.states == 4
    assert len(r.warnings) == 1
    (w,) = r.warnings
    assert "'counter'" in w and "'idle'" in w and "changes nothing" in w and "2 more" in w
    assert explore(System((Worker(),))).warnings == []


class Worker(Participant):
    name = "worker"

    def init(self):
        return 0

    def internal(self, state):
        return (Outcome("work", state + 1),) if state < 2 else ()


MODEL = textwrap.dedent(
    """
    from sagaspec.model import Outcome, Participant, System

    class Counter(Participant):
        name = "counter"

        def init(self):
            return 0

        def internal(self, state):
            return (Outcome("tick", state + 1), Outcome("idle", state)) if state < 3 else ()

    SYSTEM = System((Counter(),), name="counter")
    """
)


def test_cli_counts_states_of_a_model_without_properties(tmp_path, monkeypatch):
    (tmp_path / "counter_model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    r = check("--model", "counter_model.py:SYSTEM")
    assert r.exit_code == 0, r.output
    assert "no properties to check: 4 reachable states counted" in r.stdout
    assert r.stdout.count("warning:") == 1 and "changes nothing" in r.stdout
    bounded = check("--model", "counter_model.py:SYSTEM", "--max-depth", "1")
    assert bounded.exit_code == 3, bounded.output  # an incomplete count is not a pass
