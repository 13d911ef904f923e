"""``sagaspec serve --world FILE``: an unknown field is named with a noun that agrees."""

from __future__ import annotations

import json

import pytest

from sagaspec.cli.serve import _world
from sagaspec.errors import InputError


@pytest.mark.parametrize(("extra", "said"), [
    ({"colour": 1}, "unknown field colour; "),
    ({"colour": 1, "size": 2}, "unknown fields colour, size; "),
])
def test_unknown_world_fields_agree_with_their_count(tmp_path, extra, said):
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"stock": {"sku-1": 1}, **extra}), encoding="utf-8")
    with pytest.raises(InputError) as info:
        _world(str(path))
    assert f"{path}: {said}expected stock, declined_users, decline_over" in str(info.value)
