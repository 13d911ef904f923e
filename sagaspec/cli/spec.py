"""``sagaspec spec schema|validate`` and ``sagaspec init``: the saga spec file itself."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import click

from sagaspec.errors import UsageError

__all__ = ["spec", "init", "starter_spec"]


@click.group("spec")
def spec() -> None:
    """The saga spec file format: print its JSON Schema, check a file."""


@spec.command("schema")
@click.option("--path", "show_path", is_flag=True, help="Print where the installed schema file is (for an editor's $schema line) instead of its content.")
def schema(show_path: bool) -> None:
    """Print the JSON Schema (2020-12) of saga spec files.

    \b
    Editors that read JSON Schemas complete and check spec files with it; with the
    YAML language server, start the file with
      # yaml-language-server: $schema=<the path printed by --path>
    """
    ref = resources.files("sagaspec.spec").joinpath("data/saga-spec.schema.json")
    if show_path:
        click.echo(str(ref))
        return
    click.echo(json.dumps(json.loads(ref.read_text()), indent=2))


@spec.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check a saga spec file alone: format, names, CEL types, domains.

    Also builds its model with the spec's default bounds, so a param or initial value
    outside its domain is reported too. Exit 0 when the file is valid, 2 otherwise, with
    one line ``error: FILE:LINE:COL: what was expected``.
    """
    from sagaspec.cli._plural import plural
    from sagaspec.model.compile import spec_system
    from sagaspec.spec.sagafile import load_spec

    loaded = load_spec(file)
    spec_system(loaded)
    click.echo(
        f"{file}: valid saga spec {loaded.name!r}: {plural(len(loaded.events), 'event')}, "
        f"{plural(len(loaded.participants), 'participant')}, "
        f"{plural(sum(len(p.reactions) for p in loaded.participants), 'reaction')}, "
        f"{plural(len(loaded.properties), 'property', 'properties')}"
    )


_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def starter_spec(name: str) -> str:
    """The commented starter spec that ``sagaspec init NAME`` writes."""
    text = resources.files("sagaspec.spec").joinpath("data/starter.saga.yaml").read_text()
    # Editors with the YAML language server complete and check the file against the format
    # schema, which init writes next to it: a path relative to the file, so the line still
    # holds once the folder is committed, cloned elsewhere or the environment is moved.
    return f"# yaml-language-server: $schema={SCHEMA_FILE}\n" + text.replace("__NAME__", name)


#: The format schema's file name, written next to the spec by ``sagaspec init``.
SCHEMA_FILE = "saga-spec.schema.json"


@click.command("init")
@click.argument("name")
@click.option("--force", is_flag=True, help="Overwrite an existing file (and the schema next to it).")
def init(name: str, force: bool) -> None:
    """Write NAME.saga.yaml: a commented starter saga spec that checks clean.

    Its first line points editors (the YAML language server) at saga-spec.schema.json,
    the format's JSON Schema, which init writes next to it when it is not there yet.

    \b
    Then:
      sagaspec spec validate NAME.saga.yaml
      sagaspec check --design NAME.saga.yaml
    """
    if not _NAME.match(name):
        raise UsageError(f"saga name {name!r}: expected lower-case letters, digits and dashes, starting with a letter")
    target = Path(f"{name}.saga.yaml")
    if target.exists() and not force:
        raise UsageError(f"{target} exists; choose another name or pass --force")
    target.write_text(starter_spec(name))
    schema = target.parent / SCHEMA_FILE
    also = ""
    if force or not schema.exists():
        schema.write_text(resources.files("sagaspec.spec").joinpath(f"data/{SCHEMA_FILE}").read_text())
        also = f" (and {schema}, the format's JSON Schema, for editors)"
    click.echo(f"wrote {target}{also}: edit it, then run: sagaspec check --design {target}")
