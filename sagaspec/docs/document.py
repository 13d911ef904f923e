"""A tiny document model: pages made of blocks, rendered to both HTML and Markdown.

Every generated page is built once as data (headings, paragraphs, tables, code, diagrams)
and then rendered twice, by :mod:`sagaspec.docs.html` and :mod:`sagaspec.docs.markdown`,
so the offline HTML site and the Markdown copy can never say different things.

Links name *pages* by id (``"events/OrderCreated"``) or *files* by their path from the
site root (``"schemas/2020-12/OrderCreated.json"``); each renderer turns them into a
relative link with its own file extension.

>>> p = Page("events/OrderCreated", "OrderCreated", (Para(("See ", Link("order", page="services/order"), ".")),))
>>> relative("events/OrderCreated", "services/order.html")
'../services/order.html'
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Union

from sagaspec.docs.diagrams import SequenceDiagram, StateMachine

__all__ = [
    "Code",
    "Strong",
    "Link",
    "Badge",
    "Inline",
    "Heading",
    "Para",
    "BulletList",
    "Table",
    "CodeBlock",
    "Figure",
    "Details",
    "Block",
    "Page",
    "relative",
    "plain",
]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Link:
    """A link to a page id (``page``), a site file (``href``), with an optional anchor."""

    text: str | Code
    page: str | None = None
    href: str | None = None
    anchor: str | None = None


@dataclass(frozen=True)
class Badge:
    """A short status word; ``tone`` is ``ok``, ``bad``, ``warn`` or ``info``."""

    text: str
    tone: str = "info"


Inline = Union[str, Code, Strong, Link, Badge]  # noqa: UP007 - readable alias
Inlines = tuple[Inline, ...]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Para:
    parts: Inlines


@dataclass(frozen=True)
class BulletList:
    items: tuple[Inlines, ...]


@dataclass(frozen=True)
class Table:
    """``rows`` hold one tuple of inlines per cell."""

    header: tuple[str, ...]
    rows: tuple[tuple[Inlines, ...], ...]
    css: str = ""


@dataclass(frozen=True)
class CodeBlock:
    text: str
    lang: str = ""


@dataclass(frozen=True)
class Figure:
    """A diagram; the HTML shows its SVG inline, Markdown its Mermaid source.

    ``svg_file`` is the site path where the standalone SVG is also written.
    """

    diagram: SequenceDiagram | StateMachine
    caption: Inlines = ()
    svg_file: str | None = None


@dataclass(frozen=True)
class Details:
    """Collapsible content (HTML ``<details>``; GitHub renders it in Markdown too)."""

    summary: str
    blocks: tuple[Block, ...]


Block = Union[Heading, Para, BulletList, Table, CodeBlock, Figure, Details]  # noqa: UP007


@dataclass(frozen=True)
class Page:
    """One page: ``id`` is its path from the site root without extension."""

    id: str
    title: str
    blocks: tuple[Block, ...]
    section: str = ""
    summary: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def figures(self) -> list[Figure]:
        out: list[Figure] = []

        def walk(blocks) -> None:
            for b in blocks:
                if isinstance(b, Figure):
                    out.append(b)
                elif isinstance(b, Details):
                    walk(b.blocks)

        walk(self.blocks)
        return out


def relative(from_page: str, target: str) -> str:
    """Path of site file ``target`` relative to the folder of page ``from_page``."""
    base = posixpath.dirname(from_page)
    return posixpath.relpath(target, base or ".")


def plain(parts: Inlines | str) -> str:
    """The text of some inlines without markup (for titles, alt texts, tests)."""
    if isinstance(parts, str):
        return parts
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, Link):
            out.append(p.text.text if isinstance(p.text, Code) else p.text)
        else:
            out.append(p.text)
    return "".join(out)
