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

from pathlib import Path as FsPath
from typing import Any

from sagaspec.docs.document import (
    Badge,
    Block,
    Code,
    Details,
    Figure,
    Heading,
    Page,
    Para,
    Table,
)
from sagaspec.docs.htmlpage import render_html, stylesheet_text
from sagaspec.docs.svg import slug
from sagaspec.docs.traces import path_diagram, step_changes
from sagaspec.errors import InputError
from sagaspec.spec.designs import DESIGNS, Design

__all__ = [
    "check_blocks",
    "check_report_html",
    "conform_blocks",
    "conform_report_html",
    "write_report",
]

_VERDICT_TONE = {"held": "ok", "violated": "bad", "vacuous": "warn", "unknown": "warn"}


def _design_of(system: Any) -> Design | None:
    name = (getattr(system, "meta", None) or {}).get("design")
    return DESIGNS.get(name) if isinstance(name, str) else None


def _fmt_int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def bounds_rows(result: Any) -> list[tuple[str, str]]:
    """(setting, value) rows: the system's own bounds, then the run's configuration."""
    rows = [("system", result.system.name)]
    meta = getattr(result.system, "meta", None) or {}
    for k, v in meta.items():
        if k == "design":
            continue
        rows.append((k, ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)))
    if "orders" not in meta:
        rows.append(("sagas", str(result.system.sagas)))
    for k, v in result.config.to_dict().items():
        rows.append((k.replace("_", " "), "none" if v is None else str(v)))
    return rows


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
            + (" (state limit)" if result.truncated else "") + ".",
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
        blocks.append(Para(("Replay it: ", Code(shown.encode()))))
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


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute or key among ``names`` (run results may be objects or dicts)."""
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def conform_blocks(run: Any, *, level: int = 2) -> list[Block]:
    """Report blocks for a conformance run result (see :func:`conform_report_html`)."""
    from sagaspec.docs.conformview import conform_view

    return conform_view(run, level=level)


def conform_report_html(run_result: Any, path: str | FsPath, *, title: str | None = None) -> FsPath:
    """Write the HTML report of a conformance run to ``path`` (one file)."""
    heading = title or "sagaspec conform: " + str(_get(run_result, "adapter", "target", "name", default="run"))
    page = Page("conform-report", heading, tuple(conform_blocks(run_result)))
    return write_report(page, path)
