"""The live monitor on any saga spec: the bus log validated against the spec as it grows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from brokerenv import URLS, destroy, namespace, require
from sagaspec.adapters.broker import BrokerConfig, encode_event, open_transport
from sagaspec.examples.cluster import Cluster
from sagaspec.spec.sagafile import load_spec

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(180)]

SHOP = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml"


def _monitor(url: str, *extra: str) -> tuple[int, dict, list[dict]]:
    # A short live window is enough: at its end the monitor drains everything the broker
    # had accepted (or exits 3), so the verdict covers the whole log whatever the window.
    run = subprocess.run(
        [sys.executable, "-m", "sagaspec", "monitor", "--adapter", url, "--design", str(SHOP),
         "--from-start", "--duration", "0.5", "--at-rest", "--summary-json", "-", "--ndjson", "-", *extra],
        capture_output=True, text=True, timeout=120,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()
             if line.startswith("{") and line.endswith("}") and '"check"' in line]
    summary = json.loads(run.stdout[run.stdout.index("{\n"):]) if "{\n" in run.stdout else {}
    return run.returncode, summary, lines


def test_monitor_validates_a_live_spec_system_and_flags_a_forged_event(tmp_path, run):
    url = require(URLS["nats"], "NATS_URL")
    config = BrokerConfig.from_url(url, namespace=namespace("specmon"))
    child = config.url_for_child()
    spec = load_spec(SHOP)
    starter = next(p.name for p in spec.participants if any(r.kind == "trigger" for r in p.reactions))
    cluster = Cluster(config, spec=str(SHOP), state_dir=tmp_path / "state")
    outcomes = {e.name for e in spec.events if e.role == "outcome"}
    seen: list[dict] = []

    async def start_sagas() -> None:
        t = open_transport(config)
        await t.connect()
        await t.ensure_topology(create=True)

        async def on(received) -> None:
            from sagaspec.adapters.broker import decode_message

            item = decode_message(received.body, received.headers)
            if isinstance(item, dict):
                seen.append(item)

        await t.observe(on, from_start=True)
        try:
            cluster.start_all()
            await asyncio.to_thread(cluster.wait_ready, None, 60.0)
            for i in range(3):
                await t.control_send({"op": "start", "id": f"s{i}", "to": [starter], "saga": f"s{i}"})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                if {e["sagaId"] for e in seen if e["eventType"] in outcomes} >= {"s0", "s1", "s2"}:
                    break
            await asyncio.sleep(1.0)
        finally:
            await t.close()

    async def forge() -> None:
        # Someone publishes an outcome for a saga nobody started: no handling explains it.
        t = open_transport(config)
        await t.connect()
        try:
            outcome = next(e for e in seen if e["eventType"] in outcomes)
            fake = dict(outcome, eventId="evt-forged", sagaId="s-forged", causationId="evt-nowhere")
            body, headers = encode_event(fake, config.mode, source="/test/forger")
            await t.publish(fake["eventType"], body, headers)
        finally:
            await t.close()

    try:
        run(start_sagas())
        code, summary, violations = _monitor(child)
        assert code == 0, (summary, violations)
        assert violations == [] and summary["spec"] == "shop" and summary["terminal"] == 3
        assert summary["events"] == len({e["eventId"] for e in seen})
        run(forge())
        code, summary, violations = _monitor(child, "--fail-on-violation")
        assert code == 1 and violations, summary
        assert any("evt-nowhere" in v["message"] for v in violations), violations
    finally:
        cluster.stop_all()
        cluster.cleanup()
        destroy(child)
