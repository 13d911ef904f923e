"""Every shipped saga's mutation score, with every mutant the suite does not catch explained.

tests/data/mutation_expectations.yaml records, per saga spec: the schedules per mutant
CI runs (the shortest count whose verdicts equal the default 30's, measured by
bench/bench_mutation_score.py), how many mutants are caught, and each mutant that is
not, with why: ``equivalent`` (proved by ``sagaspec mutate``: the reason it prints),
``argued`` (an equivalence outside what the model can prove, argued in words) or ``gap``
(a fault the generator or the oracle misses). A new survivor fails here, and so does a
mutant the file explains that is now caught (the file must follow). A buggy design
records ``reference_fails``: its own reference services fail, and no mutant is scored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sagaspec.conformance.mutate import reference_failure, score
from sagaspec.spec.sagafile import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = yaml.safe_load((ROOT / "tests" / "data" / "mutation_expectations.yaml").read_text(encoding="utf-8"))
KINDS = {"equivalent", "argued", "gap"}


def _shipped() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in [*(ROOT / "examples" / "sagas").glob("*.saga.yaml"),
                                                     ROOT / "spec" / "sagas" / "order-corrected.saga.yaml"])


def test_every_shipped_saga_has_expectations():
    assert sorted(EXPECTED["sagas"]) == _shipped()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", _shipped())
def test_the_mutation_score_is_as_recorded_and_every_survivor_explained(path):
    want = EXPECTED["sagas"][path]
    spec = load_spec(ROOT / path)
    broken = reference_failure(spec, examples=want["examples"])
    if "reference_fails" in want:
        assert broken is not None, f"{path}: its reference services now pass: record its mutation score"
        assert broken[0].check == want["reference_fails"], broken
        return
    assert broken is None, f"{path}: the reference services fail their own spec: {broken}"
    explained = want.get("not_caught") or {}
    for name, entry in explained.items():
        assert len(set(entry) & KINDS) == 1 and str(entry[next(iter(set(entry) & KINDS))]).strip(), (name, entry)
    # On a large spec the equivalence proofs are the slow part: CI takes the proved
    # reasons from the file (bench/bench_mutation_score.py proves them again).
    recorded = {n: e["equivalent"] for n, e in explained.items() if "equivalent" in e} if want.get("recorded") else None
    results = score(spec, examples=want["examples"], known_equivalent=recorded)
    not_caught = {r.mutant.name: r for r in results if not r.caught}
    new = sorted(set(not_caught) - set(explained))
    assert not new, f"{path}: not caught and not explained: " + "; ".join(
        f"{n} ({not_caught[n].mutant.description}): {not_caught[n].equivalent or 'survived'}" for n in new)
    stale = sorted(set(explained) - set(not_caught))
    assert not stale, f"{path}: caught now, remove from the expectations: {stale}"
    for name, r in not_caught.items():
        entry = explained[name]
        assert entry["description"] == r.mutant.description, (name, "the spec's mutants were renumbered")
        if r.equivalent:
            assert entry.get("equivalent") == r.equivalent, (name, r.equivalent, entry)
        else:
            assert "equivalent" not in entry, (name, "recorded as proved equivalent, but no proof now")
    assert sum(r.caught for r in results) == want["caught"]
    assert all(r.failure is not None for r in results if r.caught)
