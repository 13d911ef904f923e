"""The shipped JSON Schemas: generated from the order spec, documented, and both drafts agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from sagaspec.spec import (
    EVENT_TYPES,
    all_examples,
    all_schemas,
    examples_for,
    is_valid_event,
    parse_event,
    require_valid,
    schema_for,
    validate_event,
    validator_for,
)
from sagaspec.spec.sagafile import shipped_spec
from sagaspec.spec.schemagen import (
    DRAFTS,
    REGENERATE_COMMAND,
    drifted_files,
    generate_schema,
    render,
    schema_dir,
)
from sagaspec.spec.schemas import raw_validator_for
from sagaspec.spec.specschemas import spec_schema
from sagaspec.spec.strategies import events

from sagaspec.errors import SchemaError, UsageError

DATA = Path(__file__).parent.parent / "data" / "spec"
REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "spec" / "schemas"


@pytest.mark.parametrize("draft", DRAFTS)
def test_committed_schemas_match_the_spec(draft):
    drifted = drifted_files(REPO_SCHEMAS / draft, draft)
    assert not drifted, (
        f"spec/schemas/{draft} drifted from spec/sagas/order-corrected.saga.yaml: {', '.join(drifted)}. "
        f"Regenerate with: {REGENERATE_COMMAND}"
    )


@pytest.mark.parametrize("draft", DRAFTS)
def test_the_order_schemas_come_from_the_spec_like_any_sagas(draft):
    corrected, seed = shipped_spec("corrected"), shipped_spec("seed")
    assert tuple(all_schemas(draft)) == corrected.event_names == seed.event_names
    for event_type in corrected.event_names:
        assert schema_for(event_type, draft) == spec_schema(corrected, event_type, draft)
        # The seed declares the same events: only its example's causationId may differ
        # (a different reaction publishes a compensation there).
        assert spec_schema(seed, event_type, draft, examples=False) == \
            spec_schema(corrected, event_type, draft, examples=False)


def test_shipped_schemas_are_the_committed_files():
    for draft in DRAFTS:
        assert schema_dir(draft) == REPO_SCHEMAS / draft
        for event_type in EVENT_TYPES:
            text = (REPO_SCHEMAS / draft / f"{event_type}.json").read_text(encoding="utf-8")
            assert json.loads(text) == schema_for(event_type, draft)
            assert text == render(generate_schema(event_type, draft))


def test_drift_is_detected(tmp_path):
    for path in (REPO_SCHEMAS / "2020-12").glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert drifted_files(tmp_path) == []
    schema = json.loads((tmp_path / "OrderCreated.json").read_text(encoding="utf-8"))
    schema["properties"]["amount"]["description"] = "edited by hand"
    (tmp_path / "OrderCreated.json").write_text(render(schema), encoding="utf-8")
    (tmp_path / "Stale.json").write_text("{}", encoding="utf-8")
    (tmp_path / "PaymentFailed.json").unlink()
    assert drifted_files(tmp_path) == ["OrderCreated.json", "PaymentFailed.json", "Stale.json"]


@pytest.mark.parametrize("draft,meta,validator", [
    ("2020-12", "https://json-schema.org/draft/2020-12/schema", jsonschema.Draft202012Validator),
    ("07", "http://json-schema.org/draft-07/schema#", jsonschema.Draft7Validator),
])
def test_schemas_are_valid_for_their_draft(draft, meta, validator):
    for event_type, schema in all_schemas(draft).items():
        assert schema["$schema"] == meta
        validator.check_schema(schema)
        assert schema["$id"].startswith("https://sagaspec.dev/schemas/v1/")
        assert schema["$id"].endswith(f"/{event_type}.json")
        assert schema["title"] == event_type
        assert schema["additionalProperties"] is False
        assert {"eventId", "eventType", "schemaVersion", "sagaId", "timestamp", "orderId"} <= set(
            schema["required"])
    text = json.dumps(all_schemas(draft))
    if draft == "07":
        assert "$defs" not in text and "#/definitions/" in text
    else:
        assert "definitions" not in text and "#/$defs/" in text


def _fields(schema):
    """Every (path, field schema) of an object schema and its definitions."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    for name, prop in schema["properties"].items():
        yield name, prop
    for def_name, definition in defs.items():
        yield def_name, definition
        for name, prop in definition.get("properties", {}).items():
            yield f"{def_name}.{name}", prop


@pytest.mark.parametrize("draft", ["2020-12", "07"])
def test_every_field_and_definition_is_described(draft):
    for event_type, schema in all_schemas(draft).items():
        assert schema["description"]
        for path, field in _fields(schema):
            assert field.get("description"), f"{event_type}: {path} has no description"


def test_shared_parts_live_in_defs():
    created = schema_for("OrderCreated")
    assert set(created["$defs"]) == {"Identifier", "Timestamp", "Money", "Currency", "LineItem"}
    assert created["properties"]["amount"]["$ref"] == "#/$defs/Money"
    assert created["properties"]["timestamp"]["$ref"] == "#/$defs/Timestamp"
    assert created["properties"]["items"]["items"] == {"$ref": "#/$defs/LineItem"}
    assert created["$defs"]["LineItem"]["properties"]["unitPrice"]["$ref"] == "#/$defs/Money"
    # Money says why it is a string.
    assert "binary float" in created["$defs"]["Money"]["description"]
    assert "Reason" in schema_for("PaymentFailed")["$defs"]
    # draft-07 ignores siblings of $ref, so described references are wrapped in allOf.
    amount07 = schema_for("OrderCreated", "07")["properties"]["amount"]
    assert amount07["allOf"] == [{"$ref": "#/definitions/Money"}] and "$ref" not in amount07


def test_examples_are_embedded_valid_and_parse():
    for event_type in EVENT_TYPES:
        for draft in ("2020-12", "07"):
            schema = schema_for(event_type, draft)
            assert schema["examples"] == examples_for(event_type)
            for example in schema["examples"]:
                assert validate_event(example, draft) == []
                assert parse_event(example).eventType == event_type


def test_seed_events_file_is_the_completed_seed_and_valid():
    events_ = json.loads((DATA / "seed_events.json").read_text(encoding="utf-8"))
    assert [e["eventId"] for e in events_] == ["evt-123", "evt-124"]
    assert [e["eventType"] for e in events_] == ["OrderCreated", "PaymentProcessed"]
    # What the seed wrote, with only the completions the wire format needs.
    assert events_[1]["amount"] == "100.00" and events_[1]["status"] == "SUCCESS"
    for event in events_:
        assert validate_event(event) == []


def test_api_returns_copies_and_caches_validators():
    schema = schema_for("OrderCreated")
    schema["title"] = "mutated"
    assert schema_for("OrderCreated")["title"] == "OrderCreated"
    assert validator_for("OrderCreated") is validator_for("OrderCreated", "draft-2020-12")
    assert validator_for("OrderCreated", "07") is not validator_for("OrderCreated")
    with pytest.raises(UsageError, match="unknown eventType 'Nope'; expected one of OrderCreated"):
        schema_for("Nope")
    with pytest.raises(UsageError, match="unknown JSON Schema draft"):
        schema_for("OrderCreated", "2019-09")


def test_require_valid_raises_one_line():
    assert require_valid(examples_for("OrderCancelled")[0])["eventType"] == "OrderCancelled"
    event = examples_for("OrderCancelled")[0]
    event["reason"] = ""
    with pytest.raises(SchemaError) as info:
        require_valid(event)
    assert str(info.value) == 'invalid event: /reason: expected a non-empty string of at most 500 characters, got string ""'
    assert "\n" not in str(info.value)


def _mutations(event):
    """Many invalid (and a few valid) variants of a valid event."""
    odd_values = [None, 0, 1.5, -1, True, "", "x" * 600, " padded ", [], {}, ["a"], "2024-01-15"]
    for key in list(event):
        broken = copy.deepcopy(event)
        del broken[key]
        yield broken
        for value in odd_values:
            broken = copy.deepcopy(event)
            broken[key] = value
            yield broken
    for key, value in (("extra", 1), ("amount", "1e2"), ("timestamp", "2024-01-15T10:00:00+0100"),
                       ("timestamp", "2024-13-01T10:00:00Z"), ("timestamp", "2024-01-15T10:00:00.5Z"),
                       ("currency", "EUR"), ("schemaVersion", 1.0), ("quantity", 2)):
        changed = copy.deepcopy(event)
        changed[key] = value
        yield changed
    if "items" in event:
        for key in ("sku", "quantity", "unitPrice"):
            for value in (None, 0, 10_001, "", "1.5", 2.0):
                broken = copy.deepcopy(event)
                broken["items"][0][key] = value
                yield broken
        broken = copy.deepcopy(event)
        broken["items"] = broken["items"] * 101
        yield broken


def test_both_drafts_accept_and_reject_the_same_corpus():
    corpus = []
    for example in all_examples():
        corpus.append(example)
        corpus.extend(_mutations(example))
    for line in (DATA / "broken_events.ndjson").read_text(encoding="utf-8").splitlines():
        try:
            corpus.append(json.loads(line))
        except ValueError:
            continue
    verdicts = set()
    for instance in corpus:
        new, old = validate_event(instance, "2020-12"), validate_event(instance, "07")
        assert new == old, instance
        assert is_valid_event(instance) == is_valid_event(instance, "07") == (not new)
        if isinstance(instance, dict) and instance.get("eventType") in EVENT_TYPES:
            # The shipped files themselves ($refs and all) agree with the cached validators.
            for draft in ("2020-12", "07"):
                assert raw_validator_for(instance["eventType"], draft).is_valid(instance) == (not new)
        verdicts.add(bool(new))
    assert len(corpus) > 1000 and verdicts == {True, False}


def test_patterns_have_their_json_schema_meaning():
    # Regression: Python's `$` also matches before a final newline, so jsonschema's stock
    # `pattern` accepted "evt-1\n" as an identifier although the spec (ECMA-262) and the
    # pydantic models reject it.
    for field, value in (("eventId", "evt-1\n"), ("amount", "1.00\n"), ("timestamp", "2024-01-15T10:00:00Z\n")):
        event = examples_for("PaymentFailed")[0]
        event[field] = value
        for draft in ("2020-12", "07"):
            assert [p.pointer for p in validate_event(event, draft)] == [f"/{field}"]
            assert not raw_validator_for("PaymentFailed", draft).is_valid(event)
        with pytest.raises(ValueError):
            parse_event(event)


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(events())
def test_generated_valid_events_agree_everywhere(event):
    # valid on the wire, in both drafts, and for the pydantic models ...
    assert validate_event(event) == []
    assert validate_event(event, "07") == []
    model = parse_event(event)
    # ... and what the models write back is valid again.
    assert validate_event(model.model_dump(mode="json")) == []
