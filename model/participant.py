"""Participants: the state machines a model is made of.

A participant has frozen, hashable local state and reacts to the events it subscribes
to. A reaction may branch nondeterministically (payment approved *or* declined): it
returns every possible :class:`Outcome`, each a new local state plus the messages it
publishes. Everything here is data plus pure functions, so the explorer can hash,
compare, cache and replay states freely.

This module is the contract shared by the explorer (``sagaspec.model``), the saga
specification written with it, and the conformance oracle (``sagaspec.conformance``).

>>> class Echo(Participant):
...     name = "echo"
...     subscribes = frozenset({"Ping"})
...     def init(self):
...         return 0
...     def on_event(self, state, msg):
...         return (Outcome("pong", state + 1, (Msg("Pong", msg.saga, self.name),)),)
>>> p = Echo()
>>> [(o.label, o.state, [m.type for m in o.publish]) for o in p.on_event(p.init(), Msg("Ping", 0, "x"))]
[('pong', 1, ['Pong'])]
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Msg", "Outcome", "Participant"]


@dataclass(frozen=True, slots=True, order=True)
class Msg:
    """A message on the bus.

    ``type`` is the event type (``"TripRequested"``), ``saga`` the saga index (0-based;
    symmetry reduction permutes it), ``src`` the publishing participant, and ``data`` any
    extra hashable payload as sorted ``(key, value)`` pairs (usually empty: the model
    abstracts amounts and ids away). Two equal ``Msg`` values are the same event: a
    duplicate delivery, and the same idempotency key.
    """

    type: str
    saga: int
    src: str
    data: tuple = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """One possible result of a reaction: a label, the new local state, what is published."""

    label: str
    state: Hashable
    publish: tuple[Msg, ...] = ()


class Participant:
    """Base class of a participant. Subclasses set ``name`` and ``subscribes``.

    Methods must be pure functions of their arguments: no I/O, no randomness, no
    mutation. Returned tuples must be in a deterministic order so traces replay.
    """

    name: str = ""
    subscribes: frozenset[str] = frozenset()
    #: ``True``: :meth:`on_event` may return ``()`` for a message it is not ready for (a
    #: guarded receive, as in TLA+ or Stateright). The message then stays in flight (on
    #: a FIFO channel, ahead of the rest) and no step happens; a state where every
    #: in-flight message is declined and nothing internal is enabled is quiescent.
    #: ``False`` (default): ``()`` is an error, since
    #: on a saga's bus an unhandled event is usually a forgotten case. On the ``"set"``
    #: bus every participant may decline.
    guarded: bool = False

    def init(self) -> Hashable:
        """The local state at the start."""
        raise NotImplementedError

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        """Every possible outcome of receiving ``msg`` in ``state``.

        At least one, unless the participant is :attr:`guarded` (or the bus is
        ``"set"``): then ``()`` means "not enabled in this state", and the message waits.
        """
        raise NotImplementedError

    def internal(self, state: Hashable) -> tuple[Outcome, ...]:
        """Spontaneous actions enabled in ``state`` (e.g. the customer placing an order)."""
        return ()

    def restart(self, state: Hashable) -> Hashable:
        """The local state after a crash and restart: volatile parts lost, durable kept.

        The default keeps everything (all state durable).
        """
        return state

    def permute(self, state: Hashable, perm: tuple[int, ...]) -> Hashable:
        """``state`` with saga ``i`` renamed to saga ``perm[i]`` (optional hook).

        Needed only for symmetry reduction (``Config(symmetry=True)``) over the
        ``System.sagas`` interchangeable sagas. Must be a bijection on states that commutes
        with the handlers: reacting to a renamed message in a renamed state gives the
        renamed outcome. The explorer renames ``Msg.saga`` itself; ``Msg.data`` must not
        mention saga indices. A participant that keeps one slot per saga:

        >>> class Slots(Participant):
        ...     def permute(self, state, perm):
        ...         out = [None] * len(state)
        ...         for i, v in enumerate(state):
        ...             out[perm[i]] = v
        ...         return tuple(out)
        >>> Slots().permute(("paid", "new", "cancelled"), (2, 0, 1))
        ('new', 'cancelled', 'paid')

        The default raises :class:`NotImplementedError`, and the explorer then refuses
        symmetry for this participant with a clear error.
        """
        raise NotImplementedError

    def rename(self, state: Hashable, names: dict[str, str]) -> Hashable:
        """``state`` with every participant name ``a`` in ``names`` replaced by ``names[a]``.

        Needed only for symmetry over interchangeable participants
        (``System(symmetric=...)``, Stateright's symmetric actor ids): the explorer swaps
        the members' states and renames ``Msg.src`` and the receivers itself; this hook
        renames the names a local state holds (a coordinator's set of voters). A state
        that holds no names returns itself. ``Msg.data`` must not hold names.

        >>> class Voters(Participant):
        ...     def rename(self, state, names):
        ...         return frozenset(names.get(n, n) for n in state)
        >>> sorted(Voters().rename(frozenset({"rm0", "rm2"}), {"rm0": "rm1", "rm1": "rm0"}))
        ['rm1', 'rm2']

        The default raises :class:`NotImplementedError`, and the explorer then refuses
        participant symmetry with a clear error.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
