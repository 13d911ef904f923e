"""The hypothesis suite on any saga spec: travel and shop against their interpreter.

``--design FILE`` runs the same suite as the order designs (generation, shrinking,
replay, reports) on a spec file, its reference services being the interpreter of the
spec in-process; payloads come from the spec's schemas and provenance, the world from
its knobs, the checks from its properties.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sagaspec.conformance.checks import checks_for
from sagaspec.conformance.harness import _chances
from sagaspec.conformance.history import SagaInfo
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.payloads import (
    Ids,
    build_event,
    free_field_names,
    negative_input,
    saga_strategy,
)
from sagaspec.conformance.runner import default_participant, participants_of
from sagaspec.spec.schemas import validate_event

from sagaspec.cli import main

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
TRAVEL, SHOP = str(SAGAS / "travel.saga.yaml"), str(SAGAS / "shop.saga.yaml")
TRAVEL_BUGGY, SHOP_BUGGY = str(SAGAS / "travel-buggy.saga.yaml"), str(SAGAS / "shop-buggy.saga.yaml")


# -- payloads from the spec ----------------------------------------------------------------
def test_played_events_take_their_fields_from_the_specs_provenance():
    spec = suite_model(TRAVEL, 1).spec
    ids = Ids("t")
    saga = SagaInfo(0, "saga-t-0", {"tripId": "trip-t-0", "travellerId": "ann",
                                    "departure": "2026-01-02", "return": "2026-01-09",
                                    "amount": "12.34", "currency": "EUR"})
    events: dict = {}
    requested = build_event(spec, "TripRequested", saga, ids, cause=None, events=events, free={})
    booked = build_event(spec, "FlightBooked", saga, ids, cause=requested, events=events, free={})
    cancelled = build_event(spec, "FlightCancelled", saga, ids, cause=booked, events=events,
                            free={})
    charged = build_event(spec, "PaymentCharged", saga, ids, cause=booked, events=events, free={})
    assert requested["travellerId"] == "ann" and requested["tripId"] == "trip-t-0"
    assert booked["bookingId"].startswith("booking-t-")  # from: new
    assert cancelled["bookingId"] == booked["bookingId"]  # from: FlightBooked.bookingId
    assert (charged["amount"], charged["currency"]) == ("12.34", "EUR")  # from the trigger
    assert cancelled["causationId"] == booked["eventId"]
    for e in (requested, booked, cancelled, charged):
        assert validate_event(e, spec=spec) == [], e


def test_free_fields_are_the_required_ones_nothing_in_the_spec_fixes():
    order = suite_model("corrected", 1).spec
    free = {e.name: free_field_names(order, e.name) for e in order.events}
    assert {k for k, v in free.items() if v} == {
        "PaymentFailed", "PaymentRefunded", "InventoryReservationFailed", "InventoryReleased",
        "OrderCancelled"}
    assert set(free.values()) == {(), ("reason",)}
    travel = suite_model(TRAVEL, 1).spec
    assert free_field_names(travel, "TripRequested") == ()  # a trigger's fields are the saga's
    assert free_field_names(travel, "FlightBookingFailed") == ("reason",)


@settings(max_examples=8, database=None, deadline=None)
@given(st.data())
def test_sagas_are_drawn_from_the_triggers_schema_and_validate(data):
    for design in (TRAVEL, SHOP):
        spec = suite_model(design, 1).spec
        saga = data.draw(saga_strategy(spec, 0, "x"))
        trigger = min(e.name for e in spec.events if e.role == "trigger")
        ev = build_event(spec, trigger, saga, Ids("x"), cause=None, events={}, free={})
        assert validate_event(ev, spec=spec) == [], ev


def test_a_negative_input_breaks_a_required_field_of_the_events_schema():
    spec = suite_model(TRAVEL, 1).spec
    good = {"eventId": "e", "eventType": "FlightBookingFailed", "schemaVersion": 1,
            "sagaId": "s", "timestamp": "2026-01-01T00:00:00Z", "tripId": "t", "reason": "r"}
    assert validate_event(good, spec=spec) == []
    for kind in ("missing-field", "wrong-type", "unknown-type", "extra-field"):
        bad = negative_input(kind, good, Ids("x"), spec)
        assert validate_event(bad, spec=spec), (kind, bad)
    assert "tripId" not in negative_input("missing-field", good, Ids("x"), spec)


# -- what the spec says about checks and targets ------------------------------------------
def test_targets_checks_and_chances_come_from_the_spec():
    assert participants_of(TRAVEL) == ("trip", "flight", "hotel", "car", "payment", "system")
    assert default_participant(TRAVEL) == "flight"  # the first consumer of the trigger
    assert default_participant("corrected") == "payment"
    checks = checks_for(TRAVEL)
    assert "no-booking-left" in checks and "single-charge" in checks and "stock" not in checks
    assert checks["one-outcome"].participants == ("trip",)
    assert set(checks["world"].participants) == {"flight", "hotel", "car", "payment"}
    # The order design's chances, read from its spec, are what was hand-written before.
    order = _chances(suite_model("corrected", 1).spec)
    assert order.by_event["PaymentProcessed"] >= {"single-charge"}
    assert "refund-needs-charge" in order.by_event["PaymentRefunded"]
    assert "single-email" in order.by_event["NotificationSent"]
    assert order.shared_decisions == {"InventoryReserved", "InventoryReservationFailed"}
    assert order.knob_decisions == {"PaymentProcessed", "PaymentFailed"}


# -- the suite on travel and shop, in-process ------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("design", "participant"), [(TRAVEL, "flight"), (TRAVEL, "system"),
                                                     (SHOP, "payment"), (SHOP, "system")])
def test_the_reference_interpreter_passes_its_own_spec(conform, design, participant):
    r = conform(design=design, participant=participant, examples=15, seed=2)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
    status = {c.name: c.status for c in r.final.checks}
    assert status["world"] == "passed"  # the knob values were set and judged
    assert status["model"] == "passed" and status["schema"] == "passed"


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("design", "participant", "prop"), [
    (TRAVEL_BUGGY, "hotel", "no-booking-left"),
    (SHOP_BUGGY, "system", "cancelled-holds-nothing"),
])
def test_a_buggy_spec_fails_with_its_named_property_and_replays(conform, design, participant,
                                                                   prop):
    # Unshrunk: the property named and the case's replay are what is asserted (the
    # unshrunk case replays as well; shrinking was most of the run).
    r = conform(design=design, participant=participant, examples=30, seed=3, all_bugs=False,
                shrink=False)
    assert prop in r.final.failures, [f.message for f in r.failures.values()]
    failure = r.failures[prop]
    assert failure.reproduce and f"--design {design}" in failure.reproduce
    saved = json.loads(Path(failure.file).read_text(encoding="utf-8"))
    assert saved["design"] == design and saved["world"]["knobs"]
    again = conform(design=design, participant=participant, replay=failure.file)
    assert prop in again.final.failures


@pytest.mark.timeout(120)
def test_a_checker_trace_of_travel_buggy_replays_as_a_conform_case(conform, tmp_path):
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system
    from sagaspec.model.system import Config

    result = explore(saga_system(TRAVEL_BUGGY, orders=1), Config())
    violation = next(v for v in result.violations if v.property == "no-booking-left")
    trace = tmp_path / "trace.json"
    data = violation.shrunk_path.to_dict()
    data["property"] = violation.property
    trace.write_text(json.dumps(data), encoding="utf-8")
    bad = conform(design=TRAVEL_BUGGY, participant="hotel", replay=trace)
    assert bad.final.failures == ["no-booking-left"], [f.message for f in bad.failures.values()]
    assert bad.failures["no-booking-left"].divergence is None
    fixed = conform(design=TRAVEL, participant="hotel", replay=trace)
    assert fixed.final.failures == []
    assert any("did not reproduce" in n for n in fixed.final.notes)


@pytest.mark.timeout(120)
def test_the_cli_runs_a_spec_file_with_reports(tmp_path):
    junit, ndjson = tmp_path / "r.xml", tmp_path / "r.ndjson"
    r = CliRunner().invoke(main, ["conform", "--design", TRAVEL, "--participant", "payment",
                                  "-n", "10", "--seed", "1", "--no-coverage",
                                  "--junit-xml", str(junit), "--ndjson", str(ndjson),
                                  "--failures-dir", str(tmp_path / "f")])
    assert r.exit_code == 0, r.output
    suite = ET.parse(junit).getroot()
    assert {c.get("name") for c in suite.iter("testcase")} == set(checks_for(TRAVEL))
    lines = [json.loads(x) for x in ndjson.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["participant"] == "payment"
    bad = CliRunner().invoke(main, ["conform", "--design", TRAVEL, "--participant", "order"])
    assert bad.exit_code == 2 and "'order' is not one of" in bad.output


# -- a service in its own vocabulary, through a mapping ---------------------------------------
FLIGHT_MAPPING = """
type_field = "kind"
[envelope]
sagaId = "trip_ref"
[events.TripRequested]
type = "trip.requested"
[events.TripCancelled]
type = "trip.cancelled"
[events.FlightBooked]
type = "seat.held"
[events.FlightBooked.fields]
bookingId = "pnr"
[events.FlightBookingFailed]
type = "seat.unavailable"
[events.FlightCancelled]
type = "seat.released"
[events.FlightCancelled.fields]
bookingId = "pnr"
"""


class _TheirFlight:
    """Travel's flight service speaking another vocabulary: the reference interpreter
    behind the mapping read backwards (their message in, theirs out)."""

    world_knobs = True
    capabilities = frozenset({"setup", "reset", "crash", "deliver_raw"})

    def __init__(self, mapping, mutant=None) -> None:
        from sagaspec.conformance.spec_conform import spec_service_factory
        from sagaspec.examples.spec_target import SpecTarget

        self.mapping = mapping
        self.inner = SpecTarget(spec_service_factory(suite_model(TRAVEL, 1).spec, mutant), "flight")

    def deliver(self, theirs):
        ours = self.mapping.to_ours(theirs)
        self.inner.deliver(ours if isinstance(ours, dict) else theirs)

    def deliver_raw(self, payload):
        self.inner.deliver_raw(payload)

    def drain(self):
        return [self.mapping.to_theirs(e) for e in self.inner.drain() if isinstance(e, dict)]

    def setup(self, world):
        self.inner.setup(world)

    def crash(self, participant):
        self.inner.crash(participant)

    def reset(self):
        self.inner.reset()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("mutant", "failures"), [(None, []), ("skip-compensation-1", ["model"])])
def test_a_travel_service_in_its_own_vocabulary_is_judged_through_its_mapping(
        conform, tmp_path, mutant, failures):
    from sagaspec.adapters.inprocess import InProcessAdapter
    from sagaspec.adapters.mapping import MappedAdapter, load_mapping

    file = tmp_path / "flight.toml"
    file.write_text(FLIGHT_MAPPING, encoding="utf-8")
    mapping = load_mapping(file, suite_model(TRAVEL, 1).spec)
    assert mapping.to_theirs({"eventType": "FlightBooked", "bookingId": "b"})["pnr"] == "b"
    adapter = MappedAdapter(InProcessAdapter(_TheirFlight(mapping, mutant)), mapping)
    r = conform(adapter=adapter, design=TRAVEL, participant="flight", examples=20, seed=1,
                all_bugs=False, shrink=False)
    assert r.final.failures == failures, [f.message for f in r.failures.values()]
    if mutant is None:  # the knob values crossed the mapping and were judged
        assert {c.name: c.status for c in r.final.checks}["world"] == "passed"


@pytest.mark.timeout(120)
def test_a_mapping_given_with_the_interpreter_is_applied_not_ignored(conform, tmp_path):
    file = tmp_path / "flight.toml"
    file.write_text(FLIGHT_MAPPING, encoding="utf-8")
    # The reference speaks the spec's own vocabulary: translated to another, it cannot
    # understand the suite's events, which the run must say.
    r = conform(design=TRAVEL, participant="flight", mapping=str(file), examples=5, seed=1,
                all_bugs=False, shrink=False)
    assert r.final.failures, "the mapping was not applied"
