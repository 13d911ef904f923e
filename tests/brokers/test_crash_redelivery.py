"""A reference service killed at an armed crash point gets its message back at once.

The supervisor starts every process with the runner's ``--reclaim``: the restarted
process has the broker redeliver what its dead predecessor left unacknowledged before it
consumes (NATS: it NAKs it; RabbitMQ and Redis do so themselves), instead of the message
waiting out ``ack_wait``. Here ``ack_wait`` is 60 s, longer than a collect waits for a busy
service (30 s): without the reclaim the collect ends with nothing.
"""

from __future__ import annotations

import functools

import pytest
from brokerenv import namespace
from sagaspec.adapters.base import World
from sagaspec.adapters.broker import BrokerAdapter
from sagaspec.examples.cluster import Cluster
from sagaspec.examples.runner import EXIT_CRASH_POINT
from sagaspec.examples.samples import sample_created

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]


def test_the_supervisor_starts_each_process_reclaiming(tmp_path):
    on = Cluster("nats://127.0.0.1:4222?ns=rc", ("payment",), state_dir=tmp_path / "on")
    off = Cluster("nats://127.0.0.1:4222?ns=rc", ("payment",), state_dir=tmp_path / "off", reclaim=False)
    assert "--reclaim" in on.command("payment", crash_at="before-commit")
    assert "--reclaim" not in off.command("payment")


def test_a_service_killed_at_its_crash_point_handles_the_message_on_restart(broker, run):
    adapter = BrokerAdapter(broker, participant="payment", spawn="1", ack_wait="60", namespace=namespace("cr"))
    run(adapter.start())
    try:
        run(adapter.setup(World()))
        run(adapter.crash("payment"))  # restarted armed to die before its next commit
        created = sample_created(1, prefix=namespace("o"))
        run(adapter.deliver(created))
        got = run(adapter.collect(30.0))
        assert [e.get("eventType") for e in got] == ["PaymentProcessed"], got
        assert got[0]["sagaId"] == created["sagaId"]
        # It did die there, unacknowledged, and its next life handled the redelivery.
        assert EXIT_CRASH_POINT in adapter.cluster.procs["payment"].exits
        status = run(adapter.control("status", {"to": ["payment"]}, expect={"payment"}))[0]
        assert status["handled"] == 1
        if broker.startswith("nats"):
            assert status["reclaimed"] == 1
    finally:
        run(adapter.close())


def test_a_service_killed_at_its_crash_point_is_restarted_without_the_supervisor_s_pause(nats_url, run):
    """The supervisor pauses ``restart_delay`` before restarting a process that exited on
    its own (no tight restart loop), but not after an armed crash point: that kills a
    process once. With a pause of 60 s (a collect waits 30 s at most) the message is
    still handled within one collect."""
    adapter = BrokerAdapter(nats_url, participant="payment", spawn="1", namespace=namespace("cp"),
                            launcher=functools.partial(Cluster, restart_delay=60.0))
    run(adapter.start())
    try:
        run(adapter.setup(World()))
        run(adapter.crash("payment"))
        run(adapter.deliver(sample_created(1, prefix=namespace("o"))))
        got = run(adapter.collect(30.0))
        assert [e.get("eventType") for e in got] == ["PaymentProcessed"], got
        assert adapter.cluster.procs["payment"].exits == [EXIT_CRASH_POINT]
        assert adapter.cluster.restarts == 1
    finally:
        run(adapter.close())
