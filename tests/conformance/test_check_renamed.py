"""The check of the spec's world rules is ``world-rules``, for any saga; its former
name ``payment-rules`` is still accepted where users type or store a check name
(``--skip-check``, a RunConfig or the pytest plugin's options, saved case files), and
every output gives the new one."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sagaspec.conformance import RunConfig, run
from sagaspec.conformance.cases import load_case
from sagaspec.conformance.checks import RENAMED, checks_for, current_name

from sagaspec.cli import main

#: A case file saved before the rename (its check: ``payment-rules``).
OLD_CASE = Path(__file__).resolve().parents[1] / "data" / "brokers" / "mutants" / "decline-everything.json"


def test_the_world_rules_check_has_its_new_name_and_the_old_one_maps_to_it():
    assert "world-rules" in checks_for("corrected") and "payment-rules" not in checks_for("corrected")
    assert RENAMED == {"payment-rules": "world-rules"} and current_name("payment-rules") == "world-rules"
    summary = checks_for("corrected")["world-rules"].summary
    assert "declined users" not in summary and "world rules" in summary


def test_skipping_the_check_by_its_former_name_skips_it_under_the_new_one(tmp_path):
    # A RunConfig is also what the pytest plugin's options and conformance_test() build.
    config = RunConfig(adapter="inprocess:", participant="payment", examples=2, seed=1,
                       failures_dir=tmp_path, coverage=False, skip_checks=("payment-rules",))
    assert config.skip_checks == ("world-rules",)
    final = run(config)
    status = {c.name: (c.status, c.reason) for c in final.checks}
    assert status["world-rules"] == ("skipped", "switched off (--skip-check)")
    assert "payment-rules" not in status and final.ok


def test_the_cli_takes_the_former_name_and_prints_the_new_one(tmp_path):
    res = CliRunner().invoke(main, ["conform", "--adapter", "inprocess:", "--participant", "payment",
                                    "-n", "2", "--seed", "1", "--no-coverage", "--failures-dir",
                                    str(tmp_path), "--skip-check", "payment-rules"])
    assert res.exit_code == 0, res.output
    assert "world-rules" in res.output and "payment-rules" not in res.output


def test_a_case_file_saved_with_the_former_name_replays_as_the_new_one(tmp_path):
    assert json.loads(OLD_CASE.read_text(encoding="utf-8"))["check"] == "payment-rules"
    assert load_case(OLD_CASE).check == "world-rules"
    final = run(RunConfig(adapter="inprocess:", participant="payment", mutant="decline-everything",
                          replay=str(OLD_CASE), failures_dir=tmp_path))
    assert list(final.failures) == ["world-rules"]
    assert not any("did not reproduce" in n for n in final.notes)
