"""Implementations found by name: the entry points installed packages declare.

The generic layers run no system of their own. What they start in this process (a
target, a spec's interpreter) or as processes (a launcher of participants) is a
plugin, looked up with :func:`importlib.metadata.entry_points` as pytest finds its
``pytest11`` plugins. sagaspec's reference services declare theirs under the name
``reference`` in sagaspec's ``pyproject.toml``:

=========================  ===============================================================
group                      the object named there
=========================  ===============================================================
``sagaspec.targets``       an in-process target factory: ``reference`` makes the reference
                           system (``participant, design, mutant, **options``);
                           ``interpreter`` wraps a maker of fresh services of a spec
                           (``make, participant``) in the wire contract
``sagaspec.interpreters``  the service class of a spec's interpreter
                           (``spec, participant, store=None, *, world, params``)
``sagaspec.launchers``     a :data:`~sagaspec.adapters.broker.LauncherFactory`
=========================  ===============================================================
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from sagaspec.errors import AdapterError

__all__ = ["TARGETS", "INTERPRETERS", "LAUNCHERS", "load_plugin"]

TARGETS = "sagaspec.targets"
INTERPRETERS = "sagaspec.interpreters"
LAUNCHERS = "sagaspec.launchers"

#: (group, name) -> the loaded object (an entry point is imported once).
_LOADED: dict[tuple[str, str], Any] = {}


def load_plugin(group: str, name: str = "reference") -> Any:
    """The object the entry point ``name`` of ``group`` names, imported on first use.

    Raises :class:`~sagaspec.errors.AdapterError` (one line) when no installed package
    declares it or it cannot be imported.
    """
    key = (group, name)
    if key in _LOADED:
        return _LOADED[key]
    found = list(entry_points(group=group, name=name))
    if not found:
        raise AdapterError(
            f"no entry point {name!r} in group {group!r}: install the package that declares "
            f"it (sagaspec's reference services do, in sagaspec's pyproject.toml; after a "
            f"source checkout run pip install -e .)")
    point = found[0]
    try:
        loaded = point.load()
    except (ImportError, AttributeError) as exc:
        detail = " ".join(str(exc).split())
        raise AdapterError(f"entry point {name!r} in group {group!r} ({point.value}) cannot be "
                           f"loaded: {detail}") from None
    _LOADED[key] = loaded
    return loaded
