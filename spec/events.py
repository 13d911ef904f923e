"""Typed pydantic models of a saga's events, generated from its spec.

:class:`EventEnvelope` holds what every saga event carries (``eventId``, ``eventType``,
``schemaVersion``, ``sagaId``, ``timestamp``, the optional ``causationId`` /
``correlationId``). :func:`event_models` makes one subclass per event of a saga spec
with :func:`pydantic.create_model`, from the same field schemas the JSON Schemas come
from (the spec's ``common`` fields, then the event's own): constraints become pydantic
constraints, an object type a nested model, ``const``/``enum`` a ``Literal``, an
``optional`` field defaults to its schema's ``default`` (else ``None``). The models are
more lenient than the wire format (a constructor defaults ``eventType`` and
``schemaVersion``), never stricter.

The module-level :data:`EVENT_MODELS`, :data:`EVENT_TYPES`, :data:`SagaEvent` and
:data:`event_adapter` are those of the shipped order saga (``corrected``), made on first
use.

>>> OrderCreated = model_for("OrderCreated")
>>> e = OrderCreated(eventId="evt-123", sagaId="saga-456", orderId="order-789",
...                  timestamp="2024-01-15T10:00:00Z", userId="user-101", amount="100.00",
...                  items=[{"sku": "sku-1", "quantity": 2, "unitPrice": "50.00"}])
>>> e.eventType, e.currency, e.items[0].quantity
('OrderCreated', 'USD', 2)
>>> parse_event(e.model_dump(mode="json")).orderId
'order-789'
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    create_model,
    field_serializer,
)
from pydantic_core import SchemaError as PydanticSchemaError

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec, SpecField

__all__ = [
    "SCHEMA_VERSION",
    "EVENT_TYPES",  # noqa: F822 - made on first use (module __getattr__)
    "EVENT_MODELS",  # noqa: F822 - made on first use (module __getattr__)
    "EventEnvelope",
    "SagaEvent",  # noqa: F822 - made on first use (module __getattr__)
    "event_adapter",  # noqa: F822 - made on first use (module __getattr__)
    "event_models",
    "event_adapter_for",
    "parse_event",
    "model_for",
]

#: Schema version of an event whose spec gives none.
SCHEMA_VERSION = 1

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class EventEnvelope(_Strict):
    """Fields every saga event carries: the pattern's envelope plus versioning and tracing."""

    eventId: Identifier = Field(description="Unique identifier of this event; the idempotency key of consumers.")
    eventType: str = Field(description="Determines the handler; fixed per event model.")
    schemaVersion: int = Field(default=SCHEMA_VERSION, description="Version of this event's schema.")
    sagaId: Identifier = Field(description="Links all events of one saga instance.")
    timestamp: AwareDatetime = Field(description="When the event was produced, RFC 3339 with a time zone.")
    causationId: Identifier | None = Field(default=None, description="eventId of the event that caused this one, if any.")
    correlationId: Identifier | None = Field(
        default=None, description="Identifier shared by a whole business conversation."
    )

    @field_serializer("timestamp")
    def _rfc3339(self, value: datetime) -> str:
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}
_BOUNDS = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt",
           "minLength": "min_length", "maxLength": "max_length", "minItems": "min_length",
           "maxItems": "max_length", "pattern": "pattern"}


class _PythonRe(EventEnvelope):
    # Patterns the default (Rust) regex engine cannot compile, e.g. a lookahead.
    model_config = ConfigDict(regex_engine="python-re")


class _Types:
    """JSON Schema fragments of one spec -> Python annotations (object types -> models)."""

    def __init__(self, spec: SagaSpec, python_re: bool = False) -> None:
        self.spec = spec
        self.python_re = python_re
        self.models: dict[str, Any] = {}

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """``schema`` with a ``#/types/`` ref merged in (its own keywords win), and the
        type's name when it is an object type (made a model of its own)."""
        ref = schema.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/types/")):
            return schema, None
        name = ref[len("#/types/"):]
        target, inner = self.resolve(self.spec.types[name])
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        if inner is None and (target.get("type") == "object" or "properties" in target):
            inner = name
        return merged, inner

    def annotation(self, schema: Any) -> Any:
        if not isinstance(schema, dict):
            return Any
        schema, model = self.resolve(schema)
        if model is not None:
            return self.model(model)
        if "const" in schema:
            return Literal[schema["const"]]
        if schema.get("enum"):
            return Literal[tuple(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                options = tuple(self.annotation(s) for s in schema[key])
                return Union[options] if len(options) > 1 else options[0]  # noqa: UP007
        kind = schema.get("type")
        if isinstance(kind, list):
            options = tuple(self.annotation({**schema, "type": k}) for k in kind)
            return Union[options]  # noqa: UP007
        if kind == "object" or "properties" in schema:
            return self.object_model(schema.get("title") or "Object", schema)
        if kind == "array":
            base: Any = list[self.annotation(schema.get("items", {}))]  # type: ignore[misc]
            keys: tuple[str, ...] = ("minItems", "maxItems")
        else:
            base = _SCALARS.get(kind, Any)
            keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern")
        bounds = {_BOUNDS[k]: schema[k] for k in keys if k in schema}
        return Annotated[base, Field(**bounds)] if bounds else base

    def model(self, name: str) -> Any:
        if name not in self.models:
            self.models[name] = dict[str, Any]  # a recursive type refers to itself: any object
            schema, _ = self.resolve(self.spec.types[name])
            self.models[name] = self.object_model(name, schema)
        return self.models[name]

    def object_model(self, name: str, schema: dict[str, Any]) -> type[BaseModel]:
        required = set(schema.get("required", ()))
        fields: dict[str, Any] = {}
        for key, sub in (schema.get("properties") or {}).items():
            ann = self.annotation(sub)
            note = sub.get("description") if isinstance(sub, dict) else None
            if key in required:
                fields[key] = (ann, Field(description=note))
            else:
                fields[key] = (ann | None, Field(default=(sub or {}).get("default"), description=note))
        config = ConfigDict(extra="forbid" if schema.get("additionalProperties") is False else "allow", frozen=True)
        if self.python_re:
            config["regex_engine"] = "python-re"
        return create_model(name, __config__=config, **fields)

    def field(self, f: SpecField) -> tuple[Any, Any]:
        ann = self.annotation(f.schema)
        resolved, _ = self.resolve(f.schema)
        note = resolved.get("description")
        if f.nullable:
            ann = ann | None
        if not f.optional:
            return ann, Field(description=note)
        default = resolved.get("default", resolved.get("const"))
        if default is None:
            ann = ann | None
        return ann, Field(default=default, description=note)


@functools.cache
def event_models(spec: SagaSpec) -> dict[str, type[EventEnvelope]]:
    """One model per event of ``spec`` (a subclass of :class:`EventEnvelope`), in the
    spec's order."""
    try:
        return _models(spec, python_re=False)
    except PydanticSchemaError:
        return _models(spec, python_re=True)


def _models(spec: SagaSpec, python_re: bool) -> dict[str, type[EventEnvelope]]:
    types = _Types(spec, python_re)
    base = _PythonRe if python_re else EventEnvelope
    out: dict[str, type[EventEnvelope]] = {}
    for event in spec.events:
        fields: dict[str, Any] = {
            "eventType": (Literal[event.name], Field(default=event.name,
                                                     description=f'Determines the handler; always "{event.name}".')),
            "schemaVersion": (Literal[event.version], Field(default=event.version,
                                                            description="Version of this event's schema.")),
        }
        for f in (*spec.common, *event.fields):
            fields[f.name] = types.field(f)
        model = create_model(event.name, __base__=base, __doc__=event.description or event.name, **fields)
        out[event.name] = model
    return out


@functools.cache
def event_adapter_for(spec: SagaSpec) -> TypeAdapter[Any]:
    """A :class:`pydantic.TypeAdapter` of the discriminated union of ``spec``'s events."""
    return TypeAdapter(_union(spec))


def _union(spec: SagaSpec) -> Any:
    models = tuple(event_models(spec).values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="eventType")]  # noqa: UP007


def _default() -> SagaSpec:
    from sagaspec.spec.sagafile import shipped_spec

    return shipped_spec("corrected")


def parse_event(data: dict[str, Any] | str | bytes, spec: SagaSpec | None = None) -> EventEnvelope:
    """Validate a JSON object (or JSON text) into its event model (default: an event of
    the shipped order saga).

    Raises :class:`pydantic.ValidationError`; front ends turn it into one-line errors.
    """
    adapter = event_adapter_for(spec or _default())
    if isinstance(data, (str, bytes)):
        return adapter.validate_json(data)
    return adapter.validate_python(data)


def model_for(event_type: str, spec: SagaSpec | None = None) -> type[EventEnvelope]:
    """The model class of ``event_type``; :class:`KeyError` names the unknown type."""
    models = event_models(spec or _default())
    try:
        return models[event_type]
    except KeyError:
        raise KeyError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(models)}"
        ) from None


def __getattr__(name: str) -> Any:
    # The shipped order saga's models, made on first use (reading the spec takes a while).
    if name == "EVENT_MODELS":
        return event_models(_default())
    if name == "EVENT_TYPES":
        return _default().event_names
    if name == "SagaEvent":
        return _union(_default())
    if name == "event_adapter":
        return event_adapter_for(_default())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
