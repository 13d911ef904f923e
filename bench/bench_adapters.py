"""Raw adapter throughput: events delivered + collected, in-process and over HTTP.

Measures, for the reference services:

* ``payment`` target: one ``OrderCreated`` delivered, then one collect (returns the
  ``PaymentProcessed`` it caused) -- the suite's per-event cost floor;
* ``system`` target: one ``place_order`` then one collect (5 events per saga);
* over HTTP the same through :class:`~sagaspec.adapters.http.HttpAdapter` against
  ``sagaspec serve`` in a separate process on loopback (poll mode and webhook mode),
  next to the bare HTTP round trip (``GET /health``) measured in the same run.

Prints counts, rates and the HTTP / in-process ratios. ``--short`` for a quick run (CI);
Ctrl-C prints what was measured so far.

    python bench/bench_adapters.py [--short] [--n N]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import httpx
from sagaspec.adapters import World, load_adapter
from sagaspec.examples.samples import sample_created, sample_order

WORLD = World(stock={"sku-1": 10**9})


class Served:
    """``sagaspec serve --port 0`` in a subprocess."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sagaspec", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line: list[str] = []
        t = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(30)
        if not line or "listening on" not in line[0]:
            self.stop()
            raise SystemExit(f"sagaspec serve did not start: {line}")
        self.url = line[0].split("listening on", 1)[1].strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


async def timed(n: int, step: Callable[[int], Awaitable[int]]) -> tuple[int, int, float]:
    """Run ``step(i)`` for i < n; returns (steps done, events collected, seconds)."""
    events = 0
    t0 = time.perf_counter()
    done = 0
    try:
        for i in range(n):
            events += await step(i)
            done += 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    return done, events, time.perf_counter() - t0


async def bench_target(spec: str, participant: str, n: int, warmup: int) -> tuple[int, int, float]:
    adapter = load_adapter(spec, participant=participant)
    await adapter.start()
    try:
        if "reset" in adapter.capabilities:
            await adapter.reset()
        await adapter.setup(WORLD)

        async def payment_step(i: int) -> int:
            await adapter.deliver(sample_created(i, prefix="b"))
            out = await adapter.collect(5.0)
            assert len(out) == 1 and out[0]["eventType"] == "PaymentProcessed", out
            return 1

        async def system_step(i: int) -> int:
            await adapter.place_order(sample_order(i, prefix="b"))
            out = await adapter.collect(5.0)
            assert len(out) == 5, out
            return 5

        step = payment_step if participant == "payment" else system_step
        await timed(warmup, lambda i: step(10**7 + i))
        return await timed(n, step)
    finally:
        await adapter.close()


async def bench_round_trip(url: str, n: int) -> tuple[int, int, float]:
    async with httpx.AsyncClient() as client:
        async def step(_: int) -> int:
            r = await client.get(url + "/health")
            r.raise_for_status()
            return 0
        await timed(20, step)
        return await timed(n, step)


def row(label: str, done: int, events: int, secs: float, unit: str) -> float:
    rate = done / secs if secs else 0.0
    ev = events / secs if secs else 0.0
    print(f"  {label:<44} {done:>6} {unit:<11} {secs:7.2f} s  {rate:9.0f} {unit}/s  {ev:9.0f} events/s", flush=True)
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="a quick run (a few hundred steps)")
    ap.add_argument("--n", type=int, default=None, help="steps per measurement")
    args = ap.parse_args(argv)
    n = args.n or (200 if args.short else 3000)
    warmup = 20 if args.short else 200
    rates: dict[str, float] = {}
    print(f"bench_adapters: {n} steps per row (warm-up {warmup}), reference services, design corrected")
    loop = asyncio.new_event_loop()
    servers: list[Served] = []
    try:
        print("in-process")
        rates["ip-pay"] = row("payment: deliver OrderCreated + collect", *loop.run_until_complete(
            bench_target("inprocess:", "payment", n, warmup)), "deliveries")
        rates["ip-sys"] = row("system: place_order + collect (5 events)", *loop.run_until_complete(
            bench_target("inprocess:", "system", n // 2, warmup)), "sagas")
        print("HTTP on loopback (sagaspec serve in another process)")
        pay = Served("--participant", "payment")
        servers.append(pay)
        system = Served("--participant", "system")
        servers.append(system)
        rates["rt"] = row("bare round trip: GET /health", *loop.run_until_complete(
            bench_round_trip(pay.url, n)), "requests")
        rates["http-pay"] = row("payment: POST /events + GET /published", *loop.run_until_complete(
            bench_target(pay.url, "payment", n, warmup)), "deliveries")
        rates["hook-pay"] = row("payment, webhook mode", *loop.run_until_complete(
            bench_target(pay.url + "?collect=webhook", "payment", n, warmup)), "deliveries")
        rates["http-sys"] = row("system: POST /orders + GET /published", *loop.run_until_complete(
            bench_target(system.url, "system", n // 2, warmup)), "sagas")
    except KeyboardInterrupt:
        print("interrupted: partial results above", flush=True)
    finally:
        for s in servers:
            s.stop()
        loop.close()
    print("ratios")
    if "ip-pay" in rates and "http-pay" in rates:
        print(f"  in-process / HTTP, payment deliveries:       {rates['ip-pay'] / rates['http-pay']:8.1f}x")
    if "ip-sys" in rates and "http-sys" in rates:
        print(f"  in-process / HTTP, system sagas:             {rates['ip-sys'] / rates['http-sys']:8.1f}x")
    if "rt" in rates and "http-pay" in rates:
        print(f"  HTTP delivery+collect cost in bare round trips: {rates['rt'] / rates['http-pay']:6.2f}")
    if "http-pay" in rates and "hook-pay" in rates:
        print(f"  webhook / poll, payment deliveries:          {rates['hook-pay'] / rates['http-pay']:8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
