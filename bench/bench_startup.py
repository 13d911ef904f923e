"""Start-up cost of the processes the test suite and users start many times.

For each case: CPU milliseconds (user + system of the child, median of ``--repeat``
runs, old and new alternating) as the package loaded before start-up was made lazy
(``old``) and as it loads now (``new``), and the ratio. CPU time, not wall: this
machine is shared. Nothing here asserts a timing.

``old`` replays, by an import hook in the child, what each module did when imported:

* ``sagaspec.spec`` imported its submodules (the event models: pydantic; the
  validators: jsonschema) and so every ``sagaspec.spec.X`` import loaded them;
* ``sagaspec.conformance.checks`` made ``CHECKS`` (the spec read through the models);
* a shipped spec file ran the JSON Schema checks a user's file runs, at every load;
* with ``--old conformance``, also the conformance package's six submodules
  (Hypothesis and the engine) on every import of the package, as before it was lazy.

Usage::

    python bench/bench_startup.py              # 5 runs per case
    python bench/bench_startup.py --repeat 11 --old conformance
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAVEL = str(ROOT / "examples" / "sagas" / "travel.saga.yaml")
SITE = tempfile.mkdtemp(prefix="bench-startup-")

CASES: dict[str, list[str] | None] = {
    # name -> sagaspec argv (None: only the import of the pytest plugin every pytest loads)
    "pytest plugin import": None,
    "sagaspec --version": ["--version"],
    "sagaspec --help": ["--help"],
    "sagaspec check --help": ["check", "--help"],
    "sagaspec check": ["check"],
    "sagaspec check --design seed": ["check", "--design", "seed"],
    "sagaspec conform --participant payment -n 1": ["conform", "--participant", "payment", "-n", "1",
                                                    "--seed", "1"],
    "sagaspec lint": ["lint"],
    "sagaspec docs --out DIR": ["docs", "--out", SITE],
    "sagaspec serve --spec travel --list-mutants": ["serve", "--spec", TRAVEL, "--list-mutants"],
}

# module -> what it did once executed, before start-up was lazy (Python source).
SPEC_EAGER = {
    "sagaspec.spec": "\n".join(f"importlib.import_module('sagaspec.spec.{m}')" for m in (
        "cloudevents", "designs", "eventfile", "events", "evolution", "examples", "lint",
        "schemagen", "schemas")),
    "sagaspec.conformance.checks": "module.CHECKS = module.checks_for('corrected')",
    "sagaspec.spec.sagafile": (
        "init = module._Builder.__init__\n"
        "def checked(self, *a, **k):\n"
        "    init(self, *a, **k)\n"
        "    self.schema_checks = True\n"
        "module._Builder.__init__ = checked"),
}
CONFORMANCE_EAGER = {
    "sagaspec.conformance": "\n".join(f"importlib.import_module('sagaspec.conformance.{m}')" for m in (
        "cases", "checks", "events", "oracle", "pytest_plugin", "runner")),
}

_HOOK = """
import importlib, importlib.util, sys

AFTER = {after!r}

class _Eager:
    def find_spec(self, name, path=None, target=None):
        if name not in AFTER:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            exec(AFTER[name], {{"module": module, "importlib": importlib}})
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Eager())
"""


def _script(argv: list[str] | None, after: dict[str, str] | None) -> str:
    lines = [_HOOK.format(after=after)] if after else []
    if argv is None:
        lines.append("import sagaspec.conformance.pytest_plugin")
    else:
        lines += ["import runpy, sys", f"sys.argv = {['sagaspec', *argv]!r}",
                  "runpy.run_module('sagaspec', run_name='__main__', alter_sys=True)"]
    return "\n".join(lines)


def _cpu_ms(script: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Exit 1 is a verdict (check --design seed finds violations), not a failed run.
    r = subprocess.run([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=ROOT, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"a run failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--old", choices=("spec", "conformance"), default="spec",
                        help="spec: as before the spec package was lazy (the default); "
                             "conformance: before the conformance package was lazy too")
    args = parser.parse_args()
    after = {**SPEC_EAGER, **(CONFORMANCE_EAGER if args.old == "conformance" else {})}
    baseline = statistics.median(_cpu_ms("pass") for _ in range(args.repeat))
    print(f"python -c pass: {baseline:.0f} ms CPU (included below); old: before {args.old} was lazy")
    print(f"{'case':<48} {'old ms':>7} {'new ms':>7} {'new/old':>8}")
    for name, argv in CASES.items():
        old, new = [], []
        for _ in range(args.repeat):  # alternating: the machine's load drifts
            old.append(_cpu_ms(_script(argv, after)))
            new.append(_cpu_ms(_script(argv, None)))
        o, n = statistics.median(old), statistics.median(new)
        print(f"{name:<48} {o:>7.0f} {n:>7.0f} {n / o:>8.2f}")


if __name__ == "__main__":
    main()
