"""Checkable sagas from spec files: shipped designs by name, or any ``.saga.yaml``.

A *variant* is a loaded spec plus what the CLI says about it (its description, the
infrastructure it assumes). :func:`saga_system` builds the :class:`System` of a shipped
design name, a spec file path or a loaded spec, for a number of sagas and the spec's
params (``stock=1``, ``units=2`` ... whatever the spec declares).

>>> s = saga_system("corrected", orders=2)
>>> spec = shipped_spec("corrected")
>>> [p.name for p in s.participants] == [p.name for p in spec.participants], s.sagas
(True, 2)
>>> all(p.subscribes == set(spec.participant(p.name).subscribes) for p in s.participants)
True
>>> saga_system_from_meta(saga_system("seed", orders=3, stock=1).meta).meta["params"]["stock"]
1
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sagaspec.model.compile import spec_system
from sagaspec.model.system import System
from sagaspec.spec.designs import Design
from sagaspec.spec.sagafile import SHIPPED, SagaSpec, resolve_spec, shipped_spec

from sagaspec.errors import UsageError

__all__ = [
    "SagaVariant",
    "SAGA_MODELS",
    "saga_models",
    "saga_variant",
    "saga_system",
    "saga_system_from_meta",
    "default_stock",
    "seed",
    "corrected",
]


@dataclass(frozen=True)
class SagaVariant:
    """A checkable saga: its spec, the choreography table read from it, and its notes.

    ``assumes`` names the infrastructure guarantees the design relies on
    (``"idempotency"``: consumers keep a durable store of processed events; ``"outbox"``:
    state change and publishes commit together); ``sagaspec check`` says so when a run
    switches one off, since violations found then are outside the design's assumptions.
    """

    name: str
    spec: SagaSpec

    @property
    def design(self) -> Design:
        return self.spec.design()

    @property
    def description(self) -> str:
        s = self.spec
        return s.title + (f"; {s.summary}" if s.summary else "")

    @property
    def assumes(self) -> frozenset[str]:
        return self.spec.assumes

    @property
    def volatile(self) -> frozenset[str]:
        return frozenset(
            p.name for p in self.spec.participants if any(v.volatile for v in (*p.state, *p.shared))
        )


class _Shipped(dict):
    """Shipped variants by name, loaded on first use."""

    def __missing__(self, key):
        if key not in SHIPPED:
            raise KeyError(key)
        v = self[key] = SagaVariant(key, shipped_spec(key))
        return v

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def items(self):
        return [(k, self[k]) for k in SHIPPED]

    def __iter__(self):
        return iter(SHIPPED)

    def __contains__(self, key) -> bool:
        return key in SHIPPED

    def __len__(self) -> int:
        return len(SHIPPED)


SAGA_MODELS: dict[str, SagaVariant] = _Shipped()


def saga_models() -> tuple[str, ...]:
    """Names accepted by ``saga_system`` and ``sagaspec check --design``."""
    return tuple(SHIPPED)


def saga_variant(ref: str | SagaSpec) -> SagaVariant:
    """The variant of a shipped name, a spec file path or a loaded spec."""
    if isinstance(ref, SagaSpec):
        return SagaVariant(ref.shipped or ref.name, ref)
    if ref in SHIPPED:
        return SAGA_MODELS[ref]
    spec = resolve_spec(ref)
    return SagaVariant(spec.name, spec)


def default_stock(orders: int, units: int = 1) -> int:
    """The order specs' default stock: one order fewer than placed (both outcomes reachable).

    >>> default_stock(2), default_stock(3), default_stock(1)
    (1, 2, 1)
    """
    return max(orders - 1, 1) * units


def saga_system(
    design: str | Path | SagaSpec | SagaVariant = "corrected",
    orders: int | None = None,
    *,
    volatile: Iterable[str] | None = None,
    declines: bool | None = None,
    **params,
) -> System:
    """The saga of ``design`` as a checkable :class:`System`.

    ``design`` is a shipped name (``"seed"``, ``"corrected"``), a spec file path, a loaded
    :class:`SagaSpec` or a :class:`SagaVariant`. ``orders`` is the number of concurrent,
    interchangeable sagas (default: the spec's ``bounds.sagas``). Keyword arguments set
    the spec's params (``stock=1``); ``None`` keeps a param's default. ``volatile`` names
    the participants whose join memory a crash loses (overrides the spec).
    """
    if isinstance(design, SagaVariant):
        variant = design
    elif isinstance(design, (str, Path, SagaSpec)):
        variant = saga_variant(design if isinstance(design, SagaSpec) else str(design))
    else:
        raise UsageError(f"design must be a name, a spec file or a SagaSpec, got {type(design).__name__}")
    if declines is not None:
        params["declines"] = declines
    params = {k: v for k, v in params.items() if v is not None}
    spec = variant.spec
    sagas = spec.default_sagas if orders is None else orders
    if isinstance(sagas, bool) or not isinstance(sagas, int) or not 1 <= sagas <= spec.max_sagas:
        raise UsageError(f"orders must be an integer from 1 to {spec.max_sagas}, got {sagas!r}")
    values = spec.resolve_params(sagas, params)
    vol = None if volatile is None else sorted(frozenset(volatile))
    meta = {
        "design": variant.name if spec.shipped else spec.source,
        "orders": sagas,
        "params": {k: v for k, v in values.items() if k != "sagas"},
        "volatile": sorted(variant.volatile) if vol is None else vol,
    }
    name = f"order-saga/{variant.name}" if spec.shipped else spec.name
    system = spec_system(spec, sagas, params=params, volatile=vol, name=name, meta=meta)
    return system


#: Keys of ``System.meta`` (``stock``/``units``/``declines``: traces saved before ``params``).
_META_KEYS = ("design", "orders", "params", "volatile", "stock", "units", "declines")


def saga_system_from_meta(meta: dict) -> System:
    """Rebuild the system a saved trace was found on, from its ``System.meta``.

    The meta names a shipped design or a spec file (read as data, never run) and the
    run's sagas, params and volatile choice.
    """
    if not isinstance(meta, dict) or "design" not in meta:
        raise UsageError("model metadata must be an object with at least 'design'")
    unknown = sorted(set(meta) - set(_META_KEYS))
    if unknown:
        raise UsageError(f"unknown model metadata {', '.join(unknown)}; expected {', '.join(_META_KEYS)}")
    design = meta["design"]
    if not isinstance(design, str):
        raise UsageError("model metadata: 'design' must be a design name or a spec file path")
    params = meta.get("params")
    if params is None:  # traces saved before params were recorded
        params = {k: meta[k] for k in ("stock", "units", "declines") if k in meta}
    if not isinstance(params, dict):
        raise UsageError("model metadata: 'params' must be an object")
    return saga_system(design, meta.get("orders"), volatile=meta.get("volatile"), **params)


def seed() -> System:
    """The seed design with default bounds (for ``--model sagaspec.model.saga:seed``)."""
    return saga_system("seed")


def corrected() -> System:
    """The corrected design with default bounds."""
    return saga_system("corrected")
