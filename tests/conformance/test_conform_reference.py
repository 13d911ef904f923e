"""The corrected reference services pass the whole suite, in-process and over HTTP."""

from __future__ import annotations

import pytest
from sagaspec.conformance.checks import CHECKS

PARTICIPANTS = ("order", "payment", "inventory", "notification", "system")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("participant", PARTICIPANTS)
def test_reference_passes_in_process(conform, participant):
    r = conform(participant=participant, examples=40, seed=7, max_sagas=2)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
    assert r.final.examples == 40
    assert r.final.events > 40
    # The in-process reference has every hook: nothing is skipped, and the fault
    # checks really ran.
    status = {c.name: c for c in r.final.checks}
    assert not [c for c in status.values() if c.status == "skipped"]
    for name in ("model", "rejects-invalid-input", "crash-recovery", "raw-input"):
        assert status[name].status == "passed" and status[name].runs > 0, name


@pytest.mark.timeout(120)
def test_seed_reference_conforms_to_the_seed_model(conform):
    # The seed design breaks the saga properties (the model checker shows how), but the
    # seed reference services are a faithful implementation of it.
    props = tuple(n for n, c in CHECKS.items() if c.model_properties)
    for participant in ("order", "payment", "system"):
        # The seed spec's Order keeps its join memory volatile. The interpreter loses it
        # when an armed crash kills it after a commit (seed 3: after PaymentProcessed),
        # a second crash the oracle is not told of, so it still expects OrderCompleted;
        # the hand-written seed Order keeps that memory in its store (allowed). Until
        # the harness reports an armed crash that fired, Order alone runs hand-written.
        adapter = "inprocess:?engine=hand-written" if participant == "order" else "inprocess:"
        r = conform(adapter=adapter, participant=participant, design="seed", examples=40, seed=3,
                    skip_checks=props)
        assert r.final.failures == [], (participant, [f.message for f in r.failures.values()])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("participant", ["payment", "system"])
def test_reference_passes_over_http(conform, serve, participant):
    server = serve("--participant", participant)
    r = conform(adapter=server.url, participant=participant, examples=15, seed=5)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
    assert r.final.examples == 15
    assert r.final.adapter_seconds > 0


@pytest.mark.timeout(120)
def test_a_mutant_served_over_http_is_caught_and_replays(conform, serve, tmp_path):
    server = serve("--participant", "payment", "--mutant", "invalid-event-published")
    r = conform(adapter=server.url, participant="payment", examples=20, seed=3)
    assert r.final.failures == ["schema"]
    failure = r.failures["schema"]
    assert failure.length <= 2 and "/amount" in failure.message
    again = conform(adapter=server.url, participant="payment", replay=failure.file)
    assert again.final.failures == ["schema"]


@pytest.mark.timeout(120)
def test_a_service_in_its_own_vocabulary_passes_through_its_mapping(conform):
    # examples/foreign.py speaks dotted types, snake_case and JSON-number money, and has
    # no sagaId; its mapping file makes the suite run against it unchanged.
    r = conform(adapter="inprocess:sagaspec.examples.foreign:make_adapter",
                participant="payment", examples=25, seed=4)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
