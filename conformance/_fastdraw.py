"""A strategy's draw compiled once into plain functions: the same conjecture calls and
spans as hypothesis' own ``do_draw``, without its per-call dispatch.

A saga's schema fields are a deep strategy tree (``fixed_dictionaries`` of ``tuples`` of
``from_regex``'s ``maybe_pad``/``filter``/``lists``/``one_of``... ``.map(pin)``), and every
nested ``data.draw`` re-validates, re-checks emptiness, unwraps lazy strategies and looks
up the label before the one conjecture call it leads to; ``one_of`` builds and validates
a new ``sampled_from(...).filter(...)`` per draw. :func:`compiled` walks the tree once
and returns a strategy whose ``do_draw`` makes exactly the calls hypothesis makes, in the
same order (``start_span``/``stop_span`` with the same labels, the same
``draw_integer``/``draw_string``/``draw_boolean`` with the same constraints, the same
discards on a rejected filter or map): the same choice sequence and span tree, so a seed
generates, mutates and shrinks the same cases (and notes the same argument slices, which
hypothesis' explain phase varies). What it leaves out is bookkeeping a non-final run
never reads: argument labels and recorded calls for pretty-printing the final replay
(which draws publicly; see ``choosers._drawer``), repeated validation.

A node of a kind not specialised here is drawn by its own ``do_draw`` (its children
through ``data.draw``, as before). Only strategies :func:`register`\\ ed are compiled
(built once per spec: ``payloads.saga_fields``...); anything else is drawn as it was.
"""

from __future__ import annotations

import warnings
from collections import abc
from typing import Any

from hypothesis.strategies import SearchStrategy

try:  # hypothesis internals: without them (another hypothesis) nothing is compiled
    from hypothesis.errors import FlakyStrategyDefinition, UnsatisfiedAssumption
    from hypothesis.internal.conjecture import utils as cu
    from hypothesis.internal.conjecture.data import MAX_DEPTH
    from hypothesis.strategies._internal.collections import (
        FixedDictStrategy,
        ListStrategy,
        TupleStrategy,
    )
    from hypothesis.strategies._internal.core import CompositeStrategy
    from hypothesis.strategies._internal.lazy import unwrap_strategies
    from hypothesis.strategies._internal.misc import JustStrategy
    from hypothesis.strategies._internal.strategies import (
        FILTERED_SEARCH_STRATEGY_DO_DRAW_LABEL,
        MAPPED_SEARCH_STRATEGY_DO_DRAW_LABEL,
        FilteredStrategy,
        MappedStrategy,
        OneOfStrategy,
        SampledFromStrategy,
    )
    from hypothesis.strategies._internal.strings import OneCharStringStrategy

    _OK = True
except ImportError:  # pragma: no cover - another hypothesis
    _OK = False

__all__ = ["register", "compiled"]

#: id -> (strategy, its compiled form or None until first drawn).
_REGISTERED: dict[int, list[Any]] = {}


def register(strategy: Any) -> Any:
    """Mark ``strategy`` (built once, kept alive by its builder's cache) for compiling
    at its first draw; returns it."""
    _REGISTERED.setdefault(id(strategy), [strategy, None])
    return strategy


def compiled(strategy: Any) -> Any:
    """What to hand the conjecture data's ``draw`` for ``strategy``: its compiled form
    if it was registered (compiled now if need be), else its unwrapped self."""
    if not _OK:
        return strategy
    hit = _REGISTERED.get(id(strategy))
    if hit is None or hit[0] is not strategy:
        return unwrap_strategies(strategy)
    if hit[1] is None:
        try:
            fast = _Compiled(strategy)
            hit[1] = fast if _agrees(fast, unwrap_strategies(strategy)) else unwrap_strategies(strategy)
        except Exception:  # noqa: BLE001 - a tree this cannot read: drawn as before
            hit[1] = unwrap_strategies(strategy)
    return hit[1]


#: Seeds :func:`_agrees` draws on before a compiled form is used (two: 25-50 ms a spec,
#: once per process; a version that draws otherwise shows at once, as a mislabelled span
#: or an extra choice did in tests/conformance/test_conform_compiled_draws.py).
AGREE_SEEDS = (0, 1)


def _agrees(fast: Any, plain: Any) -> bool:
    """Whether ``fast`` makes the same choices, spans and value as hypothesis' own draw
    of ``plain`` on :data:`AGREE_SEEDS`. The compiled forms copy what this hypothesis's
    internals do; another version (``pip install .`` allows a range) may do otherwise,
    and then the strategy is drawn as before rather than differently."""
    from random import Random

    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    for seed in AGREE_SEEDS:
        seen = []
        for strategy in (fast, plain):
            data = ConjectureData(random=Random(seed))
            value = None
            with BuildContext(data, is_final=False, wrapped_test=None):
                try:
                    value = data.draw(strategy)
                except StopTest:
                    pass
            data.freeze()
            seen.append((repr(value), data.status, data.choices,
                         [(x.label, x.start, x.end, x.discarded) for x in data.spans]))
        if seen[0] != seen[1]:
            return False
    return True


class _Compiled(SearchStrategy):
    """``strategy`` (its label, repr and values) drawn by its compiled body."""

    def __init__(self, strategy: Any) -> None:
        super().__init__()
        strategy.validate()
        self.original = unwrap_strategies(strategy)
        self._label = self.original.label
        self.do_draw = _Compiler().body(self.original)  # type: ignore[method-assign]

    def calc_label(self) -> int:
        return self._label

    def calc_is_empty(self, recur: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return repr(self.original)


class _Compiler:
    def __init__(self) -> None:
        self._children: dict[int, tuple[Any, Any]] = {}

    def child(self, strategy: Any) -> Any:
        """``data.draw(strategy)`` below the top level: the same checks, span and draw."""
        hit = self._children.get(id(strategy))
        if hit is not None and hit[0] is strategy:
            return hit[1]
        strategy.validate()
        empty = bool(strategy.is_empty)
        unwrapped = unwrap_strategies(strategy)
        label = unwrapped.label
        slot: list[Any] = [None]

        def draw(data: Any) -> Any:
            if empty:
                data.mark_invalid(f"empty strategy {data!r}")
            if data.depth >= MAX_DEPTH:
                data.mark_invalid("max depth exceeded")
            data.start_span(label)
            try:
                return slot[0](data)
            except FlakyStrategyDefinition as err:
                err.add_note(f"while drawing from {strategy!r}")
                raise
            finally:
                data.stop_span()

        self._children[id(strategy)] = (strategy, draw)
        slot[0] = self.body(unwrapped)
        return draw

    def body(self, s: Any) -> Any:  # noqa: C901 - one case per strategy kind
        """``s.do_draw`` (``s`` unwrapped), its children drawn by :meth:`child`."""
        kind = type(s)
        if kind is TupleStrategy:
            parts = tuple(self.child(e) for e in s.element_strategies)
            return lambda data: tuple([_sliced(data, p) for p in parts])
        if kind is MappedStrategy:
            return self._mapped(s)
        if kind is FilteredStrategy:
            return self._filtered(s)
        if kind is ListStrategy and not s.element_strategy.is_empty:
            return self._list(s)
        if kind is FixedDictStrategy:
            return self._fixed_dict(s)
        if kind is OneOfStrategy:
            return self._one_of(s)
        if kind is OneCharStringStrategy:
            intervals = s.intervals
            return lambda data: data.draw_string(intervals, min_size=1, max_size=1)
        if kind is JustStrategy and not s._transformations:
            value = s.value
            return lambda data: value
        if kind is CompositeStrategy:
            return self._composite(s)
        return s.do_draw

    def _mapped(self, s: Any) -> Any:
        inner = self.child(s.mapped_strategy)
        pack = s.pack
        quiet = isinstance(pack, type) and issubclass(pack, abc.Mapping | abc.Set)
        label = MAPPED_SEARCH_STRATEGY_DO_DRAW_LABEL

        def mapped(data: Any) -> Any:
            for _ in range(3):
                try:
                    data.start_span(label)
                    result = pack(inner(data))
                    data.stop_span()
                    return result
                except UnsatisfiedAssumption:
                    data.stop_span(discard=True)
            raise UnsatisfiedAssumption

        if not quiet:
            return mapped

        def quietly(data: Any) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BytesWarning)
                return mapped(data)

        return quietly

    def _filtered(self, s: Any) -> Any:
        inner = self.child(s.filtered_strategy)
        condition = s.condition
        label = FILTERED_SEARCH_STRATEGY_DO_DRAW_LABEL

        def filtered(data: Any) -> Any:
            for i in range(3):
                data.start_span(label)
                value = inner(data)
                if condition(value):
                    data.stop_span()
                    return value
                data.stop_span(discard=True)
                if i == 0:
                    data.events[f"Retried draw from {s!r} to satisfy filter"] = ""
            data.mark_invalid(f"Aborted test because unable to satisfy {s!r}")

        return filtered

    def _list(self, s: Any) -> Any:
        element = self.child(s.element_strategy)
        low, high, average = s.min_size, s.max_size, s.average_size
        many = cu.many

        def listed(data: Any) -> Any:
            elements = many(data, min_size=low, max_size=high, average_size=average)
            result = []
            while elements.more():
                result.append(element(data))
            return result

        return listed

    def _fixed_dict(self, s: Any) -> Any:
        fixed = tuple((k, self.child(v)) for k, v in s.mapping.items())
        make = type(s.mapping)
        optional = None
        if s.optional is not None:
            optional = {k: self.child(v) for k, v in s.optional.items()}
            remaining0 = [k for k, v in s.optional.items() if not v.is_empty]
        many, shuffle = cu.many, cu.fisher_yates_shuffle

        def fixed_dict(data: Any) -> Any:
            pairs = [(k, _sliced(data, d)) for k, d in fixed]
            if optional is not None:
                remaining = list(remaining0)
                should_draw = many(data, min_size=0, max_size=len(remaining),
                                   average_size=len(remaining) / 2)
                while should_draw.more():
                    j = data.draw_integer(0, len(remaining) - 1)
                    remaining[-1], remaining[j] = remaining[j], remaining[-1]
                    key = remaining.pop()
                    pairs.append((key, _sliced(data, optional[key])))
            shuffle(data, pairs)
            return make(pairs)

        return fixed_dict

    def _one_of(self, s: Any) -> Any:
        branches = list(s.element_strategies)
        if not branches or any(type(b).is_currently_empty is not SearchStrategy.is_currently_empty
                               for b in branches):
            return s.do_draw  # nothing to choose, or a branch whose emptiness changes (a Bundle)
        # What one_of draws its branch from (a new one per draw in hypothesis: the same
        # label, elements and filter every time; no branch here is ever filtered out).
        chooser = SampledFromStrategy(branches).filter(lambda b: True)
        chooser.validate()
        label = chooser.label
        last = len(branches) - 1
        draws = [self.child(b) for b in branches]
        message = ("sampled_from was given a collection of strategies: "
                   "{!r}. Was one_of intended?", chooser.elements)

        def one_of(data: Any) -> Any:
            if data.depth >= MAX_DEPTH:
                data.mark_invalid("max depth exceeded")
            data.start_span(label)
            try:
                i = data.draw_integer(0, last)
                data._sampled_from_all_strategies_elements_message = message
            finally:
                data.stop_span()
            return draws[i](data)

        return one_of

    def _composite(self, s: Any) -> Any:
        definition, args, kwargs = s.definition, s.args, s.kwargs
        known = {id(a): (a, self.child(a)) for a in (*args, *kwargs.values(), *_globals())
                 if isinstance(a, SearchStrategy)}

        def composite(data: Any) -> Any:
            def draw(strategy: Any, label: Any = None) -> Any:
                hit = known.get(id(strategy))
                if label is None and hit is not None and hit[0] is strategy:
                    return hit[1](data)
                return data.draw(strategy, label=label)

            return definition(draw, *args, **kwargs)

        return composite


def _sliced(data: Any, draw: Any) -> Any:
    """``draw(data)``, noting the choices it made as an argument's slice, as a tuple's or
    fixed dict's element draw does (``track_arg_label``: what hypothesis' explain phase
    varies)."""
    start = len(data.nodes)
    try:
        return draw(data)
    finally:  # noted also when the draw stops the test (overrun, rejection)
        end = len(data.nodes)
        if start != end:
            data.arg_slices.add((start, end))


def _globals() -> tuple[Any, ...]:
    """What from_regex's composites draw besides their arguments (imported when first
    compiled, in a test: importing hypothesis' regex module reads its character tables,
    which hypothesis forbids while pytest plugins load)."""
    try:
        from hypothesis.strategies._internal.regex import GROUP_CACHE_STRATEGY
    except ImportError:  # pragma: no cover - another hypothesis
        return ()
    return (GROUP_CACHE_STRATEGY,)
