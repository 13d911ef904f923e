"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker (relative figures: --durations of a whole
#: run on the shared 2-core machine under load, load average 13-15; a name without
#: parameters covers each of its cases). Only the order of a parallel run depends on them:
#: see ``long_first``.
LONG_TESTS: dict[str, float] = {
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped": 40,
    "tests/docs/test_readme.py::test_readme_files_and_the_commands_that_use_them_run_verbatim": 128,
    "tests/model/test_distributed.py::test_the_bench_short_form_runs_and_agrees_with_the_sequential_search": 66,
    "tests/docs/test_docs_cli.py::test_conform_report_option": 58,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 52,
    "tests/conformance/test_conform_system_steps.py::test_a_crash_lands_between_two_deliveries_and_its_point_is_in_the_diagram": 51,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/order-shipping.saga.yaml]": 48,
    "tests/docs/test_docs_reports.py::test_conform_report_shows_each_failure_as_a_sequence": 47,
    "tests/model/test_lean_loops.py::test_lean_loops_explore_what_the_dict_loops_do[corrected-o2-sorted]": 42,
    "tests/conformance/test_conform_any_saga_http.py::test_a_served_buggy_spec_fails_with_its_named_property": 40,
    "tests/conformance/test_conform_pytest_plugin.py::test_a_module_tests_a_service_of_any_saga_spec": 38,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 34,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[double-cancel]": 33,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[rabbitmq]": 32,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[malformed-input-crashes-consumer]": 31,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[email-per-duplicate]": 31,
    "tests/model/test_lean_loops.py::test_lean_loops_explore_what_the_dict_loops_do[corrected-o2-crash-plain]": 30,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 29,
    "tests/conformance/test_conform_any_saga.py::test_a_buggy_spec_fails_with_its_named_property_and_replays": 28,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[crash-loses-acked-event]": 28,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/travel.saga.yaml]": 28,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[nats]": 27,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-idempotency]": 27,
    "tests/docs/test_readme.py::test_a_whole_foreign_system_runs_verbatim": 27,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[redis]": 26,
    "tests/docs/test_readme.py::test_a_service_behind_a_broker_runs_verbatim": 24,
    "tests/model/test_lean_loops.py::test_no_collection_after_the_search_traverses_what_it_left_alive[False]": 23,
    "tests/examples/test_interpreter.py::test_the_order_suite_catches_a_per_key_slip_in_the_order_spec[free: free - units}-free: free - 1}-stock]": 23,
    "tests/brokers/test_broker_faults.py::test_short_soak_nats_on_postgres": 23,
    "tests/brokers/test_spec_monitor.py::test_monitor_validates_a_live_spec_system_and_flags_a_forged_event": 22,
    "tests/model/test_distributed.py::test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target": 22,
    "tests/docs/test_docs_first_hour.py::test_conform_report_names_the_target_and_the_mutant": 21,
    "tests/conformance/test_conform_cli.py::test_without_settling_each_step_a_missing_reaction_is_found_at_the_end": 21,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[spec/sagas/order-corrected.saga.yaml]": 20,
    "tests/model/test_distributed.py::test_only_the_states_their_owners_lack_are_built_and_sent": 20,
    "tests/conformance/test_conform_cli.py::test_failing_run_exits_1_and_prints_everything_needed": 20,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/shop.saga.yaml]": 20,
    "tests/model/test_distributed.py::test_cli_workers_gives_the_sequential_verdict": 19,
    "tests/conformance/test_conform_generator.py::test_shrinking_goes_to_small_values": 19,
    "tests/model/test_sorted_symmetry.py::test_the_readme_bench_command_compares_the_two_forms": 18,
    "tests/brokers/test_spec_faults.py::test_a_saga_is_started_before_its_starter_is_killed": 17,
    "tests/conformance/test_conform_any_saga_http.py::test_a_served_shop_has_its_stock_set_up_and_judged[None-failures0]": 17,
    "tests/model/test_lean_loops.py::test_no_collection_after_the_search_traverses_what_it_left_alive[None]": 16,
    "tests/conformance/test_conform_generator.py::test_a_seeded_run_reaches_the_edges_of_the_triggers_schema_but_mostly_draws_small": 16,
    "tests/docs/test_readme.py::test_readme_commands_on_prepared_files_run_verbatim": 14,
    "tests/conformance/test_spec_mutate.py::test_a_rare_mutant_is_caught_by_the_model_directed_case": 14,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-release-after-payment-failure]": 14,
    "tests/adapters/test_http_adapter.py::test_bench_adapters_short_form_runs": 14,
    "tests/conformance/test_conform_honest_exits.py::test_the_summary_names_the_target_and_the_mutant": 13,
    "tests/brokers/test_broker_faults.py::test_the_fault_runner_drives_any_spec_on_its_interpreter": 13,
    "tests/conformance/test_conform_mutants.py::test_a_spec_release_that_keeps_stock_is_found_on_every_seed": 13,
    "tests/model/test_sorted_symmetry.py::test_a_search_with_the_sorted_form_gives_the_same_counts_and_verdicts[corrected-o2-crash]": 13,
    "tests/brokers/test_broker_monitor.py::test_monitor_cli_flags_double_charge_and_stuck_saga": 12,
    "tests/conformance/test_conform_seeds.py::test_new_literals_in_a_local_module_do_not_change_what_a_seed_generates": 12,
    "tests/conformance/test_conform_steering.py::test_steering_covers_more_model_edges_in_the_same_cases": 12,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 11,
    "tests/reliability/test_replay_is_data.py::test_options_the_trace_contradicts_are_applied_or_rejected": 11,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[complete-before-payment]": 11,
    "tests/docs/test_readme.py::test_tour_serve_and_conform_block_runs_verbatim": 10,
    "tests/model/test_distributed.py::test_cli_workers_says_it_counts_the_full_search": 10,
    "tests/brokers/test_broker_faults.py::test_the_fault_runner_judges_the_order_spec_stock_on_the_stores": 10,
    "tests/conformance/test_conform_steering.py::test_a_failure_found_while_steering_shrinks_and_replays": 10,
    "tests/model/test_saga_check.py::test_corrected_passes_exhaustively[corrected-o2-dup-crash1]": 10,
    "tests/brokers/test_broker_faults.py::test_cli_prints_the_figures": 10,
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
