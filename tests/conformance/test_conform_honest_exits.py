"""``sagaspec conform``: an inconclusive replay is not a pass; the summary names what was
tested; checks that cannot apply say so; coverage says what it measures."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def seed_trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("traces")
    done = run("check", "--design", "seed", "--property", "refund-needs-charge", "--trace-out", str(out))
    assert done.exit_code == 1, done.output
    return next(out.glob("*refund-needs-charge*.json"))


def test_a_replay_that_diverges_is_incomplete_not_passed(seed_trace, tmp_path):
    # The corrected Payment does not publish what the seed trace needs at step 5: the
    # replay cannot follow its case, so it neither reproduces nor clears the failure.
    r = run("conform", "--participant", "payment", "--design", "corrected", "--replay", str(seed_trace),
            "--no-coverage", "--failures-dir", str(tmp_path))
    assert r.exit_code == 3, r.output
    assert "replay diverged: step 5" in r.output
    assert "INCOMPLETE: the replay diverged from its recorded case" in r.output
    assert "PASSED" not in r.output


@pytest.fixture(scope="module")
def followable_trace(tmp_path_factory):
    """A trace of the corrected design's own routing, violating a property added to a copy
    of its spec on purpose: the corrected system can follow every step of it (a seed trace
    cannot once the system is stepped: the seed routes failures to Payment)."""
    out = tmp_path_factory.mktemp("variant")
    text = (ROOT / "spec" / "sagas" / "order-corrected.saga.yaml").read_text(encoding="utf-8")
    assert "\nproperties:\n" in text
    variant = out / "variant.saga.yaml"
    variant.write_text(text.replace("\nproperties:\n", "\nproperties:\n  never-cancelled:\n"
                                    "    always: order.cancelled == 0\n", 1), encoding="utf-8")
    done = run("check", "--spec", str(variant), "--property", "never-cancelled", "--trace-out", str(out))
    assert done.exit_code == 1, done.output
    return next(out.glob("*never-cancelled*.json"))


def test_a_replay_that_follows_its_case_and_no_longer_fails_passes(followable_trace, tmp_path):
    r = run("conform", "--participant", "system", "--design", "corrected", "--replay", str(followable_trace),
            "--no-coverage", "--failures-dir", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "did not reproduce" in r.output and "diverged" not in r.output
    assert "PASSED: inprocess: as system of the corrected design" in r.output


def test_checks_of_participants_the_suite_plays_are_not_applicable(tmp_path):
    r = run("conform", "--participant", "payment", "-n", "5", "--seed", "1",
            "--failures-dir", str(tmp_path))
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "no case gave it a chance to fail" not in text
    for check in ("one-outcome", "single-email", "notify-only-completed", "stock"):
        row = next(line for line in r.output.splitlines() if f" {check} " in line)
        assert "not-applicable" in row, row
    assert "not applicable: it" in text and "which the suite" in text


def test_the_summary_names_the_target_and_the_mutant(tmp_path):
    # --no-shrink: the summary is the point, not the shrunk case (4 of 5 s of CPU).
    r = run("conform", "--participant", "payment", "--mutant", "refund-without-charge", "-n", "60",
            "--seed", "3", "--no-coverage", "--no-shrink", "--failures-dir", str(tmp_path))
    assert r.exit_code == 1, r.output
    assert "sagaspec conform: inprocess: as payment of the corrected design, mutant refund-without-charge" in r.output
    assert "FAILED: inprocess: as payment of the corrected design, mutant refund-without-charge: " in r.output


def test_coverage_is_explained(tmp_path):
    r = run("conform", "--participant", "payment", "-n", "5", "--seed", "1", "--failures-dir", str(tmp_path))
    text = " ".join(r.output.split())
    assert "model coverage:" in text
    assert "the share of the model's transitions, within those bounds, that some case drove the service through" in text
    assert "--cover-edges drives the service along paths that cover every edge" in text


def test_an_interrupted_run_exits_3_with_its_partial_result(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "sagaspec", "conform", "--participant", "payment", "-n", "100000",
         "--seed", "1", "--no-coverage", "--failures-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        header = proc.stdout.readline()  # the run has started
        assert header.startswith("sagaspec conform:"), header
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, out[-2000:]
    assert "INTERRUPTED: partial result" in out and "PASSED" not in out
