"""Adapter strings: ``--adapter SPEC`` -> an :class:`~sagaspec.adapters.base.Adapter`.

The scheme (text before the first ``:``) picks a factory from a registry:

=================  ==============================================  =====================
scheme             example                                         factory
=================  ==============================================  =====================
``inprocess``      ``inprocess:pkg.mod:factory?mutant=no-idempotency``  ``sagaspec.adapters.inprocess:from_spec``
``http``/``https`` ``http://127.0.0.1:8080?collect=webhook``          ``sagaspec.adapters.http:from_spec``
``nats``           ``nats://127.0.0.1:4222``                           ``sagaspec.adapters.nats:from_spec``
``amqp``/``amqps`` ``amqp://guest:guest@127.0.0.1:5672/``              ``sagaspec.adapters.rabbitmq:from_spec``
``redis``          ``redis://127.0.0.1:6379/0``                        ``sagaspec.adapters.redis_streams:from_spec``
=================  ==============================================  =====================

A factory is ``factory(spec: str, **options) -> Adapter``; ``options`` carries
``participant``, ``design`` and ``mutant`` (``None`` when not given) and whatever else the
caller passes. Entries are ``"module:attribute"`` strings imported on first use, so a
missing optional dependency only breaks its own scheme. Add a scheme with
:func:`register_scheme` or, from another distribution, an entry point in the group
``sagaspec.adapters`` named after the scheme.

>>> parse_scheme("http://127.0.0.1:8080"), parse_scheme("inprocess:pkg.mod:make")
('http', 'inprocess')
>>> load_adapter("ftp://example")
Traceback (most recent call last):
...
sagaspec.errors.AdapterError: unknown adapter scheme 'ftp' in 'ftp://example'; expected one of amqp, amqps, http, https, inprocess, nats, redis, rediss
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

from sagaspec.adapters.base import Adapter

from sagaspec.errors import AdapterError, SagaspecError

__all__ = ["register_scheme", "schemes", "parse_scheme", "load_adapter", "ENTRY_POINT_GROUP"]

#: Entry-point group other distributions use to add adapter schemes.
ENTRY_POINT_GROUP = "sagaspec.adapters"

AdapterFactory = Callable[..., Adapter]

_REGISTRY: dict[str, AdapterFactory | str] = {
    "inprocess": "sagaspec.adapters.inprocess:from_spec",
    "http": "sagaspec.adapters.http:from_spec",
    "https": "sagaspec.adapters.http:from_spec",
    # Broker adapters (their own issue) live beside these; until their module exists
    # the scheme reports that it is not installed.
    "nats": "sagaspec.adapters.nats:from_spec",
    "amqp": "sagaspec.adapters.rabbitmq:from_spec",
    "amqps": "sagaspec.adapters.rabbitmq:from_spec",
    "redis": "sagaspec.adapters.redis_streams:from_spec",
    "rediss": "sagaspec.adapters.redis_streams:from_spec",
}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)(?::|$)")


def register_scheme(scheme: str, factory: AdapterFactory | str, *, replace: bool = True) -> None:
    """Make ``scheme:...`` adapter strings use ``factory`` (a callable or ``"mod:attr"``)."""
    key = scheme.lower().rstrip(":/")
    if not _SCHEME.match(key):
        raise ValueError(f"invalid scheme {scheme!r}")
    if not replace and key in _REGISTRY:
        raise ValueError(f"scheme {key!r} is already registered")
    _REGISTRY[key] = factory


def schemes() -> tuple[str, ...]:
    """Every registered scheme (including entry points), sorted."""
    names = set(_REGISTRY)
    names.update(ep.name for ep in _entry_points())
    return tuple(sorted(names))


def _entry_points() -> list[Any]:
    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # a broken distribution must not break the built-in schemes
        return []


def parse_scheme(spec: str) -> str:
    """The lower-cased scheme of ``spec``; :class:`AdapterError` if there is none."""
    if not isinstance(spec, str) or not spec.strip():
        raise AdapterError("empty adapter string; expected e.g. 'inprocess:pkg.mod:factory' or 'http://127.0.0.1:8080'")
    m = _SCHEME.match(spec.strip())
    if not m:
        raise AdapterError(
            f"invalid adapter string {spec!r}; expected 'inprocess:pkg.mod:factory', "
            "'http://HOST:PORT' or a broker URL"
        )
    return m.group(1).lower()


def _resolve(scheme: str, spec: str) -> AdapterFactory:
    entry = _REGISTRY.get(scheme)
    if entry is None:
        for ep in _entry_points():
            if ep.name == scheme:
                entry = ep.value
                break
    if entry is None:
        raise AdapterError(
            f"unknown adapter scheme {scheme!r} in {spec!r}; expected one of {', '.join(schemes())}"
        )
    if callable(entry):
        return entry
    module, _, attr = entry.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module or module.startswith(missing + "."):
            raise AdapterError(
                f"the {scheme}:// adapter is not available in this installation (no module {module})"
            ) from None
        raise AdapterError(
            f"the {scheme}:// adapter needs {exc.name!r}; install it (pip install 'sagaspec[brokers]')"
        ) from None
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise AdapterError(f"adapter module {module} has no factory {attr!r}") from None


def load_adapter(
    spec: str,
    *,
    participant: str | None = "system",
    design: str | None = None,
    mutant: str | None = None,
    mapping: Any = None,
    **options: Any,
) -> Adapter:
    """The adapter an adapter string names, optionally wrapped in a vocabulary mapping.

    ``mapping`` is a :class:`~sagaspec.adapters.mapping.Mapping`, a dict in the mapping
    format, or the path of a JSON/TOML mapping file. Every failure is one
    :class:`AdapterError` line (network errors surface later, in ``start()``).
    """
    scheme = parse_scheme(spec)
    factory = _resolve(scheme, spec)
    try:
        adapter = factory(spec.strip(), participant=participant, design=design, mutant=mutant, **options)
    except SagaspecError:
        raise
    except TypeError as exc:
        raise AdapterError(f"adapter {spec!r}: {exc}") from None
    if not isinstance(adapter, Adapter):
        raise AdapterError(f"the {scheme} factory returned {type(adapter).__name__}, not an Adapter")
    if mapping is not None:
        from sagaspec.adapters.mapping import MappedAdapter, load_mapping

        spec_obj = None
        if design is not None:
            from sagaspec.spec.sagafile import resolve_spec

            spec_obj = resolve_spec(design)  # the mapping is checked against the saga's events
        adapter = MappedAdapter(adapter, load_mapping(mapping, spec_obj))
    return adapter
