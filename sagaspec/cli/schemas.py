"""``sagaspec schemas``, ``sagaspec validate`` and ``sagaspec lint``.

Exit codes: 0 all good; 1 findings (invalid events, breaking changes, design holes,
drifted files); 2 usage errors and unreadable input.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click

from sagaspec.cli._plural import plural
from sagaspec.errors import DesignError, InputError, SagaspecError
from sagaspec.spec.designs import Design
from sagaspec.spec.lint import lint_design
from sagaspec.spec.sagafile import SagaSpec, resolve_spec, shipped_names
from sagaspec.spec.schemagen import drifted_files, normalize_draft, render, write_schemas
from sagaspec.spec.specschemas import drifted_spec_files, write_spec_schemas

# The validators (jsonschema, about 60 ms of CPU to import) are imported by the commands
# that validate: `sagaspec --help` imports this module for its summary lines, and `lint`
# never validates.

__all__ = ["schemas", "validate", "lint"]

_DRAFT = click.option(
    "--draft", default="2020-12", show_default=True, metavar="2020-12|07",
    help="JSON Schema draft: 2020-12, or 07 for AsyncAPI 3 and hypothesis-jsonschema.",
)
_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="text: one line per item; json: a JSON array for tools.",
)


DEFAULT_DESIGN = "corrected"


def _design_option(help_text: str):
    return click.option(
        "--design", "--spec", "design", default=DEFAULT_DESIGN, show_default=True,
        metavar="NAME|FILE",
        help=f"{help_text}: a shipped design ({', '.join(shipped_names())}) or a saga spec file (.saga.yaml).",
    )


def _own(spec: SagaSpec) -> bool:
    """Whether the spec's schemas are generated (a user's spec) rather than the committed files."""
    return spec.shipped is None


def _draft(value: str) -> str:
    try:
        return normalize_draft(value)
    except SagaspecError as exc:
        raise click.BadParameter(str(exc), param_hint="'--draft'") from None


@click.group("schemas")
def schemas() -> None:
    """List, show, export and diff the event JSON Schemas."""


@schemas.command("list")
@_design_option("Saga whose events to list")
def list_schemas(design: str) -> None:
    """One line per event: type, schema version, publisher, $id."""
    from sagaspec.spec.schemas import all_schemas

    spec = resolve_spec(design)
    table = spec.design()
    schemas = all_schemas(spec=spec)
    width = max(28, *(len(e) + 1 for e in schemas))
    for event_type, schema in schemas.items():
        version = schema["properties"]["schemaVersion"]["const"]
        publisher = ", ".join(table.publishers(event_type)) or "-"
        click.echo(f"{event_type:<{width}} v{version:<3} {publisher:<13} {schema['$id']}")


@schemas.command("show")
@click.argument("event")
@_DRAFT
@_design_option("Saga the event belongs to")
def show(event: str, draft: str, design: str) -> None:
    """Print the JSON Schema of EVENT, an event type of the saga (OrderCreated, ...)."""
    from sagaspec.spec.schemas import schema_for

    click.echo(render(schema_for(event, _draft(draft), resolve_spec(design))), nl=False)


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_DRAFT
@_design_option("Saga whose schemas to write")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if DIRECTORY differs from what would be written.")
def export(directory: Path, draft: str, design: str, check: bool) -> None:
    """Write one <EventType>.json schema per event into DIRECTORY (from the event models
    for the shipped designs, from the spec file for any other saga)."""
    draft = _draft(draft)
    spec = resolve_spec(design)
    own = _own(spec)
    again = f"sagaspec schemas export {directory} --draft {draft}" + (
        "" if design == DEFAULT_DESIGN else f" --design {design}")
    if check:
        drifted = drifted_spec_files(spec, directory, draft) if own else drifted_files(directory, draft)
        for name in drifted:
            click.echo(f"{directory / name}: differs from the {'spec' if own else 'models'}")
        if drifted:
            click.echo(f"{plural(len(drifted), 'file')} drifted; regenerate with: {again}", err=True)
            click.get_current_context().exit(1)
        click.echo(f"{directory}: {len(spec.events)} schemas up to date", err=True)
        return
    try:
        written = write_spec_schemas(spec, directory, draft) if own else write_schemas(directory, draft)
    except OSError as exc:
        raise InputError(f"{directory}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {len(written)} {draft} schemas to {directory}", err=True)


@schemas.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@_FORMAT
def diff(old: Path, new: Path, fmt: str) -> None:
    """Report breaking and compatible changes from OLD to NEW schemas (files or folders).

    Exit 1 if any change is breaking, 0 otherwise, 2 for unreadable or invalid schemas.
    """
    from sagaspec.spec.evolution import diff_paths, has_breaking

    changes = diff_paths(old, new)
    if fmt == "json":
        click.echo(json.dumps([c.as_dict() for c in changes], indent=2))
    else:
        for c in changes:
            click.echo(f"{c.kind}: {c.event}{c.path}: {c.message} [{c.rule}]")
    breaking = sum(c.kind == "breaking" for c in changes)
    click.echo(f"{breaking} breaking, {plural(len(changes) - breaking, 'compatible change')}", err=True)
    if has_breaking(changes):
        click.get_current_context().exit(1)


@click.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@_DRAFT
@_design_option("Saga the events belong to")
@_FORMAT
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def validate(files: tuple[str, ...], draft: str, design: str, fmt: str, quiet: bool) -> None:
    """Validate events in FILE... (a JSON object, a JSON array, or NDJSON; - is stdin)
    against the event schemas of a saga.

    Prints one line per problem: FILE:LINE:COLUMN: JSON-POINTER: MESSAGE. Exit 1 if any
    event is invalid, 0 if all are valid, 2 if a file cannot be read.
    """
    from sagaspec.spec.eventfile import check_records, read_events

    draft = _draft(draft)
    spec = resolve_spec(design)
    rows: list[dict[str, object]] = []
    valid = invalid = 0
    unreadable = False
    for name in files:
        try:
            records = read_events(name)
        except InputError as exc:
            unreadable = True
            click.echo(f"error: {exc}", err=True)
            continue
        if not records:
            source = "<stdin>" if name == "-" else name
            rows.append({"file": source, "line": 1, "column": 1, "pointer": "",
                         "message": "no events (empty file)", "eventType": None, "eventId": None})
            invalid += 1
            continue
        bad: set[int] = set()
        for record, problem in check_records(records, draft, spec):
            bad.add(record.index)
            value = record.value if isinstance(record.value, dict) else {}
            rows.append({
                "file": record.source, "line": record.line, "column": record.column,
                "pointer": problem.pointer, "message": problem.message,
                "eventType": value.get("eventType"), "eventId": value.get("eventId"),
            })
        invalid += len(bad)
        valid += len(records) - len(bad)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            pointer = row["pointer"] or "(event)"
            click.echo(f"{row['file']}:{row['line']}:{row['column']}: {pointer}: {row['message']}")
    if not quiet:
        n_files = len(files)
        click.echo(f"{valid} valid, {plural(invalid, 'invalid event')} in {plural(n_files, 'file')}", err=True)
    if unreadable:
        click.get_current_context().exit(2)
    if invalid:
        click.get_current_context().exit(1)


def _load_design(name: str) -> tuple[Design, tuple[str, ...] | None]:
    """The design to lint and the saga's events (``None``: the shipped saga's)."""
    if ":" not in name or Path(name).exists():
        spec = resolve_spec(name)
        return spec.design(), spec.event_names
    module, _, attr = name.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise DesignError(f"cannot import {module!r} for design {name!r} ({exc})") from None
    except AttributeError:
        raise DesignError(f"module {module!r} has no attribute {attr!r}") from None
    if isinstance(obj, SagaSpec):
        return obj.design(), obj.event_names
    if not isinstance(obj, Design):
        raise DesignError(f"{name} is a {type(obj).__name__}, not a sagaspec Design")
    return obj, None


@click.command("lint")
@click.option("--design", "--spec", "design_name", default=DEFAULT_DESIGN, show_default=True,
              metavar="NAME|FILE",
              help=f"A shipped design ({', '.join(shipped_names())}), a saga spec file "
              "(.saga.yaml), or module:attribute naming a Design.")
@_FORMAT
def lint(design_name: str, fmt: str) -> None:
    """Static checks of a choreography design; exit 1 when there are findings.

    Reports events nobody handles, failures that lead to no compensation, compensations
    that never run or run unguarded, joins that can never complete and reactions that
    never run.
    """
    design, events = _load_design(design_name)
    findings = lint_design(design, events)
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
    summary = plural(len(findings), 'finding') if findings else "clean"
    click.echo(f"design {design.name}: {summary}", err=True)
    if findings:
        click.get_current_context().exit(1)
