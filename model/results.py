"""What a run returns: statistics, violations, verdicts, and the explored graph.

:class:`CheckResult` is returned by :func:`~sagaspec.model.explore.explore` and
:func:`~sagaspec.model.explore.simulate`; :class:`Violation` pairs a violated property
with its shortest and shrunk counterexamples; :class:`Stats` are the counters also fed
to the progress callback.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sagaspec.model.liveness import to_networkx
from sagaspec.model.path import Path
from sagaspec.model.properties import HELD
from sagaspec.model.system import Config, System

from sagaspec.errors import UsageError

__all__ = ["Stats", "Violation", "CheckResult", "INVARIANT", "STUCK", "CYCLE"]

#: Violation kinds.
INVARIANT, STUCK, CYCLE = "invariant", "stuck", "cycle"


@dataclass
class Stats:
    """Counters of a run (also passed, as a snapshot, to the progress callback).

    ``states``: distinct states stored (canonical ones under symmetry); ``edges``:
    transitions generated (including those to states already seen); ``depth``: BFS
    level reached (= length of the longest shortest path); ``queue``: states discovered
    but not yet expanded; ``seconds``/``cpu_seconds``: wall and CPU time;
    ``memory_bytes``/``bytes_per_state``: the search's own accounting of what it holds
    (visited fingerprints, trace columns, graph, frontier, tables; cross-checked with
    tracemalloc in ``bench/bench_check.py``); ``collision_probability``: the chance that
    two distinct states shared a 60-bit fingerprint (about ``states**2 / 2**61``).
    For :func:`simulate`, ``states`` counts distinct states visited and ``edges`` steps.
    """

    states: int = 0
    edges: int = 0
    depth: int = 0
    queue: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    states_per_s: float = 0.0
    memory_bytes: int = 0
    bytes_per_state: float = 0.0
    collision_probability: float = 0.0
    mode: str = "exhaustive"
    walks: int = 0

    def line(self) -> str:
        """A one-line progress/summary text."""
        extra = f" walks={self.walks}" if self.mode == "simulation" else ""
        return (
            f"states={self.states:,} edges={self.edges:,} depth={self.depth} queue={self.queue:,} "
            f"{self.states_per_s:,.0f} states/s mem={self.memory_bytes / 1e6:,.1f}MB "
            f"({self.bytes_per_state:,.0f} B/state) {self.seconds:.1f}s{extra}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Violation:
    """A violated property with its shortest counterexample and the shrunk one.

    ``kind`` is ``"invariant"`` (an ``always`` property false in a state), ``"stuck"``
    (a run that ends in a quiescent state, where no step but a fault is enabled, where
    an ``at_rest`` property is false, or without ever meeting the goal of an
    ``eventually``/``leads_to`` property) or ``"cycle"`` (a lasso: a cycle no non-fault
    step leaves on which an ``at_rest`` property never holds, or a fair cycle that never
    meets the goal). ``property_kind`` is the property's kind, ``saga`` the saga a
    per-saga property fails for. The counterexamples of ``eventually`` and ``leads_to``
    properties are not shrunk (a shorter run might meet the goal): ``shrunk_path`` is
    ``path``.
    """

    property: str
    kind: str
    path: Path
    shrunk_path: Path
    description: str = ""
    property_kind: str = ""
    saga: int | None = None

    @property
    def message(self) -> str:
        n = len(self.path)
        who = "" if self.saga is None else f" for saga {self.saga}"
        if self.property_kind in ("eventually", "leads-to"):
            start = "a run" if self.property_kind == "eventually" else "after its trigger, a run"
            what = {
                STUCK: f"ends quiescent after {n} steps without the goal ever holding",
                CYCLE: f"enters a fair cycle that repeats forever without the goal ever holding (a lasso of {n} steps)",
            }[self.kind]
            return f"{self.property}{who} fails: {start} {what}"
        else:
            what = {
                INVARIANT: "is false in a reachable state",
                STUCK: "is false in a quiescent state (nothing in flight, nothing enabled)",
                CYCLE: "never holds on a cycle that runs forever",
            }[self.kind]
        return f"{self.property}{who} {what} after {n} steps"

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "kind": self.kind,
            "property_kind": self.property_kind,
            "saga": self.saga,
            "message": self.message,
            "description": self.description,
            "length": len(self.path),
            "shrunk_length": len(self.shrunk_path),
            "path": self.path.to_dict(),
            "shrunk_path": self.shrunk_path.to_dict(),
        }


@dataclass
class CheckResult:
    """The outcome of :func:`explore` or :func:`simulate`.

    ``verdicts`` maps each property to ``"held"``, ``"violated"``, ``"vacuous"`` (a
    ``sometimes`` property never held) or ``"unknown"`` (the run was cut short before it
    could tell). ``complete`` is true only for an exhaustive run that visited every
    reachable state within the bounds. ``out_of_memory``: a MemoryError stopped the search
    (like ``interrupted``, the result is partial). ``ok`` is the exit-code verdict.
    ``notes`` say how the run differs from what was asked (symmetry switched off for
    fairness); ``warnings`` point at likely model mistakes (an internal step that
    changes nothing), each reported once. A system without properties just counts
    its states: ``ok`` then says the count is complete.
    """

    system: System
    config: Config
    stats: Stats
    violations: list[Violation]
    verdicts: dict[str, str]
    complete: bool
    exhaustive: bool = True
    interrupted: bool = False
    truncated: bool = False
    out_of_memory: bool = False
    witnesses: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _search: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """No violation, no vacuous property (and, for exhaustive runs, complete)."""
        if self.violations:
            return False
        if not self.exhaustive:
            return True
        return self.complete and all(v == HELD for v in self.verdicts.values())

    def violation(self, prop: str) -> Violation | None:
        for v in self.violations:
            if v.property == prop:
                return v
        return None

    def graph(self):
        """The explored state graph as a networkx ``MultiDiGraph`` (built on demand).

        Nodes are state numbers in BFS order (0 = initial); each edge has ``action``, the
        index of the action in the source state's deterministic action order. If the run
        did not keep the graph it is explored again with ``keep_graph=True``.
        """
        s = self._search
        if s is None or not self.exhaustive:
            raise UsageError("graph(): only an exhaustive explore() result has a state graph")
        if s.offsets is None:
            from sagaspec.model.explore import explore

            again = explore(self.system, self.config, keep_graph=True, max_states=s.max_states)
            s = again._search
        return to_networkx(len(s.offsets) - 1, s.offsets, s.targets)

    def path_to(self, state: int) -> Path:
        """The shortest path to explored state number ``state``."""
        if self._search is None or not self.exhaustive:
            raise UsageError("path_to(): only an exhaustive explore() result numbers its states")
        return self._search.path_to(state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system.name,
            "config": self.config.to_dict(),
            "ok": self.ok,
            "complete": self.complete,
            "exhaustive": self.exhaustive,
            "interrupted": self.interrupted,
            "truncated": self.truncated,
            "out_of_memory": self.out_of_memory,
            "stats": self.stats.to_dict(),
            "properties": [
                {"name": p.name, "kind": p.kind, "verdict": self.verdicts[p.name], "description": p.description}
                for p in self.system.properties
            ],
            "violations": [v.to_dict() for v in self.violations],
            "witnesses": {k: p.to_dict() for k, p in self.witnesses.items()},
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)
