"""The 20 hand-written order mutants, re-expressed as spec mutation operators.

Each hand-written mutant (examples/mutants.py, caught by the conformance suite in
tests/conformance/test_conform_mutants.py) names the mutant of the order spec that makes
the same fault (``spec_mutant``); here each of those is caught by ``sagaspec mutate`` at
its default example count. bench/bench_mutation_score.py --seeds counts it on 5 seeds.
"""

from __future__ import annotations

import pytest
from sagaspec.conformance.mutate import mutants, score
from sagaspec.examples.mutants import MUTANTS
from sagaspec.spec.sagafile import shipped_spec

#: ``sagaspec mutate``'s default schedules per mutant.
DEFAULT_EXAMPLES = 30


@pytest.fixture(scope="module")
def order():
    spec = shipped_spec("corrected")
    return spec, {m.description: m for m in mutants(spec)}


def test_every_hand_written_mutant_names_one_operator_mutant_of_the_order_spec(order):
    _spec, by_description = order
    named = {name: by_description.get(m.spec_mutant) for name, m in MUTANTS.items()}
    assert [n for n, m in named.items() if m is None] == []
    assert len(MUTANTS) == 20
    # Distinct faults, distinct mutants: no operator mutant stands for two hand-written ones.
    assert len({m.name for m in named.values()}) == len(named)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_the_operator_mutant_of_each_hand_written_one_is_caught(order, name):
    spec, by_description = order
    target = by_description[MUTANTS[name].spec_mutant]
    (r,) = score(spec, examples=DEFAULT_EXAMPLES, operators=(target.operator,), names=(target.name,))
    assert r.caught, f"{name} as {target.name} ({target.description}) survived: {r.equivalent or 'not caught'}"
    assert r.failure is not None
