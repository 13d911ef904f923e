"""``sagaspec check``: model-check a saga design (or any model) within stated bounds.

With no arguments it checks the ``corrected`` order saga (2 orders, at-least-once bus
with one duplicate) exhaustively and prints a verdict. Exit codes: 0 every property holds
within the bounds (the search visited every reachable state), 1 a property is violated
(or vacuous), 2 usage error, 3 incomplete without a violation (a bound was hit:
``--max-states``, ``--max-depth``, ``--max-memory``; out of memory; interrupted; or a
``--simulate`` run, which proves nothing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path as FsPath
from typing import Any

import click

from sagaspec.cli._plural import plural
from sagaspec.errors import InputError, ModelError, SagaspecError, UsageError
from sagaspec.model import CheckResult, Config, Path, System, explore, load_system, simulate
from sagaspec.model.path import ENCODING_PREFIX, render_state, violation_check
from sagaspec.model.properties import FAIR_KINDS
from sagaspec.model.saga import (
    SAGA_MODELS,
    saga_models,
    saga_system,
    saga_system_from_meta,
    saga_variant,
)
from sagaspec.model.system import BUSES, FAIRNESS, symmetry_blocker

__all__ = [
    "check", "build_system", "reproduce_command",
    "EXIT_OK", "EXIT_VIOLATION", "EXIT_USAGE", "EXIT_INCOMPLETE", "EXIT_INTERRUPTED",
]

#: Exit codes: holds, violated, usage error, incomplete (bound, memory, interrupt, simulation).
EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_INTERRUPTED = EXIT_INCOMPLETE  # an interrupted run is one kind of incomplete run

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
    params: tuple[str, ...] = (),
) -> System:
    """The system ``sagaspec check`` runs, restricted to ``properties`` if any are named.

    ``design`` is a shipped design name or a spec file; ``params`` are ``NAME=VALUE``
    settings of the spec's params (``--stock``, ``--units`` and ``--no-decline`` are
    shorthands for the params of those names).
    """
    if design and model:
        raise UsageError("use either --design/--spec or --model, not both")
    if model:
        given = [
            flag
            for flag, value in (("--orders", orders), ("--stock", stock), ("--units", units))
            if value is not None
        ]
        if not declines:
            given.append("--no-decline")
        if params:
            given.append("--param")
        if given:
            raise UsageError(f"{', '.join(given)}: only with --design/--spec (the bounds of a saga spec), not with --model {model}")
        system = load_model(model)
    else:
        variant = saga_variant(design or DEFAULT_DESIGN)
        values = parse_params(params, variant.spec)
        for flag, name, value in (("--stock", "stock", stock), ("--units", "units", units), ("--no-decline", "declines", None if declines else False)):
            if value is None:
                continue
            if name not in {p.name for p in variant.spec.params}:
                raise UsageError(f"{flag}: design {variant.name} has no param {name!r} ({_param_list(variant.spec)})")
            values[name] = value
        system = saga_system(variant, orders=orders, **values)
    return select_properties(system, properties)


def _param_list(spec) -> str:
    return "params: " + (", ".join(p.name for p in spec.params) or "none")


def parse_params(items: tuple[str, ...], spec) -> dict[str, Any]:
    """``("stock=3", "declines=false")`` -> typed values of the spec's params."""
    kinds = {p.name: p.type for p in spec.params}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        if name not in kinds:
            raise UsageError(f"--param {name}: design {spec.shipped or spec.name} has no such param ({_param_list(spec)})")
        text = text.strip()
        if kinds[name] == "bool":
            if text.lower() not in ("true", "false"):
                raise UsageError(f"--param {name}: expected true or false, got {text!r}")
            out[name] = text.lower() == "true"
        else:
            try:
                out[name] = int(text)
            except ValueError:
                raise UsageError(f"--param {name}: expected an integer, got {text!r}") from None
    return out


@contextlib.contextmanager
def _cwd_on_path():
    """The current directory first on ``sys.path`` while importing, as ``python -m`` does."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield cwd
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def load_model(target: str) -> System:
    """``load_system(target)``, importing from the current directory as ``python -m`` would."""
    with _cwd_on_path() as cwd:
        try:
            return load_system(target)
        except ModelError as exc:
            if "cannot import" in exc.message and not target.partition(":")[0].endswith(".py"):
                raise ModelError(
                    f"{exc.message} (sagaspec imports models from the current directory "
                    f"{cwd} and from installed packages: run it from the folder that holds "
                    "the package, or give path/to/file.py:NAME)"
                ) from None
            raise


def select_properties(system: System, names: tuple[str, ...]) -> System:
    """``system`` with only the named properties (comma-separated names allowed)."""
    wanted = [n.strip() for item in names for n in item.split(",") if n.strip()]
    if names and not wanted:
        raise UsageError(f"--property {','.join(names)!r} names no property; expected a name from --list")
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
    """Why symmetry reduction cannot be used on ``system`` (None: it can); the same rule
    as ``Config(symmetry=None)``, the default of both."""
    return symmetry_blocker(system)


# --------------------------------------------------------------------------- rendering
def reproduce_command(opts: dict[str, Any], prop: str | None = None, *, replay: str | None = None) -> str:
    """The ``sagaspec check`` command line that reruns these bounds (optionally one property).

    ``replay``: an encoded path (``ssp1:...``) to replay on these bounds instead of searching.
    """
    args = ["sagaspec", "check"]
    if opts.get("model"):
        args += ["--model", opts["model"]]
    else:
        meta = opts.get("meta") or {}
        args += ["--design", opts.get("design") or DEFAULT_DESIGN]
        args += ["--orders", str(meta.get("orders", DEFAULT_ORDERS))]
        params = meta.get("params") or {}
        if "stock" in params:
            args += ["--stock", str(params["stock"])]
        if params.get("units", 1) != 1:
            args += ["--units", str(params["units"])]
        if params.get("declines") is False:
            args.append("--no-decline")
        for name, value in params.items():
            if name not in ("stock", "units", "declines"):
                args += ["--param", f"{name}={str(value).lower() if isinstance(value, bool) else value}"]
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
    if cfg.fairness != "weak":
        args += ["--fairness", cfg.fairness]
    if replay:
        return " ".join(shlex.quote(a) for a in [*args, "--replay", replay])
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
    try:
        variant = saga_variant(design) if design else None
    except SagaspecError:
        variant = None
    if variant is None:
        return []
    on = {"idempotency": config.idempotency, "outbox": config.outbox}
    return [a for a in sorted(variant.assumes) if not on.get(a, True)]


def _bounds_line(system: System, config: Config, symmetry_note: str) -> str:
    meta = system.meta or {}
    model = ""
    if "orders" in meta:
        values = " ".join(
            f"{k}={('yes' if v else 'no') if isinstance(v, bool) else v}"
            for k, v in (meta.get("params") or {}).items()
        )
        model = (
            f"sagas={meta['orders']}" + (f" {values}" if values else "")
            + (f" volatile={','.join(meta['volatile'])}" if meta.get("volatile") else "")
            + "\n  bounds: "
        )
    onoff = {True: "on", False: "off"}
    return (
        f"  {'model:  ' + model if model else 'bounds: '}bus={config.bus} duplicates={config.duplicates} crashes={config.crashes} "
        f"idempotency={onoff[config.idempotency]} outbox={onoff[config.outbox]} "
        f"symmetry={symmetry_note} max-depth={config.max_depth if config.max_depth is not None else 'none'}"
        + (f" fairness={config.fairness}" if any(p.kind in FAIR_KINDS for p in system.properties) else "")
    )


_MARK = {"held": "ok", "violated": "FAIL", "vacuous": "VACUOUS", "unknown": "?"}
_COLOR = {"held": "green", "violated": "red", "vacuous": "yellow", "unknown": "yellow"}


def _verdict(result: CheckResult, *, max_states: int | None = None, memory_hit: str | None = None) -> tuple[int, str]:
    """Exit code and the one-line verdict of a run (the bound that stopped it named)."""
    props = result.system.properties
    bad = [p for p in props if result.verdicts.get(p.name) == "violated"]
    vacuous = [p for p in props if result.verdicts.get(p.name) == "vacuous"]
    unknown = [p for p in props if result.verdicts.get(p.name) == "unknown"]
    n = len(props)
    states = result.stats.states
    if bad or vacuous:
        parts = []
        if bad:
            parts.append(f"{len(bad)} of {plural(n, 'property', 'properties')} VIOLATED ({', '.join(p.name for p in bad)})")
        if vacuous:
            parts.append(f"{len(vacuous)} VACUOUS ({', '.join(p.name for p in vacuous)})")
        return EXIT_VIOLATION, "; ".join(parts)
    undecided = f"{len(unknown)} of {plural(n, 'property', 'properties')} not decided"
    if memory_hit:
        return EXIT_INCOMPLETE, (
            f"INCOMPLETE: stopped at the memory bound --max-memory {memory_hit} after {states:,} states; "
            f"no violation found so far, {undecided} (partial result)"
        )
    if result.out_of_memory:
        return EXIT_INCOMPLETE, (
            f"INCOMPLETE: out of memory after {states:,} states; no violation found so far, "
            f"{undecided} (partial result; bound the run with --max-memory or --max-states)"
        )
    if result.interrupted:
        return EXIT_INCOMPLETE, (
            f"INTERRUPTED after {states:,} states: no violation found so far, "
            f"{undecided} (partial result)"
        )
    if not result.exhaustive:
        return EXIT_INCOMPLETE, (
            f"INCOMPLETE: no violation found in {result.stats.walks:,} random walks; a simulation "
            f"proves nothing ({undecided}; run without --simulate to decide them)"
        )
    if result.truncated and max_states is not None and states >= max_states:
        return EXIT_INCOMPLETE, (
            f"INCOMPLETE: stopped at the state bound --max-states {max_states:,} with states left "
            f"to explore; no violation found so far, {undecided}"
        )
    if result.truncated:
        return EXIT_INCOMPLETE, (
            f"INCOMPLETE: the depth bound --max-depth {result.config.max_depth} left states "
            f"unexplored; no violation found within it, {undecided}"
        )
    if not result.complete or unknown:
        return EXIT_INCOMPLETE, f"INCOMPLETE: no violation found, {undecided}"
    if not n:
        return EXIT_OK, f"no properties to check: {states:,} reachable states counted (exhaustive)"
    every = f"all {n} properties hold" if n > 1 else "1 property holds"
    return EXIT_OK, f"{every} within the bounds (exhaustive, {states:,} states)"


def _trace_name(system: System, prop: str, shrunk: bool = False) -> str:
    base = system.name.replace("/", "-").replace(" ", "_")
    return f"{base}.{prop}{'.shrunk' if shrunk else ''}.json"


def _trace_document(path: Path, *, prop: str, kind: str, opts: dict[str, Any]) -> dict[str, Any]:
    doc = path.to_dict()
    doc["property"] = prop
    doc["violation"] = kind
    if opts.get("model"):
        from sagaspec.cli._replay import model_reference

        doc["model"] = model_reference(opts["model"])  # replays from any folder
    else:
        doc["model"] = dict(opts.get("meta") or {})
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


def _project(value: Any, k: int, sagas: int) -> Any:
    """``value`` with only saga ``k``'s slot kept, where the local state has one slot per saga."""
    def per_saga(v: Any) -> bool:
        return isinstance(v, tuple) and not hasattr(v, "_fields") and len(v) == sagas

    if per_saga(value):
        return (value[k],)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        changed = {f: (getattr(value, f)[k],) for f in value._fields if per_saga(getattr(value, f))}
        return value._replace(**changed) if changed else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {
            f.name: (getattr(value, f.name)[k],)
            for f in dataclasses.fields(value)
            if per_saga(getattr(value, f.name))
        }
        return dataclasses.replace(value, **changed) if changed else value
    return value


class _SagaView:
    """A property view of one saga: every per-saga local state cut to that saga's slot."""

    def __init__(self, view: Any, k: int, sagas: int) -> None:
        self._view, self._k, self._sagas = view, k, sagas

    def __getitem__(self, name: str) -> Any:
        return _project(self._view[name], self._k, self._sagas)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


def culprit_sagas(result: CheckResult, violation: Any) -> list[int]:
    """The sagas a violation is about: those the property is false for, taken one at a time.

    Empty when the property does not decompose by saga: an ``always`` property must hold
    for every saga alone in the initial state, and some saga alone must fail at the end.
    """
    system = result.system
    sagas = system.sagas
    if sagas < 1 or violation.kind == "cycle":
        return []
    prop = system.property(violation.property)
    path = violation.shrunk_path
    by_saga = getattr(prop.pred, "by_saga", None)
    if by_saga is not None:  # a spec property knows its truth per saga
        if prop.kind == "always" and not all(by_saga(path.view(0))):
            return []
        return [k for k, ok in enumerate(by_saga(path.view(-1))) if not ok]
    try:
        if prop.kind == "always" and not all(prop.pred(_SagaView(path.view(0), k, sagas)) for k in range(sagas)):
            return []
        end = path.view(-1)
        return [k for k in range(sagas) if not prop.pred(_SagaView(end, k, sagas))]
    except Exception:  # a predicate that does not read per-saga states this way
        return []


def _saga_state_lines(path: Path, k: int) -> list[str]:
    """Saga ``k``'s slot in every participant at the end of ``path``, as readable fields."""
    lines = []
    for name, local in path.final.locals.items():
        for where, text in render_state(name, local):
            if where.endswith(f"[{k}]"):
                lines.append(f"{where}: {text}")
    return lines


def _violation_head(v: Any, culprits: list[int]) -> str:
    n = len(v.path)
    who = ("saga " if len(culprits) == 1 else "sagas ") + ", ".join(map(str, culprits))
    if not culprits:
        return v.message
    if v.kind == "stuck":
        return (
            f"{who} {'is' if len(culprits) == 1 else 'are'} stuck: {v.property} is false for "
            f"{'it' if len(culprits) == 1 else 'them'} when nothing is in flight and nothing "
            f"is enabled, after {n} steps"
        )
    return f"{v.property} is false for {who} after {n} steps"


def _render_text(
    result: CheckResult,
    *,
    opts: dict[str, Any],
    symmetry_note: str,
    mermaid: bool,
    saved: dict[str, list[str]],
    code: int,
    verdict: str,
    verbose: bool = False,
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
    for note in result.notes:
        out.append(click.style("  note: ", fg="yellow", bold=True) + note)
    for warning in result.warnings:
        out.append(click.style("  warning: ", fg="yellow", bold=True) + warning)
    if result.exhaustive:
        scope = "complete" if result.complete else ("interrupted" if result.interrupted else "incomplete")
        how = f"exhaustive BFS, {scope}"
    else:
        how = f"simulation: {stats.walks:,} walks, not exhaustive"
    if verbose:
        out.append(
            f"  explored {stats.states:,} states, {stats.edges:,} edges, depth {stats.depth} "
            f"in {stats.seconds:.1f} s ({stats.states_per_s:,.0f} states/s, "
            f"{stats.bytes_per_state:,.0f} B/state, {stats.memory_bytes / 1e6:,.1f} MB): {how}"
        )
    else:
        out.append(
            f"  explored {stats.states:,} states, {stats.edges:,} edges, depth {stats.depth} "
            f"in {stats.seconds:.1f} s: {how}"
        )
    out.append("")
    out.append("Properties")
    if not system.properties:
        out.append("  none: this run only counts the reachable states")
    width = max((len(p.name) for p in system.properties), default=0)
    for p in system.properties:
        verdict_p = result.verdicts.get(p.name, "unknown")
        v = result.violation(p.name)
        extra = f"  [{v.kind}, shortest trace {len(v.path)} steps]" if v else ""
        mark = click.style(f"{_MARK[verdict_p]:<7}", fg=_COLOR[verdict_p], bold=verdict_p != "held")
        out.append(f"  {mark} {p.kind:<10} {p.name:<{width}}  {p.description}{extra}")
    printed: dict[str, int] = {}  # encoded trace -> the violation that printed it
    for n, v in enumerate(result.violations, start=1):
        out.append("")
        head = f"Violation {n}/{len(result.violations)}: {v.property}"
        out.append(click.style(head, fg="red", bold=True) + (f" ({v.description})" if v.description else ""))
        culprits = culprit_sagas(result, v)
        out.append(f"  {_violation_head(v, culprits)}")
        same = v.shrunk_path.actions == v.path.actions
        shown = v.shrunk_path
        if verbose:
            out.append(f"  Shortest trace ({len(v.path)} steps):")
            out.append(_indent(v.path.format()))
            if same:
                out.append("  Shrunk trace: the shortest trace is already minimal (no step can be dropped).")
            else:
                out.append(f"  Shrunk trace ({len(v.shrunk_path)} steps, only the steps the violation needs):")
                out.append(_indent(v.shrunk_path.format()))
            out.append("  Sequence diagram" + ("" if same else " (shrunk trace)") + ":")
            out.append(_indent(shown.sequence().rstrip("\n")))
        elif shown.encode() in printed:
            out.append(f"  Trace: the same {len(shown)} steps as violation {printed[shown.encode()]} above.")
        else:
            printed[shown.encode()] = n
            what = (
                f"{len(shown)} steps, already minimal" if same
                else f"{len(shown)} steps: the shortest trace ({len(v.path)} steps) shrunk to what the violation needs"
            )
            out.append(f"  Trace ({what}; under each step, what changed):")
            out.append(_indent(shown.sequence(changes=True).rstrip("\n")))
            for k in culprits:
                lines = _saga_state_lines(shown, k)
                if lines:
                    out.append(f"  Saga {k} at the end:")
                    out.extend(f"    {line}" for line in lines)
        if mermaid:
            out.append("  Mermaid:")
            out.append(_indent("```mermaid\n" + shown.mermaid() + "```"))
        for f in saved.get(v.property, ()):
            out.append(f"  Trace saved: {f}")
        out.append(f"  Reproduce with: {reproduce_command(opts, v.property)}")
        if verbose:
            out.append(f"  Replay this trace: {reproduce_command(opts, replay=shown.encode())}")
    vac = [p for p in system.properties if result.verdicts.get(p.name) == "vacuous"]
    for p in vac:
        out.append("")
        out.append(click.style(f"Vacuous: {p.name}", fg="yellow", bold=True) + f" ({p.description})")
        out.append("  never holds in any reachable state: the model may not exercise what it should.")
        out.append(f"  Reproduce with: {reproduce_command(opts, p.name)}")
    out.append("")
    if result.violations and not verbose:
        out.append("(--verbose shows every trace in full: the initial state, each step's changes, the shortest and the shrunk trace)")
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
def replay_trace(file: str, opts: dict[str, Any], kw: dict[str, Any] | None = None,
                 given: set[str] | frozenset[str] = frozenset()) -> tuple[int, str, dict[str, Any]]:
    """Re-execute a saved trace; does it still reach the violation?

    The trace is data: see :mod:`sagaspec.cli._replay` for which model it runs on.
    """
    from sagaspec.cli._replay import read_trace, replay_system

    data = read_trace(file)
    system = replay_system(file, data, kw or {}, given, build=build_system, load=load_model,
                           from_meta=saga_system_from_meta,
                           say=lambda line: click.echo(line, err=True))
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


def replay_token(token: str, system: System, config: Config, opts: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Re-execute an encoded path (``ssp1:...``) on the system and bounds of the command line.

    Exit code 1 when the final state violates a property (the token reproduces a
    violation), 0 when it violates none.
    """
    try:
        path = Path.decode(system, config, token)
    except InputError as exc:
        raise InputError(
            f"--replay: the encoded path does not replay on {system.name} with these bounds: {exc} "
            "(give the --design/--orders/--bus... options of the run that printed it)"
        ) from None
    end = path.view(-1)
    violated = [p.name for p in system.properties if p.kind != "sometimes" and violation_check(p)(end)]
    text = [f"replayed {len(path)} steps of the encoded path on {system.name}"]
    if violated:
        text.append(f"the final state violates {', '.join(violated)}: reproduced")
    else:
        text.append("the final state violates no property")
    text.append(_indent(path.format()))
    data = {"encoded": token, "steps": len(path), "violated": violated, "reproduced": bool(violated)}
    return (EXIT_VIOLATION if violated else EXIT_OK), "\n".join(text), data


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"512MB"``, ``"2G"``, ``"1.5GiB"``, ``"100000"`` -> bytes (powers of 1024)."""
    m = _SIZE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--max-memory {text!r}: expected a size such as 512MB or 2GB")
    scale = 1024 ** "_kmgt".index(m.group(2).lower() or "_")
    return int(float(m.group(1)) * scale)


def _resident_bytes() -> int:
    """This process's resident memory (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class _MemoryBound(KeyboardInterrupt):
    """Raised from the progress callback at --max-memory: the search stops as on Ctrl-C."""


# --------------------------------------------------------------------------- command
def _list_text() -> str:
    lines = ["Designs (--design):"]
    for name, variant in SAGA_MODELS.items():
        lines.append(f"  {name:<10} {variant.description}")
    lines.append("")
    lines.append(f"Properties of the {DEFAULT_DESIGN} design (--property; a spec file lists its own):")
    for p in saga_system(DEFAULT_DESIGN).properties:
        lines.append(f"  {p.kind:<10} {p.name:<24} {p.description}")
    return "\n".join(lines)


@click.command("check")
@click.option("--design", "--spec", "design", metavar="NAME|FILE", help=f"Design to check: a shipped one ({', '.join(saga_models())}; default {DEFAULT_DESIGN}) or a saga spec file (.saga.yaml).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a param of the saga spec (repeatable), e.g. --param stock=3.")
@click.option("--model", "model", metavar="pkg.module:NAME", help="Check your own System (or a zero-argument function returning one); also path/to/file.py:NAME.")
@click.option("--orders", "--sagas", "orders", type=int, help=f"Concurrent sagas, 1 to 6 [default: the spec's bounds.sagas, {DEFAULT_ORDERS} for the shipped designs].")
@click.option("--stock", type=int, help="Units in stock at the start [default: orders - 1, so some reservations fail].")
@click.option("--units", type=int, help="Units each order reserves [default 1].")
@click.option("--no-decline", is_flag=True, help="Payment never declines (drop the PaymentFailed branch).")
@click.option("--bus", type=click.Choice(BUSES), default="unordered-dup", show_default=True, help="Delivery semantics: unordered with duplicates (at-least-once), unordered exactly-once, per-channel FIFO, or set (TLA+'s message set: a message stays and may be received again).")
@click.option("--duplicates", type=click.IntRange(min=0), help="Duplicate-delivery budget [default 1 for unordered-dup, else 0].")
@click.option("--crashes", type=click.IntRange(min=0), default=0, show_default=True, help="Crash/restart budget per participant.")
@click.option("--no-idempotency", is_flag=True, help="Switch the consumers' idempotency store off (each consumer then processes a redelivered event again).")
@click.option("--no-outbox", is_flag=True, help="No transactional outbox: also explore crashes between commit and publish.")
@click.option("--max-depth", type=click.IntRange(min=0), help="Do not explore deeper than this many steps.")
@click.option("--max-states", type=click.IntRange(min=1), help="Store at most this many distinct states; a run that hits it is incomplete (exit 3).")
@click.option("--max-memory", metavar="SIZE", help="Stop cleanly when the process uses this much memory (e.g. 512MB, 2GB) and report the partial result (exit 3).")
@click.option("--no-symmetry", is_flag=True, help="Do not reduce symmetric states (interchangeable orders).")
@click.option("--por/--no-por", default=None, help="Partial-order reduction: per state, expand a stubborn set of steps (one saga's, or one participant's and those of everything that may send to it) where that is sound for the properties; a violation found is searched again without it, for the shortest counterexample. Reports the states explored. [default: on wherever it applies; --no-por for the full state count]")
@click.option("--fairness", type=click.Choice(FAIRNESS), default="weak", show_default=True, help="Fairness of eventually/leads-to properties, as TLA+'s WF/SF over actions (a participant handling one message, or one labelled internal step).")
@click.option("--simulate", "walks", type=click.IntRange(min=1), metavar="WALKS", help="Random walks instead of exhaustive search.")
@click.option("--depth", type=click.IntRange(min=1), help="Steps per random walk (with --simulate) [default 200].")
@click.option("--seed", type=int, help="Random seed of --simulate [default 0].")
@click.option("--property", "properties", multiple=True, metavar="NAME", help="Check only this property (repeatable, or comma-separated).")
@click.option("--first", is_flag=True, help="Stop at the first violation found.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N", help="Search on N local worker processes, the states partitioned by hash (Dask distributed; needs pip install 'sagaspec[cluster]').")
@click.option("--cluster", metavar="ADDRESS", help="Search on the workers of the Dask scheduler at ADDRESS (e.g. tcp://host:8786); each needs sagaspec[cluster] installed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--trace-out", type=click.Path(file_okay=False), metavar="DIR", help="Save each counterexample as a JSON trace in DIR.")
@click.option("--mermaid", is_flag=True, help="Also print each counterexample as a Mermaid sequence diagram.")
@click.option("-v", "--verbose", is_flag=True, help="Print each counterexample in full: initial state, every change, the shortest and the shrunk trace, search statistics.")
@click.option("--progress/--no-progress", default=None, help="Live progress line on stderr [default: when stderr is a terminal].")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False), metavar="FILE", help="Re-execute a trace saved by --trace-out on its model, or an encoded path (ssp1:..., as reports print it) on the design and bounds given, and say whether it still violates a property.")
@click.option("--trust-file", is_flag=True, help="With --replay FILE: import the Python model the trace names (a trace is data: without this, a Python model is imported only when --model names the same target).")
@click.option("--list", "list_only", is_flag=True, help="List the shipped designs and the saga's properties.")
@click.option("--report", "report", type=click.Path(dir_okay=False), metavar="FILE.html", help="Also write a self-contained HTML report: statistics, verdicts, each violation as an SVG sequence diagram with the state changes at each step.")
@click.pass_context
def check(ctx: click.Context, **kw: Any) -> None:
    """Model-check a saga design exhaustively within bounds and print a verdict.

    Exit codes: 0 every property holds (every reachable state visited), 1 a property is
    violated or vacuous, 2 usage error, 3 incomplete: a bound was hit (--max-states,
    --max-depth, --max-memory), out of memory, interrupted, or --simulate (no proof).

    \b
    Examples:
      sagaspec check                                 # corrected design, default bounds
      sagaspec check --design seed                   # finds the seed's holes
      sagaspec check --design seed --no-idempotency  # ... and the double charge
      sagaspec check --orders 2 --crashes 1          # crash/restart of each participant
      sagaspec check --orders 3 --trace-out traces/ --json
      sagaspec check --model my_pkg.models:two_phase_commit   # imported from the current folder
    """
    given = {
        name for name in kw
        if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }
    code = run_check(_given=given, **kw)
    ctx.exit(code)


# Options that mean something only for a search (not for --list, not for a replay).
_SEARCH_ONLY = ("max_states", "max_memory", "walks", "depth", "seed", "first", "trace_out", "mermaid", "report", "progress", "workers", "cluster")
_MODEL_OPTIONS = ("design", "model", "orders", "stock", "units", "no_decline", "params", "bus", "duplicates", "crashes", "no_idempotency", "no_outbox")


def _flag(name: str) -> str:
    """The command-line spelling of option ``name`` (for one-line rejections)."""
    for param in check.params:
        if param.name == name:
            return max(param.opts, key=len)
    return name


def _distributed_usage(kw: dict) -> None:
    """Reject what --workers/--cluster cannot do, then require the cluster extra."""
    if kw["workers"] is not None and kw["cluster"] is not None:
        raise UsageError("--workers N starts N local workers; --cluster ADDRESS uses a running cluster's: give one")
    for name in ("walks", "max_states", "max_memory"):
        if kw[name] is not None:
            raise UsageError(
                f"{_flag(name)} applies to the single-process search; --workers/--cluster bound a run "
                "with --max-depth (and stop cleanly on Ctrl-C)"
            )
    from sagaspec.model.distributed import require_cluster_extra

    require_cluster_extra()


def run_check(_given: set[str] | frozenset[str] = frozenset(), **kw: Any) -> int:
    """The body of ``sagaspec check``; returns the exit code (usage errors raise).

    ``_given``: the options set on the command line (so an option that does not apply
    is rejected instead of silently ignored).
    """
    as_json = kw["as_json"]
    if kw["list_only"]:
        extra = sorted(_flag(n) for n in _given - {"list_only"})
        if extra:
            raise UsageError(f"--list lists the designs and properties; it takes no other option (got {', '.join(extra)})")
        click.echo(_list_text())
        return EXIT_OK
    if kw["seed"] is not None and kw["walks"] is None:
        raise UsageError("--seed is the random seed of --simulate; exhaustive search is not random")
    if kw["max_memory"] is not None and kw["walks"] is not None:
        raise UsageError("--max-memory bounds exhaustive search; a --simulate run keeps one walk in memory")
    if kw["por"] and kw["walks"] is not None:
        raise UsageError("--por reduces exhaustive search; a --simulate run walks every step")
    max_memory = parse_size(kw["max_memory"]) if kw["max_memory"] is not None else None
    kw["seed"] = 0 if kw["seed"] is None else kw["seed"]
    opts: dict[str, Any] = {
        "model": kw["model"],
        "design": None if kw["model"] else (kw["design"] or DEFAULT_DESIGN),
        "no_symmetry": kw["no_symmetry"],
        "walks": kw["walks"],
        "depth": kw["depth"] or 200,
        "seed": kw["seed"],
    }
    replaying = kw["replay_file"]
    if kw.get("trust_file") and not (replaying and not replaying.startswith(ENCODING_PREFIX)):
        raise UsageError("--trust-file applies only to --replay FILE (a saved trace)")
    if replaying:
        extra = sorted(_flag(n) for n in _given & set(_SEARCH_ONLY))
        if extra:
            raise UsageError(f"--replay re-executes one trace; {', '.join(extra)} only apply to a search")
    if replaying and replaying.startswith(ENCODING_PREFIX):
        token_system = build_system(
            design=kw["design"], model=kw["model"], orders=kw["orders"], stock=kw["stock"],
            units=kw["units"], declines=not kw["no_decline"], properties=kw["properties"],
            params=kw["params"],
        )
        token_config = Config(
            bus=kw["bus"], duplicates=kw["duplicates"], crashes=kw["crashes"],
            idempotency=not kw["no_idempotency"], outbox=not kw["no_outbox"],
        )
        code, text, data = replay_token(replaying, token_system, token_config, opts)
        click.echo(json.dumps(data, indent=2) if as_json else text)
        return code
    if replaying:
        code, text, data = replay_trace(kw["replay_file"], opts, kw, _given)
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
        params=kw["params"],
    )
    if not kw["model"]:
        # The spec's bounds are the defaults of the options the command line leaves unset.
        bounds = saga_variant(kw["design"] or DEFAULT_DESIGN).spec.bounds
        for option in ("bus", "duplicates", "crashes"):
            if option not in _given and option in bounds:
                kw[option] = bounds[option]
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
        fairness=kw["fairness"],
        por=kw["por"],
    )
    opts["config"] = config
    show = kw["progress"]
    tty = sys.stderr.isatty()
    progress = _Progress(tty if show is None else show, tty)
    memory_hit: list[str] = []

    def on_progress(stats) -> None:
        progress(stats)
        if max_memory is not None and _resident_bytes() >= max_memory:
            memory_hit.append(kw["max_memory"])
            raise _MemoryBound()

    distributed = kw.get("workers") is not None or kw.get("cluster") is not None
    if distributed:
        if kw["por"]:
            raise UsageError("--por is for the search on one process; drop it, or --workers/--cluster")
        _distributed_usage(kw)
    started = time.perf_counter()
    try:
        if distributed:
            from sagaspec.model.distributed import Recipe, explore_distributed

            result = explore_distributed(
                system, config, workers=kw["workers"], cluster=kw["cluster"],
                recipe=Recipe.of(system, target=kw["model"]), on_progress=on_progress,
                stop_at_first=kw["first"],
            )
        elif kw["walks"]:
            result = simulate(
                system, config, walks=kw["walks"], depth=opts["depth"], seed=kw["seed"],
                on_progress=progress, stop_at_first=kw["first"],
            )
        else:
            result = explore(
                system, config, on_progress=on_progress, stop_at_first=kw["first"],
                max_states=kw["max_states"],
                # The memory bound is checked at each progress report: report often.
                progress_interval=0.1 if max_memory is not None else 1.0,
            )
    except (KeyboardInterrupt, MemoryError) as exc:
        progress.clear()
        what = "out of memory" if isinstance(exc, MemoryError) else "interrupted"
        click.echo(
            f"{what} after {time.perf_counter() - started:.1f} s, before a result could be "
            "assembled (nothing checked to completion)",
            err=True,
        )
        return EXIT_INCOMPLETE
    finally:
        progress.clear()
    code, verdict = _verdict(result, max_states=kw["max_states"], memory_hit=memory_hit[0] if memory_hit else None)
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
        doc["ok"] = code == EXIT_OK  # a simulation or a cut-short run is never "ok"
        doc["command"] = reproduce_command(opts)
        doc["reproduce"] = {v.property: reproduce_command(opts, v.property) for v in result.violations}
        doc["traces"] = saved
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(
            _render_text(
                result, opts=opts, symmetry_note=symmetry_note, mermaid=kw["mermaid"],
                saved=saved, code=code, verdict=verdict, verbose=kw["verbose"],
            )
        )
    return code
