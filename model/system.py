"""A system to check (participants + properties) and the bounds of one run.

:class:`System` is the model: the participants, the named properties, and how many
interchangeable sagas it contains (for symmetry reduction). :class:`Config` is one run's
environment: bus semantics, fault budgets, idempotency, depth bound, symmetry.
:func:`load_system` turns ``"pkg.module:NAME"`` into a :class:`System` for
``sagaspec check --model``.

>>> Config().bus, Config().duplicates, Config(bus="fifo").duplicates
('unordered-dup', 1, 0)
>>> Config(bus="unordered", duplicates=2)
Traceback (most recent call last):
...
sagaspec.errors.UsageError: bus 'unordered' delivers exactly once: duplicates must be 0 (got 2); use bus 'unordered-dup'
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path as _FsPath
from typing import Any

from sagaspec.model.participant import Participant
from sagaspec.model.properties import Property

from sagaspec.errors import ModelError, UsageError

__all__ = ["BUSES", "FAIRNESS", "Config", "symmetry_blocker", "settle_symmetry", "Bounds", "System", "load_system"]

#: Bus semantics a run can choose.
BUSES = ("unordered-dup", "unordered", "fifo", "set")

#: Fairness a run can assume for ``eventually`` and ``leads_to`` properties.
FAIRNESS = ("weak", "strong")


@dataclass(frozen=True)
class Config:
    """The environment of one model-checking run (all fields are bounds or switches).

    The defaults are saga-oriented, and ``sagaspec check`` has the same ones (this class
    is their one definition): an at-least-once bus with one duplicate delivery, each
    consumer's idempotency store on, the transactional outbox on, symmetry reduction
    whenever the model allows it, partial-order reduction wherever it applies. A model written as TLA+ or Stateright users write them
    usually wants ``Config(bus="unordered", idempotency=False)``, or
    ``Config(bus="set", idempotency=False)`` for TLA+'s never-removed message set.

    Parameters
    ----------
    bus
        ``"unordered-dup"`` (default): any in-flight message may be delivered next, and a
        delivery may leave a copy in flight (at-least-once), spending the duplicate budget.
        ``"unordered"``: any order, each copy delivered exactly once.
        ``"fifo"``: per-channel FIFO, a channel being (publisher, subscriber); with a
        duplicate budget the head may be redelivered.
        ``"set"``: persistent messages, as TLA+'s ``msgs`` set: a published message is
        never removed, and receiving it leaves it in the set, so a subscriber may receive
        it again in any later state; publishing an equal message again changes nothing.
        Handlers usually guard their receives (return ``()`` when not enabled, see
        :meth:`Participant.on_event`); a receive that changes nothing (same local state,
        publishes already in the set) is a stutter and not a step, so a state where
        every receive is declined or a stutter, and nothing internal is enabled, is
        quiescent (a deadlock, if the properties say so). No duplicate budget (a
        message is redelivered by design); with the idempotency store on, each
        participant handles each message once.
    duplicates
        Global budget of duplicate deliveries. ``None`` (default) means 1 for
        ``"unordered-dup"`` and 0 otherwise.
    crashes
        Crash budget *per participant*. A crash loses volatile state
        (:meth:`Participant.restart`) and keeps durable state, the idempotency store and
        every unacknowledged message (see :mod:`sagaspec.model.engine`).
    idempotency
        Each participant keeps a durable store of processed messages; a message already in
        it is acknowledged and dropped without calling the handler (the consumer's idempotency
        store of processed eventIds).
        ``False`` shows why the store is needed.
    outbox
        Publishes are committed with the state change (transactional outbox) and survive
        a crash inside the handler. ``False`` additionally explores the crash between the
        commit and the publish, which loses the publishes (the dual-write problem).
    max_depth
        Do not expand states deeper than this (``None``: no bound). A run cut by the bound
        is reported as not complete.
    symmetry
        Symmetry reduction over the system's interchangeable sagas (needs
        :meth:`Participant.permute` on every participant and symmetric properties).
        ``None`` (default): on when the system allows it (:func:`symmetry_blocker`),
        as ``sagaspec check`` does; ``True`` insists (an error if it cannot), ``False``
        turns it off. :func:`~sagaspec.model.explore.explore` and ``simulate`` settle
        ``None`` and report the settled value in ``CheckResult.config``.
    fairness
        ``"weak"`` (default) or ``"strong"``: the fairness ``eventually`` and
        ``leads_to`` properties assume, as TLA+'s WF/SF over every action (an action is
        one participant handling one message, or one labelled internal step). Weak: an
        action enabled forever from some point on is eventually taken. Strong: an action
        enabled again and again is eventually taken. Faults are never obliged.
    por
        Partial-order reduction (:mod:`sagaspec.model._por`): expand, per state, a
        stubborn set of steps (those of one saga, or of one participant and everything
        that may send to it) where that is sound for the properties being checked; a
        violation found that way is searched again without reduction, for the shortest
        counterexample. ``None`` (default): on wherever it applies (not for the set
        bus, a depth bound, ``eventually``/``leads_to`` properties, simulation or the
        distributed search); ``True``: asked for, and the result's notes say why where
        it does not apply; ``False``: off (the full state count, as pinned in tests).
        Verdicts are the same either way; ``bench/bench_check.py`` compares the times.
    """

    bus: str = "unordered-dup"
    duplicates: int | None = None
    crashes: int = 0
    idempotency: bool = True
    outbox: bool = True
    max_depth: int | None = None
    symmetry: bool | None = None
    fairness: str = "weak"
    por: bool | None = None

    def __post_init__(self) -> None:
        if self.symmetry not in (None, True, False):
            raise UsageError(f"symmetry must be true, false or None (when the model allows), got {self.symmetry!r}")
        if self.por not in (None, True, False):
            raise UsageError(f"por must be true, false or None (wherever it applies), got {self.por!r}")
        if self.fairness not in FAIRNESS:
            raise UsageError(f"unknown fairness {self.fairness!r}; expected one of {', '.join(FAIRNESS)}")
        if self.bus not in BUSES:
            raise UsageError(f"unknown bus {self.bus!r}; expected one of {', '.join(BUSES)}")
        dups = self.duplicates
        if dups is None:
            object.__setattr__(self, "duplicates", 1 if self.bus == "unordered-dup" else 0)
        elif not isinstance(dups, int) or isinstance(dups, bool) or dups < 0:
            raise UsageError(f"duplicates must be a non-negative integer, got {dups!r}")
        elif self.bus == "unordered" and dups:
            raise UsageError(
                f"bus 'unordered' delivers exactly once: duplicates must be 0 (got {dups}); "
                "use bus 'unordered-dup'"
            )
        elif self.bus == "set" and dups:
            raise UsageError(
                f"bus 'set' keeps every message, so any message can be received again: "
                f"duplicates must be 0 (got {dups})"
            )
        if not isinstance(self.crashes, int) or isinstance(self.crashes, bool) or self.crashes < 0:
            raise UsageError(f"crashes must be a non-negative integer, got {self.crashes!r}")
        if self.max_depth is not None and (
            not isinstance(self.max_depth, int) or self.max_depth < 0
        ):
            raise UsageError(f"max_depth must be a non-negative integer or None, got {self.max_depth!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "bus": self.bus,
            "duplicates": self.duplicates,
            "crashes": self.crashes,
            "idempotency": self.idempotency,
            "outbox": self.outbox,
            "max_depth": self.max_depth,
            "symmetry": self.symmetry,
            "fairness": self.fairness,
            "por": self.por,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown config field(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
        return cls(**data)


#: The same thing under the name used by the issue ("bounds").
Bounds = Config


@dataclass(frozen=True)
class System:
    """A model: participants, properties, and the number of interchangeable sagas.

    A published :class:`~sagaspec.model.participant.Msg` gets one in-flight copy per
    participant subscribing to its type (pub/sub fan-out, in participant order); a
    message nobody subscribes to is published and gone. ``sagas`` is the number of
    interchangeable sagas (saga indices ``0 .. sagas-1``), used only by symmetry
    reduction; 0 means "not declared" and disables it.
    """

    participants: tuple[Participant, ...]
    properties: tuple[Property, ...] = ()
    name: str = "model"
    sagas: int = 0
    description: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    #: Groups of interchangeable participants, by name (Stateright's symmetric actor
    #: ids), e.g. ``(("rm0", "rm1", "rm2"),)``: symmetry reduction then explores the
    #: states that differ only in which member is which once. Members of a group must
    #: subscribe to the same events, and every participant must implement
    #: :meth:`~sagaspec.model.participant.Participant.rename`.
    symmetric: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", tuple(self.participants))
        object.__setattr__(self, "properties", tuple(self.properties))
        seen: set[str] = set()
        for p in self.participants:
            if not isinstance(p, Participant):
                raise ModelError(
                    f"system {self.name!r}: {p!r} is not a Participant (subclass sagaspec.model.Participant)"
                )
            if not isinstance(p.name, str) or not p.name:
                raise ModelError(f"system {self.name!r}: participant {p!r} has no name")
            if p.name in seen:
                raise ModelError(f"system {self.name!r}: two participants are named {p.name!r}")
            seen.add(p.name)
            if not all(isinstance(t, str) for t in p.subscribes):
                raise ModelError(f"participant {p.name!r}: subscribes must be a set of event type names")
        if not self.participants:
            raise ModelError(f"system {self.name!r} has no participants")
        names: set[str] = set()
        for prop in self.properties:
            if not isinstance(prop, Property):
                raise ModelError(f"system {self.name!r}: {prop!r} is not a Property")
            if prop.name in names:
                raise ModelError(f"system {self.name!r}: two properties are named {prop.name!r}")
            names.add(prop.name)
        if not isinstance(self.sagas, int) or self.sagas < 0:
            raise ModelError(f"system {self.name!r}: sagas must be a non-negative integer")
        groups = tuple(tuple(g) for g in self.symmetric) if not isinstance(self.symmetric, str) else None
        if groups is None or not all(g and all(isinstance(x, str) for x in g) for g in groups):
            raise ModelError(
                f"system {self.name!r}: symmetric must be groups of participant names, "
                "e.g. (('rm0', 'rm1', 'rm2'),)"
            )
        object.__setattr__(self, "symmetric", groups)
        grouped: set[str] = set()
        for g in groups:
            for x in g:
                if x not in seen:
                    raise ModelError(f"system {self.name!r}: symmetric group {g!r} names no participant {x!r}")
                if x in grouped:
                    raise ModelError(f"system {self.name!r}: participant {x!r} is in two symmetric groups (or twice in one)")
                grouped.add(x)
            if len(g) < 2:
                raise ModelError(f"system {self.name!r}: symmetric group {g!r} needs at least 2 participants")
            subs = {self.participant(x).subscribes for x in g}
            if len(subs) > 1:
                raise ModelError(
                    f"system {self.name!r}: symmetric group {g!r}: its members must subscribe to the same events"
                )

    def participant(self, name: str) -> Participant:
        for p in self.participants:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.participants)
        raise ModelError(f"system {self.name!r} has no participant {name!r}; expected one of {known}")

    def subscribers(self, event_type: str) -> tuple[str, ...]:
        """Names of the participants a message of ``event_type`` is delivered to."""
        return tuple(p.name for p in self.participants if event_type in p.subscribes)

    def property(self, name: str) -> Property:
        for prop in self.properties:
            if prop.name == name:
                return prop
        known = ", ".join(p.name for p in self.properties) or "none"
        raise ModelError(f"system {self.name!r} has no property {name!r}; expected one of {known}")


def symmetry_blocker(system: System) -> str | None:
    """Why symmetry reduction cannot be used on ``system`` (``None``: it can).

    A system with symmetric participant groups is reduced over those (and not over its
    sagas); otherwise over its interchangeable sagas.
    """
    if system.symmetric:
        for part in system.participants:
            if type(part).rename is Participant.rename:
                return f"participant {part.name!r} does not implement rename()"
        return None
    if system.sagas < 2:
        return f"needs at least 2 interchangeable sagas, the model has {system.sagas}"
    for part in system.participants:
        if type(part).permute is Participant.permute:
            return f"participant {part.name!r} does not implement permute()"
    if system.sagas > 6:
        # Beyond 6 sagas only the sorted canonical form (per-saga slots) is offered.
        from sagaspec.model._sorted_symmetry import layout_blocker

        why = layout_blocker(system.participants, system.sagas)
        if why:
            return f"{system.sagas} sagas need per-saga slots: {why}"
    return None


def settle_symmetry(system: System, config: Config) -> Config:
    """``config`` with ``symmetry=None`` replaced by whether ``system`` allows it."""
    if config.symmetry is not None:
        return config
    return dataclasses.replace(config, symmetry=symmetry_blocker(system) is None)


def load_system(target: str) -> System:
    """Load ``"pkg.module:NAME"`` (or ``"path/to/file.py:NAME"``) as a :class:`System`.

    ``NAME`` may be a :class:`System` or a callable taking no arguments that returns one.
    Every failure is a :class:`~sagaspec.errors.ModelError` naming the culprit.
    """
    if not isinstance(target, str) or ":" not in target:
        raise ModelError(f"model {target!r}: expected 'pkg.module:NAME' or 'file.py:NAME'")
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise ModelError(f"model {target!r}: expected 'pkg.module:NAME' or 'file.py:NAME'")
    try:
        if module_name.endswith(".py"):
            path = _FsPath(module_name)
            if not path.is_file():
                raise ModelError(f"model {target!r}: no such file {module_name}")
            mod_id = f"_sagaspec_user_model_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(mod_id, path)
            if spec is None or spec.loader is None:
                raise ModelError(f"model {target!r}: cannot import {module_name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_id] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ModelError:
        raise
    except ModuleNotFoundError as exc:
        raise ModelError(f"model {target!r}: cannot import {module_name!r}: {exc}") from None
    except Exception as exc:  # a user module may fail in any way while importing
        raise ModelError(
            f"model {target!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ModelError(f"model {target!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, System) and callable(obj) and not isinstance(obj, type):
        try:
            obj = obj()
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"model {target!r}: calling {attr}() failed: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(obj, System):
        raise ModelError(
            f"model {target!r}: {attr} is a {type(obj).__name__}, expected a System "
            "or a zero-argument callable returning one"
        )
    return obj
