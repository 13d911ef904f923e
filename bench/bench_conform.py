"""Throughput of the conformance suite and its own overhead per event.

For the reference services of the corrected design, in-process and over HTTP on
loopback (``sagaspec serve`` in a subprocess), per target participant: examples/s,
events/s (messages exchanged with the service: deliveries in, publications out), and
where the time goes per event: the adapter (the service and its transport), the oracle
(schema validation, saga consistency, properties, belief tracking) and the rest of the
suite (hypothesis generation, the suite playing the other participants, payloads).

    python bench/bench_conform.py            # 300 examples per configuration
    python bench/bench_conform.py --short    # 40 examples, in CI
    python bench/bench_conform.py --engines  # in-process: the interpreter vs the hand-written classes
    python bench/bench_conform.py --draws    # in-process: the suite's CPU per case, old vs new draws
    python bench/bench_conform.py --case     # in-process: the same, old vs new case engine
    python bench/bench_conform.py --brokers rabbitmq,nats,redis --short   # over brokers, in CI

Over brokers (``--brokers rabbitmq,nats,redis``, the default set, or ``--broker URL``:
``amqp://...``, ``nats://...``, ``redis://...``), each run twice, waiting two ways:
``quiet``, a quiet window after every delivery (the system idle twice in a row, a settle
window apart: how a broker run waited before; its idle checks are as cheap as the model's
now), and ``model``, stopping as soon as the
model says nothing more can come (then one check that the services acknowledged all and
the observer read the bus). Per broker:

reference services
    ``conform`` against the order saga's reference services (corrected design) spawned
    as processes on the broker, as the whole ``system`` and as one participant
    (``payment``); faults off (no crash restarts: those cost a process start whichever
    way the suite waits) unless ``--faults``;
foreign billing
    ``conform --spec`` of the shop saga against the billing team's foreign payment
    service (``examples/foreign_billing.py``, driven through
    ``examples/foreign_billing.toml``). Events/s there counts what crossed the suite:
    deliveries to any participant plus events they published.

    python bench/bench_conform.py --brokers rabbitmq,nats,redis [--short] [--faults]

Restarts (``--restart spawn,fork``, with ``--faults``): the same faults-on runs, the
model's wait, with each crash restart started as before (``spawn``: a new ``python -m
sagaspec.examples.runner`` process, and NATS redelivering after the old ``ack_wait`` of
2 s) and as now (``fork``: forked from the supervisor's pre-imported fork server, the
default ``ack_wait``), side by side. Every broker run also measures the restart latency
both ways, interleaved: kill a service and start it again until it says it is ready
(wall ms, and the CPU ms the new process used on its way to ready).

    python bench/bench_conform.py --brokers rabbitmq,nats,redis --faults --restart spawn,fork

``--restart old,new`` compares forked restarts as before and as now: ``old``
without the runner's ``--reclaim`` (NATS redelivers a crashed service's message only
after ``ack_wait``), from the fork server of ``bench/_old_forkserver.py`` (each child
compiled its validators on its first message) and with the supervisor's 50 ms pause
before restarting a service killed at its crash point; ``new`` as the default now.

    python bench/bench_conform.py --brokers rabbitmq,nats,redis --faults --restart old,new --no-foreign
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagaspec.conformance import RunConfig, run


def serve(participant: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "serve", "--port", "0",
                             "--participant", participant],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    t = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(30)
    if not line or "listening on" not in line[0]:
        proc.terminate()
        raise SystemExit(f"sagaspec serve did not start: {line}")
    return proc, line[0].split("listening on", 1)[1].strip()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(adapter: str, participant: str, examples: int, seed: int) -> dict:
    cfg = RunConfig(adapter=adapter, participant=participant, examples=examples, seed=seed,
                    failures_dir=None, coverage=False, shrink=False)
    t0 = time.perf_counter()
    fin = run(cfg)
    wall = time.perf_counter() - t0
    if fin.failures:
        raise SystemExit(f"{adapter} {participant}: unexpected failures {fin.failures}")
    ev = max(fin.events, 1)
    suite = max(fin.seconds - fin.adapter_seconds - fin.oracle_seconds, 0.0)
    return {
        "examples": fin.examples, "events": fin.events, "seconds": fin.seconds, "wall": wall,
        "ex_s": fin.examples / fin.seconds, "ev_s": fin.events / fin.seconds,
        "adapter_ms": 1000 * fin.adapter_seconds / ev, "oracle_ms": 1000 * fin.oracle_seconds / ev,
        "suite_ms": 1000 * suite / ev,
    }


def drop_stream(url: str, prefix: str) -> None:
    """Delete the stream the billing service made on NATS or Redis (it outlives the service)."""
    import asyncio

    async def go() -> None:
        if url.startswith("redis"):
            import redis.asyncio as redis

            client = redis.from_url(url)
            await client.delete(f"{prefix}:events")
            await client.aclose()
            return
        import nats

        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_stream(prefix.upper().replace("-", "_"))
        finally:
            await nc.close()

    asyncio.run(go())


BROKERS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379/0",
}
WAITS = ("quiet", "model")


#: ``--restart`` modes: how a crashed reference service comes back.
RESTARTS = ("spawn", "fork", "old", "new")


@contextlib.contextmanager
def fork_server(restart: str):
    """While it lasts, forked restarts come from the fork server of ``restart``: for ``old``
    the one before restarts reclaimed unacknowledged messages (``bench/_old_forkserver.py``),
    else the current one."""
    from sagaspec.examples import _forkserver

    if restart != "old":
        yield
        return
    import os

    import sagaspec

    root = str(Path(sagaspec.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, str(Path(__file__).resolve().parent),
                                                    env.get("PYTHONPATH", "")) if p)
    server = _forkserver.ForkServer(env, module="_old_forkserver")
    saved = list(_forkserver._SERVER)
    _forkserver._SERVER[:] = [server]
    try:
        yield
    finally:
        _forkserver._SERVER[:] = saved
        server.close()


def reference_runs(url: str, targets: tuple[str, ...], n: int, seed: int, faults: bool,
                   waits: tuple[str, ...] = WAITS, restarts: tuple[str, ...] = ("fork",)) -> list[tuple]:
    """``conform`` against the spawned reference services, the same seed each way.

    ``restarts``: ``spawn`` (a new process, no ``--reclaim``, NATS ack_wait 2 s: before the
    fork server), ``old`` (forked, as before restarts reclaimed: no ``--reclaim``, the old fork
    server, a 50 ms pause before restarting a process killed at its crash point), ``fork``
    and ``new`` (as now: forked, ``--reclaim``, no pause)."""
    from sagaspec.adapters.broker import register_launcher
    from sagaspec.examples.cluster import Cluster

    sep = "&" if "?" in url else "?"
    rows = []
    try:
        for participant in targets:
            for restart in restarts:
                now = restart in ("fork", "new")
                register_launcher(functools.partial(Cluster, restart="spawn" if restart == "spawn" else "fork",
                                                    reclaim=now, crash_restart_delay=0.0 if now else 0.05))
                # Before the fork server, crash runs redelivered on NATS after 2 s.
                old = "&ack_wait=2" if restart == "spawn" and url.startswith("nats") else ""
                for wait in waits:
                    cfg = RunConfig(adapter=f"{url}{sep}spawn=1&wait={wait}{old}", participant=participant,
                                    examples=n, seed=seed, failures_dir=None, coverage=False, shrink=False,
                                    faults=faults)
                    with fork_server(restart):
                        cpu0 = _run_cpu()
                        fin = run(cfg)
                        cpu = _run_cpu() - cpu0
                    if fin.failures or fin.interrupted or fin.error:
                        raise SystemExit(f"{url} {participant} wait={wait} restart={restart}: unexpected "
                                         f"failures {fin.failures} {fin.error or ''}")
                    rows.append((participant, wait, restart, fin.examples, fin.events, fin.seconds,
                                 fin.adapter_seconds, cpu))
    finally:
        register_launcher(Cluster)
    return rows


def print_restarts(url: str, rows: list[tuple], seed: int, ways: tuple[str, str]) -> dict[str, float]:
    """Faults-on events/s, crash restarts ``ways`` (old, new): spawned vs forked, or forked
    before vs after restarts reclaimed what a killed process held."""
    what = {("spawn", "fork"): "restarts spawned (old: a new process, NATS ack_wait 2 s) vs forked (new)",
            ("old", "new"): "forked restarts without --reclaim (old: no --reclaim, so NATS redelivers a "
                            "crashed service's message after ack_wait 0.5 s; validators left to each "
                            "child's first message) vs now (new)"}[ways]
    return _print_runs(f"conform, reference services (corrected design) spawned on {url.split('@')[-1]}, seed "
                       f"{seed}, faults on, wait model: {what}", rows, "restart", 2, ways)


def _cpu_ms(pid: int) -> float:
    """CPU (user + system) ms the process ``pid`` used so far (Linux ``/proc``)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return 1000 * (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def restart_latency(url: str, n: int) -> float:
    """Kill the payment service and start it again until it says it is ready, ``n`` times
    per way, spawned and forked interleaved; returns the spawn/fork ratio of median wall."""
    import asyncio

    from sagaspec.adapters.broker import BrokerConfig, new_namespace, open_transport
    from sagaspec.examples import _forkserver
    from sagaspec.examples.cluster import Cluster

    clusters = {}
    wall: dict[str, list[float]] = {"spawn": [], "fork": []}
    cpu: dict[str, list[float]] = {"spawn": [], "fork": []}
    try:
        for mode in wall:
            cfg = BrokerConfig.from_url(url, namespace=new_namespace("bench-restart"))
            cluster = clusters[mode] = Cluster(cfg, ("payment",), restart=mode)
            cluster.start_all()
            cluster.wait_ready(timeout=120)
        for _ in range(n):
            for mode, cluster in clusters.items():
                t0 = time.perf_counter()
                cluster.kill("payment")
                cluster.start("payment")
                while not cluster.ready("payment"):
                    cluster.check_alive()
                    time.sleep(0.002)
                wall[mode].append(time.perf_counter() - t0)
                cpu[mode].append(_cpu_ms(cluster.pid("payment")))
    finally:
        for cluster in clusters.values():
            cluster.stop_all()
            cluster.cleanup()

            async def drop(config: BrokerConfig) -> None:
                transport = open_transport(config)
                await transport.connect()
                try:
                    await transport.destroy()
                finally:
                    await transport.close()

            asyncio.run(drop(cluster.config))
    print(f"restart latency of a reference service on {url.split('@')[-1]}: kill, start, until it says "
          f"ready; {n} restarts each way, interleaved")
    print(f"{'restart':7} {'median ms':>10} {'min ms':>8} {'CPU ms to ready':>16}")
    for mode in wall:
        print(f"{mode:7} {1000 * statistics.median(wall[mode]):10.0f} {1000 * min(wall[mode]):8.0f} "
              f"{statistics.median(cpu[mode]):16.0f}")
    ratio = statistics.median(wall["spawn"]) / statistics.median(wall["fork"])
    servers = _forkserver._SERVER[:1]
    once = f"; the fork server started once in {servers[0].started_in:.2f}s" if servers else ""
    print(f"spawn/fork restart latency ratio {ratio:.1f}x (median wall), CPU to ready "
          f"{statistics.median(cpu['spawn']) / max(statistics.median(cpu['fork']), 1):.1f}x{once}")
    return ratio


def print_reference(url: str, rows: list[tuple], seed: int, faults: bool) -> dict[str, float]:
    return _print_runs(f"conform, reference services (corrected design) spawned on {url.split('@')[-1]}, seed "
                       f"{seed}, faults {'on' if faults else 'off'}", rows, "wait", 1, ("quiet", "model"))


def _run_cpu() -> float:
    """CPU seconds (user + system) of this process, its reaped children (spawned services)
    and the fork server with its reaped children (forked services: a run's are reaped
    when it stops them)."""
    import os

    from sagaspec.examples import _forkserver

    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for server in _forkserver._SERVER:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _print_runs(title: str, rows: list[tuple], column: str, at: int, ways: tuple[str, str]) -> dict[str, float]:
    """One table of ``(participant, wait, restart, examples, events, s, adapter s, CPU s)``
    rows compared by the row's field ``at`` (old and new in ``ways``); the new/old ratios.
    CPU s: the suite's, the services' and the fork server's (not the broker's)."""
    old, new = ways
    print(title)
    print(f"{'target':8} {column:7} {'examples':>8} {'events':>7} {'s':>7} {'events/s':>9} {'adapter ms/ev':>14} "
          f"{'CPU s':>6} {'CPU ms/ev':>9}")
    by = {}
    for row in rows:
        participant, n, events, secs, adapter, cpu = row[0], *row[3:]
        by[(participant, row[at])] = events / secs
        print(f"{participant:8} {row[at]:7} {n:8d} {events:7d} {secs:7.2f} {events / secs:9.1f} "
              f"{1000 * adapter / max(events, 1):14.1f} {cpu:6.2f} {1000 * cpu / max(events, 1):9.1f}")
    ratios = {}
    for participant in dict.fromkeys(p for p, *_ in rows):
        ratios[participant] = by[(participant, new)] / by[(participant, old)]
        print(f"{participant}: {new}/{old} events/s ratio {ratios[participant]:.1f}x")
    return ratios


def broker_runs(url: str, cases: int, seed: int) -> float:
    """The same shop cases against the foreign billing service, waiting three ways: a
    fixed quiet window; the model's wait without the wait for late messages after each
    case (as before it); and with it (now)."""
    from pathlib import Path

    from sagaspec.adapters.broker import new_namespace
    from sagaspec.adapters.mapping import load_mapping
    from sagaspec.adapters.spec_broker import SpecBrokerAdapter
    from sagaspec.conformance.spec_conform import InProcessSpecAdapter, case_seed, run_case
    from sagaspec.spec.sagafile import load_spec

    root = Path(__file__).resolve().parents[1]
    spec = load_spec(root / "examples" / "sagas" / "shop.saga.yaml")
    mapping = load_mapping(root / "examples" / "foreign_billing.toml", spec)
    rows = []
    for wait in ("quiet", "no-late", "model"):
        exchange = new_namespace("bench-billing")
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec.examples.foreign_billing", "--url", url,
                                 "--exchange", exchange], stdout=subprocess.PIPE, text=True)
        try:
            if "ready" not in proc.stdout.readline():
                raise SystemExit("the billing service did not start")
            sep = "&" if "?" in url else "?"
            where = {"nats": f"stream={exchange.upper().replace('-', '_')}&subject_prefix={exchange}",
                     "redis": f"stream={exchange}:events&route_field=event&data_field=payload",
                     }.get(url.split(":", 1)[0], f"exchange={exchange}")
            driver = SpecBrokerAdapter(f"{url}{sep}{where}", spec, "payment",
                                       local=InProcessSpecAdapter(spec), mapping=mapping,
                                       wait="quiet" if wait == "quiet" else "model")
            if wait == "no-late":
                driver.late = list  # type: ignore[method-assign]  # no wait after the case
            steps = events = 0
            t0 = time.perf_counter()
            try:
                for k in range(cases):
                    s = case_seed(seed, k)
                    r = run_case(spec, driver, s, sagas=1 + s % 3, crashes=False)
                    if r.failures:
                        raise SystemExit(f"{wait}: case {k} failed: {r.failures[0]}")
                    steps, events = steps + r.steps, events + r.events
            finally:
                driver.close()
            rows.append((wait, cases, steps, events, time.perf_counter() - t0))
        finally:
            stop(proc)
            if url.startswith(("nats", "redis")):
                drop_stream(url, exchange)
    print(f"conform --spec shop over {url.split('@')[-1]}, foreign billing service, seed {seed}")
    print(f"{'wait':6} {'cases':>6} {'deliveries':>11} {'events':>7} {'s':>7} {'events/s':>9} {'cases/s':>8}")
    for wait, n, steps, events, secs in rows:
        print(f"{wait:6} {n:6d} {steps:11d} {events:7d} {secs:7.2f} {(steps + events) / secs:9.1f} {n / secs:8.2f}")
    (_, _, s0, e0, t_old), (_, _, s2, e2, t_bare), (_, _, s1, e1, t_new) = rows
    ratio = ((s1 + e1) / t_new) / ((s0 + e0) / t_old)
    print(f"model/quiet events/s ratio {ratio:.1f}x; the wait for late messages costs "
          f"{1 - ((s1 + e1) / t_new) / ((s2 + e2) / t_bare):.0%} of model's events/s")
    return ratio


def engine_runs(targets: tuple[str, ...], n: int, seed: int) -> None:
    """The same seeded suite in-process against the order saga's two engines: the
    interpreter running the order spec (the default) and the hand-written classes."""
    print(f"sagaspec conform in-process, corrected design, {n} examples, seed {seed}: "
          "hand-written classes vs the interpreter running the order spec")
    print(f"{'target':13} {'engine':13} {'examples':>8} {'events':>7} {'s':>6} {'ex/s':>7} {'events/s':>9}")
    for participant in targets:
        got = {}
        for engine in ("hand-written", "interpreter"):
            m = got[engine] = measure(f"inprocess:?engine={engine}", participant, n, seed)
            print(f"{participant:13} {engine:13} {m['examples']:8d} {m['events']:7d} {m['seconds']:6.2f} "
                  f"{m['ex_s']:7.1f} {m['ev_s']:9.0f}")
        print(f"{participant}: interpreter/hand-written examples/s ratio "
              f"{got['interpreter']['ex_s'] / got['hand-written']['ex_s']:.2f}")


def draw_runs(n: int, seed: int, rounds: int) -> None:
    """The suite's CPU per case in-process, its draws made the old way
    (``bench/_old_draws.py``) and the new, alternating ``rounds`` times per
    configuration; both must make the same cases (steps and events of every example)."""
    from _old_draws import old_draws

    old_new_runs("old draws (public data.draw, a new saga strategy per saga) vs new", "draws",
                 old_draws, DRAW_CONFIGS, n, seed, rounds)


def case_runs(n: int, seed: int, rounds: int) -> None:
    """The suite's CPU per case in-process, a case's engine as it was before the per-case
    cost cuts (``bench/_old_case.py``) and as now, alternating; same cases both ways."""
    from _old_case import old_case

    old_new_runs("old case engine (bench/_old_case.py: deepcopy stores, a named tuple class per model, "
                 "jsonschema walk per event, crash signature per case) vs new",
                 "case engines", old_case, CASE_CONFIGS, n, seed, rounds)


DRAW_CONFIGS = (("payment", "corrected"), ("system", "corrected"),
                ("system", "examples/sagas/travel.saga.yaml"))
CASE_CONFIGS = (*DRAW_CONFIGS, ("system", "examples/sagas/order-shipping.saga.yaml"))


def old_new_runs(title: str, what: str, old: Callable[[], Any], configs: tuple[tuple[str, str], ...],
                 n: int, seed: int, rounds: int) -> None:
    """Process CPU per case of each configuration run the old way (inside ``old()``)
    and the new, alternating ``rounds`` times; exits non-zero unless both ways (and every
    round) make the same cases (phase, status, steps and events of every example)."""
    print(f"sagaspec conform in-process, {n} examples, seed {seed}, {rounds} round(s) each way: "
          f"process CPU per case, {title}")
    print(f"{'target':9} {'design':40} {'way':4} {'cases':>6} {'cpu s':>7} {'ms/case':>8} "
          f"{'cases/cpu s':>12}")
    for participant, design in configs:
        # Warm up (imports, the spec's caches) outside the timing, the new way.
        run(RunConfig(adapter="inprocess:", participant=participant, design=design, examples=3,
                      seed=seed, failures_dir=None))
        got: dict[str, list] = {"old": [0, 0.0], "new": [0, 0.0]}
        seen: dict[str, list] = {}
        for _ in range(rounds):
            for way in ("old", "new"):
                examples: list[tuple] = []

                def on_event(e: object, out: list = examples) -> None:
                    if type(e).__name__ == "ExampleFinished":
                        out.append((e.index, e.phase, e.status, e.steps, e.events))

                cfg = RunConfig(adapter="inprocess:", participant=participant, design=design,
                                examples=n, seed=seed, failures_dir=None)
                t0 = time.process_time()
                with old() if way == "old" else contextlib.nullcontext():
                    run(cfg, on_event)
                got[way][0] += len(examples)
                got[way][1] += time.process_time() - t0
                if seen.setdefault(way, examples) != examples:
                    raise SystemExit(f"{participant} {design} {way}: a seeded run changed its cases")
        if seen["old"] != seen["new"]:
            raise SystemExit(f"{participant} {design}: old and new {what} made different cases")
        for way, (cases, cpu) in got.items():
            print(f"{participant:9} {design:40} {way:4} {cases:6d} {cpu:7.2f} "
                  f"{1000 * cpu / cases:8.2f} {cases / cpu:12.1f}")
        (c0, t0), (c1, t1) = got["old"], got["new"]
        print(f"{participant} {design}: same cases; new/old CPU per case {(t1 / c1) / (t0 / c0):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="40 examples per configuration")
    ap.add_argument("--examples", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--broker", default=None, metavar="URL",
                    help="only the broker comparison, on this RabbitMQ (amqp://...), NATS (nats://...) "
                         "or Redis (redis://...)")
    ap.add_argument("--brokers", default=None, metavar="NAMES",
                    help=f"only the broker comparison, on each of these local brokers ({','.join(BROKERS)})")
    ap.add_argument("--faults", action="store_true",
                    help="over brokers, the reference services with faults (crash restarts, duplicates, "
                         "invalid input) as conform runs them by default")
    ap.add_argument("--restart", default="fork", metavar="MODES",
                    help="over brokers, how crashed services restart: fork (default), spawn, or side by "
                         "side (faults on, the model's wait) spawn,fork or old,new (forked restarts "
                         "without --reclaim, as before, vs now)")
    ap.add_argument("--restarts", type=int, default=None, metavar="N",
                    help="over brokers, restarts timed each way for the restart latency (default 5; 2 short)")
    ap.add_argument("--targets", default=None, help="over brokers, the reference targets (default payment,system)")
    ap.add_argument("--no-foreign", action="store_true", help="over brokers, skip the foreign billing runs")
    ap.add_argument("--engines", action="store_true",
                    help="only in-process, the interpreter vs the hand-written classes")
    ap.add_argument("--draws", action="store_true",
                    help="only in-process, the suite's CPU per case with old vs new draws")
    ap.add_argument("--case", action="store_true",
                    help="only in-process, the suite's CPU per case with the old vs new case engine "
                         "(stores' copies, model classes)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="with --draws or --case, runs each way (default 3; 1 short)")
    args = ap.parse_args()
    if args.draws or args.case:
        (draw_runs if args.draws else case_runs)(args.examples or (40 if args.short else 100), args.seed,
                                                 args.rounds or (1 if args.short else 3))
        return
    if args.engines:
        n = args.examples or (40 if args.short else 300)
        engine_runs(("payment", "system") if args.short else ("payment", "order", "inventory",
                                                              "notification", "system"), n, args.seed)
        return
    if args.broker or args.brokers:
        urls = [args.broker] if args.broker else []
        for name in (args.brokers or "").split(","):
            if name.strip():
                if name.strip() not in BROKERS:
                    ap.error(f"--brokers: unknown broker {name.strip()!r}; expected {', '.join(BROKERS)}")
                urls.append(BROKERS[name.strip()])
        targets = tuple(t.strip() for t in (args.targets or "payment,system").split(",") if t.strip())
        n = args.examples or (6 if args.short else 20)
        restarts = tuple(m.strip() for m in args.restart.split(",") if m.strip())
        if not restarts or any(m not in RESTARTS for m in restarts) or len(restarts) > 1 and restarts not in (
                ("spawn", "fork"), ("old", "new")):
            ap.error(f"--restart: expected fork, spawn, old, new, spawn,fork or old,new, got {args.restart!r}")
        compare = len(restarts) > 1
        if compare and not args.faults:
            ap.error(f"--restart {args.restart} compares crash restarts: give --faults too")
        summary, restart_summary = [], []
        for url in urls:
            restart_summary.append((url, "latency", restart_latency(url, args.restarts or (2 if args.short else 5))))
            print()
            rows = reference_runs(url, targets, n, args.seed, args.faults,
                                  waits=("model",) if compare else WAITS, restarts=restarts)
            if compare:
                ratios = print_restarts(url, rows, args.seed, restarts)
                restart_summary += [(url, t, r) for t, r in ratios.items()]
            else:
                ratios = print_reference(url, rows, args.seed, args.faults)
                summary += [(url, t, r) for t, r in ratios.items()]
            if not args.no_foreign and not compare:
                summary.append((url, "foreign", broker_runs(url, args.examples or (8 if args.short else 40),
                                                             args.seed)))
            print()
        if summary:
            print("model/quiet events/s ratios:")
            for url, target, ratio in summary:
                print(f"  {url.split('@')[-1]:26} {target:8} {ratio:5.1f}x")
        print("fork/spawn ratios (restart latency: spawn/fork median; targets: faults-on events/s"
              f"{', new/old' if restarts == ('old', 'new') else ''}):")
        for url, target, ratio in restart_summary:
            print(f"  {url.split('@')[-1]:26} {target:8} {ratio:5.1f}x")
        return
    n = args.examples or (40 if args.short else 300)
    targets = ("payment", "system") if args.short else ("payment", "order", "inventory",
                                                         "notification", "system")
    rows = []
    for participant in targets:
        rows.append(("inprocess", participant, measure("inprocess:", participant, n, args.seed)))
    for participant in targets:
        proc, url = serve(participant)
        try:
            rows.append(("http", participant, measure(url, participant, n, args.seed)))
        finally:
            stop(proc)
    head = (f"{'transport':10} {'target':13} {'examples':>8} {'events':>7} {'s':>6} "
            f"{'ex/s':>7} {'events/s':>9} {'adapter ms/ev':>14} {'oracle ms/ev':>13} "
            f"{'suite ms/ev':>12} {'oracle/adapter':>15}")
    print(f"sagaspec conform throughput, corrected reference services, seed {args.seed}")
    print(head)
    print("-" * len(head))
    for transport, participant, m in rows:
        ratio = m["oracle_ms"] / m["adapter_ms"] if m["adapter_ms"] else float("inf")
        print(f"{transport:10} {participant:13} {m['examples']:8d} {m['events']:7d} "
              f"{m['seconds']:6.2f} {m['ex_s']:7.1f} {m['ev_s']:9.0f} {m['adapter_ms']:14.3f} "
              f"{m['oracle_ms']:13.3f} {m['suite_ms']:12.3f} {ratio:15.2f}")
    by = {(t, p): m for t, p, m in rows}
    for p in targets:
        a, b = by[("inprocess", p)], by[("http", p)]
        print(f"{p}: HTTP/in-process events/s ratio {b['ev_s'] / a['ev_s']:.2f}; "
              f"suite overhead (oracle + suite) per event {a['oracle_ms'] + a['suite_ms']:.2f} ms "
              f"= {(a['oracle_ms'] + a['suite_ms']) / b['adapter_ms']:.2f}x the HTTP adapter "
              "time per event")


if __name__ == "__main__":
    main()
