"""Read YAML (or JSON) as plain data plus the line and column of every node.

Spec files are data: this uses PyYAML's safe composer (no tags that build objects) and
YAML 1.2 booleans (only ``true``/``false``), so ``on:``, ``yes`` and ``no`` stay strings.
Positions let every later check report ``FILE:LINE:COL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from sagaspec.errors import InputError

__all__ = ["Pos", "Located", "load_located"]

#: A spec file larger than this is refused before parsing (specs are hand-written).
MAX_BYTES = 2_000_000
#: Deeper nesting than this is refused (a hand-written spec nests a dozen levels).
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Pos:
    """1-based line and column of a node; ``quoted`` if it is a quoted scalar."""

    line: int
    col: int
    quoted: bool = False


class _Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 booleans."""


# Dates stay strings too (a JSON Schema example "2024-01-15" is text, not a date object).
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
#: The only tags a spec may use: plain JSON data.
_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
)
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(
        ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )


@dataclass(frozen=True)
class Located:
    """Plain data and the position of each node, keyed by its path (a tuple of keys)."""

    data: object
    positions: dict[tuple, Pos]
    source: str
    #: Position of each mapping key, by the path of its value (an unknown key is named there).
    keys: dict[tuple, Pos] = field(default_factory=dict)

    def pos(self, path: tuple) -> Pos:
        """Position of ``path``, or of its closest ancestor that has one."""
        path = tuple(path)
        while path:
            p = self.positions.get(path)
            if p is not None:
                return p
            path = path[:-1]
        return self.positions.get((), Pos(1, 1))

    def where_key(self, path: tuple) -> str:
        """``FILE:LINE:COL`` of the key of ``path`` (of the node itself if it has none)."""
        p = self.keys.get(tuple(path)) or self.pos(path)
        return f"{self.source}:{p.line}:{p.col}"

    def where(self, path: tuple, offset: tuple[int, int] | None = None) -> str:
        """``FILE:LINE:COL`` of ``path``; ``offset`` is (line, col) inside the scalar."""
        p = self.pos(path)
        line, col = p.line, p.col
        if offset is not None:
            dl, dc = offset
            if dl <= 1:
                col = col + (1 if p.quoted else 0) + dc - 1
            else:
                line, col = line + dl - 1, dc
        return f"{self.source}:{line}:{col}"


def load_located(text: str, source: str) -> Located:
    """Parse ``text`` (YAML or JSON); :class:`InputError` as ``FILE:LINE:COL: ...``."""
    if len(text) > MAX_BYTES:
        raise InputError(f"{source}: larger than {MAX_BYTES} bytes; a spec file is hand-written text")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise InputError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        # A character YAML forbids (NUL, most control characters): PyYAML's message
        # gives an offset on a second line; this gives the line and column.
        at = exc.position
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise InputError(f"{source}:{line}:{col}: not valid YAML: character U+{char:04X} is not "
                         "allowed in a YAML file") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{source}: not valid YAML: {first}") from None
    if node is None:
        raise InputError(f"{source}:1:1: empty file; expected a saga spec (a mapping)")
    positions: dict[tuple, Pos] = {}
    constructor = _Loader("")
    keys: dict[tuple, Pos] = {}
    data = _build(node, (), positions, constructor, source, 0, keys)
    return Located(data, positions, source, keys)


def _build(node, path, positions, constructor, source, depth, keys):
    if depth > MAX_DEPTH:
        m = node.start_mark
        raise InputError(f"{source}:{m.line + 1}:{m.column + 1}: nested deeper than {MAX_DEPTH} levels")
    m = node.start_mark
    if node.tag not in _TAGS:
        raise InputError(
            f"{source}:{m.line + 1}:{m.column + 1}: tag {node.tag!r} is not allowed; "
            "a spec is plain data (strings, numbers, booleans, null, lists, mappings)"
        )
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    positions[path] = Pos(m.line + 1, m.column + 1, quoted)
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        out = {}
        for knode, vnode in node.value:
            # Built like any value (tags checked), not by the constructor alone: a tagged
            # key such as ``!!python/none a:`` escaped as a traceback.
            key = _build(knode, (), {}, constructor, source, depth + 1, {})
            if not isinstance(key, (str, int, bool)):
                km = knode.start_mark
                raise InputError(f"{source}:{km.line + 1}:{km.column + 1}: mapping keys must be plain strings")
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                km = knode.start_mark
                raise InputError(f"{source}:{km.line + 1}:{km.column + 1}: duplicate key {key!r}")
            km = knode.start_mark
            keys[(*path, key)] = Pos(km.line + 1, km.column + 1)
            out[key] = _build(vnode, (*path, key), positions, constructor, source, depth + 1, keys)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(v, (*path, i), positions, constructor, source, depth + 1, keys)
            for i, v in enumerate(node.value)
        ]
    value = constructor.construct_object(node, deep=True)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        raise InputError(f"{source}:{m.line + 1}:{m.column + 1}: number too large (more than 18 digits)")
    return value
