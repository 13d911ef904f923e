"""conform --spec: cases per second in-process vs over HTTP (sagaspec serve --spec), same cases.

Runs the same seeded cases of each example spec twice, on the reference services in
this process and on ``sagaspec serve --spec`` (a separate process on a free loopback
port), and prints cases, deliveries and events (equal on both sides: generation does not
depend on the adapter), cases/s and deliveries/s, and the ratio. ``--mutants N``: for
every mutant of each spec, the first failing case among N and its failure, in-process and
served over HTTP (in this process), and how many agree.

    python bench/bench_spec_conform.py [-n 100] [--seed 0] [--mutants 10]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from sagaspec.conformance.spec_conform import InProcessSpecAdapter, case_seed, run_case
from sagaspec.spec.sagafile import resolve_spec

SAGAS = Path(__file__).resolve().parents[1] / "examples" / "sagas"


def run(spec, adapter, n: int, seed: int) -> tuple[int, int, int, float]:
    t0 = time.perf_counter()
    steps = events = 0
    for k in range(n):
        s = case_seed(seed, k)
        r = run_case(spec, adapter, s, sagas=1 + s % 3)
        assert not r.failures, r.failures[0]
        steps += r.steps
        events += r.events
    return n, steps, events, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mutants", type=int, default=0, metavar="N")
    args = ap.parse_args()
    from sagaspec.adapters.spec_http import SpecHttpAdapter

    print(f"{'spec':<8} {'adapter':<10} {'cases':>6} {'deliveries':>10} {'events':>7} {'cases/s':>8} {'deliv/s':>8}")
    for name in ("travel", "shop"):
        path = str(SAGAS / f"{name}.saga.yaml")
        spec = resolve_spec(path)
        here = run(spec, InProcessSpecAdapter(spec), args.n, args.seed)
        proc = subprocess.Popen([sys.executable, "-m", "sagaspec", "serve", "--spec", path, "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
            http = SpecHttpAdapter(url)
            there = run(spec, http, args.n, args.seed)
            http.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        for label, (n, steps, events, secs) in (("inprocess", here), ("http", there)):
            print(f"{name:<8} {label:<10} {n:>6} {steps:>10} {events:>7} {n / secs:>8.1f} {steps / secs:>8.0f}")
        same = "same cases" if here[:3] == there[:3] else "DIFFERENT CASES"
        print(f"{name:<8} in-process / http: {there[3] / here[3]:.1f}x faster ({same})")
        if args.mutants:
            mutant_agreement(spec, args.mutants, args.seed)


def first_failure(spec, adapter, n: int, seed: int):
    for k in range(n):
        s = case_seed(seed, k)
        r = run_case(spec, adapter, s, sagas=1 + s % 3)
        if r.failures:
            f = r.failures[0]
            return k, f.check, f.participant, f.event
    return None


def mutant_agreement(spec, n: int, seed: int) -> None:
    from sagaspec.adapters.spec_http import SpecHttpAdapter
    from sagaspec.conformance.mutate import mutants
    from sagaspec.conformance.spec_conform import spec_service_factory
    from sagaspec.examples.httpserver import SagaHTTPServer
    from sagaspec.examples.spec_target import SpecTarget

    agree = caught = total = 0
    for m in mutants(spec):
        server = SagaHTTPServer(SpecTarget(spec_service_factory(spec, m.name)), port=0, token=None).start()
        http = SpecHttpAdapter(server.url)
        try:
            here = first_failure(spec, InProcessSpecAdapter(spec, m.name), n, seed)
            there = first_failure(spec, http, n, seed)
        finally:
            http.close()
            server.close()
        total += 1
        caught += here is not None
        agree += here == there
        if here != there:
            print(f"  {m.name}: in-process {here}, http {there}")
    print(f"{spec.name:<8} mutants: {total}, caught within {n} cases: {caught}, "
          f"same first failing case and failure in-process and over HTTP: {agree}/{total}")


if __name__ == "__main__":
    main()
