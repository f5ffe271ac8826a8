"""Line/column positions of LibCST nodes, computed only for files that have findings.

This is LibCST's `PositionProvider` without the parts devlint does not need: the
generated tokens are not kept and tokens without line breaks skip the regex split, which
makes the one codegen pass over the file markedly cheaper.
"""

from __future__ import annotations

import ast
from typing import Iterable, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

from devlint.engine.walk import walk


class _LeanState(PositionProvidingCodegenState):
    __slots__ = ()

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self._update_position(token)

    def add_token(self, value: str) -> None:
        self._update_position(value)

    def _update_position(self, value: str) -> None:
        if "\n" not in value and "\r" not in value:
            self.column += len(value)
            return
        segments = NEWLINE_RE.split(value)
        self.line += len(segments) - 1
        self.column = len(segments[-1])


def node_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    """Syntactic positions (as `PositionProvider` gives them) of every node in `module`."""
    provider = PositionProvider()
    state = _LeanState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        provider=provider,
    )
    module._codegen(state)
    return provider._computed


def positions_of(
    module: cst.Module, text: str, nodes: Iterable[cst.CSTNode]
) -> Mapping[cst.CSTNode, CodeRange]:
    """Positions of `nodes` (at least), from a codegen pass over only the statements that
    hold them.

    Files with findings usually have them in a few statements, yet a position pass over
    the whole module costs a third of the analysis.  Python's own parser (`ast`, in C)
    gives the line and column where each statement starts, and LibCST gives statements
    exactly those positions; so each statement that holds a wanted node is generated on
    its own, with the indentation of its block, and its positions shifted to where `ast`
    puts it.  Classes and functions are entered when the wanted nodes are in their body.
    Any disagreement (a statement count, an anchor's column, a file `ast` rejects) falls
    back to the whole-module pass, so the result is always the exact positions."""
    wanted = {id(n) for n in nodes}
    if not wanted:
        return {}
    try:
        tree = ast.parse(text)
        found: dict[cst.CSTNode, CodeRange] = {}
        _place_block(module, module.body, tree.body, [], wanted, found)
    except (SyntaxError, ValueError, RecursionError, MemoryError, _Disagree):
        return node_positions(module)
    if len(found) != len(wanted):  # a node outside every statement: take no chances
        return node_positions(module)
    return found


class _Disagree(Exception):
    """LibCST and `ast` do not line up here: use the whole-module pass."""


def _place_block(
    module: cst.Module,
    statements: Sequence[cst.BaseStatement],
    ast_statements: list[ast.stmt],
    indents: list[str],
    wanted: set[int],
    found: dict[cst.CSTNode, CodeRange],
) -> None:
    """Place the wanted nodes under one block's statements (`ast_statements`: the same
    block as `ast` parsed it)."""
    k = 0
    for statement in statements:
        width = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        anchors = ast_statements[k : k + width]
        k += width
        if len(anchors) != width:
            raise _Disagree
        inside = [n for n in walk(statement) if id(n) in wanted]
        if not inside:
            continue
        block = getattr(statement, "body", None)
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and isinstance(
            block, cst.IndentedBlock
        ):
            in_body = {id(n) for s in block.body for n in walk(s) if id(n) in wanted}
            if len(in_body) == len({id(n) for n in inside}):
                anchor = anchors[0]
                if not isinstance(anchor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    raise _Disagree
                indent = block.indent if block.indent is not None else module.default_indent
                _place_block(module, block.body, anchor.body, [*indents, indent], wanted, found)
                continue
        _place_statement(module, statement, anchors[0], indents, inside, found)
    if k != len(ast_statements):
        raise _Disagree


def _place_statement(
    module: cst.Module,
    statement: cst.BaseStatement,
    anchor: ast.stmt,
    indents: list[str],
    inside: list[cst.CSTNode],
    found: dict[cst.CSTNode, CodeRange],
) -> None:
    provider = PositionProvider()
    state = _LeanState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        provider=provider,
        indent_tokens=list(indents),
    )
    statement._codegen(state)
    computed = provider._computed
    first = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else statement
    start = computed[first].start
    if start.column != anchor.col_offset:
        raise _Disagree
    shift = anchor.lineno - start.line
    for node in inside:
        where = computed.get(node)
        if where is not None:
            found[node] = CodeRange(
                CodePosition(where.start.line + shift, where.start.column),
                CodePosition(where.end.line + shift, where.end.column),
            )
