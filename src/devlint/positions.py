"""Line/column positions of LibCST nodes, computed only for files that have findings.

This is LibCST's `PositionProvider` without the parts devlint does not need: one codegen
pass over the module that keeps no generated text, records only the nodes asked for
(with the block indentation around each, which a fix rendered in their place needs) and
stops after the statement that holds the last of them.  Tokens without line breaks skip
the newline split.  All of that makes it several times cheaper than the metadata
provider, which `tests/test_positions.py` checks it against.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange
from libcst.metadata.position_provider import NEWLINE_RE


@dataclass(frozen=True)
class Placed:
    """Where a node is: its syntactic range (as `PositionProvider` gives it, 1-based
    lines, 0-based character columns) and the indentation of the blocks around it."""

    range: CodeRange
    indent_tokens: tuple[str, ...]

    @property
    def start(self) -> CodePosition:
        return self.range.start

    @property
    def end(self) -> CodePosition:
        return self.range.end


class _Nothing:
    """The context `_LeanState.record_syntactic_position` gives a node not asked for."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NOTHING = _Nothing()


@dataclass
class _LeanState(CodegenState):
    wanted: frozenset[int] = frozenset()
    found: dict[int, Placed] = field(default_factory=dict)
    line: int = 1
    column: int = 0
    _starts: list[tuple[int, int]] = field(default_factory=list)
    # children whose positions a wanted node's range is taken from (`start_node`)
    _hoisted: set[int] = field(default_factory=set)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self._advance(token)

    def add_token(self, value: str) -> None:
        if not self.tokens:
            self.tokens.append(value)  # only whether anything was generated is read
        self._advance(value)

    def _advance(self, value: str) -> None:
        if "\n" not in value and "\r" not in value:
            self.column += len(value)
            return
        segments = NEWLINE_RE.split(value)
        self.line += len(segments) - 1
        self.column = len(segments[-1])

    def _record(self, node: cst.CSTNode, start: tuple[int, int]) -> None:
        self.found[id(node)] = Placed(
            CodeRange(CodePosition(*start), CodePosition(self.line, self.column)),
            tuple(self.indent_tokens),
        )

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop()
        # a syntactic position (recorded first, inside the node's codegen) takes precedence
        key = id(node)
        if (key in self.wanted or key in self._hoisted) and key not in self.found:
            self._record(node, start)

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> AbstractContextManager[None]:
        # most nodes are not asked for: nothing to record, and no generator to run
        if id(node) not in self.wanted and id(node) not in self._hoisted:
            return _NOTHING
        return self._record_wanted(node, start_node, end_node)

    @contextmanager
    def _record_wanted(
        self,
        node: cst.CSTNode,
        start_node: Optional[cst.CSTNode],
        end_node: Optional[cst.CSTNode],
    ) -> Iterator[None]:
        start = (self.line, self.column)
        for child in (start_node, end_node):
            if child is not None:
                self._hoisted.add(id(child))
        try:
            yield
        finally:
            self._record(node, start)
            if start_node is not None or end_node is not None:
                # LibCST takes the range of a statement line or a definition from
                # its first and last children (decorators, small statements)
                placed = self.found[id(node)]
                first = self.found.get(id(start_node)) if start_node is not None else None
                last = self.found.get(id(end_node)) if end_node is not None else None
                self.found[id(node)] = Placed(
                    CodeRange(
                        first.range.start if first else placed.range.start,
                        last.range.end if last else placed.range.end,
                    ),
                    placed.indent_tokens,
                )


def positions_of(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, Placed]:
    """Positions of `nodes`, by node id, from one codegen pass over `module`.

    A statement line or a definition gets its range from its children, as LibCST
    gives it (the first small statement or decorator to the last)."""
    wanted = frozenset(id(n) for n in nodes)
    if not wanted:
        return {}
    state = _LeanState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        wanted=wanted,
    )
    if id(module) in wanted:
        module._codegen(state)
        return {k: v for k, v in state.found.items() if k in wanted}
    # Module's own codegen, statement by statement, stopping once every wanted node is
    # placed: what follows the last of them cannot move them
    for line in module.header:
        line._codegen(state)
    for statement in module.body:
        statement._codegen(state)
        if wanted.issubset(state.found):
            break
    else:
        for line in module.footer:
            line._codegen(state)
    return {k: v for k, v in state.found.items() if k in wanted}


def render(module: cst.Module, node: cst.CSTNode, indent_tokens: Iterable[str] = ()) -> str:
    """The code LibCST generates for `node` inside blocks indented by `indent_tokens`:
    continuation lines inside brackets keep the block's indentation, which
    `Module.code_for_node` (rendering as if at module level) drops."""
    state = CodegenState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        indent_tokens=list(indent_tokens),
    )
    node._codegen(state)
    return "".join(state.tokens)
