"""The order saga, compiled from its spec files, follows its design: wiring, reactions, restart, symmetry."""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from sagaspec.model import Config, Engine, Msg
from sagaspec.model.compile import SpecParticipantModel
from sagaspec.model.saga import (
    SAGA_MODELS,
    saga_system,
    saga_system_from_meta,
    saga_variant,
)
from sagaspec.spec.designs import get_design
from sagaspec.spec.sagafile import parse_spec, shipped_spec

from sagaspec.errors import DesignError, InputError, UsageError


def reachable_locals(system, config=None, limit=200_000):
    """Every reachable local state of every participant (small exhaustive BFS)."""
    engine = Engine(system, config or Config())
    start = engine.initial()
    seen = {start}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        succ, _quiet, _ = engine.expand(state)
        for nxt in succ:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
        assert len(seen) < limit
    out: dict[str, set] = {p.name: set() for p in system.participants}
    for state in seen:
        for i, p in enumerate(system.participants):
            out[p.name].add(engine.local(i, state[i]))
    return out


@pytest.mark.parametrize("name", ["seed", "corrected"])
def test_participants_subscribe_and_publish_exactly_the_design_table(name):
    design = get_design(name)
    system = saga_system(name)
    assert [p.name for p in system.participants] == list(design.service_names)
    for p in system.participants:
        service = design.service(p.name)
        assert p.subscribes == frozenset(service.subscribes)
        assert p.publishes == frozenset(service.publishes)
        assert p.emits <= p.publishes


@pytest.mark.parametrize("name", ["seed", "corrected"])
def test_reactions_publish_only_what_the_design_emits(name):
    """Drive every handler from every reachable local state with every subscribed event."""
    design = get_design(name)
    system = saga_system(name, orders=2)
    locals_ = reachable_locals(system, Config(duplicates=0, bus="unordered"))
    for p in system.participants:
        published = set()
        for state in locals_[p.name]:
            for event in sorted(p.subscribes):
                for saga in range(2):
                    for out in p.on_event(state, Msg(event, saga, "test")):
                        published.update(m.type for m in out.publish)
                        assert all(m.src == p.name and m.saga == saga for m in out.publish)
            for out in p.internal(state):
                published.update(m.type for m in out.publish)
        allowed = {e for r in design.reactions_of(p.name) for alt in r.emits for e in alt}
        assert published <= allowed, p.name
        assert published == set(p.emits), p.name


def test_seed_has_its_holes_in_the_wiring():
    seed = saga_system("seed")
    corrected = saga_system("corrected")
    # Nobody in the seed reacts to PaymentFailed, and nobody ever triggers InventoryReleased.
    assert seed.subscribers("PaymentFailed") == ()
    assert "InventoryReleased" not in seed.participant("inventory").emits
    assert corrected.subscribers("PaymentFailed") == ("order",)
    assert "InventoryReleased" in corrected.participant("inventory").emits
    # Seed reactions are naive (always publish), corrected ones guarded (may publish nothing).
    assert not any(() in r.emits for r in get_design("seed").reactions_of("payment"))
    assert all(() in r.emits for r in get_design("corrected").reactions_of("payment"))


def test_naive_seed_payment_refunds_without_a_charge_and_charges_after_a_refund():
    pay = saga_system("seed", orders=1).participant("payment")
    s0 = pay.init()
    (refund,) = pay.on_event(s0, Msg("InventoryReservationFailed", 0, "inventory"))
    assert refund.label == "refund (nothing charged)"
    assert refund.state[0].refunds == 1 and refund.state[0].held == 0
    labels = {o.label: o for o in pay.on_event(refund.state, Msg("OrderCreated", 0, "order"))}
    assert set(labels) == {"approve", "decline"}
    assert labels["approve"].state[0].held == 1  # a charge left on a cancelled order


def test_corrected_payment_remembers_a_cancellation_that_overtook_order_created():
    pay = saga_system("corrected", orders=1).participant("payment")
    (tomb,) = pay.on_event(pay.init(), Msg("OrderCancelled", 0, "order"))
    assert tomb.label == "remember cancellation" and tomb.publish == ()
    (late,) = pay.on_event(tomb.state, Msg("OrderCreated", 0, "order"))
    assert late.label.startswith("ignore") and late.publish == () and late.state == tomb.state


def test_declines_switch_removes_the_declined_branch():
    pay = saga_system("corrected", orders=1, declines=False).participant("payment")
    outs = pay.on_event(pay.init(), Msg("OrderCreated", 0, "order"))
    assert [o.label for o in outs] == ["approve"]


def test_stock_decides_reservations():
    inv = saga_system("corrected", orders=2, stock=1).participant("inventory")
    (first,) = inv.on_event(inv.init(), Msg("OrderCreated", 0, "order"))
    (second,) = inv.on_event(first.state, Msg("OrderCreated", 1, "order"))
    assert (first.label, second.label) == ("reserve", "out of stock")
    assert second.state.free == 0 and [s.held for s in second.state.slots] == [1, 0]
    (release,) = inv.on_event(second.state, Msg("OrderCancelled", 0, "order"))
    assert release.state.free == 1 and release.publish[0].type == "InventoryReleased"


def test_units_per_order():
    inv = saga_system("corrected", orders=2, stock=4, units=2).participant("inventory")
    s = inv.init()
    for saga in (0, 1):
        (o,) = inv.on_event(s, Msg("OrderCreated", saga, "order"))
        s = o.state
    assert s.free == 0 and [x.held for x in s.slots] == [2, 2]


def test_restart_loses_only_volatile_join_memory_and_never_ghost_counters():
    seed_order = saga_system("seed", orders=1).participant("order")
    corr_order = saga_system("corrected", orders=1).participant("order")
    assert isinstance(seed_order, SpecParticipantModel)
    s = seed_order.init()
    (placed,) = seed_order.internal(s)
    (paid,) = seed_order.on_event(placed.state, Msg("PaymentProcessed", 0, "payment"))
    assert paid.state[0].paid
    after = seed_order.restart(paid.state)
    assert not after[0].paid and after[0].status == "open"
    assert corr_order.restart(paid.state) == paid.state
    # Ghost counters (what happened in the world) survive a crash.
    done = paid.state[0]._replace(completed=1, cancelled=1)
    assert seed_order.restart((done,))[0][3:] == (1, 1)
    # Payment, Inventory and Notification records are durable in both designs.
    for name in ("seed", "corrected"):
        for p in saga_system(name, orders=1).participants[1:]:
            state = p.init()
            assert p.restart(state) == state


def test_volatile_override():
    order = saga_system("corrected", orders=1, volatile=["order"]).participant("order")
    (placed,) = order.internal(order.init())
    (paid,) = order.on_event(placed.state, Msg("PaymentProcessed", 0, "payment"))
    assert paid.state[0].paid and not order.restart(paid.state)[0].paid
    with pytest.raises(UsageError, match=r"only participants with join memory can lose it \(order\)"):
        saga_system("corrected", volatile=["payment"])


@pytest.mark.parametrize("name", ["seed", "corrected"])
def test_permute_commutes_with_every_handler(name):
    """Symmetry is sound only if renaming sagas commutes with the reactions."""
    system = saga_system(name, orders=3, stock=2)
    locals_ = reachable_locals(system, Config(bus="unordered", duplicates=0))
    perms = list(itertools.permutations(range(3)))
    for p in system.participants:
        for state in sorted(locals_[p.name], key=repr)[:150]:
            for perm in perms:
                pstate = p.permute(state, perm)
                assert len(pstate) == len(state)
                for event in sorted(p.subscribes):
                    for saga in range(3):
                        msg = Msg(event, saga, "x")
                        outs = p.on_event(state, msg)
                        pouts = p.on_event(pstate, Msg(event, perm[saga], "x"))
                        assert [o.label for o in outs] == [o.label for o in pouts]
                        for o, po in zip(outs, pouts, strict=True):
                            assert p.permute(o.state, perm) == po.state
                            assert [(m.type, perm[m.saga]) for m in o.publish] == [
                                (m.type, m.saga) for m in po.publish
                            ]


def test_states_are_small_interned_tuples():
    system = saga_system("corrected", orders=2)
    locals_ = reachable_locals(system)
    for states in locals_.values():
        for state in states:
            hash(state)
            assert isinstance(state, tuple)
    # Equal slots are one object, so stored states share them.
    order = system.participant("order")
    a, b = order.init()
    assert a is b


def test_registry_and_unknown_design():
    assert set(SAGA_MODELS) == {"seed", "corrected"}
    for name in ("seed", "corrected"):
        assert saga_variant(name).design == shipped_spec(name).design()
    with pytest.raises(DesignError, match="unknown design 'nope'; expected one of seed, corrected"):
        saga_system("nope")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"orders": 0}, "orders must be an integer from 1 to 6"),
        ({"orders": 7}, "orders must be an integer from 1 to 6"),
        ({"stock": -1}, "stock must be"),
        ({"units": 0}, "units must be"),
        ({"orders": True}, "orders must be"),
    ],
)
def test_bad_bounds_are_usage_errors(kwargs, match):
    with pytest.raises((UsageError, InputError), match=match):
        saga_system("corrected", **kwargs)


def test_a_changed_spec_is_interpreted_from_its_data():
    """Guard the seed's refund and it stops refunding what it never charged."""
    text = shipped_spec("seed").source
    from importlib import resources

    text = resources.files("sagaspec.spec").joinpath(text).read_text()
    old = """      - on: InventoryReservationFailed
        note: refund on reservation failure (whether or not it charged)
        alternatives:
"""
    assert old in text
    guarded = old + """          - label: remember cancellation
            when: status == 'none'
            set: {status: cancelled}
"""
    text = text.replace(old, guarded).replace("when: held == 0", "when: held == 0 && status != 'none'")
    system = saga_system(parse_spec(text, "seed-guarded-refund.saga.yaml"))
    pay = system.participant("payment")
    (o,) = pay.on_event(pay.init(), Msg("InventoryReservationFailed", 0, "inventory"))
    assert o.label == "remember cancellation" and o.publish == ()


def test_meta_round_trip_and_properties_attached():
    system = saga_system("seed", orders=3, stock=1, declines=False)
    assert saga_system_from_meta(system.meta).meta == system.meta
    assert tuple(p.name for p in system.properties) == tuple(p.name for p in shipped_spec("seed").properties)
    assert system.sagas == 3
    assert system.participant("inventory").init().free == 1
    with pytest.raises(UsageError, match="unknown model metadata"):
        saga_system_from_meta({"design": "seed", "bogus": 1})
