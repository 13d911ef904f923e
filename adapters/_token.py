"""Where ``sagaspec serve`` keeps the token it requires, and how a client on the same
machine reads it: shared by the HTTP adapter and the reference HTTP server, in a module
of its own so the server does not import the adapter's HTTP client (httpx)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["token_path", "read_token"]


def token_path(port: int) -> Path:
    """Where a server on loopback ``port`` keeps the token it requires (current user
    only), so a client on this machine finds it."""
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".cache")
    return Path(base) / "sagaspec" / "serve" / f"{int(port)}.token"


def read_token(port: int) -> str | None:
    """The token the server on loopback ``port`` saved, if any."""
    try:
        return token_path(port).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
