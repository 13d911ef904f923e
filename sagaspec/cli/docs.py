"""``sagaspec docs``: generate the documentation site, or just the AsyncAPI document."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from sagaspec.errors import InputError

__all__ = ["docs"]


def _differences(site_files: dict[str, str], folder: Path) -> list[str]:
    """Human-readable differences between a rendered site and a folder on disk."""
    from sagaspec.docs.site import MANIFEST

    problems = []
    for rel, text in site_files.items():
        target = folder / rel
        if not target.is_file():
            problems.append(f"missing: {rel}")
            continue
        current = target.read_text(encoding="utf-8")
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), f"{rel} (on disk)", f"{rel} (generated)",
                n=0, lineterm="",
            )
            first = [line if len(line) <= 160 else line[:157] + "..." for line in diff][:6]
            problems.append(f"differs: {rel}\n    " + "\n    ".join(first))
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    } if folder.is_dir() else set()
    for extra in sorted(on_disk - set(site_files)):
        problems.append(f"not generated any more: {extra}")
    return problems


def _saga(design: str):
    """The saga to document: a shipped design name or a spec file, loaded and checked."""
    from sagaspec.docs.sagadoc import doc_saga

    saga = doc_saga(design)
    saga.check()
    return saga


@click.group(invoke_without_command=True)
@click.option("--design", "--spec", "design", default="corrected", show_default=True, metavar="NAME|FILE",
              help="Saga to document: a shipped design (seed or corrected) or a saga spec file (.saga.yaml).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder to write the site into (HTML and Markdown side by side).")
@click.option("--no-model", is_flag=True, help="Skip flows and state machines (no model exploration).")
@click.option("--no-verify", is_flag=True, help="Skip the model-checking runs shown on the site.")
@click.option("--diff", "diff", is_flag=True,
              help="Write nothing: compare DIR with what would be generated; exit 1 if it differs.")
@click.pass_context
def docs(ctx: click.Context, design: str, out: Path | None, no_model: bool, no_verify: bool,
         diff: bool) -> None:
    """Generate the documentation site of a design: offline HTML plus Markdown.

    Pages: the saga on one page with its verification verdict, the flows (happy path and
    every compensation path, from model traces), one page per service (with its state
    machine) and per event (fields, examples, CloudEvents, schemas), and the AsyncAPI
    3.0 document (asyncapi.yaml/json). Open DIR/index.html, or browse DIR/README.md on
    GitHub.

    \b
    sagaspec docs --design corrected --out site
    sagaspec docs --design corrected --out docs --diff    # is docs/ up to date?
    sagaspec docs --design travel.saga.yaml --out site    # any saga spec
    sagaspec docs asyncapi --design seed > asyncapi.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("--out DIR is required (or use a subcommand, e.g. 'asyncapi')")
    from sagaspec.docs.site import build_site

    site = build_site(_saga(design), model=not no_model, verify=not no_verify)
    if diff:
        problems = _differences(site.rendered(), out)
        if problems:
            click.echo(f"{out} is out of date ({len(problems)} files):", err=True)
            for p in problems:
                click.echo("  " + p, err=True)
            click.echo(f"regenerate with: sagaspec docs --design {design} --out {out}", err=True)
            ctx.exit(1)
        click.echo(f"{out} is up to date ({len(site.rendered())} files)")
        return
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    written = site.write(out)
    pages = len(site.pages)
    click.echo(
        f"wrote {len(written)} files ({pages} pages as HTML and Markdown) to {out}; "
        f"open {out / 'index.html'}"
    )


@docs.command("asyncapi")
@click.option("--design", "--spec", "design", default="corrected", show_default=True, metavar="NAME|FILE",
              help="Saga to describe: a shipped design (seed or corrected) or a saga spec file.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Write the AsyncAPI document as YAML or JSON.")
@click.option("--content-mode", type=click.Choice(["binary", "structured"]), default="binary",
              show_default=True, help="CloudEvents content mode the messages use.")
@click.option("--address-prefix", default="saga.", show_default=True,
              help="Prefix of every channel address.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE instead of standard output.")
def asyncapi(design: str, fmt: str, content_mode: str, address_prefix: str, out: Path | None) -> None:
    """Print the AsyncAPI 3.0 document of a design."""
    from sagaspec.docs.asyncapi import asyncapi_document, to_json, to_yaml

    doc = asyncapi_document(_saga(design), content_mode=content_mode, address_prefix=address_prefix)
    text = to_yaml(doc) if fmt == "yaml" else to_json(doc)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)

