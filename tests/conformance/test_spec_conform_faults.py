"""conform --spec: fault kinds switched one by one, every distinct failure reported and
shrunk (one bug does not hide the rest), and each Reproduce line reproduces its failure."""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner

from sagaspec.cli import main

SHOP = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml")


def conform(*args: str):
    return CliRunner().invoke(main, ["conform", "--spec", SHOP, *args])


def test_every_distinct_failure_is_reported_shrunk_and_reproducible():
    r = conform("-n", "30", "--seed", "2", "--mutant", "skip-compensation-1")
    assert r.exit_code == 1, r.output
    failed = [line for line in r.stdout.splitlines() if line.startswith("FAILED model:")]
    assert len(failed) >= 2  # the run went on after the first failure
    assert len(set(failed)) == len(failed)
    assert f": {len(failed)} distinct failures\n" in r.stdout
    assert all("shrunk to 1 saga, faults: none" in line for line in failed)
    repro = [line for line in r.stdout.splitlines() if line.startswith("Reproduce with: ")]
    assert len(repro) == len(failed)
    argv = shlex.split(repro[-1][len("Reproduce with: "):])
    again = CliRunner().invoke(main, argv[1:])
    assert again.exit_code == 1
    assert failed[-1] in again.stdout  # the same failure, from the same case


def test_exitfirst_stops_at_the_first_failure():
    r = conform("-n", "30", "--seed", "2", "--mutant", "skip-compensation-1", "-x")
    assert r.exit_code == 1
    assert sum(line.startswith("FAILED model:") for line in r.stdout.splitlines()) == 1


def test_fault_kinds_are_switched_one_by_one():
    # Re-publishing on a redelivery needs redeliveries (a duplicate, or the redelivery of
    # an event a crash left unacknowledged): caught with either, and not without both (the
    # mutant then behaves like the reference).
    with_dups = conform("-n", "20", "--seed", "2", "--mutant", "re-emit-3", "--faults", "duplicates")
    assert with_dups.exit_code == 1 and "faults: duplicates" in with_dups.stdout
    with_crash = conform("-n", "20", "--seed", "2", "--mutant", "re-emit-3", "--faults", "crash")
    assert with_crash.exit_code == 1 and "faults: crash" in with_crash.stdout
    without = conform("-n", "20", "--seed", "2", "--mutant", "re-emit-3", "--faults", "reorder,invalid")
    assert without.exit_code == 0, without.output
    assert conform("-n", "10", "--seed", "1", "--faults", "none").exit_code == 0


def test_bad_fault_options_are_usage_errors():
    bad = conform("--faults", "duplicates,bogus")
    assert bad.exit_code == 2 and "unknown fault kind bogus" in bad.stderr
    both = conform("--faults", "crash", "--no-faults")
    assert both.exit_code == 2 and "either --faults or --no-faults" in both.stderr
    order = CliRunner().invoke(main, ["conform", "--faults", "crash"])
    assert order.exit_code == 2 and "--faults applies only to --spec FILE" in order.stderr
