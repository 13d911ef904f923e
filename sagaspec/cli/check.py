"""``sagaspec check``: model-check a saga design (or any model) within stated bounds.

With no arguments it checks the ``corrected`` order saga (2 orders, at-least-once bus
with one duplicate) exhaustively and prints a verdict. Exit codes: 0 every property holds
within the bounds, 1 a property is violated (or vacuous), 2 usage error, 130 interrupted
(Ctrl-C) before any violation was found.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path as FsPath
from typing import Any

import click

from sagaspec.errors import InputError, ModelError, UsageError
from sagaspec.model import CheckResult, Config, Path, System, explore, load_system, simulate
from sagaspec.model.participant import Participant
from sagaspec.model.path import violation_check
from sagaspec.model.saga import SAGA_MODELS, saga_models, saga_system, saga_system_from_meta
from sagaspec.model.system import BUSES

__all__ = ["check", "build_system", "reproduce_command", "EXIT_OK", "EXIT_VIOLATION", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

DEFAULT_DESIGN = "corrected"
DEFAULT_ORDERS = 2


# --------------------------------------------------------------------------- building
def build_system(
    *,
    design: str | None,
    model: str | None,
    orders: int | None,
    stock: int | None,
    units: int | None,
    declines: bool,
    properties: tuple[str, ...] = (),
) -> System:
    """The system ``sagaspec check`` runs, restricted to ``properties`` if any are named."""
    if design and model:
        raise UsageError("use either --design or --model, not both")
    if model:
        given = [
            flag
            for flag, value in (("--orders", orders), ("--stock", stock), ("--units", units))
            if value is not None
        ]
        if not declines:
            given.append("--no-decline")
        if given:
            raise UsageError(f"{', '.join(given)}: only with --design (the bounds of the shipped order saga), not with --model {model}")
        system = load_system(model)
    else:
        system = saga_system(
            design or DEFAULT_DESIGN,
            orders=DEFAULT_ORDERS if orders is None else orders,
            stock=stock,
            units=1 if units is None else units,
            declines=declines,
        )
    return select_properties(system, properties)


def select_properties(system: System, names: tuple[str, ...]) -> System:
    """``system`` with only the named properties (comma-separated names allowed)."""
    wanted = [n.strip() for item in names for n in item.split(",") if n.strip()]
    if not wanted:
        return system
    known = {p.name: p for p in system.properties}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UsageError(
            f"unknown property {', '.join(map(repr, unknown))} in {system.name}; "
            f"expected one of {', '.join(known) or '(none)'}"
        )
    keep = tuple(p for p in system.properties if p.name in wanted)
    return dataclasses.replace(system, properties=keep)


def _can_symmetry(system: System) -> str | None:
    """Why symmetry reduction cannot be used on ``system`` (None: it can)."""
    if system.sagas < 2:
        return f"needs at least 2 interchangeable sagas, the model has {system.sagas}"
    for part in system.participants:
        if type(part).permute is Participant.permute:
            return f"participant {part.name!r} does not implement permute()"
    if system.sagas > 6:
        return f"{system.sagas} sagas is too many permutations"
    return None


# --------------------------------------------------------------------------- rendering
def reproduce_command(opts: dict[str, Any], prop: str | None = None) -> str:
    """The ``sagaspec check`` command line that reruns these bounds (optionally one property)."""
    args = ["sagaspec", "check"]
    if opts.get("model"):
        args += ["--model", opts["model"]]
    else:
        meta = opts.get("meta") or {}
        args += ["--design", opts.get("design") or DEFAULT_DESIGN]
        args += ["--orders", str(meta.get("orders", DEFAULT_ORDERS))]
        if "stock" in meta:
            args += ["--stock", str(meta["stock"])]
        if meta.get("units", 1) != 1:
            args += ["--units", str(meta["units"])]
        if meta.get("declines") is False:
            args.append("--no-decline")
    cfg: Config = opts["config"]
    args += ["--bus", cfg.bus, "--duplicates", str(cfg.duplicates), "--crashes", str(cfg.crashes)]
    if not cfg.idempotency:
        args.append("--no-idempotency")
    if not cfg.outbox:
        args.append("--no-outbox")
    if cfg.max_depth is not None:
        args += ["--max-depth", str(cfg.max_depth)]
    if opts.get("no_symmetry"):
        args.append("--no-symmetry")
    if opts.get("walks"):
        args += ["--simulate", str(opts["walks"]), "--depth", str(opts["depth"]), "--seed", str(opts["seed"])]
    if prop:
        args += ["--property", prop]
    return " ".join(shlex.quote(a) for a in args)


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line if line else line for line in text.splitlines())


_ASSUMPTION_TEXT = {"idempotency": "idempotency store", "outbox": "transactional outbox"}


def assumptions_off(design: str | None, config: Config) -> list[str]:
    """The assumptions of ``design`` this run switches off (violations are then expected)."""
    variant = SAGA_MODELS.get(design or "")
    if variant is None:
        return []
    on = {"idempotency": config.idempotency, "outbox": config.outbox}
    return [a for a in sorted(variant.assumes) if not on.get(a, True)]


def _bounds_line(system: System, config: Config, symmetry_note: str) -> str:
    meta = system.meta or {}
    model = ""
    if "orders" in meta:
        model = (
            f"orders={meta['orders']} stock={meta['stock']} units={meta['units']} "
            f"declines={'yes' if meta.get('declines', True) else 'no'}"
            + (f" volatile={','.join(meta['volatile'])}" if meta.get("volatile") else "")
            + "\n  bounds: "
        )
    onoff = {True: "on", False: "off"}
    return (
        f"  {'model:  ' + model if model else 'bounds: '}bus={config.bus} duplicates={config.duplicates} crashes={config.crashes} "
        f"idempotency={onoff[config.idempotency]} outbox={onoff[config.outbox]} "
        f"symmetry={symmetry_note} max-depth={config.max_depth if config.max_depth is not None else 'none'}"
    )


_MARK = {"held": "ok", "violated": "FAIL", "vacuous": "VACUOUS", "unknown": "?"}
_COLOR = {"held": "green", "violated": "red", "vacuous": "yellow", "unknown": "yellow"}


def _verdict(result: CheckResult) -> tuple[int, str]:
    """Exit code and the one-line verdict of a run."""
    props = result.system.properties
    bad = [p for p in props if result.verdicts.get(p.name) == "violated"]
    vacuous = [p for p in props if result.verdicts.get(p.name) == "vacuous"]
    unknown = [p for p in props if result.verdicts.get(p.name) == "unknown"]
    n = len(props)
    if bad or vacuous:
        parts = []
        if bad:
            parts.append(f"{len(bad)} of {n} properties VIOLATED ({', '.join(p.name for p in bad)})")
        if vacuous:
            parts.append(f"{len(vacuous)} VACUOUS ({', '.join(p.name for p in vacuous)})")
        return EXIT_VIOLATION, "; ".join(parts)
    if result.interrupted:
        return EXIT_INTERRUPTED, (
            f"INTERRUPTED after {result.stats.states:,} states: no violation found so far, "
            f"{len(unknown)} of {n} properties not decided (partial result)"
        )
    if not result.exhaustive:
        return EXIT_OK, (
            f"no violation found in {result.stats.walks:,} random walks "
            f"(simulation: {len(unknown)} of {n} properties not proven)"
        )
    if not result.complete or unknown:
        why = "depth bound" if result.truncated or result.config.max_depth is not None else "state bound"
        return EXIT_OK, (
            f"no violation found within the {why} ({n - len(unknown)} of {n} properties decided; "
            "the run did not visit every reachable state)"
        )
    return EXIT_OK, f"all {n} properties hold within the bounds (exhaustive, {result.stats.states:,} states)"


def _trace_name(system: System, prop: str, shrunk: bool = False) -> str:
    base = system.name.replace("/", "-").replace(" ", "_")
    return f"{base}.{prop}{'.shrunk' if shrunk else ''}.json"


def _trace_document(path: Path, *, prop: str, kind: str, opts: dict[str, Any]) -> dict[str, Any]:
    doc = path.to_dict()
    doc["property"] = prop
    doc["violation"] = kind
    doc["model"] = {"target": opts["model"]} if opts.get("model") else dict(opts.get("meta") or {})
    doc["reproduce"] = reproduce_command(opts, prop)
    return doc


def _save_traces(result: CheckResult, out_dir: FsPath, opts: dict[str, Any]) -> dict[str, list[str]]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--trace-out {out_dir}: cannot create directory: {exc.strerror}") from None
    saved: dict[str, list[str]] = {}
    for v in result.violations:
        files = []
        pairs = [(v.path, False)]
        if v.shrunk_path.actions != v.path.actions:
            pairs.append((v.shrunk_path, True))
        for path, shrunk in pairs:
            target = out_dir / _trace_name(result.system, v.property, shrunk)
            doc = _trace_document(path, prop=v.property, kind=v.kind, opts=opts)
            try:
                target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise InputError(f"--trace-out {target}: cannot write: {exc.strerror}") from None
            files.append(str(target))
        saved[v.property] = files
    return saved


def _render_text(
    result: CheckResult,
    *,
    opts: dict[str, Any],
    symmetry_note: str,
    mermaid: bool,
    saved: dict[str, list[str]],
    code: int,
    verdict: str,
) -> str:
    system, stats = result.system, result.stats
    out = [f"sagaspec check: {system.name}"]
    if system.description:
        out.append(f"  {system.description}")
    out.append(_bounds_line(system, result.config, symmetry_note))
    off = assumptions_off(opts.get("design"), result.config)
    if off:
        names = " and ".join(_ASSUMPTION_TEXT.get(a, a) for a in off)
        out.append(
            click.style("  note: ", fg="yellow", bold=True)
            + f"this run switches off the {names} that design {opts['design']!r} assumes; "
            "violations show why the design needs it"
        )
    if result.exhaustive:
        scope = "complete" if result.complete else ("interrupted" if result.interrupted else "incomplete")
        how = f"exhaustive BFS, {scope}"
    else:
        how = f"simulation: {stats.walks:,} walks, not exhaustive"
    out.append(
        f"  explored {stats.states:,} states, {stats.edges:,} edges, depth {stats.depth} "
        f"in {stats.seconds:.1f} s ({stats.states_per_s:,.0f} states/s, "
        f"{stats.bytes_per_state:,.0f} B/state, {stats.memory_bytes / 1e6:,.1f} MB): {how}"
    )
    out.append("")
    out.append("Properties")
    width = max((len(p.name) for p in system.properties), default=0)
    for p in system.properties:
        verdict_p = result.verdicts.get(p.name, "unknown")
        v = result.violation(p.name)
        extra = f"  [{v.kind}, shortest trace {len(v.path)} steps]" if v else ""
        mark = click.style(f"{_MARK[verdict_p]:<7}", fg=_COLOR[verdict_p], bold=verdict_p != "held")
        out.append(f"  {mark} {p.kind:<10} {p.name:<{width}}  {p.description}{extra}")
    for n, v in enumerate(result.violations, start=1):
        out.append("")
        head = f"Violation {n}/{len(result.violations)}: {v.property}"
        out.append(click.style(head, fg="red", bold=True) + (f" ({v.description})" if v.description else ""))
        out.append(f"  {v.message}")
        out.append(f"  Shortest trace ({len(v.path)} steps):")
        out.append(_indent(v.path.format()))
        same = v.shrunk_path.actions == v.path.actions
        if same:
            out.append("  Shrunk trace: the shortest trace is already minimal (no step can be dropped).")
        else:
            out.append(f"  Shrunk trace ({len(v.shrunk_path)} steps, only the steps the violation needs):")
            out.append(_indent(v.shrunk_path.format()))
        shown = v.shrunk_path
        out.append("  Sequence diagram" + ("" if same else " (shrunk trace)") + ":")
        out.append(_indent(shown.sequence().rstrip("\n")))
        if mermaid:
            out.append("  Mermaid:")
            out.append(_indent("```mermaid\n" + shown.mermaid() + "```"))
        for f in saved.get(v.property, ()):
            out.append(f"  Trace saved: {f}")
        out.append(f"  Reproduce with: {reproduce_command(opts, v.property)}")
    vac = [p for p in system.properties if result.verdicts.get(p.name) == "vacuous"]
    for p in vac:
        out.append("")
        out.append(click.style(f"Vacuous: {p.name}", fg="yellow", bold=True) + f" ({p.description})")
        out.append("  never holds in any reachable state: the model may not exercise what it should.")
        out.append(f"  Reproduce with: {reproduce_command(opts, p.name)}")
    out.append("")
    color = "green" if code == EXIT_OK else ("red" if code == EXIT_VIOLATION else "yellow")
    out.append(click.style("Verdict: ", bold=True) + click.style(verdict, fg=color, bold=True))
    return "\n".join(out)


# --------------------------------------------------------------------------- progress
class _Progress:
    """The live progress line on stderr (``\\r``-rewritten on a terminal)."""

    def __init__(self, enabled: bool, tty: bool) -> None:
        self.enabled = enabled
        self.tty = tty
        self.width = 0

    def __call__(self, stats) -> None:
        if not self.enabled:
            return
        line = stats.line()
        if self.tty:
            pad = max(self.width - len(line), 0)
            sys.stderr.write("\r" + line + " " * pad)
            self.width = len(line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0


# --------------------------------------------------------------------------- replay
def replay_trace(file: str, opts: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Re-execute a saved trace on its model; does it still reach the violation?"""
    try:
        data = json.loads(FsPath(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--replay {file}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--replay {file}: not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError(f"--replay {file}: expected a JSON object")
    model = data.get("model")
    if not isinstance(model, dict):
        raise InputError(f"--replay {file}: no 'model' object (was it saved by sagaspec check --trace-out?)")
    system = load_system(model["target"]) if "target" in model else saga_system_from_meta(model)
    path = Path.from_json(system, None, data)
    prop_name = data.get("property")
    text = [f"replayed {len(path)} steps of {file} on {system.name}"]
    code = EXIT_OK
    reached = None
    if prop_name:
        try:
            prop = system.property(prop_name)
        except ModelError as exc:
            raise InputError(f"--replay {file}: {exc}") from None
        reached = bool(violation_check(prop)(path.view(-1)))
        if reached:
            code = EXIT_VIOLATION
            text.append(f"the final state violates {prop_name} ({prop.kind}): reproduced")
        else:
            text.append(f"the final state no longer violates {prop_name}")
    text.append(_indent(path.format()))
    return code, "\n".join(text), {"file": file, "steps": len(path), "property": prop_name, "reproduced": reached}


# --------------------------------------------------------------------------- command
def _list_text() -> str:
    lines = ["Designs (--design):"]
    for name, variant in SAGA_MODELS.items():
        lines.append(f"  {name:<10} {variant.description}")
    lines.append("")
    lines.append("Properties of the order saga (--property):")
    for p in saga_system(DEFAULT_DESIGN).properties:
        lines.append(f"  {p.kind:<10} {p.name:<24} {p.description}")
    return "\n".join(lines)


@click.command("check")
@click.option("--design", metavar="NAME", help=f"Shipped design to check: {', '.join(saga_models())} (default {DEFAULT_DESIGN}).")
@click.option("--model", "model", metavar="pkg.module:NAME", help="Check your own System (or a zero-argument function returning one); also path/to/file.py:NAME.")
@click.option("--orders", type=int, help=f"Concurrent orders (sagas) [default {DEFAULT_ORDERS}].")
@click.option("--stock", type=int, help="Units in stock at the start [default: orders - 1, so some reservations fail].")
@click.option("--units", type=int, help="Units each order reserves [default 1].")
@click.option("--no-decline", is_flag=True, help="Payment never declines (drop the PaymentFailed branch).")
@click.option("--bus", type=click.Choice(BUSES), default="unordered-dup", show_default=True, help="Delivery semantics: unordered with duplicates (at-least-once), unordered exactly-once, or per-channel FIFO.")
@click.option("--duplicates", type=click.IntRange(min=0), help="Duplicate-delivery budget [default 1 for unordered-dup, else 0].")
@click.option("--crashes", type=click.IntRange(min=0), default=0, show_default=True, help="Crash/restart budget per participant.")
@click.option("--no-idempotency", is_flag=True, help="Switch the consumers' idempotency store off (seed section 7).")
@click.option("--no-outbox", is_flag=True, help="No transactional outbox: also explore crashes between commit and publish.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Do not explore deeper than this many steps.")
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many distinct states (incomplete run).")
@click.option("--no-symmetry", is_flag=True, help="Do not reduce symmetric states (interchangeable orders).")
@click.option("--simulate", "walks", type=click.IntRange(min=1), metavar="WALKS", help="Random walks instead of exhaustive search.")
@click.option("--depth", type=click.IntRange(min=1), help="Steps per random walk (with --simulate) [default 200].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (with --simulate).")
@click.option("--property", "properties", multiple=True, metavar="NAME", help="Check only this property (repeatable, or comma-separated).")
@click.option("--first", is_flag=True, help="Stop at the first violation found.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--trace-out", type=click.Path(file_okay=False), metavar="DIR", help="Save each counterexample as a JSON trace in DIR.")
@click.option("--mermaid", is_flag=True, help="Also print each counterexample as a Mermaid sequence diagram.")
@click.option("--progress/--no-progress", default=None, help="Live progress line on stderr [default: when stderr is a terminal].")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False), metavar="FILE", help="Re-execute a trace saved by --trace-out on its model and say whether it still violates its property.")
@click.option("--list", "list_only", is_flag=True, help="List the shipped designs and the saga's properties.")
@click.option("--report", "report", type=click.Path(dir_okay=False), metavar="FILE.html", help="Also write a self-contained HTML report: statistics, verdicts, each violation as an SVG sequence diagram with the state changes at each step.")
@click.pass_context
def check(ctx: click.Context, **kw: Any) -> None:
    """Model-check a saga design exhaustively within bounds and print a verdict.

    \b
    Examples:
      sagaspec check                                 # corrected design, default bounds
      sagaspec check --design seed                   # finds the seed's holes
      sagaspec check --design seed --no-idempotency  # ... and the double charge
      sagaspec check --orders 2 --crashes 1          # crash/restart of each participant
      sagaspec check --orders 3 --trace-out traces/ --json
      sagaspec check --model my_pkg.models:two_phase_commit
    """
    code = run_check(**kw)
    ctx.exit(code)


def run_check(**kw: Any) -> int:
    """The body of ``sagaspec check``; returns the exit code (usage errors raise)."""
    as_json = kw["as_json"]
    if kw["list_only"]:
        click.echo(_list_text())
        return EXIT_OK
    opts: dict[str, Any] = {
        "model": kw["model"],
        "design": None if kw["model"] else (kw["design"] or DEFAULT_DESIGN),
        "no_symmetry": kw["no_symmetry"],
        "walks": kw["walks"],
        "depth": kw["depth"] or 200,
        "seed": kw["seed"],
    }
    if kw["replay_file"]:
        code, text, data = replay_trace(kw["replay_file"], opts)
        click.echo(json.dumps(data, indent=2) if as_json else text)
        return code
    system = build_system(
        design=kw["design"],
        model=kw["model"],
        orders=kw["orders"],
        stock=kw["stock"],
        units=kw["units"],
        declines=not kw["no_decline"],
        properties=kw["properties"],
    )
    if not system.properties:
        raise UsageError(f"{system.name} has no properties to check")
    opts["meta"] = dict(system.meta or {})
    why_not = _can_symmetry(system)
    symmetry = not kw["no_symmetry"] and why_not is None
    symmetry_note = "on" if symmetry else ("off" if kw["no_symmetry"] else f"off ({why_not})")
    if kw["walks"] is None and kw["depth"] is not None:
        raise UsageError("--depth is the walk length of --simulate; use --max-depth to bound exhaustive search")
    if kw["walks"] is not None and kw["max_states"] is not None:
        raise UsageError("--max-states bounds exhaustive search; with --simulate use --simulate WALKS --depth D")
    config = Config(
        bus=kw["bus"],
        duplicates=kw["duplicates"],
        crashes=kw["crashes"],
        idempotency=not kw["no_idempotency"],
        outbox=not kw["no_outbox"],
        max_depth=kw["max_depth"],
        symmetry=symmetry,
    )
    opts["config"] = config
    show = kw["progress"]
    tty = sys.stderr.isatty()
    progress = _Progress(tty if show is None else show, tty)
    started = time.perf_counter()
    try:
        if kw["walks"]:
            result = simulate(
                system, config, walks=kw["walks"], depth=opts["depth"], seed=kw["seed"],
                on_progress=progress, stop_at_first=kw["first"],
            )
        else:
            result = explore(
                system, config, on_progress=progress, stop_at_first=kw["first"],
                max_states=kw["max_states"],
            )
    except KeyboardInterrupt:
        progress.clear()
        click.echo(
            f"interrupted after {time.perf_counter() - started:.1f} s, before a result could be "
            "assembled (nothing checked to completion)",
            err=True,
        )
        return EXIT_INTERRUPTED
    finally:
        progress.clear()
    code, verdict = _verdict(result)
    if kw.get("report"):
        from sagaspec.docs.reports import check_report_html

        click.echo(f"report: {check_report_html(result, kw['report'])}", err=True)
    saved = _save_traces(result, FsPath(kw["trace_out"]), opts) if kw["trace_out"] else {}
    if as_json:
        doc = result.to_dict()
        doc["model"] = {"target": kw["model"]} if kw["model"] else {"design": opts["design"], **opts["meta"]}
        doc["symmetry"] = symmetry_note
        doc["assumptions_off"] = assumptions_off(opts.get("design"), config)
        doc["verdict"] = verdict
        doc["exit_code"] = code
        doc["command"] = reproduce_command(opts)
        doc["reproduce"] = {v.property: reproduce_command(opts, v.property) for v in result.violations}
        doc["traces"] = saved
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(
            _render_text(
                result, opts=opts, symmetry_note=symmetry_note, mermaid=kw["mermaid"],
                saved=saved, code=code, verdict=verdict,
            )
        )
    return code
