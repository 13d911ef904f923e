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

import ast
import re
from dataclasses import dataclass, field

from sagaspec.errors import ModelError, SpecError

__all__ = ["CelEnv", "Expr", "Literal", "scan", "interval"]

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
    """A compiled CEL expression, its source text and location, and the names it reads.

    ``fast`` is the same expression as a Python function, when it is in the simple subset
    that :func:`python_form` translates (comparisons, ``&&``, ``||``, ``!``, ``+ - *``,
    names, literals); the model's hot path calls it instead of the CEL runtime, and a
    differential test keeps the two equal.
    """

    text: str
    where: str
    program: object = field(repr=False, compare=False)
    refs: frozenset[str] = frozenset()
    fast: object = field(default=None, repr=False, compare=False)

    def __call__(self, data: dict) -> object:
        if self.fast is not None:
            return self.fast(data)
        return self.cel(data)

    def cel(self, data: dict) -> object:
        """Evaluate with the CEL runtime (the reference semantics)."""
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
        return Expr(text, where(None), program, refs, python_form(text, self.names))


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
    what = _syntax_in_words(what.replace(" (in container '')", ""))
    return f"{where((line, col))}: {what} in `{text}`"


_SYNTAX = re.compile(r"Syntax error: (?:(?P<kind>mismatched|extraneous) input (?P<got>'.*?'|<EOF>) "
                     r"expecting (?P<want>\{.*\}|\S+)|missing (?P<missing>'.*?') at (?P<at>'.*?')"
                     r"|token recognition error at: (?P<char>'.*?')|no viable alternative at input (?P<nva>'.*?'))$")
_OPERAND_TOKENS = frozenset({"IDENTIFIER", "NUM_INT", "STRING"})


def _token(text: str) -> str:
    """An ANTLR token as a reader says it: ``'<EOF>'`` is the end of the expression."""
    return "the end of the expression" if text.strip("'") == "<EOF>" else text


def _expected(want: str) -> str:
    tokens = [t.strip() for t in want.strip("{}").split(",")] if want.startswith("{") else [want]
    if _OPERAND_TOKENS <= set(tokens):
        return "a value (a name, number, string, list, map or parenthesized expression)"
    words = [_token(t) for t in tokens]
    if len(words) > 4:
        return f"one of {', '.join(words[:4])}, ..."
    return " or ".join(words)


def _syntax_in_words(what: str) -> str:
    """cel's ANTLR message (``mismatched input '<EOF>' expecting {'[', '{', ..., NUM_FLOAT,
    ...}``) said in words: what was found and what was expected there."""
    m = _SYNTAX.fullmatch(what.strip())
    if m is None:
        return what.replace("Syntax error: ", "syntax error: ")
    if m["kind"]:
        return f"syntax error: expected {_expected(m['want'])}, found {_token(m['got'])}"
    if m["missing"]:
        return f"syntax error: missing {m['missing']} before {_token(m['at'])}"
    if m["char"]:
        return f"syntax error: unexpected character(s) {m['char']}"
    return f"syntax error: cannot read the expression at {_token(m['nva'])}"


# ------------------------------------------------------------------------------ fast path

_PY_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'[^'\\\n]*'|"[^"\\\n]*")"""
    r"""|(?P<num>\d+)(?![.\w])"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?!\s*\()"""
    r"""|(?P<op>&&|\|\||==|!=|<=|>=|[<>+\-*()!]))"""
)
_ALLOWED_NODES = (
    ast.Expression, ast.Lambda, ast.arguments, ast.arg, ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
    ast.GtE, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Subscript, ast.Name, ast.Constant,
    ast.Load,
)


def python_form(text: str, names: dict[str, str]):
    """``text`` as a Python function of a data dict, or ``None`` outside the simple subset.

    The translation is token by token from a whitelist (declared names, integer and
    plain string literals, the operators above), then the Python syntax tree is checked
    against a whitelist of node types before it is compiled: no call, attribute or
    builtin can appear. Division, ``?:``, macros and functions stay with the CEL runtime.
    """
    out: list[str] = []
    closers: list[int] = []  # paren depth at which a `(not ...)` group closes
    depth = 0
    pending_not = 0
    pos = 0
    while pos < len(text):
        m = _PY_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if not text[pos:].strip():
                break
            return None
        pos = m.end()
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "op" and tok == "!":
            out.append("(not ")
            pending_not += 1
            continue
        if kind == "str":
            piece = tok
        elif kind == "num":
            piece = tok
        elif kind == "name":
            if tok in ("true", "false"):
                piece = "True" if tok == "true" else "False"
            elif tok in names and names[tok] in ("bool", "int", "string"):
                piece = f"_v[{tok!r}]"
            else:
                return None
        else:
            piece = {"&&": " and ", "||": " or "}.get(tok, f" {tok} ")
        if tok == "(" and kind == "op":
            depth += 1
            if pending_not:
                closers.extend([depth] * pending_not)
                pending_not = 0
            out.append("(")
            continue
        if tok == ")" and kind == "op":
            out.append(")")
            while closers and closers[-1] == depth:
                closers.pop()
                out.append(")")
            depth -= 1
            continue
        out.append(piece)
        if pending_not and kind in ("str", "num", "name"):
            out.append(")" * pending_not)
            pending_not = 0
    if pending_not or closers or depth:
        return None
    source = "lambda _v: (" + "".join(out) + ")"
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            return None
        if isinstance(node, ast.Name) and node.id != "_v":
            return None
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            return None  # CEL compares left to right, Python chains: keep CEL's reading
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, str)):
            return None
    fn = eval(compile(tree, "<cel>", "eval"), {"__builtins__": {}})  # noqa: S307 - whitelisted tree
    fn.tree = tree.body.body  # the expression's syntax tree, for static analysis
    return fn


def interval(expr: Expr | Literal, bounds: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """The range of integer values ``expr`` can take when each name ranges over
    ``bounds``; ``None`` when unknown (not in the simple subset, or not integer)."""
    if isinstance(expr, Literal):
        v = expr.value
        return (v, v) if isinstance(v, int) and not isinstance(v, bool) else None
    tree = getattr(expr.fast, "tree", None)
    return None if tree is None else _interval(tree, bounds)


def _interval(node, bounds):
    if isinstance(node, ast.Constant):
        v = node.value
        return (v, v) if isinstance(v, int) and not isinstance(v, bool) else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return bounds.get(node.slice.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _interval(node.operand, bounds)
        return None if inner is None else (-inner[1], -inner[0])
    if isinstance(node, ast.BinOp):
        a, b = _interval(node.left, bounds), _interval(node.right, bounds)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return (a[0] + b[0], a[1] + b[1])
        if isinstance(node.op, ast.Sub):
            return (a[0] - b[1], a[1] - b[0])
        if isinstance(node.op, ast.Mult):
            products = [x * y for x in a for y in b]
            return (min(products), max(products))
    return None
