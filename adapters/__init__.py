"""Adapters: how the conformance suite reaches a system under test.

The protocol is in :mod:`sagaspec.adapters.base`; adapter strings are resolved by
:func:`load_adapter`. Shipped: in-process (:class:`InProcessAdapter`), HTTP
(:class:`HttpAdapter`) and the vocabulary mapping layer (:class:`MappedAdapter`).
Transport-specific modules are imported on first use, so importing this package does
not import httpx.

>>> from sagaspec.adapters import load_adapter
>>> load_adapter("inprocess:?participant=payment").capabilities >= {"setup", "crash"}
True
"""

from __future__ import annotations

import importlib
from typing import Any

from sagaspec.adapters.base import CAPABILITIES, Adapter, RawMessage, SyncAdapter, World
from sagaspec.adapters.spec import load_adapter, parse_scheme, register_scheme, schemes

__all__ = [
    "CAPABILITIES",
    "Adapter",
    "SyncAdapter",
    "RawMessage",
    "World",
    "load_adapter",
    "parse_scheme",
    "register_scheme",
    "schemes",
    "InProcessAdapter",
    "reference_adapter",
    "HttpAdapter",
    "MappedAdapter",
    "Mapping",
    "load_mapping",
]

_LAZY = {
    "InProcessAdapter": "sagaspec.adapters.inprocess",
    "reference_adapter": "sagaspec.adapters.inprocess",
    "HttpAdapter": "sagaspec.adapters.http",
    "MappedAdapter": "sagaspec.adapters.mapping",
    "Mapping": "sagaspec.adapters.mapping",
    "load_mapping": "sagaspec.adapters.mapping",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sagaspec.adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
