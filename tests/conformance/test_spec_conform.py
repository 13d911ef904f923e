"""conform --spec: any spec's services, in-process and behind sagaspec serve --spec."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from sagaspec.conformance import spec_conform
from sagaspec.conformance.spec_conform import spec_service_factory
from sagaspec.examples.httpserver import SagaHTTPServer
from sagaspec.examples.spec_target import SpecTarget
from sagaspec.spec.sagafile import resolve_spec

from sagaspec.cli import main

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
TRAVEL = str(SAGAS / "travel.saga.yaml")
SHOP = str(SAGAS / "shop.saga.yaml")


def _conform(*args: str):
    return CliRunner().invoke(main, ["conform", *args])


def _totals(output: str) -> str:
    """The run's counts: 'N cases, D deliveries, E events' (the cases it made)."""
    m = re.search(r"^((\d+) (cases?), \d+ deliveries, \d+ events)", output, re.M)
    assert m.group(3) == ("case" if m.group(2) == "1" else "cases"), m.group(1)
    return m.group(1)


@pytest.fixture
def served():
    """``sagaspec serve --spec FILE --port 0`` as a process; its URL; stopped after."""
    procs = []

    def start(spec: str, *extra: str) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "serve", "--spec", spec, "--port", "0", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        first = proc.stdout.readline()
        url = re.search(r"listening on (http://\S+)", first)
        assert url, first + proc.stderr.read()
        proc.stdout.readline()  # the token line (the adapter reads the saved token)
        return url.group(1)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("spec", [TRAVEL, SHOP], ids=["travel", "shop"])
def test_example_specs_pass_in_process_and_over_http_with_the_same_cases(spec, served):
    here = _conform("--spec", spec, "--adapter", "inprocess", "--participant", "system", "-n", "12", "--seed", "3")
    assert here.exit_code == 0, here.output
    assert "PASSED: inprocess as system" in here.output
    url = served(spec)
    there = _conform("--spec", spec, "--adapter", url, "--participant", "system", "-n", "12", "--seed", "3")
    assert there.exit_code == 0, there.output
    assert f"PASSED: {url} as system" in there.output
    # Generation does not depend on the adapter: the same deliveries, the same events.
    assert _totals(here.output) == _totals(there.output)
    assert int(re.search(r"(\d+) deliveries", here.output).group(1)) > 50


def test_a_served_mutant_fails_with_the_failure_named_and_reproduces_in_process():
    spec = resolve_spec(TRAVEL)
    target = SpecTarget(spec_service_factory(spec, "skip-compensation-1"))
    server = SagaHTTPServer(target, port=0, participant="system", token=None).start()
    try:
        r = _conform("--spec", TRAVEL, "--adapter", server.url, "--participant", "system", "-n", "30", "--seed", "1")
    finally:
        server.close()
    assert r.exit_code == 1, r.output
    failure = re.search(r"^FAILED model: case (\d+) .*: (flight on TripCancelled .*)$", r.output, re.M)
    assert failure, r.output
    assert "the spec allows [FlightCancelled]" in failure.group(2)
    line = re.search(r"^Reproduce with: (.*)$", r.output, re.M).group(1)
    assert f"--seed 1 --case {failure.group(1)}" in line
    # The same case on the in-process mutant: the same failure.
    again = _conform(*line.split()[2:], "--adapter", "inprocess", "--mutant", "skip-compensation-1")
    assert again.exit_code == 1, again.output
    assert failure.group(2).split(" of saga ")[0] in again.output


def test_a_case_that_never_gets_quiet_is_incomplete_not_passed(monkeypatch):
    monkeypatch.setattr(spec_conform, "MAX_STEPS", 2)
    r = _conform("--spec", TRAVEL, "--adapter", "inprocess", "-n", "3", "--seed", "0")
    assert r.exit_code == 3, r.output
    assert "INCOMPLETE" in r.output and "PASSED" not in r.output


def test_the_summary_counts_agree_with_their_nouns():
    """'1 case' and '3 cases', '1 saga', '1 distinct failure' and 'N distinct failures'."""
    one = _conform("--spec", SHOP, "--adapter", "inprocess", "-n", "1", "--seed", "1")
    assert one.exit_code == 0, one.output
    assert ", 1 case, seed 1, " in one.output.splitlines()[0], one.output
    assert re.search(r"^1 case, \d+ deliveries, ", one.output, re.M), one.output
    three = _conform("--spec", SHOP, "--adapter", "inprocess", "-n", "3", "--seed", "1")
    assert three.exit_code == 0, three.output
    assert ", 3 cases, seed 1, " in three.output.splitlines()[0], three.output
    assert re.search(r"^3 cases, \d+ deliveries, ", three.output, re.M), three.output
    first = _conform("--spec", TRAVEL, "--adapter", "inprocess", "--mutant", "skip-compensation-1",
                     "-n", "30", "--seed", "1", "-x")
    assert first.exit_code == 1, first.output
    assert re.search(r"^FAILED model: case \d+ \(shrunk to 1 saga, faults: ", first.output, re.M), first.output
    assert first.output.splitlines()[-1].endswith(" of the travel spec, mutant skip-compensation-1: "
                                                  "1 distinct failure"), first.output
    for output in (one.output, three.output, first.output):
        assert "(s)" not in output


def test_the_world_is_set_through_the_contract_as_knob_values():
    spec = resolve_spec(TRAVEL)
    target = SpecTarget(spec_service_factory(spec))
    server = SagaHTTPServer(target, port=0, participant="system", token=None).start()
    try:
        import httpx

        ok = httpx.post(server.url + "/world", json={"sagas": {"t1": {"flight": "unavailable"}}})
        bad = httpx.post(server.url + "/world", json={"flight": "maybe"})
        started = httpx.post(server.url + "/sagas", json={"sagaId": "t1"})
        published = httpx.get(server.url + "/published").json()["events"]
    finally:
        server.close()
    assert ok.status_code == 204
    assert bad.status_code == 400 and "flight is 'maybe'; expected one of available, unavailable" in bad.text
    assert started.status_code == 202
    # A real system: the trigger's event went round the in-memory bus, under that world.
    types = [e["eventType"] for e in published]
    assert types[0] == "TripRequested" and "FlightBookingFailed" in types and "TripCancelled" in types


def test_serve_spec_refuses_a_bad_world_file_and_an_unknown_participant(tmp_path):
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"weather": "sunny"}))
    r = CliRunner().invoke(main, ["serve", "--spec", TRAVEL, "--world", str(world), "--port", "0"])
    assert r.exit_code == 2 and "unknown knob 'weather'; the spec declares flight, hotel, car, payment" in r.output
    r = CliRunner().invoke(main, ["serve", "--spec", TRAVEL, "--participant", "payment2", "--port", "0"])
    assert r.exit_code == 2 and "travel has trip, flight, hotel, car, payment (or system)" in r.output
    r = CliRunner().invoke(main, ["serve", "--participant", "payment2", "--port", "0"])
    assert r.exit_code == 2 and "'payment2' is not one of 'system', 'order'" in r.output
    assert "Traceback" not in r.output


def test_one_participant_served_alone_the_suite_runs_the_others():
    spec = resolve_spec(TRAVEL)
    here = _conform("--spec", TRAVEL, "--adapter", "inprocess", "-n", "10", "--seed", "2")
    good = SagaHTTPServer(SpecTarget(spec_service_factory(spec), "payment"), port=0, participant="payment",
                          token=None).start()
    bad = SagaHTTPServer(SpecTarget(spec_service_factory(spec, "skip-compensation-1"), "flight"), port=0,
                         participant="flight", token=None).start()
    try:
        passed = _conform("--spec", TRAVEL, "--adapter", good.url, "--participant", "payment", "-n", "10", "--seed", "2")
        wrong = _conform("--spec", TRAVEL, "--adapter", good.url, "--participant", "flight", "-n", "1")
        failed = _conform("--spec", TRAVEL, "--adapter", bad.url, "--participant", "flight", "-n", "30", "--seed", "1")
    finally:
        good.close()
        bad.close()
    assert passed.exit_code == 0 and "PASSED" in passed.output, passed.output
    assert _totals(passed.output) == _totals(here.output)
    assert wrong.exit_code == 2 and "serves 'payment', not 'flight'" in wrong.output
    assert failed.exit_code == 1 and "FAILED model:" in failed.output, failed.output
    assert re.search(r"flight on TripCancelled .*the spec allows \[FlightCancelled\]", failed.output)


def test_a_refused_service_leaves_no_connection_open():
    """The adapter refusing a service (it serves another participant) closes its HTTP
    client: the caller gets no adapter to close (was: ResourceWarning: unclosed socket)."""
    from sagaspec.adapters.spec_http import SpecHttpAdapter

    from sagaspec.errors import AdapterError

    spec = resolve_spec(TRAVEL)
    served = SagaHTTPServer(SpecTarget(spec_service_factory(spec), "payment"), port=0,
                            participant="payment", token=None).start()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(AdapterError, match="serves 'payment', not 'flight'"):
                SpecHttpAdapter(served.url, participant="flight")
            gc.collect()
    finally:
        served.close()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_collecting_stops_once_no_allowed_output_can_grow():
    done = spec_conform._done({(), ("A",)})
    assert not done([])  # A may still come
    assert done([{"eventId": "1", "eventType": "A"}])
    assert done([{"eventId": "1", "eventType": "B"}])  # nothing allowed holds B: wait no more
    two = spec_conform._done({("A", "B")})
    assert not two([{"eventId": "1", "eventType": "B"}])
    # The same event sent twice (a crash after publishing) counts once.
    assert not two([{"eventId": "1", "eventType": "A"}, {"eventId": "1", "eventType": "A"}])
    assert spec_conform._done({()})([])


def test_an_interrupted_run_exits_3_with_its_partial_result(monkeypatch):
    real, calls = spec_conform.run_case, []

    def interrupted(*args, **kwargs):
        steering = kwargs.get("steering")
        if steering is not None and not steering.frozen:  # steering's memory learning a case
            return real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(spec_conform, "run_case", interrupted)
    r = _conform("--spec", TRAVEL, "-n", "10", "--seed", "0")
    assert r.exit_code == 3, r.output
    assert "INTERRUPTED: partial result: 2 of 10 cases passed" in r.output and "PASSED:" not in r.output


def test_webhooks_of_a_served_spec_get_its_events_as_cloudevents():
    from sagaspec.adapters.http import WebhookReceiver

    types = []

    class Receiver(WebhookReceiver):
        def _accept(self, body, headers):
            types.append((headers.get("Content-Type"), json.loads(body)))

    spec = resolve_spec(TRAVEL)
    hook = Receiver()
    server = SagaHTTPServer(SpecTarget(spec_service_factory(spec)), port=0, token=None,
                            webhooks=(hook.url,)).start()
    try:
        import httpx

        assert httpx.post(server.url + "/sagas", json={"sagaId": "t1"}).status_code == 202
    finally:
        server.close()
        hook.close()
    # Structured CloudEvents of the spec, not the plain-JSON fallback for an unknown event.
    assert types and {ctype for ctype, _ in types} == {"application/cloudevents+json"}
    first = types[0][1]
    assert first["specversion"] == "1.0" and first["id"] and "TripRequested" in first["type"]


def test_an_asynchronous_service_is_polled_until_the_model_expects_nothing_more(monkeypatch):
    spec = resolve_spec(TRAVEL)
    here = _conform("--spec", TRAVEL, "--adapter", "inprocess", "-n", "4", "--seed", "5")
    server = SagaHTTPServer(SpecTarget(spec_service_factory(spec)), port=0, token=None).start()
    health = server.health
    monkeypatch.setattr(server, "health", lambda: {**health(), "synchronous": False})
    polls = []
    real = server._published
    monkeypatch.setattr(server, "_published", lambda query: polls.append(query) or real(query))
    try:
        r = _conform("--spec", TRAVEL, "--adapter", server.url, "-n", "4", "--seed", "5")
    finally:
        server.close()
    assert r.exit_code == 0, r.output
    assert _totals(r.output) == _totals(here.output)
    # Long polls (wait > 0), not one look per delivery as for a synchronous service.
    assert any(float(q.get("wait", 0)) > 0 for q in polls)


def _spec_endpoints(target):
    import httpx

    server = SagaHTTPServer(target, port=0, token=None).start()
    try:
        return (httpx.post(server.url + "/crash/payment?point=after-commit"),
                httpx.post(server.url + "/sagas", json={"sagaId": "x"}),
                httpx.post(server.url + "/events?to=payment", json={"eventType": "x"}))
    finally:
        server.close()


def test_the_hand_written_order_server_refuses_the_spec_endpoints_in_one_line():
    from sagaspec.examples.system import make_target

    point, start, to = _spec_endpoints(make_target("system", engine="hand-written"))
    assert point.status_code == 400 and "--crash-point" in point.json()["error"]
    # POST /sagas is the order services' place_order (the trigger's payload checked).
    assert start.status_code == 400 and "order: missing orderId" in start.json()["error"]
    assert to.status_code == 404 and "does not offer deliver_to" in to.json()["error"]


def test_the_order_sagas_server_offers_the_spec_endpoints_but_its_own_crash_point():
    """The order saga's reference services are the interpreter: a saga started by its
    trigger's fields, one participant handed an event (here: dead-lettered), but a crash
    lands at the point serve was started with (``--crash-point``)."""
    from sagaspec.examples.system import make_target

    point, start, to = _spec_endpoints(make_target("system"))
    assert point.status_code == 400 and "--crash-point" in point.json()["error"]
    assert start.status_code == 202 and to.status_code == 202


def test_served_on_sqlite_stores_the_spec_services_pass_the_same_cases(served, tmp_path):
    here = _conform("--spec", SHOP, "-n", "4", "--seed", "4")
    url = served(SHOP, "--store", f"sqlite:{tmp_path}")
    there = _conform("--spec", SHOP, "--adapter", url, "-n", "4", "--seed", "4")
    assert there.exit_code == 0, there.output
    assert _totals(there.output) == _totals(here.output)
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == [
        f"{p.name}.sqlite3" for p in sorted(resolve_spec(SHOP).participants, key=lambda p: p.name)]
    r = CliRunner().invoke(main, ["serve", "--spec", SHOP, "--store", f"sqlite:{tmp_path}",
                                  "--mutant", "no-idempotency-1", "--port", "0"])
    assert r.exit_code == 2 and "a mutant runs on memory stores" in r.output


class _Faulty(spec_conform.InProcessSpecAdapter):
    """The reference services, with one fault of a foreign service put on top."""

    fault = ""
    armed = ""

    def collect(self, done):
        got = super().collect(done)
        if self.fault == "not-an-object" and got:
            got.append([1, 2])
        return got

    def arm_crash(self, participant, point):
        if self.fault == "sends-before-commit":
            self.armed = participant  # "killed before the commit", yet it commits and sends
            self.point = point
            return
        super().arm_crash(participant, point)

    def deliver(self, participant, event, invalid=False):
        if self.fault == "processes-invalid" and invalid:
            return super().deliver(participant, {**event, "sagaId": "s-anything"})
        acked = super().deliver(participant, event)
        if self.armed == participant:
            self.armed = ""
            return self.point != "before-commit"
        return acked


@pytest.mark.parametrize(("fault", "check", "says"), [
    ("not-an-object", "schema", "published something that is not a JSON object: [1, 2]"),
    ("sends-before-commit", "model", "it was killed handling before its commit; the spec allows []"),
    ("processes-invalid", "negative", "(no sagaId); an invalid event must be dead-lettered, publishing nothing"),
])
def test_what_no_reference_service_does_is_flagged(fault, check, says):
    spec = resolve_spec(TRAVEL)
    adapter = _Faulty(spec)
    adapter.fault = fault
    # The first failure of each case (a fault may also show later, as another departure).
    firsts = [r.failures[0] for r in (spec_conform.run_case(spec, adapter, k, sagas=1) for k in range(100))
              if r.failures]
    assert any(f.check == check and says in f.message for f in firsts), firsts[:3]


def test_a_service_that_raises_out_of_its_handler_is_a_reported_failure_not_a_traceback():
    """trusts-input dispatches before validating: an invalid event (no sagaId) raises
    KeyError out of the handler. The run reports it as the case's failure, shrunk, with
    its Reproduce line (it used to end the run with a traceback)."""
    r = _conform("--spec", SHOP, "--adapter", "inprocess", "--mutant", "trusts-input-1", "-n", "30", "--seed", "3")
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    line = next(x for x in r.output.splitlines() if x.startswith("FAILED negative"))
    assert "raised KeyError" in line and "must be dead-lettered" in line, line
    assert "Reproduce with: sagaspec conform" in r.output and "--mutant trusts-input-1" in r.output
