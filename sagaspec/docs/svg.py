"""Small, dependency-free helpers for writing SVG by hand.

Diagrams are laid out in Python so the generated site needs no JavaScript at view time.
Text width cannot be measured without a font engine, so :func:`text_width` estimates it
from per-character advance widths close to DejaVu Sans / Arial; layouts add padding so
an estimate that is a few percent off never makes labels collide.

>>> esc('<a & "b">')
'&lt;a &amp; &quot;b&quot;&gt;'
>>> text_width("OrderCreated", 13) > text_width("Order", 13)
True
>>> num(12.345)
'12.3'
"""

from __future__ import annotations

import re
from html import escape

__all__ = ["FONT_FAMILY", "esc", "num", "text_width", "slug", "wrap"]

#: Font stack used by every diagram; DejaVu Sans ships with Debian's Chromium.
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"

# Advance widths in em for DejaVu Sans (the font Debian's Chromium falls back to);
# it is wider than Arial, so Arial renders with a little slack, never an overlap.
_NARROW = set("il.,:;!|'`ftjrI()[]{} ")
_WIDE = set("mwMW@%")
_UPPER_WIDE = set("ABCDGHKNOQRUVXYZ&")


def text_width(text: str, size: float = 13.0) -> float:
    """Estimated rendered width of ``text`` in pixels at font ``size``."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.34
        elif ch in _WIDE:
            em += 0.92
        elif ch in _UPPER_WIDE:
            em += 0.74
        elif ch.isupper():
            em += 0.66
        elif ch.isdigit():
            em += 0.64
        else:
            em += 0.62
    return em * size


def esc(text: object) -> str:
    """Escape text for an SVG/HTML text node or attribute value."""
    return escape(str(text), quote=True).replace("\n", "&#10;")


def num(value: float) -> str:
    """Format a coordinate compactly and deterministically (one decimal, no ``-0``)."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def slug(text: str) -> str:
    """A lowercase identifier usable in ids, file names and anchors.

    >>> slug("Payment declined, inventory reserved")
    'payment-declined-inventory-reserved'
    """
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s or "x"


def wrap(text: str, width: float, size: float = 13.0) -> list[str]:
    """Greedy word wrap so each line's estimated width stays under ``width`` pixels.

    >>> wrap("charge approved, publish PaymentProcessed", 120)
    ['charge approved,', 'publish', 'PaymentProcessed']
    """
    lines: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines
