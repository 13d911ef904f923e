"""Typed event models are generated from a saga spec, for the order saga as for any other."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from sagaspec.spec.events import EVENT_MODELS, EventEnvelope, event_models, model_for, parse_event
from sagaspec.spec.sagafile import load_spec, parse_spec, shipped_spec
from sagaspec.spec.schemas import validate_event
from sagaspec.spec.specschemas import spec_examples, spec_schema

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["corrected", "seed", *sorted(p.name for p in (ROOT / "examples" / "sagas").glob("*.saga.yaml"))]


@functools.cache
def _spec(name):
    return shipped_spec(name) if name in ("corrected", "seed") else load_spec(ROOT / "examples" / "sagas" / name)


@pytest.mark.parametrize("name", SPECS)
def test_every_example_event_parses_into_its_model_and_back(name):
    spec = _spec(name)
    models = event_models(spec)
    assert tuple(models) == spec.event_names
    for event_type, model in models.items():
        assert issubclass(model, EventEnvelope) and model.__name__ == event_type
        # One model field per schema property, in no other place than the spec.
        assert set(model.model_fields) == set(spec_schema(spec, event_type)["properties"])
        for example in spec_examples(spec, event_type):
            parsed = parse_event(example, spec)
            assert type(parsed) is model
            assert parsed.model_dump(mode="json", exclude_none=True) == example


@pytest.mark.parametrize("name", SPECS)
def test_what_the_schema_rejects_the_model_rejects(name):
    spec = _spec(name)
    for event_type in spec.event_names:
        example = spec_examples(spec, event_type)[0]
        extra = dict(example, notAField=1)
        assert validate_event(extra, spec=spec)
        with pytest.raises(ValidationError):
            parse_event(extra, spec)
        for field in spec_schema(spec, event_type)["required"]:
            if field in ("eventType", "schemaVersion"):
                continue  # the constructors default them; the wire format requires them
            missing = {k: v for k, v in example.items() if k != field}
            assert validate_event(missing, spec=spec)
            with pytest.raises(ValidationError):
                parse_event(missing, spec)


def test_the_order_models_are_the_shipped_specs():
    assert EVENT_MODELS == event_models(shipped_spec("corrected"))
    created = model_for("OrderCreated")
    line = created.model_fields["items"].annotation.__args__[0]
    assert issubclass(line, BaseModel) and line.__name__ == "LineItem"
    event = created(eventId="e-1", sagaId="s-1", orderId="o-1", timestamp="2024-01-15T10:00:00Z",
                    userId="u-1", amount="10.00", items=[{"sku": "a", "quantity": 2, "unitPrice": "5.00"}])
    # Defaults come from the spec: the Currency default, the const eventType and version.
    assert (event.currency, event.eventType, event.schemaVersion) == ("USD", "OrderCreated", 1)
    assert event.items[0].quantity == 2
    with pytest.raises(ValidationError, match="amount"):
        created(**{**event.model_dump(), "amount": "10"})
    with pytest.raises(KeyError, match="unknown eventType 'Nope'"):
        model_for("Nope")


def test_a_pattern_the_default_regex_engine_refuses_and_a_recursive_type_still_make_models():
    text = (ROOT / "spec" / "sagas" / "order-corrected.saga.yaml").read_text(encoding="utf-8")
    ident = 'pattern: "^[A-Za-z0-9][A-Za-z0-9._:\\\\-]*$"'
    assert ident in text
    text = text.replace(ident, 'pattern: "^(?!x)[A-Za-z0-9][A-Za-z0-9._:\\\\-]*$"')  # a lookahead
    text = text.replace("      unitPrice: {$ref: \"#/types/Money\"", "      parts: {type: array, items: {$ref: \"#/types/LineItem\"}}\n"
                        "      unitPrice: {$ref: \"#/types/Money\"")
    spec = parse_spec(text, "lookahead.saga.yaml")
    example = spec_examples(shipped_spec("corrected"), "OrderCreated")[0]  # parts is optional
    assert parse_event(example, spec).orderId == example["orderId"]
    with pytest.raises(ValidationError, match="orderId"):
        parse_event(dict(example, orderId="x-1"), spec)  # the lookahead is enforced
    nested = dict(example, items=[dict(example["items"][0], parts=[{"any": "object"}])])
    assert parse_event(nested, spec).items[0].parts == [{"any": "object"}]
