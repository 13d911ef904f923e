"""Fixtures of the docs tests: generated sites (built once per session) and Chromium."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from sagaspec.docs.site import build_site

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "docs"


def _build(design: str, tmp_path_factory):
    site = build_site(design)
    out = tmp_path_factory.mktemp(f"site-{design}")
    site.write(out)
    return site, out


@pytest.fixture(scope="session")
def corrected_site(tmp_path_factory):
    """(Site, folder) of the corrected design."""
    return _build("corrected", tmp_path_factory)


@pytest.fixture(scope="session")
def seed_site(tmp_path_factory):
    """(Site, folder) of the seed design."""
    return _build("seed", tmp_path_factory)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def serve():
    """serve(folder) -> base URL of a static server on 127.0.0.1 for that folder."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="session")
def mutant_run():
    """Engine events of a short conformance run against a payment service without
    idempotency (the suite must catch the double charge)."""
    from sagaspec.conformance.runner import RunConfig, Runner

    cfg = RunConfig(
        adapter="inprocess:?participant=payment&mutant=no-idempotency", participant="payment",
        examples=50, seed=1, failures_dir=None,
    )
    return list(Runner(cfg).execute())
