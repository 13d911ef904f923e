"""Single-file HTML reports for ``sagaspec check`` and ``sagaspec conform``.

A report is one self-contained HTML file (stylesheet inlined, diagrams as inline SVG,
no JavaScript), so it can be attached to a CI run or mailed around and opened offline.

* :func:`check_report_html` — a model-checking result: verdict, bounds, statistics,
  every property's verdict, and for each violation its trace as a sequence diagram plus
  the state changes at each step (and the witnesses of the ``sometimes`` properties).
* :func:`conform_report_html` — a conformance run: summary, each failure's shrunk
  sequence as a sequence diagram of the exchanged messages, and model-transition coverage.

The same blocks build the docs site's verification page (:func:`check_blocks`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from sagaspec.docs.diagrams import Lifeline, Message, Note, SequenceDiagram
from sagaspec.docs.document import (
    Badge,
    Block,
    BulletList,
    Code,
    CodeBlock,
    Details,
    Figure,
    Heading,
    Inline,
    Page,
    Para,
    Table,
)
from sagaspec.docs.htmlpage import render_html, stylesheet_text
from sagaspec.docs.svg import slug
from sagaspec.docs.traces import path_diagram, step_changes, tone_of
from sagaspec.errors import InputError
from sagaspec.spec.designs import DESIGNS, Design

__all__ = [
    "check_blocks",
    "check_report_html",
    "ConformRun",
    "HtmlConformReport",
    "conform_blocks",
    "conform_report_html",
    "failure_diagram",
    "write_report",
]

_VERDICT_TONE = {"held": "ok", "violated": "bad", "vacuous": "warn", "unknown": "warn"}


def _design_of(system: Any) -> Design | None:
    name = (getattr(system, "meta", None) or {}).get("design")
    return DESIGNS.get(name) if isinstance(name, str) else None


def _fmt_int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def setting_text(value: Any) -> str:
    """A bound or setting as people read it: yes/no, none, ``k=v`` lists (never a Python repr).

    >>> setting_text(True), setting_text(None), setting_text([]), setting_text({"stock": 1, "declines": False})
    ('yes', 'none', 'none', 'stock=1, declines=no')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "" or (isinstance(value, list | tuple | dict) and not value):
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={setting_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(setting_text(v) for v in value)
    return str(value)


def bounds_rows(result: Any) -> list[tuple[str, str]]:
    """(setting, value) rows: the system's own bounds, then the run's configuration."""
    rows = [("system", result.system.name)]
    meta = getattr(result.system, "meta", None) or {}
    for k, v in meta.items():
        if k == "design":
            continue
        rows.append((k, setting_text(v)))
    if "orders" not in meta:
        rows.append(("sagas", str(result.system.sagas)))
    for k, v in result.config.to_dict().items():
        rows.append((k.replace("_", " "), setting_text(v)))
    return rows


def replay_command(result: Any, token: str) -> str:  # a CheckResult or a Path: .system, .config
    """The ``sagaspec check ... --replay ssp1:...`` command that re-executes ``token``."""
    meta = getattr(result.system, "meta", None) or {}
    if "design" not in meta:
        return f"sagaspec check --model MODULE:NAME --replay {token}  (with this run's --bus and budgets)"
    from sagaspec.cli.check import reproduce_command

    opts = {"design": meta["design"], "meta": meta, "config": result.config, "model": None}
    return reproduce_command(opts, replay=token)


def _verdict_line(result: Any) -> tuple:
    props = result.system.properties
    held = sum(1 for p in props if result.verdicts.get(p.name) == "held")
    if result.violations:
        return (
            Badge("VIOLATED", "bad"),
            f" {len(result.violations)} of {len(props)} properties violated"
            f" ({held} held).",
        )
    if not result.exhaustive:
        return (
            Badge("NO VIOLATION FOUND", "warn"),
            f" random simulation ({result.stats.walks:,} walks): not a proof.",
        )
    if not result.complete:
        return (
            Badge("INCOMPLETE", "warn"),
            " the run stopped before visiting every state"
            + (" (interrupted)" if result.interrupted else "")
            + (" (out of memory)" if getattr(result, "out_of_memory", False) else "")
            + (" (a depth or state bound cut the search)" if result.truncated else "") + ".",
        )
    if result.ok:
        return (Badge("ALL HOLD", "ok"), f" all {len(props)} properties hold within these bounds (exhaustive).")
    vac = [p.name for p in props if result.verdicts.get(p.name) == "vacuous"]
    return (Badge("VACUOUS", "warn"), " never reached: " + ", ".join(vac) + ".")


def check_blocks(
    result: Any,
    *,
    design: Design | None = None,
    level: int = 2,
    timing: bool = True,
    key: str = "check",
    witnesses: bool = True,
) -> list[Block]:
    """Report blocks for a :class:`~sagaspec.model.explore.CheckResult`.

    ``timing=False`` leaves out wall-clock figures (seconds, states/s, memory) so the
    output is reproducible (the docs site is a golden file).
    """
    design = design or _design_of(result.system)
    s = result.stats
    h = level
    blocks: list[Block] = [Para(_verdict_line(result))]
    blocks.append(Heading(h, "Properties", f"{key}-properties"))
    rows = []
    for p in result.system.properties:
        verdict = result.verdicts.get(p.name, "unknown")
        rows.append(
            ((Code(p.name),), (p.kind,), (Badge(verdict, _VERDICT_TONE.get(verdict, "info")),),
             (p.description,))
        )
    blocks.append(Table(("Property", "Kind", "Verdict", "Meaning"), tuple(rows)))
    if result.violations:
        blocks.append(Heading(h, "Violations", f"{key}-violations"))
    for v in result.violations:
        vkey = f"{key}-{slug(v.property)}"
        blocks.append(Heading(h + 1, f"{v.property} ({v.kind})", vkey))
        blocks.append(Para((v.message + ".",) + ((" " + v.description,) if v.description else ())))
        shown = v.shrunk_path
        note = (
            f"Shortest trace, {len(shown)} steps"
            if len(shown) == len(v.path)
            else f"Shrunk trace, {len(shown)} steps (the shortest path found by the search has {len(v.path)})"
        )
        blocks.append(
            Figure(
                path_diagram(shown, title=f"{v.property}: counterexample", design=design, key=vkey),
                (note + ". Hover an arrow for the model step.",),
            )
        )
        blocks.extend(_diff_blocks(shown, h + 2, vkey))
        blocks.append(Para(("Replay it: ", Code(replay_command(result, shown.encode())))))
    if witnesses and getattr(result, "witnesses", None):
        blocks.append(Heading(h, "Witnesses", f"{key}-witnesses"))
        blocks.append(
            Para(("Shortest executions where each ", Code("sometimes"), " property holds: the model is not vacuous.",))
        )
        for name, wpath in result.witnesses.items():
            wkey = f"{key}-witness-{slug(name)}"
            blocks.append(
                Details(
                    f"{name}: {len(wpath)} steps",
                    (Figure(path_diagram(wpath, title=f"witness: {name}", design=design, key=wkey)),),
                )
            )
    # The verdict and the violations come first; the bounds and statistics behind them.
    blocks.append(Heading(h, "Bounds", f"{key}-bounds"))
    blocks.append(Table(("Setting", "Value"), tuple(((k,), (Code(v),)) for k, v in bounds_rows(result))))
    blocks.append(Heading(h, "Statistics", f"{key}-statistics"))
    stats = [
        ("mode", s.mode),
        ("distinct states", _fmt_int(s.states)),
        ("edges", _fmt_int(s.edges)),
        ("depth", _fmt_int(s.depth)),
        ("complete", "yes" if result.complete else "no"),
    ]
    if s.mode == "simulation":
        stats.append(("walks", _fmt_int(s.walks)))
    if timing:
        stats += [
            ("seconds", f"{s.seconds:.2f}"),
            ("states/s", f"{s.states_per_s:,.0f}"),
            ("memory", f"{s.memory_bytes / 1e6:,.1f} MB"),
            ("bytes per state", f"{s.bytes_per_state:,.0f}"),
        ]
    blocks.append(Table(("Statistic", "Value"), tuple(((k,), (v,)) for k, v in stats)))
    return blocks


def _diff_blocks(path: Any, level: int, key: str) -> list[Block]:
    rows = []
    last = None
    for r in step_changes(path):
        first = r.step != last
        rows.append(
            ((str(r.step) if first else "",), (r.action if first else "",), (Code(r.where),),
             (Code(r.before) if r.before else "",), (Code(r.after) if r.after else "",))
        )
        last = r.step
    blocks: list[Block] = [Heading(level, "State changes at each step", f"{key}-diff")]
    init = path.initial
    blocks.append(
        Table(
            ("Participant", "Initial local state"),
            tuple(((Code(n),), (Code(repr(v)),)) for n, v in init.locals.items()),
            css="diff",
        )
    )
    blocks.append(Table(("Step", "Action", "Changed", "Before", "After"), tuple(rows), css="diff"))
    final = path.final
    if final.in_flight:
        blocks.append(
            Para(("In flight at the end: ",) + tuple(
                x for dest, m in final.in_flight for x in (Code(f"{m.type}[{m.saga}] -> {dest}"), " ")
            ))
        )
    elif final.quiescent:
        blocks.append(Para(("At the end nothing is in flight and nothing is enabled (quiescent).",)))
    return blocks


def write_report(page: Page, path: str | FsPath) -> FsPath:
    """Write ``page`` as a single self-contained HTML file; returns the path."""
    out = FsPath(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            render_html(page, (), site_title="sagaspec", inline_css=stylesheet_text(), home=False),
            encoding="utf-8",
        )
    except OSError as exc:
        raise InputError(f"cannot write report {out}: {exc.strerror or exc}") from None
    return out


def check_report_html(
    result: Any, path: str | FsPath, *, title: str | None = None, timing: bool = True
) -> FsPath:
    """Write the HTML report of a model-checking result to ``path`` (one file).

    >>> from sagaspec.model.saga import saga_system
    >>> from sagaspec.model.explore import explore
    >>> import tempfile, os
    >>> out = check_report_html(explore(saga_system("seed", orders=1)), os.path.join(tempfile.mkdtemp(), "r.html"))
    >>> "saga-terminates" in out.read_text()
    True
    """
    design = _design_of(result.system)
    heading = title or f"sagaspec check: {result.system.name}"
    summary = design.title if design else (getattr(result.system, "description", "") or "")
    page = Page("check-report", heading, tuple(check_blocks(result, design=design, timing=timing)), summary=summary)
    return write_report(page, path)


# -------------------------------------------------------------------------- conformance


@dataclass
class ConformRun:
    """What a conformance report needs, gathered from the runner's engine events."""

    started: Any = None
    finished: Any = None
    failures: list[Any] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)

    @classmethod
    def from_events(cls, events: Iterable[Any]) -> ConformRun:
        """Collect ``RunStarted``, ``ExampleFinished``, ``FailureShrunk``, ``RunFinished``."""
        run = cls()
        for ev in events:
            kind = getattr(ev, "kind", None)
            if kind == "started":
                run.started = ev
            elif kind == "example":
                run.examples.append(ev)
            elif kind == "failure":
                run.failures.append(ev.failure)
            elif kind == "finished":
                run.finished = ev
        return run

    @classmethod
    def of(cls, run_result: Any) -> ConformRun:
        """A :class:`ConformRun` from events, a ``RunFinished`` or a ``ConformRun``."""
        if isinstance(run_result, ConformRun):
            return run_result
        if getattr(run_result, "kind", None) == "finished":
            return cls(finished=run_result)
        if isinstance(run_result, Iterable) and not isinstance(run_result, str | bytes | dict):
            return cls.from_events(run_result)
        raise InputError(
            "conform report: expected the run's engine events, a RunFinished or a ConformRun, "
            f"got {type(run_result).__name__}"
        )


def _step_ends(step: dict[str, Any], sut: str) -> tuple[str, str]:
    op = step["op"]
    if op in ("place", "crash", "invalid", "raw"):
        return "suite", step.get("to") or sut
    if op == "quiet":
        return sut, sut
    return step.get("src") or "suite", step.get("to") or sut


def failure_diagram(failure: Any, *, key: str, title: str = "") -> SequenceDiagram:
    """The shrunk failing sequence of a conformance failure, SUT publishes included.

    Lifelines: ``suite`` (customer, fault injector), the participants the suite played,
    the service under test, and ``bus`` where it publishes. Hovering an arrow shows the
    event's ``eventId``.
    """
    from sagaspec.conformance.diagram import lifelines

    sut = failure.sut
    steps = [s if isinstance(s, dict) else s.to_json() for s in failure.steps]
    names = lifelines(steps, sut)
    lanes = tuple(
        Lifeline(n, f"{n} (under test)" if n == sut else ("Event bus" if n == "bus" else n),
                 "bus" if n == "bus" else ("actor" if n == "suite" else "service"))
        for n in names
    )
    design = DESIGNS.get(failure.design)
    items: list[Any] = []
    known = set(names)
    for i, st in enumerate(steps, start=1):
        op = st["op"]
        a, b = _step_ends(st, sut)
        a = a if a in known else "suite"
        b = b if b in known else sut
        m = st.get("msg") or {}
        ev = st.get("event") or {}
        if op in ("crash", "quiet"):
            text = "CRASH and restart" if op == "crash" else "wait until quiet"
            items.append(Note((b,), text, "fault" if op == "crash" else "info", step=i))
        elif op == "place":
            items.append(Message(a, b, f"place order {m.get('saga')}", "external", i,
                                 f"step {i}: the customer places order {m.get('saga')}"))
        elif op == "invalid":
            items.append(Message(a, b, f"invalid {st.get('kind')}: {m.get('type')}[{m.get('saga')}]",
                                 "fault", i, f"step {i}: an invalid event ({st.get('kind')})"))
        elif op == "raw":
            items.append(Message(a, b, f"raw bytes ({st.get('kind')})", "fault", i, f"step {i}"))
        else:
            label = f"{m.get('type')}[{m.get('saga')}]"
            if op == "duplicate":
                label += " (duplicate)"
            items.append(Message(a, b, label, tone_of(str(m.get("type")), design), i,
                                 f"step {i}: {op} {ev.get('eventId', '')}".strip(), op == "duplicate"))
            if st.get("outcome") and b != sut:
                items.append(Note((b,), str(st["outcome"]), "info", step=i))
        for pub in st.get("published", ()):
            items.append(Message(sut, "bus", str(pub.get("eventType")),
                                 tone_of(str(pub.get("eventType")), design), i,
                                 f"step {i}: {sut} publishes {pub.get('eventId', '')}".strip()))
        for raw in st.get("raw_published", ()):
            items.append(Note((sut,), f"not an event: {raw.get('reason')}", "failure", step=i))
    return SequenceDiagram(title, lanes, tuple(items), id=key)


def _exchanged_rows(failure: Any) -> list[tuple]:
    sut = failure.sut
    rows = []
    for i, st in enumerate(failure.steps, start=1):
        st = st if isinstance(st, dict) else st.to_json()
        ev = st.get("event")
        if st.get("to") == sut and ev:
            rows.append((i, f"{st.get('src') or 'suite'} → {sut}", st["op"], ev))
        for pub in st.get("published", ()):
            rows.append((i, f"{sut} → bus", "publish", pub))
    return rows


def _shown(adapter: Any) -> str:
    """The adapter as a report shows it: a broker URL's password as ``***`` (a report is
    shared; only a failure's Reproduce line keeps it, to run as printed)."""
    from sagaspec.adapters.broker import redact

    return redact(str(adapter))


def _summary_rows(run: ConformRun) -> list[tuple[str, Inline]]:
    s, f = run.started, run.finished
    rows: list[tuple[str, Inline]] = []
    if s is not None:
        rows += [
            ("adapter", Code(_shown(s.adapter))),
            ("service under test", Code(str(s.participant))),
            ("design", Code(str(s.design))),
            ("mutant", Code(s.mutant) if getattr(s, "mutant", None) else "none (the service as given)"),
            ("mode", str(s.mode)),
            ("examples asked", f"{s.examples:,}"),
            ("seed", "random" if s.seed is None else str(s.seed)),
            ("adapter capabilities", ", ".join(s.capabilities) or "none"),
        ]
    if f is not None:
        rows += [
            ("examples run", f"{f.examples:,}"),
            ("events exchanged", f"{f.events:,}"),
            ("seconds", f"{f.seconds:.2f} (adapter {f.adapter_seconds:.2f}, oracle {f.oracle_seconds:.2f})"),
        ]
        if f.interrupted:
            rows.append(("interrupted", "yes: partial result"))
        if f.error:
            rows.append(("error", f.error))
    return rows


def _coverage_blocks(coverage: Any, level: int) -> list[Block]:
    blocks: list[Block] = [Heading(level, "Model-transition coverage", "coverage")]
    if not coverage:
        blocks.append(Para(("Not computed for this run.",)))
        return blocks
    blocks.append(Para((
        "The share of the model's transitions, within small bounds (orders, duplicates and "
        "crashes below), that some test case drove the service through; a case with more "
        "orders or faults than those bounds is not counted. Random cases walk only a few "
        "percent of them: ", Code("sagaspec conform --cover-edges"), " drives the service "
        "along paths that cover every edge.",
    )))
    cov = coverage if isinstance(coverage, dict) else getattr(coverage, "__dict__", {})
    covered = cov.get("covered", cov.get("edges_covered"))
    total = cov.get("total", cov.get("edges_total", cov.get("edges")))
    if isinstance(covered, int) and isinstance(total, int) and total:
        tone = "ok" if covered == total else "warn"
        blocks.append(Para((Badge(f"{100 * covered / total:.1f}%", tone),
                            f" {covered:,} of {total:,} model transitions exercised.")))
    scalar = [(k, v) for k, v in cov.items() if not isinstance(v, list | dict | tuple)]
    if scalar:
        blocks.append(Table(("Measure", "Value"), tuple(((k.replace("_", " "),), (str(v),)) for k, v in scalar)))
    for k, v in cov.items():
        if isinstance(v, dict) and v:
            blocks.append(Heading(level + 1, k.replace("_", " ").capitalize(), f"coverage-{slug(k)}"))
            blocks.append(Table(("Item", "Value"), tuple(((Code(str(a)),), (json.dumps(b) if not isinstance(b, str) else b,)) for a, b in v.items())))
        elif isinstance(v, list | tuple) and v:
            blocks.append(Heading(level + 1, k.replace("_", " ").capitalize(), f"coverage-{slug(k)}"))
            items = [(Code(x if isinstance(x, str) else json.dumps(x)),) for x in v[:200]]
            if len(v) > 200:
                items.append((f"... and {len(v) - 200} more",))
            blocks.append(BulletList(tuple(items)))
    return blocks


def _target_text(started: Any) -> str:
    """What was tested, in words: ``payment of the corrected design (mutant X) via inprocess:``."""
    if started is None:
        return "the service"
    mutant = getattr(started, "mutant", None)
    return (f"{started.participant} of the {started.design} design"
            + (f" (mutant {mutant})" if mutant else "") + f" via {_shown(started.adapter)}")


def conform_blocks(run_result: Any, *, level: int = 2) -> list[Block]:
    """Report blocks for a conformance run (see :func:`conform_report_html`)."""
    run = ConformRun.of(run_result)
    f = run.finished
    blocks: list[Block] = []
    target = _target_text(run.started)
    if f is None:
        verdict: tuple[Inline, ...] = (Badge("INCOMPLETE", "warn"), f" {target}: the run did not finish.")
    elif f.error:
        verdict = (Badge("ERROR", "bad"), f" {target}: {f.error}")
    elif f.failures:
        verdict = (Badge("FAILED", "bad"), f" {target}: {len(f.failures)} check(s) failed: ", *_codes(f.failures), ".")
    elif f.interrupted:
        verdict = (Badge("INTERRUPTED", "warn"), f" {target}: no failure in the examples that ran.")
    elif getattr(f, "diverged", None):
        verdict = (Badge("INCOMPLETE", "warn"), f" {target}: the replay diverged from its recorded case "
                   f"({f.diverged}); it neither reproduces nor clears the recorded failure.")
    else:
        verdict = (Badge("PASSED", "ok"), f" {target}: every check passed on {f.examples:,} examples.")
    blocks.append(Para(verdict))
    blocks.append(Heading(level, "Summary", "summary"))
    blocks.append(Table(("", "Value"), tuple(((k,), (v,)) for k, v in _summary_rows(run))))
    if f is not None and f.checks:
        skipped = getattr(run.started, "skipped", {}) or {}
        blocks.append(Heading(level, "Checks", "checks"))
        rows = []
        for c in f.checks:
            tone = {"passed": "ok", "failed": "bad", "skipped": "warn"}.get(c.status, "info")
            reason = c.reason or skipped.get(c.name, "")
            rows.append(((Code(c.name),), (Badge(c.status, tone),), (f"{c.runs:,}",), (reason,)))
        blocks.append(Table(("Check", "Status", "Runs", "Reason"), tuple(rows)))
    if f is not None and f.notes:
        blocks.append(BulletList(tuple((n,) for n in f.notes)))
    if run.failures:
        blocks.append(Heading(level, "Failures", "failures"))
    for k, fail in enumerate(run.failures, start=1):
        key = f"failure-{k}-{slug(fail.check)}"
        blocks.append(Heading(level + 1, f"{fail.check}" + (" (flaky)" if fail.flaky else ""), key))
        blocks.append(Para((fail.message,)))
        if fail.divergence:
            blocks.append(Para(("Diverges from the model: ", fail.divergence)))
        blocks.append(Figure(
            failure_diagram(fail, key=key, title=f"{fail.check}: shrunk failing sequence"),
            (f"{len(fail.steps)} steps, {fail.length} messages exchanged with {fail.sut}.",),
        ))
        rows = []
        for step, route, op, event in _exchanged_rows(fail):
            rows.append(((str(step),), (route,), (op,), (Code(str(event.get("eventType"))),),
                         (Code(str(event.get("eventId", ""))),), (Code(str(event.get("sagaId", ""))),)))
        blocks.append(Heading(level + 2, "Exchanged messages", f"{key}-messages"))
        blocks.append(Table(("Step", "Route", "Op", "Event", "eventId", "sagaId"), tuple(rows)))
        blocks.append(Details("Message payloads", tuple(
            CodeBlock(f"// step {step}, {route}\n" + json.dumps(event, indent=2, ensure_ascii=False), "json")
            for step, route, _op, event in _exchanged_rows(fail)
        )))
        if fail.world:
            blocks.append(Para(("World: ", Code(json.dumps(fail.world, sort_keys=True)))))
        if fail.reproduce:
            blocks.append(Para(("Reproduce: ", Code(fail.reproduce))))
        if fail.file:
            blocks.append(Para(("Case file: ", Code(str(fail.file)))))
    blocks.extend(_coverage_blocks(f.coverage if f is not None else None, level))
    return blocks


def _codes(names: Iterable[str]) -> list[Inline]:
    out: list[Inline] = []
    for i, n in enumerate(names):
        if i:
            out.append(", ")
        out.append(Code(n))
    return out


def conform_report_html(run_result: Any, path: str | FsPath, *, title: str | None = None) -> FsPath:
    """Write the HTML report of a conformance run to ``path`` (one file).

    ``run_result`` is the list of engine events of the run (what
    :meth:`sagaspec.conformance.runner.Runner.execute` yields; a front end can collect
    them as it prints), a :class:`ConformRun`, or just the final ``RunFinished`` (then
    the report has the summary, checks and coverage but no failure diagrams).
    """
    run = ConformRun.of(run_result)
    sut = getattr(run.started, "participant", None)
    heading = title or "sagaspec conform" + (f": {sut}" if sut else "")
    summary = f"adapter {_shown(run.started.adapter)}" if run.started is not None else ""
    page = Page("conform-report", heading, tuple(conform_blocks(run)), summary=summary)
    return write_report(page, path)


class HtmlConformReport:
    """An engine-event consumer (like the NDJSON and JUnit reports of ``sagaspec conform``):
    feed it every event with :meth:`handle`, then :meth:`close` writes the HTML report.

    The path is checked when the report is created, so a bad ``--report`` fails before
    the run starts.
    """

    def __init__(self, path: str | FsPath) -> None:
        self.path = FsPath(path)
        if self.path.is_dir():
            raise InputError(f"--report {self.path}: is a folder; expected an .html file path")
        if not self.path.parent.exists() and str(self.path.parent) not in ("", "."):
            raise InputError(f"--report {self.path}: folder {self.path.parent} does not exist")
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    def close(self) -> FsPath | None:
        if not self.events:
            return None
        return conform_report_html(self.events, self.path)
