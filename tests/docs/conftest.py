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
        # A 0.05 s poll: shutdown() at the session's end returns at once (the default
        # 0.5 s, for each of a worker's servers, held the worker's end up by seconds).
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _once_per_run(name: str, tmp_path_factory, compute):
    """``compute()``, once per test run: under pytest-xdist the first worker to ask saves
    the result (pickled) in the run's shared temporary folder and the others load it
    (each worker computed it again: 2.5 CPU s each for ``mutant_run``)."""
    import fcntl
    import os
    import pickle

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:  # not under xdist: this process is the whole run
        return compute()
    folder = tmp_path_factory.getbasetemp().parent  # (each worker's basetemp is in it)
    saved = folder / f"{name}-{run}.pickle"
    with open(folder / f"{name}-{run}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait while the first computes
        if not saved.exists():
            tmp = saved.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(compute()))
            tmp.replace(saved)
        return pickle.loads(saved.read_bytes())


@pytest.fixture(scope="session")
def mutant_run(tmp_path_factory):
    """Engine events of a short conformance run against a payment service without
    idempotency (the suite must catch the double charge)."""
    from sagaspec.conformance.runner import RunConfig, Runner

    def run() -> list:
        cfg = RunConfig(
            adapter="inprocess:?participant=payment&mutant=no-idempotency", participant="payment",
            examples=50, seed=1, failures_dir=None,
        )
        return list(Runner(cfg).execute())

    return _once_per_run("mutant-run", tmp_path_factory, run)
