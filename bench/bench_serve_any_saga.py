"""CPU of the README's commands on a saga of one's own (the travel starter of
``sagaspec init travel``), as the reference services loaded before and as they load now.

``old`` replays, by an import hook in the child (as bench/bench_startup.py does), what two
modules did when imported before they were made lazy:

* ``sagaspec.examples.envelope`` (and ``.system``) read ``EVENT_MODELS``: the shipped
  order saga's spec file parsed and its pydantic event models built, in every process
  that started a reference service of any saga;
* ``sagaspec.examples.httpserver`` imported ``sagaspec.adapters.http`` (for its two token
  helpers), and so the HTTP client httpx, in every ``sagaspec serve``.

CPU milliseconds (user + system of the child; median of ``--repeat`` runs, old and new
alternating: the machine's load drifts). ``serve`` is measured until it listens. Nothing
here asserts a timing.

Usage::

    python bench/bench_serve_any_saga.py              # 5 runs per case
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# The old imports, put back by an import hook (the one bench_startup.py uses).
from bench_startup import _HOOK as HOOK  # noqa: E402 - a script in bench/, beside it

OLD = {
    "sagaspec.examples.envelope": "import sagaspec.spec.events as e\ne.EVENT_MODELS",
    "sagaspec.examples.system": "import sagaspec.spec.events as e\ne.EVENT_MODELS",
    "sagaspec.examples.httpserver": "importlib.import_module('sagaspec.adapters.http')",
}

CASES: dict[str, list[str]] = {
    "serve --spec travel.saga.yaml (until it listens)": ["serve", "--spec", "travel.saga.yaml", "--port", "0"],
    "conform --design travel.saga.yaml -n 20 --seed 1": ["conform", "--design", "travel.saga.yaml",
                                                        "-n", "20", "--seed", "1"],
    "mutate --design travel.saga.yaml": ["mutate", "--design", "travel.saga.yaml"],
    "monitor --from-file (empty) --design travel --at-rest": ["monitor", "--from-file", "empty.ndjson",
                                                              "--design", "travel.saga.yaml", "--at-rest"],
}


def _script(argv: list[str], old: bool) -> str:
    lines = [HOOK.format(after=OLD)] if old else []
    lines += ["import runpy, sys", f"sys.argv = {['sagaspec', *argv]!r}",
              "runpy.run_module('sagaspec', run_name='__main__', alter_sys=True)"]
    return "\n".join(lines)


def _cpu_ms(script: str, cwd: Path, serve: bool) -> float:
    if serve:
        proc = subprocess.Popen([sys.executable, "-u", "-c", script], cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if "listening on" in line:
                break
        else:
            sys.exit(f"serve did not start (exit {proc.wait()})")
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        proc.kill()
        proc.wait()
        return 1000 * ticks / _TICKS
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=cwd, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"a run failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


_TICKS = 100


def main() -> None:
    global _TICKS
    import os

    _TICKS = os.sysconf("SC_CLK_TCK")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-any-saga-"))
    subprocess.run([sys.executable, "-m", "sagaspec", "init", "travel"], cwd=folder, check=True,
                   capture_output=True)
    (folder / "empty.ndjson").write_text("")
    print(f"{'case':<56} {'old ms':>7} {'new ms':>7} {'new/old':>8}")
    total_old = total_new = 0.0
    for name, argv in CASES.items():
        old, new = [], []
        for _ in range(args.repeat):  # alternating: the machine's load drifts
            old.append(_cpu_ms(_script(argv, True), folder, argv[0] == "serve"))
            new.append(_cpu_ms(_script(argv, False), folder, argv[0] == "serve"))
        o, n = statistics.median(old), statistics.median(new)
        total_old, total_new = total_old + o, total_new + n
        print(f"{name:<56} {o:>7.0f} {n:>7.0f} {n / o:>8.2f}")
    print(f"{'total':<56} {total_old:>7.0f} {total_new:>7.0f} {total_new / total_old:>8.2f}")


if __name__ == "__main__":
    main()
