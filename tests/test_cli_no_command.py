"""A group called without a command: one line ``error: ...`` (exit 2), as every usage
error, not click's whole help flattened into the error line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from sagaspec.cli import main


@pytest.mark.parametrize(("args", "names", "where"), [
    ([], "check, conform, docs, faults, init, lint, monitor, mutate, schemas, serve, spec, "
         "validate", "sagaspec"),
    (["schemas"], "diff, export, list, show", "sagaspec schemas"),
    (["spec"], "schema, validate", "sagaspec spec"),
])
def test_no_command_is_one_line_naming_the_commands(args, names, where):
    r = CliRunner().invoke(main, args, prog_name="sagaspec")
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert r.stderr == f"error: no command given; expected one of {names} (see {where} --help)\n"


def test_bare_sagaspec_as_a_process():
    r = subprocess.run([sys.executable, "-m", "sagaspec"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("error: no command given; expected one of check, conform")
    assert r.stderr.count("\n") == 1 and "Usage:" not in r.stderr


def test_help_is_still_the_multi_line_help():
    r = CliRunner().invoke(main, ["--help"], prog_name="sagaspec")
    assert r.exit_code == 0
    assert r.stdout.startswith("Usage: sagaspec [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in r.stdout
