"""A Ctrl-C that lands after the fault run finished, while the report prints, is noted and
never a KeyboardInterrupt (which killed the process by SIGINT, exit -2, mid clean-up)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from sagaspec.cli.faults import _run


class _Report:
    interrupted = False


class _Runner:
    async def run_async(self):
        await asyncio.sleep(0.01)
        return _Report()

    def stop(self):
        pass


def test_a_signal_after_the_run_is_noted_not_raised():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = asyncio.run(_run(_Runner()))
        assert report is not None and report.interrupted is False
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs here at the latest
        except KeyboardInterrupt:
            pytest.fail("a Ctrl-C after the run raised KeyboardInterrupt")
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        for s, h in before.items():
            signal.signal(s, h)
