"""The model as an oracle: track every model state consistent with what was observed.

The system under test (SUT) is one participant of the model, or several (the whole
system). The suite cannot see inside it; it sees what it *delivered* and what the SUT
*published*. The oracle keeps the **belief**: the set of model configurations the SUT
may be in. A configuration is

``states``
    the local model state of each SUT participant;
``pending``
    deliveries (and customer triggers) handed to the SUT that the model has not
    processed yet in this configuration: a real service may process them later, in any
    order, so they are expanded lazily;
``owed``
    events the model has published in this configuration that the SUT has not been
    seen publishing yet (a real service publishes asynchronously, e.g. via an outbox);
``done``
    per SUT participant, the messages it processed: its idempotency store. As in the
    model checker's engine (``sagaspec.model.system.Config.idempotency``), a message
    already processed is acknowledged and dropped without calling the handler; the store
    is durable and survives a crash.

Observing a publication keeps the configurations that can explain it (expanding pending
work, branching on every nondeterministic outcome) and consumes it from ``owed``; an
empty belief is a violation, reported with what the model allowed instead. When the
SUT is quiet, some configuration must have no pending work and nothing owed.
Nondeterminism the model leaves open is therefore judged exactly: each branch whose
publications match survives. Where the world decides a branch (stock, the spec's world rules;
:mod:`~sagaspec.conformance.world`), the participants passed in are the world-judged
ones, and a publication only the world rules out is reported as their check (``stock``,
``world-rules``) rather than ``model``.

Only the participant contract (``sagaspec.model.participant``) is used, so any model
written with it can serve as an oracle.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from sagaspec.conformance.checks import fail
from sagaspec.model.participant import Msg, Participant

__all__ = ["Config", "Oracle", "describe_msg", "BeliefTooLarge"]

_DELIVER = 0
_TRIGGER = 1

# A pending item: (kind, msg, participant index). Sorted tuples act as multisets.
_Pending = tuple[int, Msg, int]


class BeliefTooLarge(RuntimeError):
    """The belief exceeded its bound: the model is too nondeterministic for the case."""


@dataclass(frozen=True, slots=True)
class Config:
    """One model configuration of the SUT (see the module docstring)."""

    states: tuple[Hashable, ...]
    pending: tuple[_Pending, ...] = ()
    owed: tuple[Msg, ...] = ()
    done: tuple[frozenset[Msg], ...] = ()


def describe_msg(m: Msg) -> str:
    """``Type[saga 0] from participant`` (for messages in reports)."""
    return f"{m.type}[saga {m.saga}] from {m.src}"


def _insert(seq: tuple, item) -> tuple:
    """Insert ``item`` into the sorted tuple ``seq`` (multiset add)."""
    lst = list(seq)
    lo, hi = 0, len(lst)
    while lo < hi:
        mid = (lo + hi) // 2
        if lst[mid] < item:
            lo = mid + 1
        else:
            hi = mid
    lst.insert(lo, item)
    return tuple(lst)


def _remove_at(seq: tuple, i: int) -> tuple:
    return seq[:i] + seq[i + 1:]


def _same(a: Msg, b: Msg) -> bool:
    """Observed events carry no model ``data``; match on type, saga and publisher."""
    return a.type == b.type and a.saga == b.saga and a.src == b.src


class Oracle:
    """Belief tracking over the SUT participants ``sut`` of a model.

    Parameters
    ----------
    participants
        Every participant of the model (their ``subscribes`` route messages).
    sut
        Names of the participants inside the system under test.
    triggers
        Event types only published on an external trigger (the customer placing an
        order): their internal outcomes happen only via :meth:`trigger`.
    idempotency
        Model the consumers' idempotency store of processed eventIds, as the model checker does by default.
    max_belief
        Bound on configurations explored per step (:class:`BeliefTooLarge` beyond).
    internal_bus
        Whether the SUT delivers what its participants publish to its own subscribers
        itself; ``False`` (a steppable system): only what the suite delivers is pending.
    """

    def __init__(self, participants: Sequence[Participant], sut: Iterable[str], *,
                 triggers: Iterable[str], idempotency: bool = True,
                 max_belief: int = 200_000, internal_bus: bool = True) -> None:
        self.internal_bus = internal_bus
        self.participants = {p.name: p for p in participants}
        self.sut: tuple[str, ...] = tuple(sut)
        for name in self.sut:
            if name not in self.participants:
                raise KeyError(f"model has no participant {name!r}")
        self._sut_p = tuple(self.participants[n] for n in self.sut)
        self._index = {n: i for i, n in enumerate(self.sut)}
        self.triggers = frozenset(triggers)
        self.max_belief = max_belief
        self.idempotency = idempotency
        init = tuple(p.init() for p in self._sut_p)
        empty = tuple(frozenset() for _ in self._sut_p)
        self.belief: frozenset[Config] = frozenset({Config(init, (), (), empty)})
        #: Human-readable log of what the oracle was told, for failure messages.
        self.log: list[str] = []
        # Memo of participant reactions: (participant index, state, msg) -> outcomes.
        self._memo: dict[tuple, tuple] = {}

    # -- inputs -----------------------------------------------------------------
    def subscribers(self, msg: Msg) -> tuple[str, ...]:
        """SUT participants that receive ``msg``."""
        return tuple(n for n, p in zip(self.sut, self._sut_p, strict=True)
                     if msg.type in p.subscribes)

    def deliver(self, msg: Msg, to: str | None = None, *, optional: bool = False) -> None:
        """The suite handed ``msg`` to the SUT (to ``to``, or to every SUT subscriber);
        ``optional``: the SUT may also drop it unprocessed (an event of a saga it never
        saw)."""
        targets = (to,) if to is not None else self.subscribers(msg)
        items = []
        for name in targets:
            i = self._index[name]
            if msg.type in self._sut_p[i].subscribes:
                items.append((_DELIVER, msg, i))
        again = any(msg == p[1] for c in self.belief for p in c.pending) or \
            any(msg in d for c in self.belief for d in c.done)
        dup = " again (a duplicate)" if again else ""
        self.log.append(f"delivered {describe_msg(msg)}{dup} to {', '.join(targets) or 'nobody'}")
        if not items:
            return
        if not optional:
            out = set()
            for c in self.belief:
                pend = c.pending
                for it in items:
                    pend = _insert(pend, it)
                out.add(Config(c.states, pend, c.owed, c.done))
            self.belief = frozenset(out)
            return
        # Each subscriber may drop it on its own (one has no record of the saga, another
        # handles it): every subset of them processes it.
        out = set(self.belief)
        for it in items:
            out |= {Config(c.states, _insert(c.pending, it), c.owed, c.done) for c in out}
        self.belief = frozenset(out)

    def unacked(self, msg: Msg, to: str) -> None:
        """The delivery of ``msg`` to ``to`` was killed before its ack, and the bus will
        deliver it again: the handling committed before the kill, or never happened."""
        i = self._index[to]
        item = (_DELIVER, msg, i)
        self.log.append(f"{to} was killed before acknowledging {describe_msg(msg)}")
        out = set()
        for c in self.belief:
            if item not in c.pending:
                out.add(c)  # already processed (what it published was seen)
                continue
            rest = _remove_at(c.pending, c.pending.index(item))
            out.add(Config(c.states, rest, c.owed, c.done))
            if self.idempotency and msg in c.done[i]:
                continue
            done = c.done[:i] + (c.done[i] | {msg},) + c.done[i + 1:] if self.idempotency else c.done
            out.update(self._apply(c, i, o, rest, done) for o in self._react(i, c.states[i], _DELIVER, msg))
        self.belief = frozenset(out)

    def trigger(self, msg: Msg) -> None:
        """The customer asked the SUT to do what publishes ``msg`` (e.g. place order 0)."""
        i = self._index[msg.src]
        self.log.append(f"customer asked {msg.src} for {describe_msg(msg)}")
        self.belief = frozenset(
            Config(c.states, _insert(c.pending, (_TRIGGER, msg, i)), c.owed, c.done)
            for c in self.belief
        )

    def crash(self, name: str) -> None:
        """``name`` crashed and restarted: volatile state lost at any point of its work.

        A service may keep durable what the model calls volatile (the model's choice is
        the pessimistic one a checker wants), so the state before the restart stays
        possible too; the idempotency store is durable in both.
        """
        i = self._index[name]
        p = self._sut_p[i]
        self.log.append(f"crashed {name}")
        out = set()
        # The crash may come before or after any pending work: close first.
        for c in self._closure(self.belief):
            out.add(c)
            states = list(c.states)
            states[i] = p.restart(states[i])
            out.add(Config(tuple(states), c.pending, c.owed, c.done))
        self.belief = frozenset(out)

    # -- observations -----------------------------------------------------------
    def observe(self, msg: Msg, *, event: dict | None = None) -> None:
        """The SUT published ``msg``; raise ``CheckFailed('model')`` if no branch allows it."""
        explained: set[Config] = set()
        seen: set[Config] = set(self.belief)
        frontier = list(self.belief)
        while frontier:
            nxt: list[Config] = []
            for c in frontier:
                hit = next((k for k, o in enumerate(c.owed) if _same(o, msg)), None)
                if hit is not None:
                    explained.add(Config(c.states, c.pending, _remove_at(c.owed, hit), c.done))
                    continue
                for c2 in self._successors(c):
                    if c2 not in seen:
                        seen.add(c2)
                        nxt.append(c2)
                if len(seen) > self.max_belief:
                    raise BeliefTooLarge(f"more than {self.max_belief} model configurations")
            frontier = nxt
        if not explained:
            allowed = self._allowed(seen)
            judged = self._judged(seen, msg)
            if judged is not None:
                check, why = judged
                raise fail(check, f"{why}; after {self._history()}", event=event,
                           allowed=tuple(allowed))
            text = " or ".join(allowed) if allowed else "nothing more"
            raise fail(
                "model",
                f"{describe_msg(msg)} is not a behaviour the model allows here; "
                f"after {self._history()}, the model allowed {text}",
                event=event, allowed=tuple(allowed),
            )
        self.log.append(f"observed {describe_msg(msg)}")
        self.belief = frozenset(explained)

    def quiet(self) -> None:
        """The SUT went quiet: some branch must have done all its work and published it.

        Collapses the belief to the quiescent configurations, or raises
        ``CheckFailed('model')`` naming what the model still required.
        """
        closure = self._closure(self.belief)
        done = [c for c in closure if not c.pending]
        ok = frozenset(c for c in done if not c.owed)
        if ok:
            self.belief = ok
            return
        owed_sets = sorted({tuple(describe_msg(m) for m in c.owed) for c in done},
                           key=lambda t: (len(t), t))
        least = owed_sets[0] if owed_sets else ()
        alternatives = " | ".join(", ".join(t) for t in owed_sets[:3])
        raise fail(
            "model",
            f"the service went quiet but the model still requires {', '.join(least)}; "
            f"after {self._history()}, the model's quiet outcomes all publish: {alternatives}",
            allowed=tuple(least),
        )

    def allowed_now(self) -> tuple[str, ...]:
        """What the SUT may publish next (for messages and the diagram)."""
        return self._allowed(self._closure(self.belief))

    def states(self) -> frozenset[tuple[Hashable, ...]]:
        """The SUT participants' possible local states."""
        return frozenset(c.states for c in self.belief)

    # -- internals ----------------------------------------------------------------
    def _history(self, n: int = 6) -> str:
        tail = self.log[-n:]
        more = "… " if len(self.log) > n else ""
        return more + "; ".join(tail) if tail else "nothing"

    def _allowed(self, configs: Iterable[Config]) -> list[str]:
        found: set[str] = set()
        for c in configs:
            found.update(describe_msg(m) for m in c.owed)
        return sorted(found)

    def _judged(self, configs: Iterable[Config], observed: Msg) -> tuple[str, str] | None:
        """``(check, reason)`` when a world-judged participant (``explain``, see
        :mod:`~.world`) would have published ``observed`` but for the world's decision."""
        found: set[tuple[str, str]] = set()
        for c in configs:
            for kind, msg, i in c.pending:
                p = self._sut_p[i]
                explain = getattr(p, "explain", None)
                if kind != _DELIVER or explain is None or p.name != observed.src:
                    continue
                if self.idempotency and msg in c.done[i]:
                    continue
                why = explain(c.states[i], msg, observed)
                if why is not None:
                    found.add((p.check, why))
        return min(found) if found else None

    def _react(self, i: int, state: Hashable, kind: int, msg: Msg) -> tuple:
        key = (i, state, kind, msg)
        got = self._memo.get(key)
        if got is None:
            p = self._sut_p[i]
            if kind == _DELIVER:
                got = tuple(p.on_event(state, msg))
                if not got:
                    raise RuntimeError(f"model participant {p.name} returned no outcome for {msg}")
            else:
                got = tuple(o for o in p.internal(state)
                            if any(_same(m, msg) for m in o.publish))
            if len(self._memo) > 500_000:
                self._memo.clear()
            self._memo[key] = got
        return got

    def _successors(self, c: Config) -> Iterable[Config]:
        """Configurations one invisible step after ``c``: one pending item processed."""
        done: set[tuple] = set()
        for k, item in enumerate(c.pending):
            if item in done:  # identical pending items give identical successors
                continue
            done.add(item)
            kind, msg, i = item
            rest = _remove_at(c.pending, k)
            if kind == _DELIVER and self.idempotency and msg in c.done[i]:
                # Already processed: acknowledged and dropped, the handler is not called.
                yield Config(c.states, rest, c.owed, c.done)
                continue
            outcomes = self._react(i, c.states[i], kind, msg)
            if kind == _TRIGGER and not outcomes:
                # The model cannot do it (yet) in this branch; the trigger stays pending
                # only if something else can make it possible: drop the branch instead.
                continue
            done_i = c.done
            if kind == _DELIVER and self.idempotency:
                done_i = c.done[:i] + (c.done[i] | {msg},) + c.done[i + 1:]
            for o in outcomes:
                yield self._apply(c, i, o, rest, done_i)
        # Spontaneous internal actions of SUT participants (not customer triggers).
        for i, p in enumerate(self._sut_p):
            for o in p.internal(c.states[i]):
                if any(m.type in self.triggers for m in o.publish):
                    continue
                yield self._apply(c, i, o, c.pending, c.done)

    def _apply(self, c: Config, i: int, o, pending: tuple, done: tuple) -> Config:
        states = c.states[:i] + (o.state,) + c.states[i + 1:]
        owed = c.owed
        for m in o.publish:
            owed = _insert(owed, m)
            if not self.internal_bus:
                continue
            # Published inside the SUT: its own subscribers receive it too.
            for j, q in enumerate(self._sut_p):
                if m.type in q.subscribes:
                    pending = _insert(pending, (_DELIVER, m, j))
        return Config(states, pending, owed, done)

    def _closure(self, configs: Iterable[Config]) -> set[Config]:
        seen = set(configs)
        frontier = list(seen)
        while frontier:
            nxt = []
            for c in frontier:
                for c2 in self._successors(c):
                    if c2 not in seen:
                        seen.add(c2)
                        nxt.append(c2)
            if len(seen) > self.max_belief:
                raise BeliefTooLarge(f"more than {self.max_belief} model configurations")
            frontier = nxt
        return seen
