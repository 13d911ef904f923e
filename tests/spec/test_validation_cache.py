"""validate_event reuses the verdict of an event it validated recently: by the event's
content (not its identity) and the schema it is judged by, so reuse never changes a verdict."""

from __future__ import annotations

from pathlib import Path

from sagaspec.conformance.mutate import mutants
from sagaspec.spec.examples import examples_for
from sagaspec.spec.sagafile import load_spec
from sagaspec.spec.schemas import validate_event, validator_for

TRAVEL = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "travel.saga.yaml"


def test_an_event_changed_in_place_is_judged_again():
    event = examples_for("OrderCreated")[0]
    assert validate_event(event) == []
    event["amount"] = 100.0  # the same dict, now invalid
    assert [p.pointer for p in validate_event(event)] == ["/amount"]
    event["amount"] = "100.00"
    assert validate_event(event) == []


def test_values_equal_in_python_but_not_in_json_are_told_apart():
    event = examples_for("OrderCreated")[0]
    assert validate_event(event) == []
    event["schemaVersion"] = True  # == 1 in Python, a boolean in JSON
    assert [p.pointer for p in validate_event(event)] == ["/schemaVersion"]


def test_the_same_json_is_judged_by_each_sagas_own_schema():
    event = examples_for("OrderCreated")[0]
    assert validate_event(event) == []
    travel = load_spec(TRAVEL)
    assert [p.pointer for p in validate_event(event, spec=travel)] == ["/eventType"]
    assert validate_event(event) == []


def test_a_mutant_whose_schemas_are_its_sagas_shares_their_validators_and_verdicts():
    travel = load_spec(TRAVEL)
    mutant = mutants(travel)[0].spec
    for name in travel.event_names:
        assert validator_for(name, spec=mutant) is validator_for(name, spec=travel)
        event = examples_for(name, spec=travel)[0]
        assert validate_event(event, spec=mutant) == validate_event(event, spec=travel) == []
