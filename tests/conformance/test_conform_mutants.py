"""Every mutant of the reference services is caught, shrunk to at most 8 events.

The table is the README's "mutant -> check that caught it": the participant the suite
tests and the checks it reports (the first is the one the README names). Each run is
seeded, so the result is reproducible; the README's table was produced by this test.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from sagaspec.conformance import RunConfig
from sagaspec.examples.mutants import MUTANTS

# mutant -> (participant under test, checks that catch it, first = the README's)
TABLE = {
    "no-idempotency": ("payment", {"single-charge", "model"}),
    "refund-without-charge": ("payment", {"refund-needs-charge"}),
    "complete-before-payment": ("order", {"completed-paid-reserved", "model"}),
    "no-release-after-payment-failure": ("inventory", {"model", "no-reservation-left"}),
    "late-success-overwrites-cancellation": ("payment", {"model", "no-charge-left"}),
    "email-per-duplicate": ("notification", {"single-email", "model"}),
    "invalid-event-published": ("payment", {"schema"}),
    "crash-loses-acked-event": ("payment", {"model"}),
    "malformed-input-crashes-consumer": ("payment", {"rejects-invalid-input"}),
    "wrong-sagaId-propagated": ("payment", {"saga-consistency"}),
    "double-cancel": ("order", {"one-outcome", "model"}),
    "volatile-idempotency": ("payment", {"single-charge", "model"}),
    "publish-before-commit": ("payment", {"single-charge", "model", "refund-needs-charge"}),
    "release-without-reservation": ("inventory", {"model", "refund-needs-charge"}),
    "late-reservation-after-cancel": ("inventory", {"model", "no-reservation-left"}),
    # Judged only because the suite knows the world it set up (see WORLD below).
    "never-reserves": ("inventory", {"stock"}),
    "oversell": ("inventory", {"stock"}),
    "release-keeps-stock": ("inventory", {"stock"}),
    "decline-everything": ("payment", {"world-rules"}),
    "charges-declined-users": ("payment", {"world-rules"}),
}

#: The mutants only the world's decisions expose, and the check that judges them.
WORLD = {name: next(iter(checks)) for name, (_p, checks) in TABLE.items()
         if checks <= {"stock", "world-rules"}}


def test_the_table_covers_every_shipped_mutant():
    assert set(TABLE) == set(MUTANTS)
    assert len(TABLE) >= 10


#: Saved failures of these are replayed against the mutant and the reference too.
REPLAYED = {"no-idempotency", "late-success-overwrites-cancellation", "crash-loses-acked-event",
            "malformed-input-crashes-consumer", "release-keeps-stock", "decline-everything"}


#: Mutants that need a rare situation, and what it is. Random interleaving found
#: release-keeps-stock in 3 of 15 seeded 100-example runs; the generator now plays the
#: situation on purpose (the hold-back policy, conformance/choosers.py POLICIES: one saga
#: at a time, the first leaning to its failures, shared resources set up tight), so each
#: is asked to be found at the default example count on every seed of RARE_SEEDS.
#: bench/bench_rare_mutants.py prints the rates with and without the policy.
RARE = {
    "release-keeps-stock": (
        "needs a declined saga reserved and released, then the other saga's trigger "
        "reaching Inventory after the release with stock tight"
    ),
}
#: Any five seeds, not ones measured to work.
RARE_SEEDS = range(1, 6)
#: The run's default example count (conform() leaves it at that).
DEFAULT_EXAMPLES = next(f.default for f in fields(RunConfig) if f.name == "examples")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mutant", [m for m in TABLE if m not in RARE])
def test_mutant_is_caught_with_a_short_shrunk_sequence(conform, mutant):
    participant, checks = TABLE[mutant]
    # all_bugs=False: hypothesis shrinks the first broken check only (half the time).
    r = conform(participant=participant, mutant=mutant, examples=100, seed=3, all_bugs=False)
    assert len(r.final.failures) == 1, f"{mutant}: {r.final.failures}"
    (failure,) = r.failures.values()
    assert failure.check in checks, (mutant, failure.check, failure.message)
    assert 1 <= failure.length <= 8, (failure.check, failure.exchanged)
    # What a user needs to act on it: the diagram, the messages, how to reproduce.
    assert failure.diagram and failure.mermaid.startswith("sequenceDiagram")
    assert failure.reproduce and f"--mutant {mutant}" in failure.reproduce
    assert f"--replay {failure.file}" in failure.reproduce
    saved = json.loads(Path(failure.file).read_text(encoding="utf-8"))
    assert saved["check"] == failure.check and saved["format"] == "sagaspec.conformance/1"
    if mutant in REPLAYED:
        again = conform(participant=participant, mutant=mutant, replay=failure.file)
        assert again.final.failures == [failure.check]
        fixed = conform(participant=participant, replay=failure.file)
        assert fixed.final.failures == []
        assert any("did not reproduce" in n for n in fixed.final.notes)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mutant", sorted(RARE))
def test_rare_mutant_is_found_with_the_default_example_count_on_every_seed(conform, mutant):
    participant, checks = TABLE[mutant]
    missed = []
    for seed in RARE_SEEDS:
        # Found is the target; shrinking is asked of one seed below (it is the slow part).
        r = conform(participant=participant, mutant=mutant, seed=seed, all_bugs=False,
                    shrink=False)
        assert set(r.final.failures) <= checks, (seed, r.final.failures)
        if not r.final.failures:
            missed.append(seed)
    assert not missed, f"{mutant} not found at {DEFAULT_EXAMPLES} examples on seeds {missed}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mutant", sorted(RARE))
def test_rare_mutant_shrinks_to_a_short_sequence(conform, mutant):
    participant, checks = TABLE[mutant]
    r = conform(participant=participant, mutant=mutant, seed=RARE_SEEDS[0], all_bugs=False)
    (failure,) = r.failures.values()
    assert failure.check in checks, (mutant, failure.check, failure.message)
    assert 1 <= failure.length <= 8, (failure.check, failure.exchanged)


@pytest.mark.parametrize("mutant", sorted(RARE))
def test_rare_mutant_recorded_case_is_caught_and_the_reference_passes(conform, mutant):
    """The recorded failing case (stored for the broker replays) is judged the same way
    in-process: the mutant fails its check, the reference passes it."""
    from pathlib import Path

    case = Path(__file__).parents[1] / "data" / "brokers" / "mutants" / f"{mutant}.json"
    participant, checks = TABLE[mutant]
    bad = conform(participant=participant, mutant=mutant, replay=case)
    assert bad.final.failures and set(bad.final.failures) <= checks, bad.final.failures
    good = conform(participant=participant, replay=case)
    assert good.final.failures == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mutant", sorted(WORLD))
def test_world_mutants_pass_without_the_world_judgement(conform, mutant):
    """Each world mutant is caught *only* by its world check: with that check switched
    off (the oracle then allows either decision, as it must without a setup hook) the
    same seeded run finds nothing, and says the decision was not judged."""
    participant, _checks = TABLE[mutant]
    check = WORLD[mutant]
    r = conform(participant=participant, mutant=mutant, examples=60, seed=3, all_bugs=False,
                skip_checks=(check,))
    assert r.final.failures == [], [f.message for f in r.failures.values()]
    status = {c.name: c for c in r.final.checks}
    assert status[check].status == "skipped"


@pytest.mark.timeout(120)
def test_a_case_without_a_world_is_not_judged_and_the_run_says_so(conform, tmp_path):
    # Unshrunk: the case file's world is what is asserted, not the case's length.
    r = conform(participant="inventory", mutant="oversell", examples=20, seed=3, all_bugs=False,
                shrink=False)
    saved = json.loads(Path(r.failures["stock"].file).read_text(encoding="utf-8"))
    assert saved["world"]["stock"]  # the world is part of the case file: it replays
    saved["world"] = None
    blind = tmp_path / "no-world.json"
    blind.write_text(json.dumps(saved), encoding="utf-8")
    again = conform(participant="inventory", mutant="oversell", replay=blind)
    assert again.final.failures == []
    assert any(n.startswith("stock not judged in 1 of 1 case(s): no world was set up")
               for n in again.final.notes), again.final.notes


#: The same rare situation in a spec saga: the shop's inventory releasing without giving
#: the units back (the spec mutant forget-update-10 of `sagaspec mutate`), judged by the
#: stock the suite set up. Random interleaving found it on 3 of seeds 1-5.
SHOP = Path(__file__).parents[2] / "examples" / "sagas" / "shop.saga.yaml"


@pytest.mark.timeout(120)
def test_a_spec_release_that_keeps_stock_is_found_on_every_seed(conform):
    missed = []
    for seed in RARE_SEEDS:
        r = conform(design=str(SHOP), participant="inventory", mutant="forget-update-10",
                    seed=seed, all_bugs=False, shrink=False)
        assert set(r.final.failures) <= {"stock", "model", "refund-needs-charge"}, \
            (seed, r.final.failures)
        if "stock" not in r.final.failures:
            missed.append(seed)
    assert not missed, f"not found by the stock check at {DEFAULT_EXAMPLES} examples on {missed}"
    reference = conform(design=str(SHOP), participant="inventory", seed=RARE_SEEDS[0],
                        all_bugs=False, shrink=False)
    assert reference.final.failures == []
