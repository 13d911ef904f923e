"""A conform option an adapter cannot honour is a usage error, never silently ignored.

``--mutant`` against a served service was dropped and the unmutated service reported
"PASSED: ... mutant no-idempotency"; ``--mapping`` with ``--spec`` and the in-process
reference services was dropped the same way, and with ``--spec`` the generated suite's
own options (``--max-sagas``, ``--skip-check``, ``--quiet``, ...).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sagaspec.cli import main

TRAVEL_FILE = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "travel.saga.yaml")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line(r) -> str:
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in r.output
    return lines[0]


def test_a_mutant_with_an_http_service_says_to_serve_the_mutant(tmp_path):
    # No service at the port: the option is refused before anything is reached.
    line = one_line(run("conform", "--adapter", "http://127.0.0.1:9", "--participant", "system",
                        "--mutant", "no-idempotency", "-n", "1", "--failures-dir", str(tmp_path)))
    assert line == ("error: --mutant no-idempotency: an HTTP service runs what it was started "
                    "with; serve the mutant (sagaspec serve --mutant NAME) and test that URL, "
                    "or run it in-process (--adapter inprocess:)")


def test_a_mutant_with_a_broker_needs_spawned_services(tmp_path):
    line = one_line(run("conform", "--adapter", "nats://127.0.0.1:9", "--participant", "system",
                        "--mutant", "no-idempotency", "-n", "1", "--failures-dir", str(tmp_path)))
    assert line.startswith("error: --mutant no-idempotency: a broker adapter runs a mutant only "
                           "in the services it starts itself (spawn= in the adapter URL")


def test_a_mutant_with_a_factory_that_takes_none_is_refused(tmp_path, monkeypatch):
    (tmp_path / "plain_factory.py").write_text(
        "from sagaspec.adapters.inprocess import reference_adapter\n"
        "def make(participant='system'):\n"
        "    return reference_adapter(participant=participant)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = one_line(run("conform", "--adapter", "inprocess:plain_factory:make", "--participant",
                        "system", "--mutant", "no-idempotency", "-n", "1",
                        "--failures-dir", str(tmp_path)))
    assert line.startswith("error: --mutant no-idempotency: inprocess:plain_factory:make takes no "
                           "mutant")


def test_the_spec_path_refuses_a_mutant_with_an_http_service():
    line = one_line(run("conform", "--spec", "corrected", "--adapter", "http://127.0.0.1:9",
                        "--mutant", "no-idempotency", "-n", "1"))
    assert "--mutant" in line and "sagaspec serve --spec FILE --mutant NAME" in line


def test_the_spec_path_refuses_a_mapping_with_the_in_process_services(tmp_path):
    mapping = tmp_path / "m.json"
    mapping.write_text("{}")
    line = one_line(run("conform", "--spec", "corrected", "--mapping", str(mapping), "-n", "1"))
    assert line == ("error: --mapping with --spec applies to a broker adapter "
                    "(amqp://, nats://, redis://)")



@pytest.mark.parametrize("given, named", [
    (["--max-sagas", "3"], "--max-sagas"), (["--max-steps", "4"], "--max-steps"),
    (["--settle-timeout", "1"], "--settle-timeout"), (["--no-settle-each-step"], "--no-settle-each-step"),
    (["--no-shrink"], "--no-shrink"), (["--cover-orders", "2"], "--cover-orders"),
    (["--cover-duplicates", "2"], "--cover-duplicates"), (["--cover-crashes", "1"], "--cover-crashes"),
    (["--no-coverage"], "--no-coverage"), (["--skip-check", "schema"], "--skip-check"),
    (["-q"], "--quiet"), (["--failures-dir", "x"], "--failures-dir"), (["--trust-file"], "--trust-file"),
])
def test_the_spec_path_refuses_the_generated_suites_options_it_would_ignore(given, named):
    """The spec's seeded cases read none of these: named, each was silently ignored."""
    line = one_line(run("conform", "--spec", TRAVEL_FILE, "-n", "1", *given))
    assert line.startswith(f"error: {named}: not available with --spec yet"), line


def test_the_spec_path_still_takes_its_own_options():
    r = CliRunner().invoke(main, ["conform", "--spec", TRAVEL_FILE, "-n", "2", "--seed", "1",
                                  "--collect-timeout", "0.3", "--no-steer", "--faults", "duplicates"])
    assert r.exit_code == 0 and "PASSED" in r.output, r.output
