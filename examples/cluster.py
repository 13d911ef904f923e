"""Run, kill and restart reference services as OS processes (a tiny process supervisor).

:class:`Cluster` starts one :mod:`sagaspec.examples.runner` process per service, each
with its own log file, and, like systemd or Kubernetes would, restarts a process that
exits on its own (a consumer crash, an armed crash point). :meth:`Cluster.kill` sends
SIGKILL and keeps the service down until :meth:`Cluster.start`: that is how the fault
runner and the broker adapter's ``crash`` hook kill services at random points.

A service that exits 69 (broker or database unavailable) after it was once ready lost
its broker or database: it is restarted with exponential backoff and jitter until it
is ready again, and the supervisor gives up only when it stays down for
``give_up_after`` seconds; :meth:`Cluster.check_alive` then reports it. Exit 2 (usage
error), and 69 before the first ready (a wrong URL, no such server), are reported at once.

A process is forked from a fork server that imported the runner's code once
(:mod:`sagaspec.examples._forkserver`): a (re)start costs milliseconds, not a Python
start-up and its imports; ``restart="spawn"`` starts each as ``python -m
sagaspec.examples.runner`` instead.

Everything of one cluster is isolated by the broker configuration's namespace: broker
names, PostgreSQL schemas (``sagaspec_<ns>_<service>``) and the SQLite directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagaspec.adapters.broker import BrokerConfig, participants
from sagaspec.examples.retry import Backoff
from sagaspec.examples.runner import EXIT_CRASH_POINT, EXIT_UNAVAILABLE
from sagaspec.examples.service import CRASH_POINTS

from sagaspec.errors import AdapterError, BrokerUnavailable

__all__ = ["Cluster", "ServiceProcess"]

_RUNNER = "sagaspec.examples.runner"

# Exit statuses after which restarting cannot help.
_FATAL = {2: "usage error", EXIT_UNAVAILABLE: "broker or database unavailable"}

log = logging.getLogger("sagaspec.cluster")


#: How a service process is (re)started: forked from the pre-imported fork server, or a
#: new ``python -m sagaspec.examples.runner`` process each time.
RESTARTS = ("fork", "spawn")


@dataclass
class ServiceProcess:
    """One service's current process and its history."""

    name: str
    #: A :class:`subprocess.Popen` (``spawn``) or a :class:`~sagaspec.examples._forkserver.Forked`.
    proc: Any = None
    #: ``False`` while deliberately killed (the supervisor leaves it down).
    wanted: bool = False
    starts: int = 0
    kills: int = 0
    exits: list[int] = field(default_factory=list)
    log: Path | None = None
    #: Whether a process of this service ever said it is consuming.
    was_ready: bool = False
    #: Since when it has been down and restarting after losing its broker or database.
    down_since: float | None = None
    #: Restarts in the current outage (the backoff exponent), and when the next is due.
    attempts: int = 0
    next_start: float = 0.0
    #: Why the supervisor gave up on it (reported by :meth:`Cluster.check_alive`).
    gave_up: str | None = None
    #: The exit status a restart cannot fix, when the supervisor stopped on it.
    fatal: int | None = None


class Cluster:
    """The reference services of one run as supervised processes.

    Parameters
    ----------
    config
        Broker configuration (its namespace isolates the run).
    services
        Which services to run (default: every participant of the design or spec).
    db
        ``postgresql://...`` or ``None`` for SQLite files in the cluster's state directory.
    mutant, design
        Passed to every runner (which runs the interpreter on the design's spec). A
        ``design`` that is not a shipped order design (a spec file) runs as ``spec``.
    supervise
        Restart a process that exits on its own (default ``True``).
    restart
        ``fork`` (default): fork each (re)start from this process's fork server, which
        imported the runner's code once; ``spawn``: a new Python process each time.
    restart_delay, crash_restart_delay
        Seconds the supervisor waits before restarting a process that exited on its own
        (so one that dies at once does not restart in a tight loop), and before restarting
        one killed at its armed crash point (default 0: that kills a process once, its
        restart is not armed, and the run waits for the restart).
    reclaim
        ``True`` (default): each process starts with the runner's ``--reclaim`` (the
        supervisor runs one process per service, so what its consumer holds unacknowledged
        at a start was left by a dead one: the broker redelivers it at once, not after
        ``ack_wait``); ``False``: left to ``ack_wait``.
    """

    #: Where :meth:`start` can arm a service to die (the runner's ``--crash-at``).
    crash_points = CRASH_POINTS

    def __init__(
        self,
        config: BrokerConfig | str,
        services: tuple[str, ...] | list[str] | None = None,
        *,
        db: str | None = None,
        design: str = "corrected",
        mutant: str | None = None,
        supervise: bool = True,
        state_dir: str | Path | None = None,
        restart_delay: float = 0.05,
        restart_backoff: Backoff | None = None,
        give_up_after: float = 120.0,
        spec: str | None = None,
        restart: str = "fork",
        reclaim: bool = True,
        crash_restart_delay: float = 0.0,
    ) -> None:
        if restart not in RESTARTS:
            raise AdapterError(f"unknown restart {restart!r}; expected one of {', '.join(RESTARTS)}")
        self.restart_mode = restart
        self.reclaim = reclaim
        self.config = config if isinstance(config, BrokerConfig) else BrokerConfig.from_url(config)
        from sagaspec.examples.system import hand_written

        if spec is None and not hand_written(design):
            spec, design = design, "corrected"
        #: A saga spec file: its participants run as the reference interpreter.
        self.spec = spec
        # Start order: consumers first, the participant that starts sagas last.
        known = participants(spec if spec is not None else design)
        if services is None:
            services = known
        unknown = [s for s in services if s not in known]
        if unknown:
            raise AdapterError(f"unknown service(s) {', '.join(unknown)}; expected {', '.join(known)}")
        self.services = tuple(s for s in known if s in services)
        self.db = db if db is not None else self.config.db
        self.design = design
        self.mutant = mutant
        self.supervise = supervise
        self.restart_delay = restart_delay
        self.crash_restart_delay = crash_restart_delay
        self.restart_backoff = restart_backoff or Backoff(base=0.2, cap=5.0, jitter=0.5)
        self.give_up_after = give_up_after
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="sagaspec-cluster-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.procs = {s: ServiceProcess(s, log=self.state_dir / f"{s}.log") for s in self.services}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        #: Set when a forked process exits: the watcher restarts it without waiting a poll.
        self._poke = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    # -- commands ------------------------------------------------------------------------
    def command(self, service: str, crash_at: str | None = None) -> list[str]:
        cmd = [sys.executable, "-m", _RUNNER, "--service", service,
               "--broker", self.config.url_for_child(), "--design", self.design]
        if self.db:
            cmd += ["--db", self.db]
        else:
            cmd += ["--db", str(self.state_dir / f"{service}.db")]
        if self.mutant:
            cmd += ["--mutant", self.mutant]
        if self.spec is not None:
            cmd += ["--spec", str(Path(self.spec).resolve()) if Path(self.spec).exists() else self.spec]
        if crash_at:
            cmd += ["--crash-at", crash_at]
        if self.reclaim:
            cmd.append("--reclaim")
        return cmd

    def start(self, service: str, *, crash_at: str | None = None) -> None:
        """Start ``service`` (no-op if running); with ``crash_at`` it dies at that point."""
        with self._lock:
            sp = self.procs[service]
            if sp.proc is not None and sp.proc.poll() is None:
                return
            assert sp.log is not None
            sp.proc = self._launch(self.command(service, crash_at), sp.log)
            sp.wanted = True
            sp.fatal = sp.gave_up = None
            sp.starts += 1
        self._ensure_watcher()

    def start_all(self) -> None:
        for s in self.services:
            self.start(s)

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        """Kill ``service`` now (SIGKILL by default) and leave it down."""
        with self._lock:
            sp = self.procs[service]
            sp.wanted = False
            if sp.proc is not None and sp.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    sp.proc.send_signal(sig)
                sp.kills += 1
                with contextlib.suppress(subprocess.TimeoutExpired):
                    sp.proc.wait(timeout=5)

    @staticmethod
    def workload(design: str, sagas: int, rng: Any, **options: Any) -> Any:
        """The fault runner's workload for the services this launcher runs for ``design``
        (``None``: the interpreter of a spec, driven by the spec's own workload)."""
        from sagaspec.examples.system import fault_workload

        return fault_workload(design, sagas, rng, **options)

    def restarting(self, service: str) -> bool:
        """Whether ``service`` is down but wanted: the supervisor is bringing it back."""
        return self.procs[service].wanted and not self.alive(service)

    def restart(self, service: str, *, crash_at: str | None = None) -> None:
        self.kill(service)
        self.start(service, crash_at=crash_at)

    def stop_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every process, SIGKILL what is still alive after ``timeout``."""
        self._stopping.set()
        self._poke.set()
        with self._lock:
            live = [sp for sp in self.procs.values() if sp.proc is not None and sp.proc.poll() is None]
            for sp in live:
                sp.wanted = False
                with contextlib.suppress(ProcessLookupError):
                    sp.proc.terminate()
        deadline = time.monotonic() + timeout
        for sp in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                sp.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if sp.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    sp.proc.kill()
                sp.proc.wait(timeout=5)
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def cleanup(self) -> None:
        """Remove the state directory (if the cluster made it) and the PostgreSQL schemas."""
        if self.db and self.config.namespace:
            from sagaspec.examples.pgstore import drop_schemas, is_postgres_url

            if is_postgres_url(self.db):
                with contextlib.suppress(Exception):
                    drop_schemas(self.db, f"sagaspec_{self.config.namespace.lower().replace('-', '_')}_")
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- observation ---------------------------------------------------------------------
    def alive(self, service: str) -> bool:
        sp = self.procs[service]
        return sp.proc is not None and sp.proc.poll() is None

    def pid(self, service: str) -> int | None:
        sp = self.procs[service]
        return sp.proc.pid if sp.proc is not None and sp.proc.poll() is None else None

    def log_tail(self, service: str, lines: int = 5) -> str:
        sp = self.procs[service]
        try:
            text = sp.log.read_text(errors="replace") if sp.log else ""
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def ready(self, service: str) -> bool:
        """Whether the current process of ``service`` said it is consuming."""
        pid = self.pid(service)
        if pid is None:
            return False
        try:
            return f"ready {service} pid={pid}" in self.procs[service].log.read_text(errors="replace")
        except OSError:
            return False

    def wait_ready(self, services: tuple[str, ...] | list[str] | None = None, timeout: float = 60.0) -> None:
        """Block until every one of ``services`` (default all) is consuming."""
        wanted = list(services or self.services)
        deadline = time.monotonic() + timeout
        while not all(self.ready(s) for s in wanted):
            self.check_alive()
            if time.monotonic() > deadline:
                late = [s for s in wanted if not self.ready(s)]
                raise AdapterError(f"services {', '.join(late)} not ready within {timeout:g}s; "
                                   f"last log line of {late[0]}: {self.log_tail(late[0], 1)}")
            time.sleep(0.01)

    def check_alive(self) -> None:
        """Raise if a service exited with a status a restart cannot fix (bad URL, no broker),
        or stayed down past ``give_up_after`` seconds of restarts."""
        with self._lock:  # the watcher records an exit and its verdict together
            procs = list(self.procs.values())
        for sp in procs:
            if sp.gave_up is not None:
                raise BrokerUnavailable(f"service {sp.name} {sp.gave_up}")
            code = sp.fatal  # not an old exit the service recovered from, nor a kill()
            if code is not None:
                last = self.log_tail(sp.name, 1) or _FATAL[code]
                last = last.removeprefix("error: ")
                cls = BrokerUnavailable if code == 69 else AdapterError
                raise cls(f"service {sp.name} exited ({_FATAL[code]}): {last}")

    # -- supervision -----------------------------------------------------------------------
    def _launch(self, cmd: list[str], log: Path) -> Any:
        """Start ``cmd`` with its output appended to ``log``: forked when it is the runner."""
        if self.restart_mode == "fork" and cmd[:3] == [sys.executable, "-m", _RUNNER]:
            from sagaspec.examples import _forkserver

            env = self._env()
            proc = _forkserver.shared(env).spawn(cmd[3:], log, env)
            proc.on_exit = lambda _: self._poke.set()
            return proc
        logf = open(log, "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=self._env(), start_new_session=True)
        finally:
            logf.close()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The runner must import the same sagaspec as this process.
        import sagaspec

        root = str(Path(sagaspec.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        return env

    def _ensure_watcher(self) -> None:
        if not self.supervise or (self._watcher is not None and self._watcher.is_alive()):
            return
        self._stopping.clear()
        self._watcher = threading.Thread(target=self._watch, name="sagaspec-supervisor", daemon=True)
        self._watcher.start()

    def _said_ready(self, sp: ServiceProcess, pid: int) -> bool:
        try:
            return f"ready {sp.name} pid={pid}" in sp.log.read_text(errors="replace")  # type: ignore[union-attr]
        except OSError:
            return False

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._poke.clear()
            with self._lock:
                now = time.monotonic()
                for sp in self.procs.values():
                    if not sp.wanted:
                        continue
                    if sp.proc is None:
                        if sp.down_since is not None and now >= sp.next_start:
                            self.restarts += 1
                            self.start(sp.name)
                        continue
                    code = sp.proc.poll()
                    if code is None:
                        if sp.down_since is not None and self._said_ready(sp, sp.proc.pid):
                            sp.down_since, sp.attempts, sp.was_ready = None, 0, True
                        continue
                    if not sp.was_ready and self._said_ready(sp, sp.proc.pid):
                        sp.was_ready = True
                    sp.exits.append(code)
                    sp.proc = None
                    if code == 69 and sp.was_ready:
                        self._schedule_restart(sp, now)
                        continue
                    if code in _FATAL:
                        sp.wanted = False
                        sp.fatal = code
                        continue
                    self.restarts += 1
                    delay = self.crash_restart_delay if code == EXIT_CRASH_POINT else self.restart_delay
                    if delay > 0:
                        time.sleep(delay)
                    self.start(sp.name)
            self._poke.wait(0.05)

    def _schedule_restart(self, sp: ServiceProcess, now: float) -> None:
        """Lost its broker or database: restart with backoff, give up after a bound."""
        if sp.down_since is None:
            sp.down_since = now
        down = now - sp.down_since
        if down > self.give_up_after:
            sp.wanted = False
            sp.gave_up = (f"gave up after {down:.0f}s of restarts ({sp.attempts} attempts): "
                          f"{self.log_tail(sp.name, 1).removeprefix('error: ')}")
            log.error("supervisor: %s %s", sp.name, sp.gave_up)
            return
        delay = self.restart_backoff.delay(sp.attempts)
        sp.attempts += 1
        sp.next_start = now + delay
        log.warning("supervisor: %s lost its broker or database (exit 69); restart %d in %.1fs",
                    sp.name, sp.attempts, delay)

    def __enter__(self) -> Cluster:
        self.start_all()
        try:
            self.wait_ready()
        except BaseException:
            self.stop_all()
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_all()
        self.cleanup()
