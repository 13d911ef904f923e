"""Hostile input meets a limit, checked before or while parsing, with a one-line error
naming the limit: message size, nesting depth, number length, and reading stops at a
size limit (``validate /dev/zero`` ends)."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest
from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.broker import decode_message
from sagaspec.examples.system import make_service
from sagaspec.spec._jsonlimits import MESSAGE_LIMITS, JSONLimitError, loads

DEEP = b"[" * 150_000 + b"]" * 150_000
HUGE_INT = b'{"eventType": "OrderCreated", "amount": ' + b"9" * 5000 + b"}"
BIG = b'{"eventType": "OrderCreated", "pad": "' + b"x" * (MESSAGE_LIMITS.max_bytes + 10) + b'"}'


def test_the_limits_module_examples_run():
    result = doctest.testmod(importlib.import_module("sagaspec.spec._jsonlimits"))
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("data, limit", [
    (DEEP, "max_depth=64"), (HUGE_INT, "max_number=100"), (BIG, f"max_bytes={MESSAGE_LIMITS.max_bytes}"),
], ids=["deep", "huge-int", "big"])
def test_loads_refuses_with_one_line_naming_the_limit(data, limit):
    with pytest.raises(JSONLimitError) as info:
        loads(data)
    assert f"(limit {limit})" in str(info.value) and "\n" not in str(info.value)


def test_brackets_inside_strings_do_not_count():
    assert loads('{"a": "' + "[" * 500 + '"}') == {"a": "[" * 500}
    assert loads("[" * 64 + "]" * 64) is not None


@pytest.mark.parametrize("data, limit", [
    (DEEP, "max_depth"), (HUGE_INT, "max_number"), (BIG, "max_bytes"),
], ids=["deep", "huge-int", "big"])
def test_a_consumer_refuses_hostile_messages_and_dead_letters_them(data, limit):
    decoded = decode_message(data, {"content-type": "application/json"})
    assert isinstance(decoded, RawMessage) and limit in decoded.reason
    service = make_service("payment")
    assert service.handle(data) == "dead-lettered"  # no RecursionError, no ValueError
    (record,) = service.dead_letters()
    assert limit in record["reason"] and len(record["message"]) <= 2003


@pytest.mark.parametrize("content, fragment", [
    ("/dev/zero", "file larger than 67,108,864 bytes (limit max_bytes=67108864)"),
    (DEEP, "JSON nested deeper than 64 levels (limit max_depth=64)"),
    (HUGE_INT, "JSON number of 5000 characters (limit max_number=100)"),
], ids=["dev-zero", "deep", "huge-int"])
def test_validate_ends_with_one_line_naming_the_limit(tmp_path, content, fragment):
    if isinstance(content, bytes):
        path = tmp_path / "events.json"
        path.write_bytes(content)
    else:
        path = content
    r = subprocess.run([sys.executable, "-m", "sagaspec", "validate", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr
    assert fragment in r.stdout + r.stderr
    assert sum(fragment in line for line in (r.stdout + r.stderr).splitlines()) == 1
