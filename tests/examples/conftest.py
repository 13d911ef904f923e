"""Fixtures of the reference-service tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def world():
    return {"stock": {"sku-1": 5, "sku-2": 1}, "declined_users": ["mallory"], "decline_over": "1000.00"}
