"""A pre-imported fork server for the reference runners (used by :mod:`sagaspec.examples.cluster`).

One process imports the runner's code once (the services, the interpreter, the stores,
the broker clients), before any thread, event loop or connection exists in it, and then
forks a child per (re)start of a service: a restart costs a fork, milliseconds, instead
of a Python start-up and its imports (a second or two). The child is what
``python -m sagaspec.examples.runner ARGS`` would be: a session of its own, stdout and
stderr appended to its log file, the environment it is given and the runner's exit status.

The server speaks one JSON object per line. On its stdin: ``{"op": "spawn", "id", "argv",
"log", "env"}`` and ``{"op": "signal", "id", "sig"}``; on its stdout: ``{"op": "hello",
"pid", "threads"}`` once, then ``{"op": "spawned", "id", "pid"}`` (or ``{"op": "error",
"id", "error"}``) and ``{"op": "exited", "id", "code"}`` (``-N``: killed by signal N, as
:class:`subprocess.Popen` says it). Signals go through the server because only it knows
whether a pid is still its child (a reaped pid may be reused). When its stdin closes (its
supervisor is gone) it kills what it still runs and exits; a child dies with the server.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: What a runner imports on its way to ready (optional clients may be missing).
PRELOAD = (
    "sagaspec.examples.runner", "sagaspec.examples.system", "sagaspec.examples.service",
    "sagaspec.examples.interpreter", "sagaspec.examples.store", "sagaspec.examples.pgstore",
    "sagaspec.examples.retry", "sagaspec.adapters.nats", "sagaspec.adapters.rabbitmq",
    "sagaspec.adapters.redis_streams", "nats", "nats.js", "aio_pika", "redis.asyncio", "psycopg",
    "sqlite3", "ctypes", "sagaspec.spec.cloudevents", "sagaspec.spec.schemas", "jsonschema",
)

_RUNNER = "sagaspec.examples.runner"


# ------------------------------------------------------------------------------ server


def _preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from sagaspec.spec.sagafile import shipped_names, shipped_spec
    from sagaspec.spec.schemas import validate_event, validator_for

    for name in shipped_names():  # parsed once here, not per start
        with contextlib.suppress(Exception):
            spec = shipped_spec(name)
            # Each event's validator compiled and run once here: a child's first message
            # otherwise paid for it (about 0.1 s on its way to a crash point and back).
            for event in spec.events:
                validator_for(event.name, spec=spec)
                validate_event({"eventType": event.name}, spec=spec)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(msg: dict[str, Any], close: list[int]) -> int:
    """In the forked child: become ``python -m sagaspec.examples.runner ARGV``."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with_parent()
    for fd in close:
        with contextlib.suppress(OSError):
            os.close(fd)
    log = os.open(msg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdin
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    os.environ.clear()
    os.environ.update(msg["env"])
    argv = [str(a) for a in msg["argv"]]
    sys.argv = [_RUNNER, *argv]
    try:
        from sagaspec.examples import runner

        code = _exit_code(runner.main(argv))
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the server (its parent) dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the server died before that took effect
            os._exit(1)


def serve() -> int:
    """The server's loop (``python -m sagaspec.examples._forkserver``)."""
    _preload()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the supervisor's to handle
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children: dict[int, str] = {}  # pid -> id, until reaped
    pids: dict[str, int] = {}

    def send(**msg: Any) -> None:
        data = (json.dumps(msg) + "\n").encode()
        while data:
            data = data[os.write(1, data):]

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ident = children.pop(pid, None)
            if ident is not None:
                pids.pop(ident, None)
                send(op="exited", id=ident, code=os.waitstatus_to_exitcode(status))

    def handle(msg: dict[str, Any]) -> None:
        ident = str(msg.get("id"))
        if msg.get("op") == "signal":
            pid = pids.get(ident)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, int(msg["sig"]))
            return
        try:
            pid = os.fork()
        except OSError as exc:
            send(op="error", id=ident, error=f"fork: {exc}")
            return
        if pid == 0:
            code = 1
            try:
                selector.close()
                code = _child(msg, [wake_r, wake_w])
            finally:
                os._exit(code)
        children[pid] = ident
        pids[ident] = pid
        send(op="spawned", id=ident, pid=pid)

    send(op="hello", pid=os.getpid(), threads=threading.active_count())
    buf = b""
    with selectors.DefaultSelector() as selector:
        selector.register(0, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    reap()
                    continue
                data = os.read(0, 65536)
                if not data:  # the supervisor is gone: so is what it ran
                    for pid in children:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    return 0
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        handle(json.loads(line))
                reap()


# ------------------------------------------------------------------------------ client


class Forked:
    """A service process the fork server runs, answering as :class:`subprocess.Popen` does
    (``pid``, ``returncode``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``)."""

    def __init__(self, server: ForkServer, ident: str, args: list[str]) -> None:
        self.args = args
        self.pid = 0
        self.returncode: int | None = None
        self._server = server
        self._id = ident
        self._spawned = threading.Event()
        self._exited = threading.Event()
        self._error: str | None = None
        #: Called (from the server's reader thread) once the process has exited.
        self.on_exit: Callable[[Forked], None] | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            self._server._send(op="signal", id=self._id, sig=int(sig))

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _exit(self, code: int) -> None:
        if self._exited.is_set():
            return
        self.returncode = code
        self._exited.set()
        if self.on_exit is not None:
            with contextlib.suppress(Exception):
                self.on_exit(self)


class ForkServer:
    """The supervisor's end of one fork server process (see the module docstring)."""

    def __init__(self, env: dict[str, str] | None = None, timeout: float = 60.0,
                 module: str = "sagaspec.examples._forkserver") -> None:
        started = time.monotonic()
        # ``module``: what runs as the server (its ``serve``; a bench runs an older one).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, start_new_session=True,
        )
        #: The process that started it (a fork of that process must start its own).
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._next = 0
        self._live: dict[str, Forked] = {}
        self._hello = threading.Event()
        #: The server's own ``hello``: its pid and how many threads it had when it forks.
        self.hello: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, name="sagaspec-forkserver", daemon=True)
        self._reader.start()
        if not self._hello.wait(timeout) or not self.hello:
            self.close()
            raise OSError(f"the fork server did not start within {timeout:g}s")
        #: Seconds from starting the server to its ``hello`` (its imports: paid once).
        self.started_in = time.monotonic() - started

    def alive(self) -> bool:
        return self.proc.poll() is None and self._reader.is_alive()

    def spawn(self, argv: list[str], log: str | Path, env: dict[str, str], timeout: float = 30.0) -> Forked:
        """Fork ``python -m sagaspec.examples.runner ARGV`` with its output appended to ``log``."""
        with self._lock:
            self._next += 1
            ident = str(self._next)
            child = self._live[ident] = Forked(self, ident, [_RUNNER, *argv])
        self._send(op="spawn", id=ident, argv=list(argv), log=str(log), env=env)
        if not child._spawned.wait(timeout):
            raise OSError(f"the fork server did not start {_RUNNER} within {timeout:g}s")
        if child._error is not None:
            raise OSError(child._error)
        return child

    def close(self) -> None:
        """Stop the server (it kills what it still runs)."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            self.proc.stdout.close()  # type: ignore[union-attr]

    def _send(self, **msg: Any) -> None:
        data = (json.dumps(msg) + "\n").encode()
        with self._write_lock:
            try:
                self.proc.stdin.write(data)  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError) as exc:
                raise OSError("the fork server is gone") from exc

    def _read(self) -> None:
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                msg = json.loads(line)
                op = msg.get("op")
                if op == "hello":
                    self.hello = msg
                    self._hello.set()
                    continue
                with self._lock:
                    child = self._live.get(str(msg.get("id")))
                    if child is not None and op in ("exited", "error"):
                        del self._live[child._id]
                if child is None:
                    continue
                if op == "spawned":
                    child.pid = int(msg["pid"])
                    child._spawned.set()
                elif op == "error":
                    child._error = str(msg.get("error"))
                    child._spawned.set()
                elif op == "exited":
                    child._exit(int(msg["code"]))
        finally:
            # The server is gone, and its children with it (they die with their parent).
            self._hello.set()
            with self._lock:
                orphans, self._live = list(self._live.values()), {}
            for child in orphans:
                if child.pid:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(child.pid, signal.SIGKILL)
                child._error = child._error or "the fork server is gone"
                child._spawned.set()
                child._exit(-signal.SIGKILL)


_SERVER: list[ForkServer] = []
_SERVER_LOCK = threading.Lock()


def shared(env: dict[str, str]) -> ForkServer:
    """This process's fork server, started on first use (again if it died)."""
    with _SERVER_LOCK:
        if _SERVER and _SERVER[0].alive() and _SERVER[0].owner == os.getpid():
            return _SERVER[0]
        server = ForkServer(env)
        if not _SERVER:  # a process that exits leaves no server behind (nor what it runs)
            atexit.register(_close_shared)
        _SERVER[:] = [server]
        return server


def _close_shared() -> None:
    with _SERVER_LOCK:
        for server in _SERVER:
            if server.owner == os.getpid():
                server.close()
        _SERVER.clear()


if __name__ == "__main__":
    sys.exit(serve())
