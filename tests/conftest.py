"""Shared test fixtures."""

from __future__ import annotations

import pytest

# Set in each pytest-xdist worker; a pytest run that a test starts must not inherit them.
_XDIST_VARS = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` whose inner runs are plain runs, not parts of this run's xdist worker
    (plugins such as pytest-benchmark read the worker's variables and warn)."""
    for name in _XDIST_VARS:
        monkeypatch.delenv(name, raising=False)
    return pytester
