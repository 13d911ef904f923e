"""Schema evolution: crafted old/new schemas are classified as the written rule says."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.spec import diff_paths, diff_schema, diff_schema_sets, has_breaking, schema_for

from sagaspec.cli import main
from sagaspec.errors import InputError, UsageError

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "spec" / "schemas"


def bumped(event_type="OrderCreated", draft="2020-12"):
    old = schema_for(event_type, draft)
    new = copy.deepcopy(old)
    new["properties"]["schemaVersion"]["const"] = 2
    return old, new


def changes(old, new):
    return [(c.kind, c.path, c.rule) for c in diff_schema(old, new)]


BUMP = ("compatible", "/schemaVersion", "version-bumped")


def test_identical_and_documentation_only_changes_are_nothing():
    old = schema_for("OrderCreated")
    new = copy.deepcopy(old)
    assert diff_schema(old, new) == []
    new["description"] = "reworded"
    new["properties"]["amount"]["description"] = "reworded"
    new["examples"] = []
    new["$id"] = "https://example.org/other.json"
    assert diff_schema(old, new) == []


def test_the_two_drafts_describe_the_same_events():
    assert diff_paths(REPO_SCHEMAS / "2020-12", REPO_SCHEMAS / "draft-07") == []
    assert diff_schema(schema_for("OrderCreated"), schema_for("OrderCreated", "07")) == []


def test_optional_field_added_is_compatible():
    old, new = bumped()
    new["properties"]["giftWrap"] = {"type": "boolean", "description": "Wrap it."}
    assert changes(old, new) == [BUMP, ("compatible", "/giftWrap", "field-added")]
    assert not has_breaking(diff_schema(old, new))


def test_new_required_field_is_breaking():
    old, new = bumped()
    new["properties"]["channel"] = {"type": "string", "description": "Sales channel."}
    new["required"].append("channel")
    assert changes(old, new) == [BUMP, ("breaking", "/channel", "required-added")]


def test_removed_and_retyped_fields_are_breaking():
    old, new = bumped()
    del new["properties"]["userId"]
    new["required"].remove("userId")
    new["properties"]["amount"] = {"type": "number", "description": "Total, now a float."}
    assert changes(old, new) == [
        BUMP,
        ("breaking", "/userId", "field-removed"),
        ("breaking", "/amount", "retyped"),
    ]
    assert str(diff_schema(old, new)[2]) == (
        "OrderCreated/amount: breaking: type changed from string to number")


def test_required_becoming_optional_and_optional_becoming_required_are_breaking():
    old, new = bumped()
    new["required"].remove("userId")
    new["required"].append("currency")
    assert changes(old, new) == [
        BUMP,
        ("breaking", "/userId", "required-removed"),
        ("breaking", "/currency", "required-added"),
    ]


def test_narrowing_is_breaking_and_loosening_is_compatible():
    old, new = bumped("PaymentProcessed")
    new["properties"]["status"] = {"type": "string", "enum": ["SUCCESS", "PENDING"], "description": "s"}
    new["properties"]["currency"] = {"type": "string", "enum": ["USD", "EUR"], "description": "c"}
    assert changes(old, new) == [
        BUMP,
        ("breaking", "/currency", "narrowed"),   # an enum where any 3-letter code was fine
        ("compatible", "/currency", "loosened"),  # ... but the pattern is gone
        ("compatible", "/status", "loosened"),   # SUCCESS still allowed, PENDING added
    ]
    old, new = bumped("PaymentProcessed")
    new["properties"]["status"] = {"type": "string", "const": "OK", "description": "s"}
    assert ("breaking", "/status", "narrowed") in changes(old, new)


def test_constraints_inside_shared_definitions_reach_every_field_using_them():
    old, new = bumped()
    new["$defs"]["LineItem"]["properties"]["quantity"]["maximum"] = 10
    new["$defs"]["LineItem"]["properties"]["quantity"]["minimum"] = 0
    assert changes(old, new) == [
        BUMP,
        ("compatible", "/items/*/quantity", "loosened"),
        ("breaking", "/items/*/quantity", "narrowed"),
    ]
    old, new = bumped()
    new["$defs"]["Money"]["pattern"] = "^[0-9]+\\.[0-9]{2}$"
    assert [c for c in changes(old, new) if c[0] == "breaking"] == [
        ("breaking", "/amount", "narrowed"), ("breaking", "/items/*/unitPrice", "narrowed")]


def test_nullability_and_additional_properties():
    old, new = bumped()
    new["properties"]["causationId"] = {"$ref": "#/$defs/Identifier", "description": "c"}
    new["additionalProperties"] = True
    assert changes(old, new) == [
        BUMP,
        ("breaking", "/causationId", "null-removed"),
        ("compatible", "", "loosened"),
    ]
    back_old, back_new = new, copy.deepcopy(new)
    back_new["properties"]["schemaVersion"]["const"] = 3
    back_new["additionalProperties"] = False
    assert ("breaking", "", "narrowed") in changes(back_old, back_new)


def test_uncomparable_changes_are_breaking():
    old, new = bumped("OrderCancelled")
    new["properties"]["reason"] = {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "r"}
    kinds = changes(old, new)
    assert ("breaking", "/reason", "uncomparable") in kinds


def test_version_rules():
    old = schema_for("OrderCancelled")
    new = copy.deepcopy(old)
    new["properties"]["note"] = {"type": "string", "description": "n"}
    assert changes(old, new) == [
        ("compatible", "/note", "field-added"),
        ("breaking", "/schemaVersion", "version-not-bumped"),
    ]
    new["properties"]["schemaVersion"]["const"] = 0
    assert ("breaking", "/schemaVersion", "version-regressed") in changes(old, new)
    only_bump = copy.deepcopy(old)
    only_bump["properties"]["schemaVersion"]["const"] = 2
    assert changes(old, only_bump) == [BUMP]


def test_event_sets():
    old = {"OrderCreated": schema_for("OrderCreated"), "OrderCancelled": schema_for("OrderCancelled")}
    new = {"OrderCreated": schema_for("OrderCreated"), "OrderShipped": schema_for("OrderCompleted")}
    assert [(c.kind, c.event, c.rule) for c in diff_schema_sets(old, new)] == [
        ("breaking", "OrderCancelled", "event-removed"),
        ("compatible", "OrderShipped", "event-added"),
    ]


def _write(folder: Path, schemas: dict) -> Path:
    folder.mkdir()
    for name, schema in schemas.items():
        (folder / f"{name}.json").write_text(json.dumps(schema), encoding="utf-8")
    return folder


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_diff_exit_codes(tmp_path):
    old, new = bumped()
    compatible = copy.deepcopy(new)
    compatible["properties"]["note"] = {"type": "string", "description": "n"}
    breaking = copy.deepcopy(new)
    del breaking["properties"]["userId"]
    old_dir = _write(tmp_path / "old", {"OrderCreated": old})
    ok_dir = _write(tmp_path / "ok", {"OrderCreated": compatible})
    bad_dir = _write(tmp_path / "bad", {"OrderCreated": breaking})

    result = run("schemas", "diff", str(old_dir), str(ok_dir))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "compatible: OrderCreated/schemaVersion: schemaVersion 1 -> 2 [version-bumped]",
        "compatible: OrderCreated/note: optional field added [field-added]",
    ]
    result = run("schemas", "diff", str(old_dir / "OrderCreated.json"), str(bad_dir / "OrderCreated.json"))
    assert result.exit_code == 1
    assert "breaking: OrderCreated/userId: required field removed [field-removed]" in result.stdout
    assert "1 breaking, 1 compatible change\n" in result.stderr
    result = run("schemas", "diff", "--format", "json", str(old_dir), str(bad_dir))
    assert result.exit_code == 1
    assert {"kind": "breaking", "event": "OrderCreated", "path": "/userId",
            "rule": "field-removed", "message": "required field removed"} in json.loads(result.stdout)


def test_cli_diff_bad_input_exit_2(tmp_path):
    (tmp_path / "notjson.json").write_text("{oops", encoding="utf-8")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    (tmp_path / "badschema.json").write_text('{"type": 12}', encoding="utf-8")
    (tmp_path / "empty").mkdir()
    good = REPO_SCHEMAS / "2020-12" / "OrderCreated.json"
    cases = {
        "notjson.json": "notjson.json:1:2: invalid JSON (Expecting property name",
        "list.json": "list.json: expected a JSON Schema object, got a JSON list",
        "badschema.json": "badschema.json: not a valid JSON Schema at type:",
        "missing.json": "missing.json: no such file or folder",
        "empty": "empty: no *.json schema files in this folder",
    }
    for name, message in cases.items():
        result = run("schemas", "diff", str(good), str(tmp_path / name))
        assert result.exit_code == 2, name
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.output
    mixed = run("schemas", "diff", str(good), str(REPO_SCHEMAS / "2020-12"))
    assert mixed.exit_code == 2 and "compare a file with a file" in mixed.stderr


def test_loading_errors_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        diff_paths(tmp_path / "a.json", tmp_path / "b.json")
    with pytest.raises(UsageError):
        diff_paths(REPO_SCHEMAS / "2020-12" / "OrderCreated.json", REPO_SCHEMAS / "2020-12")
