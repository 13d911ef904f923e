"""Every generated page renders in headless Chromium (Debian's package): no console
errors, no failed or outgoing requests, every diagram present as SVG with the expected
participants and messages. Screenshots land in artifacts/docs/ (gitignored)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docs_browser import INSTALL_HINT, Chromium, find_chromium

from sagaspec.docs.diagrams import SequenceDiagram, StateMachine
from sagaspec.docs.diagrams import _merge_parallel as merge_parallel
from sagaspec.docs.htmlpage import html_file
from sagaspec.docs.reports import check_report_html
from sagaspec.docs.traces import BUS, step_publishes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PROBE = r"""
(() => {
  const diagrams = [...document.querySelectorAll('svg.ss-diagram')].map(svg => {
    const r = svg.getBoundingClientRect();
    const t = svg.querySelector('text');
    return {
      key: svg.dataset.diagram,
      kind: svg.classList.contains('ss-sequence') ? 'sequence' : 'state',
      width: r.width, height: r.height,
      textWidth: t ? t.getBBox().width : 0,
      participants: [...svg.querySelectorAll('[data-participant]')].map(e => e.dataset.participant),
      messages: [...svg.querySelectorAll('g.ss-message')].map(e => [e.dataset.src, e.dataset.dst, e.dataset.label]),
      states: [...svg.querySelectorAll('g.ss-state')].map(e => e.dataset.label),
      edges: [...svg.querySelectorAll('g.ss-edge')].map(e => [e.dataset.src, e.dataset.dst]),
    };
  });
  const header = document.querySelector('header');
  return {
    title: document.title,
    headerColor: header ? getComputedStyle(header).backgroundColor : null,
    scripts: document.scripts.length,
    diagrams,
  };
})()
"""

HEADER = "rgb(15, 23, 42)"  # the stylesheet's header colour: proves the CSS loaded


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            # CI must run the browser tests: a missing browser is a failure, not a skip.
            pytest.fail(f"CI is set but chromium is not installed: {INSTALL_HINT}", pytrace=False)
        pytest.skip(f"chromium is not installed (local run, CI not set): {INSTALL_HINT}")
    with Chromium(binary) as chromium:
        yield chromium


def _expected(diagram):
    if isinstance(diagram, SequenceDiagram):
        return {
            "kind": "sequence",
            "participants": [p.id for p in diagram.lifelines],
            "messages": [[m.src, m.dst, m.label] for m in diagram.messages],
        }
    assert isinstance(diagram, StateMachine)
    return {
        "kind": "state",
        "states": [s.label for s in diagram.states],
        "edges": [[e.src, e.dst] for e in merge_parallel(diagram.transitions)],
    }


def _check_page(result, figures, name):
    assert result.problems == [], f"{name}: {result.problems}"
    value = result.value
    assert value["headerColor"] == HEADER, f"{name}: stylesheet not applied"
    assert value["scripts"] == 0, f"{name}: pages must not need JavaScript"
    rendered = {d["key"]: d for d in value["diagrams"]}
    assert len(rendered) == len(value["diagrams"]), f"{name}: duplicate diagram keys"
    assert set(rendered) == {f.diagram.key for f in figures}, name
    for fig in figures:
        got = rendered[fig.diagram.key]
        assert got["width"] > 100 and got["height"] > 50, f"{name}: {fig.diagram.key} not laid out"
        assert got["textWidth"] > 0, f"{name}: {fig.diagram.key} text not rendered"
        want = _expected(fig.diagram)
        for k, v in want.items():
            assert got[k] == v, f"{name}: {fig.diagram.key}: {k}"
    return rendered


@pytest.mark.parametrize("design", ["corrected", "seed"])
def test_every_page_renders_without_errors(browser, serve, design, request):
    site, folder = request.getfixturevalue(f"{design}_site")
    base = serve(folder)
    ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "docs"

    seen_diagrams = 0
    for page in site.pages:
        shot = ARTIFACTS / design / (page.id.replace("/", "_") + ".png")
        result = browser.load(base + html_file(page.id), PROBE, shot)
        rendered = _check_page(result, page.figures(), f"{design}:{page.id}")
        seen_diagrams += len(rendered)
        assert shot.stat().st_size > 10_000
    assert seen_diagrams >= 8


def test_flow_diagrams_show_the_model_trace(browser, serve, corrected_site):
    """Independent of the diagram objects: the rendered arrows are the model path."""
    site, folder = corrected_site
    from sagaspec.docs.flows import explore_one_saga

    mv = explore_one_saga("corrected")
    result = browser.load(serve(folder) + "flows.html", PROBE)
    assert result.problems == []
    rendered = {d["key"]: d for d in result.value["diagrams"]}
    assert len(mv.flows) == 6
    for flow in mv.flows:
        got = rendered[f"flow-{flow.key}"]
        assert set(got["participants"]) == {"order", "payment", "inventory", "notification", BUS}
        publishes = [
            m.type for i in range(1, len(flow.path) + 1) for m in step_publishes(flow.path, i)[0]
        ]
        into_bus = [label for _src, dst, label in got["messages"] if dst == BUS]
        assert into_bus == publishes
        deliveries = [(a.participant, a.msg.type) for a in flow.path.actions if a.msg is not None]
        out_of_bus = [(dst, label) for src, dst, label in got["messages"] if src == BUS]
        assert out_of_bus == deliveries
    happy = rendered["flow-happy-path-order-completed"]
    assert [label for _s, dst, label in happy["messages"] if dst == BUS] == [
        "OrderCreated", "PaymentProcessed", "InventoryReserved", "OrderCompleted", "NotificationSent",
    ]


def test_check_report_renders(browser, serve, tmp_path):
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    result = explore(saga_system("seed", orders=1))
    out = check_report_html(result, tmp_path / "check.html")
    loaded = browser.load(serve(tmp_path) + "check.html", PROBE, tmp_path / "check.png")
    assert loaded.problems == []
    ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "docs"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "check-report-seed.png").write_bytes((tmp_path / "check.png").read_bytes())
    assert loaded.value["headerColor"] == HEADER  # inlined stylesheet
    keys = {d["key"]: d for d in loaded.value["diagrams"]}
    for v in result.violations:
        got = keys[f"check-{v.property}"]
        wanted = [(a.participant, a.msg.type) for a in v.shrunk_path.actions if a.msg is not None]
        assert [(dst, label) for src, dst, label in got["messages"] if src == BUS] == wanted
    assert out.read_text().count("<svg") >= len(result.violations)


def test_the_harness_sees_console_errors_and_missing_files(browser, serve, tmp_path):
    """The checks above are not vacuous: a broken page is reported."""
    (tmp_path / "bad.html").write_text(
        '<!doctype html><html><head><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="missing.css"></head><body>'
        '<script>console.error("boom"); throw new Error("bad")</script></body></html>'
    )
    base = serve(tmp_path)
    result = browser.load(base + "bad.html", PROBE)
    text = "\n".join(result.problems)
    assert "console.error: boom" in text
    assert "exception" in text
    assert "HTTP 404" in text and "missing.css" in text
    assert result.value["scripts"] == 1 and result.value["diagrams"] == []
    # Pages share one tab: the broken page's problems are not reported for the next one.
    (tmp_path / "ok.html").write_text('<!doctype html><html><head><link rel="icon" href="data:,"></head></html>')
    assert browser.load(base + "ok.html", PROBE).problems == []


def test_conform_report_renders(browser, serve, tmp_path, mutant_run):
    ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "docs"

    from sagaspec.docs.reports import ConformRun, conform_report_html

    conform_report_html(mutant_run, tmp_path / "conform.html")
    shot = ARTIFACTS / "conform-report-mutant.png"
    loaded = browser.load(serve(tmp_path) + "conform.html", PROBE, shot)
    assert loaded.problems == []
    assert loaded.value["headerColor"] == HEADER
    failures = ConformRun.from_events(mutant_run).failures
    rendered = [d for d in loaded.value["diagrams"] if d["key"].startswith("failure-")]
    assert len(rendered) == len(failures)
    for got, fail in zip(rendered, failures, strict=True):
        assert got["width"] > 100 and got["textWidth"] > 0
        assert got["participants"][-2:] == [fail.sut, BUS]
        published = [p["eventType"] for st in fail.steps for p in st.get("published", ())]
        assert [label for _s, dst, label in got["messages"] if dst == BUS] == published


def test_every_mermaid_source_parses_with_mermaid(browser, serve, tmp_path, corrected_site, seed_site, mutant_run):
    """The Markdown copy shows Mermaid (GitHub renders it): every source must parse with
    the real Mermaid parser (vendored from npm, tests only; see tests/docs/data/README.md)."""
    import json
    import shutil
    from pathlib import Path

    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    from sagaspec.docs.reports import ConformRun, failure_diagram
    from sagaspec.docs.traces import path_diagram

    shutil.copy(Path(__file__).parent / "data" / "mermaid" / "mermaid.min.js", tmp_path / "mermaid.js")
    (tmp_path / "parse.html").write_text(
        '<!doctype html><html><head><link rel="icon" href="data:,">'
        '<script src="mermaid.js"></script></head><body></body></html>'
    )
    sources = []
    for site, _folder in (corrected_site, seed_site):
        for page in site.pages:
            sources += [(f"{site.design.name}:{f.diagram.key}", f.diagram.to_mermaid()) for f in page.figures()]
    for v in explore(saga_system("seed", orders=2)).violations:
        sources.append((v.property, path_diagram(v.shrunk_path, design=None).to_mermaid()))
    for k, fail in enumerate(ConformRun.from_events(mutant_run).failures):
        sources.append((f"failure-{k}", failure_diagram(fail, key=f"f{k}").to_mermaid()))
    sources.append(("deliberately broken", "sequenceDiagram\n    a->>b: x; y"))
    script = (
        "(async () => { mermaid.initialize({startOnLoad: false}); const bad = [];"
        f" for (const [k, t] of {json.dumps(sources)}) {{"
        " try { await mermaid.parse(t); } catch (e) { bad.push(k + ': ' + String(e.message || e)); } }"
        " return bad; })()"
    )
    result = browser.load(serve(tmp_path) + "parse.html", "1")
    assert result.problems == []
    tab = browser._tab()
    value = tab.call("Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True},
                     timeout=120)["result"]["value"]
    assert len(value) == 1 and value[0].startswith("deliberately broken: Parse error"), value
    assert len(sources) > 30


LAYOUT = r"""
(() => {
  const lines = node => {  // how many line boxes a text node is laid out on
    const range = document.createRange();
    range.selectNodeContents(node);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  };
  const texts = el => {
    const out = [];
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) if (walk.currentNode.textContent.trim()) out.push(walk.currentNode);
    return out;
  };
  const split = [];
  for (const a of document.querySelectorAll('nav li a'))
    for (const t of texts(a)) if (lines(t) > 1) split.push(t.textContent);
  for (const c of document.querySelectorAll('td code'))
    if (!/\s/.test(c.textContent) && lines(c.firstChild) > 1) split.push(c.textContent);
  const main = document.querySelector('main').getBoundingClientRect();
  const overflowing = [...document.querySelectorAll('p code')]
    .filter(c => c.getBoundingClientRect().right > main.right + 1).map(c => c.textContent.slice(0, 60));
  const wbr = document.querySelectorAll('nav li a wbr').length;
  return {split, overflowing, wbr};
})()
"""


def test_names_are_not_split_mid_word_and_long_commands_stay_on_the_page(browser, serve, corrected_site, tmp_path):
    """The sidebar breaks CamelCase event names only between words, table cells keep event
    names whole, and a report's long replay command wraps inside the page."""
    site, folder = corrected_site
    base = serve(folder)
    for page in ("services/payment", "events/InventoryReservationFailed"):
        got = browser.load(base + html_file(page), LAYOUT)
        assert got.problems == []
        assert got.value["split"] == [], page
        assert got.value["wbr"] > 0
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    check_report_html(explore(saga_system("seed", orders=2)), tmp_path / "check.html")
    shot = tmp_path / "check.png"
    report = browser.load(serve(tmp_path) + "check.html", LAYOUT, shot)
    assert report.problems == []
    assert report.value["overflowing"] == []
    assert shot.stat().st_size > 10_000


CROSSINGS = r"""
(() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.ss-statemachine')) {
    // Each edge sampled once (201 points along its path), not once per label box.
    const edges = [...svg.querySelectorAll('g.ss-edge')].map(g => {
      const path = g.querySelector('path');
      const len = path.getTotalLength();
      const points = [];
      for (let k = 0; k <= 200; k++) points.push(path.getPointAtLength(len * k / 200));
      return {key: g.dataset.src + '->' + g.dataset.dst, points};
    });
    for (const box of svg.querySelectorAll('g.ss-label-box')) {
      const r = box.querySelector('rect').getBBox();
      const own = box.dataset.edge;
      for (const e of edges) {
        if (e.key === own) continue;
        if (e.points.some(p => p.x > r.x + 1 && p.x < r.x + r.width - 1 && p.y > r.y + 1 && p.y < r.y + r.height - 1))
          out.push(svg.dataset.diagram + ': edge ' + e.key + ' crosses the label of ' + own);
      }
    }
  }
  return {crossings: out, machines: document.querySelectorAll('svg.ss-statemachine').length,
          labels: document.querySelectorAll('g.ss-label-box').length};
})()
"""


@pytest.mark.parametrize("design", ["corrected", "seed"])
def test_state_machine_edges_do_not_cross_other_edges_labels(browser, serve, design, request):
    site, folder = request.getfixturevalue(f"{design}_site")
    base = serve(folder)
    labels = 0
    for service in ("order", "payment", "inventory", "notification"):
        got = browser.load(base + html_file(f"services/{service}"), CROSSINGS)
        assert got.problems == []
        assert got.value["machines"] == 1, service
        assert got.value["crossings"] == [], (design, service)
        labels += got.value["labels"]
    assert labels >= 10
