"""The docs site and the AsyncAPI document of any saga spec: a two-participant rental
saga written here, the example sagas of examples/sagas and the shipped order specs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sagaspec.spec.sagafile import load_spec
from sagaspec.spec.specschemas import spec_examples, spec_schema

from sagaspec.cli import main
from sagaspec.docs.asyncapi import asyncapi_document
from sagaspec.docs.flows import explore_one_saga
from sagaspec.docs.site import build_site

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
EXAMPLE_SAGAS = sorted((ROOT / "examples" / "sagas").glob("*.saga.yaml"))

RENTAL = """\
saga: rental
format: 1
title: Car rental desk
description: The desk takes a rental request; the fleet reserves a car; the desk checks the deposit.
bounds: {sagas: 1, max_sagas: 2, bus: unordered-dup, duplicates: 1, crashes: 0}
world:
  fleet: {values: [car, none]}
  deposit: {values: [ok, declined]}
types:
  Ref: {type: string, pattern: "^[A-Z]{2}[0-9]{3}$", examples: [RT100], description: A rental reference.}
common:
  rentalRef: {$ref: "#/types/Ref", description: The rental.}
events:
  RentalRequested:
    role: trigger
    description: A customer asked for a car.
    fields:
      driver: {type: string, minLength: 2, description: Who drives.}
      days: {type: integer, minimum: 1, maximum: 28, description: How long.}
  CarReserved:
    role: step
    description: The fleet set a car aside.
    fields:
      plate: {type: string, minLength: 1, description: The car's plate., from: new}
      days: {type: integer, minimum: 1, maximum: 28, description: How long., from: RentalRequested.days}
  NoCarLeft:
    role: failure
    description: No car for these days.
  CarReleased:
    role: compensation
    undoes: CarReserved
    terminal: true
    description: The reserved car is free again.
    fields:
      plate: {type: string, minLength: 1, description: The released car., from: CarReserved.plate}
  RentalConfirmed:
    role: outcome
    terminal: true
    description: The customer gets the car.
  RentalCancelled:
    role: outcome
    undoes: RentalRequested
    description: The rental is off.
    fields:
      reason: {type: string, minLength: 1, description: Why.}
participants:
  desk:
    description: Takes requests, checks the deposit, decides.
    state:
      status: {type: enum, values: [idle, open, confirmed, cancelled]}
      outcomes: {type: counter, max: 2, ghost: true}
    reactions:
      - trigger: true
        note: a customer asks for a car
        alternatives:
          - {label: "request {saga}", when: "status == 'idle'", set: {status: open}, emit: [RentalRequested]}
      - on: CarReserved
        note: confirm if the deposit clears, cancel otherwise
        alternatives:
          - {label: ignore, when: "status != 'open'"}
          - {label: confirm, when: "status == 'open'", world: {deposit: ok}, set: {status: confirmed, outcomes: outcomes + 1}, emit: [RentalConfirmed]}
          - {label: deposit declined, when: "status == 'open'", world: {deposit: declined}, set: {status: cancelled, outcomes: outcomes + 1}, emit: [RentalCancelled]}
      - on: NoCarLeft
        note: nothing to rent
        alternatives:
          - {label: ignore, when: "status != 'open'"}
          - {label: cancel, when: "status == 'open'", set: {status: cancelled, outcomes: outcomes + 1}, emit: [RentalCancelled]}
  fleet:
    description: Reserves cars; frees the car of a cancelled rental.
    state:
      status: {type: enum, values: [none, reserved, none_left, released]}
      held: {type: counter, max: 2, ghost: true}
    reactions:
      - on: RentalRequested
        alternatives:
          - {label: ignore, when: "status != 'none'"}
          - {label: reserve, when: "status == 'none'", world: {fleet: car}, set: {status: reserved, held: held + 1}, emit: [CarReserved]}
          - {label: no car, when: "status == 'none'", world: {fleet: none}, set: {status: none_left}, emit: [NoCarLeft]}
      - on: RentalCancelled
        alternatives:
          - {label: ignore, when: "status != 'reserved'"}
          - {label: release, when: "status == 'reserved'", set: {status: released, held: held - 1}, emit: [CarReleased]}
properties:
  one-outcome: {always: desk.outcomes <= 1, description: at most one outcome}
  nothing-held: {at_rest: "desk.status == 'confirmed' || fleet.held == 0", description: a cancelled rental holds no car}
"""

OTHER_SPECS = [str(p) for p in EXAMPLE_SAGAS]


@pytest.fixture(scope="module")
def rental_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rental") / "rental.saga.yaml"
    path.write_text(RENTAL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rental_site(rental_file, tmp_path_factory):
    site = build_site(str(rental_file))
    out = tmp_path_factory.mktemp("rental-site")
    site.write(out)
    return site, out


@pytest.fixture(scope="module")
def official():
    """Validator for the vendored official AsyncAPI 3.0.0 schema."""
    schema = json.loads((DATA / "asyncapi-3.0.0.schema.json").read_text())
    registry = Registry().with_resources(
        (uri, DRAFT7.create_resource(body)) for uri, body in schema["definitions"].items()
    )
    return jsonschema.Draft7Validator(schema, registry=registry)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# ------------------------------------------------------------------ the site


def test_site_has_a_page_for_every_event_and_service(rental_site):
    site, out = rental_site
    ids = {p.id for p in site.pages}
    events = ["RentalRequested", "CarReserved", "NoCarLeft", "CarReleased", "RentalConfirmed", "RentalCancelled"]
    assert {f"events/{e}" for e in events} | {"services/desk", "services/fleet"} <= ids
    assert {"index", "flows", "verification", "asyncapi"} <= ids
    for page in [*(f"events/{e}" for e in events), "services/desk", "services/fleet"]:
        assert (out / f"{page}.html").is_file() and (out / f"{page}.md").is_file()
    index = (out / "README.md").read_text(encoding="utf-8")
    assert index.startswith("# Rental saga: rental\n")
    assert "ALL PROPERTIES HOLD" in index and "2 rentals, at-least-once bus" in index
    assert "| [`NoCarLeft`](events/NoCarLeft.md) | **" in index  # the event table, with its role


def test_event_page_shows_schema_fields_example_and_cloudevent(rental_site, rental_file):
    spec = load_spec(rental_file)
    _site, out = rental_site
    page = (out / "events" / "CarReserved.md").read_text(encoding="utf-8")
    assert "The fleet set a car aside." in page
    assert "`https://sagaspec.dev/schemas/rental/v1/CarReserved.json`" in page
    assert "| `plate` | string | yes |" in page and "| `rentalRef` |" in page
    assert "Example 1: saga `saga-1`, rental `RT100`." in page
    assert "| `subject` | `rentalRef` | `RT100` |" in page
    assert "Compensated by [`CarReleased`](CarReleased.md)." in page
    example = json.loads(page.split("```json\n", 1)[1].split("```", 1)[0])
    assert example == spec_examples(spec, "CarReserved")[0]
    for draft in ("2020-12", "draft-07"):
        written = json.loads((out / "schemas" / draft / "CarReserved.json").read_text(encoding="utf-8"))
        assert written == spec_schema(spec, "CarReserved", draft)
    trigger = (out / "events" / "RentalRequested.md").read_text(encoding="utf-8")
    assert "starts the saga" in trigger


def test_flows_and_state_machines_come_from_exploring_the_spec(rental_site):
    site, out = rental_site
    flows = (out / "flows.md").read_text(encoding="utf-8")
    assert "## Happy path: rental completed" in flows
    assert "## NoCarLeft → RentalCancelled" in flows
    # The deposit check cancels after a reservation: the car is released.
    assert re.search(r"^## RentalCancelled → CarReleased", flows, re.M) or "→ CarReleased" in flows
    assert "Stock at the start" not in flows
    fleet = (out / "services" / "fleet.md").read_text(encoding="utf-8")
    assert "## State machine" in fleet and "Not available" not in fleet
    assert "`reserved`" in fleet and "`released`" in fleet
    # Nothing in the pages speaks of the order saga.
    for path in out.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        for word in ("OrderCreated", "orderId", "Order saga", "customer (external", "order completes"):
            assert word not in text, (path, word)


def test_docs_cli_on_a_spec_file(rental_file, tmp_path):
    out = tmp_path / "site"
    wrote = run("docs", "--design", rental_file, "--out", out, "--no-verify")
    assert wrote.exit_code == 0, wrote.output
    assert (out / "events" / "NoCarLeft.html").is_file() and (out / "services" / "desk.html").is_file()
    same = run("docs", "--spec", rental_file, "--out", out, "--no-verify", "--diff")
    assert same.exit_code == 0 and "is up to date" in same.stdout
    (out / "events" / "NoCarLeft.md").write_text("stale\n", encoding="utf-8")
    stale = run("docs", "--spec", rental_file, "--out", out, "--no-verify", "--diff")
    assert stale.exit_code == 1 and "differs: events/NoCarLeft.md" in stale.stderr
    assert f"sagaspec docs --design {rental_file}" in stale.stderr
    missing = run("docs", "--design", tmp_path / "nope.saga.yaml", "--out", out)
    assert missing.exit_code == 2 and "nope.saga.yaml: cannot read" in missing.stderr


@pytest.mark.parametrize("ref", OTHER_SPECS, ids=lambda r: Path(r).name)
def test_site_of_every_example_saga(ref):
    spec = load_spec(ref)
    site = build_site(ref, verify=False)
    ids = {p.id for p in site.pages}
    design = spec.design()
    assert {f"events/{e}" for e in design.events} | {f"services/{s}" for s in design.service_names} <= ids
    files = site.rendered()
    for e in design.events:
        assert json.loads(files[f"schemas/2020-12/{e}.json"]) == spec_schema(spec, e)
    mv = explore_one_saga(ref)
    assert any(f.kind == "happy" for f in mv.flows) or "buggy" in ref
    assert any(f.kind == "compensation" for f in mv.flows)
    assert set(mv.transitions) == set(design.service_names)


# ------------------------------------------------------------------ AsyncAPI


@pytest.mark.parametrize("ref", ["rental", "seed", "corrected", *OTHER_SPECS], ids=lambda r: Path(r).name)
@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_asyncapi_of_any_spec_is_valid_asyncapi_3(official, ref, mode, rental_file):
    source = str(rental_file) if ref == "rental" else ref
    doc = asyncapi_document(source, content_mode=mode)
    assert [e.message for e in official.iter_errors(doc)] == []
    # Every example validates against the message's own payload schema.
    root = Resource.from_contents(doc, default_specification=DRAFT7)
    registry = Registry().with_resource("urn:doc", root)
    checked = 0
    for name, message in doc["components"]["messages"].items():
        schema = json.loads(json.dumps(message["payload"]["schema"]).replace('"#/components/', '"urn:doc#/components/'))
        validator = jsonschema.Draft7Validator(schema, registry=registry)
        for example in message.get("examples", []):
            assert list(validator.iter_errors(example["payload"])) == [], name
            checked += 1
    assert checked == len(doc["components"]["messages"])


def test_asyncapi_of_the_rental_saga(official, rental_file):
    doc = asyncapi_document(str(rental_file))
    assert doc["info"]["title"] == "Rental saga choreography (rental)"
    assert set(doc["channels"]) == {"RentalRequested", "CarReserved", "NoCarLeft", "CarReleased",
                                    "RentalConfirmed", "RentalCancelled"}
    assert set(doc["operations"]) >= {"desk.send.RentalRequested", "fleet.receive.RentalRequested",
                                      "fleet.send.CarReleased", "desk.receive.NoCarLeft"}
    data = doc["components"]["schemas"]["CarReservedData"]
    assert set(data["properties"]) == {"plate", "days"} and data["required"] == ["plate", "days"]
    headers = doc["components"]["messages"]["CarReserved"]["headers"]["schema"]
    assert headers["properties"]["ce-subject"]["description"] == "The event's `rentalRef`."
    assert headers["properties"]["ce-dataschema"]["const"] == "https://sagaspec.dev/schemas/rental/v1/CarReserved.json"
    # A broken document is caught by the same validator: the check is not vacuous.
    doc["operations"]["desk.send.RentalRequested"]["action"] = "publish"
    assert list(official.iter_errors(doc))


def test_docs_asyncapi_cli_on_a_spec_file(official, rental_file, tmp_path):
    result = run("docs", "asyncapi", "--spec", rental_file, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert list(official.iter_errors(doc)) == [] and "NoCarLeft" in doc["channels"]
    out = tmp_path / "a.yaml"
    assert run("docs", "asyncapi", "--design", rental_file, "--out", out).exit_code == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == asyncapi_document(str(rental_file))


def test_event_tones_come_from_the_roles(rental_file):
    from sagaspec.docs.traces import tone_of

    design = load_spec(rental_file).design()
    tones = {e: tone_of(e, design) for e in design.events}
    assert tones == {
        "RentalRequested": "forward", "CarReserved": "forward", "NoCarLeft": "failure",
        "CarReleased": "compensation", "RentalConfirmed": "outcome", "RentalCancelled": "compensation",
    }


def test_docs_code_names_no_event_of_the_order_saga():
    # An event name in the docs' code would make other sagas second-class: every event's
    # role comes from the spec. (Docstrings may use the order saga as their example.)
    import ast

    for path in (ROOT / "sagaspec" / "docs").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
        }
        named = [
            node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and re.search(r"\b(Order|Payment|Inventory|Notification)[A-Z]\w*|\borderId\b", node.value)
        ]
        assert named == [], (path.name, named)


def test_a_saga_without_common_fields(official, tmp_path):
    path = tmp_path / "bare.saga.yaml"
    path.write_text(RENTAL.replace('common:\n  rentalRef: {$ref: "#/types/Ref", description: The rental.}\n', ""),
                    encoding="utf-8")
    spec = load_spec(path)
    assert spec.common == ()
    for mode in ("binary", "structured"):
        doc = asyncapi_document(str(path), content_mode=mode)
        assert [e.message for e in official.iter_errors(doc)] == []
    headers = asyncapi_document(str(path))["components"]["messages"]["CarReserved"]["headers"]["schema"]
    assert "ce-subject" not in headers["properties"] and "ce-subject" not in headers["required"]
    site = build_site(str(path), verify=False)
    page = site.rendered()["events/CarReserved.md"]
    assert "Example 1: saga `saga-1`." in page and "| `subject` |" not in page
    assert site.rendered()["README.md"].startswith("# Saga: rental\n")
    assert asyncapi_document(str(path))["info"]["title"] == "Saga choreography (rental)"
