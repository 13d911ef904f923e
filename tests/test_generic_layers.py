"""The generic layers name no order-saga event, service or payload field: the order saga
is data.

Every event and participant name of ``spec/sagas/order-corrected.saga.yaml`` (read from
the file itself) is searched for in the Python files under ``model/``, ``conformance/``
and ``adapters/``: an event name as a word, a participant name as a string literal
(``"payment"``; the bare words are ordinary English). So is every payload field name of
the spec (its events', its common fields and its declared types' properties) as a
string literal (``"userId"``, ``'sku'``), except the names that are not the order's own
words (:func:`_not_order_words`): JSON Schema keywords (``items``), keys of the spec
format itself (``quantity``, a key of ``keys:``), the event envelope, and the fields of
the adapters' own protocol (``status`` of a delivery's reply, ``reason`` of an error).
The data names the spec's world rules read (``declined_users``: the world's data, which
the rules name) are searched as words, like the event names: a world that names them in
code, attribute or literal, knows the order saga.
Code, docstrings and doctests alike: a generic module's examples belong in the tests,
which use the order spec as data.

The Python files under ``spec/`` (the package that ships the order spec files) are
searched too, except their docstrings (doctests included): there the order saga is the
example every reader knows, while the code reads every saga, the order one included,
from its spec file.

Files that still need order words are listed in :data:`REMAINING`, each with why. The list
only shrinks: a listed file that no longer names any fails the test until its entry is
removed, and a file not listed that starts naming one fails it too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "sagas" / "order-corrected.saga.yaml"
LAYERS = ("model", "conformance", "adapters")
#: Searched outside docstrings only.
SPEC_LAYER = "spec"

#: file -> why it still names order-saga events or services (remove the entry when clean).
REMAINING: dict[str, str] = {
    # -- conformance/: the world and payloads of the order saga (issue 10)
}


#: The common envelope of every event (the suite builds it for any saga).
ENVELOPE = frozenset({"eventId", "eventType", "schemaVersion", "sagaId", "timestamp", "causationId"})
#: Fields of the adapters' own protocol that a saga may also use: a delivery's reply
#: ``{"status": "processed"}``, an error's ``{"source", "reason"}``.
PROTOCOL = frozenset({"status", "reason"})


def _format_keys(schema) -> set[str]:
    """Every property name the spec format's JSON Schema declares, at any depth."""
    out: set[str] = set()
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "properties" and isinstance(v, dict):
                out |= set(v)
            out |= _format_keys(v)
    elif isinstance(schema, list):
        for v in schema:
            out |= _format_keys(v)
    return out


def _not_order_words() -> frozenset[str]:
    import jsonschema
    from sagaspec.spec.sagafile import format_schema

    return frozenset(jsonschema.Draft202012Validator.VALIDATORS) | _format_keys(format_schema()) \
        | ENVELOPE | PROTOCOL


def _field_names(spec: dict) -> list[str]:
    """The spec's payload field names: events', common, declared types' properties."""
    names = set(spec.get("common") or {})
    for e in spec["events"].values():
        names |= set(e.get("fields") or {})
    for t in (spec.get("types") or {}).values():
        names |= set(t.get("properties") or {}) if isinstance(t, dict) else set()
    return sorted(names - _not_order_words())


def _data_names(spec: dict) -> list[str]:
    """The world data names the spec's world rules read (``in:`` a list, ``above:`` a limit)."""
    return sorted({rule[test] for knob in (spec.get("world") or {}).values()
                   for rule in (knob.get("rules") or ()) for test in ("in", "above") if test in rule})


def _words() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    events = sorted(spec["events"])
    services = sorted(spec["participants"])
    fields = _field_names(spec)
    assert "OrderCreated" in events and "payment" in services  # the file is what we think
    # Event and world data names are no English words: searched as words.
    event_re = re.compile(r"\b(" + "|".join(map(re.escape, events + _data_names(spec))) + r")\b")
    service_re = re.compile(r"""["'](""" + "|".join(map(re.escape, services)) + r""")["']""")
    field_re = re.compile(r"""["'](""" + "|".join(map(re.escape, fields)) + r""")["']""")
    return event_re, service_re, field_re


def _docstring_lines(text: str) -> set[int]:
    """Line numbers of the module, class and function docstrings of ``text``."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def _offenders() -> dict[str, list[str]]:
    event_re, service_re, field_re = _words()
    found: dict[str, list[str]] = {}
    for layer in (*LAYERS, SPEC_LAYER):
        for path in sorted((ROOT / layer).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            skip = _docstring_lines(text) if layer == SPEC_LAYER else set()
            for n, line in enumerate(text.splitlines(), 1):
                if n in skip:
                    continue
                hits = event_re.findall(line) + service_re.findall(line) + field_re.findall(line)
                if hits:
                    found.setdefault(rel, []).append(f"{rel}:{n}: {', '.join(hits)}")
    return found


def test_docstrings_of_spec_files_are_skipped_and_nothing_else():
    text = (
        '"""Module: OrderCreated."""\n'
        "def f():\n"
        '    """OrderCreated, in a docstring."""\n'
        '    return "OrderCreated"  # code\n'
    )
    assert _docstring_lines(text) == {1, 3}


def test_the_payload_field_names_searched_are_the_order_sagas_own():
    """Read from the spec file: its distinctive fields, without the shared words."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    fields = _field_names(spec)
    assert {"userId", "amount", "currency", "sku", "unitPrice", "orderId", "paymentId"} <= set(fields)
    assert not {"items", "quantity", "status", "reason", "sagaId"} & set(fields)
    _, _, field_re = _words()
    assert field_re.findall('x = s["userId"]; y = {\'sku\': 1}; z = "items"; w = userId') == ["userId", "sku"]


def test_no_new_file_of_the_generic_layers_names_the_order_saga():
    new = {f: lines for f, lines in _offenders().items() if f not in REMAINING}
    assert not new, "order-saga names in generic code (make it read the spec):\n" + \
        "\n".join(line for lines in new.values() for line in lines[:5])


def test_the_list_of_remaining_files_only_shrinks():
    offenders = _offenders()
    clean = sorted(f for f in REMAINING if f not in offenders)
    assert not clean, f"no longer naming the order saga: remove from REMAINING: {clean}"
    assert all((ROOT / f).is_file() for f in REMAINING)
    assert all(why.strip() for why in REMAINING.values())


def test_the_world_data_names_searched_are_those_the_order_specs_rules_read():
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert _data_names(spec) == ["decline_over", "declined_users"]
    event_re, _, _ = _words()
    assert event_re.findall('w.declined_users; d["decline_over"]; declined_users_total; decline') == \
        ["declined_users", "decline_over"]
