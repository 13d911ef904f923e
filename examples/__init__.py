"""Reference services for the ``corrected`` (and ``seed``) design, their mutants, and
in-process wiring: the spec interpreter running the design's spec (a hand-written
mutant's name runs its operator mutant), or, with ``engine="hand-written"``, the
hand-written classes.

>>> system = make_system(mutant="complete-before-payment")
>>> system.services["order"].spec.name
'order-corrected~mutant'
>>> make_system(mutant="complete-before-payment", engine="hand-written").classes["order"].mutant
'complete-before-payment'
"""

from sagaspec.examples.bus import InMemoryBus
from sagaspec.examples.mutants import MUTANTS, Mutant, apply_mutant, get_mutant, mutant_names
from sagaspec.examples.samples import sample_created, sample_event, sample_order
from sagaspec.examples.seed import SEED_SERVICES
from sagaspec.examples.service import (
    CRASH_POINTS,
    DEAD_LETTERED,
    DUPLICATE,
    IGNORED,
    PROCESSED,
    ReferenceService,
    SimulatedCrash,
)
from sagaspec.examples.services import (
    CORRECTED_SERVICES,
    InventoryService,
    NotificationService,
    OrderService,
    PaymentService,
)
from sagaspec.examples.store import MemoryStore, SQLiteStore, Store
from sagaspec.examples.system import (
    PARTICIPANTS,
    ReferenceSystem,
    SingleService,
    make_service,
    make_system,
    make_target,
    service_classes,
)

__all__ = [
    "CORRECTED_SERVICES",
    "CRASH_POINTS",
    "DEAD_LETTERED",
    "DUPLICATE",
    "IGNORED",
    "InMemoryBus",
    "InventoryService",
    "MUTANTS",
    "MemoryStore",
    "Mutant",
    "NotificationService",
    "OrderService",
    "PARTICIPANTS",
    "PROCESSED",
    "PaymentService",
    "ReferenceService",
    "ReferenceSystem",
    "SEED_SERVICES",
    "SQLiteStore",
    "SimulatedCrash",
    "SingleService",
    "Store",
    "apply_mutant",
    "get_mutant",
    "make_service",
    "make_system",
    "make_target",
    "mutant_names",
    "sample_created",
    "sample_event",
    "sample_order",
    "service_classes",
]
