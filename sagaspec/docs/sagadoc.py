"""What the docs read about a saga: its table, events, schemas, examples and vocabulary.

:func:`doc_saga` accepts a shipped design name, a saga spec file, a loaded
:class:`~sagaspec.spec.sagafile.SagaSpec`, or a :class:`~sagaspec.spec.designs.Design`
(for a Design the events are those of the shipped order saga). Everything the pages say
about events comes from here, so the site, the flows and the AsyncAPI document describe
any saga the same way:

* the events, in the spec's order, with their description and JSON Schemas (generated
  from the spec; for the shipped specs these are the committed files);
* one example event per event type (:func:`~sagaspec.spec.specschemas.spec_examples`);
* the envelope (shared fields plus the spec's ``common`` fields) and the *subject*, the
  first common field (``orderId``), whose stem names one saga instance (``order``).

>>> s = doc_saga("corrected")
>>> s.noun, s.subject, s.envelope[5], s.events[0]
('order', 'orderId', 'orderId', 'OrderCreated')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sagaspec.errors import DesignError
from sagaspec.spec import cloudevents as ce
from sagaspec.spec.designs import Design
from sagaspec.spec.sagafile import SHIPPED, SagaSpec, resolve_spec, shipped_spec
from sagaspec.spec.schemagen import render
from sagaspec.spec.schemas import schema_for
from sagaspec.spec.specschemas import ENVELOPE, envelope_type_name, spec_examples

__all__ = ["DocSaga", "doc_saga"]


@dataclass(frozen=True)
class DocSaga:
    """A saga as the docs see it: the choreography table plus the spec's event data."""

    design: Design
    spec: SagaSpec

    @property
    def name(self) -> str:
        return self.design.name

    @property
    def own(self) -> bool:
        """A user's spec (generated schemas), not one of the shipped order specs."""
        return self.spec.shipped is None

    @property
    def model_ref(self) -> str | SagaSpec:
        """What :func:`sagaspec.model.saga.saga_system` takes for this saga."""
        if self.own:
            return self.spec
        if self.design.name not in SHIPPED:
            raise DesignError(
                f"design {self.name!r} is a table only; the model explores saga specs "
                "(a .saga.yaml file) and the shipped designs"
            )
        return self.design.name

    @property
    def events(self) -> list[str]:
        """Events the design mentions, in the spec's order."""
        mentioned = set(self.design.events)
        return [e for e in self.spec.event_names if e in mentioned]

    @property
    def unknown_events(self) -> list[str]:
        return [e for e in self.design.events if e not in self.spec.event_names]

    def check(self) -> None:
        """:class:`DesignError` when the design names an event the saga does not declare."""
        if self.unknown_events:
            raise DesignError(
                f"design {self.name!r} mentions events without a schema: {', '.join(self.unknown_events)}"
            )

    def doc(self, event: str) -> str:
        """One-paragraph description of ``event``."""
        return self.spec.event(event).description.strip()

    def role(self, event: str) -> str:
        return self.spec.event(event).role

    def schema(self, event: str, draft: str = "2020-12") -> dict[str, Any]:
        return schema_for(event, draft, self.spec)

    def schema_text(self, event: str, draft: str) -> str:
        """The schema file of ``event`` as ``schemas export`` writes it (for the shipped
        specs: the committed file)."""
        return render(self.schema(event, draft))

    def examples(self, event: str) -> list[dict[str, Any]]:
        return spec_examples(self.spec, event)

    @property
    def envelope(self) -> tuple[str, ...]:
        """Fields every event carries: the shared envelope and the spec's common fields."""
        head = tuple(name for name, *_ in ENVELOPE[:5])
        tail = tuple(name for name, *_ in ENVELOPE[5:])
        return (*head, *(f.name for f in self.spec.common), *tail)

    @property
    def subject(self) -> str | None:
        """The field that names what a saga is about (its first common field)."""
        return self.spec.common[0].name if self.spec.common else None

    @property
    def noun(self) -> str:
        """What one saga is about, from the subject field: ``orderId`` -> ``order``,
        ``rentalRef`` -> ``rental``, ``loanNumber`` -> ``loan``."""
        stem = re.sub(r"(Id|ID|_id|Ref|_ref|Key|_key|Number|No)$", "", self.subject or "")
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", stem).lower() or "saga"

    def nouns(self, n: int) -> str:
        """``2 orders``, ``1 order``."""
        return f"{n} {self.noun}{'' if n == 1 else 's'}"

    @property
    def title_noun(self) -> str:
        return self.noun[:1].upper() + self.noun[1:]

    @property
    def saga_title(self) -> str:
        """``Order saga``; plain ``Saga`` when the events name no subject."""
        return f"{self.title_noun} saga" if self.subject else "Saga"

    def identifier_type(self) -> str:
        """Name of the envelope's identifier type in the bundled schemas."""
        return envelope_type_name(self.spec, "Identifier")

    def timestamp_type(self) -> str:
        return envelope_type_name(self.spec, "Timestamp")

    def trigger_text(self, note: str) -> str:
        """Who starts a saga, for the reaction table."""
        if not self.own:
            return "the customer (external trigger)"
        return f"{note} (external trigger)" if note else "an external trigger"

    @property
    def has_stock(self) -> bool:
        """The spec has ``stock`` and ``units`` params: flows are explored with and without stock."""
        names = {p.name for p in self.spec.params}
        return {"stock", "units"} <= names

    def cloudevent(self, event: dict[str, Any], source: str) -> dict[str, Any]:
        return ce.to_cloudevent(event, source, spec=self.spec)

    def binary(self, event: dict[str, Any], source: str) -> tuple[dict[str, str], bytes]:
        return ce.to_binary(event, source, spec=self.spec)

    @property
    def regenerate(self) -> str:
        """The ``--design`` argument that rebuilds these docs."""
        return self.name if not self.own else self.spec.source


def doc_saga(saga: DocSaga | Design | SagaSpec | str) -> DocSaga:
    """The :class:`DocSaga` of a design name, spec file, spec or Design."""
    if isinstance(saga, DocSaga):
        return saga
    if isinstance(saga, SagaSpec):
        return DocSaga(saga.design(), saga)
    if isinstance(saga, Design):
        spec = shipped_spec(saga.name if saga.name in SHIPPED else "corrected")
        return DocSaga(saga, spec)
    if isinstance(saga, str) and saga in SHIPPED:
        return DocSaga(shipped_spec(saga).design(), shipped_spec(saga))
    spec = resolve_spec(str(saga))
    return DocSaga(spec.design(), spec)
