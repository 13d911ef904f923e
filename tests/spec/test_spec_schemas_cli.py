"""`sagaspec schemas list|show|export`, and the doctests of the spec modules."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.spec import EVENT_TYPES, schema_for

from sagaspec.cli import main

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "spec" / "schemas"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list():
    result = run("schemas", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(EVENT_TYPES)
    assert lines[1].split() == ["PaymentProcessed", "v1", "payment",
                                "https://sagaspec.dev/schemas/v1/PaymentProcessed.json"]


@pytest.mark.parametrize("draft", ["2020-12", "07"])
def test_show(draft):
    result = run("schemas", "show", "InventoryReleased", "--draft", draft)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == schema_for("InventoryReleased", draft)


def test_show_unknown_event():
    result = run("schemas", "show", "OrderShipped")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: unknown eventType 'OrderShipped'; expected one of OrderCreated")


@pytest.mark.parametrize("draft,folder", [("2020-12", "2020-12"), ("07", "draft-07")])
def test_export_and_check(tmp_path, draft, folder):
    target = tmp_path / "out"
    result = run("schemas", "export", str(target), "--draft", draft)
    assert result.exit_code == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{t}.json" for t in EVENT_TYPES)
    for path in target.iterdir():
        assert path.read_text(encoding="utf-8") == (REPO_SCHEMAS / folder / path.name).read_text(encoding="utf-8")
    assert run("schemas", "export", str(target), "--draft", draft, "--check").exit_code == 0
    (target / "OrderCreated.json").write_text("{}", encoding="utf-8")
    drift = run("schemas", "export", str(target), "--draft", draft, "--check")
    assert drift.exit_code == 1
    assert drift.stdout == f"{target / 'OrderCreated.json'}: differs from the models\n"
    assert "regenerate with: sagaspec schemas export" in drift.stderr


def test_export_usage_errors(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    assert run("schemas", "export", str(a_file)).exit_code == 2
    bad = run("schemas", "export", str(tmp_path / "x"), "--draft", "2019-09")
    assert bad.exit_code == 2 and "unknown JSON Schema draft '2019-09'" in bad.output


@pytest.mark.parametrize("module", [
    "schemas", "schemagen", "examples", "cloudevents", "evolution", "lint", "eventfile",
    "strategies", "events", "designs",
])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(f"sagaspec.spec.{module}"))
    assert result.attempted > 0 and result.failed == 0
