"""A failing Hypothesis test reports its falsifying example, warnings being errors.

Hypothesis writes a failing example's patch file through libcst, imported at report
time; that import warns (``mypy_extensions.TypedDict is deprecated``), and with the
suite's warnings-as-errors policy the warning turned every failing Hypothesis test into
a pytest INTERNALERROR that hid the example. Only that warning, only while a report is
made, is let through: the policy stays "error" for the tests themselves."""

from __future__ import annotations

import warnings

import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "mypy_extensions.TypedDict is deprecated", DeprecationWarning)
        yield
