"""The generator reaches every corner: schema edges and repeated keys.

Typical draws stay small (fast cases, short reports, shrinking toward small values);
the edges a schema allows are reached with some probability, generically from any
spec's event schemas. Each corner has a faulty service that only that corner catches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import Phase, find, given, seed, settings
from jsonschema import Draft7Validator
from sagaspec.conformance._fastdraw import compiled
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.payloads import (
    EDGE_ODDS,
    Ids,
    build_event,
    edged,
    fresh_saga,
    saga_fields,
    saga_strategy,
    schema_edges,
)
from sagaspec.spec.schemas import validate_event

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
TRAVEL = str(SAGAS / "travel.saga.yaml")
SHOP = str(SAGAS / "shop.saga.yaml")
SHIPPING = str(SAGAS / "order-shipping.saga.yaml")

def _shipping():
    return suite_model(SHIPPING, 1).spec


def _lines(saga):
    return saga.fields["items"]


# -- schema edges ----------------------------------------------------------------------
def _draws(strategy, n=200, at=7):
    """``n`` values of ``strategy`` drawn with hypothesis seed ``at`` (generation only:
    shrinking 100-line lists is slow and not what is tested here), without the literals
    hypothesis mines from loaded modules, as the suite draws: so a seed means the same
    values whichever tests ran before in the process."""
    from sagaspec.conformance.runner import _no_local_constants

    out = []

    @seed(at)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate])
    @given(strategy)
    def draw(value):
        out.append(value)

    with _no_local_constants():
        draw()
    return out


def _runners_draws(spec, at):
    """A saga's trigger fields as the runner draws them (the chooser draws the compiled
    ``saga_fields``, then :func:`fresh_saga` adds the ids): the choices and spans of
    ``saga_strategy``, so the same values for a seed, at about half the CPU."""
    return _draws(compiled(saga_fields(spec)), at=at)


def _repeated(lines):
    return len({x["sku"] for x in lines}) < len(lines)


@pytest.mark.timeout(120)
def test_a_seeded_run_reaches_the_edges_of_the_triggers_schema_but_mostly_draws_small():
    # Reach is a probability: a list at maxItems comes on some seeds only (hypothesis
    # goes for a size's extreme on a few of them), so the corners are looked for over
    # six seeds of 200 draws, and "mostly small" is asserted for each seed's draws.
    spec = _shipping()
    runs = [_runners_draws(spec, k) for k in range(1, 7)]
    sagas = [s for run in runs for s in run]
    reached = {
        "userId at maxLength": [s for s in sagas if len(s["userId"]) == 128],
        "items at maxItems": [s for s in sagas if len(s["items"]) == 100],
        "quantity at maximum": [s for s in sagas
                                if any(x["quantity"] == 10_000 for x in s["items"])],
        "two lines of one sku": [s for s in sagas if _repeated(s["items"])],
    }
    assert all(reached.values()), {k: len(v) for k, v in reached.items()}
    edged_ = {id(s) for v in reached.values() for s in v}
    for run in runs:  # one field in EDGE_ODDS: most draws stay small
        assert sum(id(s) in edged_ for s in run) < len(run) / 2
    for s in [fresh_saga(spec, 0, "x", v[0]) for v in reached.values()]:
        start = build_event(spec, "OrderCreated", s, Ids("x"), cause=None, events={}, free={})
        assert validate_event(start, spec=spec) == [], start
    shop = suite_model(SHOP, 1).spec
    assert any(len(s["address"]) == 500 for k in (1, 2) for s in _runners_draws(shop, k))


def test_shrinking_goes_to_small_values():
    # Without the explain phase: it re-ran the found value about 100 times with parts
    # varied, for a report comment, 9/10 of this test's time; the minimum is the shrink's.
    smallest = find(saga_strategy(_shipping(), 0, "x"), lambda s: True,
                    settings=settings(database=None, deadline=None,
                                      phases=[Phase.generate, Phase.shrink]))
    assert len(_lines(smallest)) == 1 and len(smallest.fields["userId"]) == 1


def test_edges_come_from_the_schema_and_respect_it():
    line = {"type": "object", "required": ["sku", "n"],
            "properties": {"n": {"type": "integer", "minimum": 1, "exclusiveMaximum": 5},
                           "sku": {"type": "string", "maxLength": 40, "pattern": "^[a-z]+$"}}}
    lines = {"type": "array", "maxItems": 9, "minItems": 1, "items": line}
    edges = schema_edges(lines)
    assert ((), "repeated-key") in edges and (("*", "n"), "maximum") in edges
    # A list whose items must be unique never gets a repeated key.
    assert ((), "repeated-key") not in schema_edges({**lines, "uniqueItems": True})
    # Nor does one whose items have no identifying string field.
    assert ((), "repeated-key") not in schema_edges(
        {"type": "array", "items": {"type": "object", "properties": {}}})
    drawn = _draws(edged(lines), n=500)
    validator = Draft7Validator(lines)
    assert all(validator.is_valid(v) for v in drawn)
    assert any(x["n"] == 4 for v in drawn for x in v)  # exclusiveMaximum 5: the edge is 4
    assert any(len(x["sku"]) == 40 for v in drawn for x in v)  # stretched, pattern kept
    assert any(len(v) == 9 for v in drawn) and any(_repeated(v) for v in drawn)
    unique = Draft7Validator({**lines, "uniqueItems": True})
    assert all(unique.is_valid(v) for v in _draws(edged({**lines, "uniqueItems": True}), n=100))


@settings(max_examples=60, database=None, deadline=None)
@given(saga_strategy(_shipping(), 0, "x"))
def test_every_drawn_trigger_is_valid(saga):
    spec = _shipping()
    start = build_event(spec, "OrderCreated", saga, Ids("x"), cause=None, events={}, free={})
    assert validate_event(start, spec=spec) == [], start
    assert EDGE_ODDS > 1


# -- faulty services only a corner catches ---------------------------------------------
def _spec_target(design, participant, cls=None, mutant=None):
    from sagaspec.adapters.inprocess import InProcessAdapter
    from sagaspec.conformance.spec_conform import spec_service_factory
    from sagaspec.examples.spec_target import SpecTarget

    return InProcessAdapter((cls or SpecTarget)(
        spec_service_factory(suite_model(design, 1).spec, mutant), participant))


def _narrow_columns():
    from sagaspec.examples.spec_target import SpecTarget

    class NarrowColumns(SpecTarget):
        """Stores every text in a 100-character column: a longer one (valid: the schema
        allows 128) makes it fail."""

        def deliver(self, event):
            long = [k for k, v in event.items() if isinstance(v, str) and len(v) > 100]
            if long:
                raise ValueError(f"value too long for column {long[0]}")
            super().deliver(event)

    return NarrowColumns


def _merges_lines():
    from sagaspec.examples.spec_target import SpecTarget

    class MergesLines(SpecTarget):
        """Keeps an order's lines in a map by sku: two lines of one sku become one."""

        def drain(self):
            out = super().drain()
            for e in out:
                if isinstance(e, dict) and isinstance(e.get("items"), list):
                    merged: dict = {}
                    for x in e["items"]:
                        if x["sku"] in merged:
                            merged[x["sku"]]["quantity"] += x["quantity"]
                        else:
                            merged[x["sku"]] = dict(x)
                    e["items"] = list(merged.values())
            return out

    return MergesLines


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("design", "participant", "faulty", "checks"), [
    (TRAVEL, "flight", _narrow_columns, ("no-crash",)),
    # Merged lines are not the ordered ones (or exceed a line's maximum quantity).
    (SHIPPING, "inventory", _merges_lines, ("saga-consistency", "schema")),
])
def test_a_service_that_mishandles_a_corner_is_caught(conform, design, participant, faulty,
                                                      checks):
    r = conform(adapter=_spec_target(design, participant, faulty()), design=design,
                participant=participant, examples=100, seed=1, all_bugs=False, shrink=False)
    assert r.final.failures and set(r.final.failures) <= set(checks), [
        f.message for f in r.failures.values()]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("design", "participant"), [(SHIPPING, "inventory"),
                                                     (TRAVEL, "flight")])
def test_the_reference_passes_at_the_edges(conform, design, participant):
    from sagaspec.examples.spec_target import SpecTarget

    r = conform(adapter=_spec_target(design, participant, SpecTarget), design=design,
                participant=participant, examples=60, seed=1, all_bugs=False, shrink=False)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
