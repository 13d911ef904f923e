"""Start-up cost of the processes the test suite and users start many times.

For each case: CPU milliseconds (user + system of the child, median of ``--repeat``
runs) with the conformance package loaded eagerly, as its ``__init__`` did before
(``old``: an import hook loads its six submodules, Hypothesis and the models with them,
whenever the package is imported), and as it is now (``new``: each loaded on first
use), and the ratio. CPU time, not wall: this
machine is shared. Nothing here asserts a timing.

Usage::

    python bench/bench_startup.py              # 5 runs per case
    python bench/bench_startup.py --repeat 11
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAVEL = str(ROOT / "examples" / "sagas" / "travel.saga.yaml")

# What `from sagaspec.conformance import ...` loaded before it was lazy.
EAGER = ("sagaspec.conformance.cases", "sagaspec.conformance.checks", "sagaspec.conformance.events",
         "sagaspec.conformance.oracle", "sagaspec.conformance.pytest_plugin",
         "sagaspec.conformance.runner")

CASES: dict[str, list[str] | None] = {
    # name -> sagaspec argv (None: only the import of the pytest plugin every pytest loads)
    "pytest plugin import": None,
    "sagaspec --version": ["--version"],
    "sagaspec check --help": ["check", "--help"],
    "sagaspec serve --spec travel --list-mutants": ["serve", "--spec", TRAVEL, "--list-mutants"],
    "sagaspec --help": ["--help"],
}


# The old package: whenever sagaspec.conformance is imported, its six submodules follow.
_EAGER_HOOK = f"""
import importlib, importlib.machinery, sys

class _Eager:
    def find_spec(self, name, path=None, target=None):
        if name != "sagaspec.conformance":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            for sub in {EAGER!r}:
                importlib.import_module(sub)
        spec.loader.exec_module = exec_module
        return spec

import importlib.util
sys.meta_path.insert(0, _Eager())
"""


def _script(argv: list[str] | None, eager: bool) -> str:
    lines = [_EAGER_HOOK] if eager else []
    if argv is None:
        lines.append("import sagaspec.conformance.pytest_plugin")
    else:
        lines += ["import runpy, sys", f"sys.argv = {['sagaspec', *argv]!r}",
                  "runpy.run_module('sagaspec', run_name='__main__', alter_sys=True)"]
    return "\n".join(lines)


def _cpu_ms(script: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", script], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    baseline = statistics.median(_cpu_ms("pass") for _ in range(args.repeat))
    print(f"python -c pass: {baseline:.0f} ms CPU (included below)")
    print(f"{'case':<44} {'old ms':>7} {'new ms':>7} {'new/old':>8}")
    for name, argv in CASES.items():
        old = statistics.median(_cpu_ms(_script(argv, True)) for _ in range(args.repeat))
        new = statistics.median(_cpu_ms(_script(argv, False)) for _ in range(args.repeat))
        print(f"{name:<44} {old:>7.0f} {new:>7.0f} {new / old:>8.2f}")


if __name__ == "__main__":
    main()
