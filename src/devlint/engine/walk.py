"""Fast read-only traversal of LibCST trees.

`CSTNode.visit()` rebuilds every node it passes (it is built for transformers) and
`node.children` runs a visitor per call; both cost more than parsing on large files.
The engine only reads trees, so it walks the dataclass fields directly.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not f.name.startswith(("whitespace", "lpar", "rpar", "comma", "semicolon"))
            and f.name not in ("header", "footer", "leading_lines", "lines_after_decorators")
        )
        _FIELDS[cls] = names
    return names


_IS_NODE: dict[type, bool] = {}


def _is_node(cls: type) -> bool:
    # `isinstance(x, cst.CSTNode)` goes through ABC machinery: cache the answer per type
    known = _IS_NODE.get(cls)
    if known is None:
        known = _IS_NODE[cls] = issubclass(cls, cst.CSTNode)
    return known


def iter_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _fields(type(node)):
        value = getattr(node, name)
        cls = type(value)
        if cls is tuple or cls is list:
            for item in value:
                if _is_node(type(item)):
                    yield item
        elif _is_node(cls):
            yield value


# Concrete node classes, compared by type: `isinstance` on LibCST's classes goes through
# ABCMeta, several times slower, and `walk` runs over every node of a file several times.
_DEFS = frozenset((cst.FunctionDef, cst.ClassDef, cst.Lambda))


def walk(node: cst.CSTNode, *, into_functions: bool = True) -> Iterator[cst.CSTNode]:
    """Every node under `node` (pre-order); nested defs are skipped unless asked for.

    `iter_children` inlined: this is the hottest loop of the analysis."""
    stack = [node]
    pop, push = stack.pop, stack.append
    fields, is_node = _FIELDS, _IS_NODE
    while stack:
        current = pop()
        yield current
        cls = type(current)
        if not into_functions and cls in _DEFS and current is not node:
            continue
        names = fields.get(cls) or _fields(cls)
        mark = len(stack)
        for name in names:
            value = getattr(current, name)
            vcls = type(value)
            if vcls is tuple or vcls is list:
                for item in value:
                    icls = type(item)
                    known = is_node.get(icls)
                    if known is None:
                        known = _is_node(icls)
                    if known:
                        push(item)
            else:
                known = is_node.get(vcls)
                if known is None:
                    known = _is_node(vcls)
                if known:
                    push(value)
        if len(stack) - mark > 1:
            stack[mark:] = stack[mark:][::-1]  # children in source order when popped
