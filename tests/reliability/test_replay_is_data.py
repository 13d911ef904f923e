"""A trace file is data: replaying it never imports code it names unless asked to.

``check --replay`` uses the model named on the command line; a trace's own Python
model target is imported only when ``--model`` names the same target or with
``--trust-file`` (and the line saying so comes first). Options the trace contradicts
are applied (and shown) or rejected with one line. A trace records where its model
was found, so it replays from another folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

MODEL = textwrap.dedent('''
    from pathlib import Path
    from sagaspec.model import Msg, Outcome, Participant, Property, System

    Path(__file__).with_name("IMPORTED").write_text("the model module ran")

    class Flip(Participant):
        name = "flip"
        subscribes = frozenset()

        def init(self):
            return 0

        def internal(self, state):
            return (Outcome("flip", 1 - state),) if state == 0 else ()

        def on_event(self, state, msg):
            return ()

    def flipper() -> System:
        return System((Flip(),), (Property.always("never-flipped", lambda v: v["flip"] == 0),),
                      name="flipper")
''')


def sagaspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sagaspec", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def _trace(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "project"
    (project / "my_models").mkdir(parents=True)
    (project / "my_models" / "__init__.py").write_text("")
    (project / "my_models" / "flip.py").write_text(MODEL)
    r = sagaspec("check", "--model", "my_models.flip:flipper", "--trace-out", "traces", cwd=project)
    assert r.returncode == 1, r.stdout + r.stderr
    trace = project / "traces" / "flipper.never-flipped.json"
    assert trace.is_file()
    (project / "my_models" / "IMPORTED").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return project, elsewhere


def test_a_python_model_named_by_a_trace_is_not_imported_without_consent(tmp_path):
    project, elsewhere = _trace(tmp_path)
    trace = project / "traces" / "flipper.never-flipped.json"
    r = sagaspec("check", "--replay", str(trace), cwd=elsewhere)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --replay ")
    assert "--model my_models.flip:flipper" in lines[0] and "--trust-file" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (project / "my_models" / "IMPORTED").exists()


def test_trust_file_imports_it_from_another_folder_and_says_so_first(tmp_path):
    project, elsewhere = _trace(tmp_path)
    trace = project / "traces" / "flipper.never-flipped.json"
    recorded = json.loads(trace.read_text())["model"]
    assert recorded["target"] == "my_models.flip:flipper"
    assert recorded["root"] == str(project.resolve())
    r = sagaspec("check", "--replay", str(trace), "--trust-file", cwd=elsewhere)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines()[0] == f"importing the model my_models.flip:flipper named by {trace} (--trust-file)"
    assert "violates never-flipped" in r.stdout
    assert (project / "my_models" / "IMPORTED").exists()


def test_the_same_model_on_the_command_line_replays_it(tmp_path):
    project, _ = _trace(tmp_path)
    r = sagaspec("check", "--replay", "traces/flipper.never-flipped.json",
                 "--model", "my_models.flip:flipper", cwd=project)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "reproduced" in r.stdout


def test_options_the_trace_contradicts_are_applied_or_rejected(tmp_path):
    r = sagaspec("check", "--design", "seed", "--trace-out", "traces", cwd=tmp_path)
    assert r.returncode == 1
    trace = "traces/order-saga-seed.refund-needs-charge.json"
    applied = sagaspec("check", "--replay", trace, "--design", "corrected", "--orders", "3", cwd=tmp_path)
    assert applied.stderr.splitlines()[0] == (
        "replaying with design corrected (the trace: seed), orders 3 (the trace: 2)")
    assert applied.returncode == 2 and "not enabled in 'order-saga/corrected'" in applied.stderr
    same = sagaspec("check", "--replay", trace, "--design", "seed", cwd=tmp_path)
    assert same.returncode == 1 and "replaying with" not in same.stderr
    rejected = sagaspec("check", "--replay", trace, "--bus", "fifo", cwd=tmp_path)
    lines = rejected.stderr.strip().splitlines()
    assert rejected.returncode == 2 and len(lines) == 1 and "--bus cannot change them" in lines[0]
    no_file = sagaspec("check", "--trust-file", cwd=tmp_path)
    assert no_file.returncode == 2 and "--trust-file applies only to --replay FILE" in no_file.stderr


def _evil_case(tmp_path: Path) -> Path:
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "__init__.py").write_text("")
    (tmp_path / "evil" / "mod.py").write_text(
        "from pathlib import Path\nPath('IMPORTED').write_text('ran')\n"
        "def factory(**kw):\n    raise RuntimeError('the evil factory ran')\n")
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"format": "sagaspec.conformance/1", "participant": "payment",
                                "design": "corrected", "adapter": "inprocess:evil.mod:factory",
                                "sagas": [], "steps": []}))
    return case


def test_conform_replay_does_not_use_an_adapter_the_case_file_names(tmp_path):
    case = _evil_case(tmp_path)
    r = sagaspec("conform", "--replay", str(case), cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr
    assert "the case file names the adapter inprocess:evil.mod:factory" in lines[0]
    assert "--adapter inprocess:evil.mod:factory" in lines[0] and "--trust-file" in lines[0]
    assert not (tmp_path / "IMPORTED").exists()


def test_conform_replay_with_trust_file_says_what_it_uses_first(tmp_path):
    case = _evil_case(tmp_path)
    r = sagaspec("conform", "--replay", str(case), "--trust-file", cwd=tmp_path)
    assert r.stderr.splitlines()[0] == (
        f"using the adapter inprocess:evil.mod:factory named by {case} (--trust-file)")
    assert (tmp_path / "IMPORTED").exists()


def test_hostile_replay_files_get_one_line_errors(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    huge_int = tmp_path / "int.json"
    huge_int.write_text('{"model": {"design": "seed", "orders": ' + "9" * 5000 + "}}")
    for args, fragment in [
        (["check", "--replay", str(deep)], "nested deeper than 64 levels (limit max_depth=64)"),
        (["conform", "--replay", str(deep)], "nested deeper than 64 levels (limit max_depth=64)"),
        (["check", "--replay", str(huge_int)], "number of 5000 characters (limit max_number=100)"),
        (["check", "--replay", "/dev/zero"], "limit max_bytes="),
    ]:
        r = sagaspec(*args, cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, (args, r.stderr[-2000:])
        assert lines[0].startswith("error: --replay ") and fragment in lines[0], lines[0]
