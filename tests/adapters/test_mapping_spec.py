"""A mapping file is checked against the saga spec: unknown event or field names are load
errors naming the file and line."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from sagaspec.adapters.mapping import load_mapping
from sagaspec.spec.sagafile import load_spec, shipped_spec

from sagaspec.errors import InputError

SHIPPED = Path(resources.files("sagaspec.examples").joinpath("foreign_payment.toml"))
TRAVEL = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "travel.saga.yaml"


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_mapping_is_valid_for_the_order_spec():
    m = load_mapping(SHIPPED, shipped_spec("corrected"))
    assert "OrderCreated" in m.rules


@pytest.mark.parametrize(
    "old, new, needle, message",
    [
        ("[events.OrderCreated]", "[events.OrderCreatd]", "[events.OrderCreatd]", "unknown event type 'OrderCreatd'"),
        ('userId = "customer_id"', 'userID = "customer_id"', "userID", "no field 'userID' in this event"),
        ('"items[].sku" = "product_id"', '"items[].skuu" = "product_id"', "items[].skuu",
         "no field 'skuu' in the items of 'items'"),
        ('orderId = "order_id"', 'ordrId = "order_id"', "ordrId", "not an envelope field"),
    ],
)
def test_unknown_names_are_errors_with_file_and_line(tmp_path, old, new, needle, message):
    text = SHIPPED.read_text()
    assert old in text
    bad = tmp_path / "mapping.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_mapping(bad, shipped_spec("corrected"))
    error = str(info.value)
    assert error.startswith(f"{bad}:{_line(bad.read_text(), needle)}: "), error
    assert message in error


def test_any_spec_event_names(tmp_path):
    travel = load_spec(TRAVEL)
    good = tmp_path / "travel.toml"
    good.write_text('type_field = "kind"\n[events.TripRequested]\ntype = "trip.requested"\n')
    assert load_mapping(good, travel).rules["TripRequested"].theirs == "trip.requested"
    bad = tmp_path / "bad.toml"
    bad.write_text('type_field = "kind"\n\n[events.OrderCreated]\ntype = "order.created"\n')
    with pytest.raises(InputError, match=rf"{bad}:3: events.OrderCreated: unknown event type 'OrderCreated'; expected one of TripRequested"):
        load_mapping(bad, travel)
