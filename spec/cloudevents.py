"""CloudEvents 1.0 mapping of saga events, structured and binary mode, both directions.

===================  ==========================================================
CloudEvents          saga event
===================  ==========================================================
``specversion``      always ``"1.0"``
``id``               ``eventId``
``source``           publishing service, ``/sagaspec/<service>`` (e.g. ``/sagaspec/payment``),
                     taken from the design's table when not given
``type``             ``dev.sagaspec.<eventType>.v<schemaVersion>``, e.g.
                     ``dev.sagaspec.PaymentProcessed.v1`` (reverse-DNS prefix, and the
                     version in the type so routers can filter on it)
``time``             ``timestamp`` (RFC 3339, passed through unchanged)
``subject``          the spec's first ``common`` field (what the event is about, for
                     subscription filters): ``orderId`` in the order saga
``dataschema``       the event schema's ``$id`` (draft 2020-12)
``datacontenttype``  ``application/json``
``sagaid``           extension: ``sagaId``
``correlationid``    extension: ``correlationId`` (omitted when absent or null)
``causationid``      extension: ``causationId`` (omitted when absent or null)
``data``             the business fields: everything that is not an envelope field
===================  ==========================================================

Extension names are lowercase alphanumeric, as CloudEvents requires. A null
``causationId``/``correlationId`` becomes an absent attribute (CloudEvents has no null
attributes), so ``from_cloudevent(to_cloudevent(e))`` equals ``e`` without those nulls.

Binary mode (:func:`to_binary`/:func:`from_binary`) carries the attributes as ``ce-*``
headers (values percent-encoded as in the HTTP binding), ``content-type`` as the data
content type, and the JSON data as the body. Pass ``prefix="ce_"`` for the Kafka binding.

Malformed input raises :class:`~sagaspec.errors.SchemaError` with one line that names the
attribute and the problem; an event that does not match its schema raises it too.

>>> from sagaspec.spec.examples import examples_for
>>> event = examples_for("PaymentProcessed")[0]
>>> ce = to_cloudevent(event)
>>> ce["type"], ce["source"], ce["subject"], ce["sagaid"]
('dev.sagaspec.PaymentProcessed.v1', '/sagaspec/payment', 'order-1', 'saga-1')
>>> from_cloudevent(ce) == event
True
>>> headers, body = to_binary(event)
>>> headers["ce-type"], from_binary(headers, body) == event
('dev.sagaspec.PaymentProcessed.v1', True)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sagaspec.spec.designs import get_design
from sagaspec.spec.events import EventEnvelope
from sagaspec.spec.schemagen import schema_id
from sagaspec.spec.schemas import describe_value, validate_event

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

from sagaspec.errors import SchemaError

__all__ = [
    "SPECVERSION",
    "TYPE_PREFIX",
    "SOURCE_PREFIX",
    "JSON_CONTENT_TYPE",
    "STRUCTURED_CONTENT_TYPE",
    "ce_type",
    "source_for",
    "to_cloudevent",
    "from_cloudevent",
    "to_binary",
    "from_binary",
]

SPECVERSION = "1.0"
TYPE_PREFIX = "dev.sagaspec."
SOURCE_PREFIX = "/sagaspec/"
JSON_CONTENT_TYPE = "application/json"
#: Content type of a whole structured-mode CloudEvent (JSON event format).
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

# envelope field -> CloudEvents attribute (and the spec's subject field -> "subject")
_ATTRIBUTES = {
    "eventId": "id",
    "timestamp": "time",
    "sagaId": "sagaid",
    "correlationId": "correlationid",
    "causationId": "causationid",
}
_ENVELOPE = (*_ATTRIBUTES, "eventType", "schemaVersion")


def _saga(spec: SagaSpec | None, design: str = "corrected") -> SagaSpec:
    """The spec whose events these are (default: the shipped design's)."""
    if spec is not None:
        return spec
    from sagaspec.spec.sagafile import shipped_spec

    return shipped_spec(design)


def _subject(saga: SagaSpec) -> str | None:
    """The field that names what a saga is about: the spec's first common field."""
    return saga.common[0].name if saga.common else None


def _attributes(saga: SagaSpec) -> dict[str, str]:
    subject = _subject(saga)
    return {**_ATTRIBUTES, subject: "subject"} if subject else dict(_ATTRIBUTES)


def _dataschema(saga: SagaSpec, event_type: str, version: int) -> str:
    if saga.shipped:
        return schema_id(event_type, "2020-12", version)
    from sagaspec.spec.specschemas import spec_schema_id

    return spec_schema_id(saga, event_type)
_TYPE_RE = re.compile(r"^dev\.sagaspec\.([A-Za-z][A-Za-z0-9]*)\.v([1-9][0-9]{0,8})$")


def ce_type(event_type: str, version: int = 1) -> str:
    """The CloudEvents ``type`` of an event type and schema version.

    >>> ce_type("OrderCreated")
    'dev.sagaspec.OrderCreated.v1'
    """
    return f"{TYPE_PREFIX}{event_type}.v{version}"


def source_for(event_type: str, design: str = "corrected") -> str:
    """``/sagaspec/<service>`` of the service that publishes ``event_type`` in ``design``.

    >>> source_for("InventoryReleased")
    '/sagaspec/inventory'
    """
    publishers = get_design(design).publishers(event_type)
    if len(publishers) != 1:
        raise SchemaError(
            f"cannot derive a CloudEvents source for {event_type}: design {design!r} has "
            f"{len(publishers)} publishers of it; pass source= explicitly"
        )
    return SOURCE_PREFIX + publishers[0]


def _as_dict(event: Mapping[str, Any] | EventEnvelope) -> dict[str, Any]:
    if isinstance(event, EventEnvelope):
        return event.model_dump(mode="json")
    if not isinstance(event, Mapping):
        raise SchemaError(f"expected an event (a JSON object or event model), got {describe_value(event)}")
    return dict(event)


def _require_event(event: dict[str, Any], spec: Any = None) -> None:
    problems = validate_event(event, spec=spec)
    if problems:
        label = str(event.get("eventType", "event"))
        if isinstance(event.get("eventId"), str):
            label += f" {event['eventId']}"
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SchemaError(f"invalid {label}: {problems[0]}{more}")


def to_cloudevent(
    event: Mapping[str, Any] | EventEnvelope,
    source: str | None = None,
    *,
    design: str = "corrected",
    spec: SagaSpec | None = None,
) -> dict[str, Any]:
    """A structured-mode CloudEvent (a JSON-ready dict) of a valid saga event.

    ``spec`` (a :class:`~sagaspec.spec.sagafile.SagaSpec`, default: the shipped
    ``design``'s) is the saga: its first common field is the ``subject``, ``dataschema``
    its schema's ``$id``. ``source`` defaults to the event's publishing service.
    """
    data = _as_dict(event)
    _require_event(data, spec)
    saga = _saga(spec, design)
    event_type = data["eventType"]
    version = data["schemaVersion"]
    subject_field = _subject(saga)
    dataschema = _dataschema(saga, event_type, version)
    if source is None and spec is not None:
        publishers = spec.design().publishers(event_type)
        source = SOURCE_PREFIX + (publishers[0] if len(publishers) == 1 else "saga")
    ce: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": data["eventId"],
        "source": source if source is not None else source_for(event_type, design),
        "type": ce_type(event_type, version),
        "time": data["timestamp"],
    }
    if subject_field is not None and data.get(subject_field) is not None:
        ce["subject"] = data[subject_field]
    ce.update({"dataschema": dataschema, "datacontenttype": JSON_CONTENT_TYPE, "sagaid": data["sagaId"]})
    for field in ("correlationId", "causationId"):
        if data.get(field) is not None:
            ce[_ATTRIBUTES[field]] = data[field]
    envelope = set(_ENVELOPE) | ({subject_field} if subject_field else set())
    ce["data"] = {k: v for k, v in data.items() if k not in envelope}
    return ce


def _attr(ce: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = ce.get(name)
    if value is None:
        if required:
            raise SchemaError(f"CloudEvent: missing required attribute {name!r}")
        return None
    if not isinstance(value, str) or not value:
        raise SchemaError(f"CloudEvent: attribute {name!r} must be a non-empty string, "
                          f"got {describe_value(value)}")
    return value


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON_CONTENT_TYPE or (media.startswith("application/") and media.endswith("+json"))


def from_cloudevent(ce: Mapping[str, Any], *, validate: bool = True,
                    spec: SagaSpec | None = None) -> dict[str, Any]:
    """The saga event (a dict) carried by a structured-mode CloudEvent of ``spec``'s saga
    (default: the shipped order saga).

    Checks the CloudEvents attributes (``specversion`` 1.0, ``id``, ``source``, a
    ``dev.sagaspec.<EventType>.v<N>`` ``type``, a JSON content type, ``dataschema`` if it
    names a sagaspec schema) and, with ``validate=True``, the resulting event against its
    schema. Unknown extension attributes (``traceparent``...) are ignored.
    """
    if not isinstance(ce, Mapping):
        raise SchemaError(f"CloudEvent: expected a JSON object, got {describe_value(ce)}")
    specversion = ce.get("specversion")
    if specversion != SPECVERSION:
        got = "missing" if specversion is None else describe_value(specversion)
        raise SchemaError(f"CloudEvent: specversion must be \"1.0\", got {got}")
    ident = _attr(ce, "id", required=True)
    _attr(ce, "source", required=True)
    ce_kind = _attr(ce, "type", required=True)
    match = _TYPE_RE.match(ce_kind)
    saga = _saga(spec)
    known = saga.event_names
    if not match:
        raise SchemaError(f"CloudEvent {ident}: type {ce_kind!r} is not a sagaspec event type "
                          f"(expected {TYPE_PREFIX}<EventType>.v<N>, e.g. {ce_type(known[0])})")
    event_type, version = match.group(1), int(match.group(2))
    if event_type not in known:
        raise SchemaError(f"CloudEvent {ident}: unknown event type {event_type!r} in type "
                          f"{ce_kind!r}; expected one of {', '.join(known)}")
    content_type = _attr(ce, "datacontenttype", required=False)
    if content_type is not None and not _is_json_type(content_type):
        raise SchemaError(f"CloudEvent {ident}: datacontenttype {content_type!r} is not JSON "
                          f"(expected {JSON_CONTENT_TYPE})")
    dataschema = _attr(ce, "dataschema", required=False)
    expected_schema = _dataschema(saga, event_type, version)
    if dataschema is not None and dataschema.startswith("https://sagaspec.dev/") \
            and dataschema != expected_schema:
        raise SchemaError(f"CloudEvent {ident}: dataschema {dataschema!r} does not match type "
                          f"{ce_kind!r} (expected {expected_schema})")
    data = _data_of(ce, ident)
    attributes = _attributes(saga)
    clash = [k for k in (*attributes, "eventType", "schemaVersion") if k in data]
    if clash:
        where = attributes.get(clash[0], "type")
        raise SchemaError(f"CloudEvent {ident}: data must not contain envelope field "
                          f"{clash[0]!r} (it travels as the {where!r} attribute)")
    event: dict[str, Any] = {"eventId": ident, "eventType": event_type, "schemaVersion": version}
    for field, attribute in attributes.items():
        if field != "eventId" and ce.get(attribute) is not None:
            event[field] = ce[attribute]
    event.update(data)
    if validate:
        problems = validate_event(event, spec=spec)
        if problems:
            first = problems[0]
            field = first.pointer[1:].split("/", 1)[0]
            if field == "schemaVersion":
                detail = f"attribute 'type': {first.message}"
            elif field in attributes and first.message.startswith("missing required field"):
                detail = f"missing required attribute {attributes[field]!r}"
            elif field in attributes:
                detail = f"attribute {attributes[field]!r}: {first.message}"
            else:
                detail = f"data {first.pointer or '(root)'}: {first.message}"
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise SchemaError(f"CloudEvent {ident} ({ce_kind}): {detail}{more}")
    return event


def _data_of(ce: Mapping[str, Any], ident: str) -> dict[str, Any]:
    if "data" in ce and "data_base64" in ce:
        raise SchemaError(f"CloudEvent {ident}: has both 'data' and 'data_base64'")
    if "data_base64" in ce:
        raw = ce["data_base64"]
        try:
            data = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"CloudEvent {ident}: data_base64 is not base64 of JSON text ({exc})") from None
    else:
        data = ce.get("data", {})
        if isinstance(data, (str, bytes)):
            # Some SDKs leave JSON data as text in structured mode; accept it.
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise SchemaError(f"CloudEvent {ident}: data is text but not JSON ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError(f"CloudEvent {ident}: data must be a JSON object, got {describe_value(data)}")
    return data


# --- binary mode --------------------------------------------------------------------------


def _encode_header(value: str) -> str:
    """Percent-encode what the CloudEvents HTTP binding says must be (3.1.3.2)."""
    out = []
    for ch in value:
        if 0x21 <= ord(ch) <= 0x7E and ch not in '"%':
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def to_binary(
    event: Mapping[str, Any] | EventEnvelope,
    source: str | None = None,
    *,
    design: str = "corrected",
    prefix: str = "ce-",
    spec: SagaSpec | None = None,
) -> tuple[dict[str, str], bytes]:
    """Binary-mode CloudEvent: ``(headers, body)`` for a broker message or HTTP request.

    Headers are ``<prefix><attribute>`` plus ``content-type``; the body is the compact
    UTF-8 JSON of the data.
    """
    ce = to_cloudevent(event, source, design=design, spec=spec)
    data = ce.pop("data")
    headers = {"content-type": ce.pop("datacontenttype")}
    headers.update({f"{prefix}{name}": _encode_header(str(value)) for name, value in ce.items()})
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return headers, body


def from_binary(
    headers: Mapping[str, str | bytes],
    body: bytes | str,
    *,
    prefix: str = "ce-",
    validate: bool = True,
    spec: SagaSpec | None = None,
) -> dict[str, Any]:
    """The saga event carried by a binary-mode CloudEvent (header names case-insensitive)."""
    if not isinstance(headers, Mapping):
        raise SchemaError(f"CloudEvent headers: expected a mapping, got {describe_value(headers)}")
    ce: dict[str, Any] = {}
    content_type = None
    lower_prefix = prefix.lower()
    for name, raw in headers.items():
        key = str(name).lower()
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SchemaError(f"CloudEvent header {name!r} is not UTF-8") from None
        if key == "content-type":
            content_type = raw
        elif key.startswith(lower_prefix):
            attribute = key[len(lower_prefix):]
            if not re.fullmatch(r"[a-z0-9]{1,20}", attribute):
                raise SchemaError(f"CloudEvent header {name!r}: {attribute!r} is not a valid "
                                  "attribute name (lowercase letters and digits)")
            try:
                ce[attribute] = unquote(str(raw), errors="strict")
            except UnicodeDecodeError:
                raise SchemaError(f"CloudEvent header {name!r}: bad percent-encoding") from None
    if content_type is not None:
        ce["datacontenttype"] = content_type
    ident = ce.get("id", "?")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaError(f"CloudEvent {ident}: body is not UTF-8 text") from None
    if content_type is not None and not _is_json_type(content_type):
        raise SchemaError(f"CloudEvent {ident}: content-type {content_type!r} is not JSON "
                          f"(expected {JSON_CONTENT_TYPE})")
    if body.strip():
        try:
            ce["data"] = json.loads(body)
        except ValueError as exc:
            raise SchemaError(f"CloudEvent {ident}: body is not valid JSON ({exc})") from None
    return from_cloudevent(ce, validate=validate, spec=spec)
