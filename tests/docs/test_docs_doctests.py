"""The examples in the docs modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sagaspec.docs.svg",
    "sagaspec.docs.diagrams",
    "sagaspec.docs.document",
    "sagaspec.docs.markdown",
    "sagaspec.docs.htmlpage",
    "sagaspec.docs.fields",
    "sagaspec.docs.flows",
    "sagaspec.docs.asyncapi",
    "sagaspec.docs.reports",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name in ()
