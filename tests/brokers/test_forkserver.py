"""The fork server the supervisor (re)starts reference services from.

It imported the runner's code before any thread existed and forks one child per start:
each child is a runner process of its own (own session, own log, the runner's exit
statuses), killed with SIGKILL through the server, and gone when the server is.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sagaspec.examples import _forkserver
from sagaspec.examples.cluster import Cluster

from sagaspec.errors import AdapterError

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(120)]


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _wait(what, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_forked_service_is_a_runner_process_of_its_own(own_nats, tmp_path):
    cluster = Cluster(f"{own_nats}?ns=fs", ("payment", "inventory"), state_dir=tmp_path / "state")
    try:
        cluster.start_all()
        cluster.wait_ready(timeout=60)
        server = _forkserver.shared(cluster._env())
        assert server.hello["threads"] == 1  # it forks before any thread exists in it
        first = cluster.pid("payment")
        assert _ppid(first) == server.proc.pid and os.getsid(first) == first
        assert cluster.procs["payment"].log.read_text().count(f"ready payment pid={first}") == 1
        proc = cluster.procs["payment"].proc
        cluster.kill("payment")
        assert proc.returncode == -signal.SIGKILL and _gone(first) and not cluster.alive("payment")
        cluster.start("payment")
        cluster.wait_ready(("payment",), timeout=60)
        assert cluster.pid("payment") not in (None, first) and cluster.procs["payment"].starts == 2
        # A process that exits on its own is restarted by the supervisor (a consumer crash).
        second = cluster.pid("payment")
        os.kill(second, signal.SIGTERM)  # the runner's clean exit, status 0
        _wait(lambda: cluster.procs["payment"].exits == [0] and cluster.ready("payment"))
        assert cluster.restarts == 1 and cluster.pid("payment") != second
    finally:
        cluster.stop_all()
        cluster.cleanup()
    assert cluster.procs["inventory"].proc.returncode == 0  # SIGTERM: the runner's clean exit


def test_an_exit_status_a_restart_cannot_fix_is_reported(own_nats, tmp_path):
    cluster = Cluster(f"{own_nats}?ns=fs2", ("payment",), state_dir=tmp_path / "state",
                      mutant="no-such-mutant")
    try:
        cluster.start_all()
        _wait(lambda: cluster.procs["payment"].fatal is not None)
        with pytest.raises(AdapterError, match="service payment exited \\(usage error\\)"):
            cluster.check_alive()
        assert cluster.procs["payment"].exits == [2] and cluster.restarts == 0
    finally:
        cluster.stop_all()
        cluster.cleanup()


@pytest.mark.parametrize("how", ["closed", "killed"])
def test_what_a_fork_server_runs_ends_with_it(own_nats, tmp_path, how):
    """Its supervisor gone (its pipe closed) or the server killed: no runner stays behind."""
    env = dict(os.environ)
    server = _forkserver.ForkServer(env)
    children = []
    for service in ("payment", "inventory"):
        log = tmp_path / f"{service}.log"
        children.append(server.spawn(["--service", service, "--broker", f"{own_nats}?ns=fs3",
                                      "--db", str(tmp_path / f"{service}.db")], log, env))
    for child, service in zip(children, ("payment", "inventory"), strict=True):
        log = tmp_path / f"{service}.log"
        _wait(lambda c=child, s=service, log=log: log.exists() and f"ready {s} pid={c.pid}" in log.read_text())
    if how == "closed":
        server.close()
    else:
        server.proc.kill()
    for child in children:
        assert child.wait(30) == -signal.SIGKILL
        _wait(lambda c=child: _gone(c.pid), 30)
    server.close()


def test_a_child_s_first_message_compiles_no_validator():
    """The server imports the CloudEvents codec and compiles every shipped event's
    validator before it forks: a child's first message (on its way to an armed crash
    point, and again as the redelivery after the restart) compiles nothing. Before, each
    child imported jsonschema and compiled the validator there (about 0.1 s a message)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sagaspec.examples import _forkserver\n"
        "_forkserver._preload()\n"
        "assert 'jsonschema' in sys.modules and 'sagaspec.spec.cloudevents' in sys.modules\n"
        "from sagaspec.spec import schemas\n"
        "from sagaspec.spec.sagafile import shipped_names, shipped_spec\n"
        "from sagaspec.adapters.broker import decode_message, encode_event\n"
        "from sagaspec.examples.samples import sample_created\n"
        "misses = schemas._compiled.cache_info().misses\n"
        "event = decode_message(*encode_event(sample_created(1)))\n"
        "assert isinstance(event, dict), event\n"
        "for name in shipped_names():\n"
        "    spec = shipped_spec(name)\n"
        "    if 'OrderCreated' in {e.name for e in spec.events}:\n"
        "        assert schemas.validate_event(event, spec=spec) == [], name\n"
        "assert schemas._compiled.cache_info().misses == misses, schemas._compiled.cache_info()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
