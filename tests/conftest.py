"""Shared test fixtures, and the order in which pytest-xdist's workers take the tests."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest
from xdist_order import long_first


def _cache_bytecode() -> None:
    """Let the suite's processes cache compiled modules, outside the source tree.

    With PYTHONDONTWRITEBYTECODE set (as on some CI machines), every xdist worker and
    every CLI or service process a test starts compiled each module it imports again:
    collecting took 8.8 s of CPU per worker instead of 3.4, and a ``sagaspec`` command
    0.62 s instead of 0.26. The cache goes to a folder of its own in the temporary
    directory (PYTHONPYCACHEPREFIX, unless one is set), so the checkout and the test
    folders stay as they were; set before xdist starts its workers, which inherit it."""
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or os.path.join(
        tempfile.gettempdir(), f"sagaspec-pycache-{os.getuid()}")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix


_cache_bytecode()

pytest_plugins = ("hypothesis_reports",)

# Set in each pytest-xdist worker; a pytest run that a test starts must not inherit them.
_XDIST_VARS = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` whose inner runs are plain runs, not parts of this run's xdist worker
    (plugins such as pytest-benchmark read the worker's variables and warn)."""
    for name in _XDIST_VARS:
        monkeypatch.delenv(name, raising=False)
    return pytester


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. Much of the suite waits rather than computes
    (brokers, service processes, servers, subprocesses), so a second worker per core fills
    those waits: on a 2-core machine the suite took 4:44 on 4 workers, 5:40 on 2."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 2 * cores


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Each worker collects and must order identically (it does: the order is a function
    # of the collection); the controller schedules by that order.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items[:] = long_first(items, workers)
