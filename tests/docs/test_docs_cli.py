"""`sagaspec docs` and `sagaspec docs asyncapi` from the command line."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(300)


def test_docs_writes_the_site_and_diff_checks_it(tmp_path):
    runner = CliRunner()
    out = tmp_path / "site"
    r = runner.invoke(main, ["docs", "--design", "seed", "--out", str(out), "--no-verify"])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and (out / "index.html").is_file() and (out / "README.md").is_file()
    r = runner.invoke(main, ["docs", "--design", "seed", "--out", str(out), "--no-verify", "--diff"])
    assert r.exit_code == 0 and "up to date" in r.output
    (out / "flows.md").write_text("stale\n")
    r = runner.invoke(main, ["docs", "--design", "seed", "--out", str(out), "--no-verify", "--diff"])
    assert r.exit_code == 1
    assert "differs: flows.md" in r.output and "regenerate with: sagaspec docs" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["docs", "--design", "nope", "--out", "x"], "error: unknown design 'nope'; expected one of seed, corrected"),
        (["docs"], "--out DIR is required"),
        (["docs", "asyncapi", "--design", "nope"], "error: unknown design 'nope'"),
        (["docs", "asyncapi", "--content-mode", "avro"], "Invalid value for '--content-mode'"),
    ],
)
def test_bad_usage_is_one_clear_line(args, message):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = CliRunner().invoke(main, ["docs", "--out", str(f), "--no-verify", "--no-model"])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_asyncapi_to_stdout_and_file(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["docs", "asyncapi", "--design", "seed"])
    assert r.exit_code == 0
    doc = yaml.safe_load(r.output)
    assert doc["asyncapi"] == "3.0.0" and "seed" in doc["info"]["title"]
    r = runner.invoke(main, ["docs", "asyncapi", "--format", "json", "--content-mode", "structured",
                             "--address-prefix", "orders.", "--out", str(tmp_path / "a.json")])
    assert r.exit_code == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["channels"]["OrderCreated"]["address"] == "orders.OrderCreated"
    assert doc["components"]["messages"]["OrderCreated"]["contentType"] == "application/cloudevents+json"


def test_check_report_option(tmp_path):
    out = tmp_path / "check.html"
    r = CliRunner().invoke(main, ["check", "--design", "seed", "--orders", "1", "--report", str(out)])
    assert r.exit_code == 1  # the seed design has violations
    html = out.read_text()
    assert "saga-terminates (stuck)" in html and "<svg" in html


def test_conform_report_option(tmp_path):
    out = tmp_path / "conform.html"
    r = CliRunner().invoke(main, [
        "conform", "--participant", "payment", "--mutant", "no-idempotency", "-n", "30",
        "--seed", "1", "--quiet", "--failures-dir", str(tmp_path / "f"), "--report", str(out),
        "--no-shrink",  # the option writes the report; shrinking is not its business (4 s)
    ])
    assert r.exit_code == 1, r.output
    html = out.read_text()
    assert "single-charge" in html and 'data-diagram="failure-' in html
    r = CliRunner().invoke(main, ["conform", "-n", "1", "--report", str(tmp_path / "no" / "x.html")])
    assert r.exit_code == 2 and "does not exist" in r.output
