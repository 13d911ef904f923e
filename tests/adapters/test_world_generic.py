"""The adapters' World names no saga's data: its world data are whatever names the
spec's world rules read, and its JSON wire form is the one saved case files hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sagaspec.adapters import World
from sagaspec.adapters.http import HttpAdapter
from sagaspec.conformance.cases import load_case
from sagaspec.examples.samples import sample_order

ROOT = Path(__file__).resolve().parents[2]
ORDER = ROOT / "spec" / "sagas" / "order-corrected.saga.yaml"
#: Saved case files of an earlier release (their world's data: the order spec's names).
OLD_CASES = sorted((ROOT / "tests" / "data" / "brokers" / "mutants").glob("*.json"))


def _renamed_spec(tmp_path: Path) -> Path:
    """The order spec with its world rules reading other data names."""
    text = ORDER.read_text(encoding="utf-8")
    assert text.count("in: declined_users") == 1 and text.count("above: decline_over") == 1
    out = tmp_path / "renamed.saga.yaml"
    out.write_text(text.replace("in: declined_users", "in: blocked")
                   .replace("above: decline_over", "above: max_charge"), encoding="utf-8")
    return out


def test_world_data_are_any_names_and_round_trip_through_json():
    w = World(stock={"a": 2}, blocked={"eve", "bob"}, max_charge="9.50")
    assert w.to_json() == {"stock": {"a": 2}, "blocked": ["bob", "eve"], "max_charge": "9.50"}
    assert list(w.to_json()) == ["stock", "blocked", "max_charge"]
    assert World.from_json(w.to_json()) == w
    assert w.get("blocked") == ["bob", "eve"] and w.get("missing", ()) == ()
    assert w.rule_data() == {"blocked": ["bob", "eve"], "max_charge": "9.50"}
    # Nothing but what was set: no other saga's names on the wire.
    assert World(stock={"a": 1}).to_json() == {"stock": {"a": 1}}
    k = World(knobs={"s": {"card": "decline"}}, shared={"p.v": 1}, data={"blocked": ["x"]})
    assert json.dumps(k.to_json()) == \
        '{"stock": {}, "blocked": ["x"], "knobs": {"s": {"card": "decline"}}, "shared": {"p.v": 1}}'
    assert World.from_json(k.to_json()) == k


def test_world_data_cannot_take_the_name_of_a_field_of_the_world():
    with pytest.raises(ValueError, match="cannot be named knobs"):
        World(data={"knobs": 1})


#: The saved case files that set a world (a file without one has nothing to compare).
WORLD_CASES = [p for p in OLD_CASES if json.loads(p.read_text(encoding="utf-8")).get("world")]


@pytest.mark.parametrize("path", WORLD_CASES, ids=lambda p: p.name)
def test_an_old_saved_case_files_world_loads_and_is_sent_byte_for_byte(path):
    saved = json.loads(path.read_text(encoding="utf-8"))
    case = load_case(path)
    assert json.dumps(case.world.to_json()) == json.dumps(saved["world"])
    assert case.to_json()["world"] == saved["world"]


def test_the_old_case_files_include_a_per_key_world():
    # The test above compares something: the old form with both order-spec data names.
    worlds = [json.loads(p.read_text(encoding="utf-8")).get("world") for p in WORLD_CASES]
    assert len(WORLD_CASES) >= 10 and any(w and list(w)[:3] == ["stock", "declined_users", "decline_over"] for w in worlds)


def test_a_saga_whose_rules_read_other_names_is_set_up_over_http(tmp_path, monkeypatch, run):
    """POST /world of a World with the spec's own data names: the interpreter takes them
    (it refuses names its rules do not read), and the rules decide by them."""
    from sagaspec.examples.httpserver import SagaHTTPServer
    from sagaspec.examples.system import make_target

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("SAGASPEC_SERVE_TOKEN", raising=False)
    server = SagaHTTPServer(make_target("system", str(_renamed_spec(tmp_path))), port=0).start()
    a = HttpAdapter(server.url, participant="system")
    try:
        run(a.start())
        decided = {}
        for n, (user, world) in enumerate([
                ("eve", World(stock={"sku-1": 5}, blocked={"eve"})),
                ("bob", World.from_json({"stock": {"sku-1": 5}, "blocked": [], "max_charge": "5.00"})),
                ("ann", World(stock={"sku-1": 5}, blocked=["eve"], max_charge=None))], 1):
            run(a.reset())
            run(a.setup(world))
            run(a.place_order(sample_order(n, user=user, price="10.00")))
            decided[user] = {e["eventType"] for e in run(a.collect(2.0)) if isinstance(e, dict)}
        run(a.close())
    finally:
        server.close()
    assert "PaymentFailed" in decided["eve"] and "PaymentProcessed" not in decided["eve"]
    assert "PaymentFailed" in decided["bob"]  # 10.00 is over max_charge 5.00
    assert "PaymentProcessed" in decided["ann"] and "PaymentFailed" not in decided["ann"]
