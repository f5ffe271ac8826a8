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


def walk(node: cst.CSTNode, *, into_functions: bool = True) -> Iterator[cst.CSTNode]:
    """Every node under `node` (pre-order); nested defs are skipped unless asked for."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if (
            not into_functions
            and current is not node
            and isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda))
        ):
            continue
        children = list(iter_children(current))
        children.reverse()
        stack.extend(children)
