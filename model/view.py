"""The read-only view of a global state that property predicates receive.

>>> # view["hotel"]             -> the hotel participant's local state
>>> # view.in_flight("TripRequested", saga=0) -> number of in-flight copies
>>> # view.messages              -> ((dest, Msg), ...) every in-flight copy
>>> # view.quiescent             -> no step but a fault is enabled (nothing in flight, or only declined messages)
"""

from __future__ import annotations

from collections.abc import Hashable

from sagaspec.model.participant import Msg

from sagaspec.errors import ModelError

__all__ = ["View"]


class View:
    """Read-only access to one global state of the model.

    ``view[name]`` is participant ``name``'s local state. Everything else (messages in
    flight, quiescence, idempotency stores, budgets) is a method or property. A View is
    only valid during the predicate call that receives it.

    The explorer caches a predicate's result per combination of local states when the
    predicate reads nothing but ``view[name]``; reading anything else switches the cache
    off for that evaluation (so predicates must be pure).
    """

    __slots__ = ("_e", "_s", "_other")

    def __init__(self, engine, state: tuple) -> None:
        self._e = engine
        self._s = state
        self._other = False

    def _index(self, name: str) -> int:
        try:
            return self._e.pindex[name]
        except (KeyError, TypeError):
            known = ", ".join(self._e.names)
            raise ModelError(f"view: no participant {name!r}; expected one of {known}") from None

    def __getitem__(self, name: str) -> Hashable:
        p = self._index(name)
        return self._e.local(p, self._s[p])

    def __contains__(self, name: object) -> bool:
        return name in self._e.pindex

    @property
    def participants(self) -> tuple[str, ...]:
        return self._e.names

    @property
    def messages(self) -> tuple[tuple[str, Msg], ...]:
        """Every in-flight copy as ``(dest, Msg)`` (a duplicate appears twice)."""
        self._other = True
        return self._e.in_flight(self._s)

    def in_flight(self, type: str | None = None, saga: int | None = None, dest: str | None = None) -> int:
        """How many in-flight copies match ``type``, ``saga`` and ``dest`` (None = any)."""
        self._other = True
        e = self._e
        if type is None and saga is None and dest is None:
            return len(e.bus_deliveries(self._s[e.n]))
        dp = None if dest is None else self._index(dest)
        count = 0
        msgs, dmid, ddest = e.msgs, e.dmid, e.ddest
        for d in e.bus_deliveries(self._s[e.n]):
            m = msgs[dmid[d]]
            if (type is None or m.type == type) and (saga is None or m.saga == saga) and (
                dp is None or ddest[d] == dp
            ):
                count += 1
        return count

    @property
    def quiescent(self) -> bool:
        """True when nothing is in flight and no participant has an internal action."""
        self._other = True
        return self._e.is_quiescent(self._s)

    def processed(self, name: str) -> frozenset[Msg]:
        """The messages in participant ``name``'s idempotency store."""
        self._other = True
        p = self._index(name)
        return self._e.processed(p, self._s[p])

    def crashes_left(self, name: str) -> int:
        self._other = True
        p = self._index(name)
        return self._e.crashes_left(p, self._s[p])

    @property
    def duplicates_left(self) -> int:
        self._other = True
        return self._s[self._e.n + 1]

    def locals(self) -> dict[str, Hashable]:
        """Every participant's local state by name."""
        e = self._e
        return {name: e.local(p, self._s[p]) for p, name in enumerate(e.names)}

    def __repr__(self) -> str:
        return f"View({self.locals()!r}, in_flight={self.in_flight()})"
