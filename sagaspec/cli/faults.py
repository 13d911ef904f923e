"""``sagaspec faults``: kill real service processes on a real broker and check what survives.

Starts the reference services of the order design (the interpreter running the order
spec) as processes on the broker (fresh names, removed afterwards), places ``--sagas`` orders with declined payments and short
stock mixed in, SIGKILLs a random service ``--kills`` times during the run and restarts
it, then prints: sagas, terminal, lost, each of the spec's properties (held or how often
violated; the stock ones on the services' stores, against the stock set up per sku),
kills. Exit status 0 when every property held, 1 if one broke, 2 on a usage
error, 3 when the run was interrupted. The first Ctrl-C or SIGTERM stops placing orders and reports a partial
result; a second one stops at once. Either way the service processes, the broker names
and the temporary folder of the run are removed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import click

from sagaspec.cli._types import Finite
from sagaspec.errors import UsageError

__all__ = ["faults"]


@click.command()
@click.option("--adapter", "broker", required=True, metavar="URL",
              help="Broker: nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/ or redis://HOST:PORT/DB "
                   "(naming parameters as for the adapters; a fresh ?ns= is chosen).")
@click.option("--sagas", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many sagas the run starts.")
@click.option("--kills", type=click.IntRange(min=0), default=5, show_default=True,
              help="How many times a random service is SIGKILLed and restarted.")
@click.option("--seed", type=int, default=None, help="Seed of the workload and the kills.")
@click.option("--db", default=None, metavar="URL|DIR",
              help="The services' stores: postgresql://... (one schema per service) or a "
                   "directory (one SQLite file per service). Default: SQLite files in a "
                   "temporary folder.")
@click.option("--mutant", default=None,
              help="Run a shipped mutant instead of the reference services (a hand-written mutant's "
                   "name runs its operator mutant of the order spec).")
@click.option("--kill", "kill_services", default=None, metavar="LIST",
              help="Comma list of services that may be killed (default: every participant).")
@click.option("--decline-rate", type=Finite(0, 1), default=0.2, show_default=True,
              help="Share of orders from a user whose card is declined (order saga only).")
@click.option("--short-rate", type=Finite(0, 1), default=0.25, show_default=True,
              help="Share of orders also for the scarce sku, whose stock runs out (order saga only).")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Sagas in flight at most.")
@click.option("--settle-timeout", type=Finite(1, 86400), default=60.0, show_default=True,
              help="Every saga must be terminal this many seconds after the last restart.")
@click.option("--no-crash-points", is_flag=True,
              help="Never arm a restarted service to die at before-commit/after-commit/after-publish.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead.")
@click.option("--spec", "spec", default=None, metavar="FILE",
              help="Any saga spec: run its participants as the reference interpreter, kill them, "
                   "and judge the bus log with the spec's own properties (trace validation).")
@click.pass_context
def faults(ctx: click.Context, broker: str, sagas: int, kills: int, seed: int | None, db: str | None,
           mutant: str | None, kill_services: str, decline_rate: float, short_rate: float,
           concurrency: int, settle_timeout: float, no_crash_points: bool, as_json: bool,
           spec: str | None) -> None:
    """Kill and restart service processes during a run of sagas; check no saga is lost
    and the spec's properties hold.

    With --spec FILE, any saga: every participant of the spec runs as a process, and the
    verdict is the spec's: every saga gets an outcome, the bus log follows the spec.
    """
    from sagaspec.conformance.faults import FaultPlan, FaultRunner

    db = _check_db(db)
    if spec is not None:
        order_only = [f"--{n.replace('_', '-')}" for n in ("mutant", "kill_services", "decline_rate",
                                                             "short_rate", "concurrency")
                      if ctx.get_parameter_source(n) not in (None, click.core.ParameterSource.DEFAULT)]
        if order_only:
            raise UsageError(f"{', '.join(order_only).replace('--kill-services', '--kill')}: options of the "
                             "order saga's reference services, not of --spec (mutate a spec with sagaspec mutate)")
        _spec_faults(broker, spec, sagas, kills, seed, db, settle_timeout, not no_crash_points, as_json)
        return
    plan = FaultPlan(
        sagas=sagas, kills=kills, seed=seed, workload={"decline_rate": decline_rate, "short_rate": short_rate},
        concurrency=concurrency, settle_timeout=settle_timeout, crash_points=not no_crash_points,
        services=tuple(s.strip() for s in (kill_services or "").split(",") if s.strip()),
    )
    tty = sys.stderr.isatty()

    def progress(p: dict) -> None:
        line = (f"{p['phase']}: {p['placed']}/{p['sagas']} placed, {p['terminal']} terminal, "
                f"{p['kills']} kills, {p['violations']} violations, {p['seconds']:.0f}s")
        click.echo(("\r" + line.ljust(100)) if tty else line, err=True, nl=not tty)

    from sagaspec.examples.cluster import Cluster

    _finish(FaultRunner(broker, plan, db=db, mutant=mutant, progress=progress, launcher=Cluster),
            tty, as_json)


def _finish(runner, tty: bool, as_json: bool) -> None:
    """Run ``runner`` (SIGINT/SIGTERM handled), print its report, exit 0 / 1 / 3."""
    report = asyncio.run(_run(runner))
    if tty:
        click.echo("", err=True)
    if report is None:
        click.echo("interrupted: stopped at once; service processes, broker names and "
                   "temporary files removed", err=True)
        sys.exit(3)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    if report.interrupted:
        sys.exit(3)
    if not report.ok:
        sys.exit(1)


async def _run(runner):
    """The run, with SIGINT and SIGTERM: the first stops placing orders (a partial
    report), the second cancels the run; the runner's clean-up runs in both cases."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(runner.run_async())
    await asyncio.sleep(0)  # let the run install its own handlers first: these replace them
    signals = []

    def on_signal() -> None:
        signals.append(1)
        if len(signals) == 1:
            runner.stop()
        else:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        report = await task
    except asyncio.CancelledError:
        return None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
            # A signal from here to the exit (the report, the loop's shutdown) is noted, not
            # a KeyboardInterrupt: that killed the process by SIGINT (exit -2) with a
            # traceback when a second Ctrl-C came just as the run finished.
            signal.signal(sig, lambda *_: signals.append(1))
    if signals:
        report.interrupted = True
    return report


def _check_db(db: str | None) -> str | None:
    """``--db`` as the runners take it; one line naming what is wrong otherwise."""
    from sagaspec.examples.pgstore import is_postgres_url

    if db is None or is_postgres_url(db):
        return db
    if "://" in db:
        scheme = db.split("://", 1)[0]
        raise UsageError(f"--db {db}: unknown database scheme {scheme!r}; expected "
                         "postgresql://USER@HOST:PORT/DB or a directory for SQLite files")
    path = Path(db)
    if path.exists() and not path.is_dir() or path.suffix in (".db", ".sqlite", ".sqlite3"):
        raise UsageError(f"--db {db}: one SQLite file would be shared by every service (each "
                         "needs its own database); give a directory, one file per service is "
                         "made in it, or postgresql://...")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--db {db}: cannot create the directory: {exc.strerror}") from None
    return str(path.resolve()) + os.sep


def _spec_faults(broker: str, spec: str, sagas: int, kills: int, seed: int | None, db: str | None,
                 settle_timeout: float, crash_points: bool, as_json: bool) -> None:
    from sagaspec.conformance.spec_faults import SpecFaultRunner

    tty = sys.stderr.isatty()

    def progress(p: dict) -> None:
        line = (f"{p['phase']}: {p['started']}/{p['sagas']} started, {p['settled']} settled, "
                f"{p['kills']} kills, {p['seconds']:.0f}s")
        click.echo(("\r" + line.ljust(100)) if tty else line, err=True, nl=not tty)

    from sagaspec.examples.cluster import Cluster

    runner = SpecFaultRunner(broker, spec, sagas=sagas, kills=kills, seed=seed, db=db,
                             settle_timeout=settle_timeout, crash_points=crash_points, progress=progress,
                             launcher=Cluster)
    _finish(runner, tty, as_json)
