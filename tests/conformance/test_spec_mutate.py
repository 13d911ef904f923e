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
from sagaspec.model.mutation import _conjuncts
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


def _one(spec, description: str, examples: int = 30):
    (m,) = [m for m in mutants(spec) if m.description == description]
    (r,) = score(spec, examples=examples, operators=(m.operator,), names=(m.name,))
    return r


def test_the_service_operators_are_caught_by_the_check_each_needs():
    """Each pipeline fault shows only through one check of the schedules: a publication
    from a rolled-back handling, a handler that raises on malformed input, a duplicate
    with an effect, an invalid event, an event for an unknown saga."""
    spec = shipped_spec("corrected")
    rolled_back = _one(spec, "every service publishes straight to the bus, not through the outbox: "
                             "a crash before the commit has published anyway")
    assert rolled_back.caught and "rolled back" in rolled_back.failure.message
    raises = _one(spec, "every service dispatches on eventType before validating: malformed input "
                        "raises out of the handler")
    assert raises.caught and raises.failure.check == "malformed-input"
    volatile = _one(spec, "every service keeps processed eventIds in memory: after a restart a "
                          "redelivered event is handled again, as new")
    assert volatile.caught and "a duplicate must have no effect" in volatile.failure.message
    typed = _one(spec, "payment publishes a field of the wrong JSON type (a decimal string such as money as 100.0)")
    assert typed.caught and typed.failure.check == "schema" and typed.failure.participant == "payment"
    assert all(r.caught for r in score(spec, examples=5, operators=("wrong-saga",)))


def test_a_dropped_subscription_is_judged_as_the_spec_routes_events():
    """The schedules deliver what the spec says a participant subscribes to: a service
    that ignores it fails the model there, not only a property at the end."""
    spec = shipped_spec("corrected")
    r = _one(spec, "inventory does not subscribe to OrderCancelled (never reacts to it)")
    assert r.caught and r.failure.check == "model" and r.failure.participant == "inventory"
    assert r.failure.event == "OrderCancelled"


def test_a_weakened_guard_of_an_alternative_the_spec_never_takes_is_not_called_equivalent():
    """'release (nothing reserved)' is never taken by the spec; with its guard dropped it
    runs first on every cancellation of a reserved order: no random schedule here (one),
    but the model-directed case catches it."""
    spec = shipped_spec("corrected")
    r = _one(spec, "inventory on OrderCancelled: release (nothing reserved): guard "
                   "`status == 'reserved' && held == 0` dropped", examples=1)
    assert r.caught and r.directed and r.equivalent == ""


def test_a_guard_is_split_at_its_top_level_conjunctions_only():
    assert _conjuncts("a == 'x && y' && (b || c && d) && e[0] > 1") == ["a == 'x && y'", "(b || c && d)", "e[0] > 1"]
    assert _conjuncts("held > 0") == ["held > 0"]


def test_mutate_refuses_to_score_a_design_that_fails_its_own_spec():
    r = CliRunner().invoke(main, ["mutate", "--design", str(SAGAS / "shop-buggy.saga.yaml"), "-n", "5"])
    assert r.exit_code == 1
    assert "the spec's own reference services fail it" in r.stdout and "Mutation score" not in r.stdout
    assert "Traceback" not in r.output


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


def test_mutate_help_names_every_operator():
    from sagaspec.conformance.mutate import OPERATOR_NAMES

    text = "".join(CliRunner().invoke(main, ["mutate", "--help"]).stdout.split())  # wrapped at any hyphen
    assert [op for op in OPERATOR_NAMES if op not in text] == []
