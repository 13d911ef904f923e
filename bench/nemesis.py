"""Nemesis: the reference system under broker, database and process faults, one table.

For each broker (a throwaway ``nats-server -js`` / ``redis-server`` this script starts
on a free loopback port) and each fault, runs the fault runner's workload and injects
the fault ``--faults`` times while the sagas run:

    python bench/nemesis.py                       # 60 sagas, 2 faults each, both brokers
    python bench/nemesis.py --sagas 200 --faults 4 --broker nats --fault broker-pause
    python bench/nemesis.py --pg postgresql://postgres@127.0.0.1:5432/test   # + db-terminate

A row is OK when every saga ended without manual action: 0 lost, every property of the
spec held (shown as held/judged), no violation seen on the bus. Ctrl-C stops
after the current row. The exit status is 1 if any row failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from sagaspec.examples.nemesis import FAULTS

from sagaspec.cli._nemesis import run_nemesis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sagas", type=int, default=60)
    parser.add_argument("--faults", type=int, default=2, help="injections per row")
    parser.add_argument("--broker", action="append", choices=("nats", "redis"))
    parser.add_argument("--fault", action="append", choices=FAULTS)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (enables db-terminate)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.sagas < 1 or args.faults < 1:
        parser.error("--sagas and --faults must be at least 1")
    brokers = args.broker or ["nats", "redis"]
    faults = [f for f in (args.fault or FAULTS) if f != "db-terminate" or args.pg]
    head = (f"{'broker':<6} {'fault':<15} {'sagas':>5} {'terminal':>8} {'lost':>4} "
            f"{'held':>8} {'violat':>6} {'restarts':>8} {'settle s':>8} "
            f"{'total s':>7}  result")
    print(head)
    print("-" * len(head))
    failed = 0
    try:
        for broker in brokers:
            for fault in faults:
                t0 = time.monotonic()
                with tempfile.TemporaryDirectory(prefix="nemesis-") as work:
                    try:
                        r = run_nemesis(fault, broker, workdir=work, sagas=args.sagas,
                                        faults=args.faults, seed=args.seed, pg_url=args.pg)
                    except Exception as exc:  # a row that cannot run is a failed row
                        failed += 1
                        print(f"{broker:<6} {fault:<15} error: {type(exc).__name__}: {exc}")
                        continue
                ok = r.ok
                failed += not ok
                print(f"{broker:<6} {fault:<15} {r.placed:>5} {r.terminal:>8} {r.lost:>4} "
                      f"{sum(1 for n in r.properties.values() if not n):>4}/{len(r.properties):<3} "
                      f"{sum(r.violations.values()):>6} {r.restarts:>8} "
                      f"{r.settle_seconds:>8.1f} {time.monotonic() - t0:>7.1f}  "
                      f"{'OK' if ok else 'FAILED'}", flush=True)
    except KeyboardInterrupt:
        print("interrupted: partial table")
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
