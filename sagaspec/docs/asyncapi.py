"""An AsyncAPI 3.0 document for a choreography design.

The whole choreography is one document: one *channel* per event type, one ``send``
operation per (service, event it publishes) and one ``receive`` operation per (service,
event it subscribes to), each tagged with its service. Messages are described exactly
as :mod:`sagaspec.spec.cloudevents` puts them on the wire:

``binary`` content mode (default)
    CloudEvents attributes travel as ``ce-*`` headers (``ce-type`` is
    ``dev.sagaspec.<Event>.v1``, ``ce-sagaid`` carries ``sagaId``), ``content-type`` is
    ``application/json``, and the payload is the event's *data*: its business fields.
``structured`` content mode
    The payload is the whole CloudEvent (``application/cloudevents+json``): attributes
    plus a ``data`` member with the business fields.

Either way the schemas are the spec's **draft-07** schemas (AsyncAPI 3 understands
draft-07, not 2020-12), bundled under ``components/schemas`` so the document is
self-contained: each event's full schema (``OrderCreated``, with ``x-schema-id`` its
``$id``), the schema of its data (``OrderCreatedData``: the same schema without the
envelope fields, which travel as attributes), and the shared definitions
(``Identifier``, ``Money``...). Message payloads say ``schemaFormat`` draft-07.
``correlationId`` points at the saga id, the key that links a saga's events.

>>> doc = asyncapi_document("corrected")
>>> doc["asyncapi"], doc["operations"]["payment.receive.OrderCreated"]["action"]
('3.0.0', 'receive')
>>> doc["components"]["correlationIds"]["sagaId"]["location"]
'$message.header#/ce-sagaid'
"""

from __future__ import annotations

import json
from typing import Any

from sagaspec.docs.sagadoc import DocSaga, doc_saga
from sagaspec.errors import DesignError, UsageError
from sagaspec.spec import cloudevents as ce
from sagaspec.spec.designs import Design
from sagaspec.spec.events import SCHEMA_VERSION
from sagaspec.spec.sagafile import SagaSpec

__all__ = [
    "ASYNCAPI_VERSION",
    "DRAFT07_FORMAT",
    "CONTENT_MODES",
    "asyncapi_document",
    "channel_address",
    "to_yaml",
    "to_json",
]

ASYNCAPI_VERSION = "3.0.0"
DRAFT07_FORMAT = "application/schema+json;version=draft-07"
CONTENT_MODES = ("binary", "structured")
_REF = "#/components/schemas/"


def channel_address(event_type: str, prefix: str = "saga.") -> str:
    """Default channel address of an event: ``saga.OrderCreated``."""
    return f"{prefix}{event_type}"


def _sentence(text: str) -> str:
    """``text`` as a sentence: first letter upper-cased (names keep their case), full stop."""
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].strip()


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (new + v[len(old):] if k == "$ref" and isinstance(v, str) and v.startswith(old)
                else _rewrite_refs(v, old, new))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v, old, new) for v in node]
    return node


# -- schemas ----------------------------------------------------------------------------


def _bundle_schemas(saga: DocSaga, events: list[str]) -> dict[str, Any]:
    """Full and data-only draft-07 schemas of ``events`` plus their shared definitions."""
    bundled: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    envelope = saga.envelope
    for event in events:
        schema = saga.schema(event, "draft-07")
        defs = schema.pop("definitions", {})
        schema_id = schema.pop("$id", None)
        schema.pop("$schema", None)
        schema = _rewrite_refs(schema, "#/definitions/", _REF)
        if schema_id:
            schema["x-schema-id"] = schema_id
        data = {
            "title": f"{event} data",
            "description": (
                f"The business fields of {event}: its schema without the envelope fields "
                f"({', '.join(envelope)}), which travel as CloudEvents attributes."
            ),
            "type": "object",
            "properties": {
                k: v for k, v in schema["properties"].items() if k not in envelope
            },
            "required": [r for r in schema.get("required", []) if r not in envelope],
            "additionalProperties": False,
        }
        examples = [
            {k: v for k, v in ex.items() if k not in envelope}
            for ex in schema.get("examples", [])
        ]
        if examples:
            data["examples"] = examples
        bundled[event] = schema
        bundled[f"{event}Data"] = data
        for name, body in defs.items():
            body = _rewrite_refs(body, "#/definitions/", _REF)
            if name in bundled or name in saga.spec.event_names:
                raise DesignError(f"schema definition {name!r} of {event} clashes with an event schema")
            if name in shared and shared[name] != body:
                raise DesignError(f"schema definition {name!r} differs between events; cannot bundle")
            shared[name] = body
    return {**bundled, **dict(sorted(shared.items()))}


def _attributes_schema(saga: DocSaga, event: str, prefix: str) -> dict[str, Any]:
    """Schema of the CloudEvents attributes of ``event`` (as headers or JSON members)."""
    version = saga.spec.event(event).version
    sources = [ce.SOURCE_PREFIX + s for s in saga.design.publishers(event)]
    ident = {"$ref": _REF + saga.identifier_type()}

    def described(schema: dict[str, Any], text: str) -> dict[str, Any]:
        # draft-07 ignores siblings of $ref, so a described reference goes through allOf.
        if "$ref" in schema:
            return {"description": text, "allOf": [schema]}
        return {**schema, "description": text}

    props = {
        "specversion": described({"type": "string", "const": ce.SPECVERSION}, "CloudEvents version."),
        "id": described(ident, "The event's `eventId` (the consumers' idempotency key)."),
        "source": described(
            {"type": "string", **({"enum": sources} if sources else {})},
            "The publishing service, `/sagaspec/<service>`.",
        ),
        "type": described(
            {"type": "string", "const": ce.ce_type(event, version)},
            "`dev.sagaspec.<eventType>.v<schemaVersion>`.",
        ),
        "time": described({"$ref": _REF + saga.timestamp_type()}, "The event's `timestamp` (RFC 3339)."),
        "subject": described(ident if not saga.own else {"type": "string"}, f"The event's `{saga.subject}`."),
        "dataschema": described(
            {"type": "string", "const": saga.schema(event)["$id"]},
            "`$id` of the event's JSON Schema (draft 2020-12).",
        ),
        "sagaid": described(ident, "Extension: the event's `sagaId`."),
        "correlationid": described(ident, "Extension: the event's `correlationId`, when set."),
        "causationid": described(ident, "Extension: the event's `causationId`, when set."),
    }
    required = ["specversion", "id", "source", "type", "time", "subject", "dataschema", "sagaid"]
    if saga.subject is None:  # a saga without common fields: events carry no subject
        del props["subject"]
        required.remove("subject")
    return {
        "type": "object",
        "properties": {prefix + k: v for k, v in props.items()},
        "required": [prefix + k for k in required],
    }


def _headers_schema(saga: DocSaga, event: str) -> dict[str, Any]:
    schema = _attributes_schema(saga, event, "ce-")
    schema["properties"] = {
        "content-type": {
            "type": "string",
            "const": ce.JSON_CONTENT_TYPE,
            "description": "Content type of the data (the message payload).",
        },
        **schema["properties"],
    }
    schema["required"] = ["content-type", *schema["required"]]
    schema["description"] = (
        "CloudEvents 1.0 binary content mode: one header per attribute, prefix `ce-` "
        "(HTTP and NATS bindings; header values are percent-encoded as in the HTTP binding)."
    )
    return schema


def _structured_schema(saga: DocSaga, event: str) -> dict[str, Any]:
    schema = _attributes_schema(saga, event, "")
    schema["properties"]["datacontenttype"] = {
        "type": "string", "const": ce.JSON_CONTENT_TYPE, "description": "Content type of `data`.",
    }
    schema["properties"]["data"] = {
        "description": "The event's business fields.", "allOf": [{"$ref": f"{_REF}{event}Data"}],
    }
    schema["required"] = [*schema["required"], "data"]
    schema["additionalProperties"] = False
    schema["title"] = f"{event} CloudEvent"
    schema["description"] = f"A structured-mode CloudEvent carrying {event}."
    return schema


# -- the document -----------------------------------------------------------------------


def asyncapi_document(
    design: Design | SagaSpec | DocSaga | str,
    *,
    content_mode: str = "binary",
    address_prefix: str = "saga.",
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``design`` as a JSON-compatible dict.

    Parameters
    ----------
    design
        A shipped design name, a saga spec file or :class:`~sagaspec.spec.sagafile.SagaSpec`,
        or a :class:`~sagaspec.spec.designs.Design` of the order saga.
    content_mode
        ``"binary"`` (attributes as ``ce-*`` headers, payload = data) or ``"structured"``
        (payload = the whole CloudEvent).
    address_prefix
        Prefix of every channel address (``saga.`` gives ``saga.OrderCreated``).
    """
    saga = doc_saga(design)
    d = saga.design
    if content_mode not in CONTENT_MODES:
        raise UsageError(
            f"unknown content mode {content_mode!r}; expected one of {', '.join(CONTENT_MODES)}"
        )
    saga.check()
    events = saga.events
    binary = content_mode == "binary"

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in events:
        doc = saga.doc(event)
        publishers, subscribers = d.publishers(event), d.subscribers(event)
        role = []
        if event in d.failures:
            role.append("a failure event")
        if event in d.compensates:
            role.append(f"compensates {d.compensates[event]}")
        if event in d.outcomes:
            role.append("a saga outcome")
        if event in d.terminal:
            role.append("terminal")
        desc = (
            f"{doc}\n\nPublished by: {', '.join(publishers) or 'nobody'}. "
            f"Consumed by: {', '.join(subscribers) or 'nobody'}."
            + (f" Role: {', '.join(role)}." if role else "")
        )
        channels[event] = {
            "address": channel_address(event, address_prefix),
            "title": event,
            "summary": _first_line(doc),
            "description": desc,
            "messages": {event: {"$ref": f"#/components/messages/{event}"}},
        }
        examples = []
        for k, ex in enumerate(saga.examples(event)):
            source = ce.SOURCE_PREFIX + (publishers[0] if publishers else "unknown")
            if binary:
                headers, body = saga.binary(ex, source)
                example = {"headers": headers, "payload": json.loads(body)}
            else:
                example = {"payload": saga.cloudevent(ex, source)}
            about = f", {saga.noun} {ex[saga.subject]}" if saga.subject in ex else ""
            examples.append(
                {"name": f"{event}-{k + 1}", "summary": f"saga {ex['sagaId']}{about}", **example}
            )
        payload = {"$ref": f"{_REF}{event}Data"} if binary else _structured_schema(saga, event)
        message: dict[str, Any] = {
            "name": event,
            "title": event,
            "summary": _first_line(doc),
            "description": (
                desc + f"\n\nThe full event (envelope and data) validates against "
                f"`{saga.schema(event)['$id']}` (components/schemas/{event})."
            ),
            "contentType": ce.JSON_CONTENT_TYPE if binary else ce.STRUCTURED_CONTENT_TYPE,
            "correlationId": {"$ref": "#/components/correlationIds/sagaId"},
            "payload": {"schemaFormat": DRAFT07_FORMAT, "schema": payload},
            "tags": [{"name": s} for s in publishers],
            "x-sagaspec-event-schema": {"$ref": f"{_REF}{event}"},
        }
        if binary:
            message["headers"] = {"schemaFormat": DRAFT07_FORMAT, "schema": _headers_schema(saga, event)}
        if examples:
            message["examples"] = examples
        messages[event] = message

    operations: dict[str, Any] = {}
    for service in d.services:
        for event in service.publishes:
            because = [
                " + ".join(r.on) if r.on else "an external trigger"
                for r in d.emitters(event) if r.service == service.name
            ]
            operations[f"{service.name}.send.{event}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{event}"},
                "messages": [{"$ref": f"#/channels/{event}/messages/{event}"}],
                "title": f"{service.name} publishes {event}",
                "summary": (
                    f"In reaction to {', '.join(because)}." if because
                    else "Declared in the service's publish list; no reaction emits it."
                ),
                "tags": [{"name": service.name}],
                "x-sagaspec-service": service.name,
            }
        for event in service.subscribes:
            outcomes = []
            for r in (r for r in d.reactions_to(event) if r.service == service.name):
                alts = [" + ".join(a) if a else "nothing" for a in r.emits]
                what = f"publishes {' or '.join(alts)}"
                if r.join:
                    what = f"once {' and '.join(r.on)} have all arrived, {what}"
                outcomes.append(what + (f" ({r.note})" if r.note else ""))
            operations[f"{service.name}.receive.{event}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{event}"},
                "messages": [{"$ref": f"#/channels/{event}/messages/{event}"}],
                "title": f"{service.name} consumes {event}",
                "summary": (
                    _sentence("; ".join(outcomes)) if outcomes
                    else "Subscribed, but no reaction is defined (the event is ignored)."
                ),
                "tags": [{"name": service.name}],
                "x-sagaspec-service": service.name,
            }

    location = "$message.header#/ce-sagaid" if binary else "$message.payload#/sagaid"
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{saga.saga_title} choreography ({d.name})",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": (
                f"{d.title}.\n\n{d.description}\n\nEvents travel as CloudEvents 1.0 in "
                f"{content_mode} content mode."
            ),
            "tags": [{"name": s.name, "description": s.description} for s in d.services],
        },
        "defaultContentType": ce.JSON_CONTENT_TYPE if binary else ce.STRUCTURED_CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _bundle_schemas(saga, events),
            "messages": messages,
            "correlationIds": {
                "sagaId": {
                    "description": "All events of one saga share the saga id (`sagaId`, CloudEvents `sagaid`).",
                    "location": location,
                }
            },
        },
    }


def to_json(doc: dict[str, Any]) -> str:
    """Stable, indented JSON text (ends with a newline)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_yaml(doc: dict[str, Any]) -> str:
    """Stable YAML text, keys in document order, multi-line strings as blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # shared sub-dicts: no &anchors
            return True

    def _str(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
        default_flow_style=False,
    )
