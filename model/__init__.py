"""sagaspec.model: participants as state machines, and an explicit-state model checker.

Write participants (:class:`Participant`: frozen local state, pure handlers returning
every possible :class:`Outcome`), put them with named :class:`Property` predicates in a
:class:`System`, and :func:`explore` it exhaustively under a :class:`Config` (bus
semantics, duplicate and crash budgets, idempotency, symmetry), or :func:`simulate`
random walks when the bounds are too large. Counterexamples are :class:`Path` objects:
shortest, shrunk, printable, replayable, exportable.

The order saga is one such model: :func:`saga_system` builds it for a design (``"seed"``,
the pattern as the README describes it, holes and all; ``"corrected"``) and bounds.

>>> r = explore(saga_system("corrected", orders=1))
>>> r.ok, r.complete
(True, True)
"""

from sagaspec.model.engine import Engine
from sagaspec.model.explore import explore, simulate
from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.model.path import Action, Path, Snapshot, Step, replay, shrink
from sagaspec.model.properties import Property
from sagaspec.model.results import CheckResult, Stats, Violation
from sagaspec.model.saga import SagaVariant, saga_models, saga_system, saga_variant
from sagaspec.model.system import Bounds, Config, System, load_system
from sagaspec.model.view import View

__all__ = [
    "Action",
    "Bounds",
    "CheckResult",
    "Config",
    "Engine",
    "Msg",
    "Outcome",
    "Participant",
    "Path",
    "Property",
    "Snapshot",
    "Stats",
    "Step",
    "System",
    "View",
    "Violation",
    "explore",
    "load_system",
    "replay",
    "saga_models",
    "saga_system",
    "saga_variant",
    "SagaVariant",
    "shrink",
    "simulate",
]
