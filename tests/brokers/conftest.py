"""Fixtures of the broker tests (see ``brokerenv`` for the URLs and the up-check)."""

from __future__ import annotations

import asyncio
import socket

import pytest
import sagaspec.adapters.broker as _broker
from brokerenv import _VARS, BROKERS, PG_URL, URLS, WORKER, namespace, require
from sagaspec.examples.cluster import Cluster

# spawn= runs the reference services, as under the sagaspec command line.
_broker.register_launcher(Cluster)

# Every namespace minted in this worker, by the tests and by the library's own defaults
# (an adapter that spawns services, the fault runner), carries the worker's tag. Done at
# import, before the test modules bind ``new_namespace``, so no name escapes it.
_broker.new_namespace = namespace


@pytest.fixture(autouse=True, scope="session")
def _namespaces_are_per_worker():
    """Fail loudly if the per-worker namespaces were not installed."""
    from sagaspec.adapters.broker import BrokerAdapter

    adapter = BrokerAdapter(URLS["nats"], spawn="all")  # names only: nothing is started
    assert adapter.config.namespace.startswith(f"c_{WORKER}_"), adapter.config.namespace


@pytest.fixture(params=BROKERS)
def broker(request) -> str:
    """Each broker's URL in turn (the test fails if that broker is down)."""
    return require(URLS[request.param], _VARS[request.param])


@pytest.fixture
def nats_url() -> str:
    return require(URLS["nats"], "NATS_URL")


@pytest.fixture
def pg_url() -> str:
    return require(PG_URL, "PG_URL")


@pytest.fixture
def run():
    """Run coroutines on one event loop per test, closed at the end."""
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_nats(tmp_path):
    """A throwaway nats-server -js on a free loopback port (never the shared one)."""
    from sagaspec.examples.nemesis import ThrowawayServer

    server = ThrowawayServer("nats", tmp_path / "nats").start()
    try:
        yield server.url
    finally:
        server.stop()
