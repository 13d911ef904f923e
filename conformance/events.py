"""Engine events: what a conformance run reports, consumed by every front end alike.

The runner yields these (like schemathesis' engine events); the CLI's progress line and
summary, the NDJSON and JUnit reports and the pytest plugin are all consumers. Each
event has ``to_json()`` (one NDJSON line) with an ``event`` field naming its kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Event",
    "RunStarted",
    "ExampleFinished",
    "FailureFound",
    "Failure",
    "FailureShrunk",
    "RunFinished",
    "CheckSummary",
]


@dataclass
class Event:
    kind = "event"

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


@dataclass
class RunStarted(Event):
    """The adapter is up; what will run and what is skipped (and why)."""

    kind = "started"
    adapter: str
    participant: str
    design: str
    mode: str  # generate | replay | cover-edges
    examples: int
    seed: int | None
    capabilities: list[str]
    checks: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    #: The named mutant of the reference services under test, if any.
    mutant: str | None = None


@dataclass
class ExampleFinished(Event):
    """One test case ran (``phase``: generate, shrink, replay or cover)."""

    kind = "example"
    index: int
    phase: str
    status: str  # passed | failed
    steps: int
    events: int
    seconds: float
    check: str | None = None


@dataclass
class FailureFound(Event):
    """A test case failed for the first time for ``check`` (before shrinking)."""

    kind = "failure-found"
    check: str
    message: str
    steps: int


@dataclass
class Failure:
    """A (shrunk) failing test case, ready to print, save and replay."""

    check: str
    message: str
    steps: list[dict[str, Any]]
    sagas: list[dict[str, Any]]
    world: dict[str, Any] | None
    sut: str
    design: str
    seed: int | None = None
    file: str | None = None
    reproduce: str | None = None
    diagram: str = ""
    mermaid: str = ""
    exchanged: list[str] = field(default_factory=list)
    divergence: str | None = None
    flaky: bool = False
    #: The offending published event, if one.
    event: dict[str, Any] | None = None

    @property
    def length(self) -> int:
        """Events exchanged with the service in the shrunk sequence (deliveries in,
        publications out), the length the README's mutant table counts."""
        return len(self.exchanged)


@dataclass
class FailureShrunk(Event):
    """The minimal failing case for one check (after hypothesis shrinking)."""

    kind = "failure"
    failure: Failure


@dataclass
class CheckSummary:
    name: str
    status: str  # passed | failed | skipped | not-run | not-applicable
    runs: int = 0
    reason: str = ""


@dataclass
class RunFinished(Event):
    """The run is over: counts, timings, per-check status, coverage."""

    kind = "finished"
    examples: int
    shrink_runs: int
    events: int
    seconds: float
    adapter_seconds: float
    oracle_seconds: float
    failures: list[str]
    checks: list[CheckSummary]
    coverage: dict[str, Any] | None = None
    interrupted: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    #: A replay that could not follow its recorded case: why (the run is inconclusive).
    diverged: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None
