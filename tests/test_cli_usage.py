"""Every command: usage errors are one line ``error: ...`` (exit 2), options that do not
apply are rejected, defaults are the same everywhere."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sagaspec.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "args",
    [
        ["conform", "--participant", "bogus"],
        ["serve", "--port", "-5"],
        ["docs", "--nope"],
        ["validate"],
        ["schemas", "export", "--draft", "1999"],
        ["lint", "--format", "xml"],
    ],
)
def test_click_usage_errors_are_one_line(args):
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Usage:" not in r.output and "Try '" not in r.output


def test_serve_rejects_a_seed_without_a_bus_to_reorder():
    r = run("serve", "--participant", "payment", "--seed", "1")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "error: --seed orders the deliveries of the in-memory bus of --participant system; "
        "payment alone has no bus to reorder"
    )


def test_lint_defaults_to_the_corrected_design_like_every_command():
    r = run("lint")
    assert r.exit_code == 0, r.output
    assert r.stderr == "design corrected: clean\n"
