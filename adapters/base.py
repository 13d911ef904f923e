"""The adapter protocol: how the conformance suite drives a system under test.

Modelled on schemathesis' transports: the suite never talks to a service directly, only
through an :class:`Adapter`. Only :meth:`Adapter.deliver` and :meth:`Adapter.collect`
are required; the other hooks are optional and the suite reports the checks that need a
missing hook as *skipped* (see :attr:`Adapter.capabilities`).

Methods are ``async`` so broker clients (nats-py, aio-pika, redis.asyncio) fit naturally;
a synchronous adapter subclasses :class:`SyncAdapter` and implements the ``*_sync``
methods instead. The suite bridges both to hypothesis' synchronous rules with one event
loop per run.

Events cross the adapter as JSON-compatible ``dict`` objects in sagaspec's own
vocabulary (see ``sagaspec.spec.events``); a mapping layer translates a service's own
vocabulary. Messages that are not events at all are collected as :class:`RawMessage`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sagaspec.errors import InputError

__all__ = ["World", "RawMessage", "Adapter", "SyncAdapter", "CAPABILITIES", "KNOBS", "STEP",
           "shared_domains", "check_shared"]

#: Optional hooks an adapter may provide.
CAPABILITIES = ("start_saga", "place_order", "setup", "crash", "reset", "deliver_raw")
#: Capability of an adapter whose ``setup`` takes the spec's knob values per saga
#: (:attr:`World.knobs`) rather than the per-key form.
KNOBS = "knobs"
#: Capability of a whole system whose own bus the suite can hold (a steppable system):
#: ``hold(on)`` stops it delivering what its participants publish, and
#: ``deliver_to(participant, event) -> bool`` hands one message to one participant (False:
#: killed before its ack), so the suite picks the next delivery, its duplicates and where a
#: crash lands. A system without it runs each saga by itself.
STEP = "step"


@dataclass(frozen=True, init=False)
class World:
    """What the system under test must look like before a test case.

    ``knobs`` maps a sagaId to the value of each of the spec's world knobs for that saga
    (``{"saga-1": {"card": "decline"}}``): which way every world-decided alternative
    goes, as the reference interpreter takes it (:meth:`knob_values`). ``shared`` gives
    shared variables their starting values (``{"warehouse.free": 2}``: a stock level), so
    the guards that read them decide exactly.

    The per-key form, for targets that keep business data per key and decide by rules
    instead of knobs: ``stock`` maps a key of the spec's keyed variable -> units
    available, and the spec's world rules decide its knobs from the world's ``data``,
    by the names the rules read (``World(stock={"a": 2}, blocked=["bob"], limit="9.50")``:
    keyword arguments are data). On the wire each data name is a top-level field, after
    ``stock``; a set is sent as a sorted list.
    """

    stock: dict[str, int]
    knobs: dict[str, dict[str, str]]
    shared: dict[str, Any]
    data: dict[str, Any]

    def __init__(self, stock: dict[str, int] | None = None, *,
                 knobs: dict[str, dict[str, str]] | None = None,
                 shared: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
                 **named: Any) -> None:
        values = {**(data or {}), **named}
        taken = sorted(set(values) & _WORLD_KEYS)
        if taken:
            raise ValueError(f"world data cannot be named {', '.join(taken)} (a field of the world)")
        object.__setattr__(self, "stock", dict(stock or {}))
        object.__setattr__(self, "knobs", dict(knobs or {}))
        object.__setattr__(self, "shared", dict(shared or {}))
        object.__setattr__(self, "data", {str(k): _wire(v) for k, v in values.items()})

    def get(self, name: str, default: Any = None) -> Any:
        """The world data ``name`` (what the spec's world rules read), else ``default``."""
        return self.data.get(name, default)

    def rule_data(self) -> dict[str, Any]:
        """The data the spec's world rules read, by name."""
        return dict(self.data)

    def knob_values(self) -> dict[str, Any]:
        """The knob values per saga, in the interpreter's world form (``{"sagas": ...}``,
        with ``"shared"`` when set)."""
        out: dict[str, Any] = {"sagas": {sid: dict(v) for sid, v in self.knobs.items()}}
        if self.shared:
            out["shared"] = dict(self.shared)
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stock": dict(self.stock), **self.data}
        if self.knobs:
            out["knobs"] = {sid: dict(v) for sid, v in self.knobs.items()}
        if self.shared:
            out["shared"] = dict(self.shared)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        return cls(
            stock={str(k): int(v) for k, v in (data.get("stock") or {}).items()},
            knobs={str(s): {str(k): str(v) for k, v in (vals or {}).items()}
                   for s, vals in (data.get("knobs") or {}).items()},
            shared={str(k): v for k, v in (data.get("shared") or {}).items()},
            data={str(k): v for k, v in data.items() if k not in _WORLD_KEYS},
        )


_WORLD_KEYS = frozenset({"stock", "knobs", "shared"})


def _wire(value: Any) -> Any:
    """``value`` as JSON sends it: a set as a sorted list (one wire form per set)."""
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return sorted(value, key=repr)
    return list(value) if isinstance(value, tuple) else value


def shared_domains(spec: Any) -> dict[str, tuple[Any, Any, Any]]:
    """``{"PARTICIPANT.VAR": (var, low, high)}`` for every shared variable of ``spec``;
    bounds that depend on params are taken with each param at the largest the spec allows."""
    largest = {p.name: p.high for p in spec.params if p.type == "int" and p.high is not None}
    params = spec.resolve_params(spec.max_sagas, largest)
    out = {}
    for part in spec.participants:
        for v in part.shared:
            low = v.low(params) if v.low is not None else None
            high = v.high(params) if v.high is not None else None
            out[f"{part.name}.{v.name}"] = (v, low, high)
    return out


def check_shared(spec: Any, values: Any) -> dict[str, dict[str, Any]]:
    """World ``shared`` values (``{"PARTICIPANT.VAR": VALUE}``) checked against the spec's
    domains, by participant; :class:`InputError` naming the variable otherwise. A keyed
    variable takes one value (the model's one key) or an object of values per key."""
    if not isinstance(values, dict):
        raise InputError('world: shared: expected an object {"PARTICIPANT.VAR": VALUE}')
    domains = shared_domains(spec)
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in domains:
            known = ", ".join(domains) or "none"
            raise InputError(f"world: shared: unknown shared variable {key!r}; the spec has {known}")
        var, low, high = domains[key]
        if getattr(var, "key", None) and isinstance(value, dict):
            # Keyed (stock per sku): a value per key, each at least the minimum; the
            # model's bound does not cap a real stock.
            bad = next(((k, v) for k, v in value.items() if not isinstance(k, str) or
                        isinstance(v, bool) or not isinstance(v, int) or (low is not None and v < low)), None)
            if bad is not None:
                raise InputError(f"world: shared: {key}[{bad[0]!r}] is {bad[1]!r}; expected an integer "
                                 f"from {0 if low is None else low} up, per {var.key}")
            participant, _, name = key.partition(".")
            out.setdefault(participant, {})[name] = dict(value)
            continue
        if var.kind in ("int", "counter"):
            ok = isinstance(value, int) and not isinstance(value, bool) and \
                (low is None or value >= low) and (high is None or value <= high)
            expected = f"an integer from {0 if low is None else low} to {high}"
        elif var.kind == "bool":
            ok, expected = isinstance(value, bool), "true or false"
        else:
            ok, expected = value in var.values, f"one of {', '.join(var.values)}"
        if not ok:
            raise InputError(f"world: shared: {key} is {value!r}; expected {expected}")
        participant, _, name = key.partition(".")
        out.setdefault(participant, {})[name] = value
    return out


@dataclass(frozen=True)
class RawMessage:
    """Something the system under test published that is not (or not yet) an event."""

    payload: bytes
    source: str = ""
    reason: str = ""


class Adapter:
    """Base class of every adapter. Override ``deliver`` and ``collect`` at least."""

    #: Short name for reports, e.g. ``"inprocess"``, ``"http"``, ``"nats"``.
    name: str = "adapter"
    #: ``True``: :meth:`setup` takes the spec's knob values per saga (:attr:`World.knobs`).
    world_knobs: bool = False

    async def start(self) -> None:
        """Connect / start the system under test. Called once per run."""

    async def close(self) -> None:
        """Release every resource. Called once per run, also after failures."""

    async def deliver(self, event: dict[str, Any]) -> None:
        """Hand one event to the system under test (as the bus would)."""
        raise NotImplementedError

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        """Everything published since the last call, waiting at most ``timeout`` seconds
        for the system to go quiet."""
        raise NotImplementedError

    # Optional hooks: leave them unimplemented and the suite skips what needs them.
    async def start_saga(self, payload: dict[str, Any]) -> None:
        """The customer starts a saga (the saga's external trigger).

        ``payload`` is the trigger event's payload (its business fields, the spec's
        common identifiers and the ``sagaId``); the participant with the trigger reaction
        is expected to publish the trigger event with them. Needed when the target is
        that participant or ``system``. The default calls :meth:`place_order`.
        """
        await self.place_order(payload)

    async def place_order(self, order: dict[str, Any]) -> None:
        """Deprecated name of :meth:`start_saga`, kept for the adapters and reference
        services that implement it."""
        raise NotImplementedError

    async def deliver_raw(self, payload: bytes) -> None:
        """Hand arbitrary bytes to the system under test (negative-input checks)."""
        raise NotImplementedError

    async def setup(self, world: World) -> None:
        """Put the system's world (stock, payment rules) in the given state."""
        raise NotImplementedError

    async def crash(self, participant: str) -> None:
        """Crash ``participant`` (volatile state lost) and restart it."""
        raise NotImplementedError

    async def reset(self) -> None:
        """Forget everything between test cases (fresh saga ids are the fallback)."""
        raise NotImplementedError

    @property
    def capabilities(self) -> frozenset[str]:
        """The optional hooks this adapter actually implements."""
        mine = type(self)
        found = set()
        for hook in CAPABILITIES:
            impl = getattr(mine, hook, None)
            sync = getattr(mine, f"{hook}_sync", None)
            if impl is not getattr(Adapter, hook) and impl is not getattr(SyncAdapter, hook, None):
                found.add(hook)
            elif sync is not None and sync is not getattr(SyncAdapter, f"{hook}_sync", None):
                found.add(hook)
        if "place_order" in found:
            found.add("start_saga")  # the default start_saga calls it
        if getattr(self, "world_knobs", False):
            found.add(KNOBS)
        return frozenset(found)


class SyncAdapter(Adapter):
    """Adapter for blocking code: implement ``deliver_sync``, ``collect_sync``, ..."""

    def deliver_sync(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def collect_sync(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        raise NotImplementedError

    def place_order_sync(self, order: dict[str, Any]) -> None:
        raise NotImplementedError

    def deliver_raw_sync(self, payload: bytes) -> None:
        raise NotImplementedError

    def setup_sync(self, world: World) -> None:
        raise NotImplementedError

    def crash_sync(self, participant: str) -> None:
        raise NotImplementedError

    def reset_sync(self) -> None:
        raise NotImplementedError

    async def deliver(self, event: dict[str, Any]) -> None:
        self.deliver_sync(event)

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        return self.collect_sync(timeout)

    async def place_order(self, order: dict[str, Any]) -> None:
        self.place_order_sync(order)

    async def deliver_raw(self, payload: bytes) -> None:
        self.deliver_raw_sync(payload)

    async def setup(self, world: World) -> None:
        self.setup_sync(world)

    async def crash(self, participant: str) -> None:
        self.crash_sync(participant)

    async def reset(self) -> None:
        self.reset_sync()


def run_sync(coro: Any, loop: asyncio.AbstractEventLoop) -> Any:
    """Run ``coro`` to completion on ``loop`` (the suite's one loop per run)."""
    return loop.run_until_complete(coro)
