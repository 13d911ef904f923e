"""`sagaspec validate`: every invalid event is one precise line; exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.spec import examples_for, parse_events, read_events
from sagaspec.spec.eventfile import check_records

from sagaspec.cli import main

DATA = Path(__file__).parent.parent / "data" / "spec"
ALL_TYPES = ("OrderCreated, PaymentProcessed, PaymentFailed, PaymentRefunded, InventoryReserved, "
             "InventoryReservationFailed, InventoryReleased, OrderCompleted, OrderCancelled, "
             "NotificationSent")
MONEY = 'expected a decimal string with exactly two fraction digits, like "100.00"'
STAMP = 'expected an RFC 3339 timestamp with a time zone, like "2024-01-15T10:00:00Z"'
IDENT = "expected an identifier (1-128 letters, digits or . _ : -, starting with a letter or digit)"

#: line -> (JSON pointer, message) for tests/data/spec/broken_events.ndjson
BROKEN = {
    1: ("/amount", f"{MONEY}, got number 100.0"),
    2: ("/amount", f'{MONEY}, got string "100"'),
    3: ("(event)", 'expected an event (a JSON object), got array ["OrderCreated", "evt-123"]'),
    4: ("/eventId", 'missing required field "eventId"'),
    5: ("/timestamp", 'missing required field "timestamp"'),
    6: ("/timestamp", f'{STAMP}, got string "2024-01-15T10:00:00"'),
    7: ("/timestamp", f'{STAMP}, got string "2024-02-30T10:00:00Z" (day is out of range for month)'),
    8: ("/eventType", f'unknown eventType "OrderShipped"; expected one of {ALL_TYPES}'),
    9: ("/eventType", f'missing required field "eventType" (one of {ALL_TYPES})'),
    10: ("/eventType", "expected an event type name (a string), got number 42"),
    11: ("/schemaVersion", "unsupported schemaVersion 2; this sagaspec knows OrderCreated version 1"),
    12: ("/discount", 'unexpected field "discount": OrderCreated v1 has no such field'),
    13: ("/items", "expected at least 1 item, got 0"),
    14: ("/items/0/quantity", "expected an integer >= 1, got number 0"),
    15: ("/items/0/sku", 'missing required field "sku"'),
    16: ("/status", 'expected "SUCCESS", got string "FAILED"'),
    17: ("/reason", 'missing required field "reason"'),
    18: ("/orderId", f'{IDENT}, got string ""'),
    19: ("/currency", 'expected a three-letter ISO 4217 code, like "USD", got string "usd"'),
    20: ("(event)", "invalid JSON: Expecting property name enclosed in double quotes (column 74)"),
}


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_seed_events_validate():
    result = run("validate", str(DATA / "seed_events.json"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "2 valid, 0 invalid events in 1 file" in result.stderr


def test_each_broken_variant_is_reported_precisely():
    path = DATA / "broken_events.ndjson"
    result = run("validate", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 20, result.stdout
    for number, line in enumerate(lines, start=1):
        pointer, message = BROKEN[number]
        assert line == f"{path}:{number}:1: {pointer}: {message}"
    assert "0 valid, 20 invalid events in 1 file" in result.stderr
    assert "Traceback" not in result.output


def test_json_output_and_several_files(tmp_path):
    broken = DATA / "broken_events.ndjson"
    result = run("validate", "--format", "json", str(DATA / "seed_events.json"), str(broken))
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["line"], r["pointer"] or "(event)", r["message"]) for r in rows] == [
        (n, p, m) for n, (p, m) in BROKEN.items()]
    assert rows[0]["eventType"] == "OrderCreated" and rows[0]["eventId"] == "evt-123"
    assert "2 valid, 20 invalid events in 2 files" in result.stderr


def test_array_reports_the_line_of_each_element(tmp_path):
    good, bad = examples_for("OrderCreated")[0], examples_for("PaymentFailed")[0]
    bad["amount"] = "12.5"
    text = "[\n  " + json.dumps(good) + ",\n\n  " + json.dumps(bad) + "\n]\n"
    path = tmp_path / "events.json"
    path.write_text(text, encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert result.stdout == f'{path}:4:3: /amount: {MONEY}, got string "12.5"\n'


def test_one_pretty_printed_object(tmp_path):
    event = examples_for("OrderCompleted")[0]
    del event["userId"]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(event, indent=2), encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert result.stdout == f'{path}:1:1: /userId: missing required field "userId"\n'


def test_stdin_and_multiple_problems_per_event():
    event = examples_for("OrderCreated")[0]
    event.update(amount=1, sagaId="")
    ndjson = json.dumps(examples_for("OrderCancelled")[0]) + "\n" + json.dumps(event) + "\n"
    result = run("validate", "-", input=ndjson)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f'<stdin>:2:1: /sagaId: {IDENT}, got string ""',
        f"<stdin>:2:1: /amount: {MONEY}, got number 1",
    ]
    assert "1 valid, 1 invalid" in result.stderr
    assert run("validate", "-", input=json.dumps(examples_for("OrderCancelled"))).exit_code == 0


def test_invalid_json_empty_and_binary_files(tmp_path):
    (tmp_path / "bad.json").write_text('{\n  "eventId": "x",\n  "amount" 1\n}\n', encoding="utf-8")
    (tmp_path / "empty.ndjson").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "bin.json").write_bytes(b'{"a": 1}\n\xff\xfe')
    result = run("validate", *(str(tmp_path / n) for n in ("bad.json", "empty.ndjson", "bin.json")))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'bad.json'}:3:12: (event): invalid JSON: Expecting ':' delimiter (column 12)",
        f"{tmp_path / 'empty.ndjson'}:1:1: (event): no events (empty file)",
        f"{tmp_path / 'bin.json'}:2:1: (event): not UTF-8 text (byte 9)",
    ]


def test_unreadable_file_is_exit_2_but_others_are_still_checked(tmp_path):
    missing = tmp_path / "missing.json"
    result = run("validate", str(missing), str(DATA / "broken_events.ndjson"))
    assert result.exit_code == 2
    assert f"error: {missing}: cannot read (No such file or directory)" in result.stderr
    assert len(result.stdout.splitlines()) == 20
    folder = run("validate", str(tmp_path))
    assert folder.exit_code == 2 and "is a folder" in folder.stderr


@pytest.mark.parametrize("args", [["validate"], ["validate", "--draft", "3", "x.json"],
                                  ["validate", "--format", "xml", "x.json"]])
def test_usage_errors_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2
    # One line: what is wrong and where to read the usage.
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "validate --help" in lines[0]
    assert "Traceback" not in result.output


def test_ndjson_broken_line_does_not_hide_the_next():
    good = json.dumps(examples_for("OrderCancelled")[0])
    records = parse_events(f'{good}\n{{"eventId": \n{good}\nNaN\n', "t.ndjson")
    assert [(r.line, r.error) for r in records] == [
        (1, None), (2, "invalid JSON: Expecting value (column 13)"), (3, None),
        (4, "invalid JSON: NaN is not valid JSON"),
    ]
    assert [p.message for _, p in check_records(records)] == [
        "invalid JSON: Expecting value (column 13)", "invalid JSON: NaN is not valid JSON"]


def test_read_events_positions(tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text('\n\n  {"a": 1} {"b": 2}\n[3]\n', encoding="utf-8")
    assert [(r.line, r.column, r.index, r.value) for r in read_events(path)] == [
        (3, 3, 0, {"a": 1}), (3, 12, 1, {"b": 2}), (4, 1, 2, [3])]
    assert read_events(path)[1].where == f"{path}:3:12"
