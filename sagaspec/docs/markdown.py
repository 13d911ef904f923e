"""Render a :class:`~sagaspec.docs.document.Page` as GitHub-flavoured Markdown.

Diagrams become fenced ``mermaid`` blocks (GitHub renders them) followed by a link to
the standalone SVG written beside the page, for viewers without Mermaid.

>>> from sagaspec.docs.document import Page, Para, Link, Code
>>> page = Page("events/OrderCreated", "OrderCreated", (Para(("by ", Link(Code("order"), page="services/order"))),))
>>> print(render_markdown(page))
# OrderCreated
<BLANKLINE>
by [`order`](../services/order.md)
<BLANKLINE>
"""

from __future__ import annotations

import re

from sagaspec.docs.document import (
    Badge,
    BulletList,
    Code,
    CodeBlock,
    Details,
    Figure,
    Heading,
    Inlines,
    Link,
    Page,
    Para,
    Strong,
    Table,
    relative,
)

__all__ = ["render_markdown", "md_file"]

_BADGE_MARK = {"ok": "✅ ", "bad": "❌ ", "warn": "⚠️ ", "info": ""}


def md_file(page_id: str) -> str:
    """File of a page in the Markdown copy: the index is ``README.md`` so GitHub shows it."""
    if page_id == "index":
        return "README.md"
    if page_id.endswith("/index"):
        return page_id[: -len("index")] + "README.md"
    return page_id + ".md"


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def _code(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline(parts: Inlines, page: Page) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(_escape(p))
        elif isinstance(p, Code):
            out.append(_code(p.text))
        elif isinstance(p, Strong):
            out.append(f"**{_escape(p.text)}**")
        elif isinstance(p, Badge):
            out.append(f"**{_BADGE_MARK.get(p.tone, '')}{_escape(p.text)}**")
        elif isinstance(p, Link):
            text = _code(p.text.text) if isinstance(p.text, Code) else _escape(p.text)
            if p.page is not None:
                target = relative(page.id, md_file(p.page))
            elif p.href is not None:
                target = p.href if "://" in p.href else relative(page.id, p.href)
            else:
                target = ""
            if p.anchor:
                target += "#" + p.anchor
            out.append(f"[{text}]({target})")
        else:  # pragma: no cover - the Inline union is closed
            raise TypeError(f"unknown inline {p!r}")
    return "".join(out)


def _cell(parts: Inlines, page: Page) -> str:
    return _inline(parts, page).replace("\n", "<br>") or " "


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _blocks(blocks, page: Page) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            if b.anchor:
                out.append(f'<a id="{b.anchor}"></a>\n\n{"#" * b.level} {_escape(b.text)}')
            else:
                out.append(f"{'#' * b.level} {_escape(b.text)}")
        elif isinstance(b, Para):
            out.append(_inline(b.parts, page))
        elif isinstance(b, BulletList):
            out.append("\n".join(f"- {_inline(item, page)}" for item in b.items))
        elif isinstance(b, Table):
            lines = [
                "| " + " | ".join(_escape(h) for h in b.header) + " |",
                "|" + "|".join(" --- " for _ in b.header) + "|",
            ]
            for row in b.rows:
                lines.append("| " + " | ".join(_cell(c, page) for c in row) + " |")
            out.append("\n".join(lines))
        elif isinstance(b, CodeBlock):
            out.append(_fence(b.text, b.lang))
        elif isinstance(b, Figure):
            parts = []
            if b.caption:
                parts.append(_inline(b.caption, page))
            parts.append(_fence(b.diagram.to_mermaid(), "mermaid"))
            if b.svg_file:
                parts.append(f"[SVG]({relative(page.id, b.svg_file)})")
            out.append("\n\n".join(parts))
        elif isinstance(b, Details):
            inner = "\n\n".join(_blocks(b.blocks, page))
            out.append(
                f"<details>\n<summary>{_escape(b.summary)}</summary>\n\n{inner}\n\n</details>"
            )
        else:  # pragma: no cover
            raise TypeError(f"unknown block {b!r}")
    return out


def render_markdown(page: Page) -> str:
    """The Markdown text of ``page`` (ends with one newline)."""
    parts = [f"# {_escape(page.title)}"]
    if page.summary:
        parts.append(_escape(page.summary))
    parts.extend(_blocks(page.blocks, page))
    return "\n\n".join(parts) + "\n"
