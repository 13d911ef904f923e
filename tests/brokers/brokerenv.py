"""Where the brokers and PostgreSQL of the broker tests are, and a check that they are up.

A broker that is down is a *failure* with a message saying how to start it, never a
silent skip: these tests are the evidence that the adapters work on real brokers.
Point them elsewhere with ``SAGASPEC_NATS_URL``, ``SAGASPEC_AMQP_URL``,
``SAGASPEC_REDIS_URL`` and ``SAGASPEC_PG_URL``.

The suite runs on several pytest-xdist workers at once, all on the same servers: every
broker name a test makes (streams, subjects, exchanges, queues, keys, PostgreSQL
schemas) comes from a namespace that starts with its worker's tag (:func:`namespace`),
so two workers never see each other's messages.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest
from sagaspec.adapters.broker import new_namespace

URLS = {
    "nats": os.environ.get("SAGASPEC_NATS_URL", "nats://127.0.0.1:4222"),
    "rabbitmq": os.environ.get("SAGASPEC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    "redis": os.environ.get("SAGASPEC_REDIS_URL", "redis://127.0.0.1:6379/0"),
}
PG_URL = os.environ.get("SAGASPEC_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BROKERS = tuple(URLS)

_HOW = ("start the local services with `bash .ci/services.sh` (see README, 'Broker tests'), "
        "or point the tests at yours with SAGASPEC_{var}")


def require(url: str, var: str) -> str:
    """``url`` if something listens at its host:port, else fail the test, saying how to fix it."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or {"nats": 4222, "amqp": 5672, "redis": 6379, "postgresql": 5432}.get(parts.scheme, 0)
    try:
        with socket.create_connection((host, port), timeout=2):
            return url
    except OSError as exc:
        pytest.fail(f"{parts.scheme} is not reachable at {host}:{port} ({exc.strerror or exc}): "
                    + _HOW.format(var=var), pytrace=False)


_VARS = {"nats": "NATS_URL", "rabbitmq": "AMQP_URL", "redis": "REDIS_URL"}

#: This test process's tag: the pytest-xdist worker id (``gw0``, ``gw1``, ...), or ``main``.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_mint = new_namespace


def namespace(tag: str = "t") -> str:
    """A fresh broker namespace of this worker: ``<tag>_<worker>_<random>``."""
    return _mint(f"{tag}_{WORKER}_")


def destroy(url: str) -> None:
    """Remove every broker name of ``url``'s namespace (streams, exchanges, queues, keys)."""
    import asyncio

    from sagaspec.adapters.broker import open_transport

    async def go() -> None:
        t = open_transport(url)
        await t.connect()
        try:
            await t.destroy()
        finally:
            await t.close()

    asyncio.run(go())
