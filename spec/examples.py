"""Valid example events of a saga, for schemas, docs and tests.

The examples are made from the saga spec's event schemas
(:func:`sagaspec.spec.specschemas.spec_examples`): one event per event type, its values
taken from the schemas' ``examples``, ``const``, ``enum`` and ``default``, its ids named
after their fields, and a field that says where its value comes from (``from:
EVENT.FIELD``) copies it, so the events of one example saga agree with each other. The
default saga is the shipped order saga (``corrected``).

>>> [e["eventId"] for e in all_examples()][:2]
['evt-1', 'evt-2']
>>> examples_for("PaymentRefunded")[0]["paymentId"] == examples_for("PaymentProcessed")[0]["paymentId"]
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagaspec.errors import UsageError

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

__all__ = ["examples_for", "all_examples"]


def _spec(spec: SagaSpec | str | None) -> SagaSpec:
    from sagaspec.spec.sagafile import resolve_spec

    if spec is None:
        return resolve_spec("corrected")
    return resolve_spec(spec) if isinstance(spec, str) else spec


def examples_for(event_type: str, spec: SagaSpec | str | None = None) -> list[dict[str, Any]]:
    """Valid example events of ``event_type`` (fresh copies, safe to mutate).

    Raises :class:`~sagaspec.errors.UsageError` naming the known types for an unknown one.
    """
    from sagaspec.spec.specschemas import spec_examples

    saga = _spec(spec)
    if event_type not in saga.event_names:
        raise UsageError(
            f"unknown eventType {event_type!r}; expected one of {', '.join(saga.event_names)}"
        )
    return spec_examples(saga, event_type)


def all_examples(spec: SagaSpec | str | None = None) -> list[dict[str, Any]]:
    """Every example event, in the spec's event order."""
    saga = _spec(spec)
    return [e for t in saga.event_names for e in examples_for(t, saga)]
