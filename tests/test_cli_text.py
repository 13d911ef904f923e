"""What the CLI says to a new user: every option explains itself in --help, counts agree
with their nouns, serve's --design points a spec file to --spec, and init's starter spec
names its schema portably."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click
import pytest
from cli_commands import commands
from click.testing import CliRunner

from sagaspec.cli import main
from sagaspec.cli._plural import plural


def test_every_option_of_every_command_has_help():
    every = dict(commands())
    assert ("faults",) in every and ("docs", "asyncapi") in every and ("spec", "validate") in every
    missing = [f"sagaspec {' '.join(words)} {param.opts[0]}"
               for words, cmd in every.items() for param in cmd.params
               if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()]
    assert missing == []


def test_faults_help_describes_its_workload_options():
    r = CliRunner().invoke(main, ["faults", "--help"], terminal_width=200)
    assert r.exit_code == 0
    for option, words in (("--sagas", "How many sagas"), ("--decline-rate", "declined"), ("--short-rate", "scarce")):
        line = next(line for line in r.output.splitlines() if line.strip().startswith(option))
        assert words in line, line


def test_plural():
    assert plural(1, "example") == "1 example"
    assert plural(0, "example") == "0 examples"
    assert plural(2, "property", "properties") == "2 properties"
    assert plural(1, "property", "properties") == "1 property"


def test_a_check_of_one_property_says_property(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["check", "--design", "seed", "--property", "saga-terminates"])
    assert r.exit_code == 1
    assert "Verdict: 1 of 1 property VIOLATED (saga-terminates)" in r.stdout
    ok = CliRunner().invoke(main, ["check", "--property", "single-charge"])
    assert ok.exit_code == 0, ok.output
    assert "Verdict: 1 property holds within the bounds" in ok.stdout
    assert "1 properties" not in r.stdout + ok.stdout


def test_a_conform_run_of_one_example_says_example():
    r = CliRunner().invoke(main, ["conform", "--participant", "payment", "-n", "1", "--seed", "1"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    # Not "1 examples" as a count ("5.1 examples/s", a rate, may say it by chance).
    assert "1 example," in text and not re.search(r"(?<![\d.])1 examples\b(?!/s)", text), text
    assert "with 1 order, 1 duplicate, 0 crashes per participant; 0 of 1 case left those bounds" in text, text
    assert "(s)" not in text.split("model coverage:", 1)[1].split("(the share", 1)[0]


def test_a_spec_of_one_participant_and_one_schedule_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init", "travel"]).exit_code == 0
    r = CliRunner().invoke(main, ["mutate", "--design", "travel.saga.yaml", "-n", "1", "--seed", "1",
                                  "--operator", "skip-compensation"])
    first = r.output.splitlines()[0]
    assert "1 schedule per mutant" in first, r.output
    assert "schedule(s)" not in r.output and " 1 schedules" not in r.output


def test_serve_design_with_a_spec_file_points_to_spec(tmp_path):
    r = CliRunner().invoke(main, ["serve", "--design", "travel.saga.yaml"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: --design takes corrected or seed, not 'travel.saga.yaml'; "
                               "for a spec file use --spec FILE"), lines[0]


def test_init_names_its_schema_portably(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["init", "travel"])
    assert r.exit_code == 0, r.output
    first = (tmp_path / "travel.saga.yaml").read_text().splitlines()[0]
    # no path of this machine (site-packages, a temp folder, the checkout): a name relative
    # to the spec file, whose schema init wrote next to it
    assert first == "# yaml-language-server: $schema=saga-spec.schema.json", first
    assert "/" not in first.split("$schema=", 1)[1]
    schema = json.loads((tmp_path / "saga-spec.schema.json").read_text())
    assert schema == json.loads(CliRunner().invoke(main, ["spec", "schema"]).stdout)
    # the folder moved (committed, cloned elsewhere): the line still finds the schema
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.copytree(tmp_path, moved)
    assert (moved / first.split("$schema=", 1)[1]).is_file()
    # a second spec in the folder leaves the schema there alone
    (tmp_path / "saga-spec.schema.json").write_text("{}")
    again = CliRunner().invoke(main, ["init", "other"])
    assert again.exit_code == 0 and (tmp_path / "saga-spec.schema.json").read_text() == "{}"


@pytest.mark.parametrize("name", ["travel"])
def test_the_starter_spec_text_has_no_machine_path(name):
    from sagaspec.cli.spec import starter_spec

    text = starter_spec(name)
    assert "site-packages" not in text and "/tmp" not in text and str(Path.home()) not in text
