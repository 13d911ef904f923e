"""HTML reports of `sagaspec check` and `sagaspec conform` results."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from sagaspec.docs.reports import (
    ConformRun,
    check_report_html,
    conform_report_html,
    failure_diagram,
)
from sagaspec.docs.traces import BUS, step_changes
from sagaspec.errors import InputError

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def seed_result():
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    return explore(saga_system("seed", orders=1))


def _svgs(html: str) -> dict[str, ET.Element]:
    out = {}
    for m in re.finditer(r"<svg .*?</svg>", html, re.S):
        root = ET.fromstring(m.group())
        out[root.get("data-diagram")] = root
    return out


def _messages(svg: ET.Element) -> list[tuple[str, str, str]]:
    ns = "{http://www.w3.org/2000/svg}"
    return [
        (g.get("data-src"), g.get("data-dst"), g.get("data-label"))
        for g in svg.iter(ns + "g") if "ss-message" in (g.get("class") or "")
    ]


def test_check_report_shows_each_violation_with_trace_and_diffs(seed_result, tmp_path):
    assert seed_result.violations, "the seed design must have counterexamples"
    html = check_report_html(seed_result, tmp_path / "r.html").read_text()
    assert "<script" not in html and 'rel="stylesheet"' not in html and "<style>" in html
    assert "VIOLATED" in html
    svgs = _svgs(html)
    for v in seed_result.violations:
        assert f"{v.property} ({v.kind})" in html
        svg = svgs[f"check-{v.property}"]
        deliveries = [(a.participant, a.msg.type) for a in v.shrunk_path.actions if a.msg is not None]
        assert [(dst, label) for src, dst, label in _messages(svg) if src == BUS] == deliveries
        assert v.shrunk_path.encode() in html
        # One table row per changed part of the state at each step.
        rows = len(step_changes(v.shrunk_path))
        section = html.split(f'id="check-{v.property}-diff"')[1].split("</table></div>", 2)[1]
        assert section.count("<tr>") == rows + 1
    for p in seed_result.system.properties:
        assert p.name in html


def test_check_report_of_a_passing_run_has_witnesses_and_optional_timing(tmp_path):
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    result = explore(saga_system("corrected", orders=1))
    html = check_report_html(result, tmp_path / "ok.html").read_text()
    assert "ALL HOLD" in html and 'id="check-violations"' not in html
    assert "states/s" in html
    assert set(result.witnesses) and all(f"check-witness-{w}" in html for w in result.witnesses)
    quiet = check_report_html(result, tmp_path / "q.html", timing=False).read_text()
    assert "states/s" not in quiet


def test_conform_report_shows_each_failure_as_a_sequence(mutant_run, tmp_path):
    run = ConformRun.from_events(mutant_run)
    assert run.failures and run.finished is not None
    html = conform_report_html(mutant_run, tmp_path / "c.html").read_text()
    assert "FAILED" in html and "single-charge" in html
    svgs = _svgs(html)
    for k, fail in enumerate(run.failures, start=1):
        svg = [s for key, s in svgs.items() if key.startswith(f"failure-{k}-")][0]
        heads = [g.get("data-participant") for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("data-participant")]
        assert heads[0] == "suite" and heads[-2:] == ["payment", "bus"]
        published = [p["eventType"] for st in fail.steps for p in st.get("published", ())]
        assert [label for src, dst, label in _messages(svg) if dst == "bus"] == published
        ids = [i for line in fail.exchanged for i in re.findall(r"evt-[\w-]+", line)]
        assert ids and all(f"<code>{i}</code>" in html for i in ids)  # the exchanged table
    for c in run.finished.checks:
        assert c.name in html


def test_conform_report_from_the_final_event_only(mutant_run, tmp_path):
    html = conform_report_html(mutant_run[-1], tmp_path / "f.html").read_text()
    assert "Checks" in html and 'id="failures"' not in html


def test_failure_diagram_marks_the_service_under_test(mutant_run):
    fail = ConformRun.from_events(mutant_run).failures[0]
    d = failure_diagram(fail, key="x")
    assert [p.title for p in d.lifelines if p.id == "payment"] == ["payment (under test)"]
    assert "sequenceDiagram" in d.to_mermaid()


def test_bad_report_input_is_a_clear_error(tmp_path, seed_result):
    with pytest.raises(InputError, match="expected the run's engine events"):
        conform_report_html(42, tmp_path / "x.html")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write report"):
        check_report_html(seed_result, blocker / "r.html")


def test_conform_report_shows_no_broker_password(mutant_run, tmp_path):
    """A report is shared: the adapter's password shows as ***, wherever the adapter is named."""
    import dataclasses

    from sagaspec.conformance.events import RunStarted

    url = "amqp://guest:s3cret-pw@127.0.0.1:5672/"
    events = [dataclasses.replace(e, adapter=url) if isinstance(e, RunStarted) else e for e in mutant_run]
    assert any(isinstance(e, RunStarted) for e in events)
    html = conform_report_html(events, tmp_path / "p.html").read_text()
    assert "amqp://guest:***@127.0.0.1:5672/" in html and "s3cret-pw" not in html
