"""pytest plugin for the sagaspec conformance suite (``pytest11`` entry point)."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.getgroup("sagaspec", "sagaspec conformance suite")
