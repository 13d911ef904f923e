"""Fixtures of the reliability tests (see ``relenv`` for the shared servers)."""

from __future__ import annotations

import asyncio

import pytest
from relenv import PG_URL, URLS, require


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
