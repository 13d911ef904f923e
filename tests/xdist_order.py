"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker (relative figures: --durations of a run on
#: the shared 2-core machine under load; a name without parameters covers each of its
#: cases). Only the order of a parallel run depends on them: see ``long_first``.
LONG_TESTS: dict[str, float] = {
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped": 40,
    "tests/conformance/test_conform_generator.py::test_edges_come_from_the_schema_and_respect_it": 22,
    "tests/conformance/test_conform_generator.py::test_shrinking_goes_to_small_values": 24,
    "tests/docs/test_readme.py::test_readme_files_and_the_commands_that_use_them_run_verbatim": 85,
    "tests/conformance/test_conform_any_saga_http.py::test_a_served_buggy_spec_fails_with_its_named_property": 82,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/order-shipping.saga.yaml]": 71,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/travel.saga.yaml]": 47,
    "tests/docs/test_readme.py::test_test_your_own_services_runs_verbatim": 46,
    "tests/conformance/test_conform_pytest_plugin.py::test_a_module_tests_a_service_of_any_saga_spec": 42,
    "tests/conformance/test_conform_any_saga.py::test_a_buggy_spec_fails_with_its_named_property_and_replays": 41,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[crash-loses-acked-event]": 41,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[email-per-duplicate]": 39,
    "tests/docs/test_readme.py::test_readme_commands_on_prepared_files_run_verbatim": 38,
    "tests/docs/test_docs_reports.py::test_conform_report_shows_each_failure_as_a_sequence": 37,
    "tests/docs/test_readme.py::test_a_whole_foreign_system_runs_verbatim": 37,
    "tests/conformance/test_conform_generator.py::test_a_seeded_run_reaches_the_edges_of_the_triggers_schema_but_mostly_draws_small": 10,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[rabbitmq]": 29,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 50,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-idempotency]": 26,
    "tests/adapters/test_http_adapter.py::test_bench_adapters_short_form_runs": 25,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[nats]": 24,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[spec/sagas/order-corrected.saga.yaml]": 23,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/shop.saga.yaml]": 23,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[malformed-input-crashes-consumer]": 22,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 50,
    "tests/conformance/test_conform_mutants.py::test_a_spec_release_that_keeps_stock_is_found_on_every_seed": 21,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[redis]": 20,
    "tests/conformance/test_conform_cli.py::test_without_settling_each_step_a_missing_reaction_is_found_at_the_end": 20,
    "tests/model/test_check_cli.py::test_corrected_with_a_crash_per_participant_passes": 20,
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[corrected-o2-crash]": 20,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 45,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[double-cancel]": 44,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[complete-before-payment]": 24,
    "tests/docs/test_readme.py::test_a_service_behind_a_broker_runs_verbatim": 18,
    "tests/docs/test_readme.py::test_tour_serve_and_conform_block_runs_verbatim": 18,
    "tests/model/test_distributed.py::test_the_bench_short_form_runs_and_agrees_with_the_sequential_search": 17,
    "tests/brokers/test_broker_faults.py::test_the_fault_runner_drives_any_spec_on_its_interpreter": 16,
    "tests/brokers/test_broker_monitor.py::test_monitor_cli_flags_double_charge_and_stuck_saga": 16,
    "tests/brokers/test_broker_runner_processes.py::test_kill_at_each_point_loses_and_duplicates_nothing[nats]": 16,
    "tests/brokers/test_spec_monitor.py::test_monitor_validates_a_live_spec_system_and_flags_a_forged_event": 16,
    "tests/conformance/test_conform_any_saga_http.py::test_a_served_shop_has_its_stock_set_up_and_judged[None-failures0]": 16,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-success-overwrites-cancellation]": 16,
    "tests/docs/test_docs_browser.py::test_conform_report_renders": 16,
    "tests/docs/test_docs_cli.py::test_conform_report_option": 16,
    "tests/brokers/test_broker_faults.py::test_short_soak_nats_on_postgres": 15,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-release-after-payment-failure]": 15,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[refund-without-charge]": 15,
    "tests/conformance/test_spec_mutate.py::test_a_rare_mutant_is_caught_by_the_model_directed_case": 15,
    "tests/model/test_distributed.py::test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target": 15,
    "tests/model/test_distributed.py::test_cli_rejects_what_the_distributed_search_cannot_bound": 15,
    "tests/model/test_saga_check.py::test_corrected_passes_exhaustively[corrected-o2-dup-crash1]": 15,
    "tests/reliability/test_replay_is_data.py::test_options_the_trace_contradicts_are_applied_or_rejected": 15,
    "tests/conformance/test_conform_generator.py::test_the_reference_passes_at_the_edges": 14,
    "tests/conformance/test_conform_mutants.py::test_rare_mutant_shrinks_to_a_short_sequence[release-keeps-stock]": 14,
    "tests/conformance/test_conform_seeds.py::test_new_literals_in_a_local_module_do_not_change_what_a_seed_generates": 14,
    "tests/brokers/test_broker_faults.py::test_fault_runner_catches_a_crash_safety_bug[crash-loses-acked-event]": 13,
    "tests/brokers/test_broker_faults.py::test_short_soak[redis]": 13,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[charges-declined-users]": 13,
    "tests/model/test_distributed.py::test_cli_workers_gives_the_sequential_verdict": 13,
    "tests/model/test_engine_symmetry.py::test_fifo_loop_matches_engine_expand[corrected-o2-crash]": 13,
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[seed-o3-no-idem]": 13,
    "tests/test_warnings_policy.py::test_a_warning_fails_the_test_that_raises_it": 13,
    "tests/brokers/test_broker_faults.py::test_short_soak[rabbitmq]": 12,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 12,
    "tests/docs/test_browser_policy.py::test_without_chromium_a_local_run_skips_with_the_install_command": 12,
    "tests/docs/test_browser_policy.py::test_without_chromium_ci_fails": 12,
    "tests/test_import_direction.py::test_imports_run_downward": 12,
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
