"""Building and reading real JSON events at a reference service's boundary.

Everything a service publishes goes through :func:`outgoing`: a fresh ``eventId``, the
saga's ``sagaId`` and ``orderId``, ``causationId`` = the incoming event's ``eventId``,
the ``correlationId`` carried along, an RFC 3339 UTC ``timestamp`` and the current
``schemaVersion``; the result is validated against the event's model before it leaves,
so a reference service can never publish a schema-invalid event.

Everything a service receives goes through :func:`decode`: bytes, text or a dict in,
a validated event model out, or :class:`InvalidMessage` with a one-line reason.

>>> e = outgoing("OrderCancelled", saga_id="saga-1", order_id="order-1",
...              causation_id="evt-9", reason="payment declined")
>>> e["eventType"], e["sagaId"], e["causationId"], e["schemaVersion"], "correlationId" in e
('OrderCancelled', 'saga-1', 'evt-9', 1, False)
>>> decode(e).reason
'payment declined'
>>> try:
...     decode(b'{"eventType": "OrderCreated", "eventId": "e1"}')
... except InvalidMessage as exc:
...     print(exc)
OrderCreated e1: OrderCreated.sagaId: Field required (+5 more)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sagaspec.spec import events as _events
from sagaspec.spec._jsonlimits import MESSAGE_LIMITS, JSONLimitError, loads
from sagaspec.spec.events import SCHEMA_VERSION, EventEnvelope, parse_event

__all__ = [
    "InvalidMessage",
    "new_id",
    "now_rfc3339",
    "outgoing",
    "decode",
    "describe_validation_error",
    "message_text",
    "message_bytes",
]


def _models() -> dict[str, type[EventEnvelope]]:
    """The shipped order saga's event models, made on first use: importing this module
    (every reference service does, and so ``sagaspec serve`` or ``conform`` of any saga
    spec) does not read the order saga's spec file and build its models."""
    return _events.EVENT_MODELS


class InvalidMessage(ValueError):
    """A received message that is not a valid saga event (the reason is one line)."""


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``evt-3f2a...`` (uuid4, so unique across processes)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with milliseconds and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outgoing(
    event_type: str,
    *,
    saga_id: str,
    order_id: str,
    causation_id: str | None = None,
    correlation_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A new, validated event of ``event_type`` as a JSON-compatible dict.

    Raises :class:`pydantic.ValidationError` if the fields do not make a valid event: a
    reference service treats that as its own bug, never as something to publish.
    """
    data: dict[str, Any] = {
        "eventId": new_id("evt"),
        "eventType": event_type,
        "schemaVersion": SCHEMA_VERSION,
        "sagaId": saga_id,
        "orderId": order_id,
        "timestamp": now_rfc3339(),
        **fields,
    }
    if causation_id is not None:
        data["causationId"] = causation_id
    if correlation_id is not None:
        data["correlationId"] = correlation_id
    model = _models()[event_type].model_validate(data)
    return model.model_dump(mode="json", exclude_none=True)


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of ``exc`` as ``field: message`` (plus how many more)."""
    errors = exc.errors()
    if not errors:
        return str(exc).splitlines()[0]
    first = errors[0]
    # The discriminated union puts the event type first in the location; keep it, it
    # tells an operator which schema was applied.
    loc = ".".join(str(p) for p in first.get("loc", ())) or "<event>"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {first.get('msg', 'invalid')}{more}"


def decode(message: dict[str, Any] | str | bytes) -> EventEnvelope:
    """Validate a received message into its event model, or raise :class:`InvalidMessage`."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if isinstance(message, str):
        try:
            message = loads(message, MESSAGE_LIMITS)
        except JSONLimitError as exc:
            raise InvalidMessage(str(exc)) from None
        except ValueError as exc:
            raise InvalidMessage(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise InvalidMessage(f"not a JSON object but {type(message).__name__}")
    event_type = message.get("eventType")
    if not isinstance(event_type, str):
        raise InvalidMessage("eventType: missing or not a string")
    if event_type not in _models():
        raise InvalidMessage(f"eventType: unknown event type {event_type[:80]!r}")
    try:
        return parse_event(message)
    except ValidationError as exc:
        ident = message.get("eventId")
        where = f"{event_type} {ident}" if isinstance(ident, str) else event_type
        raise InvalidMessage(f"{where}: {describe_validation_error(exc)}") from None
    except (TypeError, ValueError) as exc:  # e.g. non-string keys from a Python caller
        raise InvalidMessage(f"{event_type}: {exc}") from None


def message_text(message: Any, limit: int = 2000) -> str:
    """A printable, bounded rendering of a received message for the dead-letter record."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        text = bytes(message).decode("utf-8", errors="backslashreplace")
    elif isinstance(message, str):
        text = message
    else:
        try:
            text = json.dumps(message, sort_keys=True, default=repr)
        except (TypeError, ValueError):
            text = repr(message)
    return text if len(text) <= limit else text[:limit] + "..."


def message_bytes(message: Any) -> bytes:
    """A delivered message as bytes, as a dead-letter record keeps it (a dict as JSON,
    anything that is not JSON as its repr)."""
    if isinstance(message, (bytes, bytearray)):
        return bytes(message)
    if isinstance(message, str):
        return message.encode()
    try:
        return json.dumps(message).encode()
    except (TypeError, ValueError):
        return repr(message).encode()
