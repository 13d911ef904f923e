"""Every command of the ``sagaspec`` CLI, for tests that go through them all."""

from __future__ import annotations

from collections.abc import Iterator

import click

from sagaspec.cli import main


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """(words, command) of every (sub)command, the lazily loaded ones too."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*prefix, name))
