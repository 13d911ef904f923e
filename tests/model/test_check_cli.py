"""``sagaspec check``: verdicts, traces, JSON, trace files, replay, errors, Ctrl-C."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner
from sagaspec.model import Path
from sagaspec.model.saga import saga_system_from_meta

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(180)


def check(*args: str):
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def test_default_checks_corrected_and_passes():
    r = check()
    assert r.exit_code == 0, r.output
    assert "sagaspec check: order-saga/corrected" in r.stdout
    assert "orders=2 stock=1" in r.stdout and "symmetry=on" in r.stdout
    assert "exhaustive BFS, complete" in r.stdout
    assert "Verdict: all 15 properties hold within the bounds (exhaustive" in r.stdout
    assert "FAIL" not in r.stdout


def test_seed_reports_each_hole_with_traces_and_reproduce_commands():
    r = check("--design", "seed", "--mermaid")
    assert r.exit_code == 1, r.output
    out = r.stdout
    for prop, length in [
        ("refund-needs-charge", 5),
        ("saga-terminates", 9),
        ("no-charge-left", 10),
        ("no-reservation-left", 9),
    ]:
        assert f"{prop} is false" in out and f"after {length} steps" in out
        assert f"shortest trace {length} steps" in out
        assert (
            "Reproduce with: sagaspec check --design seed --orders 2 --stock 1 --bus unordered-dup "
            f"--duplicates 1 --crashes 0 --property {prop}"
        ) in out
    assert "Shortest trace (5 steps):" in out
    assert "5. payment <- InventoryReservationFailed(saga 1, from inventory): refund (nothing charged)" in out
    assert "Sequence diagram" in out and "sequenceDiagram" in out
    assert "Verdict: 4 of 15 properties VIOLATED" in out


def test_reproduce_command_reruns_only_that_property():
    r = check("--design", "seed")
    line = next(x for x in r.stdout.splitlines() if "--property saga-terminates" in x)
    argv = shlex.split(line.split("Reproduce with: ", 1)[1])
    assert argv[:2] == ["sagaspec", "check"]
    again = check(*argv[2:])
    assert again.exit_code == 1
    assert "Verdict: 1 of 1 properties VIOLATED (saga-terminates)" in again.stdout


def test_double_charge_json_output():
    r = check("--design", "seed", "--no-idempotency", "--property", "single-charge,one-outcome", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 1 and doc["ok"] is False and doc["complete"] is True
    assert [p["name"] for p in doc["properties"]] == ["single-charge", "one-outcome"]
    (charge,) = [v for v in doc["violations"] if v["property"] == "single-charge"]
    assert charge["length"] == 3 and charge["kind"] == "invariant"
    assert [s["kind"] for s in charge["path"]["steps"]] == ["internal", "duplicate", "deliver"]
    assert doc["assumptions_off"] == ["idempotency"]
    assert doc["model"]["design"] == "seed" and doc["config"]["idempotency"] is False
    assert doc["reproduce"]["single-charge"].endswith("--no-idempotency --property single-charge")
    assert doc["stats"]["states"] > 0


def test_trace_out_saves_replayable_json(tmp_path):
    r = check("--design", "seed", "--trace-out", str(tmp_path / "traces"))
    assert r.exit_code == 1
    files = sorted((tmp_path / "traces").glob("*.json"))
    assert [f.name for f in files] == [
        "order-saga-seed.no-charge-left.json",
        "order-saga-seed.no-reservation-left.json",
        "order-saga-seed.refund-needs-charge.json",
        "order-saga-seed.saga-terminates.json",
    ]
    for f in files:
        assert f"Trace saved: {f}" in r.stdout
        doc = json.loads(f.read_text())
        assert doc["format"] == "sagaspec.trace/1"
        assert doc["model"]["design"] == "seed"
        system = saga_system_from_meta(doc["model"])
        path = Path.from_json(system, None, doc)
        assert len(path) == len(doc["steps"])
        assert doc["reproduce"].endswith(f"--property {doc['property']}")
    replay = check("--replay", str(tmp_path / "traces" / "order-saga-seed.refund-needs-charge.json"))
    assert replay.exit_code == 1
    assert "the final state violates refund-needs-charge (always): reproduced" in replay.stdout


def test_replay_of_an_edited_trace_that_no_longer_violates(tmp_path):
    check("--design", "seed", "--trace-out", str(tmp_path))
    f = tmp_path / "order-saga-seed.refund-needs-charge.json"
    doc = json.loads(f.read_text())
    doc["steps"] = doc["steps"][:-1]
    f.write_text(json.dumps(doc))
    r = check("--replay", str(f))
    assert r.exit_code == 0
    assert "no longer violates refund-needs-charge" in r.stdout


def test_corrected_with_a_crash_per_participant_passes():
    r = check("--crashes", "1", "--property", "saga-terminates,single-charge")
    assert r.exit_code == 0, r.output
    assert "crashes=1" in r.stdout and "Verdict: all 2 properties hold" in r.stdout


def test_switching_off_an_assumption_is_noted():
    r = check("--orders", "1", "--crashes", "1", "--no-outbox", "--property", "saga-terminates")
    assert r.exit_code == 1
    assert "switches off the transactional outbox that design 'corrected' assumes" in r.stdout
    assert "crash before publishing" in r.stdout
    assert "symmetry=off (needs at least 2 interchangeable sagas, the model has 1)" in r.stdout


def test_model_option_loads_a_system_by_reference():
    r = check("--model", "sagaspec.model.saga:seed", "--property", "refund-needs-charge")
    assert r.exit_code == 1
    assert "Reproduce with: sagaspec check --model sagaspec.model.saga:seed" in r.stdout


USER_MODEL = '''
from sagaspec.model import Msg, Outcome, Participant, Property, System

class Pinger(Participant):
    name = "pinger"
    subscribes = frozenset({"Pong"})
    def init(self):
        return 0
    def internal(self, state):
        return (Outcome("ping", 1, (Msg("Ping", 0, "pinger"),)),) if state == 0 else ()
    def on_event(self, state, msg):
        return (Outcome("got pong", 2),)

class Ponger(Participant):
    name = "ponger"
    subscribes = frozenset({"Ping"})
    def init(self):
        return 0
    def on_event(self, state, msg):
        return (Outcome("pong", state + 1, (Msg("Pong", 0, "ponger"),)),)

GOOD = System((Pinger(), Ponger()), (Property.eventually("answered", lambda v: v["pinger"] == 2),), name="ping")
BAD = System((Pinger(), Ponger()), (Property.always("boom", lambda v: 1 / 0),), name="ping")
'''


def test_user_model_file_and_a_property_that_raises(tmp_path):
    f = tmp_path / "pingpong.py"
    f.write_text(textwrap.dedent(USER_MODEL))
    good = check("--model", f"{f}:GOOD")
    assert good.exit_code == 0, good.output
    assert "symmetry=off (needs at least 2 interchangeable sagas, the model has 0)" in good.stdout
    assert "  bounds: bus=unordered-dup" in good.stdout
    bad = check("--model", f"{f}:BAD")
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "error: property 'boom' raised ZeroDivisionError: division by zero"
    ]
    assert "Traceback" not in bad.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--design", "nope"], "error: unknown design 'nope'; expected one of seed, corrected"),
        (["--model", "no_such_pkg.mod:X"], "error: model 'no_such_pkg.mod:X': cannot import 'no_such_pkg.mod'"),
        (["--model", "sagaspec.model.saga:NOPE"], "error: model 'sagaspec.model.saga:NOPE': module 'sagaspec.model.saga' has no attribute 'NOPE'"),
        (["--property", "bogus"], "error: unknown property 'bogus' in order-saga/corrected; expected one of single-charge"),
        (["--design", "seed", "--model", "x:y"], "error: use either --design or --model, not both"),
        (["--model", "sagaspec.model.saga:seed", "--orders", "3"], "error: --orders: only with --design"),
        (["--depth", "5"], "error: --depth is the walk length of --simulate"),
        (["--orders", "9"], "error: orders must be an integer from 1 to 6, got 9"),
        (["--stock", "-1"], "error: stock must be an integer from 0 to 1000, got -1"),
        (["--bus", "unordered", "--duplicates", "2"], "error: bus 'unordered' delivers exactly once"),
        (["--replay", "/nonexistent/trace.json"], "error: --replay /nonexistent/trace.json: cannot read"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message):
    r = check(*args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    assert "Traceback" not in r.output


def test_click_level_usage_error_exits_2():
    r = check("--bus", "carrier-pigeon")
    assert r.exit_code == 2 and "Invalid value for '--bus'" in r.output


def test_simulation_mode_is_seeded_and_says_it_is_not_exhaustive():
    args = ("--design", "seed", "--simulate", "200", "--depth", "40", "--seed", "7", "--json")
    a, b = check(*args), check(*args)
    assert a.exit_code == b.exit_code == 1
    da, db = json.loads(a.stdout), json.loads(b.stdout)
    assert da["exhaustive"] is False and da["stats"]["walks"] == 200
    assert [v["path"]["encoded"] for v in da["violations"]] == [v["path"]["encoded"] for v in db["violations"]]
    assert da["reproduce"]["refund-needs-charge"].endswith(
        "--simulate 200 --depth 40 --seed 7 --property refund-needs-charge"
    )
    ok = check("--simulate", "100", "--depth", "40")
    assert ok.exit_code == 0
    assert "simulation: 100 walks, not exhaustive" in ok.stdout
    assert "no violation found in 100 random walks" in ok.stdout


def test_depth_bound_is_reported_as_incomplete():
    r = check("--max-depth", "4")
    assert r.exit_code == 0
    assert "incomplete" in r.stdout and "the run did not visit every reachable state" in r.stdout


def test_first_stops_at_the_first_violation():
    r = check("--design", "seed", "--first", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert len(doc["violations"]) == 1 and doc["complete"] is False


def test_list():
    r = check("--list")
    assert r.exit_code == 0
    assert "seed " in r.stdout and "corrected " in r.stdout and "saga-terminates" in r.stdout


def test_progress_lines_go_to_stderr():
    r = check("--orders", "3", "--progress", "--property", "single-charge")
    assert r.exit_code == 0
    assert "states=" in r.stderr and "states/s" in r.stderr and "B/state" in r.stderr
    assert "states=" not in r.stdout.split("explored")[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_prints_an_honest_partial_result():
    proc = subprocess.Popen(
        [sys.executable, "-m", "sagaspec", "check", "--orders", "3", "--crashes", "1", "--progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The test runner may ignore SIGINT (background job); give the child the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    seen = ""
    while time.time() < deadline and "states=" not in seen:
        seen += proc.stderr.read(1) or ""
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert "Verdict: INTERRUPTED after" in out and "partial result" in out
