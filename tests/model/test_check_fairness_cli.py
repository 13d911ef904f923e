"""``sagaspec check --fairness weak|strong`` on a model whose escape is enabled intermittently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(120)

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_gate() -> str:
    """The gate model exactly as the README shows it (so the README's commands run on it)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (gate,) = [b for b in blocks if "class Gate(Participant)" in b]
    return gate


@pytest.fixture
def gate(tmp_path, monkeypatch):
    (tmp_path / "gate_model.py").write_text(_readme_gate())
    monkeypatch.chdir(tmp_path)
    return "gate_model.py:SYSTEM"


def check(*args: str):
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def test_weak_fairness_finds_the_lasso_and_strong_fairness_proves_it(gate):
    # The README's two commands, verbatim.
    weak = check("--model", gate, "--bus", "unordered")
    assert weak.exit_code == 1, weak.output
    assert "fairness=weak" in weak.stdout
    assert "escapes" in weak.stdout and "fair cycle" in weak.stdout
    strong = check("--model", gate, "--bus", "unordered", "--fairness", "strong")
    assert strong.exit_code == 0, strong.output
    assert "fairness=strong" in strong.stdout


def test_fairness_in_json_and_a_bad_value(gate):
    import json

    doc = json.loads(check("--model", gate, "--bus", "unordered", "--fairness", "strong", "--json").stdout)
    assert doc["config"]["fairness"] == "strong" and doc["ok"] is True
    bad = check("--model", gate, "--fairness", "fair")
    assert bad.exit_code == 2 and "--fairness" in bad.output
