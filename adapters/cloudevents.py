"""CloudEvents 1.0 envelopes for saga events (structured JSON and binary mode).

A saga event travels as the CloudEvent's ``data``; the CloudEvent attributes are
derived from it so routers and tooling can use them without parsing the data:

=================  ======================================================
attribute          value
=================  ======================================================
``specversion``    ``"1.0"``
``id``             the event's ``eventId``
``type``           the event's ``eventType`` (``"OrderCreated"``)
``source``         ``/sagaspec/<participant>`` (who published it)
``subject``        the event's ``sagaId``
``time``           the event's ``timestamp``
``datacontenttype````application/json``
=================  ======================================================

Binary mode carries the same attributes as ``ce-<name>`` headers and the event as the
body (HTTP, AMQP and NATS headers).

>>> ce = to_structured({"eventId": "e1", "eventType": "OrderCreated", "sagaId": "s1"}, "order")
>>> ce["type"], ce["source"], unwrap(ce)["eventId"]
('OrderCreated', '/sagaspec/order', 'e1')
>>> unwrap({"eventId": "e1"})  # a plain event passes through
{'eventId': 'e1'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "SPEC_VERSION",
    "to_structured",
    "is_structured",
    "unwrap",
    "to_binary_headers",
    "is_binary",
]

CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"


def to_structured(event: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """Wrap ``event`` in a structured-mode CloudEvent."""
    ce: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event.get("eventId", "")),
        "type": str(event.get("eventType", "")),
        "source": f"/sagaspec/{source}" if source and not source.startswith("/") else (source or "/sagaspec"),
        "datacontenttype": "application/json",
        "data": dict(event),
    }
    if isinstance(event.get("sagaId"), str):
        ce["subject"] = event["sagaId"]
    if isinstance(event.get("timestamp"), str):
        ce["time"] = event["timestamp"]
    return ce


def is_structured(obj: Any) -> bool:
    """Whether ``obj`` looks like a structured-mode CloudEvent (``specversion`` + ``data``)."""
    return isinstance(obj, Mapping) and "specversion" in obj and ("data" in obj or "data_base64" in obj)


def unwrap(obj: Any) -> Any:
    """The saga event inside a structured CloudEvent, or ``obj`` itself if it is not one."""
    if is_structured(obj):
        if "data" in obj:
            return obj["data"]
        import base64
        import json

        return json.loads(base64.b64decode(obj["data_base64"]))
    return obj


def to_binary_headers(event: Mapping[str, Any], source: str = "") -> dict[str, str]:
    """The ``ce-*`` headers of binary mode (the body is the event's JSON)."""
    ce = to_structured(event, source)
    headers = {f"ce-{k}": str(v) for k, v in ce.items() if k not in ("data", "datacontenttype")}
    headers["content-type"] = "application/json"
    return headers


def is_binary(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` carry a binary-mode CloudEvent."""
    return any(k.lower() == "ce-specversion" for k in headers)
