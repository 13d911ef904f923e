"""Any saga spec's reference services as real processes on a real broker.

Each participant of the shop example spec runs as ``python -m sagaspec.examples.runner
--spec FILE --service NAME`` on NATS JetStream with its own SQLite store; sagas are
started through the runners' control channel, one service is killed (SIGKILL) mid-run
and restarted by the supervisor, and the log the bus carried is then validated against
the spec (trace validation): every handling the spec allows, every saga settled.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from brokerenv import URLS, destroy, namespace, require
from sagaspec.adapters.broker import BrokerConfig, decode_message, open_transport
from sagaspec.conformance.tracecheck import validate_log
from sagaspec.examples.cluster import Cluster
from sagaspec.spec.sagafile import load_spec

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(180)]

SHOP = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml"


def test_spec_services_on_nats_survive_a_kill_and_their_log_follows_the_spec(tmp_path, run):
    url = require(URLS["nats"], "NATS_URL")
    ns = namespace("spec")
    config = BrokerConfig.from_url(url, namespace=ns)
    spec = load_spec(SHOP)
    starter = next(p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions))
    cluster = Cluster(config, spec=str(SHOP), state_dir=tmp_path / "state")
    assert set(cluster.services) == {p.name for p in spec.participants}
    sagas = [f"s{i}" for i in range(4)]
    events: list[dict] = []

    async def scenario() -> None:
        transport = open_transport(config)
        await transport.connect()
        await transport.ensure_topology(create=True)

        async def seen(received) -> None:
            decoded = decode_message(received.body, received.headers)
            if isinstance(decoded, dict):
                events.append(decoded)

        await transport.observe(seen, from_start=True)
        try:
            cluster.start_all()
            await asyncio.to_thread(cluster.wait_ready, None, 60.0)
            for i, saga in enumerate(sagas):
                await transport.control_send({"op": "start", "id": f"start-{i}", "to": [starter], "saga": saga})
                if i == 1:  # a participant dies mid-run and is restarted by the supervisor
                    victim = spec.participants[-1].name
                    cluster.kill(victim, signal.SIGKILL)
                    cluster.start(victim)
            deadline = time.monotonic() + 90
            stable, last = 0, -1
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                report = validate_log(spec, list(events), at_rest=True)
                settled = {e["sagaId"] for e in events if spec.event(e["eventType"]).role == "outcome"}
                stable = stable + 1 if len(events) == last else 0
                last = len(events)
                if settled >= set(sagas) and stable >= 4 and report.ok:
                    break
        finally:
            await transport.close()
            cluster.stop_all()
            cluster.cleanup()

    try:
        run(scenario())
    finally:
        destroy(config.url_for_child())
    report = validate_log(spec, events, at_rest=True)
    assert report.ok, (report.failures, report.diagram)
    assert report.sagas == len(sagas) and report.handlings >= 3 * len(sagas)
    outcomes = {e["sagaId"] for e in events if spec.event(e["eventType"]).role == "outcome"}
    assert outcomes == set(sagas), f"unsettled sagas: {set(sagas) - outcomes}"


def test_the_broker_adapter_drives_spec_runners_and_a_repeated_start_is_a_duplicate(run):
    """The adapter's place_order reaches whichever participant starts the spec's sagas;
    asking again (an answer lost to a kill) starts nothing twice."""
    from sagaspec.adapters.broker import BrokerAdapter

    url = require(URLS["nats"], "NATS_URL")
    spec = load_spec(SHOP)
    trigger = next(e.name for e in spec.events if e.role == "trigger")
    adapter = BrokerAdapter(url, spawn="all", participant="system", design=str(SHOP))

    async def scenario() -> list:
        await adapter.start()
        try:
            assert "place_order" in adapter.capabilities
            await adapter.place_order({"sagaId": "d1"})
            await adapter.place_order({"sagaId": "d1"})
            replies = await adapter.control("start", {"saga": "d1", "to": sorted(adapter._starters())},
                                            expect=adapter._starters())
            assert replies[0].get("duplicate") is True
            return await adapter.collect(timeout=10.0)
        finally:
            await adapter.close()

    events = run(scenario())
    assert [e["eventType"] for e in events].count(trigger) == 1
    assert validate_log(spec, events, at_rest=True).ok
