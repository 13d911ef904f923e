"""Fixtures of the broker tests (see ``brokerenv`` for the URLs and the up-check)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from brokerenv import _VARS, BROKERS, PG_URL, URLS, require


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
