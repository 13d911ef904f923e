"""A broker collect stops waiting once the model says nothing more can come.

:func:`~sagaspec.conformance.arrival.nothing_more` reads the suite's oracle (never
changing it); :meth:`BrokerAdapter.collect_until` ends on it (``wait=model``, the
default) or ignores it and waits for the system's quiet (``wait=quiet``).
"""

from __future__ import annotations

import asyncio
import os

import pytest
from brokerenv import URLS, namespace, require
from sagaspec.adapters.broker import BrokerAdapter
from sagaspec.conformance.arrival import done_predicate, nothing_more
from sagaspec.conformance.models import suite_model
from sagaspec.conformance.oracle import Oracle
from sagaspec.model.participant import Msg


def _payment_oracle() -> Oracle:
    model = suite_model("corrected", 1)
    oracle = Oracle(model.participants, ("payment",), triggers=model.triggers)
    oracle.deliver(Msg("OrderCreated", 0, "order"), "payment")
    return oracle


def test_nothing_more_waits_for_what_the_model_still_owes_and_leaves_the_oracle_alone():
    oracle = _payment_oracle()
    belief, log = oracle.belief, list(oracle.log)
    assert not nothing_more(oracle, [])  # payment owes its answer to OrderCreated
    assert nothing_more(oracle, [Msg("PaymentProcessed", 0, "payment")])
    assert nothing_more(oracle, [Msg("PaymentFailed", 0, "payment")])
    assert oracle.belief == belief and oracle.log == log
    # A publication the model does not allow ends the wait too: the judge fails on it.
    assert nothing_more(oracle, [Msg("PaymentRefunded", 0, "payment")])


def test_done_predicate_reads_each_event_once_and_stops_on_what_is_not_an_event():
    oracle = _payment_oracle()
    ev = {"eventId": "e1", "eventType": "PaymentProcessed", "sagaId": "s"}
    to_msg = {"e1": Msg("PaymentProcessed", 0, "payment")}.get
    done = done_predicate(oracle, lambda e: to_msg(e["eventId"]))
    assert not done([])
    assert done([ev])
    assert done([ev, dict(ev)])  # a re-send is not a second payment
    assert not done([{"eventId": "x", "eventType": "Unknown"}])  # one the model does not track
    from sagaspec.adapters.base import RawMessage

    assert done([RawMessage(b"?", "payment", "not JSON")])


@pytest.mark.parametrize("wait", ["model", "quiet"])
def test_collect_until_ends_on_the_model_unless_told_to_wait_for_quiet(run, wait):
    """``done`` true from the start: wait=model asks once whether the watched consumers
    are idle (they acknowledged all: what they published is on the bus) and returns;
    wait=quiet never asks the model and wants them idle twice in a row, a window apart."""
    url = require(URLS["nats"], "NATS_URL")
    adapter = BrokerAdapter(url, participant="payment", namespace=namespace("mw"), create=1,
                            control="off", wait=wait, settle=0.01)
    run(adapter.start())
    try:
        adapter._routes["payment"] = ("OrderCreated",)  # a consumer to watch (none runs)
        asked: list[bool] = []
        real = adapter._services_idle

        async def idle() -> bool:
            asked.append(await real())
            return asked[-1]

        adapter._services_idle = idle  # type: ignore[method-assign]
        judged: list[int] = []

        def done(items: list) -> bool:
            judged.append(len(items))
            return True

        assert run(adapter.collect_until(30.0, done)) == []
        if wait == "model":
            assert (judged, asked) == ([0], [True])
        else:
            assert judged == [] and asked[-2:] == [True, True]
    finally:
        run(adapter.transport.destroy())
        run(adapter.close())


@pytest.mark.timeout(60)
def test_a_ping_for_named_services_ends_when_they_have_all_answered(run):
    """wait_ready's ping stops at the last wanted answer instead of sleeping its window
    (each crash restart waited it out); a plain ping still gathers for the whole window."""
    adapter = BrokerAdapter(URLS["nats"], participant="payment", namespace=namespace("mw"))

    async def answer(message: dict) -> None:
        for service in ("payment", "order"):
            await adapter._on_control({"op": "reply", "id": message["id"], "service": service,
                                       "routes": ["OrderCreated"]})

    adapter.transport.control_send = answer  # type: ignore[method-assign]
    # An hour-long window: without the early end this never returns (the test's timeout).
    assert run(adapter.ping(wait=3600, want={"payment", "order"})) == {"payment", "order"}
    assert run(adapter.ping(wait=0.05)) == {"payment", "order"}
    assert adapter._replies == {} and adapter._reply_events == {}


@pytest.mark.timeout(60)
def test_waiting_for_services_rides_out_a_broker_that_refuses_connections(run):
    """While the broker itself restarts, a ping cannot go out (connection refused); the
    wait asks again until its deadline instead of failing the run (a nemesis
    broker-restart run failed so in place_order: 'control PUBLISH failed: Error 111')."""
    from sagaspec.errors import BrokerUnavailable

    adapter = BrokerAdapter(URLS["redis"], participant="payment", namespace=namespace("mw"))
    sent = []

    async def down_then_up(message: dict) -> None:
        sent.append(message["op"])
        if len(sent) <= 2:
            raise adapter.transport.unavailable("control PUBLISH failed", "Error 111 connecting")
        await adapter._on_control({"op": "reply", "id": message["id"], "service": "payment",
                                   "routes": ["OrderCreated"]})

    adapter.transport.control_send = down_then_up  # type: ignore[method-assign]
    run(adapter.wait_ready(("payment",), timeout=30))
    assert sent == ["ping", "ping", "ping"]
    # Past its deadline, the broker's own error is what the wait reports.
    async def down(message: dict) -> None:
        raise adapter.transport.unavailable("control PUBLISH failed", "Error 111 connecting")

    adapter.transport.control_send = down  # type: ignore[method-assign]
    with pytest.raises(BrokerUnavailable, match="control PUBLISH failed"):
        run(adapter.wait_ready(("payment",), timeout=0.3))


@pytest.mark.timeout(60)
def test_a_ping_counts_a_service_that_says_it_is_ready_unasked(run):
    """A runner that starts consuming after a ping went out missed it; it says ``ready``
    unasked and the waiting ping counts that (each crash restart waited out a ping window)."""
    adapter = BrokerAdapter(URLS["nats"], participant="payment", namespace=namespace("mw"))

    async def started(message: dict) -> None:  # no one answers the ping itself
        await adapter._on_control({"op": "ready", "service": "payment", "pid": 1, "routes": ["OrderCreated"]})

    adapter.transport.control_send = started  # type: ignore[method-assign]
    # An hour-long window: without counting the announcement this never returns.
    assert run(adapter.ping(wait=3600, want={"payment"})) == {"payment"}
    assert adapter._routes["payment"] == ("OrderCreated",) and adapter.responders == {"payment"}
    # No ping waiting: an announcement answers nothing.
    run(adapter._on_control({"op": "ready", "service": "order"}))
    assert adapter._pings == set() and adapter._replies == {} and adapter._reply_events == {}


def test_a_runner_says_it_is_ready_on_the_control_channel(run, tmp_path):
    from sagaspec.adapters.broker import open_transport
    from sagaspec.examples.runner import ServiceRunner

    url = f"{require(URLS['nats'], 'NATS_URL')}?ns={namespace('rdy')}"
    heard: list[dict] = []

    async def scenario() -> None:
        listener = open_transport(url)
        await listener.connect()
        await listener.ensure_topology(create=True)
        runner = ServiceRunner("payment", url, db=str(tmp_path / "payment.db"))
        try:
            async def hear(message: dict) -> None:
                heard.append(message)

            await listener.control_listen(hear)
            await runner.start()
            await listener.flush()
            for _ in range(100):
                if any(m.get("op") == "ready" for m in heard):
                    break
                await asyncio.sleep(0.05)
        finally:
            await runner.close()
            await listener.destroy()
            await listener.close()

    run(scenario())
    ready = [m for m in heard if m.get("op") == "ready"]
    assert len(ready) == 1 and ready[0]["service"] == "payment"
    assert ready[0]["routes"] == ["OrderCancelled", "OrderCreated"] and ready[0]["pid"] == os.getpid()


class _Supervisor:
    """The spawned services' supervisor as the adapter sees it: one pid per service."""

    def __init__(self) -> None:
        self.services = ("payment", "order")
        self.pids = {"payment": 10, "order": 20}
        self.consuming = {"payment": True, "order": True}

    def pid(self, service: str) -> int | None:
        return self.pids[service]

    def ready(self, service: str) -> bool:
        return self.consuming[service]

    def check_alive(self) -> None:
        pass

    def restarting(self, service: str) -> bool:
        return False


@pytest.mark.timeout(60)
def test_a_control_command_a_restarted_service_cannot_answer_is_given_up_at_once(run):
    """A control command is not redelivered: a service restarted after it went out (or not
    yet consuming when it did) never answers it. The quiet check counts that service as
    busy and placing a saga asks again once the starter answers, instead of waiting out
    the command's timeout (2-3 s after each crash)."""
    from sagaspec.adapters.broker import _Unanswerable

    adapter = BrokerAdapter(URLS["nats"], participant="system", namespace=namespace("mw"))
    cluster = adapter.cluster = _Supervisor()  # type: ignore[assignment]
    sent: list[dict] = []

    async def lost(message: dict) -> None:  # the order service dies with the command
        sent.append(message)
        if message["op"] == "ping" or len(sent) > 1:
            await answer(message)
        else:
            cluster.pids["order"] += 1

    async def answer(message: dict) -> None:
        for service in ("payment", "order"):
            await adapter._on_control({"op": "reply", "id": message["id"], "service": service,
                                       "routes": ["OrderCreated"]})

    adapter.transport.control_send = lost  # type: ignore[method-assign]
    # An hour-long timeout: without giving up on the restarted service this never returns.
    with pytest.raises(_Unanswerable, match="order restarted"):
        run(adapter.control("status", {}, expect={"payment", "order"}, timeout=3600, lost_if_restarted=True))
    sent.clear()
    adapter._starters = lambda: {"order"}  # type: ignore[method-assign]
    adapter.config.timeout = 3600
    run(adapter.place_order({"sagaId": "s1"}))
    assert [m["op"] for m in sent] == ["place_order", "ping", "place_order"], sent
    # Not consuming yet when asked: busy, without asking it to answer.
    sent.clear()
    cluster.consuming["payment"] = False
    adapter.transport.control_send = lambda message: sent.append(message) or _noop()  # type: ignore[method-assign]
    assert run(adapter._busy({"payment", "order"})) is True
    # Unchanged services are waited for as before: the answers end the wait.
    cluster.consuming["payment"] = True
    adapter.transport.control_send = answer  # type: ignore[method-assign]
    assert run(adapter.control("status", {}, expect={"payment", "order"}, timeout=3600,
                               lost_if_restarted=True))
    assert adapter._replies == {} and adapter._reply_events == {}


async def _noop() -> None:
    return None
