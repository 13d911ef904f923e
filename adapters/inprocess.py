"""The in-process adapter: drive a Python object or callable directly, no transport.

What it wraps (see :func:`as_target`):

* a *target*: an object with ``deliver(event)`` and ``drain()`` (everything published
  since the last drain), and any of ``place_order``, ``setup``, ``crash``, ``reset``,
  ``deliver_raw`` it supports, listed in an optional ``capabilities`` attribute. The
  reference system and its single services are targets;
* a *service object* with ``handle(message)`` and ``relay(publish)`` (the reference
  service shape), wrapped as a lone participant;
* a *callable* ``fn(event) -> iterable of published events`` (a pure-function service).
  A coroutine function works too.

Any method of the wrapped object may be ``async``; the adapter awaits what it returns.

Crash points (:mod:`sagaspec.adapters.crash`): a target whose ``crash`` takes a ``point``
(kill it there during its next handling) is restarted now and armed at the point; a
target with a ``crash_point`` attribute (the point its ``crash(participant)`` arms, as
the reference services' option) gets it set for each crash. Either honours every point;
any other target does not say where its crashes land (``crash_points`` is ``None``). A
delivery the target reports killed before its acknowledgement
(:class:`~sagaspec.adapters.crash.ConsumerCrashed`) is redelivered, as a broker would.

A steppable system (a target with ``steppable`` true, ``hold(on)`` and
``deliver_to(participant, event)``, as the spec interpreter's whole system) gets the
capability :data:`~sagaspec.adapters.base.STEP`: :meth:`InProcessAdapter.hold` stops its
own bus and :meth:`InProcessAdapter.deliver_to` hands one message to one participant, so
the suite interleaves sagas delivery by delivery. Any other target runs each saga by itself.
An exception raised by a wrapped service while handling a delivery is not an adapter
failure but a finding: it is collected as a :class:`~sagaspec.adapters.base.RawMessage`
with ``reason`` ``"consumer crashed: <Type>: <message>"``.

Adapter string: ``inprocess:pkg.mod:factory[?key=value&...]``. The factory is called with
those options (ints and ``true``/``false`` converted) plus ``participant``, ``design`` and
``mutant`` when its signature accepts them, and returns an :class:`Adapter`, a target, a
service object or a callable. ``inprocess:`` alone uses the target factory of the
``reference`` entry point of ``sagaspec.targets`` (the reference services; see
:mod:`sagaspec.adapters.plugins`), e.g.
``inprocess:?mutant=no-idempotency`` or ``inprocess:?design=seed``.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from sagaspec.adapters.base import CAPABILITIES, KNOBS, STEP, Adapter, RawMessage, World
from sagaspec.adapters.crash import CRASH_POINTS, ConsumerCrashed, CrashPoint
from sagaspec.adapters.plugins import TARGETS, load_plugin

from sagaspec.errors import AdapterError, SagaspecError, UsageError

__all__ = [
    "InProcessAdapter",
    "ServiceTarget",
    "CallableTarget",
    "as_target",
    "load_factory",
    "from_spec",
    "reference_adapter",
]


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


#: Deliveries of one event to a target that keeps dying before acknowledging it.
_REDELIVERIES = 4


def _takes_point(fn: Any) -> bool:
    """Whether ``fn`` (a target's ``crash``) accepts a ``point`` argument."""
    # Asked per case (crash_points); a bound method's answer is its function's.
    key = getattr(fn, "__func__", None)
    if key is None:
        return _signature_takes_point(fn)
    found = _TAKES_POINT.get(key)
    if found is None:
        found = _TAKES_POINT[key] = _signature_takes_point(fn)
    return found


_TAKES_POINT: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _signature_takes_point(fn: Any) -> bool:
    try:
        return "point" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _crash_report(message: Any, source: str, exc: BaseException) -> RawMessage:
    text = str(exc).strip().splitlines()
    payload = message if isinstance(message, bytes) else repr(message).encode()
    return RawMessage(payload, source, f"consumer crashed: {type(exc).__name__}: {text[0] if text else ''}"[:300])


class ServiceTarget:
    """A lone service object with ``handle(message)`` and ``relay(publish)``.

    Optional hooks follow what the object has: ``place_order`` (an Order service),
    ``configure(world)`` (setup), ``restarted()`` (crash: a new instance on the same
    store) and, when a ``factory`` of fresh services is given, reset.
    """

    def __init__(self, service: Any, name: str | None = None,
                 factory: Callable[[], Any] | None = None) -> None:
        self.service = service
        self.name = name or getattr(service, "name", "") or type(service).__name__
        self.factory = factory
        self._out: list[Any] = []
        caps = {"deliver_raw"}
        if factory is not None:
            caps.add("reset")
        if hasattr(service, "place_order"):
            caps.add("place_order")
        if hasattr(service, "configure"):
            caps.add("setup")
        if hasattr(service, "restarted"):
            caps.add("crash")
        self.capabilities = frozenset(caps)

    async def deliver(self, event: Any) -> None:
        try:
            await _maybe_await(self.service.handle(event))
        except Exception as exc:
            self._out.append(_crash_report(event, self.name, exc))
            return
        await _maybe_await(self.service.relay(self._out.append))

    async def deliver_raw(self, payload: bytes) -> None:
        await self.deliver(bytes(payload))

    def drain(self) -> list[Any]:
        out, self._out = self._out, []
        return out

    async def place_order(self, order: dict[str, Any]) -> None:
        await _maybe_await(self.service.place_order(order))
        await _maybe_await(self.service.relay(self._out.append))

    async def setup(self, world: World) -> None:
        await _maybe_await(self.service.configure(world))

    async def reset(self) -> None:
        """A fresh service from ``factory`` (new store): everything forgotten."""
        if self.factory is None:
            raise NotImplementedError(f"{self.name}: reset needs a factory")
        self.service = self.factory()
        self._out = []

    async def crash(self, participant: str) -> None:
        if participant != self.name:
            raise AdapterError(f"cannot crash {participant!r}; this target runs {self.name!r}")
        self.service = self.service.restarted()
        await _maybe_await(self.service.relay(self._out.append))


class CallableTarget:
    """A pure-function service: ``fn(event)`` returns (or yields) what it publishes."""

    capabilities = frozenset({"deliver_raw"})

    def __init__(self, fn: Callable[[Any], Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "service")
        self._out: list[Any] = []

    async def deliver(self, event: Any) -> None:
        try:
            result = await _maybe_await(self.fn(event))
            if result is None:
                return
            if isinstance(result, dict):
                result = [result]
            self._out.extend(result)
        except Exception as exc:
            self._out.append(_crash_report(event, self.name, exc))

    async def deliver_raw(self, payload: bytes) -> None:
        await self.deliver(bytes(payload))

    def drain(self) -> list[Any]:
        out, self._out = self._out, []
        return out


def as_target(obj: Any) -> Any:
    """Turn a target, service object or callable into a target (see module docstring)."""
    if hasattr(obj, "deliver") and hasattr(obj, "drain"):
        return obj
    if hasattr(obj, "handle") and hasattr(obj, "relay"):
        return ServiceTarget(obj)
    if callable(obj):
        return CallableTarget(obj)
    raise AdapterError(
        f"cannot drive {type(obj).__name__} in-process: expected an Adapter, an object with "
        "deliver()/drain(), a service with handle()/relay(), or a callable"
    )


def _target_capabilities(target: Any) -> frozenset[str]:
    declared = getattr(target, "capabilities", None)
    if declared is not None:
        caps = set(declared)
    else:
        caps = {h for h in CAPABILITIES if callable(getattr(target, h, None))}
    # A target starts sagas by start_saga, place_order (the older name) or, a target of
    # the spec interpreter, start({"sagaId", "fields"}).
    if caps & {"start", "place_order"}:
        caps.add("start_saga")
    return frozenset(caps) & frozenset(CAPABILITIES)


def _normalise(item: Any, source: str) -> dict[str, Any] | RawMessage:
    if isinstance(item, (dict, RawMessage)):
        return item
    if isinstance(item, (bytes, bytearray, str)):
        import json

        raw = item.encode() if isinstance(item, str) else bytes(item)
        try:
            decoded = json.loads(raw)
        except ValueError as exc:
            return RawMessage(raw, source, f"not JSON: {exc}")
        if isinstance(decoded, dict):
            return decoded
        return RawMessage(raw, source, f"not a JSON object but {type(decoded).__name__}")
    return RawMessage(repr(item).encode(), source, f"not an event: a {type(item).__name__}")


class InProcessAdapter(Adapter):
    """Drive a target in the same process; every optional hook the target has."""

    name = "inprocess"

    def __init__(self, target: Any, *, label: str | None = None) -> None:
        self.target = as_target(target)
        self.label = label or repr(target)
        self._caps = _target_capabilities(self.target)
        #: The interpreter's targets take the spec's knob values as their world.
        self.world_knobs = bool(getattr(self.target, "world_knobs", False))
        #: The point the target's own ``crash_point`` option arms (restored for a crash
        #: without a point: one with a point sets it).
        self._own_point = getattr(self.target, "crash_point", None)
        self._step = getattr(self.target, "steppable", False) is True and all(
            callable(getattr(self.target, hook, None)) for hook in ("hold", "deliver_to"))

    def __repr__(self) -> str:
        return f"<InProcessAdapter {self.label}>"

    @property
    def capabilities(self) -> frozenset[str]:
        return self._caps | ({KNOBS} if self.world_knobs else set()) | ({STEP} if self._step else set())

    def _need(self, hook: str) -> Any:
        if hook not in self._caps:
            raise NotImplementedError(f"{self.label} does not support {hook}")
        return getattr(self.target, hook)

    async def deliver(self, event: dict[str, Any]) -> None:
        # Killed before acknowledging: the broker redelivers (bounded, as the reference
        # services' own bus does).
        for _ in range(_REDELIVERIES):
            try:
                await _maybe_await(self.target.deliver(event))
                return
            except ConsumerCrashed:
                continue
        raise ConsumerCrashed(f"{self.label}: killed on each of {_REDELIVERIES} deliveries")

    async def hold(self, on: bool = True) -> None:
        """Hold the system's own bus (``on``; capability :data:`STEP`): what its
        participants publish is only collected, and the suite delivers each message with
        :meth:`deliver_to`. ``False``: it runs each saga by itself again."""
        if not self._step:
            raise NotImplementedError(f"{self.label} does not support step")
        await _maybe_await(self.target.hold(on))

    async def deliver_to(self, participant: str, event: dict[str, Any]) -> bool:
        """Hand ``event`` to ``participant`` alone (capability :data:`STEP`); False when
        it was killed before its ack (not redelivered here: the suite chooses when)."""
        if not self._step:
            raise NotImplementedError(f"{self.label} does not support step")
        try:
            await _maybe_await(self.target.deliver_to(participant, event))
        except ConsumerCrashed:
            return False
        return True

    @property
    def crash_points(self) -> tuple[CrashPoint, ...] | None:
        """The crash points :meth:`crash` honours (see the module docstring)."""
        if "crash" not in self._caps:
            return None
        if _takes_point(self.target.crash) or isinstance(getattr(self.target, "crash_point", None), str):
            return CRASH_POINTS
        return None

    async def collect(self, timeout: float) -> list[dict[str, Any] | RawMessage]:
        # The target runs synchronously inside deliver/place_order, so it is already quiet.
        items = await _maybe_await(self.target.drain())
        source = getattr(self.target, "name", "") or "inprocess"
        return [_normalise(i, source) for i in items]

    async def start_saga(self, payload: dict[str, Any]) -> None:
        if "start_saga" not in self._caps:
            raise NotImplementedError(f"{self.label} does not support start_saga")
        for hook in ("start_saga", "place_order"):
            if callable(getattr(self.target, hook, None)):
                await _maybe_await(getattr(self.target, hook)(payload))
                return
        fields = {k: v for k, v in payload.items() if k != "sagaId"}
        await _maybe_await(self.target.start({"sagaId": payload["sagaId"], "fields": fields}))

    async def place_order(self, order: dict[str, Any]) -> None:
        await _maybe_await(self._need("place_order")(order))

    async def deliver_raw(self, payload: bytes) -> None:
        await _maybe_await(self._need("deliver_raw")(bytes(payload)))

    async def setup(self, world: World) -> None:
        await _maybe_await(self._need("setup")(world.knob_values() if self.world_knobs else world))

    async def crash(self, participant: str, point: CrashPoint | None = None) -> None:
        """Kill and restart ``participant`` now; with ``point``, armed to die there in its
        next handling (only a point of :attr:`crash_points`)."""
        crash = self._need("crash")
        if point is None:
            if isinstance(self._own_point, str):
                self.target.crash_point = self._own_point
            await _maybe_await(crash(participant))
            return
        if point not in (self.crash_points or ()):
            raise NotImplementedError(f"{self.label} cannot crash at {point}")
        if _takes_point(crash):
            await _maybe_await(crash(participant))  # killed now, as a point-less crash
            await _maybe_await(crash(participant, point))
            return
        self.target.crash_point = point
        await _maybe_await(crash(participant))

    async def reset(self) -> None:
        await _maybe_await(self._need("reset")())

    async def close(self) -> None:
        closer = getattr(self.target, "close", None)
        if callable(closer):
            await _maybe_await(closer())


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    try:
        return int(value)
    except ValueError:
        return value


def load_factory(path: str) -> Callable[..., Any]:
    """Import ``pkg.mod:attr`` (``attr`` may be dotted); one-line :class:`AdapterError`."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise AdapterError(f"invalid in-process factory {path!r}; expected 'pkg.module:factory'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"cannot import {module_name!r} for adapter 'inprocess:{path}': {exc}") from None
    except SagaspecError:
        raise
    except Exception as exc:  # the user's module failed while importing
        raise AdapterError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AdapterError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _call_factory(factory: Any, label: str, kwargs: dict[str, Any]) -> Any:
    if not callable(factory):
        return factory  # an object given by name: use it as the target
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    if sig is not None and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = {k: v for k, v in kwargs.items() if k in sig.parameters}
        unknown = set(kwargs) - set(accepted) - {"participant", "design", "mutant"}
        if unknown:
            raise AdapterError(f"{label} does not accept option(s) {', '.join(sorted(unknown))}")
        if kwargs.get("mutant") and "mutant" not in accepted:
            # Dropped like participant and design, the run would report the unmutated
            # service as the mutant.
            raise UsageError(f"--mutant {kwargs['mutant']}: {label} takes no mutant (its factory has "
                             "no 'mutant' parameter); --mutant applies to the reference services "
                             "(--adapter inprocess:)")
        kwargs = accepted
    try:
        return factory(**kwargs)
    except SagaspecError:
        raise
    except Exception as exc:
        raise AdapterError(f"{label} failed: {type(exc).__name__}: {exc}") from None


def from_spec(spec: str, **options: Any) -> Adapter:
    """Build an in-process adapter from ``inprocess:pkg.mod:factory?k=v``.

    ``options`` (``participant``, ``design``, ``mutant``, ...) are offered to the factory;
    ``None`` values are left out so the factory's defaults apply.
    """
    rest = spec.split(":", 1)[1] if ":" in spec else ""
    path, _, query = rest.partition("?")
    path = path.strip()
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise AdapterError(f"invalid options {query!r} in adapter {spec!r}; expected key=value&...") from None
    kwargs = {k: v for k, v in options.items() if v is not None}
    kwargs.update({k: _coerce(v) for k, v in pairs})
    factory = load_factory(path) if path else load_plugin(TARGETS)
    made = _call_factory(factory, f"inprocess:{path or 'reference'}", kwargs)
    if isinstance(made, Adapter):
        return made
    label = f"inprocess:{path}" + (f"?{query}" if query else "")
    return InProcessAdapter(made, label=label)


def reference_adapter(
    participant: str = "system", design: str = "corrected", mutant: str | None = None, **kwargs: Any
) -> InProcessAdapter:
    """An in-process adapter over the reference services (optionally a mutant).

    >>> sorted(reference_adapter(mutant="no-idempotency").capabilities)
    ['crash', 'deliver_raw', 'place_order', 'reset', 'setup', 'start_saga']
    """
    target = load_plugin(TARGETS)(participant, design, mutant, **kwargs)
    label = f"reference {design}/{participant}" + (f" mutant={mutant}" if mutant else "")
    return InProcessAdapter(target, label=label)
