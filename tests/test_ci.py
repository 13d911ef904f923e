"""CI runs exactly the README's test command, and that command runs the suite in parallel
with its slowest tests listed (the options live in pyproject.toml, not in the command)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S)
                for line in block.splitlines() if "python -m pytest" in line and "&&" in line]
    assert len(commands) == 1, commands
    return commands[0].strip()


def test_ci_runs_the_readme_test_command_verbatim():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().splitlines()
    assert script[-1] == _readme_test_command()


def test_the_suite_runs_on_parallel_workers_and_shows_its_slowest_tests():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = config["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert addopts[addopts.index("-n") + 1] == "auto" and "--durations=15" in addopts
    dev = config["project"]["optional-dependencies"]["dev"]
    assert any(d.startswith("pytest-xdist") for d in dev)


def test_auto_means_two_workers_per_core(pytestconfig):
    """Much of the suite waits (brokers, processes, servers): ``-n auto`` runs two workers
    per core (tests/conftest.py) so the waits overlap."""
    import os

    cores = len(os.sched_getaffinity(0))
    assert pytestconfig.hook.pytest_xdist_auto_num_workers(config=pytestconfig) == 2 * cores


def test_processes_the_suite_starts_cache_their_bytecode_outside_the_tree(tmp_path):
    """Even with PYTHONDONTWRITEBYTECODE set, a process a test starts (a CLI run, a
    service) caches what it compiles, under PYTHONPYCACHEPREFIX, not in the folders it
    imports from (tests/conftest.py): compiling every module on every start cost 0.36 s
    of CPU per ``sagaspec`` command."""
    import os
    import subprocess
    import sys

    (tmp_path / "probe_mod.py").write_text("VALUE = 1\n", encoding="utf-8")
    code = ("import importlib.util, sys, probe_mod; print(sys.dont_write_bytecode); "
            "print(importlib.util.cache_from_source(probe_mod.__file__))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ),
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False"
    assert Path(out[1]).is_file() and tmp_path not in Path(out[1]).parents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe_mod.py"]
