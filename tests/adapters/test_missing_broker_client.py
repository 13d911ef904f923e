"""Without the ``brokers`` extra a broker adapter says what to install, in one line; a
URL's password is masked in every message of a run that could not start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from sagaspec.cli import main

# The client modules hidden as if `pip install .` had left them out.
_WITHOUT_CLIENTS = ("import sys\n"
                    "for name in ('nats', 'aio_pika', 'redis'):\n"
                    "    sys.modules[name] = None\n"
                    "from sagaspec.cli import entry\n"
                    "sys.argv = ['sagaspec'] + sys.argv[1:]\n"
                    "entry()\n")


def without_clients(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT_CLIENTS, *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("url", "scheme", "dist", "module"), [
    ("nats://127.0.0.1:4222", "nats", "nats-py", "nats"),
    ("amqp://guest:wrong@127.0.0.1:5672/", "amqp", "aio-pika", "aio_pika"),
    ("redis://127.0.0.1:6379/0", "redis", "redis", "redis"),
])
@pytest.mark.parametrize("spec", [False, True], ids=["order-saga", "spec"])
def test_a_missing_client_names_the_package_and_the_extra(tmp_path, url, scheme, dist, module, spec):
    args = ["conform", "--adapter", url, "-n", "1"]
    args += ["--spec", "corrected", "--participant", "payment"] if spec else \
        ["--participant", "system", "--failures-dir", str(tmp_path)]
    r = without_clients(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: the {scheme}:// adapter needs the Python package {dist} (module {module}), "
        "which is not installed: pip install 'sagaspec[brokers]'"]
    assert "wrong" not in r.stdout + r.stderr


def test_a_start_that_fails_its_own_way_masks_the_password(tmp_path, monkeypatch):
    from sagaspec.adapters.rabbitmq import RabbitTransport

    async def boom(self) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(RabbitTransport, "connect", boom)
    r = CliRunner().invoke(main, ["conform", "--adapter", "amqp://guest:wrong@127.0.0.1:5672/",
                                  "--participant", "system", "-n", "1",
                                  "--failures-dir", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == ("error: adapter amqp://guest:***@127.0.0.1:5672/: start failed: "
                                "RuntimeError: boom")
