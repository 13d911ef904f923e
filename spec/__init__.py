"""The saga's specification: event models, JSON Schemas, designs, CloudEvents and lint.

Everything public is re-exported here; import from ``sagaspec.spec``.
"""

from sagaspec.spec.cloudevents import (
    ce_type,
    from_binary,
    from_cloudevent,
    source_for,
    to_binary,
    to_cloudevent,
)
from sagaspec.spec.designs import (
    DESIGNS,
    Design,
    Reaction,
    Service,
    design_names,
    get_design,
)
from sagaspec.spec.eventfile import Record, check_records, parse_events, read_events
from sagaspec.spec.events import (
    SCHEMA_VERSION,
    EventEnvelope,
    event_adapter_for,
    event_models,
    model_for,
    parse_event,
)
from sagaspec.spec.evolution import Change, diff_paths, diff_schema, diff_schema_sets, has_breaking
from sagaspec.spec.examples import all_examples, examples_for
from sagaspec.spec.lint import RULES, Finding, lint_design
from sagaspec.spec.schemagen import generate_schema, schema_id
from sagaspec.spec.schemas import (
    Problem,
    all_schemas,
    is_valid_event,
    require_valid,
    schema_for,
    validate_event,
    validator_for,
)

__all__ = [
    # designs
    "DESIGNS",
    "Design",
    "Reaction",
    "Service",
    "design_names",
    "get_design",
    # event models (EVENT_MODELS, EVENT_TYPES, event_adapter: sagaspec.spec.events)
    "SCHEMA_VERSION",
    "EventEnvelope",
    "event_adapter_for",
    "event_models",
    "model_for",
    "parse_event",
    # schemas and validation
    "Problem",
    "all_schemas",
    "generate_schema",
    "is_valid_event",
    "require_valid",
    "schema_for",
    "schema_id",
    "validate_event",
    "validator_for",
    # examples
    "all_examples",
    "examples_for",
    # event files
    "Record",
    "check_records",
    "parse_events",
    "read_events",
    # CloudEvents
    "ce_type",
    "from_binary",
    "from_cloudevent",
    "source_for",
    "to_binary",
    "to_cloudevent",
    # evolution
    "Change",
    "diff_paths",
    "diff_schema",
    "diff_schema_sets",
    "has_breaking",
    # lint
    "RULES",
    "Finding",
    "lint_design",
]


def __getattr__(name: str):
    # The shipped order saga's event models, made on first use (see sagaspec.spec.events).
    if name in ("EVENT_MODELS", "EVENT_TYPES", "SagaEvent", "event_adapter"):
        from sagaspec.spec import events

        return getattr(events, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
