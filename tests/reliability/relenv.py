"""Where the shared servers are (the broker tests' ``brokerenv``, one definition) and a
fresh namespace on them; the reliability tests never stop a shared server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "brokers"))

import brokerenv  # noqa: E402
from brokerenv import PG_URL, URLS, require  # noqa: E402
from sagaspec.adapters.broker import new_namespace  # noqa: E402

__all__ = ["PG_URL", "URLS", "require", "namespace"]

#: A fresh namespace on the shared servers (per pytest-xdist worker where brokerenv
#: provides one).
namespace = getattr(brokerenv, "namespace", new_namespace)
