"""The order in which pytest-xdist's workers take the tests (see ``long_first``)."""

from __future__ import annotations

#: The longest tests, in seconds of one worker (relative figures: the wall time of each
#: test in a whole parallel run, 4 workers on the shared 2-core machine, measured
#: 2026-12-06 after the day's speed-ups; a name without parameters covers each of its
#: cases). Only the order of a parallel run depends on them: see ``long_first``.
LONG_TESTS: dict[str, float] = {
    "tests/conformance/test_conform_generator.py::test_a_seeded_run_reaches_the_edges_of_the_triggers_schema_but_mostly_draws_small": 34,
    "tests/brokers/test_foreign_billing.py::test_each_faulty_variant_is_caught[refunds-again-late-FAILED model-again on a redelivered ShippingFailed]": 24,
    "tests/model/test_distributed.py::test_the_bench_short_form_runs_and_agrees_with_the_sequential_search": 21,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[late-reservation-after-cancel]": 21,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/order-shipping.saga.yaml]": 19,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[publish-before-commit]": 16,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[volatile-idempotency]": 16,
    "tests/docs/test_readme.py::test_a_whole_foreign_system_runs_verbatim": 15,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[crash-loses-acked-event]": 13,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[double-cancel]": 13,
    "tests/docs/test_readme.py::test_readme_files_and_the_commands_that_use_them_run_verbatim": 13,
    "tests/docs/test_docs_browser.py::test_conform_report_renders": 12,
    "tests/brokers/test_bench_conform_brokers.py::test_the_short_broker_comparison_runs_on_nats": 12,
    "tests/conformance/test_conform_generator.py::test_edges_come_from_the_schema_and_respect_it": 12,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[spec/sagas/order-corrected.saga.yaml]": 11,
    "tests/conformance/test_conform_reference.py::test_seed_reference_conforms_to_the_seed_model": 11,
    "tests/docs/test_docs_browser.py::test_every_page_renders_without_errors[seed]": 11,
    "tests/conformance/test_conform_cli.py::test_failing_run_exits_1_and_prints_everything_needed": 10,
    "tests/brokers/test_spec_faults.py::test_a_saga_is_started_before_its_starter_is_killed": 9,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[email-per-duplicate]": 9,
    "tests/brokers/test_foreign_system.py::test_a_duplicate_published_on_their_broker_catches_a_carrier_that_ships_twice[ships-twice]": 9,
    "tests/brokers/test_spec_faults.py::test_faults_on_any_spec_settles_every_saga_and_follows_the_spec": 9,
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped[mark-before-work-1]": 9,
    "tests/conformance/test_mutation_expectations.py::test_the_mutation_score_is_as_recorded_and_every_survivor_explained[examples/sagas/travel.saga.yaml]": 8,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[no-idempotency]": 8,
    "tests/conformance/test_conform_held_back_order.py::test_the_inventory_failure_before_the_payment_failure_is_reached_on_every_seed[forget-update-4]": 8,
    "tests/conformance/test_conform_overtaken.py::test_the_overtaking_policy_reaches_overtaken_events_more_often": 8,
    "tests/brokers/test_bench_conform_brokers.py::test_the_old_and_new_restarts_compare_side_by_side_on_nats": 8,
    "tests/conformance/test_conform_mutants.py::test_mutant_is_caught_with_a_short_shrunk_sequence[malformed-input-crashes-consumer]": 8,
    "tests/brokers/test_foreign_system.py::test_a_missing_compensation_is_caught[no-release]": 8,
    "tests/conformance/test_conform_guard_boundaries.py::test_a_late_creation_with_short_stock_is_reached_on_every_seed[order-shipping]": 8,
    "tests/brokers/test_spec_faults.py::test_faults_on_the_order_spec_judge_the_stock_on_the_stores": 8,
    "tests/model/test_distributed.py::test_cli_cluster_runs_on_a_running_scheduler_and_rebuilds_a_model_target": 8,
    "tests/conformance/test_conform_mutants.py::test_a_spec_release_that_keeps_stock_is_found_on_every_seed": 8,
    "tests/model/test_distributed.py::test_cli_workers_gives_the_sequential_verdict": 7,
    "tests/docs/test_readme.py::test_a_service_behind_a_broker_runs_verbatim": 7,
    "tests/docs/test_docs_browser.py::test_every_page_renders_without_errors[corrected]": 7,
    "tests/conformance/test_conform_system_steps.py::test_crash_mutants_of_the_system_are_caught_on_every_seed_only_when_stepped[publish-before-commit-1]": 7,
    "tests/adapters/test_http_adapter.py::test_bench_adapters_short_form_runs": 7,
    "tests/docs/test_readme.py::test_test_your_own_services_runs_verbatim": 7,
    "tests/brokers/test_broker_conformance.py::test_reference_services_pass_the_suite[rabbitmq]": 7,
    "tests/conformance/test_conform_steering.py::test_a_redone_duplicate_is_found_on_every_seed_at_the_default_count[travel-payment-redo-duplicate-5-checks0]": 7,
    "tests/brokers/test_foreign_system.py::test_a_broken_business_rule_is_caught_exactly[ships-declined]": 7,
    "tests/test_warnings_policy.py::test_a_failing_hypothesis_test_shows_its_example_not_an_internal_error": 7,
    "tests/conformance/test_conform_steering.py::test_steering_covers_more_model_edges_in_the_same_cases": 7,
    "tests/conformance/test_conform_overtaken.py::test_a_late_failure_overtakes_the_completion_on_every_seed[forget-update-22]": 6,
    "tests/examples/test_interpreter.py::test_the_order_suite_with_its_per_key_world_passes_on_the_interpreter_running_the_order_spec[system-40]": 6,
    "tests/conformance/test_conform_guard_boundaries.py::test_a_late_creation_with_short_stock_is_reached_on_every_seed[order-corrected]": 6,
    "tests/model/test_distributed.py::test_cli_workers_says_it_counts_the_full_search": 6,
    "tests/reliability/test_broker_outages.py::test_supervisor_gives_up_after_a_bounded_time_and_says_so": 6,
    "tests/brokers/test_broker_faults.py::test_fault_runner_catches_a_crash_safety_bug[crash-loses-acked-event]": 6,
    "tests/brokers/test_foreign_system.py::test_the_consumer_that_chokes_on_garbage_passes_without_invalid_messages[chokes-on-garbage]": 6,
    "tests/conformance/test_conform_held_back_order.py::test_the_inventory_failure_before_the_payment_failure_is_reached_on_every_seed[drop-guard-4]": 6,
    "tests/conformance/test_conform_coverage.py::test_the_whole_system_covers_only_what_its_own_bus_schedules": 6,
    "tests/conformance/test_conform_steering.py::test_a_redone_duplicate_is_found_on_every_seed_at_the_default_count[order-shipping-notification-redo-duplicate-4-checks1]": 6,
    "tests/brokers/test_foreign_system.py::test_the_foreign_shop_passes_as_it_is": 5,
    "tests/brokers/test_foreign_billing.py::test_each_faulty_variant_is_caught[refunds-again-FAILED model-again on a redelivered ShippingFailed]": 5,
    "tests/conformance/test_conform_steering.py::test_a_failure_found_while_steering_shrinks_and_replays": 5,
    "tests/conformance/test_conform_overtaken.py::test_a_late_failure_overtakes_the_completion_on_every_seed[drop-guard-23]": 5,
    "tests/conformance/test_conform_mutants.py::test_rare_mutant_is_found_with_the_default_example_count_on_every_seed[release-keeps-stock]": 5,
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
