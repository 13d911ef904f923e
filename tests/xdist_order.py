"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker (relative figures: --durations of a whole
#: run on the shared 2-core machine under load, load average 9-12; a name without
#: parameters covers each of its cases). Only the order of a parallel run depends on them:
#: see ``long_first``.
LONG_TESTS: dict[str, float] = {
    "tests/conformance/test_conform_generator.py::test_a_seeded_run_reaches_the_edges_of_the_triggers_schema_but_mostly_draws_small": 46,
    "tests/docs/test_docs_browser.py::test_conform_report_renders": 55,
    "tests/model/test_distributed.py::test_only_the_states_their_owners_lack_are_built_and_sent": 39,
    "tests/docs/test_readme.py::test_readme_files_and_the_commands_that_use_them_run_verbatim": 37,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/order-shipping.saga.yaml]": 37,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[rabbitmq]": 32,
    "tests/conformance/test_conform_overtaken.py::test_the_overtaking_policy_reaches_overtaken_events_more_often": 30,
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped[mark-before-work-1]": 30,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[email-per-duplicate]": 30,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/travel.saga.yaml]": 28,
    "tests/model/test_distributed.py::test_the_bench_short_form_runs_and_agrees_with_the_sequential_search": 28,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[nats]": 28,
    "tests/conformance/test_conform_reference.py::test_seed_reference_conforms_to_the_seed_model": 27,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[redis]": 26,
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped[publish-before-commit-1]": 26,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[double-cancel]": 26,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 25,
    "tests/conformance/test_conform_pytest_plugin.py::test_a_module_tests_a_service_of_any_saga_spec": 24,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 23,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 23,
    "tests/docs/test_docs_reports.py::test_conform_report_shows_each_failure_as_a_sequence": 22,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-idempotency]": 22,
    "tests/conformance/test_conform_mutants.py::test_a_spec_release_that_keeps_stock_is_found_on_every_seed": 22,
    "tests/conformance/test_conform_generator.py::test_edges_come_from_the_schema_and_respect_it": 22,
    "tests/conformance/test_conform_steering.py::test_a_seed_means_the_same_steered_cases_and_steering_changes_them": 21,
    "tests/docs/test_readme.py::test_a_whole_foreign_system_runs_verbatim": 21,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[crash-loses-acked-event]": 20,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[spec/sagas/order-corrected.saga.yaml]": 20,
    "tests/brokers/test_broker_faults.py::test_short_soak_nats_on_postgres": 20,
    "tests/docs/test_readme.py::test_test_your_own_services_runs_verbatim": 20,
    "tests/conformance/test_conform_cli.py::test_failing_run_exits_1_and_prints_everything_needed": 19,
    "tests/model/test_distributed.py::test_cli_workers_gives_the_sequential_verdict": 19,
    "tests/conformance/test_conform_steering.py::test_steering_covers_more_model_edges_in_the_same_cases": 19,
    "tests/conformance/test_conform_stray.py::test_a_service_that_crashes_on_an_unknown_saga_is_caught_by_stray_events[False]": 18,
    "tests/brokers/test_broker_runner_processes.py::test_kill_at_each_point_loses_and_duplicates_nothing[nats]": 18,
    "tests/model/test_distributed.py::test_cli_workers_says_it_counts_the_full_search": 17,
    "tests/brokers/test_spec_monitor.py::test_monitor_validates_a_live_spec_system_and_flags_a_forged_event": 17,
    "tests/brokers/test_broker_runner_processes.py::test_kill_at_each_point_loses_and_duplicates_nothing[rabbitmq]": 17,
    "tests/model/test_distributed.py::test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target": 17,
    "tests/brokers/test_spec_faults.py::test_a_saga_is_started_before_its_starter_is_killed": 16,
    "tests/model/test_saga.py::test_permute_commutes_with_every_handler[corrected]": 15,
    "tests/conformance/test_conform_mutants.py::test_rare_mutant_shrinks_to_a_short_sequence[release-keeps-stock]": 15,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/shop.saga.yaml]": 15,
    "tests/conformance/test_conform_any_saga_http.py::test_a_served_buggy_spec_fails_with_its_named_property": 15,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[malformed-input-crashes-consumer]": 14,
    "tests/conformance/test_conform_crash_points.py::test_a_service_that_loses_its_outbox_is_caught_only_by_after_commit_crashes[points3]": 14,
    "tests/docs/test_browser_policy.py::test_without_chromium_ci_fails": 14,
    "tests/conformance/test_conform_crash_points.py::test_a_service_that_loses_its_outbox_is_caught_only_by_after_commit_crashes[points2]": 13,
    "tests/conformance/test_conform_reference.py::test_a_mutant_served_over_http_is_caught_and_replays": 13,
    "tests/conformance/test_conform_any_saga_http.py::test_the_served_interpreter_passes_its_spec_with_its_world_judged[system]": 13,
    "tests/model/test_saga_check.py::test_corrected_passes_exhaustively[corrected-o2-dup-crash1]": 12,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 12,
    "tests/reliability/test_broker_outages.py::test_supervisor_restarts_services_that_lost_the_broker": 12,
    "tests/model/test_bench_scale.py::test_bench_scale_short_reports_rates_and_memory_per_state": 12,
    "tests/conformance/test_conform_steering.py::test_a_failure_found_while_steering_shrinks_and_replays": 12,
    "tests/conformance/test_conform_stray.py::test_turning_strays_on_changes_no_case_but_for_the_stray_at_its_end": 12,
    "tests/adapters/test_http_adapter.py::test_bench_adapters_short_form_runs": 11,
    "tests/conformance/test_conform_stray.py::test_the_reference_gets_stray_events_and_passes[corrected-payment-2]": 11,
    "tests/docs/test_readme.py::test_a_service_behind_a_broker_runs_verbatim": 11,
    "tests/brokers/test_foreign_system.py::test_a_duplicate_published_on_their_broker_catches_a_carrier_that_ships_twice[ships-twice]": 11,
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
