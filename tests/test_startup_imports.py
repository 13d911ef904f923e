"""Start-up stays cheap: the command line, its help and the pytest plugin (loaded by
every pytest run) import Hypothesis, the conformance engine, the models and the broker
clients only when a command that uses them runs. See bench/bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys

import sagaspec.conformance
import sagaspec.spec

HEAVY = ("hypothesis", "hypothesis_jsonschema", "sagaspec.conformance.runner",
         "sagaspec.conformance.harness", "nats", "aio_pika", "redis", "psycopg", "distributed",
         "pydantic", "jsonschema")

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


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    """``sagaspec ARGV``; its last line of output: the HEAVY modules it loaded, as JSON."""
    script = ("import atexit, json, runpy, sys\n"
              f"atexit.register(lambda: print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))))\n"
              f"sys.argv = ['sagaspec', *{list(argv)!r}]\n"
              "runpy.run_module('sagaspec', run_name='__main__', alter_sys=True)\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command_without_loading_the_engine():
    # `sagaspec --help` imports every command's module for its summary line.
    r = _run_cli("--help")
    assert r.returncode == 0, r.stderr
    *help_lines, loaded = r.stdout.strip().splitlines()
    assert any(line.split()[:1] == ["conform"] for line in help_lines), r.stdout
    assert json.loads(loaded) == []


def test_check_and_lint_of_a_shipped_design_load_no_event_models_nor_validators():
    # They read the spec file only: no pydantic models, no jsonschema validation (the
    # shipped files skip it: sagaspec.spec.sagafile._Builder.schema_checks), no Hypothesis.
    for argv in (["check"], ["check", "--design", "seed"], ["lint"]):
        r = _run_cli(*argv)
        assert r.returncode == (1 if "seed" in argv else 0), (argv, r.stderr)
        *output, loaded = r.stdout.strip().splitlines()
        assert output or "clean" in r.stderr, argv  # (lint's verdict is on stderr)
        assert json.loads(loaded) == [], argv


def test_the_spec_package_and_the_spec_file_reader_load_no_event_models_nor_validators():
    seen = _loaded_after("sagaspec.spec", "sagaspec.spec.sagafile", "sagaspec.model")
    assert seen == {"sagaspec.spec": [], "sagaspec.spec.sagafile": [], "sagaspec.model": []}


def test_the_spec_package_still_offers_every_public_name():
    for name in sagaspec.spec.__all__:
        assert getattr(sagaspec.spec, name) is not None, name
    assert set(sagaspec.spec.__all__) <= set(dir(sagaspec.spec))
    # The made-on-use order saga models, and the submodules it imported before it was lazy.
    assert "OrderCreated" in sagaspec.spec.EVENT_TYPES
    assert sagaspec.spec.EVENT_MODELS["OrderCreated"].__name__ == "OrderCreated"
    assert sagaspec.spec.schemas.__name__ == "sagaspec.spec.schemas"
    from sagaspec.spec import Problem, events  # a name, and a submodule

    assert Problem.__module__ == "sagaspec.spec.schemas"
    assert events.__name__ == "sagaspec.spec.events"


def test_the_conformance_package_still_offers_every_public_name():
    for name in sagaspec.conformance.__all__:
        assert getattr(sagaspec.conformance, name) is not None, name
    assert set(sagaspec.conformance.__all__) <= set(dir(sagaspec.conformance))
    from sagaspec.conformance import RunConfig, choosers  # a name, and a submodule

    assert RunConfig.__module__ == "sagaspec.conformance.runner"
    assert choosers.__name__ == "sagaspec.conformance.choosers"
