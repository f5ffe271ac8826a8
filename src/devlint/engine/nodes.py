"""The syntax tree the analysis reads: Python's own `ast`, and the few shapes it lacks.

The analysis only reads trees, so it uses the parser in CPython: ten times faster than
LibCST's (which earlier versions used), its nodes are plain objects with cheap attribute
access, and every node carries its position.  Fixes are text edits of a node's source
span (`devlint.rules._fixes`), so no concrete syntax tree is needed for them either.
This module gives the engine what `ast` spreads over several fields: call arguments in
one sequence, parameters with their defaults, the source text and the character
positions of a node.
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Optional, Union

FUNCTION_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
AnyFunctionDef = Union[ast.FunctionDef, ast.AsyncFunctionDef]
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# `try` statements: `try ... except*` is its own class from Python 3.11 on
TRY_STATEMENTS = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)

BINARY_OPERATORS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.FloorDiv: "//",
}


class Arg:
    """One argument of a call, as written: `value`, `*value`, `**value` or `keyword=value`.

    `node` is the node that spans the whole argument (the `keyword` node for `k=v`, the
    `Starred` node for `*v`), for reports and edits."""

    __slots__ = ("keyword", "node", "star", "value")

    def __init__(self, value: ast.expr, keyword: Optional[str], star: str, node: ast.AST) -> None:
        self.value = value
        self.keyword = keyword
        self.star = star
        self.node = node

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Arg({self.star}{self.keyword or ''}={ast.dump(self.value)})"


def args_of(call: ast.Call) -> tuple[Arg, ...]:
    """The arguments of `call` in source order (positional ones first, as Python requires
    apart from `f(k=1, *rest)`), computed once per call node."""
    cached = call.__dict__.get("_devlint_args")
    if cached is not None:
        return cached
    out = []
    for a in call.args:
        if type(a) is ast.Starred:
            out.append(Arg(a.value, None, "*", a))
        else:
            out.append(Arg(a, None, "", a))
    for k in call.keywords:
        out.append(Arg(k.value, k.arg, "" if k.arg is not None else "**", k))
    if (
        call.keywords
        and len(out) > len(call.keywords)
        and any(type(a) is ast.Starred for a in call.args)
    ):
        # `f(k=1, *rest)`: a keyword before a starred argument
        out.sort(key=lambda a: (a.node.lineno, a.node.col_offset))
    result = tuple(out)
    call.__dict__["_devlint_args"] = result
    return result


def positional(call: ast.Call) -> list[Arg]:
    """Positional arguments without a star."""
    return [a for a in args_of(call) if a.keyword is None and not a.star]


def keyword_value(call: ast.Call, name: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def defaults(args: ast.arguments) -> dict[str, Optional[ast.expr]]:
    """Parameter name -> its default expression (None when it has none)."""
    ordered = [*args.posonlyargs, *args.args]
    out: dict[str, Optional[ast.expr]] = {p.arg: None for p in ordered}
    for p, d in zip(ordered[len(ordered) - len(args.defaults) :], args.defaults):
        out[p.arg] = d
    for p, d in zip(args.kwonlyargs, args.kw_defaults):
        out[p.arg] = d
    return out


def default_of(func: Union[AnyFunctionDef, ast.Lambda], param: ast.arg) -> Optional[ast.expr]:
    """The default of one parameter of `func` (cached per function)."""
    table = func.__dict__.get("_devlint_defaults")
    if table is None:
        table = func.__dict__["_devlint_defaults"] = defaults(func.args)
    return table.get(param.arg)


def all_params(args: ast.arguments) -> list[ast.arg]:
    """Every named parameter: positional-only, ordinary, keyword-only (no `*a`/`**k`)."""
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def is_constant(node: ast.AST, *types: type) -> bool:
    """A literal whose value has exactly one of `types` (`bool` is not an `int` here)."""
    return type(node) is ast.Constant and type(node.value) in types


def unstarred(node: ast.AST) -> ast.AST:
    """`x` of a starred element `*x`, else the node itself."""
    return node.value if type(node) is ast.Starred else node  # type: ignore[attr-defined]


def parses(text: str, filename: str = "<unknown>") -> bool:
    """Does Python's own parser accept `text` (it builds a tree and never runs the code)?
    Warnings about the source (invalid escape sequences...) are not failures."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class Source:
    """The text of a file and character positions of its nodes.

    `ast` counts columns in UTF-8 bytes; editors, SARIF and the fixer count characters,
    so lines that are not ASCII are converted."""

    __slots__ = ("_ascii", "_lines", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: Optional[list[str]] = None
        self._ascii = text.isascii()

    @property
    def lines(self) -> list[str]:
        """Lines with their ends, split where Python's tokenizer splits them (not at form
        feeds and other characters `str.splitlines` also takes for line breaks)."""
        if self._lines is None:
            self._lines = _LINE_RE.findall(self.text)
        return self._lines

    def column(self, line: int, byte_col: int) -> int:
        """The character column of a byte column on a 1-based line."""
        if self._ascii or not 0 < line <= len(self.lines):
            return byte_col
        src = self.lines[line - 1]
        if src.isascii():
            return byte_col
        return len(src.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> Optional[tuple[int, int, int, int]]:
        """(line, column, end line, end column) with 0-based character columns, or None
        for a node the parser did not place (one the engine made up)."""
        line = getattr(node, "lineno", None)
        if line is None:
            return None
        end_line = node.end_lineno  # type: ignore[attr-defined]
        return (
            line,
            self.column(line, node.col_offset),  # type: ignore[attr-defined]
            end_line,
            self.column(end_line, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def segment(self, node: ast.AST) -> str:
        """The exact source of a node (what `ast.unparse` prints, for a made-up node)."""
        span = self.span(node)
        if span is None:
            return ast.unparse(node)
        return self.between(*span)

    def between(self, line: int, col: int, end_line: int, end_col: int) -> str:
        """The source from one position (1-based line, character column) to another."""
        lines = self.lines
        if line == end_line:
            return lines[line - 1][col:end_col]
        parts = [lines[line - 1][col:]]
        parts.extend(lines[line : end_line - 1])
        parts.append(lines[end_line - 1][:end_col])
        return "".join(parts)
