"""``sagaspec faults``: kill real service processes on a real broker and check what survives.

Starts the four reference services as processes on the broker (fresh names, removed
afterwards), places ``--sagas`` orders with declined payments and short stock mixed in,
SIGKILLs a random service ``--kills`` times during the run and restarts it, then prints:
sagas, terminal, lost, double charges, leaked reservations, stock conserved, kills. Exit
status 1 if any property broke. Ctrl-C stops placing orders and reports a partial result.
"""

from __future__ import annotations

import json
import sys

import click

__all__ = ["faults"]


@click.command()
@click.option("--adapter", "broker", required=True, metavar="URL",
              help="Broker: nats://HOST:PORT, amqp://USER:PASS@HOST:PORT/ or redis://HOST:PORT/DB "
                   "(naming parameters as for the adapters; a fresh ?ns= is chosen).")
@click.option("--sagas", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--kills", type=click.IntRange(min=0), default=5, show_default=True,
              help="How many times a random service is SIGKILLed and restarted.")
@click.option("--seed", type=int, default=None, help="Seed of the workload and the kills.")
@click.option("--db", default=None, metavar="URL",
              help="postgresql://... for the services' stores (default: SQLite files).")
@click.option("--mutant", default=None, help="Run a shipped mutant instead of the reference services.")
@click.option("--kill", "kill_services", default="payment,inventory,order,notification", show_default=True,
              help="Comma list of services that may be killed.")
@click.option("--decline-rate", type=click.FloatRange(0, 1), default=0.2, show_default=True)
@click.option("--short-rate", type=click.FloatRange(0, 1), default=0.25, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Sagas in flight at most.")
@click.option("--settle-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Every saga must be terminal this many seconds after the last restart.")
@click.option("--no-crash-points", is_flag=True,
              help="Never arm a restarted service to die at before-commit/after-commit/after-publish.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead.")
def faults(broker: str, sagas: int, kills: int, seed: int | None, db: str | None, mutant: str | None,
           kill_services: str, decline_rate: float, short_rate: float, concurrency: int,
           settle_timeout: float, no_crash_points: bool, as_json: bool) -> None:
    """Kill and restart service processes during a run of sagas; check no saga is lost,
    nothing is charged twice, no stock leaks."""
    from sagaspec.conformance.faults import FaultPlan, FaultRunner

    plan = FaultPlan(
        sagas=sagas, kills=kills, seed=seed, decline_rate=decline_rate, short_rate=short_rate,
        concurrency=concurrency, settle_timeout=settle_timeout, crash_points=not no_crash_points,
        services=tuple(s.strip() for s in kill_services.split(",") if s.strip()),
    )
    tty = sys.stderr.isatty()

    def progress(p: dict) -> None:
        line = (f"{p['phase']}: {p['placed']}/{p['sagas']} placed, {p['terminal']} terminal, "
                f"{p['kills']} kills, {p['violations']} violations, {p['seconds']:.0f}s")
        click.echo(("\r" + line.ljust(100)) if tty else line, err=True, nl=not tty)

    runner = FaultRunner(broker, plan, db=db, mutant=mutant, progress=progress)
    report = runner.run()
    if tty:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        sys.exit(1)
