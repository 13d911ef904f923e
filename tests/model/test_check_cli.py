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
    assert "sagas=2 units=1 stock=1" in r.stdout and "symmetry=on" in r.stdout
    assert "exhaustive BFS, complete" in r.stdout
    assert "Verdict: all 15 properties hold within the bounds (exhaustive" in r.stdout
    assert "FAIL" not in r.stdout


def test_seed_reports_each_hole_with_traces_and_reproduce_commands():
    r = check("--design", "seed", "--mermaid", "--verbose")
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
    assert "Verdict: 1 of 1 property VIOLATED (saga-terminates)" in again.stdout


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
    assert "CRASH, publishes lost" in r.stdout
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
        (["--design", "seed", "--model", "x:y"], "error: use either --design/--spec or --model, not both"),
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
    assert ok.exit_code == 3  # a simulation without a violation proves nothing: incomplete
    as_json = json.loads(check("--simulate", "100", "--depth", "40", "--json").stdout)
    assert as_json["exit_code"] == 3 and as_json["ok"] is False
    assert "simulation: 100 walks, not exhaustive" in ok.stdout
    assert "INCOMPLETE: no violation found in 100 random walks" in ok.stdout


def test_depth_bound_is_reported_as_incomplete():
    r = check("--max-depth", "4")
    assert r.exit_code == 3, r.output
    assert "exhaustive BFS, incomplete" in r.stdout
    assert "Verdict: INCOMPLETE: the depth bound --max-depth 4 left states unexplored" in r.stdout


def test_depth_bound_zero_decides_nothing_and_is_not_a_pass():
    r = check("--max-depth", "0", "--json")
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 3 and doc["ok"] is False and doc["complete"] is False
    assert {p["verdict"] for p in doc["properties"]} == {"unknown"}
    assert doc["verdict"].startswith("INCOMPLETE: the depth bound --max-depth 0")
    assert "15 of 15 properties not decided" in doc["verdict"]


def test_a_depth_bound_the_search_never_reaches_is_a_complete_run():
    r = check("--max-depth", "100", "--property", "single-charge")
    assert r.exit_code == 0, r.output
    assert "Verdict: 1 property holds" in r.stdout


def test_state_bound_is_respected_named_and_not_a_pass():
    for extra in ((), ("--no-symmetry",), ("--bus", "fifo", "--orders", "3")):
        r = check("--max-states", "1000", *extra, "--json")
        assert r.exit_code == 3, (extra, r.output)
        doc = json.loads(r.stdout)
        assert doc["stats"]["states"] == 1000, extra
        assert doc["verdict"].startswith("INCOMPLETE: stopped at the state bound --max-states 1,000"), doc["verdict"]
    text = check("--max-states", "1000")
    assert text.exit_code == 3
    assert "explored 1,000 states" in text.stdout
    assert "within the depth bound" not in text.stdout


def test_a_state_bound_above_the_state_space_is_a_complete_run():
    r = check("--max-states", "1000000", "--property", "single-charge")
    assert r.exit_code == 0, r.output


def test_memory_bound_stops_cleanly_with_the_partial_result():
    r = check("--orders", "3", "--crashes", "1", "--max-memory", "1MB", "--property", "single-charge")
    assert r.exit_code == 3, r.output
    assert "Verdict: INCOMPLETE: stopped at the memory bound --max-memory 1MB after" in r.stdout
    assert "?       always     single-charge" in r.stdout  # the partial result's verdict table
    bad = check("--max-memory", "lots")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: --max-memory 'lots': expected a size such as 512MB or 2GB"


def test_a_memory_error_is_the_same_clean_stop(monkeypatch):
    import sagaspec.cli.check as cli_check

    calls = []

    def oom(self, stats):
        calls.append(stats)
        raise MemoryError

    monkeypatch.setattr(cli_check._Progress, "__call__", oom)
    r = check("--orders", "3", "--crashes", "1", "--progress", "--property", "single-charge", "--json")
    assert calls, "the progress callback was never called"
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["out_of_memory"] is True and doc["complete"] is False
    assert doc["verdict"].startswith("INCOMPLETE: out of memory after")
    assert "Traceback" not in r.output


def test_parse_size():
    from sagaspec.cli.check import parse_size

    assert parse_size("512MB") == 512 * 2**20
    assert parse_size("2g") == 2 * 2**30
    assert parse_size("1.5GiB") == int(1.5 * 2**30)
    assert parse_size("100000") == 100000


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
    r = check("--progress", "--property", "single-charge")  # (a line at the end, however short the run)
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
    assert proc.returncode == 3, out
    assert "interrupted" in out
    assert "Verdict: INTERRUPTED after" in out and "partial result" in out


# --------------------------------------------------------------------------- compact output
def test_default_output_is_compact_and_readable():
    r = check("--design", "seed", "--property", "refund-needs-charge")
    assert r.exit_code == 1
    out = r.stdout
    assert "Slot(" not in out and "'idle'" not in out  # no Python reprs
    assert "refund-needs-charge is false for saga 1 after 5 steps" in out
    # the sequence diagram with what changed under each step
    assert "InventoryReservationFailed[1] -> payment: refund (nothing charged)" in out
    assert "payment[1]: status none -> refunded, refunds 0 -> 1" in out
    assert "Saga 1 at the end:" in out and "payment[1]: status=refunded charges=0 refunds=1" in out
    assert "initial state:" not in out and "Shortest trace (" not in out
    assert "--verbose shows every trace in full" in out
    assert len(out.splitlines()) < 45, out
    full = check("--design", "seed", "--property", "refund-needs-charge", "--verbose")
    assert "initial state:" in full.stdout and "Slot(" not in full.stdout
    assert "order[0] = status=idle paid=false reserved=false completed=0 cancelled=0" in full.stdout
    assert "payment[1].status: none -> refunded" in full.stdout
    assert len(full.stdout.splitlines()) > len(out.splitlines())


def test_a_stuck_saga_is_named():
    r = check("--design", "seed", "--property", "no-reservation-left")
    assert r.exit_code == 1, r.output
    assert "saga 0 is stuck: no-reservation-left is false for it when nothing is in flight" in r.stdout
    assert "Saga 0 at the end:" in r.stdout
    assert "inventory.slots[0]: status=reserved held=1" in r.stdout


# --------------------------------------------------------------------------- encoded paths
def test_the_encoded_path_replays_with_check_replay():
    doc = json.loads(check("--design", "seed", "--property", "refund-needs-charge", "--json").stdout)
    token = doc["violations"][0]["shrunk_path"]["encoded"]
    assert token.startswith("ssp1:")
    r = check("--design", "seed", "--replay", token)
    assert r.exit_code == 1, r.output
    assert "replayed 5 steps of the encoded path on order-saga/seed" in r.stdout
    assert "violates refund-needs-charge" in r.stdout
    verbose = check("--design", "seed", "--property", "refund-needs-charge", "--verbose")
    line = next(x for x in verbose.stdout.splitlines() if "Replay this trace:" in x)
    argv = shlex.split(line.split("Replay this trace: ", 1)[1])
    again = check(*argv[2:])
    assert again.exit_code == 1 and "reproduced" in again.stdout
    # on a design where it is not enabled: one line naming the step
    wrong = check("--design", "seed", "--orders", "1", "--replay", token)
    assert wrong.exit_code == 2
    (line,) = wrong.stderr.strip().splitlines()
    assert line.startswith("error: --replay: the encoded path does not replay on order-saga/seed")
    assert "step 2" in line


# --------------------------------------------------------------------------- rejected options
@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "3"], "error: --seed is the random seed of --simulate"),
        (["--list", "--orders", "100"], "error: --list lists the designs and properties; it takes no other option (got --orders)"),
        (["--property", ","], "error: --property ',' names no property"),
        (["--replay", "ssp1:", "--max-states", "5"], "error: --replay re-executes one trace; --max-states only apply to a search"),
        (["--simulate", "5", "--max-memory", "1GB"], "error: --max-memory bounds exhaustive search"),
    ],
)
def test_options_that_do_not_apply_are_rejected(args, message):
    r = check(*args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_click_usage_errors_are_one_line():
    for args in (["check", "--bus", "carrier-pigeon"], ["check", "--nope"], ["nope"], ["check", "--orders", "x"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, lines)
        assert "--help" in lines[0]


def test_help_states_the_orders_range_and_the_exit_codes():
    r = CliRunner().invoke(main, ["check", "--help"])
    text = " ".join(r.stdout.split())
    assert "Concurrent sagas, 1 to 6" in text
    assert "3 incomplete" in text


# --------------------------------------------------------------------------- own models
OWN_MODEL = """
from sagaspec.model import Msg, Outcome, Participant, Property, System

class Once(Participant):
    name = "once"
    subscribes = frozenset()
    def init(self):
        return 0
    def internal(self, state):
        return (Outcome("go", 1),) if state == 0 else ()

def tiny():
    return System((Once(),), (Property.always("small", lambda v: v["once"] <= 1),), name="tiny")
"""


def test_own_model_is_imported_from_the_current_directory(tmp_path):
    pkg = tmp_path / "my_models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(OWN_MODEL)
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-m", "sagaspec", "check", "--model", "my_models.models:tiny"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Verdict: 1 property holds" in run.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "sagaspec", "check", "--model", "not_here.models:tiny"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert "cannot import 'not_here.models'" in line and f"from the current directory {tmp_path}" in line


def test_a_trace_shared_by_two_violations_is_printed_once():
    r = check("--design", "seed")
    assert r.exit_code == 1
    assert r.stdout.count("Trace: the same 9 steps as violation 2 above.") == 1
    assert len(r.stdout.splitlines()) < 120  # was 229 lines of reprs


def test_a_memory_error_in_the_last_progress_report_is_the_same_clean_stop(monkeypatch):
    import sagaspec.cli.check as cli_check

    def oom(self, stats):
        raise MemoryError

    monkeypatch.setattr(cli_check._Progress, "__call__", oom)
    # A search short enough that only the report after it runs.
    r = check("--orders", "1", "--progress", "--property", "single-charge", "--json")
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["out_of_memory"] is True
    assert doc["verdict"].startswith("INCOMPLETE: out of memory after")
