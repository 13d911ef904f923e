"""The ``sagaspec`` command line: a thin click group over the library.

Each subcommand lives in its own module and is loaded lazily, so ``sagaspec --help`` stays
fast and a broken optional dependency only affects its own command.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from sagaspec.errors import SagaspecError

__all__ = ["entry", "main", "run_safely"]

# name -> "module:attribute"; modules are imported only when the command is used.
_COMMANDS: dict[str, str] = {
    "schemas": "sagaspec.cli.schemas:schemas",
    "validate": "sagaspec.cli.schemas:validate",
    "lint": "sagaspec.cli.schemas:lint",
    "check": "sagaspec.cli.check:check",
    "conform": "sagaspec.cli.conform:conform",
    "docs": "sagaspec.cli.docs:docs",
    "monitor": "sagaspec.cli.monitor:monitor",
    "faults": "sagaspec.cli.faults:faults",
    "serve": "sagaspec.cli.serve:serve",
    "spec": "sagaspec.cli.spec:spec",
    "init": "sagaspec.cli.spec:init",
    "mutate": "sagaspec.cli.mutate:mutate",
}


def _import_from_cwd() -> None:
    """Let ``pkg.module:NAME`` targets given on the command line (``--model``, ``lint
    --design``, ``inprocess:`` adapters) import from the current directory, as under
    ``python -m``; appended last, so a file there never shadows an installed module."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _available(target: str) -> bool:
    module = target.split(":", 1)[0]
    return importlib.util.find_spec(module) is not None


#: A group called without a command (click 8.2+; click 8.1 prints the help and exits 0).
_NO_COMMAND = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(n for n, t in _COMMANDS.items() if _available(t))
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in _COMMANDS or not _available(_COMMANDS[name]):
            return cmd
        module, attr = _COMMANDS[name].split(":", 1)
        return getattr(importlib.import_module(module), attr)

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # noqa: D401 - click API
        """Click's ``main``, with its usage errors as one line ``error: ...`` (exit 2)."""
        _import_from_cwd()
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
            code = rv if isinstance(rv, int) else 0
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "sagaspec"
            message = " ".join(exc.format_message().split())
            group = exc.ctx.command if exc.ctx is not None else None
            if isinstance(exc, _NO_COMMAND) and isinstance(group, click.Group):
                # click's no_args_is_help: its "message" is the whole help. No command is a
                # usage error like any other here: one line, exit 2.
                names = group.list_commands(exc.ctx)
                message = f"no command given; expected one of {', '.join(names)}"
            click.echo(f"error: {message} (see {where} --help)", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("error: aborted", err=True)
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except SagaspecError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sagaspec")
@click.pass_context
def main(ctx: click.Context) -> None:
    """sagaspec: specify, model-check and conformance-test saga choreographies."""
    ctx.ensure_object(dict)
    # A broker adapter's spawn= finds the reference services' launcher by its entry point
    # (sagaspec.launchers), as a library user's run does: nothing to register here.


def run_safely(fn, *args, **kwargs):
    """Call ``fn``; turn a :class:`SagaspecError` into a one-line message and exit code."""
    try:
        return fn(*args, **kwargs)
    except SagaspecError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def entry() -> None:
    """The process's entry point (``sagaspec``, ``python -m sagaspec``): the command line,
    then its exit status, which a late Ctrl-C can no longer change."""
    try:
        main(prog_name="sagaspec")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    # The command has printed its result and decided its status. While the interpreter
    # shuts down Python puts SIGINT's default action back, so a second Ctrl-C landing then
    # killed the process by the signal (exit -2, not the 3 of an interrupted run's report).
    # An ignored signal stays ignored through the shutdown. (Not in ``main``: click's test
    # runner calls that inside the test process.)
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: its handlers are not ours to change
        pass
    sys.exit(code)
