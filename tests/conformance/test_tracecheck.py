"""Trace validation of recorded logs (sagaspec monitor --from-file) for any saga spec."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.conformance.mutate import Mutant, _services, mutants
from sagaspec.conformance.tracecheck import validate_log
from sagaspec.examples.interpreter import spec_services
from sagaspec.spec.sagafile import load_spec, shipped_spec

from sagaspec.cli import main

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
SPECS = ["corrected", str(SAGAS / "travel.saga.yaml"), str(SAGAS / "shop.saga.yaml")]


def _spec(ref):
    return shipped_spec(ref) if ref == "corrected" else load_spec(ref)


def record(services, sagas, rng) -> list[dict]:
    """Run services to quiet in random order, with duplicates; the bus log."""
    log, pool = [], []

    def relay(name):
        def publish(e):
            log.append(e)
            for dest, svc in services.items():
                if e["eventType"] in svc.subscribes:
                    pool.append((dest, e))

        services[name].relay(publish)

    starter = next(n for n, s in services.items() if any(r.kind == "trigger" for r in s.part.reactions))
    for s in sagas:
        services[starter].start(s)
    relay(starter)
    while pool:
        dest, e = pool.pop(rng.randrange(len(pool)))
        if rng.random() < 0.1:
            pool.append((dest, e))
        services[dest].handle(e)
        relay(dest)
    return log


@pytest.mark.parametrize("ref", SPECS, ids=lambda r: Path(r).name)
def test_logs_of_the_reference_services_follow_their_spec(ref):
    spec = _spec(ref)
    rng = random.Random(5)
    for _ in range(15):
        sagas = [f"s{i}" for i in range(rng.randint(1, 3))]
        world = {"sagas": {s: {k: rng.choice(v) for k, v in spec.world.items()} for s in sagas}}
        log = record(spec_services(spec, world=world), sagas, rng)
        report = validate_log(spec, log, at_rest=True)
        assert report.ok, report.failures[0]
        assert report.events == len({e["eventId"] for e in log}) and report.handlings > 0


def test_a_log_of_a_faulty_service_is_flagged_with_a_diagram():
    spec = shipped_spec("corrected")
    (m,) = [m for m in mutants(spec, ("skip-compensation",)) if "refund: does not publish" in m.description]
    params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
    flagged = 0
    for seed in range(20):
        rng = random.Random(seed)
        sagas = ["a", "b", "c"]
        services = _services(m, {"sagas": {s: {"payment": "approve"} for s in sagas}}, params)
        report = validate_log(spec, record(services, sagas, rng), at_rest=True)
        if not report.ok:
            flagged += 1
            assert "sequenceDiagram" in report.diagram
    assert flagged > 0
    reference = Mutant("reference", "none", "", spec)
    clean = validate_log(spec, record(_services(reference, {}, params), ["a", "b"], random.Random(1)), at_rest=True)
    assert clean.ok


def test_tampered_logs_are_flagged():
    spec = shipped_spec("corrected")
    log = record(spec_services(spec, world={"payment": "approve"}), ["a"], random.Random(2))
    assert validate_log(spec, log).ok
    charge = next(i for i, e in enumerate(log) if e["eventType"] == "PaymentProcessed")
    wrong_amount = [dict(e, amount="999.99") if i == charge else e for i, e in enumerate(log)]
    assert validate_log(spec, wrong_amount).failures[0].check == "provenance"
    reordered = [log[charge], *[e for i, e in enumerate(log) if i != charge]]
    assert "before its cause" in validate_log(spec, reordered).failures[0].message
    orphan = [dict(e, causationId="evt-nowhere") if i == charge else e for i, e in enumerate(log)]
    assert "not in the log before it" in validate_log(spec, orphan).failures[0].message
    invalid = [dict(e, amount=12) if i == charge else e for i, e in enumerate(log)]
    assert validate_log(spec, invalid).failures[0].check == "schema"
    # A second charge for one order: a handling the spec does not allow.
    twice = [*log, dict(log[charge], eventId="evt-again", paymentId="pay-2")]
    assert not validate_log(spec, twice).ok


def test_monitor_from_file_cli(tmp_path):
    spec = shipped_spec("corrected")
    log = record(spec_services(spec, world={"payment": "approve"}), ["a", "b"], random.Random(4))
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in log))
    runner = CliRunner()
    ok = runner.invoke(main, ["monitor", "--from-file", str(path), "--at-rest"])
    assert ok.exit_code == 0, ok.output
    assert "follows the spec" in ok.stdout
    bad = tmp_path / "bad.ndjson"
    charge = next(e for e in log if e["eventType"] == "PaymentProcessed")
    bad.write_text("".join(json.dumps(dict(e, amount="1.00") if e is charge else e) + "\n" for e in log))
    r = runner.invoke(main, ["monitor", "--from-file", str(bad)])
    assert r.exit_code == 1 and "VIOLATION" in r.stdout and "sequenceDiagram" in r.stdout
    both = runner.invoke(main, ["monitor", "--from-file", str(path), "--adapter", "nats://127.0.0.1:4222"])
    assert both.exit_code == 2 and "not both" in both.stderr
    none = runner.invoke(main, ["monitor"])
    assert none.exit_code == 2 and "--from-file" in none.stderr


@pytest.mark.parametrize("ref", SPECS, ids=lambda r: Path(r).name)
def test_the_live_monitor_reads_any_saga_from_its_spec(ref):
    """The live monitor on the reference services' logs of any spec: every saga settles
    (completed or cancelled, per the spec's outcome roles and at_rest properties), no
    violation, and its table and summary name the spec's own events by role."""
    from sagaspec.conformance.monitor import STATES, SagaMonitor
    from sagaspec.conformance.tracecheck import SpecMonitor

    spec = _spec(ref)
    rng = random.Random(7)
    ends: set[str] = set()
    for run in range(8):
        sagas = [f"s{i}" for i in range(rng.randint(1, 3))]
        # The first run: every knob at its first value (the happy path), then at random.
        world = {"sagas": {s: {k: v[0] if run == 0 else rng.choice(v) for k, v in spec.world.items()}
                           for s in sagas}}
        log = record(spec_services(spec, world=world), sagas, rng)
        for engine in (SagaMonitor(spec=spec, timeout=60), SpecMonitor(spec, timeout=60)):
            for t, e in enumerate(log):
                assert engine.observe(e, now=float(t)) == [], e
            assert engine.final(now=float(len(log)), at_rest=True) == []
            assert set(engine.sagas) == set(sagas) and all(v.terminal for v in engine.sagas.values())
            ends |= {v.state for v in engine.sagas.values()}
        summary = engine.summary()
        assert summary["spec"] == spec.name and sum(summary["by_role"].values()) == summary["events"]
        assert set(summary["steps"]) == {e.name for e in spec.events if e.role == "step"}
    assert ends == {"completed", "cancelled"}  # both outcomes were reached and recognised
    sections = dict(engine.overview())
    assert [s for s, _n, _note in sections["sagas"]] == list(STATES)
    assert {e for e, _n, _note in sections["events"]} == {
        e.name for e in spec.events if e.role != "compensation"}
    roles = {e.name: e.role for e in spec.events}
    notes = {e: note for e, _n, note in sections["events"]}
    # The live table as ``sagaspec monitor`` draws it: the spec's own words only.
    from rich.console import Console

    from sagaspec.cli.monitor import _table

    console = Console(record=True, width=120)
    console.print(_table(engine, "sagaspec monitor", [], 1.0))
    drawn = console.export_text()
    assert all(e in drawn for e in notes) and "completed" in drawn and "cancelled" in drawn
    if spec.name != "order-corrected":
        assert "OrderCreated" not in drawn and "PaymentProcessed" not in drawn
    assert all(notes[e] == ("cancels" if next(x for x in spec.events if x.name == e).undoes else "completes")
               for e in notes if roles[e] == "outcome")


def test_the_live_monitor_flags_a_faulty_service_of_any_saga_by_the_specs_property_names():
    """A travel service that books twice: the monitor reports the spec's own property."""
    spec = load_spec(SAGAS / "travel.saga.yaml")
    from sagaspec.conformance.monitor import SagaMonitor

    log = record(spec_services(spec, world={}), ["t1"], random.Random(3))
    booked = next(e for e in log if e["eventType"] == "FlightBooked")
    engine = SagaMonitor(spec=spec, timeout=60)
    found = [v.check for t, e in enumerate([*log, dict(booked, eventId="evt-again")])
             for v in engine.observe(e, now=float(t))]
    assert found[0] == "single-booking"  # (then confirmed-booked-and-paid, if it was confirmed)
    assert set(found) <= {p.name for p in spec.properties}
    assert engine.summary()["steps"]["FlightBooked"]["repeated"] == 1
    assert engine.sagas["t1"].count("FlightBooked") == 2


def test_monitor_from_file_names_unreadable_lines_and_missing_fields_readably(tmp_path):
    """An unreadable line is named (file:line, why), never silently dropped; an event
    without eventId or sagaId reads '(no eventId)', not '?' or a Python None; the design
    has the name `sagaspec check` gives it."""
    runner = CliRunner()
    created = {"eventType": "OrderCreated", "amount": "1.00"}
    log = tmp_path / "log.ndjson"
    log.write_text(json.dumps(dict(created, sagaId="s1", eventId="e1")) + "\n"
                   + json.dumps(dict(created, sagaId="s2", eventId="e2")) + "\nnot json\n")
    r = runner.invoke(main, ["monitor", "--from-file", str(log)])
    assert r.exit_code == 2 and r.stdout == "", r.output
    assert r.stderr.strip().splitlines() == [f"error: {log}:3:1: unreadable line: invalid JSON: Expecting value (column 1)"]
    assert "Traceback" not in r.output
    one = tmp_path / "one.ndjson"
    one.write_text(json.dumps(created) + "\n")
    r = runner.invoke(main, ["monitor", "--from-file", str(one)])
    assert r.exit_code == 1, r.output
    assert "checked against order-saga/corrected: VIOLATION" in r.stdout
    assert ("schema: an event (no eventId) is not a valid OrderCreated: "
            '/eventId: missing required field "eventId"') in r.stdout
    assert "order->>payment: OrderCreated (no sagaId)" in r.stdout
    assert "None" not in r.stdout and " ? " not in r.stdout
