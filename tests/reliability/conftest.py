"""Fixtures of the reliability tests: the shared brokers' URLs (read-only: these tests
never stop them) and throwaway servers of their own (see ``throwaway``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

# One definition of where the shared brokers are: the broker tests' own module.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "brokers"))

from brokerenv import PG_URL, URLS, require  # noqa: E402


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
