"""The conformance suite: test a real implementation against the model.

Front ends (``sagaspec conform``, the pytest plugin) consume the events of one engine:

>>> from sagaspec.conformance import RunConfig, run
>>> final = run(RunConfig(adapter="inprocess:", participant="system", examples=3,
...                       seed=1, failures_dir=None, coverage=False))
>>> final.ok, final.examples
(True, 3)

See :mod:`sagaspec.conformance.runner` (the engine), :mod:`~.oracle` (the model as an
oracle), :mod:`~.world` (stock and world-rule decisions judged from the world the suite
set up), :mod:`~.history` (end-to-end properties on observed events), :mod:`~.harness`
(one test case), :mod:`~.cases` (replayable failures and model traces) and
:mod:`~.coverage` (model edge coverage).
"""

import importlib
from typing import Any

# Loaded on first use (PEP 562): pytest loads this package's plugin in every run (and
# ``sagaspec serve --spec`` uses one of its modules), and the engine below imports
# Hypothesis and the models, about 0.7 s of CPU a process that never runs the suite paid.
_HOMES = {
    "sagaspec.conformance.cases": ("CaseFile", "case_from_trace", "load_case"),
    "sagaspec.conformance.checks": ("CHECKS", "Check", "CheckFailed"),
    "sagaspec.conformance.events": ("Event", "ExampleFinished", "Failure", "FailureFound",
                                    "FailureShrunk", "RunFinished", "RunStarted"),
    "sagaspec.conformance.oracle": ("Oracle",),
    "sagaspec.conformance.pytest_plugin": ("conformance_test",),
    "sagaspec.conformance.runner": ("RunConfig", "Runner", "participants_of", "run"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "CHECKS",
    "Check",
    "CheckFailed",
    "CaseFile",
    "case_from_trace",
    "load_case",
    "Event",
    "ExampleFinished",
    "Failure",
    "FailureFound",
    "FailureShrunk",
    "RunFinished",
    "RunStarted",
    "Oracle",
    "participants_of",
    "RunConfig",
    "Runner",
    "run",
    "conformance_test",
]
