"""Fast read-only traversal of `ast` trees.

`ast.walk` is breadth-first and `ast.iter_child_nodes` is a generator per node; the
engine walks every scope several times and wants source order, so it keeps its own
pre-order walk over each class's node-bearing fields (expression contexts, operators
and plain values are left out).
"""

from __future__ import annotations

import ast
from typing import Iterator

from devlint.engine.nodes import DEFS

_FIELDS: dict[type, tuple[str, ...]] = {}
# fields that never hold nodes the analysis looks at
_SKIPPED = frozenset(("ctx", "op", "ops", "type_comment", "kind", "level", "is_async"))


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _SKIPPED)
    return names


def iter_children(node: ast.AST) -> Iterator[ast.AST]:
    for name in _fields(type(node)):
        value = getattr(node, name, None)
        if type(value) is list:
            for item in value:
                if isinstance(item, ast.AST):
                    yield item
        elif isinstance(value, ast.AST):
            yield value


_DEFS = frozenset(DEFS)


def walk(node: ast.AST, *, into_functions: bool = True) -> Iterator[ast.AST]:
    """Every node under `node` (pre-order, in source order); nested defs are skipped
    unless asked for.  `iter_children` inlined: this is the hottest loop of the analysis."""
    stack = [node]
    pop, push = stack.pop, stack.append
    fields = _FIELDS
    node_type = ast.AST
    while stack:
        current = pop()
        yield current
        cls = type(current)
        if not into_functions and cls in _DEFS and current is not node:
            continue
        names = fields.get(cls) or _fields(cls)
        mark = len(stack)
        for name in names:
            value = getattr(current, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        push(item)
            elif isinstance(value, node_type):
                push(value)
        if len(stack) - mark > 1:
            stack[mark:] = stack[mark:][::-1]  # children in source order when popped


def walk_body(statements: list[ast.stmt], *, into_functions: bool = True) -> Iterator[ast.AST]:
    """`walk` over a block of statements; without `into_functions`, defs that are
    statements of the block are skipped entirely, like the ones nested deeper."""
    for stmt in statements:
        if not into_functions and type(stmt) in _DEFS:
            continue
        yield from walk(stmt, into_functions=into_functions)
