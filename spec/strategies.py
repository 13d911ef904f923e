"""Hypothesis strategies for valid saga events, generated from a saga's event schemas.

The strategies come from the draft-07 schemas through hypothesis-jsonschema, so anything
they draw is valid by construction of the *wire format*, independently of the pydantic
models: a good oracle for round-trip and consistency tests.

>>> from hypothesis import given, settings
>>> from sagaspec.spec.schemas import validate_event
>>> @settings(max_examples=5, database=None)
... @given(events("OrderCancelled"))
... def check(e):
...     assert validate_event(e) == []
>>> check()
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from sagaspec.spec.schemas import all_schemas, schema_for

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

__all__ = ["events", "event_of"]


@functools.cache
def event_of(event_type: str, spec: SagaSpec | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid events of one type of ``spec``'s saga (default: the shipped order saga);
    cached: building a strategy canonicalises the schema."""
    from hypothesis_jsonschema import from_schema  # imported lazily: it is slow to import

    return from_schema(schema_for(event_type, "draft-07", spec))


def events(*event_types: str, spec: SagaSpec | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid events of the given types (all types of the saga when none is given)."""
    chosen = event_types or tuple(all_schemas("draft-07", spec))
    return st.one_of([event_of(t, spec) for t in chosen])
