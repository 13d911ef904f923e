"""Start-up stays cheap: the command line, its help and the pytest plugin (loaded by
every pytest run) import Hypothesis, the conformance engine, the models and the broker
clients only when a command that uses them runs. See bench/bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys

import sagaspec.conformance

HEAVY = ("hypothesis", "hypothesis_jsonschema", "sagaspec.conformance.runner",
         "sagaspec.conformance.harness", "nats", "aio_pika", "redis", "psycopg", "distributed")

# argv: the heavy modules as JSON, then the modules to import in turn.
PROBE = """
import json, sys
heavy, seen = json.loads(sys.argv[1]), {}
for module in sys.argv[2:]:
    __import__(module)
    seen[module] = sorted(m for m in heavy if m in sys.modules)
print(json.dumps(seen))
"""


def _loaded_after(*modules: str) -> dict[str, list[str]]:
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), *modules], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_command_line_and_the_pytest_plugin_load_no_engine():
    # (The probe records after each import in turn: its first entry is the first import
    # alone, in a fresh interpreter.)
    seen = _loaded_after("sagaspec.cli", "sagaspec.conformance.pytest_plugin", "sagaspec.cli.conform")
    assert seen == {"sagaspec.cli": [], "sagaspec.conformance.pytest_plugin": [],
                    "sagaspec.cli.conform": []}


def test_help_lists_every_command_without_loading_the_engine():
    # `sagaspec --help` imports every command's module for its summary line.
    script = ("import atexit, json, runpy, sys\n"
              f"atexit.register(lambda: print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))))\n"
              "sys.argv = ['sagaspec', '--help']\n"
              "runpy.run_module('sagaspec', run_name='__main__', alter_sys=True)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    *help_lines, loaded = r.stdout.strip().splitlines()
    assert any(line.split()[:1] == ["conform"] for line in help_lines), r.stdout
    assert json.loads(loaded) == []


def test_the_conformance_package_still_offers_every_public_name():
    for name in sagaspec.conformance.__all__:
        assert getattr(sagaspec.conformance, name) is not None, name
    assert set(sagaspec.conformance.__all__) <= set(dir(sagaspec.conformance))
    from sagaspec.conformance import RunConfig, choosers  # a name, and a submodule

    assert RunConfig.__module__ == "sagaspec.conformance.runner"
    assert choosers.__name__ == "sagaspec.conformance.choosers"
