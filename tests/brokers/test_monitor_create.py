"""``sagaspec monitor ?create=1`` (which its own error suggests) declares a missing stream
instead of being silently ignored."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from brokerenv import URLS, require
from sagaspec.adapters.broker import new_namespace

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]


def _monitor(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sagaspec", "monitor", "--adapter", url, "--duration", "0.5", "--no-table"],
        capture_output=True, text=True, timeout=90,
    )


async def _streams(url: str) -> list[str]:
    import nats

    nc = await nats.connect(url)
    try:
        return [s.config.name for s in await nc.jetstream().streams_info()]
    finally:
        await nc.close()


async def _delete(url: str, name: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


def test_monitor_create_declares_the_missing_stream():
    url = require(URLS["nats"], "NATS_URL")
    ns = new_namespace("mc")
    missing = _monitor(f"{url}?ns={ns}")
    assert missing.returncode == 2, missing.stderr
    (line,) = [x for x in missing.stderr.splitlines() if x.startswith("error:")]
    assert f"stream 'SAGA_{ns}' not found" in line and "?create=1" in line
    created = _monitor(f"{url}?ns={ns}&create=1")
    try:
        assert created.returncode == 0, created.stderr
        assert f"SAGA_{ns}" in asyncio.run(_streams(url))
    finally:
        asyncio.run(_delete(url, f"SAGA_{ns}"))
