"""Soak: >= 1,000 sagas per broker while the service processes are killed and restarted.

Runs :mod:`sagaspec.conformance.faults` on each broker: the four reference services as
processes (fresh namespace), ``--sagas`` orders with declined payments and short stock
mixed in, ``--kills`` SIGKILLs of a random service spread over the run (half of the
restarts armed to die again at before-commit / after-commit / after-publish), and prints
per broker: sagas, terminal, lost, double charges, leaked reservations, stock conserved,
kills. Exit status 1 if any broker broke a property. Ctrl-C stops placing orders and
prints the partial, honest figures. A short form runs in CI (``tests/brokers/test_broker_faults.py``).

    python bench/soak.py [--sagas 1000] [--kills 30] [--brokers nats,rabbitmq,redis] [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from sagaspec.conformance.faults import FaultPlan, FaultRunner
from sagaspec.examples.cluster import Cluster

URLS = {
    "nats": "nats://127.0.0.1:4222",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "redis": "redis://127.0.0.1:6379/0",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="nats,rabbitmq,redis")
    parser.add_argument("--sagas", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20240115)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--db", default=None, help="postgresql://... for the services (default SQLite)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the reports to this file")
    args = parser.parse_args()
    reports = []
    for name in [b.strip() for b in args.brokers.split(",") if b.strip()]:
        plan = FaultPlan(sagas=args.sagas, kills=args.kills, seed=args.seed, concurrency=args.concurrency,
                         settle_timeout=120)
        last = [0.0]

        def progress(p: dict, name: str = name, last: list[float] = last) -> None:
            if time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                print(f"{name}: {p['phase']} {p['placed']}/{p['sagas']} placed, {p['terminal']} terminal, "
                      f"{p['kills']} kills, {p['violations']} violations, {p['seconds']:.0f}s",
                      file=sys.stderr, flush=True)

        runner = FaultRunner(URLS[name], plan, db=args.db, progress=progress, launcher=Cluster)
        report = runner.run()
        reports.append((name, report))
        print(f"\n== {name} ==")
        print("\n".join(report.lines()), flush=True)
        if report.interrupted:
            break
    print("\nbroker     sagas  terminal  lost  properties-held  violations  kills  seconds")
    for name, r in reports:
        held = sum(1 for n in r.properties.values() if not n)
        print(f"{name:9} {r.placed:6} {r.terminal:9} {r.lost:5} {f'{held}/{len(r.properties)}':>16} "
              f"{sum(r.violations.values()):11} {r.kills:6} {r.seconds:8.0f}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump({n: r.to_json() for n, r in reports}, f, indent=2, sort_keys=True)
    return 0 if reports and all(r.ok for _, r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
