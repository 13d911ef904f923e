"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker on a quiet 2-core machine (relative figures
#: from --durations; a parametrized test's base name covers each of its cases). Only the
#: order of a parallel run depends on them: see pytest_collection_modifyitems.
LONG_TESTS: dict[str, float] = {
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 20,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 18,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 15,
    "tests/conformance/test_conform_mutants.py::test_rare_mutant_is_found_within_its_stated_budget": 10,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[invalid-event-published]": 10,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite": 10,
    "tests/brokers/test_spec_monitor.py::test_monitor_validates_a_live_spec_system_and_flags_a_forged_event": 10,
    "tests/brokers/test_monitor_create.py::test_monitor_create_declares_the_missing_stream": 8,
    "tests/reliability/test_replay_is_data.py::test_hostile_replay_files_get_one_line_errors": 8,
    "tests/reliability/test_replay_is_data.py::test_options_the_trace_contradicts_are_applied_or_rejected": 7,
    "tests/reliability/test_nemesis.py::test_recovers_without_an_operator": 6,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[crash-loses-acked-event]": 6,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[malformed-input-crashes-consumer]": 6,
    "tests/conformance/test_conform_cli.py::test_failing_run_exits_1_and_prints_everything_needed": 6,
    "tests/brokers/test_broker_faults.py::test_short_soak_nats_on_postgres": 6,
    "tests/adapters/test_http_adapter.py::test_bench_adapters_short_form_runs": 6,
    "tests/brokers/test_broker_monitor.py::test_monitor_cli_flags_double_charge_and_stuck_saga": 5,
    "tests/brokers/test_broker_runner_processes.py::test_kill_at_each_point_loses_and_duplicates_nothing": 4,
    "tests/brokers/test_spec_runner.py::test_spec_services_on_nats_survive_a_kill_and_their_log_follows_the_spec": 4,
    "tests/brokers/test_broker_conformance.py::test_suite_against_runners_started_elsewhere": 4,
    "tests/brokers/test_broker_faults.py::test_fault_runner_catches_a_crash_safety_bug": 4,
    "tests/brokers/test_broker_monitor.py::test_monitor_cli_on_reference_services_reports_no_violation": 4,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 4,
    "tests/reliability/test_serve_hardening.py::test_serve_prints_the_token_and_no_auth_switches_it_off": 4,
    "tests/reliability/test_faults_cli.py::test_a_signal_cleans_up_processes_stream_and_folder": 4,
    "tests/reliability/test_broker_outages.py::test_supervisor_restarts_services_that_lost_the_broker": 4,
}


def expected_seconds(nodeid: str) -> float:
    """A test's entry in LONG_TESTS (by node id, else by its name without parameters)."""
    if nodeid in LONG_TESTS:
        return LONG_TESTS[nodeid]
    return LONG_TESTS.get(nodeid.split("[", 1)[0], 0.0)


def long_first(items: list, workers: int, seconds=expected_seconds) -> list:
    """``items`` reordered so each of ``workers`` workers starts with its share of the long
    tests. pytest-xdist's worksteal hands worker k the k-th of ``workers`` consecutive
    slices of the collection, and a worker that runs dry steals the tail of another's
    queue; so each long test goes to the head of the slice with the fewest expected
    seconds so far (longest first), and the short tests keep their order behind them.
    Otherwise one worker could end the run alone in a long test the other never had."""
    if workers < 2 or len(items) < workers:
        return list(items)
    sizes, pending = [], len(items)
    for k in range(workers):  # as worksteal's first distribution splits the collection
        sizes.append(pending // (workers - k))
        pending -= sizes[-1]
    timed = sorted((i for i in items if seconds(i.nodeid) > 0), key=lambda i: -seconds(i.nodeid))
    heads: list[list] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in timed:
        k = min((k for k in range(workers) if len(heads[k]) < sizes[k]), key=lambda k: load[k])
        heads[k].append(item)
        load[k] += seconds(item.nodeid)
    chosen = {id(i) for i in timed}
    short = iter(i for i in items if id(i) not in chosen)
    out: list = []
    for k in range(workers):
        out.extend(heads[k])
        out.extend(next(short) for _ in range(sizes[k] - len(heads[k])))
    return out
