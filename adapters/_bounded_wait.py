"""Waits on a broker client that end when they say, whatever the client does.

``asyncio.wait_for`` (Python 3.11) is no bound for a clean-up: on its timeout it cancels
what it waits for and then waits, without limit, for that to end. And it swallows a
cancellation that lands just as what it awaits completes (it returns the result
instead), so a client that awaits through it (nats-py's connect: the TCP connection,
then the server's INFO line) can carry on after one ``Task.cancel()``, into a wait as
long as the connect timeout. Here a task is waited for with :func:`asyncio.wait`, which
never cancels and never outstays its timeout, and is cancelled again until it ends.
:func:`bounded` is ``asyncio.wait_for`` without those two faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["bounded", "retrieve", "stop_task", "stop_tasks", "within"]


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


async def stop_tasks(tasks: list[asyncio.Future[Any]], seconds: float, every: float = 0.1) -> bool:
    """:func:`stop_task` for several tasks at once, within ``seconds`` in all. True if all
    ended. The caller's own cancellation is raised at once (every task cancelled by then)."""
    pending = set(tasks)
    for task in pending:
        task.add_done_callback(retrieve)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(every, left))
    return not pending


async def bounded(awaitable: Awaitable[Any], seconds: float, grace: float = 1.0) -> Any:
    """``asyncio.wait_for(awaitable, seconds)`` that never swallows the caller's
    cancellation and never waits longer than ``seconds + grace``.

    Its result or its exception if it ends within ``seconds``. If not, it is cancelled
    (again every 0.1 s) and given ``grace`` seconds to end: ended so with a result, that
    result (as ``wait_for``); otherwise :class:`TimeoutError`, whether or not it ended.
    The caller's cancellation, even one that lands as ``awaitable`` completes, is raised
    (``wait_for`` returns the result then), after ``awaitable`` is stopped the same way.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        await stop_task(task, grace)
        raise
    if task.done():
        return task.result()
    if await stop_task(task, grace) and not task.cancelled():
        return task.result()
    raise TimeoutError
