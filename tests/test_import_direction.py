"""Imports run downward: spec <- model <- conformance <- cli/docs; adapters depend on spec
alone; examples (the reference side) on spec, model and adapters, never the reverse.

Every import of a ``sagaspec`` module in the package's Python files is read from the
syntax tree, lazy ones inside functions included, and so are imports by name: a
``importlib.import_module("sagaspec...")`` / ``__import__`` call and a ``"sagaspec.pkg.mod:attr"``
string (what the registries resolve). ``sagaspec.errors`` is below everything.

Imports that still go the wrong way are listed in :data:`REMAINING`, each with why. The
list only shrinks: an entry that is no longer needed fails the test until it is removed.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: folder -> its layer (the name after ``sagaspec.``).
LAYERS = {
    "spec": "spec",
    "model": "model",
    "adapters": "adapters",
    "conformance": "conformance",
    "examples": "examples",
    "sagaspec/docs": "docs",
    "sagaspec/cli": "cli",
}

#: layer -> the layers it may import (besides itself and ``errors``).
ALLOWED: dict[str, set[str]] = {
    "spec": set(),
    "model": {"spec"},
    "adapters": {"spec"},
    "conformance": {"spec", "model", "adapters"},
    "examples": {"spec", "model", "adapters"},
    "docs": {"spec", "model", "adapters", "conformance", "cli"},
    "cli": {"spec", "model", "adapters", "conformance", "examples", "docs"},
}

#: (file, imported layer) -> why it is still needed (remove the entry when it is not).
REMAINING: dict[tuple[str, str], str] = {}

_BY_NAME = re.compile(r"^sagaspec\.([A-Za-z_]\w*)(?:\.[\w.]*)?:[A-Za-z_]\w*$")


def _imported(tree: ast.AST, package: str) -> set[str]:
    """Names of the sagaspec modules ``tree`` imports (``sagaspec.X...``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                out.add(node.module)
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.add(arg.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _BY_NAME.match(node.value):
                out.add(node.value.split(":", 1)[0])
    return {m for m in out if m == "sagaspec" or m.startswith("sagaspec.")}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@functools.cache  # one scan of the package for both tests (they only read it)
def _wrong_way() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for folder, layer in LAYERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            package = f"sagaspec.{layer}"
            tree = ast.parse(path.read_text(encoding="utf-8"), rel)
            for module in sorted(_imported(tree, package)):
                target = _layer(module)
                if target in (None, layer, "errors") or target in ALLOWED[layer]:
                    continue
                found.setdefault((rel, target), []).append(module)
    return found


def test_imports_run_downward():
    new = {k: v for k, v in _wrong_way().items() if k not in REMAINING}
    assert not new, "imports against the layering (" + \
        "; ".join(f"{f} imports {', '.join(mods)}" for (f, _), mods in sorted(new.items())) + ")"


def test_the_list_of_remaining_imports_only_shrinks():
    found = _wrong_way()
    gone = sorted(k for k in REMAINING if k not in found)
    assert not gone, f"no longer imported: remove from REMAINING: {gone}"
    assert all(why.strip() for why in REMAINING.values())


def test_the_scan_sees_lazy_imports_and_imports_by_name():
    """The scanner itself: an import inside a function and a registry string count."""
    tree = ast.parse(
        "def f():\n"
        "    from sagaspec.examples.cluster import Cluster\n"
        "    import importlib; importlib.import_module('sagaspec.conformance.faults')\n"
        "REG = 'sagaspec.docs.site:build'\n"
        "from . import base\n"
        "from ..spec import sagafile\n"
    )
    assert _imported(tree, "sagaspec.adapters") == {
        "sagaspec.examples.cluster", "sagaspec.conformance.faults", "sagaspec.docs.site",
        "sagaspec.adapters", "sagaspec.spec",
    }
