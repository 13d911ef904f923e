"""Render a :class:`~sagaspec.docs.document.Page` as a standalone, offline HTML page.

No JavaScript, no web fonts, no remote resources: diagrams are inline SVG, styles come
from one relative stylesheet, and the favicon is an empty data URI so a browser does not
even ask the server for ``/favicon.ico``.

>>> from sagaspec.docs.document import Page, Para, Code
>>> html = render_html(Page("index", "Demo", (Para(("a ", Code("b"))),)), nav=())
>>> "<code>b</code>" in html and 'href="assets/style.css"' in html
True
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
from sagaspec.docs.svg import esc, slug

__all__ = ["render_html", "html_file", "NavSection", "STYLESHEET", "stylesheet_text"]

#: Site path of the stylesheet (copied from the package's assets).
STYLESHEET = "assets/style.css"

#: A navigation section: its title and (page id, link text) entries.
NavSection = tuple[str, tuple[tuple[str, str], ...]]


def stylesheet_text() -> str:
    """The site's stylesheet (package data)."""
    from importlib import resources

    return resources.files("sagaspec.docs").joinpath("assets", "style.css").read_text("utf-8")


def html_file(page_id: str) -> str:
    return page_id + ".html"


def _inline(parts: Inlines, page: Page) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(esc(p).replace("\n", "<br>"))
        elif isinstance(p, Code):
            out.append(f"<code>{esc(p.text)}</code>")
        elif isinstance(p, Strong):
            out.append(f"<strong>{esc(p.text)}</strong>")
        elif isinstance(p, Badge):
            out.append(f'<span class="badge badge-{esc(p.tone)}">{esc(p.text)}</span>')
        elif isinstance(p, Link):
            text = f"<code>{esc(p.text.text)}</code>" if isinstance(p.text, Code) else esc(p.text)
            if p.page is not None:
                target = relative(page.id, html_file(p.page))
            elif p.href is not None:
                target = p.href if "://" in p.href else relative(page.id, p.href)
            else:
                target = ""
            if p.anchor:
                target += "#" + p.anchor
            out.append(f'<a href="{esc(target)}">{text}</a>')
        else:  # pragma: no cover - the Inline union is closed
            raise TypeError(f"unknown inline {p!r}")
    return "".join(out)


def _blocks(blocks, page: Page) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = b.anchor or slug(b.text)
            out.append(
                f'<h{b.level} id="{esc(anchor)}">{esc(b.text)}'
                f'<a class="anchor" href="#{esc(anchor)}" aria-label="link to this section">#</a>'
                f"</h{b.level}>"
            )
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.parts, page)}</p>")
        elif isinstance(b, BulletList):
            items = "".join(f"<li>{_inline(i, page)}</li>" for i in b.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(c, page)}</td>" for c in row) + "</tr>"
                for row in b.rows
            )
            css = f' class="{esc(b.css)}"' if b.css else ""
            out.append(
                f'<div class="table-wrap"><table{css}><thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table></div>"
            )
        elif isinstance(b, CodeBlock):
            lang = f' class="language-{esc(b.lang)}"' if b.lang else ""
            out.append(f"<pre><code{lang}>{esc(b.text)}</code></pre>")
        elif isinstance(b, Figure):
            links = []
            if b.svg_file:
                links.append(f'<a href="{esc(relative(page.id, b.svg_file))}">SVG</a>')
            caption = _inline(b.caption, page) if b.caption else ""
            mermaid = (
                f"<details class=\"mermaid-source\"><summary>Mermaid source</summary>"
                f"<pre><code class=\"language-mermaid\">{esc(b.diagram.to_mermaid())}</code></pre>"
                f"</details>"
            )
            sep = " · " if caption and links else ""
            out.append(
                f'<figure class="diagram" id="fig-{esc(b.diagram.key)}">'
                f'<div class="diagram-scroll">{b.diagram.to_svg()}</div>'
                f"<figcaption>{caption}{sep}{' · '.join(links)}{mermaid}</figcaption></figure>"
            )
        elif isinstance(b, Details):
            inner = "".join(_blocks(b.blocks, page))
            out.append(f"<details><summary>{esc(b.summary)}</summary>{inner}</details>")
        else:  # pragma: no cover
            raise TypeError(f"unknown block {b!r}")
    return out


def _word_breaks(text: str) -> str:
    """Escaped ``text`` that may wrap only between the words of a CamelCase name.

    >>> _word_breaks("InventoryReservationFailed")
    'Inventory<wbr>Reservation<wbr>Failed'
    """
    return "<wbr>".join(esc(part) for part in re.split(r"(?<=[a-z0-9])(?=[A-Z])", text))


def _nav(page: Page, nav: tuple[NavSection, ...]) -> str:
    parts = []
    for title, entries in nav:
        items = []
        for pid, text in entries:
            current = ' aria-current="page" class="current"' if pid == page.id else ""
            items.append(
                f'<li><a href="{esc(relative(page.id, html_file(pid)))}"{current}>{_word_breaks(text)}</a></li>'
            )
        parts.append(f"<h2>{esc(title)}</h2><ul>{''.join(items)}</ul>")
    return "".join(parts)


def render_html(
    page: Page,
    nav: tuple[NavSection, ...],
    site_title: str = "sagaspec",
    footer: str = "",
    *,
    inline_css: str | None = None,
    home: bool = True,
) -> str:
    """A complete HTML document for ``page`` with the site navigation ``nav``.

    ``inline_css`` embeds the stylesheet instead of linking it (single-file reports);
    ``home=False`` drops the link to the site's index from the header.
    """
    body = "".join(_blocks(page.blocks, page))
    summary = f'<p class="summary">{esc(page.summary)}</p>' if page.summary else ""
    foot = f"<footer>{esc(footer)}</footer>" if footer else ""
    if inline_css is not None:
        style = f"<style>{inline_css}</style>"
    else:
        style = f'<link rel="stylesheet" href="{esc(relative(page.id, STYLESHEET))}">'
    brand = (
        f'<a class="brand" href="{esc(relative(page.id, html_file("index")))}">{esc(site_title)}</a>'
        if home else f'<span class="brand">{esc(site_title)}</span>'
    )
    nav_html = f'<nav aria-label="site">{_nav(page, nav)}</nav>' if nav else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)} · {esc(site_title)}</title>"
        '<link rel="icon" href="data:,">'
        f"{style}"
        f'</head><body data-page="{esc(page.id)}">'
        f"<header>{brand}</header>"
        f'<div class="layout">{nav_html}<main><h1>{esc(page.title)}</h1>{summary}{body}</main></div>'
        f"{foot}</body></html>\n"
    )
