"""The fork server as it was before restarts reclaimed what a killed process held: it
imported the runner's code and parsed the shipped specs, but left the CloudEvents codec, the schema module and every event's
validator for each forked child's first message (``bench_conform.py --restart old,new``).

Run as ``python -m _old_forkserver`` with ``bench/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

from sagaspec.examples import _forkserver

OLD_PRELOAD = (
    "sagaspec.examples.runner", "sagaspec.examples.system", "sagaspec.examples.service",
    "sagaspec.examples.interpreter", "sagaspec.examples.store", "sagaspec.examples.pgstore",
    "sagaspec.examples.retry", "sagaspec.adapters.nats", "sagaspec.adapters.rabbitmq",
    "sagaspec.adapters.redis_streams", "nats", "nats.js", "aio_pika", "redis.asyncio", "psycopg",
    "sqlite3", "ctypes",
)


def old_preload() -> None:
    for name in OLD_PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from sagaspec.spec.sagafile import shipped_names, shipped_spec

    for name in shipped_names():
        with contextlib.suppress(Exception):
            shipped_spec(name)


if __name__ == "__main__":
    _forkserver._preload = old_preload
    sys.exit(_forkserver.serve())
