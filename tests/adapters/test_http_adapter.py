"""The HTTP adapter against `sagaspec serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings

import httpx
import pytest
from click.testing import CliRunner
from sagaspec.adapters import RawMessage, World, load_adapter
from sagaspec.adapters.http import HttpAdapter
from sagaspec.examples.samples import sample_created, sample_order
from sagaspec.spec.cloudevents import STRUCTURED_CONTENT_TYPE, to_binary, to_cloudevent
from sagaspec.spec.events import parse_event

from sagaspec.cli import main
from sagaspec.errors import AdapterError

pytestmark = pytest.mark.timeout(60)

WORLD = World(stock={"sku-1": 3}, declined_users=frozenset({"mallory"}))
SAGA = ["OrderCreated", "PaymentProcessed", "InventoryReserved", "OrderCompleted", "NotificationSent"]


def types(items):
    return [i["eventType"] if isinstance(i, dict) else f"raw:{i.reason}" for i in items]


def test_the_whole_system_over_http(served_system, run):
    a = load_adapter(served_system.url, participant="system")
    run(a.start())
    # The order services start sagas by POST /sagas (start_saga) and by POST /orders.
    assert a.capabilities == {"start_saga", "place_order", "setup", "crash", "reset", "deliver_raw"}
    assert a.synchronous and not a.world_knobs  # a per-key world, not a spec's knobs
    run(a.reset())
    run(a.setup(WORLD))
    run(a.place_order(sample_order(1)))
    out = run(a.collect(2.0))
    assert types(out) == SAGA
    for e in out:
        parse_event(e)
    run(a.deliver(out[1]))  # duplicate PaymentProcessed
    run(a.deliver_raw(b"\xffgarbage"))
    run(a.deliver({"eventType": "OrderCreated", "eventId": "x"}))  # schema-invalid
    assert run(a.collect(2.0)) == []
    run(a.start_saga(sample_order(2, user="mallory")))
    assert types(run(a.collect(2.0))) == ["OrderCreated", "PaymentFailed", "InventoryReserved",
                                          "OrderCancelled", "InventoryReleased"]
    run(a.close())


def test_crash_over_http_is_invisible_for_the_reference(served_system, run):
    a = HttpAdapter(served_system.url, participant="system")
    run(a.reset())
    run(a.setup(WORLD))
    run(a.crash("payment"))
    run(a.place_order(sample_order(1)))
    assert sorted(types(run(a.collect(2.0)))) == sorted(SAGA)  # redelivery may reorder
    with pytest.raises(AdapterError, match="HTTP 404.*cannot crash 'bank'"):
        run(a.crash("bank"))
    run(a.close())


def test_webhook_mode_receives_the_same_events(served_system, run):
    a = load_adapter(served_system.url + "?collect=webhook", participant="system")
    run(a.start())
    run(a.reset())
    run(a.setup(WORLD))
    other = load_adapter(served_system.url + "?collect=webhook", participant="system")
    run(other.start())
    run(a.place_order(sample_order(1)))
    assert types(run(a.collect(2.0))) == SAGA
    run(a.close())  # unsubscribes itself only
    run(other.place_order(sample_order(3)))
    # it saw saga 1 too (subscribed before), and still gets saga 3 after a left
    assert types(run(other.collect(2.0))) == SAGA + SAGA
    run(other.close())
    # after close the subscription is gone: a plain poller still sees the events
    b = HttpAdapter(served_system.url)
    run(b.reset())
    run(b.setup(WORLD))
    run(b.place_order(sample_order(2)))
    assert types(run(b.collect(2.0))) == SAGA
    run(b.close())


def test_cloudevents_structured_and_binary_delivery(served_system, run):
    a = HttpAdapter(served_system.url)
    run(a.reset())
    run(a.start())
    from urllib.parse import urlsplit

    from sagaspec.examples.httpserver import read_token

    token = read_token(urlsplit(served_system.url).port)  # what `sagaspec serve` saved
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.post(served_system.url + "/world", json=WORLD.to_json())
        assert r.status_code == 204
        ce = to_cloudevent(sample_created(7))
        r = client.post(served_system.url + "/events", json=ce,
                        headers={"Content-Type": STRUCTURED_CONTENT_TYPE})
        assert r.status_code == 202
        headers, body = to_binary(sample_created(8))
        r = client.post(served_system.url + "/events", content=body, headers=headers)
        assert r.status_code == 202
    # Payment and Inventory react; Order never placed sagas 7/8, so it decides nothing.
    out = run(a.collect(2.0))
    assert sorted((e["sagaId"], e["eventType"]) for e in out) == [
        ("saga-7", "InventoryReserved"), ("saga-7", "PaymentProcessed"),
        ("saga-8", "InventoryReserved"), ("saga-8", "PaymentProcessed")]
    run(a.close())


@pytest.mark.parametrize("fmt", ["structured", "binary"])
def test_the_adapter_can_deliver_cloudevents(served_system, run, fmt):
    a = load_adapter(f"{served_system.url}?format={fmt}&collect=webhook")
    run(a.reset())
    run(a.setup(WORLD))
    run(a.deliver(sample_created(1)))
    run(a.deliver({"eventType": "OrderCreated"}))  # invalid: sent plain, dead-lettered
    assert sorted(types(run(a.collect(2.0)))) == ["InventoryReserved", "PaymentProcessed"]
    run(a.close())


def test_one_participant_and_a_crashing_mutant_over_http(run, serve_process):
    served = serve_process("--participant", "inventory", "--mutant", "malformed-input-crashes-consumer")
    try:
        a = load_adapter(served.url, participant="inventory")
        run(a.start())
        assert "place_order" not in a.capabilities
        run(a.setup(WORLD))
        run(a.deliver(sample_created(1)))
        assert types(run(a.collect(2.0))) == ["InventoryReserved"]
        run(a.deliver_raw(b"{not json"))
        out = run(a.collect(2.0))
        assert len(out) == 1 and isinstance(out[0], RawMessage)
        assert out[0].source == "inventory" and out[0].reason.startswith("consumer crashed: JSONDecodeError")
        assert out[0].payload == b"{not json"
        with pytest.raises(AdapterError, match="serves 'inventory', not 'payment'"):
            run(load_adapter(served.url, participant="payment").start())
        run(a.close())
    finally:
        served.stop()


def test_a_start_that_fails_leaves_no_connection_open(served_system):
    """start() refusing the service (here: it serves another participant) closes what it
    opened; the caller has no adapter to close. Before, the client's keep-alive socket
    was left to the garbage collector (ResourceWarning: unclosed transport)."""
    loop = asyncio.new_event_loop()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        for mode in ("poll", "webhook"):
            with pytest.raises(AdapterError, match="serves 'system', not 'payment'"):
                adapter = load_adapter(f"{served_system.url}?collect={mode}", participant="payment")
                loop.run_until_complete(adapter.start())
            del adapter
        loop.close()  # drops the loop's own references to any transport still open
        gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_unreachable_server_is_one_line_error_naming_the_url(run, unused_port):
    url = f"http://127.0.0.1:{unused_port}"
    a = load_adapter(url)
    t0 = time.monotonic()
    with pytest.raises(AdapterError) as info:
        run(a.start())
    assert time.monotonic() - t0 < 5
    assert url in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(AdapterError, match="cannot reach the service at"):
        _ = a.capabilities


@pytest.mark.parametrize("spec, message", [
    ("http://", "invalid HTTP adapter URL"),
    ("http://127.0.0.1:99999", "invalid port"),
    ("http://127.0.0.1:8080?collect=carrier-pigeon", "invalid collect mode"),
    ("http://127.0.0.1:8080?quiet=soon", "invalid quiet='soon'"),
    ("http://127.0.0.1:8080?flavour=1", "unknown option(s) flavour"),
])
def test_bad_http_adapter_strings(spec, message):
    with pytest.raises(AdapterError) as info:
        load_adapter(spec)
    assert message in str(info.value)


@pytest.mark.parametrize("args, message", [
    (["--mutant", "nope"], "error: unknown mutant 'nope'"),
    (["--host", "0.0.0.0"], "error: refusing to listen on '0.0.0.0'"),
    (["--store", "postgres:x"], "error: invalid --store 'postgres:x'"),
    (["--world", "/nonexistent/world.json"], "error: /nonexistent/world.json: cannot read the world file"),
])
def test_serve_rejects_bad_options_in_one_line(args, message):
    result = CliRunner().invoke(main, ["serve", "--port", "0", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_serve_lists_mutants():
    result = CliRunner().invoke(main, ["serve", "--list-mutants"])
    assert result.exit_code == 0
    assert "no-idempotency" in result.output and "wrong-sagaId-propagated" in result.output


def test_sqlite_store_survives_a_server_restart_and_reset_forgets(run, serve_process, tmp_path):
    store = f"sqlite:{tmp_path}"
    first = serve_process("--store", store, "--world", str(_world_file(tmp_path)))
    try:
        a = HttpAdapter(first.url)
        run(a.place_order(sample_order(1)))
        assert types(run(a.collect(2.0))) == SAGA
        run(a.close())
    finally:
        first.stop()
    second = serve_process("--store", store)
    try:
        b = HttpAdapter(second.url)
        run(b.place_order(sample_order(1)))  # the durable Order store knows this saga
        assert run(b.collect(2.0)) == []
        run(b.reset())  # ...until reset wipes the files
        run(b.setup(WORLD))
        run(b.place_order(sample_order(1)))
        assert types(run(b.collect(2.0))) == SAGA
        run(b.close())
    finally:
        second.stop()


def _world_file(tmp_path):
    path = tmp_path / "world.json"
    path.write_text('{"stock": {"sku-1": 3}}')
    return path


def test_a_server_that_never_started_closes_at_once():
    from sagaspec.examples.httpserver import SagaHTTPServer
    from sagaspec.examples.system import make_target

    SagaHTTPServer(make_target("payment"), port=0).close()  # used to wait forever


def test_an_adapter_built_before_its_server_started_finds_the_token(unused_port, run, tmp_path,
                                                                     monkeypatch):
    # `sagaspec serve &` then `sagaspec conform` at once: the adapter is built while the
    # server is still starting; it used to read no token then and get HTTP 401 on /reset.
    from sagaspec.examples.httpserver import SagaHTTPServer, token_path
    from sagaspec.examples.system import make_target

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("SAGASPEC_SERVE_TOKEN", raising=False)
    a = HttpAdapter(f"http://127.0.0.1:{unused_port}", participant="system")
    server = SagaHTTPServer(make_target("system"), port=unused_port).start()
    try:
        assert token_path(unused_port).read_text() == server.token
        run(a.reset())  # a POST: needs the token
        run(a.setup(WORLD))
        run(a.close())
    finally:
        server.close()


def test_the_token_is_saved_before_the_server_accepts_a_connection(tmp_path, monkeypatch):
    # A client that can connect must find the token file: it is written before listen().
    import socket

    from sagaspec.examples import httpserver
    from sagaspec.examples.system import make_target

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    seen = []
    real = httpserver.SagaHTTPServer._save_token

    def save_and_probe(self):
        real(self)
        with socket.socket() as probe:  # nothing may accept yet
            seen.append(probe.connect_ex(("127.0.0.1", self.port)))
    monkeypatch.setattr(httpserver.SagaHTTPServer, "_save_token", save_and_probe)
    server = httpserver.SagaHTTPServer(make_target("system"), port=0)
    try:
        assert seen and seen[0] != 0, "the socket listened before the token was saved"
        assert httpserver.token_path(server.port).read_text() == server.token
    finally:
        server.close()


@pytest.mark.timeout(120)
def test_bench_adapters_short_form_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "bench" / "bench_adapters.py"
    done = subprocess.run([sys.executable, str(script), "--short", "--n", "30"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    for label in ("payment: deliver OrderCreated + collect", "bare round trip: GET /health",
                  "payment, webhook mode", "in-process / HTTP, payment deliveries"):
        assert label in done.stdout


def test_a_refused_valid_event_of_any_saga_is_reported():
    """A 4xx to a valid event is reported, judged by the saga's own schemas (a travel
    event is not an order-saga event, and was taken for an invalid one)."""
    from pathlib import Path

    from sagaspec.spec.sagafile import resolve_spec
    from sagaspec.spec.schemas import validate_event

    travel = str(Path(__file__).resolve().parents[2] / "examples" / "sagas" / "travel.saga.yaml")
    event = {"eventId": "e1", "eventType": "FlightBookingFailed", "schemaVersion": 1, "sagaId": "s",
             "timestamp": "2026-01-01T00:00:00Z", "tripId": "t", "reason": "full"}
    assert validate_event(event, spec=resolve_spec(travel)) == []
    refused = httpx.Response(400, text="nope")
    a = load_adapter("http://127.0.0.1:9", design=travel)  # as conform --design passes it
    a._check_delivery(refused, event)
    assert [r.reason for r in a._reports] == ["rejected a valid event: HTTP 400: nope"]
    invalid = HttpAdapter("http://127.0.0.1:9", design=travel)
    invalid._check_delivery(refused, {**event, "tripId": ""})  # refusing an invalid one is fine
    assert invalid._reports == []


def test_webhook_collect_waits_for_deliveries_a_synchronous_service_sent_late(run):
    """A synchronous service whose webhook delivery outlasted its own timeout (as on a
    loaded machine) answers before the events arrive; the collect counts what the
    service's log holds and waits for that many instead of returning early."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    events = [sample_created(n) for n in (1, 2)]
    hooks: list[str] = []
    log: list[dict] = []

    class Late(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if self.path == "/health":
                return self._reply(200, {"capabilities": ["place_order", "webhook"], "synchronous": True})
            after = int(self.path.partition("after=")[2].partition("&")[0] or 0)
            return self._reply(200, {"events": log[after:], "cursor": str(len(log))})

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/subscriptions":
                hooks.append(body["url"])
                return self._reply(201, {})
            log.extend(events)  # /orders: published now, pushed 0.3 s after the answer

            def push() -> None:
                time.sleep(0.3)
                for event in events:
                    httpx.post(hooks[0], json=event)

            threading.Thread(target=push, daemon=True).start()
            return self._reply(202, {})

        def do_DELETE(self) -> None:  # noqa: N802 - http.server API
            self._reply(204, {})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Late)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        a = load_adapter(f"http://127.0.0.1:{server.server_address[1]}?collect=webhook")
        run(a.start())
        run(a.place_order(sample_order(1)))
        assert [e["eventId"] for e in run(a.collect(5.0))] == [e["eventId"] for e in events]
        run(a.close())
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_that_starts_listening_a_moment_later_is_waited_for(run, unused_port):
    """`sagaspec serve ... &` followed at once by `conform`: the service may not listen
    yet when the adapter starts; a refused connection is retried for a few seconds."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            data = json.dumps({"capabilities": [], "synchronous": True}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    servers = []

    def listen_later() -> None:
        time.sleep(0.8)
        server = ThreadingHTTPServer(("127.0.0.1", unused_port), Health)
        servers.append(server)
        server.serve_forever(0.05)  # shutdown() below returns within 0.05 s, not 0.5 s

    threading.Thread(target=listen_later, daemon=True).start()
    a = load_adapter(f"http://127.0.0.1:{unused_port}")
    try:
        run(a.start())
        assert a.synchronous
    finally:
        run(a.close())
        time.sleep(0.1)
        for server in servers:
            server.shutdown()
            server.server_close()
