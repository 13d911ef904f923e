"""Mutants of any saga spec: the black-box oracle, equivalence, the model-directed case, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.conformance.mutate import (
    Mutant,
    _services,
    distinguishing_history,
    mutants,
    run_schedule,
    score,
)
from sagaspec.conformance.spec_oracle import SpecOracle
from sagaspec.spec.sagafile import load_spec, shipped_spec

from sagaspec.cli import main

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"


def _params(spec):
    return {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}


@pytest.mark.parametrize("ref", ["corrected", str(SAGAS / "travel.saga.yaml"), str(SAGAS / "shop.saga.yaml")],
                         ids=lambda r: Path(r).name)
def test_the_reference_interpreter_never_fails_the_oracle(ref):
    spec = shipped_spec(ref) if ref == "corrected" else load_spec(ref)
    reference = Mutant("reference", "none", "the spec itself", spec)
    for seed in range(60):
        failures = run_schedule(spec, _services(reference, {}, _params(spec)), seed, sagas=1 + seed % 3)
        assert failures == [], (seed, failures[0])


@pytest.mark.parametrize("name", ["travel", "shop"])
def test_every_non_equivalent_mutant_of_the_example_sagas_is_caught(name):
    spec = load_spec(SAGAS / f"{name}.saga.yaml")
    results = score(spec, examples=10)
    operators = {r.mutant.operator for r in results}
    assert {"drop-guard", "skip-compensation", "wrong-event", "forget-update", "no-idempotency",
            "wrong-saga", "re-emit"} <= operators
    survived = [(r.mutant.name, r.mutant.description) for r in results if not r.caught and not r.equivalent]
    assert survived == []
    caught = [r for r in results if r.caught]
    assert len(caught) >= 20
    assert all(r.failure is not None for r in caught)
    by_op = {r.mutant.operator: r for r in results}
    assert by_op["wrong-saga"].caught and by_op["wrong-saga"].failure.check == "unknown-saga"
    assert by_op["re-emit"].caught


def test_equivalent_mutants_are_proved_so_and_others_get_a_distinguishing_history():
    spec = shipped_spec("corrected")
    ms = mutants(spec)
    no_idem = next(m for m in ms if m.operator == "no-idempotency")
    # Corrected services guard every step by state: processing a duplicate again is harmless.
    assert distinguishing_history(spec, no_idem) is True
    skip = next(m for m in ms if m.operator == "skip-compensation")  # Payment's refund publishes nothing
    history = distinguishing_history(spec, skip)
    assert isinstance(history, list)
    kind, who, msg, published, _lost = history[-1]
    assert (kind, who, msg.type, published) == ("deliver", "payment", "OrderCancelled", ())
    # Which world value an alternative answers is not a move of the model: never "equivalent".
    assert distinguishing_history(spec, next(m for m in ms if m.operator == "swap-world")) is False


def test_a_rare_mutant_is_caught_by_the_model_directed_case():
    """Declining an order whose cancellation overtook it needs a failed reservation, the
    cancellation reaching Payment first, and a declining world: random schedules rarely
    build that; the shortest distinguishing history does."""
    spec = shipped_spec("corrected")
    (m,) = [m for m in mutants(spec, ("drop-guard",)) if "decline: guard" in m.description]
    history = distinguishing_history(spec, m)
    assert [k[2].type for k in history if k[2] is not None][-2:] == ["OrderCancelled", "OrderCreated"]
    (result,) = [r for r in score(spec, examples=2, operators=("drop-guard",)) if r.mutant.description == m.description]
    assert result.caught and result.directed
    assert "payment on OrderCreated" in result.failure.message


def test_the_oracle_checks_provenance_schema_and_sagas():
    spec = shipped_spec("corrected")
    services = _services(Mutant("r", "none", "", spec), {}, _params(spec))
    oracle = SpecOracle(spec, ["s-0"], _params(spec))
    created = services["order"].start("s-0", {"amount": "10.00"})
    out = []
    services["order"].relay(out.append)
    oracle.started("order", "s-0", out)
    services["payment"].handle(created[0])
    charged = []
    services["payment"].relay(charged.append)
    wrong = [dict(charged[0], amount="99.00")]
    oracle.handled("payment", created[0], duplicate=False, emitted=wrong)
    (failure,) = oracle.failures
    assert failure.check == "provenance"
    assert "PaymentProcessed.amount = '99.00'; the spec says it is OrderCreated.amount = '10.00'" in failure.message
    bad = SpecOracle(spec, ["s-0"], _params(spec))
    bad.started("order", "s-0", out)
    bad.handled("payment", created[0], duplicate=False, emitted=[dict(charged[0], amount=12)])
    assert bad.failures[0].check == "schema"


def test_mutate_cli_prints_the_score_and_exits_by_survivors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["mutate", "--design", str(SAGAS / "shop.saga.yaml"), "-n", "5",
                             "--operator", "swap-world", "--operator", "wrong-saga"])
    assert r.exit_code == 0, r.output
    assert "Mutation score:" in r.stdout and "0 survived" in r.stdout
    j = runner.invoke(main, ["mutate", "--design", str(SAGAS / "shop.saga.yaml"), "-n", "5",
                             "--operator", "wrong-saga", "--json"])
    doc = json.loads(j.stdout)
    assert doc["survived"] == 0 and doc["mutants"][0]["operator"] == "wrong-saga"
    bad = runner.invoke(main, ["mutate", "--operator", "nope"])
    assert bad.exit_code == 2 and "unknown operator nope" in bad.stderr
