"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker (relative figures: --durations of a run on
#: the shared 2-core machine under load; a name without parameters covers each of its
#: cases). Only the order of a parallel run depends on them: see ``long_first``.
LONG_TESTS: dict[str, float] = {
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[corrected-o2-crash]": 86,
    "tests/conformance/test_conform_mutants.py::test_rare_mutant_is_found_with_the_default_example_count_on_every_seed": 75,
    "tests/docs/test_readme.py::test_readme_files_and_the_commands_that_use_them_run_verbatim": 52,
    "tests/model/test_sorted_symmetry.py::test_the_readme_bench_command_compares_the_two_forms": 38,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[complete-before-payment]": 33,
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[corrected-o3-dup]": 32,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-idempotency]": 31,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 27,
    "tests/model/test_distributed.py::test_the_bench_short_form_runs_and_agrees_with_the_sequential_search": 27,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 26,
    "tests/conformance/test_conform_honest_exits.py::test_an_interrupted_run_exits_3_with_its_partial_result": 26,
    "tests/conformance/test_conform_coverage.py::test_the_whole_system_covers_only_what_its_own_bus_schedules": 26,
    "tests/brokers/test_broker_faults.py::test_short_soak_nats_on_postgres": 23,
    "tests/model/test_distributed.py::test_cli_workers_gives_the_sequential_verdict": 23,
    "tests/brokers/test_spec_monitor.py::test_monitor_validates_a_live_spec_system_and_flags_a_forged_event": 23,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 23,
    "tests/conformance/test_conform_any_saga.py::test_a_buggy_spec_fails_with_its_named_property_and_replays": 20,
    "tests/docs/test_readme.py::test_a_service_behind_a_broker_runs_verbatim": 20,
    "tests/conformance/test_conform_cli.py::test_without_settling_each_step_a_missing_reaction_is_found_at_the_end": 20,
    "tests/brokers/test_spec_faults.py::test_a_saga_is_started_before_its_starter_is_killed": 20,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite": 18,
    "tests/conformance/test_spec_mutate.py::test_every_non_equivalent_mutant_of_the_example_sagas_is_caught[travel]": 18,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 17,
    "tests/docs/test_docs_browser.py::test_conform_report_renders": 16,
    "tests/docs/test_docs_cli.py::test_conform_report_option": 16,
    "tests/brokers/test_broker_runner_processes.py::test_kill_at_each_point_loses_and_duplicates_nothing": 15,
    "tests/docs/test_readme.py::test_test_your_own_services_runs_verbatim": 15,
    "tests/docs/test_browser_policy.py::test_without_chromium_ci_fails": 15,
    "tests/model/test_distributed.py::test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target": 15,
    "tests/docs/test_readme.py::test_readme_commands_on_prepared_files_run_verbatim": 14,
    "tests/reliability/test_replay_is_data.py::test_options_the_trace_contradicts_are_applied_or_rejected": 14,
    "tests/docs/test_browser_policy.py::test_without_chromium_a_local_run_skips_with_the_install_command": 14,
    "tests/brokers/test_broker_faults.py::test_short_soak": 14,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-release-after-payment-failure]": 13,
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[seed-o3-no-idem]": 13,
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
