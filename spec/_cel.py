"""CEL expressions of a saga spec: compiled and type-checked when the file is loaded.

Guards, updates and properties are written in CEL, the Common Expression Language of
Kubernetes validation rules and Google's policy engines: side-effect free, always
terminating, with a published type system. We use Google's own implementation
(``cel-expr-python``, a binding of cel-cpp) rather than a hand-written parser, so an
unknown name or a type error is the checker's answer, with its line and column.

Each expression is compiled against an environment that declares exactly the names it
may read (a participant's own variables in a reaction; every participant's variables in
a property), so a reaction cannot read another service's state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sagaspec.errors import ModelError, SpecError

__all__ = ["CelEnv", "Expr", "Literal", "scan"]

_TOKEN = re.compile(
    r"""(?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)"""
)
_ERR = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")
_CEL_KEYWORDS = frozenset({"true", "false", "null", "in", "int", "uint", "double", "string", "bool", "size", "has"})


def scan(text: str) -> tuple[list[str], list[str]]:
    """``(string literals, dotted names)`` of a CEL expression (for dependency analysis)."""
    strings, names = [], []
    for m in _TOKEN.finditer(text):
        if m.group("str"):
            strings.append(m.group("str")[1:-1])
        else:
            names.append(re.sub(r"\s+", "", m.group("name")))
    return strings, names


def _cel():
    try:
        from cel_expr_python import cel
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError(f"the CEL runtime (package cel-expr-python) does not import: {exc}") from None
    return cel


@dataclass(frozen=True)
class Literal:
    """A constant written as plain YAML (``true``, ``3``, a bare enum value)."""

    value: object
    where: str = ""
    refs: frozenset[str] = frozenset()

    def __call__(self, data: dict) -> object:
        return self.value

    @property
    def text(self) -> str:
        return repr(self.value)


@dataclass(frozen=True)
class Expr:
    """A compiled CEL expression, its source text and location, and the names it reads."""

    text: str
    where: str
    program: object = field(repr=False, compare=False)
    refs: frozenset[str] = frozenset()

    def __call__(self, data: dict) -> object:
        try:
            result = self.program.eval(data=data)
        except Exception as exc:  # the runtime reports evaluation errors as exceptions
            raise ModelError(f"{self.where}: evaluating `{self.text}` failed: {_short(exc)}") from None
        if result.type().name() == "error":  # pragma: no cover - eval raises instead
            raise ModelError(f"{self.where}: evaluating `{self.text}` failed")
        return result.plain_value()


def _short(exc: Exception) -> str:
    text = str(exc).strip()
    text = text.replace("INVALID_ARGUMENT: ", "").split("\n")[0]
    return text.replace(" [INVALID_ARGUMENT]", "")


class CelEnv:
    """Declared names and their types; compiles expressions against them.

    ``names`` maps a (possibly dotted) name to one of ``"bool"``, ``"int"``, ``"string"``,
    ``"list<int>"``, ``"list<bool>"``, ``"list<string>"``.
    """

    def __init__(self, names: dict[str, str]) -> None:
        cel = _cel()
        self.names = dict(names)
        types = {
            "bool": cel.Type.BOOL,
            "int": cel.Type.INT,
            "string": cel.Type.STRING,
            "list<int>": cel.Type.List(cel.Type.INT),
            "list<bool>": cel.Type.List(cel.Type.BOOL),
            "list<string>": cel.Type.List(cel.Type.STRING),
        }
        decl = cel.FunctionDecl(
            "sum",
            [cel.Overload("sum_list_int", cel.Type.INT, [cel.Type.List(cel.Type.INT)], impl=_sum)],
        )
        self._env = cel.NewEnv(variables={k: types[v] for k, v in self.names.items()}, functions=[decl])

    def compile(self, text: str, where, want: str | None = None) -> Expr:
        """Compile ``text``; ``where(offset)`` gives ``FILE:LINE:COL`` for an error offset.

        ``want`` is the type the result must have. Errors are :class:`SpecError`.
        """
        try:
            program = self._env.compile(text)
        except Exception as exc:
            raise SpecError(_located(str(exc), where, text)) from None
        got = program.return_type().name().lower()
        got = {"list(int)": "list<int>"}.get(got, got)
        if want is not None and got != want and got != "dyn":
            raise SpecError(f"{where(None)}: `{text}` is of type {got}; expected {want}")
        _strings, names = scan(text)
        refs = frozenset(_resolve(n, self.names) for n in names) - {None}
        return Expr(text, where(None), program, refs)


def _sum(values) -> int:
    return sum(values)


def _resolve(name: str, declared: dict[str, str]) -> str | None:
    """The declared name that the dotted path ``name`` starts with (longest first)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in declared:
            return cand
    return None


def _located(message: str, where, text: str) -> str:
    m = _ERR.search(message)
    if not m:
        return f"{where(None)}: in `{text}`: {_short(Exception(message))}"
    line, col, what = int(m.group(1)), int(m.group(2)), m.group(3)
    what = what.replace(" (in container '')", "")
    return f"{where((line, col))}: {what} in `{text}`"
