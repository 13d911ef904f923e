"""The reference interpreter runs any spec's participants as real services.

Two proofs that it is the spec: every shortest counterexample the checker finds replays
on the services step by step with equal variables after every step (and the services
then violate the same property); and under random schedules with duplicates and crashes,
the correct specs' services end with every property holding.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sagaspec.examples.interpreter import (
    ReplayMismatch,
    SpecService,
    property_verdicts,
    replay_path,
    spec_services,
)
from sagaspec.examples.service import DEAD_LETTERED, DUPLICATE, IGNORED, PROCESSED, SimulatedCrash
from sagaspec.model import Config, explore
from sagaspec.model.saga import saga_system
from sagaspec.spec.sagafile import load_spec, shipped_spec

from sagaspec.errors import InputError, UsageError

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
CORRECT = ["corrected", *(str(p) for p in sorted(SAGAS.glob("*.saga.yaml")) if "buggy" not in p.name)]
BUGGY = ["seed", *(str(p) for p in sorted(SAGAS.glob("*-buggy.saga.yaml")))]


def _spec(ref: str):
    return shipped_spec(ref) if ref in ("seed", "corrected") else load_spec(ref)


def _name(ref: str) -> str:
    return Path(ref).name


@pytest.mark.parametrize("ref", BUGGY, ids=_name)
def test_every_counterexample_replays_on_the_services_with_equal_state(ref):
    result = explore(saga_system(ref), Config())
    assert result.violations
    for v in result.violations:
        services = replay_path(_spec(ref), v.path)  # raises on any difference
        if v.property_kind in ("always", "at-rest"):
            verdicts = property_verdicts(services, [f"saga-{i}" for i in range(result.system.sagas)])
            assert verdicts[v.property] is False, (v.property, verdicts)


def test_a_crash_that_loses_volatile_join_memory_replays_too():
    result = explore(saga_system("seed", orders=1), Config(crashes=1))
    crashing = [v for v in result.violations if any(s.action.kind.startswith("crash") for s in v.path.steps)]
    assert crashing
    for v in crashing:
        replay_path(shipped_spec("seed"), v.path)


def test_a_trace_of_another_spec_does_not_replay():
    result = explore(saga_system("seed"), Config())
    v = result.violation("refund-needs-charge")
    with pytest.raises(ReplayMismatch):
        replay_path(shipped_spec("corrected"), v.path)


def _run_randomly(services: dict[str, SpecService], sagas: list[str], rng: random.Random) -> dict[str, int]:
    """Start every saga, deliver in random order with duplicates and crashes, until quiet."""
    pool: list[tuple[str, dict]] = []
    counts = {PROCESSED: 0, DUPLICATE: 0, "crashes": 0}

    def relay(name: str) -> None:
        def publish(event: dict) -> None:
            for dest, svc in services.items():
                if event["eventType"] in svc.subscribes:
                    pool.append((dest, event))

        services[name].relay(publish)

    starter = next(n for n, s in services.items() if any(r.kind == "trigger" for r in s.part.reactions))
    for saga in sagas:
        services[starter].start(saga)
    relay(starter)
    steps = 0
    while pool:
        steps += 1
        assert steps < 10_000
        dest, event = pool.pop(rng.randrange(len(pool)))
        if rng.random() < 0.15:
            pool.append((dest, event))  # at-least-once: a copy stays in flight
        if rng.random() < 0.1:
            services[dest].arm_crash(rng.choice(["before-commit", "after-commit", "after-publish"]))
        try:
            outcome = services[dest].handle(event)
            counts[outcome] = counts.get(outcome, 0) + 1
            relay(dest)
        except SimulatedCrash:
            counts["crashes"] += 1
            pool.append((dest, event))  # not acknowledged: redelivered
            services[dest] = services[dest].restarted()
            relay(dest)
        except Exception:
            raise
        if services[dest]._crash_at is not None:  # armed for a point this handling never reached
            services[dest]._crash_at = None
    return counts


@pytest.mark.parametrize("ref", CORRECT, ids=_name)
def test_correct_specs_hold_under_random_schedules_duplicates_and_crashes(ref):
    spec = _spec(ref)
    rng = random.Random(11)
    total = {PROCESSED: 0, DUPLICATE: 0, "crashes": 0}
    for run in range(12):
        sagas = [f"saga-{i}" for i in range(rng.randint(1, 3))]
        world = {"sagas": {s: {k: rng.choice(v) for k, v in spec.world.items()} for s in sagas}}
        services = spec_services(spec, world=world)
        counts = _run_randomly(services, sagas, rng)
        for k in total:
            total[k] += counts.get(k, 0)
        verdicts = property_verdicts(services, sagas)
        assert all(verdicts.values()), (run, {k: v for k, v in verdicts.items() if not v})
    # The schedules really exercised duplicates and crashes.
    assert total[DUPLICATE] > 0 and total["crashes"] > 0 and total[PROCESSED] > 20


def test_payloads_follow_the_spec_provenance_and_validate():
    from sagaspec.spec.schemas import validate_event

    spec = shipped_spec("corrected")
    services = spec_services(spec, world={"payment": "approve"})
    out = []
    services["order"].start("saga-0", {"orderId": "o-1", "userId": "u-1", "amount": "12.50",
                                       "items": [{"sku": "a", "quantity": 1, "unitPrice": "12.50"}]})
    services["order"].relay(out.append)
    (created,) = out
    assert created["amount"] == "12.50" and created["eventType"] == "OrderCreated"
    assert services["payment"].handle(created) == PROCESSED
    assert services["payment"].handle(created) == DUPLICATE
    services["payment"].relay(out.append)
    charge = out[-1]
    assert charge["eventType"] == "PaymentProcessed"
    assert charge["amount"] == "12.50"  # from: OrderCreated.amount
    assert charge["orderId"] == "o-1"  # a common field, from the cause
    assert charge["causationId"] == created["eventId"]
    assert charge["paymentId"] and charge["paymentId"] != created["eventId"]  # from: new
    for event in out:
        assert validate_event(event, spec=spec) == [], event


def test_bad_input_is_dead_lettered_and_other_events_ignored():
    svc = SpecService(shipped_spec("corrected"), "payment")
    assert svc.handle(b"{not json") == DEAD_LETTERED
    assert svc.handle({"eventType": "OrderCreated"}) == DEAD_LETTERED
    assert svc.dead_letter_count() == 2
    other = spec_services("corrected")["order"]
    other.start("s-1")
    sent = []
    other.relay(sent.append)
    assert SpecService(shipped_spec("corrected"), "notification").handle(sent[0]) == IGNORED


def test_world_knobs_are_checked_against_the_spec():
    with pytest.raises(InputError, match="unknown knob 'weather'"):
        SpecService(shipped_spec("corrected"), "payment", world={"weather": "sunny"})
    with pytest.raises(InputError, match="payment is 'maybe'; expected one of approve, decline"):
        SpecService(shipped_spec("corrected"), "payment", world={"sagas": {"s": {"payment": "maybe"}}})


# -- the order world per key: stock per sku, declined users, an amount limit -----------------


def _order_target(world):
    from sagaspec.examples.interpreter import per_key_world
    from sagaspec.examples.spec_target import SpecTarget

    spec = shipped_spec("corrected")
    target = SpecTarget(lambda: spec_services(spec))
    target.setup(per_key_world(spec, world))
    return target


def _place(target, order):
    fields = {k: v for k, v in order.items() if k != "sagaId"}
    target.start({"sagaId": order["sagaId"], "fields": fields})
    return target.drain()


def _order(i, user, amount, items):
    return {"sagaId": f"saga-{i}", "orderId": f"order-{i}", "userId": user, "amount": amount,
            "items": [{"sku": k, "quantity": q, "unitPrice": "1.00"} for k, q in items]}


def test_the_order_spec_reserves_per_sku_all_or_nothing_and_releases_each_line():
    t = _order_target({"stock": {"a": 2, "b": 1}})
    assert [e["eventType"] for e in _place(t, _order(1, "alice", "10.00", [("a", 1), ("b", 1)]))] == \
        ["OrderCreated", "PaymentProcessed", "InventoryReserved", "OrderCompleted", "NotificationSent"]
    inv = t.services["inventory"]
    assert inv.variables("saga-1")["free"] == {"a": 1, "b": 0}
    assert inv.variables("saga-1")["held"] == 2
    # b is gone: the whole order fails, a keeps its unit, Payment refunds.
    types = [e["eventType"] for e in _place(t, _order(2, "alice", "10.00", [("a", 1), ("b", 1)]))]
    assert "InventoryReservationFailed" in types and "PaymentRefunded" in types
    assert inv.variables("saga-2")["free"] == {"a": 1, "b": 0}
    # Two lines of one sku add up: 2 units of a do not fit 1.
    types = [e["eventType"] for e in _place(t, _order(3, "bob", "10.00", [("a", 1), ("a", 1)]))]
    assert "InventoryReservationFailed" in types
    # A declined payment cancels; Inventory gives back each line's units.
    t2 = _order_target({"stock": {"a": 5, "b": 5}, "declined_users": ["mallory"]})
    sent = _place(t2, _order(4, "mallory", "10.00", [("a", 2), ("b", 3)]))
    types = [e["eventType"] for e in sent]
    assert types.count("PaymentFailed") == 1 and "InventoryReleased" in types
    released = next(e for e in sent if e["eventType"] == "InventoryReleased")
    assert released["items"] == [{"sku": "a", "quantity": 2, "unitPrice": "1.00"},
                                 {"sku": "b", "quantity": 3, "unitPrice": "1.00"}]
    assert t2.services["inventory"].variables("saga-4")["free"] == {"a": 5, "b": 5}


@pytest.mark.parametrize(("world", "user", "amount", "declined"), [
    ({"declined_users": ["mallory"]}, "mallory", "1.00", True),
    ({"declined_users": ["mallory"]}, "alice", "1.00", False),
    ({"decline_over": "100.00"}, "alice", "100.00", False),
    ({"decline_over": "100.00"}, "alice", "100.01", True),
    ({"decline_over": None, "declined_users": []}, "alice", "999999999999999.99", False),
    ({"decline_over": "999999999999999.98"}, "alice", "999999999999999.99", True),  # exact, not float
    ({}, "mallory", "1000.00", False),  # no data: the knob's first value
])
def test_the_payment_rules_decide_the_knob_from_the_worlds_data(world, user, amount, declined):
    t = _order_target({"stock": {"a": 1}, **world})
    types = [e["eventType"] for e in _place(t, _order(1, user, amount, [("a", 1)]))]
    assert ("PaymentFailed" in types) is declined
    assert ("PaymentProcessed" in types) is not declined


def test_a_knob_set_for_the_saga_wins_over_the_rules():
    t = _order_target({"stock": {"a": 1}, "declined_users": ["mallory"],
                       "sagas": {"saga-1": {"payment": "approve"}}})
    types = [e["eventType"] for e in _place(t, _order(1, "mallory", "1.00", [("a", 1)]))]
    assert "PaymentProcessed" in types


@pytest.mark.parametrize(("world", "expected"), [
    ({"data": {"declined": []}}, "world: data: unknown name 'declined'"),
    ({"data": {"declined_users": "mallory"}}, "world: data: declined_users must be a list"),
    ({"data": {"decline_over": "lots"}}, "world: data: decline_over must be a decimal limit"),
])
def test_bad_world_data_is_one_clear_line(world, expected):
    svc = SpecService("corrected", "payment")
    with pytest.raises(InputError, match=expected):
        svc.configure(world)


def test_bad_per_key_stock_names_the_variable_and_key():
    from sagaspec.adapters.base import check_shared
    from sagaspec.examples.interpreter import per_key_world

    spec = shipped_spec("corrected")
    with pytest.raises(InputError, match=r"world: shared: inventory.free\['a'\] is -1"):
        check_shared(spec, per_key_world(spec, {"stock": {"a": -1}})["shared"])
    with pytest.raises(InputError, match="unknown entry weather"):
        per_key_world(spec, {"weather": "rain"})
    shop = load_spec(SAGAS / "shop.saga.yaml")
    with pytest.raises(InputError, match="has 0 keyed variables"):
        per_key_world(shop, {"stock": {"a": 1}})


def test_the_order_spec_per_key_agrees_with_the_hand_written_order_services():
    """Differential: random order worlds and orders, one at a time, through the
    interpreter running the order spec and through the hand-written services; each saga
    publishes the same events, and the stock per sku ends the same."""
    from sagaspec.examples.system import make_system

    compared = 0
    outcomes = set()
    for seed in range(12):
        rng = random.Random(seed)
        skus = ["a", "b", "c"]
        world = {"stock": {k: rng.randint(0, 3) for k in skus[:2]},  # c is not listed: none in stock
                 "declined_users": ["mallory"], "decline_over": rng.choice([None, "50.00"])}
        spec_side = _order_target(world)
        hand = make_system(engine="hand-written")
        hand.setup(world)
        for i in range(6):
            items = [(rng.choice(skus), rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
            order = _order(i, rng.choice(["alice", "bob", "mallory"]),
                           rng.choice(["10.00", "50.00", "50.01"]), items)
            got = sorted(e["eventType"] for e in _place(spec_side, order))
            hand.place_order(dict(order))
            want = sorted(e["eventType"] for e in hand.drain() if isinstance(e, dict))
            assert got == want, (seed, order, world)
            outcomes.add("OrderCompleted" in got)
            compared += 1
        free = spec_side.services["inventory"].variables("saga-0")["free"]
        stock = hand.service("inventory").stock()
        assert {k: v for k, v in free.items() if v or k in world["stock"]} == \
            {k: v for k, v in stock.items() if v or k in world["stock"]}, seed
    assert compared == 72 and outcomes == {True, False}


def _conform_order_spec(spec, participant: str, examples: int, tmp_path):
    from sagaspec.adapters.inprocess import InProcessAdapter
    from sagaspec.conformance.events import RunFinished
    from sagaspec.conformance.runner import RunConfig, Runner
    from sagaspec.examples.spec_target import SpecTarget

    target = SpecTarget(lambda: spec_services(spec), participant=participant, per_key=True)
    adapter = InProcessAdapter(target, label="interpreter")
    events = list(Runner(RunConfig(adapter=adapter, participant=participant, design="corrected",
                                   examples=examples, seed=1, failures_dir=tmp_path / "failures",
                                   coverage=False, all_bugs=False,
                                   # Which check fails is what is asserted, not the shrunk
                                   # case (shrinking was 4/5 of the failing run's time).
                                   shrink=False)).execute())
    return next(e for e in events if isinstance(e, RunFinished))


@pytest.mark.parametrize(("participant", "examples"),
                         [("system", 40), ("order", 25), ("payment", 25), ("inventory", 25), ("notification", 15)])
def test_the_order_suite_with_its_per_key_world_passes_on_the_interpreter_running_the_order_spec(
        participant, examples, tmp_path):
    """The order saga's own conformance suite (stock per sku, declined users, an amount
    limit, judged exactly) against the interpreter running the order spec."""
    final = _conform_order_spec(shipped_spec("corrected"), participant, examples, tmp_path)
    assert final.ok, (final.failures, final.error)
    status = {c.name: c.status for c in final.checks}
    judged = {"system": ("stock", "world-rules"), "payment": ("world-rules",),
              "inventory": ("stock",)}.get(participant, ())
    for check in ("model", *judged):
        assert status[check] == "passed", (check, status)


@pytest.mark.parametrize(("old", "new", "check"), [
    ("free: free - units}", "free: free - 1}", "stock"),  # a reservation takes one unit, whatever the lines
    ("{value: decline, if: OrderCreated.userId, in: declined_users",
     "{value: approve, if: OrderCreated.userId, in: declined_users", "world-rules"),
])
def test_the_order_suite_catches_a_per_key_slip_in_the_order_spec(old, new, check, tmp_path):
    text = (Path(__file__).resolve().parents[2] / "spec" / "sagas" / "order-corrected.saga.yaml").read_text()
    assert text.count(old) == 1
    from sagaspec.spec.sagafile import parse_spec

    bad = parse_spec(text.replace(old, new), "bad.saga.yaml")
    final = _conform_order_spec(bad, "system", 100, tmp_path)
    assert final.failures == [check]


def test_conform_reaches_the_interpreted_order_services_by_the_engine_option(tmp_path, monkeypatch):
    """``inprocess:?engine=interpreter``: the order saga's reference services as the
    interpreter running the order spec, on SQLite stores, judged with the per-key world."""
    from click.testing import CliRunner
    from sagaspec.examples.store import SQLiteStore
    from sagaspec.examples.system import make_target

    from sagaspec.cli import main

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["conform", "--adapter", "inprocess:?engine=interpreter",
                                  "-n", "15", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "PASSED: inprocess:?engine=interpreter as system of the corrected design" in r.output
    target = make_target("inventory", engine="interpreter", world={"stock": {"a": 1}},
                         store_factory=lambda name: SQLiteStore(str(tmp_path / f"{name}.db")))
    assert type(target.services["inventory"].store) is SQLiteStore
    bad = CliRunner().invoke(main, ["conform", "--adapter", "inprocess:?engine=interpreter&mutant=x", "-n", "1"])
    assert bad.exit_code == 2 and "unknown mutant 'x'; expected one of no-idempotency," in bad.output
    bad = CliRunner().invoke(main, ["conform", "--adapter", "inprocess:?engine=robot", "-n", "1"])
    assert bad.exit_code == 2 and "unknown engine 'robot'; expected one of interpreter, hand-written" in bad.output


def test_the_order_sagas_reference_services_are_the_interpreter_running_the_order_spec():
    """The default engine everywhere: make_target (and so ``inprocess:`` and ``serve
    --design``) runs SpecService on the order spec; ``engine="hand-written"`` the classes."""
    from sagaspec.examples.interpreter import SpecService
    from sagaspec.examples.services import CORRECTED_SERVICES
    from sagaspec.examples.system import make_target

    for participant in ("system", "payment"):
        target = make_target(participant, design="seed")
        assert all(type(s) is SpecService for s in target.services.values())
        assert {s.spec.name for s in target.services.values()} == {shipped_spec("seed").name}
    hand = make_target("payment", engine="hand-written")
    assert isinstance(hand.service("payment"), CORRECTED_SERVICES["payment"])


def test_a_hand_written_mutant_name_runs_its_operator_mutant():
    """``mutant=NAME`` of the 20 hand-written mutants resolves to the operator mutant its
    ``spec_mutant`` names (the same bug); a mutant of the spec is taken by its own name."""
    from sagaspec.conformance.mutate import mutants
    from sagaspec.examples.mutants import MUTANTS
    from sagaspec.examples.system import make_target, operator_mutant

    spec = shipped_spec("corrected")
    by_description = {m.description: m for m in mutants(spec)}
    for name, hand in MUTANTS.items():
        assert operator_mutant(spec, name).name == by_description[hand.spec_mutant].name, name
    # A spec-level mutant (its spec changed): the target runs the changed spec.
    target = make_target("inventory", mutant="release-keeps-stock", world={"stock": {"a": 2}})
    assert target.services["inventory"].spec.name == "order-corrected~mutant"
    assert target.mutant == "release-keeps-stock"
    # A behaviour mutant: the spec as it is, the service changed.
    target = make_target("payment", mutant="no-idempotency")
    assert target.services["payment"].behaviour == {"redo-duplicate"}
    spec_name = operator_mutant(spec, "oversell").name
    assert make_target("inventory", mutant=spec_name).services["inventory"].spec.name.endswith("~mutant")
    with pytest.raises(UsageError, match="unknown mutant 'nope'"):
        make_target(mutant="nope")


def test_a_seeded_interpreter_bus_reorders_reproducibly():
    """``seed=``: a random pending delivery next, so a later event can overtake an
    earlier one (OrderCancelled before OrderCreated at Payment); the same seed, the same
    order. Without a seed: publication order, so the overtaking never happens."""
    from sagaspec.examples.system import make_target

    world = {"stock": {"sku-1": 0}}
    order = _order(0, "alice", "10.00", [("sku-1", 1)])

    def run(seed):
        target = make_target(world=world, seed=seed)
        target.place_order(dict(order))
        return [e["eventType"] for e in target.drain()], target.service("payment").decisions

    runs = {seed: run(seed) for seed in range(12)}
    assert runs[3][0] == run(3)[0]
    assert len({tuple(events) for events, _ in runs.values()}) > 1
    # Every order still ends cancelled (no stock), whatever the interleaving.
    assert all("OrderCancelled" in events for events, _ in runs.values())
    unseeded, _ = run(None)
    assert unseeded == ["OrderCreated", "PaymentProcessed", "InventoryReservationFailed",
                        "OrderCancelled", "PaymentRefunded"]


def test_property_verdicts_judge_stock_against_the_per_key_world():
    """A per-key world starts the keyed stock at its units per sku: the properties compare
    the total with that start (stock-conserved), not the param's default; the mutant that
    forgets to give released units back breaks it."""
    from sagaspec.examples.interpreter import property_verdicts
    from sagaspec.examples.system import make_target

    world = {"stock": {"sku-1": 5, "sku-2": 700}, "declined_users": ["bob"]}
    for mutant, user, held in [(None, "alice", True), (None, "bob", True),
                               ("release-keeps-stock", "bob", False)]:
        target = make_target(mutant=mutant, world=world)
        target.place_order(_order(0, user, "20.00", [("sku-1", 2)]))
        verdicts = property_verdicts(target.services, ["saga-0"])
        assert verdicts["stock-conserved"] is held, (mutant, user)
        assert verdicts["stock-non-negative"]


def test_a_knob_target_takes_a_per_key_world_file_too():
    """``sagaspec serve --spec order-corrected.saga.yaml --world FILE``: a world file in
    the per-key form (stock, the rules' data) sets the keyed stock and the rules' data."""
    from sagaspec.examples.spec_target import SpecTarget

    t = SpecTarget(lambda: spec_services("corrected"), world={"stock": {"a": 1}, "declined_users": ["eve"]})
    assert t.world_knobs
    types = [e["eventType"] for e in _place(t, _order(1, "alice", "1.00", [("a", 2)]))]
    assert "InventoryReservationFailed" in types
    types = [e["eventType"] for e in _place(t, _order(2, "eve", "1.00", [("a", 1)]))]
    assert "PaymentFailed" in types and "InventoryReserved" in types
    # A knob world stays a knob world: no per-key stock, the model's one pool.
    k = SpecTarget(lambda: spec_services("corrected"), world={"payment": "decline"})
    types = [e["eventType"] for e in _place(k, _order(1, "alice", "1.00", [("a", 5)]))]
    assert "PaymentFailed" in types and "InventoryReserved" in types


_COUNTER_SHOP = """\
saga: counter-shop
format: 1
params:
  units: {type: int, default: 1, min: 1, max: 5}
  stock: {type: int, default: 1, min: 0, max: 5}
world:
  card:
    values: [ok, refused]
    rules:
      - {value: refused, if: Placed.total, above: limit}
keys:
  sku: {lines: Placed.lines, key: sku, quantity: n, units: units}
events:
  Placed:
    role: trigger
    terminal: true
    fields:
      total: {type: string, pattern: "^[0-9]+\\\\.[0-9]{2}$"}
      lines:
        type: array
        minItems: 1
        items:
          type: object
          properties: {sku: {type: string, minLength: 1}, n: {type: integer, minimum: 1}}
          required: [sku, n]
participants:
  shop:
    shared:
      free: {type: int, min: 0, max: stock, initial: stock, key: sku}
    state:
      status: {type: enum, values: [idle, placed]}
    reactions:
      - trigger: true
        alternatives:
          - label: place
            when: status == 'idle' && free >= units
            world: {card: ok}
            set: {status: placed, free: free - units}
            emit: [Placed]
properties:
  stock-ok:
    always: shop.free >= 0
"""


def test_a_trigger_participant_with_keyed_stock_starts_sagas_per_key(tmp_path):
    """The lines of the trigger event are known when the saga starts: a trigger guarded
    by keyed stock runs per key of them."""
    path = tmp_path / "counter-shop.saga.yaml"
    path.write_text(_COUNTER_SHOP)
    spec = load_spec(path)
    svc = SpecService(spec, "shop")
    svc.set_shared({"free": {"a": 2, "b": 1}})
    sent = svc.start("s1", {"total": "5.00", "lines": [{"sku": "a", "n": 2}, {"sku": "b", "n": 1}]})
    assert [e["eventType"] for e in sent] == ["Placed"]
    assert svc.variables("s1")["free"] == {"a": 0, "b": 0}
    with pytest.raises(UsageError, match="no trigger is enabled"):
        svc.start("s2", {"total": "5.00", "lines": [{"sku": "a", "n": 1}]})
    # Without a per-key world, the model's one pool (stock 1, one unit per saga).
    plain = SpecService(spec, "shop")
    plain.start("s1", {"total": "5.00", "lines": [{"sku": "a", "n": 3}]})
    assert plain.variables("s1")["free"] == 0


def test_starting_a_saga_again_publishes_nothing_and_changes_nothing():
    """A repeated start (a client retrying POST /orders) is a no-op, as a redelivered
    event is: the durable record says the saga was started."""
    svc = SpecService(shipped_spec("corrected"), "order")
    first = svc.start("s1", None)
    assert len(first) == 1 and first[0]["sagaId"] == "s1"
    before = svc.variables("s1")
    assert svc.start("s1", None) == []
    assert svc.variables("s1") == before
