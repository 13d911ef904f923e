"""The saga's specification: event models, JSON Schemas, designs, CloudEvents and lint.

Everything public is re-exported here; import from ``sagaspec.spec``.
"""

import importlib
from typing import Any

# Loaded on first use (PEP 562): every ``sagaspec.spec.X`` import runs this file first, and
# the event models (pydantic) and validators (jsonschema) cost about 0.2 s of CPU that
# ``sagaspec check`` and ``sagaspec --help``, which read a spec file only, paid too.
_HOMES = {
    "sagaspec.spec.cloudevents": ("ce_type", "from_binary", "from_cloudevent", "source_for",
                                  "to_binary", "to_cloudevent"),
    "sagaspec.spec.designs": ("DESIGNS", "Design", "Reaction", "Service", "design_names",
                              "get_design"),
    "sagaspec.spec.eventfile": ("Record", "check_records", "parse_events", "read_events"),
    # EVENT_MODELS, EVENT_TYPES, SagaEvent and event_adapter: the shipped order saga's
    # event models, made on first use by sagaspec.spec.events itself.
    "sagaspec.spec.events": ("SCHEMA_VERSION", "EventEnvelope", "event_adapter_for",
                             "event_models", "model_for", "parse_event", "EVENT_MODELS",
                             "EVENT_TYPES", "SagaEvent", "event_adapter"),
    "sagaspec.spec.evolution": ("Change", "diff_paths", "diff_schema", "diff_schema_sets",
                                "has_breaking"),
    "sagaspec.spec.examples": ("all_examples", "examples_for"),
    "sagaspec.spec.lint": ("RULES", "Finding", "lint_design"),
    "sagaspec.spec.schemagen": ("generate_schema", "schema_id"),
    "sagaspec.spec.schemas": ("Problem", "all_schemas", "is_valid_event", "require_valid",
                              "schema_for", "validate_event", "validator_for"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
# The submodules the package once imported eagerly stay attributes of it
# (``sagaspec.spec.schemas`` after ``import sagaspec.spec``).
_HOME.update({module.rsplit(".", 1)[1]: module for module in _HOMES})


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_HOME[name])
    value = module if module.__name__.endswith("." + name) else getattr(module, name)
    if name not in ("EVENT_MODELS", "EVENT_TYPES", "SagaEvent", "event_adapter"):
        globals()[name] = value  # (those four are made anew on each use, as before)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


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
