"""``sagaspec monitor``: watch a running system's saga events on its broker and check them live.

The monitor subscribes with its own non-competing consumer (it never takes a message from
a service), decodes every message (CloudEvents structured or binary, or bare event JSON)
and feeds :class:`~sagaspec.conformance.monitor.SagaMonitor`. Violations are written as
NDJSON, one object per line (``--ndjson FILE``, default stdout); a live table of sagas by
state is drawn on stderr when it is a terminal. Stop with ``--duration`` or Ctrl-C: a
summary follows, and with ``--fail-on-violation`` the exit status is 1 if anything broke.
A run stopped by a signal is never a pass: Ctrl-C or SIGTERM drains and reports what was
read, then exits 3 (1 with ``--fail-on-violation`` if something broke); before the monitor
has connected, or a second time, it stops at once with one line and exit status 3.

Start and stop are handshakes, not pauses. Once the monitor has read everything that was
on the bus when it subscribed, it writes one JSON line to stderr,
``{"monitor": "caught-up", "sequence": {STREAM: POSITION}, ...}``; on stop (Ctrl-C,
SIGTERM, ``--duration``) it first reads everything the broker had accepted until then,
writes ``{"monitor": "drained", "complete": true, ...}`` and only then closes. A drain
that does not finish within ``--drain-timeout`` makes the run incomplete (exit status 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import click

from sagaspec.errors import UsageError

__all__ = ["monitor", "run_monitor"]

_BROKER_SCHEMES = ("nats", "tls", "amqp", "amqps", "redis", "rediss")


class _Session:
    """One monitoring session: transport, engine, outputs."""

    def __init__(self, adapter: str, timeout: float, out: TextIO, from_start: bool,
                 spec: Any = None, at_rest: bool = False) -> None:
        from sagaspec.adapters.broker import open_transport
        from sagaspec.conformance.monitor import SagaMonitor
        from sagaspec.conformance.tracecheck import SpecMonitor

        scheme = adapter.split("://", 1)[0].lower() if "://" in adapter else ""
        if scheme not in _BROKER_SCHEMES:
            raise UsageError(
                f"monitor needs a broker URL (nats://, amqp://, redis://), got {adapter!r}"
            )
        self.transport = open_transport(adapter)
        # The shipped design's live checks; for a spec file, its log also validated against it.
        self.engine = SagaMonitor(timeout=timeout) if spec is None else SpecMonitor(spec, timeout=timeout)
        self.at_rest = at_rest
        self.out = out
        self.from_start = from_start
        self.started = time.monotonic()
        self.last_event = 0.0
        self.recent: list[Any] = []
        #: Stream position per stream once caught up at the start, and once drained at
        #: the stop (see :func:`run_monitor`); ``complete`` is false if the drain timed out.
        self.caught_up: dict[str, int | str] | None = None
        self.caught_up_at: float | None = None
        self.drained: dict[str, int | str] | None = None
        self.complete = False

    def reached(self, position: dict[str, int | str] | None, callback: Any) -> None:
        """Record the catch-up handshake and tell the caller."""
        self.caught_up = position
        self.caught_up_at = self.now()
        if callback is not None:
            callback(self)

    def check_transport(self) -> None:
        """Raise what broke the broker connection, if anything did."""
        failure = self.transport.failure
        if failure is not None:
            from sagaspec.errors import BrokerUnavailable, SagaspecError

            if isinstance(failure, SagaspecError):
                raise failure
            raise BrokerUnavailable(f"lost the broker: {type(failure).__name__}: {failure}")

    def status(self, state: str) -> str:
        """One machine-readable status line: ``{"monitor": state, "sequence": ..., ...}``."""
        position = self.caught_up if state == "caught-up" else self.drained
        line = {"monitor": state, "sequence": position, "events": self.engine.events,
                "seconds": round(self.now(), 3)}
        if state != "caught-up":
            line["complete"] = self.complete
        return json.dumps(line)

    def now(self) -> float:
        return time.monotonic() - self.started

    def emit(self, violations: list[Any]) -> None:
        for v in violations:
            self.out.write(v.ndjson() + "\n")
            self.recent.append(v)
        if violations:
            self.out.flush()
            del self.recent[:-8]

    async def on_message(self, msg: Any) -> None:
        from sagaspec.adapters.base import RawMessage
        from sagaspec.adapters.broker import decode_message

        item = decode_message(msg.body, msg.headers)
        if isinstance(item, RawMessage):
            item = RawMessage(item.payload, msg.route, item.reason)
        self.last_event = self.now()
        self.emit(self.engine.observe(item, now=self.last_event))

    def table(self) -> Any:
        return _table(self.engine, f"sagaspec monitor: {self.transport.describe()}", self.recent,
                      self.now())


def _table(engine: Any, title: str, recent: list[Any], seconds: float) -> Any:
    """The live table: sagas by state, then the spec's events by role, violations."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("sagas / events")
    t.add_column("count", justify="right")
    t.add_column("")
    for k, (_title, rows) in enumerate(engine.overview()):
        if k:
            t.add_section()
        for label, n, note in rows:
            t.add_row(label, str(n), note, style="red" if label == "stuck" and n else None)
    t.add_section()
    t.add_row("events", str(engine.events), f"+{engine.copies} copies")
    t.add_row("violations", str(len(engine.violations)), "",
              style="bold red" if engine.violations else "green")
    for v in recent[-5:]:
        t.add_row(f"  {v.check}", "", (v.sagaId or "-")[:40], style="red")
    t.caption = f"{seconds:.0f}s, timeout {engine.timeout:g}s; Ctrl-C to stop"
    return t


async def run_monitor(
    adapter: str,
    *,
    timeout: float = 30.0,
    duration: float | None = None,
    out: TextIO = sys.stdout,
    from_start: bool = False,
    live: bool = False,
    refresh: float = 0.5,
    stop: asyncio.Event | None = None,
    announce: Any = None,
    on_caught_up: Any = None,
    drain_timeout: float = 10.0,
    spec: Any = None,
    at_rest: bool = False,
) -> _Session:
    """Monitor until ``duration`` elapses or ``stop`` is set; returns the session.

    The start and stop are a handshake with the broker, not a pause: once the observer
    has handled every message that was on the bus when it subscribed (all of the history
    with ``from_start``), ``session.caught_up`` holds the stream position it reached and
    ``on_caught_up(session)`` is called. On stop it first drains: it handles every message
    the broker had accepted at the stop before closing (``session.drained``, or ``None``
    and ``session.complete`` false if ``drain_timeout`` seconds were not enough).
    """
    session = _Session(adapter, timeout, out, from_start, spec, at_rest)
    stop = stop or asyncio.Event()
    live_ctx: Any = contextlib.nullcontext()
    catching_up: asyncio.Future[Any] | None = None
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await session.transport.connect()  # in the try: a cancelled connect is closed too
        # ?create=1 declares a missing stream / exchange, as for the adapters (the error
        # for a missing one suggests it), so the monitor can start before the services.
        await session.transport.ensure_topology(create=session.transport.config.create)
        await session.transport.observe(session.on_message, from_start=from_start)
        session.started = time.monotonic()
        if announce is not None:
            announce(session)
        catching_up = asyncio.ensure_future(session.transport.sync_observer())
        if live:
            from rich.console import Console
            from rich.live import Live

            live_ctx = Live(session.table(), console=Console(stderr=True),
                            refresh_per_second=max(1, int(1 / refresh)), transient=False)
        with live_ctx as view:
            while not stop.is_set():
                if catching_up is not None and catching_up.done():
                    session.reached(catching_up.result(), on_caught_up)  # raises what broke it
                    catching_up = None
                if duration is not None and session.now() >= duration:
                    break
                session.check_transport()
                session.emit(session.engine.tick(now=session.now()))
                if view is not None:
                    view.update(session.table())
                wait = refresh if duration is None else max(0.0, min(refresh, duration - session.now()))
                await asyncio.wait([f for f in (stopped, catching_up) if f is not None], timeout=wait,
                                   return_when=asyncio.FIRST_COMPLETED)
            if catching_up is not None and catching_up.done():
                session.reached(catching_up.result(), on_caught_up)
            elif catching_up is not None:
                catching_up.cancel()
            # The stop handshake: everything the broker accepted before now is handled.
            session.drained = await session.transport.sync_observer(timeout=drain_timeout)
            session.complete = session.drained is not None
            # Everything drained: the timeouts, the whole log validated for a spec file, and
            # with at_rest (the system went quiet) the spec's at_rest properties.
            session.emit(session.engine.final(now=session.now(), at_rest=at_rest))
            if view is not None:
                view.update(session.table())
    finally:
        for f in (stopped, catching_up):
            if f is not None and not f.done():
                f.cancel()
        await session.transport.close()
    return session


@click.command()
@click.option("--adapter", "adapter", default=None, metavar="URL",
              help="Broker of the running system: nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/, "
                   "redis://HOST:PORT/DB, with the same naming parameters as the adapters "
                   "(?ns=, ?stream=, ?exchange=, ?subject_prefix=, ...).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Flag a saga that has not settled this many seconds after its first event.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--ndjson", "ndjson", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="Write violations here as NDJSON ('-' is stdout).")
@click.option("--fail-on-violation", is_flag=True, help="Exit with status 1 if any violation was found.")
@click.option("--from-start", is_flag=True,
              help="Replay the stream from its beginning first (NATS, Redis; RabbitMQ keeps no history).")
@click.option("--table/--no-table", default=None,
              help="Live table on stderr: sagas by state and the spec's events by role "
                   "(default: when stderr is a terminal).")
@click.option("--summary-json", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Also write the final summary as JSON to this file ('-' is stdout).")
@click.option("--drain-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="On stop, seconds allowed to handle what was already on the bus; if not "
                   "enough, the run is incomplete (exit status 3).")
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              metavar="EVENTS.ndjson",
              help="Validate a recorded event log offline instead of a live bus (trace validation "
                   "against --design).")
@click.option("--design", "--spec", "design", metavar="NAME|FILE", default="corrected", show_default=True,
              help="The saga spec the events must follow (a shipped design or a spec file). "
                   "For a spec file the live log is also validated handling by handling, as "
                   "--from-file does.")
@click.option("--at-rest", is_flag=True,
              help="The system is quiet at the end (of the file, or when the live run stops), so "
                   "the spec's at_rest properties must hold there too.")
def monitor(adapter: str | None, timeout: float, duration: float | None, ndjson: str,
            fail_on_violation: bool, from_start: bool, table: bool | None,
            summary_json: str | None, drain_timeout: float, from_file: str | None,
            design: str, at_rest: bool) -> None:
    """Check a running saga system's events live against its spec: every event valid,
    the spec's properties for every saga, every saga settled within --timeout. A run
    stopped by Ctrl-C or SIGTERM drains, reports and exits 3: only --duration can pass.

    With --from-file, validate a recorded log of any saga spec offline: every handling
    the log shows must be one the spec allows (exit 0 when it follows the spec, 1 with
    the first departure and the log up to it as a sequence diagram).
    """
    if from_file is not None:
        if adapter is not None:
            raise UsageError("use either --adapter (a live bus) or --from-file (a recorded log), not both")
        _validate_file(from_file, design, at_rest)
        return
    if adapter is None:
        raise UsageError("give --adapter URL (a live bus) or --from-file EVENTS.ndjson (a recorded log)")
    # Signals are handled from here on, before anything slow (spec, imports, connect):
    # a Ctrl-C at any moment of the run is a clean, reported stop, never a traceback.
    signals = _Signals()
    with signals:
        _monitor_live(signals, adapter, timeout, duration, ndjson, fail_on_violation, from_start,
                      table, summary_json, drain_timeout, design, at_rest)


class _Signals:
    """SIGINT and SIGTERM for the whole command. The first, once the monitor is
    connected, stops it through the stop handshake (a drained, partial result); before
    that, or a second time, it abandons the run at once."""

    #: Seconds between the cancellations of a run that is abandoned but has not ended.
    RECANCEL = 0.5

    def __init__(self) -> None:
        self.received: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.task: asyncio.Task[Any] | None = None
        self.session: _Session | None = None  # set once connected and subscribed
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._on)
            except ValueError:  # not the main thread (a caller's thread): its handlers rule
                break
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _on(self, signum: int, _frame: Any) -> None:
        self.received.append(signal.Signals(signum).name)
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # not running yet: looked at before connecting
        if len(self.received) == 1 and self.session is not None and self.stop is not None:
            loop.call_soon_threadsafe(self.stop.set)
            loop.call_soon_threadsafe(lambda: click.echo(
                "stopping: reading what is already on the bus (again to stop at once)", err=True))
        elif self.task is not None:
            loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        """Cancel the run, and again every ``RECANCEL`` seconds until it has ended: one
        ``Task.cancel()`` is not enough. ``asyncio.wait_for`` (Python 3.11) swallows a
        cancellation that lands just as what it awaits completes, and the broker clients
        await through it: nats-py's connect, Ctrl-C'd the moment its TCP connection was
        made, went on to wait the whole connect timeout for a silent server's INFO line."""
        task, loop = self.task, self.loop
        if task is None or task.done() or loop is None or loop.is_closed():
            return
        task.cancel()
        loop.call_later(self.RECANCEL, self._cancel)

    @property
    def name(self) -> str:
        return " then ".join(dict.fromkeys(self.received)) or "an interrupt"


def _interrupted(signals: _Signals, what: str) -> None:
    click.echo(f"interrupted ({signals.name}) {what}", err=True)
    sys.exit(3)


def _monitor_live(signals: _Signals, adapter: str, timeout: float, duration: float | None,
                  ndjson: str, fail_on_violation: bool, from_start: bool, table: bool | None,
                  summary_json: str | None, drain_timeout: float, design: str, at_rest: bool) -> None:
    """``monitor --adapter``: the live run (signals already handled by ``signals``)."""
    spec = None
    if design != "corrected":
        from sagaspec.spec.sagafile import resolve_spec

        # Any other saga: its live log validated against its spec as it grows.
        spec = resolve_spec(design)
    live = sys.stderr.isatty() if table is None else table
    if ndjson == "-":
        out: TextIO = sys.stdout
        close = False
    else:
        try:
            out = open(Path(ndjson), "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"--ndjson {ndjson}: cannot write: {exc.strerror}") from None
        close = True

    async def main() -> Any:
        stop = asyncio.Event()
        signals.loop, signals.stop = asyncio.get_running_loop(), stop
        signals.task = asyncio.current_task()
        if signals.received:  # came between the check below and the loop's start
            raise asyncio.CancelledError

        def announce(session: _Session) -> None:
            signals.session = session
            if from_start and session.transport.NAME == "rabbitmq":
                click.echo("warning: RabbitMQ keeps no history for a new queue; --from-start "
                           "sees only new events", err=True)
            where = "stdout" if ndjson == "-" else ndjson
            click.echo(f"monitoring {session.transport.describe()} (saga timeout {timeout:g}s); "
                       f"violations as NDJSON to {where}", err=True)

        def caught_up(session: _Session) -> None:
            click.echo(session.status("caught-up"), err=True)

        return await run_monitor(adapter, timeout=timeout, duration=duration, out=out,
                                 from_start=from_start, live=live, stop=stop, announce=announce,
                                 on_caught_up=caught_up, drain_timeout=drain_timeout,
                                 spec=spec, at_rest=at_rest)

    try:
        if signals.received:
            _interrupted(signals, "before connecting to the broker: nothing was monitored")
        try:
            session = asyncio.run(main())
        except (asyncio.CancelledError, KeyboardInterrupt):
            seen = signals.session
            if seen is None:
                _interrupted(signals, "while connecting to the broker: nothing was monitored")
            violations = ", ".join(f"{n} {c}" for c, n in seen.engine.violation_counts().items())
            _interrupted(signals, f"again while draining, stopped at once after "
                                  f"{seen.engine.events} events (violations: {violations or 'none'}); "
                                  "the events still on the bus were not read")
    finally:
        if close:
            out.close()
    click.echo(session.status("drained"), err=True)
    summary = session.engine.summary()
    summary["seconds"] = round(session.now(), 3)
    summary["caught_up"] = session.caught_up
    summary["drained"] = session.drained
    summary["complete"] = session.complete
    summary["interrupted"] = bool(signals.received)
    states = ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n) or "none"
    violations = ", ".join(f"{n} {c}" for c, n in summary["violations"].items()) or "none"
    click.echo(
        f"monitored {summary['seconds']:.1f}s on {session.transport.describe()}: "
        f"{summary['sagas']} sagas ({states}), {summary['events']} events "
        f"(+{summary['copies']} redelivered copies), violations: {violations}",
        err=True,
    )
    if summary_json:
        text = json.dumps(summary, indent=2, sort_keys=True)
        if summary_json == "-":
            click.echo(text)
        else:
            Path(summary_json).write_text(text + "\n", encoding="utf-8")
    if not session.complete:
        click.echo(f"incomplete: events still unread on the bus after the {drain_timeout:g}s "
                   "drain (raise --drain-timeout); the verdict covers only what was read", err=True)
    if signals.received:
        click.echo(f"interrupted ({signals.name}) after {summary['seconds']:.1f}s: the verdict "
                   "covers the events read until then, so it is not a pass (--duration S ends "
                   "a run that can pass)", err=True)
    if fail_on_violation and session.engine.violations:
        sys.exit(1)
    if not session.complete or signals.received:
        sys.exit(3)


def _validate_file(path: str, design: str, at_rest: bool) -> None:
    """``monitor --from-file``: trace validation of a recorded log."""
    from sagaspec.conformance.tracecheck import read_log, validate_log
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(design)
    report = validate_log(spec, read_log(path), at_rest=at_rest)
    # The name `sagaspec check` gives the design: order-saga/corrected for a shipped one.
    name = f"order-saga/{spec.shipped}" if spec.shipped else spec.name
    note = " (approximate: too many readings of the log to keep them all)" if report.approximate else ""
    head = (f"{path}: {report.events} events, {report.sagas} sagas, {report.handlings} handlings "
            f"checked against {name}{note}")
    if report.ok:
        click.echo(f"{head}: follows the spec")
        return
    click.echo(f"{head}: VIOLATION")
    click.echo(f"  {report.failures[0]}")
    click.echo("  the log up to it:")
    click.echo("\n".join("    " + line for line in report.diagram.splitlines()))
    sys.exit(1)
