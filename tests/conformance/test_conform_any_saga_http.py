"""The hypothesis suite on a saga spec over HTTP: `sagaspec serve --spec FILE` in a
subprocess on a free loopback port, reached by the HTTP adapter, which learns from the
server's ``/health`` that its world is the spec's knob values and that it starts sagas
through ``POST /sagas``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sagaspec.adapters.base import KNOBS, World
from sagaspec.adapters.http import HttpAdapter

SAGAS = Path(__file__).resolve().parents[2] / "examples" / "sagas"
TRAVEL, TRAVEL_BUGGY = str(SAGAS / "travel.saga.yaml"), str(SAGAS / "travel-buggy.saga.yaml")


class Served:
    """``sagaspec serve --port 0 ARGS...`` until :meth:`stop`."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)
        if not line or "listening on" not in line[0]:
            err = self.stop()
            raise RuntimeError(f"sagaspec serve did not start: {line} {err}")
        self.url = line[0].split("listening on", 1)[1].strip()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


@pytest.fixture
def serve():
    started: list[Served] = []

    def go(*args: str) -> Served:
        started.append(Served(*args))
        return started[-1]

    yield go
    for s in started:
        s.stop()


def test_the_adapter_learns_a_spec_interpreters_world_and_start_from_the_server(serve):
    served = serve("--spec", TRAVEL)
    a = HttpAdapter(served.url, participant="system")
    assert {KNOBS, "start_saga", "setup"} <= a.capabilities and a.world_knobs
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(a.start())
        # The knob world the interpreter accepts (the per-key one it refuses: 'stock').
        loop.run_until_complete(a.setup(World(knobs={"saga-1": {"flight": "unavailable"}})))
        loop.run_until_complete(a.start_saga({
            "sagaId": "saga-1", "tripId": "trip-1", "travellerId": "ann", "departure": "2026-01-02",
            "return": "2026-01-09", "amount": "10.00", "currency": "EUR"}))
        types = [e["eventType"] for e in loop.run_until_complete(a.collect(2.0))]
        loop.run_until_complete(a.close())
    finally:
        loop.close()
    assert types[0] == "TripRequested" and "FlightBookingFailed" in types
    assert "FlightBooked" not in types and "TripCancelled" in types


@pytest.mark.timeout(180)
@pytest.mark.parametrize("participant", ["system", "flight"])
def test_the_served_interpreter_passes_its_spec_with_its_world_judged(serve, conform, participant):
    served = serve("--spec", TRAVEL, "--participant", participant)
    r = conform(adapter=served.url, design=TRAVEL, participant=participant, examples=12, seed=2)
    assert r.final.failures == [], [f.message for f in r.failures.values()]
    status = {c.name: c.status for c in r.final.checks}
    assert status["world"] == "passed" and status["model"] == "passed"


@pytest.mark.timeout(180)
def test_a_served_buggy_spec_fails_with_its_named_property(serve, conform):
    served = serve("--spec", TRAVEL_BUGGY, "--participant", "hotel")
    # shrink=False: the property named is the point; shrinking over HTTP was most of the cost.
    r = conform(adapter=served.url, design=TRAVEL_BUGGY, participant="hotel", examples=30, seed=3,
                all_bugs=False, shrink=False)
    assert "no-booking-left" in r.final.failures, [f.message for f in r.failures.values()]


@pytest.mark.timeout(180)
def test_a_served_mutant_is_caught(serve, conform):
    served = serve("--spec", TRAVEL, "--mutant", "skip-compensation-2", "--participant", "hotel")
    r = conform(adapter=served.url, design=TRAVEL, participant="hotel", examples=30, seed=3,
                all_bugs=False, shrink=False)
    # The cancelled booking is never given back: the model still requires HotelCancelled.
    assert r.final.failures == ["model"], [f.message for f in r.failures.values()]
    assert "HotelCancelled" in r.failures["model"].message


# -- shared variables' starting values (a stock level) -----------------------------------------
SHOP = str(SAGAS / "shop.saga.yaml")


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("mutant", "failures"), [(None, []), ("forget-update-10", ["stock"])])
def test_a_served_shop_has_its_stock_set_up_and_judged(serve, conform, mutant, failures):
    served = serve("--spec", SHOP, "--participant", "inventory", *(["--mutant", mutant] if mutant else []))
    r = conform(adapter=served.url, design=SHOP, participant="inventory", examples=40, seed=3,
                all_bugs=False, shrink=False)
    assert r.final.failures == failures, [f.message for f in r.failures.values()]
    if mutant is None:
        assert {c.name: c.status for c in r.final.checks}["stock"] == "passed"
    else:  # a release that gives nothing back: a later order finds no stock it should find
        assert "shared variables are" in r.failures["stock"].message


def test_a_shared_value_outside_the_specs_domain_is_refused_in_one_line(serve):
    from urllib.parse import urlsplit

    import httpx
    from sagaspec.adapters.http import read_token

    served = serve("--spec", SHOP)
    auth = {"Authorization": f"Bearer {read_token(urlsplit(served.url).port)}"}
    with httpx.Client(headers=auth) as client:
        for shared, message in [({"inventory.free": 7}, "inventory.free is 7; expected an integer from 0 to 6"),
                                ({"inventory.stock": 1}, "unknown shared variable 'inventory.stock'"),
                                ({"inventory.free": True}, "inventory.free is True")]:
            r = client.post(served.url + "/world", json={"sagas": {}, "shared": shared})
            assert r.status_code == 400 and message in r.json()["error"], r.text
        assert client.post(served.url + "/world", json={"shared": {"inventory.free": 6}}).status_code == 204
