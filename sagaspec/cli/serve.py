"""``sagaspec serve``: the reference services behind the HTTP wire contract.

Starts the reference services of a design (the spec interpreter running the design's
spec; optionally a mutant), either the whole
choreography on an in-memory bus (``--participant system``) or one participant, and
serves it on loopback until Ctrl-C. ``--port 0`` picks a free port; the first line on
stdout always names the URL, so scripts can read it, the second the run's token (required
on every POST and DELETE; ``--no-auth`` switches that off, for tests).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from sagaspec.errors import InputError, UsageError

__all__ = ["serve"]


def _world(path: str | None) -> dict | None:
    if path is None:
        return None
    data = _read_world_file(path, "with stock / declined_users / decline_over")
    stock = data.get("stock", {})
    if not isinstance(stock, dict) or not all(isinstance(v, int) and v >= 0 for v in stock.values()):
        raise InputError(f"{path}: stock: expected an object of sku -> non-negative integer")
    unknown = set(data) - {"stock", "declined_users", "decline_over"}
    if unknown:
        raise InputError(f"{path}: unknown {'field' if len(unknown) == 1 else 'fields'} "
                         f"{', '.join(sorted(unknown))}; "
                         "expected stock, declined_users, decline_over")
    return data


def _store_factory(spec: str):
    from sagaspec.examples.store import MemoryStore, SQLiteStore

    if spec == "memory":
        return lambda _name: MemoryStore()
    kind, _, where = spec.partition(":")
    if kind != "sqlite" or not where:
        raise UsageError(f"invalid --store {spec!r}; expected 'memory' or 'sqlite:DIRECTORY'")
    folder = Path(where)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--store {spec}: cannot create {folder}: {exc.strerror}") from None
    opened: set[str] = set()

    def factory(name: str) -> SQLiteStore:
        path = folder / f"{name}.sqlite3"
        if name in opened:  # POST /reset: forget everything, durably
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        opened.add(name)
        return SQLiteStore(str(path))

    return factory


class _ShippedDesign(click.Choice):
    """``--design``: a shipped design's name; a file given there points to ``--spec FILE``."""

    def convert(self, value, param, ctx):
        if value in self.choices:
            return value
        raise click.UsageError(f"--design takes {' or '.join(self.choices)}, not {value!r}; "
                               "for a spec file use --spec FILE", ctx)


@click.command()
@click.option("--design", default="corrected", show_default=True,
              type=_ShippedDesign(["corrected", "seed"]),
              help="Which shipped design the services implement (a spec file: --spec FILE).")
@click.option("--mutant", default=None, metavar="NAME",
              help="Serve a mutant of the reference services (see --list-mutants; with the "
                   "design, also any mutant of its spec: serve --spec corrected --list-mutants).")
@click.option("--engine", default="interpreter", show_default=True,
              type=click.Choice(["interpreter", "hand-written"]),
              help="The design's services: the interpreter running its spec, or the hand-written classes.")
@click.option("--spec", "spec_file", default=None, metavar="FILE",
              help="Serve the reference services of any saga spec (a .saga.yaml file): the "
                   "interpreter of the spec; --world is then a JSON file of knob values.")
@click.option("--participant", default="system", show_default=True, metavar="NAME|system",
              help="One participant alone, or the whole choreography on an in-memory bus "
                   "(order, payment, inventory, notification; with --spec, the spec's participants).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to bind (127.0.0.1, ::1 or localhost only).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port; 0 picks a free one (printed on the first line).")
@click.option("--world", "world_file", type=click.Path(dir_okay=False), default=None,
              help="JSON file with the initial world: stock, declined_users, decline_over.")
@click.option("--store", "store_spec", default="memory", show_default=True,
              help="'memory' or 'sqlite:DIRECTORY' (one SQLite file per participant).")
@click.option("--seed", type=int, default=None,
              help="System only: deliver bus messages in a seeded random order (reordering).")
@click.option("--crash-point", default="before-commit", show_default=True,
              type=click.Choice(["before-commit", "after-commit", "after-publish"]),
              help="Where POST /crash/{participant} kills the next handling.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="POST every published event (structured CloudEvent) to URL; repeatable.")
@click.option("--no-auth", is_flag=True,
              help="Accept POST and DELETE without the run's token (tests only: any local "
                   "program could then drive the services).")
@click.option("--list-mutants", is_flag=True, help="List the mutants and exit.")
@click.option("--log-requests", is_flag=True, help="Log every HTTP request to stderr.")
def serve(design, mutant, participant, host, port, world_file, store_spec, seed, crash_point,
          webhooks, list_mutants, log_requests, no_auth=False, spec_file=None, engine="interpreter"):
    """Serve the reference services over the HTTP wire contract (loopback only).

    \b
    Examples:
      sagaspec serve --port 8080
      sagaspec serve --participant payment --mutant refund-without-charge --port 0
      sagaspec conform --adapter http://127.0.0.1:8080     # finds the token serve saved
      sagaspec serve --spec travel.saga.yaml --port 8766   # any saga's reference services
      sagaspec serve --spec travel.saga.yaml --list-mutants
    """
    if spec_file is not None:
        return _serve_spec(spec_file, mutant, participant, host, port, world_file, store_spec, seed,
                           webhooks, list_mutants, log_requests, no_auth)
    from sagaspec.spec.sagafile import resolve_spec

    known = ("system", *(p.name for p in resolve_spec(design).participants))
    if participant not in known:
        raise click.BadParameter(f"{participant!r} is not one of {', '.join(map(repr, known))} "
                                 "(other participants: --spec FILE)", param_hint="'--participant'")
    from sagaspec.examples.mutants import MUTANTS, get_mutant

    if list_mutants:
        width = max(len(n) for n in MUTANTS)
        for m in MUTANTS.values():
            click.echo(f"{m.name:<{width}}  {m.summary}")
        return
    if seed is not None and participant != "system":
        raise UsageError(f"--seed orders the deliveries of the in-memory bus of --participant system; "
                         f"{participant} alone has no bus to reorder")
    if mutant and engine == "hand-written":
        get_mutant(mutant)
    from sagaspec.examples.httpserver import SagaHTTPServer
    from sagaspec.examples.system import make_target

    target = make_target(participant, design, mutant, world=_world(world_file),
                         store_factory=_store_factory(store_spec), seed=seed, crash_point=crash_point,
                         engine=engine)
    from sagaspec.examples.httpserver import check_webhook

    for url in webhooks:
        try:
            check_webhook(url)
        except UsageError as exc:
            raise UsageError(f"--{exc}") from None
    server = SagaHTTPServer(target, host=host, port=port, participant=participant, design=design,
                            mutant=mutant, webhooks=tuple(webhooks), quiet_log=not log_requests,
                            token=None if no_auth else "auto")
    label = (f"design={design} participant={participant}" + (f" mutant={mutant}" if mutant else "")
             + (" engine=hand-written" if engine == "hand-written" else ""))
    _run_server(server, label)


def _serve_spec(spec_file, mutant, participant, host, port, world_file, store_spec, seed, webhooks,
                list_mutants, log_requests, no_auth) -> None:
    """``serve --spec FILE``: the spec interpreter's services (or a mutant of them)."""
    from sagaspec.conformance.spec_conform import spec_service_factory
    from sagaspec.examples.httpserver import SagaHTTPServer, check_webhook
    from sagaspec.examples.spec_target import SpecTarget
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(spec_file)
    if list_mutants:
        from sagaspec.model.mutation import mutants

        found = mutants(spec)
        width = max((len(m.name) for m in found), default=0)
        for m in found:
            click.echo(f"{m.name:<{width}}  {m.description}")
        return
    if seed is not None and participant != "system":
        raise UsageError(f"--seed orders the deliveries of the in-memory bus of --participant system; "
                         f"{participant} alone has no bus to reorder")
    names = [p.name for p in spec.participants]
    if participant != "system" and participant not in names:
        raise UsageError(f"--participant {participant!r}: {spec.name} has {', '.join(names)} (or system)")
    world = _spec_world(world_file) if world_file is not None else None
    stores = None if store_spec == "memory" else _store_factory(store_spec)
    target = SpecTarget(spec_service_factory(spec, mutant, stores), participant, world, seed=seed)
    for url in webhooks:
        try:
            check_webhook(url)
        except UsageError as exc:
            raise UsageError(f"--{exc}") from None
    server = SagaHTTPServer(target, host=host, port=port, participant=participant, design=spec.name,
                            mutant=mutant, webhooks=tuple(webhooks), quiet_log=not log_requests,
                            token=None if no_auth else "auto")
    label = f"spec={spec.name} participant={participant}" + (f" mutant={mutant}" if mutant else "")
    _run_server(server, label)


def _spec_world(path: str) -> dict:
    return _read_world_file(path, "of world knob values")


def _read_world_file(path: str, what: str) -> dict:
    """A world file as a JSON object, read within the message limits; one-line errors."""
    from sagaspec.spec._jsonlimits import MESSAGE_LIMITS, JSONLimitError, loads, read_limited

    try:
        data = loads(read_limited(path, MESSAGE_LIMITS), MESSAGE_LIMITS)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the world file: {exc.strerror}") from None
    except JSONLimitError as exc:
        raise InputError(f"{path}: {exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: not JSON: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object {what}")
    return data


def _run_server(server, label: str) -> None:
    click.echo(f"sagaspec serve: {label} listening on {server.url}", nl=True)
    if server.token is None:
        click.echo("sagaspec serve: --no-auth: POST and DELETE need no token")
    else:
        saved = f"; saved in {server.token_file}" if server.token_file else ""
        click.echo(f"sagaspec serve: token {server.token} (send 'Authorization: Bearer TOKEN' on "
                   f"POST and DELETE{saved}, where sagaspec conform finds it)")
    click.get_text_stream("stdout").flush()

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        click.echo(f"sagaspec serve: stopped after {server.delivered} deliveries, "
                   f"{server.published} published events", err=True)
