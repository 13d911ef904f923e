"""Schemas, validation and lint of any saga spec: a small booking saga written here, the
shipped order specs and the example sagas.

For the shipped order specs, the schemas generated from the spec accept and reject
exactly what the committed schema files do, on the whole event corpus.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from sagaspec.spec import lint as lint_module
from sagaspec.spec.eventfile import parse_events
from sagaspec.spec.examples import all_examples
from sagaspec.spec.lint import lint_design, lint_spec
from sagaspec.spec.sagafile import load_spec, shipped_spec
from sagaspec.spec.schemas import (
    _CLASSES,
    FORMAT_CHECKER,
    is_valid_event,
    raw_validator_for,
    schema_for,
    validate_event,
)
from sagaspec.spec.specschemas import spec_examples, spec_schema, spec_schemas

from sagaspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "spec"
EXAMPLE_SAGAS = sorted((ROOT / "examples" / "sagas").glob("*.saga.yaml"))

BOOKING = """\
saga: booking
format: 1
title: Hotel booking
description: Booking asks Hotel for a room and Card for a charge in parallel, and decides.
assumes: [idempotency, outbox]
bounds: {sagas: 1, max_sagas: 3, bus: unordered-dup, duplicates: 1, crashes: 0}
world:
  room: {values: [free, taken]}
  card: {values: [approve, decline]}
types:
  Id: {type: string, pattern: "^[a-z]+-[0-9]+$", description: A lower-case id such as room-1.}
  Nights: {type: integer, minimum: 1, maximum: 30}
common:
  bookingId: {$ref: "#/types/Id", description: The booking.}
events:
  BookingRequested:
    role: trigger
    description: A guest asked for a room.
    fields:
      guest: {type: string, minLength: 1, description: Guest name.}
      nights: {$ref: "#/types/Nights"}
      note: {type: string, optional: true, nullable: true, description: Free text.}
  RoomHeld:
    role: step
    description: The hotel holds a room.
    fields:
      roomId: {$ref: "#/types/Id", from: new}
      nights: {$ref: "#/types/Nights", from: BookingRequested.nights}
  RoomUnavailable:
    role: failure
    description: No room.
    fields:
      reason: {type: string}
  RoomReleased:
    role: compensation
    undoes: RoomHeld
    terminal: true
    description: The held room was given back.
    fields:
      roomId: {$ref: "#/types/Id", from: RoomHeld.roomId}
  CardCharged:
    role: step
    description: The guest's card was charged.
    fields:
      chargeId: {$ref: "#/types/Id", from: new}
  CardDeclined:
    role: failure
    description: The card was declined.
    fields: {}
  CardRefunded:
    role: compensation
    undoes: CardCharged
    terminal: true
    description: The charge was refunded.
    fields:
      chargeId: {$ref: "#/types/Id", from: CardCharged.chargeId}
  BookingConfirmed:
    role: outcome
    terminal: true
    description: Room held and paid.
  BookingCancelled:
    role: outcome
    undoes: BookingRequested
    description: The booking failed and is undone.
    fields:
      reason: {type: string}
participants:
  booking:
    description: Takes requests and decides each booking's outcome.
    state:
      status: {type: enum, values: [idle, open, confirmed, cancelled]}
      held: {type: bool}
      paid: {type: bool}
      outcomes: {type: counter, max: 2, ghost: true}
    reactions:
      - trigger: true
        note: a guest asks for a room
        alternatives:
          - {label: "request {saga}", when: "status == 'idle'", set: {status: open}, emit: [BookingRequested]}
      - join: {RoomHeld: held, CardCharged: paid}
        note: confirm once held and paid
        alternatives:
          - {label: ignore, when: "status != 'open'"}
          - {label: confirm, when: "status == 'open'", set: {status: confirmed, outcomes: outcomes + 1}, emit: [BookingConfirmed]}
      - on: [RoomUnavailable, CardDeclined]
        note: cancel on any failure
        alternatives:
          - {label: ignore, when: "status != 'open'"}
          - {label: cancel, when: "status == 'open'", set: {status: cancelled, outcomes: outcomes + 1}, emit: [BookingCancelled]}
  hotel:
    description: Holds rooms; gives a room back when the booking is cancelled.
    state:
      status: {type: enum, values: [none, held, failed, released, cancelled]}
      holds: {type: counter, max: 2, ghost: true}
    reactions:
      - on: BookingRequested
        alternatives:
          - {label: ignore, when: "status != 'none'"}
          - {label: hold, when: "status == 'none'", world: {room: free}, set: {status: held, holds: holds + 1}, emit: [RoomHeld]}
          - {label: no room, when: "status == 'none'", world: {room: taken}, set: {status: failed}, emit: [RoomUnavailable]}
      - on: BookingCancelled
        alternatives:
          - {label: remember, when: "status == 'none'", set: {status: cancelled}}
          - {label: ignore, when: "status != 'none' && status != 'held'"}
          - {label: release, when: "status == 'held'", set: {status: released, holds: holds - 1}, emit: [RoomReleased]}
  card:
    description: Charges the guest; refunds when the booking is cancelled.
    state:
      status: {type: enum, values: [none, charged, declined, refunded, cancelled]}
      held: {type: counter, max: 2, ghost: true}
    reactions:
      - on: BookingRequested
        alternatives:
          - {label: ignore, when: "status != 'none'"}
          - {label: charge, when: "status == 'none'", world: {card: approve}, set: {status: charged, held: held + 1}, emit: [CardCharged]}
          - {label: decline, when: "status == 'none'", world: {card: decline}, set: {status: declined}, emit: [CardDeclined]}
      - on: BookingCancelled
        alternatives:
          - {label: remember, when: "status == 'none'", set: {status: cancelled}}
          - {label: ignore, when: "status != 'none' && status != 'charged'"}
          - {label: refund, when: "status == 'charged'", set: {status: refunded, held: held - 1}, emit: [CardRefunded]}
properties:
  one-outcome: {always: booking.outcomes <= 1, description: at most one outcome}
  ends: {at_rest: "booking.status == 'confirmed' || booking.status == 'cancelled'", description: every booking ends}
  nothing-held: {at_rest: "booking.status == 'confirmed' || (hotel.holds == 0 && card.held == 0)", description: a cancelled booking holds nothing}
"""


@pytest.fixture
def booking_file(tmp_path) -> Path:
    path = tmp_path / "booking.saga.yaml"
    path.write_text(BOOKING, encoding="utf-8")
    return path


@pytest.fixture
def booking(booking_file):
    return load_spec(booking_file)


def _any_spec(ref, tmp_path):
    if ref == "booking":
        path = tmp_path / "booking.saga.yaml"
        path.write_text(BOOKING, encoding="utf-8")
        return load_spec(path)
    if ref in ("seed", "corrected"):
        return shipped_spec(ref)
    return load_spec(ref)


SPECS = ["booking", "seed", "corrected", *(str(p) for p in EXAMPLE_SAGAS)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# ------------------------------------------------------------------ generated schemas


def _corpus():
    """Valid examples, many broken variants of each, the broken and the seed event files."""
    odd = [None, 0, 1.5, -1, True, "", "x" * 600, " padded ", [], {}, "2024-01-15"]
    corpus = []
    for event in all_examples():
        corpus.append(event)
        for key in list(event):
            broken = copy.deepcopy(event)
            del broken[key]
            corpus.append(broken)
            for value in odd:
                corpus.append({**copy.deepcopy(event), key: value})
        for key, value in (("extra", 1), ("amount", "1e2"), ("timestamp", "2024-01-15T10:00:00+0100"),
                           ("timestamp", "2024-13-01T10:00:00Z"), ("currency", "EUR"),
                           ("schemaVersion", 2), ("eventId", "evt-1\n")):
            corpus.append({**copy.deepcopy(event), key: value})
        if "items" in event:
            for key in ("sku", "quantity", "unitPrice"):
                for value in (None, 0, 10_001, "", "1.5"):
                    broken = copy.deepcopy(event)
                    broken["items"][0][key] = value
                    corpus.append(broken)
    for line in (DATA / "broken_events.ndjson").read_text(encoding="utf-8").splitlines():
        try:
            corpus.append(json.loads(line))
        except ValueError:
            continue
    corpus.extend(json.loads((DATA / "seed_events.json").read_text(encoding="utf-8")))
    return [c for c in corpus if isinstance(c, dict) and isinstance(c.get("eventType"), str)]


@pytest.mark.parametrize("name", ["seed", "corrected"])
@pytest.mark.parametrize("draft", ["2020-12", "draft-07"])
def test_generated_schemas_judge_the_corpus_like_the_committed_ones(name, draft):
    spec = shipped_spec(name)
    validators = {e: _CLASSES[draft](spec_schema(spec, e, draft), format_checker=FORMAT_CHECKER)
                  for e in spec.event_names}
    verdicts = set()
    checked = 0
    for event in _corpus():
        if event["eventType"] not in validators:
            continue
        new = validators[event["eventType"]].is_valid(event)
        old = raw_validator_for(event["eventType"], draft).is_valid(event)
        assert new == old, event
        verdicts.add(new)
        checked += 1
    assert checked > 1000 and verdicts == {True, False}


def test_schema_of_a_booking_event(booking):
    schema = spec_schema(booking, "BookingRequested")
    props = schema["properties"]
    assert list(props)[:6] == ["eventId", "eventType", "schemaVersion", "sagaId", "timestamp", "bookingId"]
    assert props["eventType"]["const"] == "BookingRequested" and props["schemaVersion"]["const"] == 1
    assert schema["required"] == ["eventId", "eventType", "schemaVersion", "sagaId", "timestamp",
                                  "bookingId", "guest", "nights"]
    assert schema["additionalProperties"] is False
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["nights"] == {"$ref": "#/$defs/Nights"}
    assert schema["$defs"]["Nights"] == {"title": "Nights", "type": "integer", "minimum": 1, "maximum": 30}
    assert schema["$id"] == "https://sagaspec.dev/schemas/booking/v1/BookingRequested.json"
    jsonschema.Draft202012Validator.check_schema(schema)
    old = spec_schema(booking, "BookingRequested", "07")
    jsonschema.Draft7Validator.check_schema(old)
    assert "$defs" not in json.dumps(old) and old["definitions"]["Nights"]["maximum"] == 30
    assert old["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_a_version_bump_is_the_schema_version(tmp_path):
    path = tmp_path / "b.saga.yaml"
    path.write_text(BOOKING.replace("  CardDeclined:\n    role: failure\n",
                                    "  CardDeclined:\n    role: failure\n    version: 3\n"), encoding="utf-8")
    spec = load_spec(path)
    schema = spec_schema(spec, "CardDeclined")
    assert schema["properties"]["schemaVersion"]["const"] == 3
    assert schema["$id"].endswith("/booking/v3/CardDeclined.json")
    event = spec_examples(spec, "CardDeclined")[0]
    assert event["schemaVersion"] == 3 and validate_event(event, spec=spec) == []
    event["schemaVersion"] = 1
    assert [p.pointer for p in validate_event(event, spec=spec)] == ["/schemaVersion"]


@pytest.mark.parametrize("ref", SPECS, ids=lambda r: Path(r).name)
@pytest.mark.parametrize("draft", ["2020-12", "07"])
def test_every_event_of_every_spec_accepts_its_example_and_rejects_wrong_ones(ref, draft, tmp_path):
    spec = _any_spec(ref, tmp_path)
    schemas = spec_schemas(spec, draft)
    assert list(schemas) == list(spec.event_names)
    for name in spec.event_names:
        examples = spec_examples(spec, name)
        assert examples, f"no example for {name}"
        good = examples[0]
        assert validate_event(good, draft, spec) == [] and is_valid_event(good, draft, spec)
        required = [f for f in schemas[name]["required"] if f not in ("eventType",)]
        missing = {k: v for k, v in good.items() if k != required[-1]}
        assert [str(p) for p in validate_event(missing, draft, spec)] == [
            f'/{required[-1]}: missing required field "{required[-1]}"']
        extra = {**good, "surprise": 1}
        assert [p.pointer for p in validate_event(extra, draft, spec)] == ["/surprise"]
        assert not is_valid_event(extra, draft, spec)
        wrong_id = {**good, "eventId": ""}
        assert [p.pointer for p in validate_event(wrong_id, draft, spec)] == ["/eventId"]


def test_validation_by_spec_file_and_unknown_types(booking, booking_file):
    event = spec_examples(booking, "RoomHeld")[0]
    assert validate_event(event, spec=str(booking_file)) == []
    assert schema_for("RoomHeld", spec=booking)["title"] == "RoomHeld"
    assert [str(p) for p in validate_event(event)] == [
        '/eventType: unknown eventType "RoomHeld"; expected one of OrderCreated, PaymentProcessed, '
        'PaymentFailed, PaymentRefunded, InventoryReserved, InventoryReservationFailed, '
        'InventoryReleased, OrderCompleted, OrderCancelled, NotificationSent']
    order = all_examples()[0]
    assert [p.message for p in validate_event(order, spec=booking)] == [
        'unknown eventType "OrderCreated"; expected one of BookingRequested, RoomHeld, '
        'RoomUnavailable, RoomReleased, CardCharged, CardDeclined, CardRefunded, '
        'BookingConfirmed, BookingCancelled']
    event["nights"] = 31
    assert [str(p) for p in validate_event(event, spec=booking)] == [
        "/nights: expected an integer <= 30, got number 31"]
    event["nights"], event["roomId"] = 2, "Room 1"
    assert [p.pointer for p in validate_event(event, spec=booking)] == ["/roomId"]


def test_editing_a_spec_file_changes_its_schemas(tmp_path):
    # A spec compares by name and file; its schemas must follow its content all the same.
    path = tmp_path / "b.saga.yaml"
    path.write_text(BOOKING, encoding="utf-8")
    event = spec_examples(load_spec(path), "BookingRequested")[0]
    event["nights"] = 40
    assert not is_valid_event(event, spec=load_spec(path))
    path.write_text(BOOKING.replace("maximum: 30", "maximum: 60"), encoding="utf-8")
    assert is_valid_event(event, spec=load_spec(path))


# ------------------------------------------------------------------ CLI: schemas, validate


def test_schemas_cli_on_a_spec_file(booking_file, tmp_path):
    listed = run("schemas", "list", "--design", booking_file)
    assert listed.exit_code == 0
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert [r[0] for r in rows][:3] == ["BookingRequested", "RoomHeld", "RoomUnavailable"]
    assert rows[1] == ["RoomHeld", "v1", "hotel", "https://sagaspec.dev/schemas/booking/v1/RoomHeld.json"]
    shown = run("schemas", "show", "CardRefunded", "--spec", booking_file, "--draft", "07")
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["properties"]["chargeId"] == {"$ref": "#/definitions/Id"}
    unknown = run("schemas", "show", "OrderCreated", "--design", booking_file)
    assert unknown.exit_code == 2 and "expected one of BookingRequested" in unknown.stderr
    out = tmp_path / "schemas"
    exported = run("schemas", "export", out, "--design", booking_file)
    assert exported.exit_code == 0 and "wrote 9 2020-12 schemas" in exported.stderr
    assert sorted(p.name for p in out.iterdir())[0] == "BookingCancelled.json"
    assert run("schemas", "export", out, "--design", booking_file, "--check").exit_code == 0
    (out / "RoomHeld.json").write_text("{}", encoding="utf-8")
    drift = run("schemas", "export", out, "--design", booking_file, "--check")
    assert drift.exit_code == 1 and "RoomHeld.json: differs from the spec" in drift.stdout
    assert f"--design {booking_file}" in drift.stderr


def test_validate_cli_on_a_spec_file(booking, booking_file, tmp_path):
    good = [spec_examples(booking, e)[0] for e in booking.event_names]
    bad = {**good[1], "nights": 0}
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(json.dumps(e) for e in [*good, bad]) + "\n", encoding="utf-8")
    result = run("validate", "--design", booking_file, events)
    assert result.exit_code == 1
    assert result.stdout == f"{events}:10:1: /nights: expected an integer >= 1, got number 0\n"
    assert "9 valid, 1 invalid event in 1 file" in result.stderr
    only_good = tmp_path / "good.json"
    only_good.write_text(json.dumps(good), encoding="utf-8")
    assert run("validate", "--spec", booking_file, only_good).exit_code == 0
    # The order saga's schemas know none of these events.
    assert run("validate", only_good).exit_code == 1
    missing = run("validate", "--design", tmp_path / "nope.saga.yaml", only_good)
    assert missing.exit_code == 2 and "nope.saga.yaml: cannot read" in missing.stderr


# ------------------------------------------------------------------ lint


def test_lint_names_the_unhandled_event_of_a_broken_spec(tmp_path):
    path = tmp_path / "broken.saga.yaml"
    path.write_text(BOOKING.replace("on: [RoomUnavailable, CardDeclined]", "on: [RoomUnavailable]"),
                    encoding="utf-8")
    found = [(f.rule, f.event, f.service) for f in lint_spec(load_spec(path))]
    assert found == [
        ("published-not-consumed", "CardDeclined", "card"),
        ("failure-not-handled", "CardDeclined", "card"),
        ("compensation-missing", "CardDeclined", "booking"),
        ("compensation-missing", "CardDeclined", "hotel"),
    ]
    result = run("lint", "--design", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        "failure-not-handled: CardDeclined (card): CardDeclined reports a failed step, but no "
        "service reacts to it (nobody subscribes to it)")
    assert "design booking: 4 findings" in result.stderr


@pytest.mark.parametrize("ref", [r for r in SPECS if "buggy" not in r and r != "seed"],
                         ids=lambda r: Path(r).name)
def test_lint_of_every_correct_spec_is_clean(ref, tmp_path):
    spec = _any_spec(ref, tmp_path)
    assert lint_spec(spec) == []
    result = run("lint", "--spec", spec.source if ref not in ("seed", "corrected") else ref)
    assert result.exit_code == 0 and result.stderr.endswith(": clean\n")


def test_reachability_rules(booking):
    d = booking.design()
    # booking never publishes BookingCancelled: nothing undoes a held room or a charge.
    no_cancel = dataclasses.replace(d, reactions=tuple(
        dataclasses.replace(r, emits=((),)) if "CardDeclined" in r.on else r for r in d.reactions))
    found = [(f.rule, f.event, f.service) for f in lint_design(no_cancel, booking.event_names)]
    assert ("compensation-never-triggered", "RoomReleased", "hotel") in found
    assert ("compensation-never-triggered", "CardRefunded", "card") in found
    assert ("reaction-unreachable", "BookingCancelled", "hotel") in found
    assert ("reaction-unreachable", "BookingCancelled", "card") in found
    # A join on two outcomes of one reaction never completes.
    bad_join = dataclasses.replace(d, reactions=tuple(
        dataclasses.replace(r, on=("RoomHeld", "RoomUnavailable")) if r.join else r for r in d.reactions))
    found = [(f.rule, f.event, f.service, f.message) for f in lint_design(bad_join, booking.event_names)]
    assert ("join-never-completes", "RoomHeld", "booking",
            "booking waits for RoomHeld + RoomUnavailable, but RoomHeld and RoomUnavailable never "
            "both happen in one saga") in found
    never = dataclasses.replace(d, reactions=tuple(
        dataclasses.replace(r, on=("RoomHeld", "RoomReleased")) if r.join else r for r in no_cancel.reactions))
    found = [(f.rule, f.event) for f in lint_design(never, booking.event_names)]
    assert ("join-never-completes", "RoomReleased") in found
    assert lint_spec(booking) == []


def test_lint_rules_know_no_event_names():
    code = Path(lint_module.__file__).read_text(encoding="utf-8")
    body = code.split('"""', 2)[2]  # after the module docstring
    for word in ("EVENT_TYPES", "spec.events", "Order", "Payment", "Inventory"):
        assert word not in body, word


def test_parse_events_then_validate_by_spec(booking):
    text = json.dumps(spec_examples(booking, "CardCharged")[0])
    (record,) = parse_events(text, "x.json")
    assert validate_event(record.value, spec=booking) == []


BROKEN_SPEC = """\
saga: x
format: 1
events:
  A: {role: trigger}
participants:
  p:
    reactions:
      - on: Nope
        alternatives: [{label: a}]
"""


@pytest.mark.parametrize("args", [
    ["lint", "--design", "{spec}"],
    ["schemas", "list", "--spec", "{spec}"],
    ["schemas", "show", "A", "--design", "{spec}"],
    ["schemas", "export", "{out}", "--design", "{spec}"],
    ["validate", "--design", "{spec}", "{spec}"],
    ["docs", "--design", "{spec}", "--out", "{out}"],
    ["docs", "asyncapi", "--design", "{spec}"],
])
def test_a_broken_spec_is_one_line_naming_file_line_and_column(args, tmp_path):
    spec = tmp_path / "bad.saga.yaml"
    spec.write_text(BROKEN_SPEC, encoding="utf-8")
    out = tmp_path / "out"
    result = run(*[a.format(spec=spec, out=out) for a in args])
    assert result.exit_code == 2
    assert result.stderr == f"error: {spec}:8:13: unknown event 'Nope'; expected one of A\n"
    assert result.stdout == "" and not out.exists()


_KEYWORDS = set(jsonschema.Draft202012Validator.VALIDATORS) | {
    "$ref", "$comment", "title", "description", "examples", "default", "deprecated", "readOnly",
    "writeOnly", "$defs", "contentMediaType", "contentEncoding",
}


@pytest.mark.parametrize("ref", SPECS, ids=lambda r: Path(r).name)
def test_every_field_schema_uses_json_schema_keywords_only(ref, tmp_path):
    # Regression: `description: The charge, if known.` in a YAML flow mapping is two keys,
    # the second ('if known.': null) a junk keyword that ended up in the generated schema.
    spec = _any_spec(ref, tmp_path)
    for owner, schema in [*(("types." + n, s) for n, s in spec.types.items()),
                          *((f"{e.name}.{f.name}", f.schema) for e in spec.events for f in e.fields),
                          *((f"common.{f.name}", f.schema) for f in spec.common)]:
        assert set(schema) <= _KEYWORDS, (owner, sorted(set(schema) - _KEYWORDS))
