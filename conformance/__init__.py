"""The conformance suite: test a real implementation against the model.

Front ends (``sagaspec conform``, the pytest plugin) consume the events of one engine:

>>> from sagaspec.conformance import RunConfig, run
>>> final = run(RunConfig(adapter="inprocess:", participant="system", examples=3,
...                       seed=1, failures_dir=None, coverage=False))
>>> final.ok, final.examples
(True, 3)

See :mod:`sagaspec.conformance.runner` (the engine), :mod:`~.oracle` (the model as an
oracle), :mod:`~.world` (stock and payment decisions judged from the world the suite set
up), :mod:`~.history` (end-to-end properties on observed events), :mod:`~.harness`
(one test case), :mod:`~.cases` (replayable failures and model traces) and
:mod:`~.coverage` (model edge coverage).
"""

from sagaspec.conformance.cases import CaseFile, case_from_trace, load_case
from sagaspec.conformance.checks import CHECKS, Check, CheckFailed
from sagaspec.conformance.events import (
    Event,
    ExampleFinished,
    Failure,
    FailureFound,
    FailureShrunk,
    RunFinished,
    RunStarted,
)
from sagaspec.conformance.oracle import Oracle
from sagaspec.conformance.pytest_plugin import conformance_test
from sagaspec.conformance.runner import RunConfig, Runner, participants_of, run

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
