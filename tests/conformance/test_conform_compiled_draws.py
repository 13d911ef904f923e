"""A compiled field draw (``conformance/_fastdraw.py``) is hypothesis' own draw.

For every shipped spec and every strategy the chooser draws compiled (a saga's trigger
fields, a declared trigger, each event's free fields), over many seeds: drawn the old
way (hypothesis' nested ``data.draw``) and compiled, from the same random source, the
same value, status, choice sequence, span tree (label, extent, discarded), events and
argument slices (what hypothesis' explain phase varies).
Then each recorded choice sequence replayed cut short or altered (what shrinking and
mutation feed hypothesis: overruns, misaligned choices, rejected filters), both ways.
"""

from __future__ import annotations

from pathlib import Path
from random import Random

import pytest
from hypothesis import strategies as st
from hypothesis.control import BuildContext
from hypothesis.errors import StopTest
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.strategies._internal.lazy import unwrap_strategies
from sagaspec.conformance import _fastdraw
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.payloads import (
    declared_fields,
    free_field_names,
    free_fields,
    saga_fields,
)

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
DESIGNS = ("corrected", *sorted(str(p) for p in SAGAS.glob("*.saga.yaml")))
#: Seeds per strategy (each with three altered replays). Eight: a compiled draw broken
#: (a filter's span mislabelled or a rejected filter's span not discarded; one_of's
#: branch span dropped, its branches misordered, its sampled_from note left out) fails
#: every trigger-field case by seed 4 at the latest (by seed 0 but the discard); no such
#: break shows on the other cases even over 40 seeds. Was 40: 4.6 times the CPU.
SEEDS = 8


def _strategies() -> list[tuple[str, object]]:
    out = []
    for design in DESIGNS:
        spec = suite_model(design, 1).spec
        name = Path(design).name
        out.append((f"{name} saga", saga_fields(spec)))
        out.append((f"{name} declared", declared_fields(spec)))
        out += [(f"{name} {e.name}", free_fields(spec, e.name))
                for e in spec.events if free_field_names(spec, e.name)]
    return out


STRATEGIES = _strategies()


def _draw(strategy, fast: bool, seed: int, prefix=None) -> tuple:
    """Everything a draw leaves in the conjecture data: value, status, choices, spans."""
    data = (ConjectureData(random=Random(seed)) if prefix is None
            else ConjectureData.for_choices(prefix, random=Random(seed)))
    value = None
    with BuildContext(data, is_final=False, wrapped_test=None):
        try:
            value = data.draw(_fastdraw.compiled(strategy) if fast else unwrap_strategies(strategy))
        except StopTest:
            pass
    data.freeze()
    spans = [(s.label, s.start, s.end, s.discarded) for s in data.spans]
    note = repr(getattr(data, "_sampled_from_all_strategies_elements_message", None))
    return (repr(value), data.status, data.choices, spans, sorted(data.events),
            sorted(data.arg_slices), note)


def _altered(choices: tuple, rnd: Random) -> list[tuple]:
    """``choices`` cut short, one choice zeroed or emptied, one dropped."""
    if not choices:
        return []
    i = rnd.randrange(len(choices))
    simpler = {int: 0, bool: False, str: "", float: 0.0, bytes: b""}
    zeroed = list(choices)
    zeroed[i] = simpler.get(type(choices[i]), choices[i])
    return [choices[: rnd.randrange(len(choices))], tuple(zeroed),
            choices[:i] + choices[i + 1:]]


@pytest.mark.parametrize("name, strategy", STRATEGIES, ids=[n for n, _ in STRATEGIES])
def test_compiled_draw_makes_the_same_choices_and_spans(name, strategy):
    assert isinstance(_fastdraw.compiled(strategy), _fastdraw._Compiled)
    rnd = Random(name)
    statuses = set()
    for seed in range(SEEDS):
        old = _draw(strategy, False, seed)
        assert _draw(strategy, True, seed) == old, (name, seed)
        statuses.add(old[1])
        for prefix in _altered(old[2], rnd):
            replayed = _draw(strategy, False, seed, prefix)
            statuses.add(replayed[1])
            assert _draw(strategy, True, seed, prefix) == replayed, (name, seed, prefix)
    assert len(statuses) >= 2 or "declared" in name  # replays that overran or were rejected too


def test_the_comparison_sees_a_different_draw():
    a, b = st.integers(0, 5), st.integers(0, 6)
    _fastdraw.register(a)
    differs = [_draw(a, True, seed) != _draw(b, False, seed) for seed in range(20)]
    assert any(differs)


def test_only_registered_strategies_are_compiled():
    fresh = st.tuples(st.integers(0, 3), st.text(max_size=2)).map(list)
    assert _fastdraw.compiled(fresh) is unwrap_strategies(fresh)
    assert isinstance(_fastdraw.compiled(_fastdraw.register(fresh)), _fastdraw._Compiled)


def test_every_shipped_field_strategy_is_compiled_on_this_hypothesis():
    """The compiled forms agree with this hypothesis on their check seeds (else the
    check below would silently leave every draw on the slow path)."""
    kinds = {type(_fastdraw.compiled(s)).__name__ for name, s in STRATEGIES if name.endswith(" saga")}
    assert kinds == {"_Compiled"}


def test_a_compiled_form_that_draws_otherwise_is_not_used(monkeypatch):
    """Another hypothesis version may draw differently from what the compiler copies:
    such a form is caught by the check draws and the strategy drawn as before."""
    body = _fastdraw._Compiler.body

    def off_by_one(self, s):
        inner = body(self, s)

        def draw(data):
            data.draw_boolean()  # one choice hypothesis does not make
            return inner(data)

        return draw

    strategy = _fastdraw.register(st.tuples(st.integers(0, 9), st.text(max_size=3)))
    monkeypatch.setattr(_fastdraw._Compiler, "body", off_by_one)
    assert _fastdraw.compiled(strategy) is unwrap_strategies(strategy)
    monkeypatch.setattr(_fastdraw._Compiler, "body", body)
    # (not the same arguments: hypothesis hands back the same cached strategy object)
    again = _fastdraw.register(st.tuples(st.integers(0, 8), st.text(max_size=2)))
    assert type(_fastdraw.compiled(again)).__name__ == "_Compiled"


def test_the_bench_short_form_compares_the_two_ways_on_the_same_cases():
    """``bench/bench_field_draws.py`` (in the README's benchmark table), short: each
    target drawn both ways prints both rows and says the cases were the same."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "bench" / "bench_field_draws.py"
    done = subprocess.run([sys.executable, str(script), "--examples", "3", "--rounds", "1"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert out.count(": same cases; new/old CPU per case") == 4, out
    assert "order-shipping.saga.yaml  old" in out and "order-shipping.saga.yaml  new" in out
