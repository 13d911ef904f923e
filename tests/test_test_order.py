"""The suite's own scheduling: each xdist worker starts with its share of the long tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from xdist_order import LONG_TESTS, expected_seconds, long_first

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Item:
    nodeid: str


def _slices(items: list[Item], workers: int) -> list[list[str]]:
    # worksteal's first distribution: consecutive slices, len // workers-left each
    out, rest = [], list(items)
    for k in range(workers):
        n = len(rest) // (workers - k)
        out.append([i.nodeid for i in rest[:n]])
        rest = rest[n:]
    return out


def test_each_worker_starts_with_its_share_of_the_long_tests():
    seconds = {"t::long-a": 20.0, "t::long-b": 18.0, "t::long-c": 10.0, "t::long-d": 9.0}
    items = [Item(f"t::short-{n}") for n in range(10)]
    for n, name in enumerate(seconds):
        items.insert(3 * n + 1, Item(name))
    ordered = long_first(items, 2, seconds=lambda nodeid: seconds.get(nodeid, 0.0))
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)
    first, second = _slices(ordered, 2)
    assert first[:2] == ["t::long-a", "t::long-d"] and second[:2] == ["t::long-b", "t::long-c"]
    # the short ones keep their order (module fixtures stay together), split across workers
    shorts = [n for n in first + second if "short" in n]
    assert shorts == [f"t::short-{n}" for n in range(10)]


def test_one_worker_or_no_xdist_keeps_the_collection_order():
    items = [Item("t::a"), Item("t::b")]
    assert long_first(items, 1, seconds=lambda nodeid: 5.0) == items
    assert long_first(items, 0) == items


def test_every_long_test_named_exists():
    # A renamed or removed test leaves a stale entry: it would silently order nothing.
    for nodeid in LONG_TESTS:
        path, name = nodeid.split("::", 1)
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {re.escape(name.split('[', 1)[0])}\(", source, re.M), nodeid
        assert expected_seconds(nodeid) > 0
