"""Reach one participant of any spec behind a real broker, as it is: ``conform --spec`` over AMQP, NATS, Redis.

``sagaspec conform --spec`` plays the bus itself: it hands each event to one participant
and waits for what that participant publishes. :class:`SpecBrokerAdapter` does that for
a service that consumes from a broker (RabbitMQ, NATS JetStream, Redis Streams) and was
not written for sagaspec: events go out under the service's own routing keys, in its own
vocabulary (a :class:`~sagaspec.adapters.mapping.Mapping`), and what it publishes is
read back by a non-competing observer and translated into the spec's events. The other
participants are the spec's reference services in this process (``local``), so the
mapping sees every event of every saga (values it carries come from them too).

Nothing is declared on the service's broker but the adapter's own observer queue
(``?create=1`` asks for more). ``?probe=1``: after each case one plain saga (each world knob at
its first value) must still pass, so damage a case leaves behind (a dead consumer) is
blamed on that case. Each case tags the saga ids it sends (``s1-0`` goes out as
``s1-0.3f9a2c``), so a case run again (shrunk, reproduced) never meets the state an
earlier run left in a long-running service; the tag is removed from what comes back.

Waiting: after a delivery, :meth:`collect` returns as soon as the spec's model says
nothing more can come (``done``) and nothing else arrived for ``settle`` seconds (0.01
by default; ``?settle=`` for a service that publishes later, e.g. an outbox relay on a
timer), or after ``timeout`` seconds (the URL's ``timeout``, at least the
suite's collect timeout). ``wait="quiet"`` is the broker adapter's own wait instead: a
fixed quiet window (``settle``, 0.3 s) after every delivery, what a run did before the
model said when to stop (kept for ``bench/bench_conform.py``).

Late messages: after a case's last delivery :meth:`late` waits a little longer (until
nothing came for three times what the service's recent answers took, at most 0.25 s;
``?late=S``: S seconds of quiet instead), and the suite judges what came with that case.
What comes later still keeps its case's tag: :meth:`orphans` hands it over, with how
late it came, for the suite to judge with the case that caused it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.mapping import Correlation, Mapping, MappingFailure

from sagaspec.errors import AdapterError, UsageError

__all__ = ["SpecBrokerAdapter", "STARTUP_WAIT"]

#: Seconds to wait for the service's exchange / stream to exist (a service just started).
STARTUP_WAIT = 10.0

#: The longest wait (s) for late messages after a case's last handling.
_TAIL = 0.25

#: Correlation entries kept across cases before they are forgotten (memory stays bounded).
_REMEMBER = 100_000


def _late_wait(url: str) -> tuple[str, float | None]:
    """The URL without ``late``, and its seconds: after a case's last delivery, wait for
    that long a quiet (None: the adapter's own wait); what reproducing a failure found by
    a message that came after its case needs."""
    from sagaspec.adapters.spec_system import _split_url

    url, late = _split_url(url, "late")
    try:
        seconds = None if late is None else float(late)
    except ValueError:
        seconds = -1.0
    if seconds is not None and not 0 <= seconds <= 60:
        raise UsageError(f"late={late!r}: expected seconds (0 to 60) to wait for late messages after a case")
    return url, seconds


class SpecBrokerAdapter:
    """``amqp://...`` / ``nats://...`` / ``redis://...`` -> one participant of ``spec``.

    ``local`` drives the other participants (the spec's reference services, any object
    with the suite's adapter calls); ``mapping`` translates between the spec's events
    and the service's messages (``None``: it speaks the spec's events as CloudEvents).
    """

    name = "broker"

    def __init__(self, url: str, spec: Any, participant: str, *, local: Any, mapping: Mapping | None = None,
                 timeout: float = 0.2, wait: str = "model") -> None:
        from sagaspec.adapters.broker import BrokerAdapter, BrokerConfig

        names = [p.name for p in spec.participants]
        if participant not in names:
            raise UsageError(f"--participant {participant!r}: over a broker, name the participant the service "
                             f"plays ({', '.join(names)}); the suite runs the others")
        if any(r.kind == "trigger" for r in spec.participant(participant).reactions):
            raise UsageError(f"--participant {participant!r} starts sagas; a service behind a broker can be "
                             "driven as a participant that only reacts")
        if wait not in ("model", "quiet"):
            raise UsageError(f"wait={wait!r}: expected model or quiet")
        self.spec, self.participant, self.local, self.mapping, self.wait = spec, participant, local, mapping, wait
        # ?probe=1: after each case one plain saga must still pass (a health check).
        from sagaspec.adapters.spec_system import _split_url

        url, probe = _split_url(url, "probe")
        if probe not in (None, "0", "1"):
            raise UsageError(f"probe={probe!r}: expected 1 (a plain saga checked after each case) or 0")
        self.probe = probe == "1"
        url, self.late_wait = _late_wait(url)
        config = BrokerConfig.from_url(url)
        settle = config.settle
        # The suite plays the bus and the other participants: no control channel to ask.
        config.control = "off"
        self.broker = BrokerAdapter(config, participant=participant)
        self.timeout = max(float(timeout), config.timeout)
        self.settle = settle if settle is not None else (0.01 if wait == "model" else 0.3)
        self.broker.config.settle = self.settle
        self.state = Correlation()
        self.tag = uuid.uuid4().hex[:6]
        self._tags: set[str] = {self.tag}  # every case's tag: what comes late finds its case
        self._orphans: list[tuple[str, dict[str, Any], float]] = []
        # How long the service took to answer its latest deliveries (the first message
        # of each), for the wait after a case's last handling.
        self._answers: deque[float] = deque(maxlen=256)
        self._ended: dict[str, float] = {}  # tag -> when its case's late() returned
        self.world: dict[str, dict[str, str]] = {}
        self._buffer: list[dict[str, Any] | RawMessage] = []
        self._last: Any = local
        self._loop = asyncio.new_event_loop()
        self._arrived: asyncio.Event | None = None
        self.broker.record = wait == "quiet"
        self.broker.listeners.append(self._on_item)
        if mapping is not None:
            self.broker.decoder = self._decode
        try:
            self._run(self._start())
        except BaseException:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------------------
    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    async def _start(self) -> None:
        """Start observing, once the service's exchange / stream exists: a service started
        in the background a moment ago may not have declared it yet (waits at most
        :data:`STARTUP_WAIT` seconds, as the HTTP adapter waits for a port to listen)."""
        from sagaspec.adapters.broker import open_transport

        from sagaspec.errors import BrokerUnavailable

        self._arrived = asyncio.Event()
        deadline = time.monotonic() + STARTUP_WAIT
        while not self.broker.config.create:
            probe = open_transport(self.broker.config)
            try:
                await probe.connect()
                await probe.ensure_topology(False)
                break
            except BrokerUnavailable as exc:
                if "not found" not in str(exc) or time.monotonic() >= deadline:
                    raise
            finally:
                await probe.close()
            await asyncio.sleep(0.2)
        await self.broker.start()

    def _on_item(self, item: dict[str, Any] | RawMessage) -> None:
        if self.wait == "model":
            self._buffer.append(item)
            if self._arrived is not None:
                self._arrived.set()

    def _wire(self, saga: Any) -> Any:
        return f"{saga}.{self.tag}" if isinstance(saga, str) and saga else saga

    def _unwire(self, event: dict[str, Any]) -> dict[str, Any]:
        saga = event.get("sagaId")
        if isinstance(saga, str) and saga.endswith(f".{self.tag}"):
            event["sagaId"] = saga[: -len(self.tag) - 1]
        return event

    def _case_of(self, item: Any) -> str | None:
        """The tag of the earlier case ``item`` belongs to, or None (this case's, or no case's)."""
        saga = item.get("sagaId") if isinstance(item, dict) else None
        if not isinstance(saga, str) or "." not in saga:
            return None
        tag = saga.rsplit(".", 1)[1]
        return tag if tag != self.tag and tag in self._tags else None

    def _take(self) -> list[Any]:
        """Empty the buffer: an earlier case's events are set aside for :meth:`orphans`."""
        items, self._buffer = self._buffer, []
        mine = []
        for item in items:
            tag = self._case_of(item)
            if tag is None:
                mine.append(item)
            else:
                saga = item["sagaId"]
                now = time.monotonic()
                self._orphans.append((tag, dict(item, sagaId=saga[: -len(tag) - 1]),
                                      max(0.0, now - self._ended.get(tag, now))))
        return mine

    def _decode(self, received: Any) -> dict[str, Any] | RawMessage:
        assert self.mapping is not None
        try:
            message = json.loads(received.body)
        except ValueError:
            return RawMessage(bytes(received.body), received.route, "not JSON")
        out = self.mapping.translate(message, state=self.state, route=received.route, headers=received.headers)
        if out is None:
            return RawMessage(bytes(received.body), received.route, "ignored")
        return out

    def _note(self, events: list[Any]) -> None:
        """What the local participants published: their sagas' history, for carried values."""
        if self.mapping is None:
            return
        for e in events:
            if isinstance(e, dict) and isinstance(e.get("sagaId"), str):
                self.mapping.note(dict(e, sagaId=self._wire(e["sagaId"])), None, self.state)

    # -- the suite's calls ------------------------------------------------------------
    def reset(self) -> None:
        self.local.reset()
        self._drain()
        # A case run again (shrinking, --case) gets fresh ids on their side. What the
        # service learnt of earlier cases stays (bounded): a late message of one still
        # finds its saga, and so its case.
        self.tag = uuid.uuid4().hex[:6]
        self._tags.add(self.tag)
        if len(self.state.sagas) + len(self.state.derived) > _REMEMBER:
            self.state.clear()
            self._tags = {self.tag}
            self._ended.clear()
        # What came late for an earlier case is set aside for orphans(); the rest (no
        # case's) is kept for the next handling to report: nothing is lost between cases.
        self._buffer = self._take()

    def _drain(self) -> None:
        """Let what an earlier case's handlings still publish arrive (``settle``)."""
        if self.wait == "model":
            self._run(self._quiet(self.settle))
        else:
            self._run(self.broker.collect(0))

    def wait_quiet(self, seconds: float) -> None:
        """Return once nothing has arrived for ``seconds`` (the end of a run whose service
        answered late: what it still sends then would land in the next run)."""
        self._run(self._quiet(seconds))

    async def _quiet(self, window: float) -> None:
        """Return once nothing has arrived for ``window`` seconds."""
        while True:
            n = len(self._buffer)
            await asyncio.sleep(window)
            if len(self._buffer) == n:
                return

    def late(self) -> list[dict[str, Any]]:
        """What the service publishes after the case's last handling: waits until nothing
        has arrived for three times what its answers to recent deliveries took (the
        90th percentile; at least ``settle``, at most :data:`_TAIL`), so a service that
        answers a duplicate a little late is judged in the case that sent it (later
        still: :meth:`orphans`). Translated, like :meth:`collect`."""
        if self.wait != "model":
            return []
        if self.late_wait is not None:
            window = self.late_wait
        else:
            answers = sorted(self._answers)
            typical = answers[int(0.9 * (len(answers) - 1))] if answers else 0.0
            window = min(max(self.settle, 3 * typical), max(self.settle, _TAIL))
        self._run(self._quiet(window))
        got = self._translated(self._take())
        self._ended[self.tag] = time.monotonic()
        return got

    def orphans(self) -> list[tuple[str, dict[str, Any], float]]:
        """Events of earlier cases that came after their case ended (after :meth:`late`):
        each with the tag its case ran under (:attr:`tag` after that case's reset) and
        about how many seconds after its case it came (``?late=`` a little more than that
        catches it in a run of that case alone)."""
        self._buffer = self._take()
        out, self._orphans = self._orphans, []
        return out

    def configure(self, world: dict[str, Any]) -> None:
        self.local.configure(world)
        self.world = {s: dict(v) for s, v in (world.get("sagas") or {}).items()}

    def start(self, participant: str, saga_id: str) -> None:
        self._last = self.local
        self.local.start(participant, saga_id)

    def arm_crash(self, participant: str, point: str) -> None:
        if participant == self.participant:
            raise UsageError(f"cannot crash {participant} behind {self.broker.config.display}: the suite does not "
                             "run it; leave crash out of --faults")
        self.local.arm_crash(participant, point)

    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        if participant != self.participant:
            self._last = self.local
            return self.local.deliver(participant, event, invalid)
        self._last = None
        wired = dict(event)
        if "sagaId" in wired:
            wired["sagaId"] = self._wire(wired["sagaId"])
        if self.mapping is None:
            self._run(self.broker.deliver(wired))
            return True
        try:
            theirs = self.mapping.to_theirs(wired, world=self.world.get(event.get("sagaId", "")))
        except MappingFailure as exc:
            raise AdapterError(f"{self.mapping.origin}: cannot say {event.get('eventType')} in their "
                               f"vocabulary: {exc}") from None
        if not invalid:
            self.mapping.note(wired, theirs, self.state)
        self._run(self.broker.publish_as(self.mapping.route_of(wired), json.dumps(theirs).encode(),
                                         self.mapping.headers_of(wired)))
        return True

    def collect(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """What the last participant handed an event published: the service's messages,
        translated, once the model says nothing more can come (or the timeout)."""
        if self._last is not None:
            got = self._last.collect(done)
            self._note(got)
            return got
        if self.wait == "quiet":
            items = self._run(self.broker.collect(self.timeout))
        else:
            items = self._run(self._until(done))
        return self._translated(items)

    def _translated(self, items: list[Any]) -> list[dict[str, Any]]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, RawMessage):
                if item.reason == "ignored":
                    continue
                # Not an event of the spec: reported with why, as the type it could not be.
                out.append({"eventType": f"<unreadable {item.source}: {item.reason}>",
                            "payload": item.payload[:200].decode("utf-8", "replace")})
                continue
            out.append(self._unwire(dict(item)))
        return out

    async def _until(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
        assert self._arrived is not None
        start = time.monotonic()
        deadline = start + self.timeout
        quiet_since = start
        seen = 0
        answered = False
        while True:
            if self.broker.transport.failure is not None:
                raise AdapterError(f"{self.broker.config.display}: lost the broker: {self.broker.transport.failure}")
            now = time.monotonic()
            self._buffer = self._take()  # an earlier case's events are not this step's
            if len(self._buffer) != seen:
                seen, quiet_since = len(self._buffer), now
                if not answered:
                    answered = True
                    self._answers.append(now - start)
            events = [self._unwire(dict(e)) for e in self._buffer if isinstance(e, dict)]
            # A publication the mapping cannot read fails the step whatever else comes (no
            # spec event is that): like the model's "nothing more", it ends the wait.
            finished = done(events) or any(isinstance(e, RawMessage) and e.reason != "ignored"
                                           for e in self._buffer)
            if finished and now - quiet_since >= self.settle or now >= deadline:
                break
            wait = self.settle - (now - quiet_since) if finished else deadline - now
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), max(0.001, min(wait, deadline - now)))
            except TimeoutError:
                pass
        return self._take()

    def close(self) -> None:
        try:
            if not self._loop.is_closed():
                self._run(self.broker.close())
        finally:
            if not self._loop.is_closed():
                self._loop.close()
