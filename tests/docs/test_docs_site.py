"""The generated site: complete, linked, offline, and derived from the spec and model."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest
import yaml
from sagaspec.spec.designs import get_design
from sagaspec.spec.schemas import schema_for

from sagaspec.docs.flows import explore_one_saga
from sagaspec.docs.htmlpage import html_file
from sagaspec.docs.markdown import md_file
from sagaspec.docs.site import MANIFEST, build_site

pytestmark = pytest.mark.timeout(300)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.refs.append((k, v))
            if k == "id" and v:
                self.ids.add(v)


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text("utf-8"))
    return p


@pytest.mark.parametrize("design", ["corrected", "seed"])
def test_every_page_exists_in_both_formats(design, request):
    site, folder = request.getfixturevalue(f"{design}_site")
    d = get_design(design)
    ids = {p.id for p in site.pages}
    assert {"index", "flows", "verification", "asyncapi"} <= ids
    assert {f"services/{s}" for s in d.service_names} <= ids
    assert {f"events/{e}" for e in d.events} <= ids
    for pid in ids:
        assert (folder / html_file(pid)).is_file()
        assert (folder / md_file(pid)).is_file()
    written = set((folder / MANIFEST).read_text().split())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    assert written == on_disk


@pytest.mark.parametrize("design", ["corrected", "seed"])
def test_html_links_resolve_and_nothing_is_remote(design, request):
    _site, folder = request.getfixturevalue(f"{design}_site")
    parsed = {p: _parse(p) for p in folder.rglob("*.html")}
    for page, links in parsed.items():
        assert "script" not in links.tags, page
        for attr, ref in links.refs:
            assert "://" not in ref, f"{page}: remote {attr} {ref}"
            if ref.startswith("data:"):
                continue
            target, anchor = urldefrag(ref)
            dest = (page.parent / target).resolve() if target else page
            if target.endswith("/"):
                assert dest.is_dir() and any(dest.iterdir()), f"{page}: {ref}"
                continue
            assert dest.is_file(), f"{page}: broken link {ref}"
            if anchor and dest.suffix == ".html":
                assert anchor in parsed[dest].ids, f"{page}: no #{anchor} in {target or 'itself'}"


@pytest.mark.parametrize("design", ["corrected", "seed"])
def test_markdown_links_resolve(design, request):
    _site, folder = request.getfixturevalue(f"{design}_site")
    for md in folder.rglob("*.md"):
        text = md.read_text("utf-8")
        for ref in re.findall(r"\]\(([^)\s]+)\)", text):
            target, _anchor = urldefrag(ref)
            assert "://" not in ref
            dest = (md.parent / target).resolve() if target else md
            assert dest.exists(), f"{md}: broken link {ref}"
        # Every diagram is there as Mermaid for GitHub, with a standalone SVG beside it.
        for svg in re.findall(r"\[SVG\]\(([^)]+)\)", text):
            assert (md.parent / svg).read_text().startswith("<svg")
        assert text.count("```mermaid") == len(re.findall(r"\[SVG\]\(", text))


def test_event_pages_document_every_schema_field(corrected_site):
    site, folder = corrected_site
    for event in get_design("corrected").events:
        html = (folder / f"events/{event}.html").read_text("utf-8")
        md = (folder / f"events/{event}.md").read_text("utf-8")
        schema = schema_for(event)
        for name, prop in schema["properties"].items():
            assert f"<code>{name}</code>" in html, (event, name)
            assert prop["description"].split(";")[0] in md.replace("\\", ""), (event, name)
        # Schema files are copied byte for byte and linked from the page.
        for draft in ("2020-12", "draft-07"):
            copied = json.loads((folder / f"schemas/{draft}/{event}.json").read_text())
            assert copied == schema_for(event, draft)
            assert f"../schemas/{draft}/{event}.json" in html
        # CloudEvents attributes and who publishes / consumes.
        assert "dev.sagaspec." + event + ".v1" in html
        for svc in get_design("corrected").publishers(event) + get_design("corrected").subscribers(event):
            assert f'href="../services/{svc}.html"' in html


def test_service_pages_show_the_model_state_machine(corrected_site):
    site, _folder = corrected_site
    mv = explore_one_saga("corrected")
    pages = {p.id: p for p in site.pages}
    for svc in get_design("corrected").service_names:
        figs = pages[f"services/{svc}"].figures()
        assert len(figs) == 1
        machine = figs[0].diagram
        statuses = {t.src for t in mv.transitions[svc]} | {t.dst for t in mv.transitions[svc]}
        assert {s.label for s in machine.states} == statuses | {mv.initial[svc]}
    payment = pages["services/payment"].figures()[0].diagram
    labels = {s.label for s in payment.states}
    # The corrected design's payment: charged then refunded, or a remembered cancellation.
    assert labels == {"none", "charged", "declined", "refunded", "cancelled"}
    assert any(t.label == "OrderCancelled / PaymentRefunded" for t in payment.transitions)
    assert any(t.label == "ignore (payment declined): OrderCancelled" for t in payment.transitions)


#: The flows the model yields for one saga; pinned so a model change is noticed.
CORRECTED_FLOWS = [
    ("happy", "Happy path: order completed"),
    ("compensation", "InventoryReservationFailed → OrderCancelled → PaymentRefunded"),
    ("compensation", "PaymentFailed + InventoryReservationFailed → OrderCancelled"),
    ("compensation", "PaymentFailed → OrderCancelled → InventoryReleased"),
    ("compensation", "InventoryReservationFailed → OrderCancelled (OrderCancelled overtakes OrderCreated at payment)"),
    ("compensation", "PaymentFailed → OrderCancelled (OrderCancelled overtakes OrderCreated at inventory)"),
]


def test_flows_are_the_model_s_end_states():
    mv = explore_one_saga("corrected")
    assert [(f.kind, f.title) for f in mv.flows] == CORRECTED_FLOWS
    for f in mv.flows:
        final = f.path.final
        assert final.quiescent
        assert f.diagram.key == f"flow-{f.key}"
    seed = explore_one_saga("seed")
    stuck = [f for f in seed.flows if f.kind == "stuck"]
    assert [f.title for f in stuck] == ["PaymentFailed: saga stuck, no outcome"]
    # The seed's hole is drawn: PaymentFailed is published and nobody receives it.
    labels = [(m.src, m.dst, m.label) for m in stuck[0].diagram.messages]
    assert ("payment", "bus", "PaymentFailed") in labels
    assert not any(dst != "bus" and label == "PaymentFailed" for _s, dst, label in labels)


def test_index_shows_the_verdict_with_its_bounds(corrected_site, seed_site):
    html = (corrected_site[1] / "index.html").read_text("utf-8")
    assert "ALL PROPERTIES HOLD" in html
    for prop in ("single-charge", "saga-terminates", "some-compensation-runs"):
        assert prop in html
    assert "2 orders, at-least-once bus" in html and "14,654" in html
    seed = (seed_site[1] / "index.html").read_text("utf-8")
    assert "VIOLATIONS FOUND" in seed
    ver = (seed_site[1] / "verification.md").read_text("utf-8")
    assert "saga-terminates (stuck)" in ver and "```mermaid" in ver


def test_asyncapi_files_are_written(corrected_site):
    _site, folder = corrected_site
    doc = yaml.safe_load((folder / "asyncapi.yaml").read_text())
    assert doc == json.loads((folder / "asyncapi.json").read_text())
    assert doc["asyncapi"] == "3.0.0"


def test_rewriting_removes_files_no_longer_generated_and_only_those(tmp_path):
    site = build_site("corrected", model=False, verify=False)
    site.write(tmp_path)
    stale = tmp_path / "diagrams" / "flow-old.svg"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("<svg/>")
    manifest = tmp_path / MANIFEST
    manifest.write_text(manifest.read_text() + "diagrams/flow-old.svg\n")
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    site.write(tmp_path)
    assert not stale.exists()
    assert mine.read_text() == "keep me"
    # Without the model the pages say so instead of failing.
    assert "Not available" in (tmp_path / "flows.html").read_text()
