"""The examples in the docstrings of the reliability modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", [
    "sagaspec.examples.retry",
    "sagaspec.examples.httpserver",
    "sagaspec.spec._jsonlimits",
    "sagaspec.cli._types",
    "sagaspec.adapters.broker",
])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
