"""Replay files are data: which model a saved trace is replayed on, and where it is.

A trace names the model it was found on. A shipped design or a saga spec file is data
and is rebuilt from the trace's own settings, with the command line's ``--design``,
``--orders``, ``--stock``, ``--units``, ``--no-decline`` and ``--param`` applied over
them (each one shown). A *Python* model target (``pkg.module:NAME``) is code: it is
imported only when the command line names the same target with ``--model``, or with
``--trust-file``, and the line saying what is imported comes first. A trace also records
where its model was found (the folder and file), so it replays from any folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sagaspec.errors import InputError, UsageError
from sagaspec.spec._jsonlimits import FILE_LIMITS, JSONLimitError, loads, read_limited

__all__ = ["read_trace", "model_reference", "replay_system"]

# Command-line options that rebuild the saga model of a trace (applied over its settings).
_MODEL_OVERRIDES = ("design", "orders", "stock", "units", "no_decline", "params")
# Options that make sense with a replay (the others are rejected, not ignored).
_REPLAY_OPTIONS = {"replay_file", "trust_file", "as_json", "verbose", "model", *_MODEL_OVERRIDES}


def read_trace(file: str) -> dict[str, Any]:
    """The JSON object of trace ``file``, read within the file limits; one-line errors."""
    try:
        data = loads(read_limited(file, FILE_LIMITS), FILE_LIMITS)
    except FileNotFoundError:
        raise InputError(f"--replay {file}: cannot read: no such file") from None
    except OSError as exc:
        raise InputError(f"--replay {file}: cannot read: {exc.strerror or exc}") from None
    except JSONLimitError as exc:
        raise InputError(f"--replay {file}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"--replay {file}: not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        where = f" at line {exc.lineno}" if hasattr(exc, "lineno") else ""
        msg = getattr(exc, "msg", str(exc))
        raise InputError(f"--replay {file}: not JSON: {msg}{where}") from None
    if not isinstance(data, dict):
        raise InputError(f"--replay {file}: expected a JSON object")
    return data


def model_reference(target: str) -> dict[str, str]:
    """What a trace records of a ``--model`` target so it replays from another folder:
    the target (a ``file.py`` made absolute), the module's file and its import root."""
    module_name, _, attr = target.rpartition(":")
    if module_name.endswith(".py"):
        return {"target": f"{Path(module_name).resolve()}:{attr}"}
    ref = {"target": target}
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if file:
        path = Path(file).resolve()
        depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
        ref["file"] = str(path)
        ref["root"] = str(path.parents[depth])
    return ref


@contextlib.contextmanager
def _import_root(root: str | None) -> Iterator[None]:
    added = bool(root) and Path(str(root)).is_dir() and root not in sys.path
    if added:
        sys.path.append(str(root))  # after the current folder and installed packages
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(root))


def _same_target(given: str, recorded: str) -> bool:
    if given == recorded:
        return True
    g_mod, _, g_attr = given.rpartition(":")
    r_mod, _, r_attr = recorded.rpartition(":")
    if g_attr != r_attr or not (g_mod.endswith(".py") and r_mod.endswith(".py")):
        return False
    return os.path.realpath(g_mod) == os.path.realpath(r_mod)


def replay_system(file: str, data: dict[str, Any], kw: dict[str, Any], given: set[str] | frozenset[str],
                  *, build: Callable[..., Any], load: Callable[[str], Any],
                  from_meta: Callable[[dict[str, Any]], Any], say: Callable[[str], None]) -> Any:
    """The system to replay trace ``data`` on (see the module docstring).

    ``build``/``load``/``from_meta`` are the check command's ways to build a saga
    system, import a ``--model`` target and rebuild a trace's recorded design; ``say``
    prints one line before anything is imported.
    """
    extra = sorted(n for n in given if n not in _REPLAY_OPTIONS)
    if extra:
        flags = ", ".join("--" + n.replace("_", "-") for n in extra)
        raise UsageError(f"--replay {file} re-executes the trace's recorded steps with its recorded "
                         f"bounds; {flags} cannot change them (rebuild the trace with a new search)")
    model = data.get("model")
    if not isinstance(model, dict):
        raise InputError(f"--replay {file}: no 'model' object (was it saved by sagaspec check --trace-out?)")
    overrides = [n for n in _MODEL_OVERRIDES if n in given]
    if kw.get("model"):
        target = kw["model"]
        recorded = model.get("target")
        if recorded is not None and not _same_target(target, str(recorded)):
            say(f"replaying on --model {target} (the trace names {recorded}, not imported)")
        root = model.get("root") if recorded is not None and _same_target(target, str(recorded)) else None
        with _import_root(root):
            return load(target)
    if "target" in model:
        target = model["target"]
        if not isinstance(target, str):
            raise InputError(f"--replay {file}: 'model.target' must be a string")
        if overrides:
            say(f"replaying on the design given ({', '.join('--' + o.replace('_', '-') for o in overrides)}); "
                f"the trace's Python model {target} is not imported")
            return _build(kw, build)
        if not kw.get("trust_file"):
            raise UsageError(
                f"--replay {file}: the trace names the Python model {target}; a trace is data, so "
                f"sagaspec imports that code only if you name it: add --model {target} "
                "(or --trust-file to import what the file names)"
            )
        say(f"importing the model {target} named by {file} (--trust-file)")
        with _import_root(model.get("root")):
            return load(target)
    if not overrides:
        return from_meta(model)
    merged = _merged(kw, dict(model), overrides)
    old = {k: model.get(k) for k in ("design", "orders")}
    old_params = _params_of(model)
    changes = [f"{k} {merged.get(k)} (the trace: {old[k]})" for k in ("design", "orders")
               if merged.get(k) != old[k]]
    changes += [f"{k}={v} (the trace: {old_params.get(k)})" for k, v in merged["params"].items()
                if old_params.get(k) != v]
    if changes:
        say("replaying with " + ", ".join(changes))
    return from_meta(merged)


def _params_of(meta: dict[str, Any]) -> dict[str, Any]:
    if isinstance(meta.get("params"), dict):
        return dict(meta["params"])
    return {k: meta[k] for k in ("stock", "units", "declines") if k in meta}


def _merged(kw: dict[str, Any], recorded: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    from sagaspec.cli.check import parse_params
    from sagaspec.model.saga import saga_variant

    merged = {k: v for k, v in recorded.items() if k not in ("stock", "units", "declines")}
    params = _params_of(recorded)
    if "design" in overrides and kw.get("design"):
        merged["design"] = kw["design"]
    if "orders" in overrides:
        merged["orders"] = kw["orders"]
    for name in ("stock", "units"):
        if name in overrides:
            params[name] = kw[name]
    if "no_decline" in overrides and kw.get("no_decline"):
        params["declines"] = False
    if "params" in overrides:
        params.update(parse_params(tuple(kw.get("params") or ()), saga_variant(str(merged["design"])).spec))
    merged["params"] = params
    return merged


def _build(kw: dict[str, Any], build: Callable[..., Any]) -> Any:
    return build(design=kw.get("design"), model=None, orders=kw.get("orders"), stock=kw.get("stock"),
                 units=kw.get("units"), declines=not kw.get("no_decline"), params=kw.get("params") or ())
