"""Field provenance: the value of an event's field from where the spec says it comes from.

Shared by the reference interpreter (which builds the events it publishes) and the
conformance suite (which builds the events of the participants it plays), so both read
``from:`` the same way: ``const`` (the schema's constant), ``new`` (a fresh id),
``world.KNOB`` (the world's value), ``sum(EVENT.LIST.FIELD)`` and ``EVENT.FIELD`` (an
earlier event of the saga). A field whose value provenance does not determine (no
``from:``, or its event not seen yet) is :data:`MISSING`: the caller decides (omit an
optional field, draw or make up a required one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sagaspec.spec.sagafile import SpecField

__all__ = ["MISSING", "field_value", "id_prefix", "free_field", "copied_from"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: Provenance does not determine the value.
MISSING: Any = _Missing()


def id_prefix(name: str) -> str:
    """The prefix of a new id for field ``name``: ``paymentId`` -> ``payment``."""
    return name.removesuffix("Id").lower() or "id"


def free_field(f: SpecField) -> bool:
    """Whether nothing in the spec fixes ``f``'s value (no ``from:``, no ``const``)."""
    return not f.source and "const" not in f.schema


def copied_from(f: SpecField) -> tuple[str, str] | None:
    """``(EVENT, FIELD)`` of a field declared ``from: EVENT.FIELD``, else ``None``."""
    src = f.source
    if not src or src == "new" or src.startswith(("world.", "sum(")) or src.count(".") != 1:
        return None
    event, _, field = src.partition(".")
    return event, field


def field_value(f: SpecField, events: Mapping[str, Mapping[str, Any]], *,
                new_id: Callable[[str], str], knob: Callable[[str], Any] | None = None) -> Any:
    """``f``'s value by its provenance, or :data:`MISSING`.

    ``events`` maps an event type to the payload of the saga's event of that type seen so
    far; ``new_id(prefix)`` makes a fresh id; ``knob(name)`` reads the world (``None``:
    the world is not known, so a ``world.KNOB`` field is :data:`MISSING`).
    """
    src = f.source
    if "const" in f.schema:
        return f.schema["const"]
    if not src:
        return MISSING
    if src == "new":
        return new_id(id_prefix(f.name))
    if src.startswith("world."):
        return MISSING if knob is None else knob(src[6:])
    if src.startswith("sum(") and src.endswith(")"):
        ev, _, path = src[4:-1].partition(".")
        items, _, field = path.partition(".")
        seen = events.get(ev) or {}
        return sum(item.get(field, 0) for item in seen.get(items) or ()
                   if isinstance(item, Mapping))
    ev, _, field = src.partition(".")
    seen = events.get(ev)
    if seen is not None and field in seen:
        return seen[field]
    return MISSING
