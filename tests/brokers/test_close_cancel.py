"""The broker layer's waits hold their bounds and never lose a cancellation (a Ctrl-C),
whatever the awaited thing does with the cancellations it gets.

Python 3.11's ``asyncio.wait_for`` returns the result, swallowing the cancellation, when
the cancel lands as what it awaits completes; nats-py awaits through it (``fetch``), so a
consumer loop can carry on after one ``Task.cancel()``. Each case here failed on the code
before (noted per test): the transports' ``_cancel_tasks`` cancelled once and then waited
without limit; ``BrokerAdapter.close()`` tried a cancelled step again under
``wait_for`` (no bound) and swallowed what came meanwhile; ``_bounded`` and the adapter's
event waits traded a cancellation for a result. One case is a guard that passed already
(said so in it). No broker is needed: nothing connects.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sagaspec.adapters.broker import BrokerAdapter, open_transport

from sagaspec.errors import BrokerUnavailable

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]

SCHEMES = [("nats", "nc"), ("amqp", "conn"), ("redis", "client")]


async def _swallowing_loop(cancels: list[float]) -> None:
    """A consumer loop whose first cancellation is lost (as in a nats ``fetch`` whose
    message arrives as the cancel lands), which then waits for its next batch."""
    while True:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancels.append(time.monotonic())
            if len(cancels) > 1:
                raise


class _Client:
    """A client whose close returns at once; records that it was called."""

    def __init__(self) -> None:
        self.closed = False
        self.options: dict = {}

    async def close(self) -> None:
        self.closed = True

    aclose = close


async def _ended_within(task: asyncio.Future, seconds: float) -> float:
    start = time.monotonic()
    await asyncio.wait({task}, timeout=seconds)
    took = time.monotonic() - start
    if not task.done():  # (the old code: stop the test, not the suite)
        task.cancel()
        await asyncio.wait({task}, timeout=60)
        return seconds
    return took


@pytest.mark.parametrize("scheme, attr", SCHEMES)
def test_close_stops_a_background_task_that_swallows_its_first_cancellation(scheme, attr):
    """Old code: ``close()`` cancelled the loop once and waited for it forever."""
    async def main() -> tuple[float, list[float]]:
        transport = open_transport(f"{scheme}://127.0.0.1:1")
        client = _Client()
        setattr(transport, attr, client)
        cancels: list[float] = []
        loop_task = transport._spawn(_swallowing_loop(cancels), "pull-loop")
        await asyncio.sleep(0.01)
        task = asyncio.ensure_future(transport.close())
        took = await _ended_within(task, 10)
        task.result()
        assert loop_task.cancelled()
        assert client.closed and getattr(transport, attr) is None
        return took, cancels

    took, cancels = asyncio.run(main())
    assert len(cancels) == 2
    assert took < 1.0, f"{scheme}: close() took {took:.1f}s"


@pytest.mark.parametrize("scheme, attr", SCHEMES)
def test_close_cancelled_while_stopping_its_tasks_closes_the_client_and_is_cancelled(scheme, attr):
    """A second Ctrl-C while the tasks are stopped: the client is closed all the same,
    and the cancellation is raised. Old code: swallowed (``suppress(BaseException)``
    around ``await task``), ``close()`` returned as if not cancelled."""
    async def main() -> None:
        transport = open_transport(f"{scheme}://127.0.0.1:1")
        client = _Client()
        setattr(transport, attr, client)

        async def stubborn() -> None:  # ends 1.5 s after its first cancellation, whatever comes
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                end = time.monotonic() + 1.5
                while time.monotonic() < end:
                    try:
                        await asyncio.sleep(end - time.monotonic())
                    except asyncio.CancelledError:
                        pass

        transport._spawn(stubborn(), "stubborn")
        await asyncio.sleep(0.01)
        task = asyncio.ensure_future(transport.close())
        await asyncio.sleep(0.3)
        assert not task.done()
        task.cancel()
        took = await _ended_within(task, 10)
        assert took < 1.0, f"{scheme}: the cancelled close() went on for {took:.1f}s"
        assert task.cancelled(), f"{scheme}: the cancellation of close() was lost"
        assert getattr(transport, attr) is None
        if scheme == "nats":  # its socket aborted (no close handshake after a cancellation)
            assert client.options["allow_reconnect"] is False
        else:
            assert client.closed

    asyncio.run(main())


def test_adapter_close_cancelled_retries_the_transport_close_within_its_bound():
    """``BrokerAdapter.close()`` cancelled during the transport's close tries it once more
    for at most ``config.timeout``. Old code: ``wait_for(fn(), timeout)``, which on its
    timeout waited for a close that swallows that cancel (25 s more here)."""
    async def main() -> None:
        adapter = BrokerAdapter("nats://127.0.0.1:1?timeout=1")
        calls: list[int] = []

        async def close() -> None:
            calls.append(1)
            if len(calls) == 1:
                await asyncio.sleep(30)  # cancelled by the caller
                return
            end = time.monotonic() + 25  # the retry: swallows wait_for's cancellation
            try:
                await asyncio.sleep(25)
            except asyncio.CancelledError:
                pass
            await asyncio.sleep(max(0.0, end - time.monotonic()))

        adapter.transport.close = close
        task = asyncio.ensure_future(adapter.close())
        await asyncio.sleep(0.1)
        task.cancel()
        took = await _ended_within(task, 15)
        assert len(calls) == 2
        assert took < 2.0, f"close() took {took:.1f}s after its cancellation (bound: timeout=1)"
        assert task.cancelled()

    asyncio.run(main())


def test_adapter_close_keeps_a_cancellation_that_comes_during_the_retry():
    """A further Ctrl-C during the retried step ends that try at once, the rest still
    runs and the cancellation is raised. A guard: this passed on the old code too (its
    ``wait_for`` passed the cancellation on to the close, which ended)."""
    async def main() -> None:
        adapter = BrokerAdapter("nats://127.0.0.1:1?timeout=30")
        calls: list[int] = []

        async def close() -> None:
            calls.append(1)
            await asyncio.sleep(20)

        adapter.transport.close = close
        task = asyncio.ensure_future(adapter.close())
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.sleep(0.1)
        task.cancel()
        took = await _ended_within(task, 15)
        assert len(calls) == 2
        assert took < 1.0, f"close() went on for {took:.1f}s after its second cancellation"
        assert task.cancelled()

    asyncio.run(main())


@pytest.mark.parametrize("scheme", ["nats", "amqp", "redis"])
def test_bounded_raises_a_cancellation_that_lands_as_the_call_completes(scheme):
    """Old code (``wait_for``): the call's result was returned, the Ctrl-C lost."""
    async def main() -> None:
        transport = open_transport(f"{scheme}://127.0.0.1:1")
        reply = asyncio.get_running_loop().create_future()
        after: list[str] = []

        async def caller() -> None:
            await transport._bounded(reply, "XREAD")
            after.append("went on")
            await asyncio.sleep(30)

        task = asyncio.ensure_future(caller())
        await asyncio.sleep(0.01)
        reply.set_result("answer")  # the broker answers ...
        task.cancel()               # ... as the Ctrl-C lands
        took = await _ended_within(task, 5)
        assert after == [], "the cancellation was traded for the reply"
        assert task.cancelled() and took < 0.5

    asyncio.run(main())


@pytest.mark.parametrize("scheme", ["nats", "amqp", "redis"])
def test_bounded_holds_its_bound_and_keeps_its_error(scheme):
    """A call that swallows the cancellation sent on timeout: the same BrokerUnavailable,
    at most a second later. Old code: raised 20 s later, when the call ended."""
    async def main() -> None:
        transport = open_transport(f"{scheme}://127.0.0.1:1?timeout=0.5")

        async def call() -> None:
            end = time.monotonic() + 20
            try:
                await asyncio.sleep(20)
            except asyncio.CancelledError:
                pass
            await asyncio.sleep(max(0.0, end - time.monotonic()))

        task = asyncio.ensure_future(transport._bounded(call(), "XADD"))
        took = await _ended_within(task, 10)
        assert took < 2.0, f"{scheme}: _bounded took {took:.1f}s (timeout 0.5)"
        with pytest.raises(BrokerUnavailable, match=r"XADD timed out after 0\.5s"):
            task.result()

    asyncio.run(main())


def test_ping_cancelled_as_a_reply_arrives_is_cancelled():
    """The adapter's waits for replies and arrivals: a Ctrl-C landing as the event is
    set was lost by ``wait_for`` (the ping went on waiting its whole ``wait``)."""
    async def main() -> None:
        adapter = BrokerAdapter("nats://127.0.0.1:1")
        sent: list[dict] = []

        async def control_send(message: dict) -> None:
            sent.append(message)

        adapter.transport.control_send = control_send
        task = asyncio.ensure_future(adapter.ping(wait=10, want={"billing"}))
        await asyncio.sleep(0.05)
        assert sent
        adapter._reply_events[sent[0]["id"]].set()  # a reply (not yet the one wanted) ...
        task.cancel()                               # ... as the Ctrl-C lands
        took = await _ended_within(task, 15)
        assert task.cancelled() and took < 0.5, f"ping went on for {took:.1f}s"

    asyncio.run(main())


def test_collect_cancelled_as_an_event_arrives_is_cancelled():
    """The same for :meth:`collect`'s wait for arrivals (old code: it went on to the end
    of its settle window and returned what it had)."""
    async def main() -> None:
        adapter = BrokerAdapter("nats://127.0.0.1:1?settle=5")
        adapter._arrived = asyncio.Event()
        task = asyncio.ensure_future(adapter.collect(10))
        await asyncio.sleep(0.05)
        adapter._arrived.set()  # an event arrives ...
        task.cancel()           # ... as the Ctrl-C lands
        took = await _ended_within(task, 15)
        assert task.cancelled() and took < 0.5, f"collect went on for {took:.1f}s"

    asyncio.run(main())
