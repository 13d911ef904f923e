"""pytest plugin for the sagaspec conformance suite (``pytest11`` entry point).

A team's whole test module is three lines::

    from sagaspec.conformance import conformance_test

    test_service = conformance_test(adapter="http://127.0.0.1:8080", participant="system")

The test runs the same engine as ``sagaspec conform``; a failure fails the test with the
shrunk sequence diagram, the property broken and the "Reproduce with:" line, and each
failing case is saved under ``--sagaspec-failures-dir``. Options (group ``sagaspec``)
override the module's arguments, so one module runs against any environment::

    pytest --sagaspec-adapter http://staging:8080 --sagaspec-examples 500

Ini keys ``sagaspec_adapter``, ``sagaspec_examples``, ... give defaults below both. The
``sagaspec_conform`` fixture runs the suite from any test and returns the result.
Checks the adapter cannot run (a missing hook) are listed as skipped in the terminal
summary and in the test's ``user_properties`` (so they show in ``--junitxml``).
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["conformance_test", "sagaspec_conform"]

#: option name -> (type, help). Each is --sagaspec-<name> and ini key sagaspec_<name>.
_OPTIONS: dict[str, tuple[Any, str]] = {
    "adapter": (str, "adapter string: inprocess:pkg.mod:factory, http://127.0.0.1:8080, ..."),
    "participant": (str, "a participant of the design, or system"),
    "design": (str, "a shipped design (corrected, seed) or a saga spec file"),
    "examples": (int, "generated test cases"),
    "seed": (int, "hypothesis seed"),
    "replay": (str, "replay one case file or model checker trace"),
    "failures-dir": (str, "where failing cases are saved as replayable JSON"),
    "max-sagas": (int, "concurrent sagas per test case"),
    "max-steps": (int, "generated steps per test case"),
    "collect-timeout": (float, "seconds to wait for the service to go quiet after a step"),
    "mutant": (str, "reference services only: a named mutant"),
    "mapping": (str, "vocabulary mapping file for services with other event names"),
}

_KEY = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sagaspec", "sagaspec conformance suite")
    for name, (typ, text) in _OPTIONS.items():
        group.addoption(f"--sagaspec-{name}", dest=f"sagaspec_{name.replace('-', '_')}",
                        type=typ, default=None, help=text)
        parser.addini(f"sagaspec_{name.replace('-', '_')}", f"default for --sagaspec-{name}",
                      default=None)
    group.addoption("--sagaspec-cover-edges", dest="sagaspec_cover_edges", action="store_true",
                    default=False, help="drive the service along paths covering every "
                                        "edge of the model graph")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = []


def _option(config: pytest.Config, name: str, given: Any) -> Any:
    key = name.replace("-", "_")
    cli = config.getoption(f"sagaspec_{key}", None)
    if cli is not None:
        return cli
    if given is not None:
        return given
    ini = config.getini(f"sagaspec_{key}")
    if ini in (None, "", []):
        return None
    typ = _OPTIONS[name][0]
    return typ(ini)


def conformance_test(adapter: Any = None, participant: str | None = None,
                     design: str | None = None, examples: int | None = None,
                     **options: Any):
    """A pytest test function that runs the conformance suite.

    Keyword arguments are those of :class:`~sagaspec.conformance.runner.RunConfig`
    (``seed``, ``max_sagas``, ``failures_dir``, ``mutant``, ...); command-line options
    ``--sagaspec-*`` override them.
    """
    given = {"adapter": adapter, "participant": participant, "design": design,
             "examples": examples, **options}

    def test(request: pytest.FixtureRequest) -> None:
        from sagaspec.conformance.reports import failure_text
        from sagaspec.conformance.runner import RunConfig, run

        cfg = request.config
        values: dict[str, Any] = {}
        for name in _OPTIONS:
            key = name.replace("-", "_")
            v = _option(cfg, name, given.get(key))
            if v is not None:
                values[key] = v
        for k, v in given.items():
            if k not in values and v is not None:
                values[k] = v
        if cfg.getoption("sagaspec_cover_edges", False):
            values["cover_edges"] = True
        if "adapter" not in values:
            pytest.fail("sagaspec: no adapter: pass adapter= to conformance_test() or "
                        "--sagaspec-adapter", pytrace=False)
        values.setdefault("participant", "system")
        values.setdefault("failures_dir", ".sagaspec/failures")
        values.setdefault("command", "pytest")
        from sagaspec.errors import SagaspecError

        failures = []
        try:
            final = run(RunConfig(**values),
                        on_event=lambda e: failures.append(e.failure)
                        if getattr(e, "kind", "") == "failure" else None)
        except SagaspecError as exc:
            pytest.fail(f"sagaspec: {exc}", pytrace=False)
        skipped = {c.name: c.reason for c in final.checks if c.status == "skipped"}
        for name, why in skipped.items():
            request.node.user_properties.append((f"sagaspec-skipped:{name}", why))
        if final.coverage:
            request.node.user_properties.append(("sagaspec-coverage", final.coverage["share"]))
        cfg.stash[_KEY].append((request.node.nodeid, final))
        if failures:
            text = "\n\n".join(failure_text(f) for f in failures)
            pytest.fail(f"sagaspec conformance: {len(failures)} check(s) failed: "
                        f"{', '.join(f.check for f in failures)}\n\n{text}", pytrace=False)

    test.__doc__ = (f"sagaspec conformance suite against {adapter or 'the configured adapter'}"
                    f" ({participant or 'system'})")
    return test


@pytest.fixture
def sagaspec_conform(request: pytest.FixtureRequest):
    """Run the suite from a test: ``sagaspec_conform(adapter=..., participant=...)``.

    Returns the final ``RunFinished``; ``--sagaspec-*`` options override the arguments
    as for :func:`conformance_test`. Failures are *returned* (``.failures``), not raised,
    so a test can assert on them (e.g. that a known-bad build is caught).
    """
    from sagaspec.conformance.runner import RunConfig, run

    def go(**kwargs: Any):
        values = dict(kwargs)
        for name in _OPTIONS:
            key = name.replace("-", "_")
            v = _option(request.config, name, kwargs.get(key))
            if v is not None:
                values[key] = v
        values.setdefault("failures_dir", ".sagaspec/failures")
        final = run(RunConfig(**values))
        request.config.stash[_KEY].append((request.node.nodeid, final))
        return final

    return go


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_KEY, [])
    if not results:
        return
    tr = terminalreporter
    tr.section("sagaspec conform")
    for nodeid, final in results:
        failed = [c.name for c in final.checks if c.status == "failed"]
        skipped = [f"{c.name} ({c.reason})" for c in final.checks if c.status == "skipped"]
        cov = ""
        if final.coverage:
            cov = f", model coverage {100 * final.coverage['share']:.1f}%"
        tr.write_line(f"{nodeid}: {final.examples} examples, {final.events} events"
                      f"{cov}; " + (f"FAILED {', '.join(failed)}" if failed else "all checks passed"))
        for s in skipped:
            tr.write_line(f"  skipped {s}")
        for note in final.notes:  # e.g. decisions left to the service: a weaker check
            tr.write_line(f"  note: {note}")
