"""Judging the world's decisions, when the suite knows the world.

The suite's model (:func:`~sagaspec.conformance.models.suite_model`) leaves two kinds of
decision open, because in general they depend on a world the suite cannot see, and both
are read from the spec, not from participant names:

* a participant whose guards read a **shared variable** (a stock level): which
  alternative its guard picks depends on the service's real resources;
* an alternative decided by a **world knob** (``world: {knob: value}`` in the spec).

When the adapter has ``setup`` and the suite set the world up for a test case
(:class:`~sagaspec.adapters.base.World`), they are *determined*. A target whose setup
takes the spec's knob values (``knobs``, as the reference interpreter does) gets a value
of every knob per saga, and :class:`WorldKnobs` keeps exactly the alternatives those
values select (check ``world``); its shared variables' starting values
(``World.shared``, e.g. a stock level) make :class:`WorldShared` decide every guard that
reads them exactly (check ``stock``). A target with a per-key world instead (stock per key
of the spec's keyed variable, and the data its world rules read, by the rules' own
names), for a trigger whose lines the spec's ``keys`` name:

* **stock** (:class:`WorldInventory`): free units per key start at ``World.stock``; a
  saga whose lines all fit the free units must take the alternatives the model takes
  with its shared variables plentiful, one that does not fit those it takes with them
  exhausted. What an outcome moves the shared variable by (a reservation takes, a
  release gives back) moves the saga's units of each key. The free units are part of
  each model configuration of the oracle, so they follow whatever order the service
  processed its deliveries in. A key the world does not list is *unknown*: a saga with
  such a line may go either way as long as its listed keys fit (it must fail when one of
  them is short).
* **world knobs** (:class:`WorldRules`): a knob with world rules in the spec takes the
  value its first matching rule gives (a trigger field in a world data list, or above
  a world data limit), else its first value: a declined saga takes the knob's value
  whose alternative emits a ``failure`` event (by the spec's event roles), an approved
  one the other. A spec without rules declines nothing.

Both wrap the model's own participants and only *narrow* their nondeterministic
choices, so the design's guards and compensations are still the model's. When the
service publishes what the world rules out, :meth:`~Judge.explain` says why, and the
oracle reports it as the ``stock`` or ``world-rules`` check instead of a bare
``model`` failure.

Examples on the order saga are in ``tests/conformance/test_conform_world.py``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sagaspec.adapters.base import World
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.models import (
    _PLENTY,
    AnyStock,
    pin,
    shared_values,
    world_alternatives,
)
from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.spec.sagafile import SagaSpec, SpecKey

from sagaspec.errors import UsageError

__all__ = ["Judge", "WorldInventory", "WorldKnobs", "WorldRules", "WorldShared", "StockState",
           "judged_participants", "declines", "lines", "STOCK", "WORLD_RULES", "WORLD",
           "WORLD_CHECKS"]

#: Every check of a world decision.
WORLD_CHECKS = ("stock", "world-rules", "world")

#: The checks a failed judgement is reported as: a decision of a shared variable's guard
#: and a knob decided by rules (the per-key world), a knob set per saga (the knob world).
STOCK = "stock"
WORLD_RULES = "world-rules"
WORLD = "world"


def lines(saga: SagaInfo, key: SpecKey | None) -> list[tuple[str, int]]:
    """The per-key lines of a saga as ``(key, quantity)``: the list field the spec's
    ``key`` names (none without a key: the spec keeps nothing per key)."""
    if key is None:
        return []
    name, quantity = key.key, key.quantity
    items = saga.fields.get(key.field)
    if not isinstance(items, list):
        return []
    return [(str(i[name]), int(i[quantity])) for i in items
            if isinstance(i, dict) and name in i and isinstance(i.get(quantity), int)]


_lines = lines


def _same(a: Msg, b: Msg) -> bool:
    return a.type == b.type and a.saga == b.saga and a.src == b.src


def _types(outcomes: Sequence[Outcome]) -> list[str]:
    return sorted({m.type for o in outcomes for m in o.publish})


class Judge(Participant):
    """A model participant whose world-dependent choice is decided by a known world.

    ``check`` names the suite check a wrong decision breaks. :meth:`explain` returns why
    ``observed`` is wrong when the unjudged model would allow it as the reaction to
    ``msg`` in ``state`` (``None`` when the world is not the reason).
    """

    check: str = ""

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        raise NotImplementedError


class StockState(NamedTuple):
    """:class:`WorldInventory`'s state: the model participant's (shared variables pinned
    at their minimum) and the free units per key (``None`` for a key the world does not
    list)."""

    inner: Any
    free: tuple[int | None, ...]


class WorldInventory(Judge):
    """A participant whose shared-variable guards are decided by the world's stock.

    Parameters
    ----------
    inner
        The compiled participant (the :class:`~sagaspec.conformance.models.AnyStock`
        one's widened model: its state is ``(shared..., slots)``).
    sagas
        The test case's sagas, by index: their lines (the spec's key) are what each
        saga reserves.
    stock
        ``World.stock``: key -> units free before the test case.
    """

    check = STOCK

    def __init__(self, inner: SpecParticipantModel, sagas: Sequence[SagaInfo],
                 stock: Mapping[str, int], key: SpecKey | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())
        if key is None and len(getattr(inner, "keys", ())) == 1:
            key = inner.keys[0]  # the spec's keyed variable: its lines
        keys = sorted(set(stock) | {k for s in sagas for k, _q in _lines(s, key)})
        self.key_values: tuple[str, ...] = tuple(keys)
        self.start: tuple[int | None, ...] = tuple(
            int(stock[k]) if k in stock else None for k in keys)
        self.sagas = {s.index: s for s in sagas}
        self.need: dict[int, tuple[int, ...]] = {}
        for s in sagas:
            need = dict.fromkeys(keys, 0)
            for k, q in _lines(s, key):
                need[k] += q
            self.need[s.index] = tuple(need[k] for k in keys)
        self.unit = self._unit()

    def _unit(self) -> int:
        """Model units one reservation takes: the smallest move of the shared variables
        by any reaction from the initial state (1 when nothing moves them)."""
        init = pin(self.inner, self.inner.init(), _PLENTY)
        moves = {abs(self._delta(init, o.state))
                 for event in sorted(self.subscribes)
                 for o in self.inner.on_event(init, Msg(event, 0, ""))}
        return min((m for m in moves if m), default=1)

    def _delta(self, before: Hashable, after: Hashable) -> int:
        return sum(shared_values(self.inner, after)) - sum(shared_values(self.inner, before))

    def init(self) -> StockState:
        return StockState(pin(self.inner, self.inner.init(), None), self.start)

    def fits(self, free: Sequence[int | None], saga: int) -> bool | None:
        """``True``: the order must be reserved; ``False``: it must fail; ``None``: a line
        of an unknown key, and the known ones fit, so either is possible."""
        need = self.need.get(saga)
        if need is None:
            return None
        unknown = False
        for have, n in zip(free, need, strict=True):
            if n == 0:
                continue
            if have is None:
                unknown = True
            elif have < n:
                return False
        return None if unknown else True

    def _inner_outcomes(self, state: StockState, msg: Msg, plenty: bool) -> tuple[Outcome, ...]:
        pinned = pin(self.inner, state.inner, _PLENTY if plenty else None)
        return tuple(self.inner.on_event(pinned, msg))

    def _moved(self, state: StockState, msg: Msg, o: Outcome, plenty: bool) -> Outcome:
        """``o`` of the inner model with the free units moved by what it took or gave back."""
        before = pin(self.inner, state.inner, _PLENTY if plenty else None)
        free = state.free
        delta = self._delta(before, o.state)
        if delta and msg.saga in self.need:
            times = -delta // self.unit  # reservations taken (given back if < 0)
            free = tuple(None if have is None else have - times * n
                         for have, n in zip(free, self.need[msg.saga], strict=True))
        return Outcome(o.label, StockState(pin(self.inner, o.state, None), free), o.publish)

    def _chosen(self, state: StockState, msg: Msg) -> list[tuple[Outcome, bool]]:
        plenty = self._inner_outcomes(state, msg, True)
        none = self._inner_outcomes(state, msg, False)
        if [(o.label, o.publish) for o in plenty] == [(o.label, o.publish) for o in none]:
            return [(o, True) for o in plenty]  # not a stock decision (a release, an ignore)
        fits = self.fits(state.free, msg.saga)
        out = [(o, True) for o in plenty] if fits is not False else []
        if fits is not True:
            out += [(o, False) for o in none]
        return out

    def on_event(self, state: StockState, msg: Msg) -> tuple[Outcome, ...]:
        out: dict[tuple, Outcome] = {}
        for o, plenty in self._chosen(state, msg):
            moved = self._moved(state, msg, o, plenty)
            out.setdefault((moved.state, moved.publish), moved)
        return tuple(out.values())

    def internal(self, state: StockState) -> tuple[Outcome, ...]:
        return ()

    def restart(self, state: StockState) -> StockState:
        # Stock is business data: durable, as the model keeps the shared variables.
        return StockState(self.inner.restart(state.inner), state.free)

    def describe_free(self, free: Sequence[int | None]) -> str:
        return ", ".join(f"{k}: {'unknown' if v is None else v}"
                         for k, v in zip(self.key_values, free, strict=True))

    def explain(self, state: StockState, msg: Msg, observed: Msg) -> str | None:
        plenty = self._inner_outcomes(state, msg, True)
        none = self._inner_outcomes(state, msg, False)
        if not any(_same(m, observed) for o in plenty + none for m in o.publish):
            return None
        if any(_same(m, observed) for o in self.on_event(state, msg) for m in o.publish):
            return None
        fits = self.fits(state.free, msg.saga)
        if fits is None:
            return None
        saga = self.sagas[msg.saga]
        need = ", ".join(f"{n} x {k}" for k, n in zip(self.key_values, self.need[msg.saga],
                                                       strict=True) if n)
        world = self.describe_free(self.start)
        expected = " or ".join(_types(plenty if fits else none)) or "nothing"
        verdict = (f"fit the free stock, so it must be reserved ({expected})" if fits
                   else f"do not fit the free stock, so it must fail ({expected})")
        return (f"{self.name} published {observed.type} for {saga.describe()}, "
                f"but its items ({need}) {verdict}: free now "
                f"{self.describe_free(state.free)} (the world set up {world}; each "
                "reservation since took its order's units, each release gave them back)")


class WorldShared(Judge):
    """A participant whose shared-variable guards are decided by the shared variables'
    starting values the world set (``World.shared``, a knob target's world).

    ``inner`` is the compiled participant (the :class:`~sagaspec.conformance.models.AnyStock`
    one's widened model); its shared variables start at ``start`` (by name) instead of
    being pinned, so every guard that reads them decides as the spec says, and what each
    reaction sets them to is followed exactly, in whatever order the service processed
    its deliveries.
    """

    check = STOCK

    def __init__(self, inner: SpecParticipantModel, sagas: Sequence[SagaInfo],
                 start: Mapping[str, Any]) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())
        self.sagas = {s.index: s for s in sagas}
        self.start = dict(start)

    def init(self) -> Hashable:
        return self.inner.state_cls(*(self.start[n] for n in self.inner.shared_names),
                                    self.inner.init()[-1])

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        return tuple(self.inner.on_event(state, msg))

    def internal(self, state: Hashable) -> tuple[Outcome, ...]:
        return ()

    def restart(self, state: Hashable) -> Hashable:
        return self.inner.restart(state)

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        either = [o for value in (_PLENTY, None)
                  for o in self.inner.on_event(pin(self.inner, state, value), msg)]
        if not any(_same(m, observed) for o in either for m in o.publish):
            return None
        exact = self.on_event(state, msg)
        if any(_same(m, observed) for o in exact for m in o.publish):
            return None
        now = ", ".join(f"{n} = {v}" for n, v in zip(self.inner.shared_names,
                                                      shared_values(self.inner, state), strict=True))
        start = ", ".join(f"{n} = {v}" for n, v in self.start.items())
        expected = " or ".join(_types(exact)) or "nothing"
        return (f"{self.name} published {observed.type} for {self.sagas[msg.saga].describe()}, "
                f"but its shared variables are {now} now (the world set up {start}; each "
                f"reaction since moved them as the spec says), so it must publish {expected}")


def declines(world: World, saga: SagaInfo, spec: SagaSpec | None) -> bool:
    """Whether the spec's world rules decline ``saga``: a knob whose rules give a value
    other than its first, from the saga's trigger fields and the
    world's data. A spec without rules declines nothing. Examples are in
    ``tests/spec/test_keyed.py`` and ``tests/conformance/test_conform_oracle.py``."""
    if spec is None or not spec.rules:
        return False
    trigger = next((e.name for e in spec.events if e.role == "trigger"), "")
    data = world.rule_data()
    for r in spec.rules:
        if r.test == "above" and data.get(r.data) is not None:
            try:
                Decimal(str(data[r.data]))
            except InvalidOperation:
                raise UsageError(f"world: {r.data} must be a decimal limit like '100.00', got "
                                 f"{data[r.data]!r}") from None
    return any(spec.knob_by_rules(k, data, {trigger: saga.fields}) not in (None, spec.world[k][0])
               for k in dict.fromkeys(r.knob for r in spec.rules))


class WorldKnobs(Judge):
    """A participant whose world-knob alternatives are decided by the world's knob values.

    ``inner`` is a compiled participant with alternatives carrying ``world: {knob:
    value}``; ``values`` gives each saga's knob values (by saga index). Where both a
    matching and a contradicting alternative are enabled, the contradicting ones are
    dropped; elsewhere the model's outcomes stand.
    """

    check = WORLD

    def __init__(self, inner: Participant, sagas: Sequence[SagaInfo],
                 values: Mapping[int, Mapping[str, str]]) -> None:
        self.inner = inner
        self.name = inner.name
        self.subscribes = inner.subscribes
        self.publishes = getattr(inner, "publishes", frozenset())
        self.sagas = {s.index: s for s in sagas}
        self.knobs = {k for alt in world_alternatives(inner) for k, _v in alt.world}
        self.expected = {i: frozenset((k, v) for k, v in vals.items() if k in self.knobs)
                         for i, vals in values.items()}

    def init(self) -> Hashable:
        return self.inner.init()

    def _decide(self, state: Hashable, msg: Msg) -> tuple[tuple[Outcome, ...], tuple[Outcome, ...]]:
        """``(all outcomes, those the world allows)`` of the reaction to ``msg``."""
        pairs = self.inner.choices(state, msg)
        outcomes = tuple(o for _a, o in pairs)
        want = self.expected.get(msg.saga)
        if want is None:
            return outcomes, outcomes
        decided = [(a, {kv for kv in a.world if kv[0] in self.knobs}, o) for a, o in pairs
                   if a is not None and any(k in self.knobs for k, _v in a.world)]
        agree = [o for _a, kv, o in decided if kv <= want]
        disagree = [o for _a, kv, o in decided if not kv <= want]
        if not agree or not disagree:
            return outcomes, outcomes  # not a decision the world makes here
        return outcomes, tuple(o for o in outcomes if not any(o is d for d in disagree))

    def on_event(self, state: Hashable, msg: Msg) -> tuple[Outcome, ...]:
        return self._decide(state, msg)[1]

    def internal(self, state: Hashable) -> tuple[Outcome, ...]:
        return tuple(self.inner.internal(state))

    def restart(self, state: Hashable) -> Hashable:
        return self.inner.restart(state)

    def _wrong(self, state: Hashable, msg: Msg, observed: Msg) -> tuple[Outcome, ...] | None:
        """The outcomes the world allows, when ``observed`` is a decision it rules out."""
        unjudged, judged = self._decide(state, msg)
        if not any(_same(m, observed) for o in unjudged for m in o.publish):
            return None
        if any(_same(m, observed) for o in judged for m in o.publish):
            return None
        return judged

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        judged = self._wrong(state, msg, observed)
        if judged is None:
            return None
        saga = self.sagas[msg.saga]
        knobs = ", ".join(f"{k} = {v}" for k, v in sorted(self.expected[msg.saga]))
        expected = " or ".join(_types(judged)) or "nothing"
        return (f"{self.name} published {observed.type} for {saga.describe()}, but the "
                f"world set {knobs} for it, so it must publish {expected}")


class WorldRules(WorldKnobs):
    """Knob decisions made by the per-key world's rules (a trigger field in a world data
    list, or above a world data limit): a declined saga takes the knob's value whose
    alternative emits a ``failure`` event (by the spec's event roles), an approved one
    the other."""

    check = WORLD_RULES

    def __init__(self, inner: Participant, sagas: Sequence[SagaInfo], world: World,
                 failures: frozenset[str], spec: SagaSpec | None = None) -> None:
        self.world = world
        self.spec = spec
        self.declined = {s.index: declines(world, s, spec) for s in sagas}
        # knob -> (value of a declined saga, value of an approved one), from the spec:
        # the value whose alternative emits a failure event is the declining one.
        knobs: dict[str, dict[bool, str]] = {}
        for alt in world_alternatives(inner):
            failing = any(e in failures for e in alt.emit)
            for knob, value in alt.world:
                knobs.setdefault(knob, {}).setdefault(failing, value)
        both = {k: v for k, v in knobs.items() if len(v) == 2}
        super().__init__(inner, sagas, {i: {k: v[d] for k, v in both.items()}
                                        for i, d in self.declined.items()})
        #: knob -> {declined: its value, approved: its value}
        self.knobs = both  # type: ignore[assignment]

    def explain(self, state: Hashable, msg: Msg, observed: Msg) -> str | None:
        judged = self._wrong(state, msg, observed)
        if judged is None:
            return None
        saga = self.sagas[msg.saga]
        rules = " and ".join(self._facts(saga)) or "the spec has no world rules"
        expected = " or ".join(_types(judged)) or "nothing"
        verb = "declined" if self.declined[msg.saga] else "approved"
        return (f"{self.name} published {observed.type} for {saga.describe()}, "
                f"but {rules}, so it must be {verb} ({expected})")


    def _facts(self, saga: SagaInfo) -> list[str]:
        """What each world rule of the judged knobs finds for ``saga``."""
        data = self.world.rule_data()
        out = []
        for r in self.spec.rules if self.spec is not None else ():
            if r.knob not in self.knobs:
                continue
            value, have = saga.fields.get(r.field), data.get(r.data)
            if r.test == "in":
                listed = value in (have or ())
                out.append(f"{r.field} {value!r} is {'' if listed else 'not '}in the world's {r.data}")
            elif have is None:
                out.append(f"the world sets no {r.data}")
            else:
                try:
                    over = Decimal(str(value)) > Decimal(str(have))
                except InvalidOperation:
                    over = False
                out.append(f"{r.field} {value} is {'' if over else 'not '}over {r.data} {have}")
        return out


def judged_participants(model: Any, world: World, sagas: Sequence[SagaInfo], *,
                        judge: frozenset[str] = frozenset({STOCK, WORLD_RULES})
                        ) -> tuple[Participant, ...]:
    """``model``'s participants with the decisions named in ``judge`` made by ``world``.

    ``model`` is a :class:`~sagaspec.conformance.models.SuiteModel`. With ``stock`` in
    ``judge`` and ``world.shared`` giving every shared variable of a permissive
    participant, that one starts at those values (:class:`WorldShared`). With ``world`` in
    ``judge``, the participants with world-knob alternatives take the world's knob values
    per saga; otherwise (the per-key world) its permissive participants
    (:class:`~sagaspec.conformance.models.AnyStock`, guards on shared variables) are
    judged by the world's stock, and those with world-knob alternatives by the spec's
    world rules.
    """
    failures = model.design.failures
    out: list[Participant] = []
    values = {s.index: world.knobs[s.sagaId] for s in sagas if s.sagaId in world.knobs}
    for p in model.participants:
        start = {n: world.shared.get(f"{p.name}.{n}") for n in p.inner.shared_names} \
            if isinstance(p, AnyStock) else {}
        if STOCK in judge and world.shared and start and None not in start.values():
            out.append(WorldShared(p.inner, sagas, start))  # a knob target's shared values
        elif WORLD in judge:
            out.append(WorldKnobs(p, sagas, values) if WORLD in judge and world_alternatives(p)
                       else p)
        elif STOCK in judge and isinstance(p, AnyStock):
            out.append(WorldInventory(p.inner, sagas, world.stock))
        elif WORLD_RULES in judge and world_alternatives(p):
            out.append(WorldRules(p, sagas, world, failures, getattr(model, "spec", None)))
        else:
            out.append(p)
    return tuple(out)
