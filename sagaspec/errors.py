"""One exception root for sagaspec, with meaningful subclasses.

Every error a *user* can cause (a bad file, an unknown design, a model module that does
not import) is a :class:`SagaspecError`. Front ends print ``str(error)`` as one line and
exit with ``error.exit_code``; they never show a traceback for these.
"""

from __future__ import annotations

__all__ = [
    "SagaspecError",
    "UsageError",
    "InputError",
    "SchemaError",
    "DesignError",
    "SpecError",
    "ModelError",
    "PropertyError",
    "AdapterError",
    "BrokerUnavailable",
]


class SagaspecError(Exception):
    """Root of every error sagaspec raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(SagaspecError):
    """The command line or an API call was used wrongly."""


class InputError(SagaspecError):
    """A user-supplied file or value is unreadable or malformed (names file/field)."""


class SchemaError(InputError):
    """An event or schema does not match what the specification expects."""


class DesignError(SagaspecError):
    """An unknown or inconsistent choreography design."""


class SpecError(InputError):
    """A saga spec file is malformed; the message starts with ``FILE:LINE:COL``."""


class ModelError(SagaspecError):
    """A model (participant module, spec object) cannot be loaded or is ill-formed."""


class PropertyError(ModelError):
    """A property predicate raised instead of returning a bool."""


class AdapterError(SagaspecError):
    """An adapter cannot reach or drive the system under test."""


class BrokerUnavailable(AdapterError):
    """A broker or database is unreachable, refuses credentials, or lacks a stream."""
