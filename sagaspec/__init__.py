"""sagaspec: a model-checked specification and conformance kit for saga choreographies."""

from sagaspec.errors import (
    AdapterError,
    BrokerUnavailable,
    DesignError,
    InputError,
    ModelError,
    PropertyError,
    SagaspecError,
    SchemaError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "AdapterError",
    "BrokerUnavailable",
    "DesignError",
    "InputError",
    "ModelError",
    "PropertyError",
    "SagaspecError",
    "SchemaError",
    "UsageError",
]
