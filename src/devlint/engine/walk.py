"""Fast read-only traversal of LibCST trees.

`CSTNode.visit()` rebuilds every node it passes (it is built for transformers) and
`node.children` runs a visitor per call; both cost more than parsing on large files.
The engine only reads trees, so it walks the dataclass fields directly.
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

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


# Within one file's analysis the pre-scans walk the same functions again and again (what
# a function calls, which tensors it uses, what it stores, which parameters it moves):
# `remembering()` keeps each walk's node list until the analysis ends (per thread: the
# language server analyses buffers in threads of its own).
_Memo = dict[tuple[int, bool], tuple[cst.CSTNode, list[cst.CSTNode]]]
_local = threading.local()


@contextmanager
def remembering() -> Iterator[None]:
    """Walks inside this block are computed once per (node, into_functions)."""
    outer: Optional[_Memo] = getattr(_local, "memo", None)
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = outer


def walk(node: cst.CSTNode, *, into_functions: bool = True) -> Iterable[cst.CSTNode]:
    """Every node under `node` (pre-order); nested defs are skipped unless asked for."""
    memo: Optional[_Memo] = getattr(_local, "memo", None)
    if memo is None:
        return _walk(node, into_functions)
    key = (id(node), into_functions)
    hit = memo.get(key)
    if hit is None:
        # the entry holds the node, so its id cannot be reused while the entry lives
        hit = memo[key] = (node, list(_walk(node, into_functions)))
    return hit[1]


def _walk(node: cst.CSTNode, into_functions: bool) -> Iterator[cst.CSTNode]:
    """`iter_children` inlined: this is the hottest loop of the analysis."""
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
