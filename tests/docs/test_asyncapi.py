"""The AsyncAPI document validates against the official AsyncAPI 3.0.0 JSON Schema and
says what actually travels on the wire."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sagaspec.spec import cloudevents as ce
from sagaspec.spec.designs import get_design
from sagaspec.spec.examples import examples_for
from sagaspec.spec.schemas import validate_event

from sagaspec.docs.asyncapi import asyncapi_document, to_json, to_yaml
from sagaspec.errors import UsageError

DATA = Path(__file__).parent / "data"
CASES = [(d, m) for d in ("seed", "corrected") for m in ("binary", "structured")]


@pytest.fixture(scope="module")
def official():
    """Validator for the vendored official schema (see tests/docs/data/README.md)."""
    schema = json.loads((DATA / "asyncapi-3.0.0.schema.json").read_text())
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    registry = Registry().with_resources(
        (uri, DRAFT7.create_resource(body)) for uri, body in schema["definitions"].items()
    )
    return jsonschema.Draft7Validator(schema, registry=registry)


def _errors(validator, doc):
    return [f"{e.json_path}: {e.message[:160]}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(("design", "mode"), CASES)
def test_document_is_valid_asyncapi_3(official, design, mode):
    doc = asyncapi_document(design, content_mode=mode)
    assert doc["asyncapi"] == "3.0.0"
    assert _errors(official, doc) == []
    # The serialised forms are the same document.
    assert yaml.safe_load(to_yaml(doc)) == doc
    assert json.loads(to_json(doc)) == doc


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d["operations"]["order.send.OrderCreated"].update(action="publish"),
        lambda d: d["operations"]["order.send.OrderCreated"].pop("channel"),
        lambda d: d["components"]["correlationIds"]["sagaId"].update(location="sagaId"),
        lambda d: d["channels"]["OrderCreated"].update(publish={}),
        lambda d: d["info"].pop("version"),
    ],
)
def test_official_schema_rejects_broken_documents(official, corrupt):
    """The validation above is not vacuous: the same validator catches real defects."""
    doc = copy.deepcopy(asyncapi_document("corrected"))
    corrupt(doc)
    assert _errors(official, doc)


def _resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


@pytest.mark.parametrize(("design", "mode"), CASES)
def test_every_reference_resolves_and_operations_use_their_channel(design, mode):
    doc = asyncapi_document(design, content_mode=mode)
    for ref in _refs(doc):
        _resolve(doc, ref)
    for name, op in doc["operations"].items():
        channel = _resolve(doc, op["channel"]["$ref"])
        allowed = {f"{op['channel']['$ref']}/messages/{m}" for m in channel["messages"]}
        assert {m["$ref"] for m in op["messages"]} <= allowed, name


@pytest.mark.parametrize("design", ["seed", "corrected"])
def test_operations_are_exactly_the_choreography_table(design):
    d = get_design(design)
    doc = asyncapi_document(design)
    expected = {f"{s.name}.send.{e}" for s in d.services for e in s.publishes} | {
        f"{s.name}.receive.{e}" for s in d.services for e in s.subscribes
    }
    assert set(doc["operations"]) == expected
    assert set(doc["channels"]) == set(d.events)
    for name, op in doc["operations"].items():
        assert op["x-sagaspec-service"] == name.split(".")[0]
        assert op["action"] == name.split(".")[1]
    if design == "seed":  # the seed's hole: nobody consumes PaymentFailed
        assert not any(k.endswith("receive.PaymentFailed") for k in doc["operations"])
        assert "Consumed by: nobody" in doc["channels"]["PaymentFailed"]["description"]


def _schema_validator(doc, schema):
    """Validate against a schema that refers into ``doc`` (``#/components/schemas/...``)."""
    root = Resource.from_contents(doc, default_specification=DRAFT7)
    registry = Registry().with_resource("urn:doc", root)
    wrapped = json.loads(json.dumps(schema).replace('"#/components/', '"urn:doc#/components/'))
    return jsonschema.Draft7Validator(wrapped, registry=registry)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_examples_match_their_schemas_and_decode_to_the_spec_event(mode):
    doc = asyncapi_document("corrected", content_mode=mode)
    checked = 0
    for event, message in doc["components"]["messages"].items():
        assert message["payload"]["schemaFormat"] == "application/schema+json;version=draft-07"
        payload_v = _schema_validator(doc, message["payload"]["schema"])
        originals = examples_for(event)
        assert len(message["examples"]) == len(originals)
        for example, original in zip(message["examples"], originals, strict=True):
            assert list(payload_v.iter_errors(example["payload"])) == []
            if mode == "binary":
                headers_v = _schema_validator(doc, message["headers"]["schema"])
                assert list(headers_v.iter_errors(example["headers"])) == []
                body = json.dumps(example["payload"]).encode()
                decoded = ce.from_binary(example["headers"], body)
            else:
                decoded = ce.from_cloudevent(example["payload"])
            expected = {k: v for k, v in original.items() if v is not None}
            assert decoded == expected
            assert validate_event(decoded) == []
            checked += 1
        # A payload missing a required business field is rejected by the same schema.
        required = _resolve(doc, f"#/components/schemas/{event}Data")["required"]
        if required:
            broken = copy.deepcopy(message["examples"][0]["payload"])
            (broken["data"] if mode == "structured" else broken).pop(required[0])
            assert list(payload_v.iter_errors(broken))
    assert checked >= 10


def test_full_event_schemas_are_the_spec_draft07_schemas():
    from sagaspec.spec.schemas import schema_for

    doc = asyncapi_document("corrected")
    schemas = doc["components"]["schemas"]
    for event in get_design("corrected").events:
        original = schema_for(event, "draft-07")
        assert schemas[event]["x-schema-id"] == original["$id"]
        assert set(schemas[event]["properties"]) == set(original["properties"])
        assert schemas[event]["required"] == original["required"]
        data = schemas[f"{event}Data"]
        assert "sagaId" not in data["properties"] and "eventId" not in data["properties"]
        for example in original["examples"]:
            v = _schema_validator(doc, {"$ref": f"#/components/schemas/{event}"})
            assert list(v.iter_errors(example)) == []


def test_unknown_content_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="content mode 'avro'"):
        asyncapi_document("corrected", content_mode="avro")
