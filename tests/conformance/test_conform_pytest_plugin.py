"""The pytest plugin: a team's three-line test module, options in one group."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TEAM_MODULE = """
from sagaspec.conformance import conformance_test

test_payment = conformance_test(adapter="inprocess:", participant="payment")
"""


@pytest.mark.timeout(120)
def test_three_line_module_passes_against_the_reference(pytester):
    pytester.makepyfile(test_team=TEAM_MODULE)
    result = pytester.runpytest("--sagaspec-examples", "10", "--sagaspec-seed", "1",
                                "--sagaspec-failures-dir", str(pytester.path / "f"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*sagaspec conform*",
                                 "test_team.py::test_payment: 10 examples*all checks passed"])


@pytest.mark.timeout(120)
def test_options_override_the_module_and_a_failure_shows_the_sequence(pytester):
    pytester.makepyfile(test_team=TEAM_MODULE)
    result = pytester.runpytest("--sagaspec-examples", "50", "--sagaspec-seed", "3",
                                "--sagaspec-mutant", "wrong-sagaId-propagated",
                                "--sagaspec-failures-dir", str(pytester.path / "f"),
                                "--junitxml", str(pytester.path / "j.xml"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*sagaspec conformance: 1 check(s) failed: saga-consistency*",
        "*Shrunk sequence (*",
        "*Reproduce with: sagaspec conform --adapter inprocess: --participant payment*"
        "--mutant wrong-sagaId-propagated --replay *",
    ])
    assert list((pytester.path / "f").glob("*.json"))


@pytest.mark.timeout(120)
def test_ini_defaults_and_skipped_checks_in_the_summary(pytester):
    pytester.makepyfile(
        pay_fn="""
from sagaspec.examples.system import make_target

def make():
    svc = make_target("payment")
    def handle(event):
        svc.deliver(event)
        return [e for e in svc.drain() if isinstance(e, dict)]
    return handle
""",
        test_team="""
from sagaspec.conformance import conformance_test

test_fn = conformance_test(participant="payment")
""")
    pytester.makeini("[pytest]\nsagaspec_adapter = inprocess:pay_fn:make\n"
                     "sagaspec_examples = 8\nsagaspec_seed = 2\n")
    pytester.syspathinsert()
    result = pytester.runpytest("--sagaspec-failures-dir", str(pytester.path / "f"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*8 examples*", "*skipped crash-recovery (the adapter has no crash)*",
                                 "*note: world rule decisions not judged: adapter has no setup hook*"])


def test_options_are_in_one_group(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["sagaspec conformance suite:", "*--sagaspec-adapter*",
                                 "*--sagaspec-participant*", "*--sagaspec-cover-edges*"])


def test_no_adapter_is_a_clear_failure(pytester):
    pytester.makepyfile(test_team="""
from sagaspec.conformance import conformance_test

test_x = conformance_test(participant="payment")
""")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*sagaspec: no adapter*"])


@pytest.mark.timeout(120)
def test_the_fixture_returns_the_result_to_assert_on(pytester):
    pytester.makepyfile(test_gate="""
def test_a_known_bad_build_is_caught(sagaspec_conform):
    final = sagaspec_conform(adapter="inprocess:", participant="payment", examples=20, seed=3,
                             mutant="invalid-event-published", coverage=False, shrink=False)
    assert final.failures == ["schema"]
""")  # shrink=False: the result's failures are what is asserted, not the shrunk case
    result = pytester.runpytest("--sagaspec-failures-dir", str(pytester.path / "f"))
    result.assert_outcomes(passed=1)


@pytest.mark.timeout(120)
def test_a_module_tests_a_service_of_any_saga_spec(pytester):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop-buggy.saga.yaml"
    pytester.makepyfile(test_shop=f"""
from sagaspec.conformance import conformance_test

test_shop = conformance_test(adapter="inprocess:", participant="system", design={str(spec)!r},
                             shrink=False)
""")  # shrink=False: which check fails is the point, not its shrunk case (4 of 5 s of CPU)
    result = pytester.runpytest("--sagaspec-examples", "30", "--sagaspec-seed", "2",
                                "--sagaspec-failures-dir", str(pytester.path / "f"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 check(s) failed: cancelled-holds-nothing*"])
