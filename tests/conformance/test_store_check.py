"""The properties a bus cannot show, judged on participants' reported variables."""

from __future__ import annotations

from sagaspec.conformance.store_check import bus_blind, judge_variables
from sagaspec.spec.sagafile import resolve_spec

SPEC = resolve_spec("corrected")
SAGAS = ["a", "b"]


def _inventory(free: int, held: list[int]) -> dict:
    per = {s: {"status": "reserved" if h else "none", "held": h, "reservations": int(bool(h)), "releases": 0}
           for s, h in zip(SAGAS, held, strict=True)}
    return {"available": True, "sagas": per, "shared": {"free": free}, "params": {"stock": 1, "units": 1}}


def _verdicts(inventory: dict | None, **kw) -> dict[str, tuple[str, str]]:
    out = judge_variables(SPEC, SAGAS, {"inventory": inventory}, bus_blind(SPEC), **kw)
    return {n: (v.verdict, v.reason) for n, v in out.items()}


def test_the_bus_blind_properties_are_the_shared_stock_ones():
    assert [p.name for p in bus_blind(SPEC)] == ["stock-non-negative", "stock-conserved"]


def test_stock_conserved_holds_or_is_violated_by_the_reported_stock():
    assert {n: v for n, (v, _) in _verdicts(_inventory(0, [1, 0])).items()} == {
        "stock-non-negative": "held", "stock-conserved": "held"}
    leaked = _verdicts(_inventory(0, [0, 0]))  # released, never returned to stock
    assert leaked["stock-conserved"][0] == "violated" and leaked["stock-non-negative"][0] == "held"


def test_a_negative_stock_names_the_sagas():
    out = judge_variables(SPEC, SAGAS, {"inventory": _inventory(-1, [1, 1])}, bus_blind(SPEC))
    assert out["stock-non-negative"].verdict == "violated" and out["stock-non-negative"].sagas == SAGAS


def test_variables_not_available_are_not_judged_never_held():
    out = _verdicts({"available": False, "reason": "stock per sku"})
    assert all(v == "not judged" and "stock per sku" in why for v, why in out.values())
    out = _verdicts(None)
    assert all(v == "not judged" and "did not report" in why for v, why in out.values())
    wrong = _inventory(1, [0, 0])
    del wrong["sagas"]["b"]["held"]
    assert all(v == "not judged" for v, _ in _verdicts(wrong).values())


def test_answers_in_chunks_merge_into_one_per_participant():
    from sagaspec.conformance.store_check import in_chunks, merge_variables

    assert in_chunks(["a", "b", "c"], 2) == [["a", "b"], ["c"]] and in_chunks([]) == [[]]
    first, second = _inventory(0, [1, 0]), _inventory(0, [1, 0])
    del first["sagas"]["b"], second["sagas"]["a"]
    merged = merge_variables([{"inventory": first}, {"inventory": second}])
    assert merged["inventory"]["sagas"] == _inventory(0, [1, 0])["sagas"]
    gone = merge_variables([{"inventory": first}, {"inventory": {"available": False, "reason": "down"}}])
    assert not gone["inventory"]["available"] and gone["inventory"]["reason"] == "down"
