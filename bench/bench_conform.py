"""Throughput of the conformance suite and its own overhead per event.

For the reference services of the corrected design, in-process and over HTTP on
loopback (``sagaspec serve`` in a subprocess), per target participant: examples/s,
events/s (messages exchanged with the service: deliveries in, publications out), and
where the time goes per event: the adapter (the service and its transport), the oracle
(schema validation, saga consistency, properties, belief tracking) and the rest of the
suite (hypothesis generation, the suite playing the other participants, payloads).

    python bench/bench_conform.py            # 300 examples per configuration
    python bench/bench_conform.py --short    # 40 examples, in CI
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="40 examples per configuration")
    ap.add_argument("--examples", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
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
