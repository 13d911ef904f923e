"""What a new user reads in the docs and reports: names keep their case, sentences start
upper-case, bounds read as words, the sidebar breaks names between words, reports put the
verdict first and name what they tested, replay commands are whole and wrap."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sagaspec.spec.designs import DESIGNS

from sagaspec.cli import main
from sagaspec.docs.asyncapi import asyncapi_document
from sagaspec.docs.document import Page, Para
from sagaspec.docs.htmlpage import render_html
from sagaspec.docs.reports import check_report_html, setting_text

pytestmark = pytest.mark.timeout(300)


def test_asyncapi_summaries_keep_event_names_and_read_as_sentences():
    for name in ("corrected", "seed"):
        doc = asyncapi_document(DESIGNS[name])
        events = set(doc["channels"])
        for op in doc["operations"].values():
            summary = op["summary"]
            assert summary[:1].isupper() and summary.endswith("."), summary
            for event in events:
                assert event.lower() not in summary or event in summary, (event, summary)
            # after a full stop, a sentence starts upper-case
            assert not re.search(r"\. [a-z]", summary), summary
    receive = asyncapi_document(DESIGNS["corrected"])["operations"]["order.receive.PaymentFailed"]["summary"]
    assert "OrderCancelled" in receive, receive


def test_settings_read_as_words():
    assert setting_text(True) == "yes" and setting_text(False) == "no"
    assert setting_text(None) == setting_text([]) == setting_text("") == "none"
    assert setting_text({"stock": 1, "declines": True}) == "stock=1, declines=yes"


def test_sidebar_breaks_event_names_between_words_only():
    html = render_html(Page("index", "Demo", (Para(("x",)),)),
                       nav=(("Events", (("events/InventoryReservationFailed", "InventoryReservationFailed"),)),))
    assert ">Inventory<wbr>Reservation<wbr>Failed</a>" in html
    css = html.split("<style>", 1)[1] if "<style>" in html else ""
    from importlib.resources import files

    style = files("sagaspec.docs").joinpath("assets/style.css").read_text()
    nav_rule = next(line for line in style.splitlines() if line.startswith("nav li a {"))
    assert "anywhere" not in nav_rule and "overflow-wrap: normal" in nav_rule
    del css


@pytest.fixture(scope="module")
def seed_result():
    from sagaspec.model.explore import explore
    from sagaspec.model.saga import saga_system

    return explore(saga_system("seed", orders=2))


def test_check_report_puts_the_verdict_and_violations_before_the_tables(seed_result, tmp_path):
    html = check_report_html(seed_result, tmp_path / "r.html").read_text()
    verdict = html.index("VIOLATED")
    violations = html.index('id="check-violations"')
    bounds = html.index('id="check-bounds"')
    stats = html.index('id="check-statistics"')
    assert verdict < violations < bounds < stats
    assert "<code>True</code>" not in html and "<code>False</code>" not in html
    assert "<code></code>" not in html


def test_check_report_replay_line_is_a_command_that_replays(seed_result, tmp_path):
    html = check_report_html(seed_result, tmp_path / "r.html").read_text()
    commands = re.findall(r"Replay it: <code>(.*?)</code>", html)
    assert len(commands) == len(seed_result.violations)
    import html as html_lib
    import shlex

    for cmd in commands:
        argv = shlex.split(html_lib.unescape(cmd))
        assert argv[:4] == ["sagaspec", "check", "--design", "seed"] and "--replay" in argv
        r = CliRunner().invoke(main, argv[1:])
        assert r.exit_code == 1, r.output
        assert "reproduced" in r.stdout
    from importlib.resources import files

    style = files("sagaspec.docs").joinpath("assets/style.css").read_text()
    assert "p code { overflow-wrap: anywhere; }" in style
    assert "td code" not in style  # table cells keep names whole


def test_conform_report_names_the_target_and_the_mutant(tmp_path):
    import html as html_lib

    report = tmp_path / "c.html"
    r = CliRunner().invoke(main, ["conform", "--participant", "payment", "--mutant", "refund-without-charge",
                                  "-n", "60", "--seed", "3", "--no-coverage", "--report", str(report),
                                  "--no-shrink", "--failures-dir", str(tmp_path / "f")])
    assert r.exit_code == 1, r.output
    text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", report.read_text())).split())
    assert "FAILED payment of the corrected design (mutant refund-without-charge) via inprocess:" in text
    assert "mutant refund-without-charge" in text


def test_verification_page_explains_symmetry_counts():
    from sagaspec.docs.site import VERIFY_RUNS, _verification_page, _verify

    d = DESIGNS["corrected"]
    page = _verification_page(d, _verify(d, VERIFY_RUNS[:1]))
    text = repr(page.blocks)
    assert "symmetry reduction off" in text and "sagaspec check --no-symmetry" in text


def test_conform_report_explains_coverage(tmp_path):
    import html as html_lib

    report = tmp_path / "c.html"
    r = CliRunner().invoke(main, ["conform", "--participant", "payment", "-n", "5", "--seed", "1",
                                  "--report", str(report), "--failures-dir", str(tmp_path / "f")])
    assert r.exit_code == 0, r.output
    text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", report.read_text())).split())
    assert "that some test case drove the service through" in text
    assert "sagaspec conform --cover-edges drives the service along paths that cover every edge" in text


def test_flows_replay_lines_are_commands_that_replay(tmp_path):
    import html as html_lib
    import shlex

    from sagaspec.docs.site import build_site

    build_site("corrected", verify=False).write(tmp_path)
    commands = re.findall(r"Replay: <code>(.*?)</code>", (tmp_path / "flows.html").read_text())
    assert len(commands) >= 6
    for cmd in commands:
        argv = shlex.split(html_lib.unescape(cmd))
        assert argv[:2] == ["sagaspec", "check"] and "--replay" in argv
        r = CliRunner().invoke(main, argv[1:])
        assert r.exit_code == 0, (cmd, r.output)  # the flows are correct runs: no violation
        assert "the final state violates no property" in r.stdout
