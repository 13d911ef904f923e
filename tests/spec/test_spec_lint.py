"""Design lint: the seed's holes are found, the corrected design is clean, each rule fires."""

from __future__ import annotations

import dataclasses
import json
import sys
import types

from click.testing import CliRunner
from sagaspec.spec import RULES, Reaction, Service, get_design, lint_design
from sagaspec.spec.lint import FlowAnalysis

from sagaspec.cli import main

SEED = get_design("seed")
CORRECTED = get_design("corrected")


def triples(design):
    return [(f.rule, f.event, f.service) for f in lint_design(design)]


def test_seed_holes_are_reported():
    assert triples(SEED) == [
        ("published-not-consumed", "PaymentFailed", "payment"),
        ("published-never-emitted", "InventoryReleased", "inventory"),
        ("failure-not-handled", "PaymentFailed", "payment"),
        ("compensation-missing", "PaymentFailed", "order"),      # OrderCreated never cancelled
        ("compensation-missing", "PaymentFailed", "inventory"),  # reservation never released
        ("compensation-unguarded", "PaymentRefunded", "payment"),  # refund of a failed payment
    ]
    messages = [f.message for f in lint_design(SEED)]
    assert "nobody subscribes to it" in messages[2]
    assert messages[4] == ("PaymentFailed may happen concurrently with InventoryReserved, but no "
                           "chain of reactions from PaymentFailed publishes InventoryReleased to "
                           "undo it")
    assert "nothing triggers it" in messages[1]


def test_corrected_design_is_clean():
    assert lint_design(CORRECTED) == []


def test_flow_facts_of_the_seed():
    flow = FlowAnalysis(SEED)
    assert flow.ancestors("OrderCompleted") == {"OrderCreated", "PaymentProcessed", "InventoryReserved"}
    assert flow.ancestors("PaymentFailed") == {"OrderCreated"}
    assert flow.exclusive("PaymentProcessed", "PaymentFailed")
    assert flow.exclusive("OrderCompleted", "InventoryReservationFailed")
    assert not flow.exclusive("InventoryReserved", "PaymentFailed")
    assert flow.may_precede("InventoryReserved", "PaymentFailed")
    assert not flow.may_precede("PaymentProcessed", "PaymentFailed")
    assert flow.leads_to("InventoryReservationFailed") == {"OrderCancelled", "PaymentRefunded"}
    assert "InventoryReleased" not in flow.producible


def _without(design, service, event):
    """``design`` where ``service`` no longer subscribes to or reacts to ``event``."""
    services = tuple(
        dataclasses.replace(s, subscribes=tuple(e for e in s.subscribes if e != event))
        if s.name == service else s for s in design.services)
    reactions = tuple(r for r in design.reactions if not (r.service == service and event in r.on))
    return dataclasses.replace(design, services=services, reactions=reactions)


def test_corrected_without_inventory_compensation():
    broken = _without(CORRECTED, "inventory", "OrderCancelled")
    assert triples(broken) == [
        ("published-never-emitted", "InventoryReleased", "inventory"),
        ("compensation-missing", "PaymentFailed", "inventory"),
    ]


def test_corrected_where_order_ignores_payment_failures():
    broken = _without(CORRECTED, "order", "PaymentFailed")
    assert triples(broken) == [
        ("published-not-consumed", "PaymentFailed", "payment"),
        ("failure-not-handled", "PaymentFailed", "payment"),
        ("compensation-missing", "PaymentFailed", "order"),
        ("compensation-missing", "PaymentFailed", "inventory"),
    ]


def test_unconditional_refund_is_unguarded():
    reactions = tuple(
        dataclasses.replace(r, emits=(("PaymentRefunded",),))
        if r.service == "payment" and r.on == ("OrderCancelled",) else r
        for r in CORRECTED.reactions)
    assert triples(dataclasses.replace(CORRECTED, reactions=reactions)) == [
        ("compensation-unguarded", "PaymentRefunded", "payment")]


def test_table_rules():
    services = (
        *CORRECTED.services,
        Service("audit", subscribes=("OrderShipped", "OrderCompleted"), publishes=("AuditLogged",)),
    )
    reactions = (
        *CORRECTED.reactions,
        Reaction("audit", ("OrderCompleted", "NotificationSent"), (("AuditLogged", "Oops"),)),
    )
    design = dataclasses.replace(CORRECTED, services=services, reactions=reactions)
    found = triples(design)
    assert found == [
        ("unknown-event", "AuditLogged", "audit"),
        ("unknown-event", "Oops", "audit"),
        ("unknown-event", "OrderShipped", "audit"),
        ("subscribed-not-published", "OrderShipped", "audit"),
        ("published-not-consumed", "AuditLogged", "audit"),
        ("subscribed-not-handled", "OrderShipped", "audit"),
        ("emitted-not-declared", "Oops", "audit"),
        ("handled-not-subscribed", "NotificationSent", "audit"),
    ]
    # Between them, the seed and this design exercise every table and flow rule; the
    # reachability rules have their own tests (test_spec_any_saga.py).
    # keyed-update-reads-total reads a spec's keyed variables (tests/spec/test_keyed.py).
    reach = {"compensation-never-triggered", "join-never-completes", "reaction-unreachable",
             "keyed-update-reads-total"}
    assert {rule for rule, _, _ in found} | {rule for rule, _, _ in triples(SEED)} == set(RULES) - reach


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_lint():
    seed = run("lint", "--design", "seed")
    assert seed.exit_code == 1
    assert seed.stdout.splitlines()[0] == (
        "published-not-consumed: PaymentFailed (payment): payment publishes PaymentFailed, but "
        "no service subscribes to it and it is not terminal")
    assert len(seed.stdout.splitlines()) == 6 and "design seed: 6 findings" in seed.stderr
    corrected = run("lint", "--design", "corrected")
    assert corrected.exit_code == 0 and corrected.stdout == ""
    assert "design corrected: clean" in corrected.stderr
    as_json = run("lint", "--design", "seed", "--format", "json")
    assert json.loads(as_json.stdout)[0]["rule"] == "published-not-consumed"


def test_cli_lint_errors():
    unknown = run("lint", "--design", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: unknown design 'nope'; expected one of seed, corrected or a spec file (.saga.yaml)\n"
    default = run("lint")  # like every other command, the design defaults to corrected
    assert default.exit_code == 0 and default.stderr == "design corrected: clean\n"
    not_design = run("lint", "--design", "json:dumps")
    assert not_design.exit_code == 2 and "not a sagaspec Design" in not_design.stderr
    no_module = run("lint", "--design", "no_such_module_xyz:D")
    assert no_module.exit_code == 2 and "cannot import 'no_such_module_xyz'" in no_module.stderr


def test_cli_lint_a_design_from_a_module(monkeypatch):
    module = types.ModuleType("my_designs")
    module.BROKEN = _without(CORRECTED, "inventory", "OrderCancelled")
    monkeypatch.setitem(sys.modules, "my_designs", module)
    result = run("lint", "--design", "my_designs:BROKEN")
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "published-never-emitted", "compensation-missing"]


def test_designs_are_hashable():
    # Regression: the frozen Design hashed its `compensates` dict and raised TypeError.
    assert len({SEED, CORRECTED, SEED}) == 2
    assert hash(SEED) == hash(dataclasses.replace(SEED))
