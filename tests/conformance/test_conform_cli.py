"""`sagaspec conform`: exit codes, the failure report, JUnit/NDJSON, replay, coverage."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from sagaspec.conformance.checks import CHECKS

from sagaspec.cli import main


def conform(*args: str):
    return CliRunner().invoke(main, ["conform", *args], catch_exceptions=False)


@pytest.mark.timeout(120)
def test_passing_run_exits_0_with_a_summary_and_reports(tmp_path):
    junit, nd = tmp_path / "j.xml", tmp_path / "r.ndjson"
    res = conform("--participant", "payment", "-n", "15", "--seed", "1",
                  "--junit-xml", str(junit), "--ndjson", str(nd),
                  "--failures-dir", str(tmp_path / "f"))
    assert res.exit_code == 0, res.output
    assert "PASSED" in res.output and "model coverage:" in res.output
    assert "15 examples" in res.output and "events/s" in res.output
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(len(CHECKS)) and suite.get("failures") == "0"
    assert {c.get("name") for c in suite.iter("testcase")} == set(CHECKS)
    events = [json.loads(line) for line in nd.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("example") == 15
    assert events[-1]["coverage"]["edges"] > 0


@pytest.mark.timeout(120)
def test_failing_run_exits_1_and_prints_everything_needed(tmp_path):
    junit = tmp_path / "j.xml"
    res = conform("--participant", "payment", "--mutant", "refund-without-charge", "-n", "50",
                  "--seed", "3", "--junit-xml", str(junit), "--failures-dir", str(tmp_path / "f"),
                  "--no-coverage")
    assert res.exit_code == 1, res.output
    out = res.output
    assert "FAILED refund-needs-charge" in out
    assert "Shrunk sequence (" in out and "payment*" in out  # the diagram, SUT marked
    assert "Messages exchanged:" in out and "Offending event:" in out
    assert "Reproduce with: sagaspec conform --adapter inprocess: --participant payment" in out
    assert "--mutant refund-without-charge --replay " in out
    assert "hypothesis seed 3" in out
    failure = ET.parse(junit).getroot().find(".//testcase[@name='refund-needs-charge']/failure")
    assert failure is not None and "sequenceDiagram" in failure.text
    saved = next((tmp_path / "f").glob("*-refund-needs-charge-*.json"))
    again = conform("--participant", "payment", "--mutant", "refund-without-charge",
                    "--replay", str(saved), "--failures-dir", str(tmp_path / "g"))
    assert again.exit_code == 1 and "FAILED refund-needs-charge" in again.output
    # The case file remembers adapter, participant, design and mutant: --replay suffices.
    alone = conform("--replay", str(saved), "--failures-dir", str(tmp_path / "h"))
    assert alone.exit_code == 1 and "FAILED refund-needs-charge" in alone.output
    fixed = conform("--participant", "payment", "--mutant", "", "--replay", str(saved),
                    "--no-coverage")
    assert fixed.exit_code == 0 and "did not reproduce" in fixed.output


@pytest.mark.parametrize("args, message", [
    (["--adapter", "ftp://nowhere"], "unknown adapter scheme 'ftp'"),
    (["--replay", "/nonexistent/case.json"], "no such file"),
    (["--adapter", "inprocess:no_such_module_xyz:factory"], "cannot import"),
    (["--skip-check", "nope"], "unknown check(s) nope"),
    (["--replay", "x.json", "--cover-edges"], "exclusive"),
])
def test_usage_errors_exit_2_with_one_line(args, message):
    res = CliRunner().invoke(main, ["conform", "--participant", "payment", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_a_bad_replay_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    res = CliRunner().invoke(main, ["conform", "--replay", str(bad)])
    assert res.exit_code == 2 and f"{bad}: format 'something else'" in res.output


def test_order_or_system_needs_the_customer_hook(tmp_path):
    # A pure-function service has no place_order: nothing can start a saga.
    mod = tmp_path / "echo_service.py"
    mod.write_text("def make():\n    return lambda event: []\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        res = CliRunner().invoke(main, ["conform", "--adapter", "inprocess:echo_service:make",
                                        "--participant", "order"])
    finally:
        sys.path.remove(str(tmp_path))
    assert res.exit_code == 2
    assert "needs an adapter with start_saga" in res.output


@pytest.mark.timeout(120)
def test_missing_hooks_are_reported_as_skipped(tmp_path):
    # A callable target has only deliver/collect (+ raw bytes): crash checks are skipped.
    mod = tmp_path / "pay_fn.py"
    mod.write_text(
        "from sagaspec.examples.system import make_target\n"
        "def make():\n"
        "    svc = make_target('payment')\n"
        "    def handle(event):\n"
        "        svc.deliver(event)\n"
        "        return [e for e in svc.drain() if isinstance(e, dict)]\n"
        "    return handle\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        res = conform("--adapter", "inprocess:pay_fn:make", "--participant", "payment",
                      "-n", "10", "--seed", "2", "--no-coverage")
    finally:
        sys.path.remove(str(tmp_path))
    assert "skipped crash-recovery: the adapter has no crash" in res.output
    # Without setup the suite cannot know who is declined: said, not silently accepted.
    assert "skipped world-rules: the adapter has no setup" in res.output
    assert "note: world rule decisions not judged: adapter has no setup hook" in res.output
    assert res.exit_code == 0, res.output


@pytest.mark.timeout(120)
def test_cover_edges_drives_the_service_along_every_edge(tmp_path):
    res = conform("--participant", "payment", "--cover-edges", "--failures-dir",
                  str(tmp_path / "f"))
    assert res.exit_code == 0, res.output
    assert "model coverage: 785/785 edges (100.0%)" in res.output


@pytest.mark.timeout(60)
def test_stopping_a_run_gives_an_honest_partial_result():
    from sagaspec.conformance import RunConfig, Runner
    from sagaspec.conformance.events import ExampleFinished, RunFinished

    runner = Runner(RunConfig(adapter="inprocess:", participant="payment", examples=10_000,
                              seed=1, failures_dir=None, coverage=False))
    seen = 0
    events = runner.execute()
    for ev in events:
        if isinstance(ev, ExampleFinished):
            seen += 1
            if seen == 5:
                runner.stop()  # what Ctrl-C does in the CLI
                break
    final = [e for e in runner.remaining() if isinstance(e, RunFinished)][0]
    assert final.interrupted
    assert 5 <= final.examples < 10_000


def test_an_oracle_that_outgrows_its_bound_is_a_usage_error_not_a_failure():
    from sagaspec.conformance import RunConfig, Runner

    from sagaspec.errors import UsageError

    runner = Runner(RunConfig(adapter="inprocess:", participant="system", examples=20, seed=1,
                              failures_dir=None, coverage=False, max_belief=2))
    with pytest.raises(UsageError, match="belief grew too large"):
        list(runner.execute())


@pytest.mark.timeout(60)
def test_without_settling_each_step_a_missing_reaction_is_found_at_the_end(tmp_path):
    res = conform("--participant", "inventory", "--mutant", "no-release-after-payment-failure",
                  "-n", "60", "--seed", "3", "--no-settle-each-step", "--no-coverage",
                  "--no-shrink", "--failures-dir", str(tmp_path))  # the finding, not its shrinking
    assert res.exit_code == 1
    assert "still requires InventoryReleased" in res.output
