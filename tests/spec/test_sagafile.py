"""The saga spec file: loading, load-time errors with FILE:LINE:COL, and the CLI around it."""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from sagaspec.model import Config, Msg, explore
from sagaspec.model.compile import spec_system
from sagaspec.spec.sagafile import (
    SHIPPED,
    SagaSpec,
    format_schema,
    load_spec,
    parse_spec,
    shipped_spec,
)

from sagaspec.cli import main
from sagaspec.errors import InputError, ModelError, SpecError

STARTER = resources.files("sagaspec.spec").joinpath("data/starter.saga.yaml").read_text().replace("__NAME__", "t")


def spec_text(**replace: str) -> str:
    text = STARTER
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def error_of(text: str, source: str = "t.saga.yaml") -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source)
    message = str(info.value)
    assert "\n" not in message
    return message


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_the_format_schema_is_a_valid_2020_12_schema_and_the_shipped_specs_follow_it():
    jsonschema.Draft202012Validator.check_schema(format_schema())
    assert format_schema()["$schema"].endswith("2020-12/schema")
    for name in ("seed", "corrected"):
        spec = shipped_spec(name)
        assert spec.shipped == name and len(spec.events) == 10 and len(spec.properties) == 15


def test_the_shipped_specs_pass_the_json_schema_checks_their_load_skips():
    # shipped_spec skips the checks by JSON Schema (the file's format, each field's
    # schema, each drawn value); read as a user's file, a shipped file runs them all.
    for name, filename in SHIPPED.items():
        text = resources.files("sagaspec.spec").joinpath(f"sagas/{filename}").read_text()
        as_users = parse_spec(text, f"sagas/{filename}")  # SpecError on any finding
        shipped = shipped_spec(name)
        for field in dataclasses.fields(SagaSpec):
            if field.name != "shipped":
                assert getattr(as_users, field.name) == getattr(shipped, field.name), (name, field.name)


def test_the_starter_loads_and_checks_clean():
    spec = parse_spec(STARTER, "t.saga.yaml")
    assert [p.name for p in spec.participants] == ["app", "reserver", "processor"]
    result = explore(spec_system(spec), Config(symmetry=True, crashes=1))
    assert result.exhaustive and not result.violations
    assert set(result.verdicts.values()) == {"held"}


def test_yaml_1_1_booleans_are_strings_so_on_is_a_key():
    # YAML 1.1 reads `on:` as the boolean true; the loader must not.
    spec = parse_spec(STARTER, "t.saga.yaml")
    assert spec.participant("reserver").reactions[0].on == ("Requested",)


def test_a_yaml_syntax_error_names_file_line_and_column():
    text = STARTER.replace("saga: t\n", "saga: [t\n", 1)
    message = str(pytest.raises(InputError, parse_spec, text, "t.saga.yaml").value)
    assert re.match(r"t\.saga\.yaml:\d+:\d+: not valid YAML", message)


def test_an_unknown_key_is_reported_where_it_is():
    text = spec_text(**{"      - on: Processed\n": "      - on: Processed\n        colour: red\n"})
    message = error_of(text)
    assert message.startswith(f"t.saga.yaml:{line_of(text, 'colour: red')}:9:"), message
    assert "unknown key 'colour'" in message


def test_a_misspelt_key_is_named_not_reported_as_the_key_it_should_have_been():
    """`alternativs:` in a reaction: the unknown key with the keys a reaction takes, at
    the key's FILE:LINE:COL, not "'alternatives' is required" at the reaction."""
    text = spec_text(**{"        alternatives:\n": "        alternativs:\n"})
    line = line_of(text, "alternativs:")
    message = error_of(text)
    assert message == (f"t.saga.yaml:{line}:9: participants/app/reactions/0: unknown key 'alternativs'; "
                       "expected one of on, join, trigger, note, alternatives"), message


def test_a_bad_choice_lists_the_choices_in_words_not_a_python_list():
    text = spec_text(**{"bus: unordered-dup": "bus: lifo"})
    message = error_of(text)
    assert message.endswith("bounds/bus: 'lifo' is not one of unordered-dup, unordered or fifo"), message
    assert "[" not in message


@pytest.mark.parametrize(("guard", "said"), [
    ("status == (", "expected a value (a name, number, string, list, map or parenthesized "
                    "expression), found the end of the expression"),
    ("(status == 'idle'", "missing ')' before the end of the expression"),
    ("status == 'idle' )", "expected the end of the expression, found ')'"),
])
def test_a_cel_syntax_error_says_what_was_expected_in_words_where(guard, said):
    text = spec_text(**{"when: status == 'idle'": f"when: {guard}"})
    line = line_of(text, guard)
    message = error_of(text)
    assert message.startswith(f"t.saga.yaml:{line}:"), message
    assert f"syntax error: {said} in `{guard}`" in message
    for dump in ("NUM_FLOAT", "IDENTIFIER", "{'['", "<EOF>", "mismatched input"):
        assert dump not in message


def test_an_unknown_variable_in_a_guard_points_into_the_expression():
    text = spec_text(**{"when: status == 'idle'": "when: stauts == 'idle'"})
    line = line_of(text, "stauts")
    col = text.splitlines()[line - 1].index("stauts") + 1
    message = error_of(text)
    assert message.startswith(f"t.saga.yaml:{line}:{col}: undeclared reference to 'stauts'"), message


def test_a_reaction_cannot_read_another_participants_state():
    text = spec_text(**{"when: status == 'idle'": "when: reserver.status == 'none'"})
    assert "undeclared reference to 'reserver" in error_of(text)


def test_type_errors_are_found_at_load():
    text = spec_text(**{"set: {status: open}": "set: {status: open, outcomes: outcomes + 'x'}"})
    assert "no matching overload for '_+_' applied to '(int, string)'" in error_of(text)
    text = spec_text(**{"when: status == 'idle'": "when: outcomes + 1"})
    assert "is of type int; expected bool" in error_of(text)


def test_enum_typos_are_found_at_load():
    text = spec_text(**{"set: {status: open}": "set: {status: opn}"})
    assert "'opn' is not a value of status (idle, open, completed, cancelled)" in error_of(text)
    text = spec_text(**{"when: status == 'idle'": "when: status == 'idel'"})
    assert "'idel' is not a value of any enum variable this expression reads" in error_of(text)
    text = spec_text(**{"at_rest: app.status == 'completed'": "at_rest: app.status == 'complete'"})
    assert "'complete' is not a value" in error_of(text)


def test_unknown_events_variables_and_world_knobs():
    text = spec_text(**{"emit: [Requested]": "emit: [Requestd]"})
    assert "unknown event 'Requestd'" in error_of(text)
    text = spec_text(**{"set: {status: open}": "set: {state: open}"})
    assert "app has no variable 'state'" in error_of(text)
    text = spec_text(**{"world: {processing: fails}": "world: {processing: explodes}"})
    assert "'explodes' is not a value of world knob processing (succeeds, fails)" in error_of(text)
    text = spec_text(**{"from: Reserved.reservationId": "from: Reserved.reservationID"})
    assert "event Reserved has no field 'reservationID'" in error_of(text)


def test_emitting_what_a_declared_publishes_list_lacks():
    text = spec_text(**{"  app:\n    state:": "  app:\n    publishes: [Requested, Completed]\n    state:"})
    message = error_of(text)
    assert "app emits Cancelled but does not publish it" in message
    assert message.startswith(f"t.saga.yaml:{line_of(text, 'label: cancel')}:")


def test_two_reactions_to_one_event_are_rejected():
    text = spec_text(**{"      - on: ProcessingFailed": "      - on: Processed"})
    assert "app already reacts to Processed" in error_of(text)


def test_a_duplicate_key_is_an_error_not_a_silent_overwrite():
    text = spec_text(**{"saga: t\n": "saga: t\nsaga: u\n"})
    assert "duplicate key 'saga'" in str(pytest.raises(InputError, parse_spec, text, "t.saga.yaml").value)


def test_a_spec_file_is_data_python_tags_are_refused(tmp_path):
    marker = tmp_path / "ran"
    text = STARTER.replace(
        "title:", f"x: !!python/object/apply:os.system ['touch {marker}']\ntitle:", 1
    )
    with pytest.raises(InputError, match=rf"t\.saga\.yaml:{line_of(text, 'os.system')}:4: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"):
        parse_spec(text, "t.saga.yaml")
    assert not marker.exists()


@pytest.mark.parametrize("key", ["!!python/none a", "? [!!python/none a]\n"])
def test_a_tagged_mapping_key_is_refused_like_a_tagged_value(key):
    """Keys went to PyYAML's constructor unchecked: a traceback (ConstructorError), not
    one line (found by the C-parser differential fuzz in test_yaml_positions)."""
    text = key + ": 1\n"
    with pytest.raises(InputError, match=r"t\.saga\.yaml:1:\d+: tag 'tag:yaml.org,2002:python/none' is not allowed"):
        parse_spec(text, "t.saga.yaml")


def test_a_forbidden_character_is_one_line_with_its_line_and_column():
    """PyYAML puts "in <unicode string>, position N" on a second line."""
    with pytest.raises(InputError) as info:
        parse_spec("saga: t\nx: 'a\x07'\n", "t.saga.yaml")
    assert str(info.value) == "t.saga.yaml:2:6: not valid YAML: character U+0007 is not allowed in a YAML file"


def test_deep_nesting_and_huge_files_are_refused_with_one_line():
    deep = "saga: t\nx: " + "[" * 200 + "]" * 200 + "\n"
    assert "nested deeper than" in str(pytest.raises(InputError, parse_spec, deep, "d.yaml").value)
    assert "larger than" in str(pytest.raises(InputError, parse_spec, "#" * 3_000_000, "h.yaml").value)


def test_an_update_that_leaves_its_domain_when_it_runs_names_the_update():
    # 2 - outcomes * 2 ranges over 0..2 for outcomes in 0..1: it may fit, so only running
    # it tells (from outcomes = 0 it gives 2).
    text = STARTER.replace("      outcomes: {type: counter, max: 2, ghost: true, description: outcomes published}",
                           "      outcomes: {type: int, min: 0, max: 1, description: outcomes published}")
    text = text.replace("set: {status: completed, outcomes: outcomes + 1}", "set: {status: completed, outcomes: 2 - outcomes * 2}")
    assert "2 - outcomes * 2" in text
    system = spec_system(parse_spec(text, "t.saga.yaml"), 1)
    app = system.participant("app")
    (placed,) = app.internal(app.init())
    with pytest.raises(ModelError, match=r"t\.saga\.yaml:\d+:\d+: update of outcomes is 2, outside 0\.\.1"):
        app.on_event(placed.state, Msg("Processed", 0, "processor"))


def test_counters_saturate_and_ghosts_survive_a_crash():
    spec = parse_spec(STARTER, "t.saga.yaml")
    app = spec_system(spec, 1).participant("app")
    state = app.init()
    (placed,) = app.internal(state)
    (done,) = app.on_event(placed.state, Msg("Processed", 0, "processor"))
    assert done.state[0].outcomes == 1 and done.publish[0].type == "Completed"
    assert app.restart(done.state) == done.state


def test_load_spec_reads_files_and_reports_unreadable_ones(tmp_path):
    path = tmp_path / "t.saga.yaml"
    path.write_text(STARTER)
    assert load_spec(path).name == "t"
    assert "cannot read" in str(pytest.raises(InputError, load_spec, tmp_path / "nope.yaml").value)
    path.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in str(pytest.raises(InputError, load_spec, path).value)


# ----------------------------------------------------------------------------- CLI


def test_spec_schema_prints_the_format_schema():
    r = CliRunner().invoke(main, ["spec", "schema"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["title"].startswith("sagaspec saga specification")
    p = CliRunner().invoke(main, ["spec", "schema", "--path"])
    assert p.exit_code == 0 and p.stdout.strip().endswith("saga-spec.schema.json")


def test_spec_validate_and_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["init", "travel"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "travel.saga.yaml").exists()
    # Its first line points an editor's YAML language server at the installed format schema.
    first = (tmp_path / "travel.saga.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema="), first
    schema = Path(first.split("$schema=", 1)[1])
    assert schema.is_file() and json.loads(schema.read_text())["$schema"].endswith("2020-12/schema")
    again = runner.invoke(main, ["init", "travel"])
    assert again.exit_code == 2 and "exists" in again.stderr
    bad_name = runner.invoke(main, ["init", "Bad Name"])
    assert bad_name.exit_code == 2 and "expected lower-case letters" in bad_name.stderr
    ok = runner.invoke(main, ["spec", "validate", "travel.saga.yaml"])
    assert ok.exit_code == 0 and "valid saga spec 'travel'" in ok.stdout
    linted = runner.invoke(main, ["lint", "--design", "travel.saga.yaml"])
    assert linted.exit_code == 0, linted.output  # the starter lints clean too
    checked = runner.invoke(main, ["check", "--design", "travel.saga.yaml"])
    assert checked.exit_code == 0, checked.output
    assert "all 6 properties hold" in checked.stdout
    text = (tmp_path / "travel.saga.yaml").read_text().replace("emit: [Released]", "emit: [Relesed]")
    (tmp_path / "broken.saga.yaml").write_text(text)
    bad = runner.invoke(main, ["spec", "validate", "broken.saga.yaml"])
    assert bad.exit_code == 2
    (line,) = bad.stderr.strip().splitlines()
    assert re.match(r"error: broken\.saga\.yaml:\d+:\d+: unknown event 'Relesed'", line), line


def test_check_takes_a_spec_file_and_its_params(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.saga.yaml").write_text(STARTER)
    runner = CliRunner()
    r = runner.invoke(main, ["check", "--spec", "t.saga.yaml", "--sagas", "1"])
    assert r.exit_code == 0, r.output
    bad = runner.invoke(main, ["check", "--spec", "t.saga.yaml", "--stock", "1"])
    assert bad.exit_code == 2 and "has no param 'stock'" in bad.stderr
    p = runner.invoke(main, ["check", "--design", "corrected", "--param", "stock=0", "--property", "some-order-completes"])
    assert p.exit_code == 1 and "VACUOUS" in p.stdout  # no stock: no order can complete
    wrong = runner.invoke(main, ["check", "--param", "stock=lots"])
    assert wrong.exit_code == 2 and "--param stock: expected an integer" in wrong.stderr


def test_eventually_and_leads_to_are_per_saga_and_fail_when_a_saga_is_stuck():
    props = """properties:
  requested-leads-to-outcome:
    leads_to: {from: "app.status == 'open'", to: "app.status == 'completed' || app.status == 'cancelled'"}
  ends-eventually:
    eventually: app.status == 'completed' || app.status == 'cancelled'
"""
    text = spec_text(**{"properties:\n": props})
    good = explore(spec_system(parse_spec(text, "t.saga.yaml")), Config(symmetry=True, crashes=1))
    assert good.verdicts["requested-leads-to-outcome"] == good.verdicts["ends-eventually"] == "held"
    # The processor swallows failures: a failed saga never gets an outcome.
    stuck = text.replace("emit: [ProcessingFailed]}", "}")
    bad = explore(spec_system(parse_spec(stuck, "t.saga.yaml")), Config(symmetry=True))
    found = {v.property: (v.kind, len(v.path)) for v in bad.violations}
    assert found["requested-leads-to-outcome"] == ("stuck", 6)
    assert found["ends-eventually"] == ("stuck", 6)
    assert bad.verdicts["some-saga-is-cancelled"] == "vacuous"


def _expressions(spec):
    for p in spec.participants:
        for r in p.reactions:
            for a in r.alternatives:
                if a.when is not None:
                    yield p, a.when
                for _var, e in a.updates:
                    yield p, e
    for prop in spec.properties:
        yield None, prop.expr
        if prop.target is not None:
            yield None, prop.target


def test_the_python_fast_path_equals_the_cel_runtime_on_every_shipped_expression():
    """Differential: each expression's fast form and CEL agree on every reachable input."""
    import random

    from sagaspec.spec._cel import Expr

    rng = random.Random(7)
    specs = [shipped_spec("seed"), shipped_spec("corrected"), parse_spec(STARTER, "t.saga.yaml")]
    compared = fast = 0
    for spec in specs:
        system = spec_system(spec, 2)
        params = system.participants[0].params
        for part, expr in _expressions(spec):
            if not isinstance(expr, Expr):
                continue
            compared += 1
            if expr.fast is None:
                continue
            fast += 1
            for _ in range(200):
                data = dict(params)
                for p in spec.participants:
                    for v in (*p.state, *p.shared):
                        if v.kind == "enum":
                            value = rng.choice(v.values)
                        elif v.kind == "bool":
                            value = rng.random() < 0.5
                        else:
                            value = rng.randint(0, 3)
                        if part is None:
                            data[f"{p.name}.{v.name}"] = value
                        elif p is part:
                            data[v.name] = value
                assert expr.fast(data) == expr.cel(data), (expr.text, data)
    assert compared > 100 and fast / compared > 0.9, (fast, compared)


def test_a_field_schema_with_a_stray_key_or_a_bad_schema_is_refused():
    # `{description: The booking, if any., from: new}`: the comma splits the text into a
    # key 'if any.' without a value.
    text = spec_text(**{"reservationId: {$ref: \"#/types/Identifier\", from: new}":
                        "reservationId: {$ref: \"#/types/Identifier\", description: The id, if any., from: new}"})
    message = error_of(text)
    assert "field reservationId: key 'if any.' has no value" in message
    text = spec_text(**{"reservationId: {$ref: \"#/types/Identifier\", from: new}":
                        "reservationId: {type: strng, from: new}"})
    assert "field reservationId: not a valid JSON Schema" in error_of(text)


def test_check_takes_the_spec_bounds_as_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.saga.yaml").write_text(STARTER.replace("bus: unordered-dup, duplicates: 1, crashes: 0",
                                                          "bus: fifo, duplicates: 0, crashes: 1"))
    r = CliRunner().invoke(main, ["check", "--design", "t.saga.yaml"])
    assert r.exit_code == 0, r.output
    assert "bus=fifo duplicates=0 crashes=1" in r.stdout
    given = CliRunner().invoke(main, ["check", "--design", "t.saga.yaml", "--crashes", "0"])
    assert "bus=fifo duplicates=0 crashes=0" in given.stdout


def test_two_loads_of_one_file_name_are_different_specs(tmp_path, monkeypatch):
    """A regression: specs compared equal by (name, source), so after a file was rewritten
    (or another folder's file of the same relative name was read) cached designs of the
    first one were served for the second: lint reported another saga's events."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "t.saga.yaml"
    path.write_text(STARTER)
    first = load_spec("t.saga.yaml")
    path.write_text(STARTER.replace("Released", "Freed"))
    second = load_spec("t.saga.yaml")
    assert first != second
    assert "Freed" in second.design().events and "Freed" not in first.design().events


def test_loads_of_the_same_text_share_one_parse(tmp_path, monkeypatch):
    """Test modules and long-lived processes read the same files again and again: the
    same text from the same source is parsed once (a parse costs about 75 ms)."""
    from sagaspec.spec import sagafile

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "t.saga.yaml"
    path.write_text(STARTER)
    first = load_spec("t.saga.yaml")
    assert load_spec("t.saga.yaml") is first
    assert load_spec(path) is not first  # another source name: positions name it
    for i in range(sagafile._PARSED_MAX + 1):  # bounded: the oldest goes first
        parse_spec(STARTER + f"# {i}\n", "t.saga.yaml")
    assert load_spec("t.saga.yaml") is not first


def test_an_update_that_can_never_be_in_its_domain_is_a_load_error():
    text = STARTER.replace("      outcomes: {type: counter, max: 2, ghost: true, description: outcomes published}",
                           "      outcomes: {type: counter, max: 2, ghost: true, description: outcomes published}\n"
                           "      tries: {type: int, min: 0, max: 3}")
    assert "tries" in text
    bad = text.replace("set: {status: open}", "set: {status: open, tries: tries + 10}")
    message = error_of(bad)
    assert "update of tries gives 10..13, never within its domain 0..3" in message
    assert message.startswith(f"t.saga.yaml:{line_of(bad, 'tries + 10')}:")
    # One that only might leave the domain is left to the run (reachable states decide).
    parse_spec(text.replace("set: {status: open}", "set: {status: open, tries: tries + 1}"), "t.saga.yaml")
    negative = text.replace("set: {status: open}", "set: {status: open, outcomes: outcomes - 5}")
    assert "update of outcomes gives -5..-3, never within its domain 0..2" in error_of(negative)
