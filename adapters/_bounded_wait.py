"""Waits on a broker client that end when they say, whatever the client does.

``asyncio.wait_for`` (Python 3.11) is no bound for a clean-up: on its timeout it cancels
what it waits for and then waits, without limit, for that to end. And it swallows a
cancellation that lands just as what it awaits completes (it returns the result
instead), so a client that awaits through it (nats-py's connect: the TCP connection,
then the server's INFO line) can carry on after one ``Task.cancel()``, into a wait as
long as the connect timeout. Here a task is waited for with :func:`asyncio.wait`, which
never cancels and never outstays its timeout, and is cancelled again until it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["retrieve", "stop_task", "within"]


def retrieve(task: asyncio.Future[Any]) -> None:
    """Mark ``task``'s outcome as seen (no "exception was never retrieved" at exit)."""
    if task.done() and not task.cancelled():
        task.exception()


async def within(awaitable: Awaitable[Any], seconds: float) -> bool:
    """Await ``awaitable`` for at most ``seconds``: True if it ended (its failure is
    ignored), False if not: then it is cancelled and left to end on its own. The
    caller's own cancellation is raised at once (``awaitable`` cancelled too)."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(retrieve)
    try:
        await asyncio.wait({task}, timeout=seconds)
    finally:
        task.cancel()  # nothing if it ended
    return task.done()


async def stop_task(task: asyncio.Future[Any], seconds: float, every: float = 0.1) -> bool:
    """Cancel ``task`` and wait at most ``seconds`` for it to end, cancelling it again
    every ``every`` seconds (a cancellation swallowed by ``asyncio.wait_for`` lands at
    its next wait). True if it ended."""
    task.add_done_callback(retrieve)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            break
        task.cancel()
        await asyncio.wait({task}, timeout=min(every, left))
    return task.done()
