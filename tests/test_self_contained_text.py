"""User-facing text stands alone: no reference to a numbered section of a document the
user does not have ("seed section 7", "section 6's table") or to our own tracker's issue
numbers ("before issue 11") or to a document the user never sees ("as the source document
describes", "the seed document's design"), in code, docs or --help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_commands import commands
from click.testing import CliRunner

from sagaspec.cli import main

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.compile(r"\bsections? \d|\bissues? #?\d|\b(?:source|seed) doc(?:ument)?s?\b", re.IGNORECASE)
FOLDERS = ("sagaspec", "spec", "model", "conformance", "adapters", "examples", "docs")
SUFFIXES = {".py", ".md", ".json", ".yaml", ".yml", ".toml", ".html", ".css"}


def test_no_numbered_section_references_in_the_sources_and_docs():
    found = []
    files = [ROOT / "README.md"] + [p for f in FOLDERS for p in (ROOT / f).rglob("*") if p.suffix in SUFFIXES]
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if SECTION.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert found == []


def test_the_patterns_refuse_a_document_the_user_does_not_have():
    for line in ("exactly as the source document describes it", "The seed document's design",
                 "the seed documents", "Seed doc says"):
        assert SECTION.search(line), line
    for line in ("the seed design", "the seed's holes", "the document validates", "--seed 4"):
        assert not SECTION.search(line), line


@pytest.mark.parametrize("command", [" ".join(words) for words, _cmd in commands()])
def test_no_numbered_section_references_in_help(command):
    r = CliRunner().invoke(main, [*command.split(), "--help"])
    assert r.exit_code == 0, r.output
    assert not SECTION.search(r.output), r.output
