"""End-to-end sagas over real brokers, next to each broker's raw round trip in the same run.

For each broker (NATS JetStream, RabbitMQ, Redis Streams), in a fresh namespace:

raw round trip
    one small message published (with the broker's confirmation) and received by a
    competing consumer that acknowledges it (the path every saga hop takes), one at a
    time: p50 / p99 over ``--raw`` messages;
sagas end to end
    the four reference services as processes (SQLite stores, or ``--db`` PostgreSQL):
    ``--sagas`` orders placed with at most ``--window`` in flight; latency from the
    ``place_order`` call to the saga settling (NotificationSent seen by an observer),
    p50 / p99; throughput in sagas/s; latency also expressed in raw round trips;
suite overhead
    the conformance suite (target ``system``, ``--examples`` examples) over the same
    broker: time per event exchanged with the system, and the suite's own share of it
    (everything but waiting for the adapter), each as a ratio of the raw round trip.

Prints one table; Ctrl-C prints what was measured so far. ``--short`` for a quick run.

    python bench/bench_brokers.py [--short] [--brokers nats,rabbitmq,redis] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from sagaspec.adapters.base import World
from sagaspec.adapters.broker import BrokerAdapter, new_namespace, open_transport
from sagaspec.conformance.monitor import SagaMonitor
from sagaspec.examples.cluster import Cluster

URLS = {
    "nats": "nats://127.0.0.1:4222",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "redis": "redis://127.0.0.1:6379/0",
}
ITEMS = [{"sku": "sku-1", "quantity": 1, "unitPrice": "10.00"}]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_round_trip(url: str, n: int) -> list[float]:
    """Seconds from publish (confirmed) to receipt by an acknowledging consumer."""
    ns = new_namespace("rt")
    url = url + ("&" if "?" in url else "?") + f"ns={ns}"
    pub, sub = open_transport(url), open_transport(url)
    await pub.connect()
    await pub.ensure_topology(create=True)
    await sub.connect()
    arrived = asyncio.Event()

    async def handle(msg: Any) -> None:
        await msg.ack()
        arrived.set()

    await sub.consume("bench", ["Ping"], handle)
    out: list[float] = []
    try:
        for i in range(n + 20):
            arrived.clear()
            t0 = time.perf_counter()
            await pub.publish("Ping", b'{"n": %d}' % i, {})
            await asyncio.wait_for(arrived.wait(), 10)
            if i >= 20:  # warm-up
                out.append(time.perf_counter() - t0)
    finally:
        await sub.destroy()  # the consumer knows the queue it declared
        await sub.close()
        await pub.close()
    return out


async def sagas_end_to_end(url: str, n: int, window: int, db: str | None) -> dict[str, Any]:
    adapter = BrokerAdapter(url, spawn="all", db=db, launcher=Cluster)
    engine = SagaMonitor(timeout=600)
    placed: dict[str, float] = {}
    settled: dict[str, float] = {}
    t_start = time.perf_counter()

    def listen(item: Any) -> None:
        if not isinstance(item, dict):
            return
        engine.observe(item, now=time.perf_counter() - t_start, validate=False)
        sid = item.get("sagaId")
        view = engine.sagas.get(sid)
        if view is not None and view.terminal and sid not in settled:
            settled[sid] = time.perf_counter()

    adapter.record = False
    adapter.listeners.append(listen)
    t0 = time.perf_counter()
    await adapter.start()
    startup = time.perf_counter() - t0
    try:
        await adapter.setup(World(stock={"sku-1": 10**9}))
        token = new_namespace("s")
        gate = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            sid = f"saga-{token}-{i}"
            async with gate:
                placed[sid] = time.perf_counter()
                await adapter.place_order({"sagaId": sid, "orderId": f"order-{token}-{i}",
                                           "userId": "bench", "amount": "10.00", "items": ITEMS})
                while sid not in settled:
                    await asyncio.sleep(0.001)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - t0
    finally:
        await adapter.close()
    latencies = [settled[s] - placed[s] for s in placed if s in settled]
    return {"startup": startup, "sagas": len(latencies), "seconds": elapsed,
            "rate": len(latencies) / elapsed if elapsed else 0.0, "latencies": latencies,
            "violations": len(engine.violations)}


def suite_overhead(url: str, examples: int) -> dict[str, Any]:
    from sagaspec.conformance.runner import RunConfig, run

    final = run(RunConfig(adapter=url + ("&" if "?" in url else "?") + "spawn=1", participant="system",
                          examples=examples, seed=7, failures_dir=None))
    events = max(1, final.events)
    return {"examples": final.examples, "events": final.events, "failures": final.failures,
            "per_event": final.seconds / events,
            "own_per_event": max(0.0, final.seconds - final.adapter_seconds) / events}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="nats,rabbitmq,redis")
    parser.add_argument("--raw", type=int, default=1000, help="raw round trips per broker")
    parser.add_argument("--sagas", type=int, default=500)
    parser.add_argument("--window", type=int, default=32, help="sagas in flight at most")
    parser.add_argument("--examples", type=int, default=10, help="conformance examples per broker")
    parser.add_argument("--db", default=None, help="postgresql://... for the services (default SQLite)")
    parser.add_argument("--short", action="store_true", help="quick run: 200 raw, 60 sagas, 3 examples")
    args = parser.parse_args()
    if args.short:
        args.raw, args.sagas, args.examples = 200, 60, 3
    rows: list[dict[str, Any]] = []
    try:
        for name in [b.strip() for b in args.brokers.split(",") if b.strip()]:
            url = URLS[name]
            print(f"{name}: raw round trip x{args.raw} ...", file=sys.stderr, flush=True)
            raw = asyncio.run(raw_round_trip(url, args.raw))
            row: dict[str, Any] = {"broker": name, "raw_p50": pct(raw, 0.5), "raw_p99": pct(raw, 0.99)}
            rows.append(row)
            print(f"{name}: {args.sagas} sagas, window {args.window} ...", file=sys.stderr, flush=True)
            e2e = asyncio.run(sagas_end_to_end(url, args.sagas, args.window, args.db))
            row.update(rate=e2e["rate"], saga_p50=pct(e2e["latencies"], 0.5),
                       saga_p99=pct(e2e["latencies"], 0.99), sagas=e2e["sagas"],
                       startup=e2e["startup"], violations=e2e["violations"])
            idle_n = max(20, args.sagas // 5)
            print(f"{name}: {idle_n} sagas one at a time ...", file=sys.stderr, flush=True)
            idle = asyncio.run(sagas_end_to_end(url, idle_n, 1, args.db))
            row.update(idle_p50=pct(idle["latencies"], 0.5), idle_p99=pct(idle["latencies"], 0.99),
                       idle_rate=idle["rate"], violations=row["violations"] + idle["violations"])
            print(f"{name}: conformance suite, {args.examples} examples ...", file=sys.stderr, flush=True)
            suite = suite_overhead(url, args.examples)
            row.update(suite_events=suite["events"], per_event=suite["per_event"],
                       own_per_event=suite["own_per_event"], suite_failures=suite["failures"])
    except KeyboardInterrupt:
        print("interrupted: partial results", file=sys.stderr)
    report(rows, args)
    return 0


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    ms = 1000.0
    print(f"\nsagas end to end: {args.sagas} per broker with up to {args.window} in flight (sagas/s, "
          f"loaded p50/p99), then one at a time (idle p50/p99); stores "
          f"{'PostgreSQL' if args.db else 'SQLite'}; raw = publish+confirm -> consumer receive")
    head = (f"{'broker':9} {'raw p50':>8} {'raw p99':>8} {'sagas/s':>8} {'load p50':>9} {'load p99':>9} "
            f"{'idle p50':>9} {'idle p99':>9} {'idle/raw':>8} {'suite/ev':>9} {'ratio':>6} {'own/ev':>8} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "rate" not in r:
            print(f"{r['broker']:9} {r['raw_p50'] * ms:7.2f}ms {r['raw_p99'] * ms:7.2f}ms  (incomplete)")
            continue
        line = (f"{r['broker']:9} {r['raw_p50'] * ms:7.2f}ms {r['raw_p99'] * ms:7.2f}ms {r['rate']:8.1f} "
                f"{r['saga_p50'] * ms:7.0f}ms {r['saga_p99'] * ms:7.0f}ms")
        if "idle_p50" in r:
            line += (f" {r['idle_p50'] * ms:7.1f}ms {r['idle_p99'] * ms:7.1f}ms"
                     f" {r['idle_p50'] / r['raw_p50']:7.1f}x")
        if "per_event" in r:
            line += (f" {r['per_event'] * ms:7.2f}ms {r['per_event'] / r['raw_p50']:5.0f}x"
                     f" {r['own_per_event'] * ms:6.2f}ms {r['own_per_event'] / r['raw_p50']:5.1f}x")
        print(line)
    print("\nsuite/ev: conformance wall time per event exchanged with the system (incl. waiting "
          "until the model expects nothing more);\nown/ev: the suite's own share (generation, oracle, checks); ratios are to the raw p50.")
    for r in rows:
        notes = []
        if r.get("violations"):
            notes.append(f"{r['violations']} monitor violations")
        if r.get("suite_failures"):
            notes.append(f"suite failures: {r['suite_failures']}")
        if "startup" in r:
            notes.append(f"4 service processes ready in {r['startup']:.1f}s")
        print(f"{r['broker']}: " + "; ".join(notes))


if __name__ == "__main__":
    sys.exit(main())
