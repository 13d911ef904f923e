"""Failing cases of every shipped mutant, found in-process, replayed over a broker.

``python tests/brokers/mutant_cases.py`` regenerates ``tests/data/brokers/mutants/``: for
each mutant the conformance suite runs in-process against the participant it breaks
(``payment`` for the consumer-level mutants) until it fails, and the shrunk case file is
kept. Replaying those files over a real broker (``test_broker_conformance.py``) shows
each mutant is still caught there, without paying for a hypothesis search over processes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from sagaspec.conformance.runner import RunConfig, run
from sagaspec.examples.mutants import MUTANTS

CASES = Path(__file__).resolve().parent.parent / "data" / "brokers" / "mutants"


def target(mutant: str) -> str:
    """The participant the suite targets to catch ``mutant``."""
    affects = MUTANTS[mutant].affects
    return affects[0] if len(affects) == 1 else "payment"


def generate(mutant: str, directory: Path, *, examples: int = 400, seeds: tuple[int, ...] = (1, 2, 3)) -> Path | None:
    """Search in-process for a failing case of ``mutant`` (its participant first, then the
    whole system; a few seeds); the case file, or ``None``."""
    for participant in dict.fromkeys((target(mutant), "system")):
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                final = run(RunConfig(adapter="inprocess:", participant=participant, mutant=mutant,
                                      examples=examples, seed=seed, failures_dir=tmp))
                files = sorted(Path(tmp).glob("*.json"))
                if final.failures and files:
                    directory.mkdir(parents=True, exist_ok=True)
                    out = directory / f"{mutant}.json"
                    out.write_text(files[0].read_text(encoding="utf-8"), encoding="utf-8")
                    return out
    return None


def case_participant(case: Path) -> str:
    """The participant a case file was recorded against."""
    return str(json.loads(case.read_text(encoding="utf-8")).get("participant") or "system")


def replay(adapter: str, mutant: str | None, case: Path, participant: str) -> list[str]:
    """The checks that fail when ``case`` is replayed through ``adapter``."""
    final = run(RunConfig(adapter=adapter, participant=participant, mutant=mutant, replay=str(case),
                          failures_dir=None))
    return list(final.failures)


if __name__ == "__main__":
    names = sys.argv[1:] or list(MUTANTS)
    for name in names:
        path = generate(name, CASES)
        print(f"{name}: {path or 'NOT CAUGHT'}")
