"""Fast read-only traversal of LibCST trees.

`CSTNode.visit()` rebuilds every node it passes (it is built for transformers) and
`node.children` runs a visitor per call; both cost more than parsing on large files.
The engine only reads trees, so it walks the dataclass fields directly.
"""

from __future__ import annotations

import dataclasses
import threading
import typing
from bisect import bisect_left, bisect_right
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}

# Fields that never hold a node the analysis asks about: text and flags (`Name.value`),
# and punctuation (the dot of an attribute, the `=` of a keyword, brackets, colons, line
# ends).  A quarter of a module's nodes are punctuation; no walk looks for them, so
# leaving them out makes every walk (and the one layout behind them) that much shorter.
_PUNCTUATION = (
    cst.Dot,
    cst.AssignEqual,
    cst.Colon,
    cst.TrailingWhitespace,
    cst.Newline,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.LeftParen,
    cst.RightParen,
)
_NOT_NODES = frozenset((str, bool, int, cst.MaybeSentinel))


def _holds_nodes(declared: object) -> bool:
    """Whether a field declared `declared` can hold a node other than punctuation."""
    if declared in _NOT_NODES:
        return False
    if isinstance(declared, type):
        return not issubclass(declared, _PUNCTUATION)
    args = getattr(declared, "__args__", None)
    if getattr(declared, "__origin__", None) is typing.Literal:
        return False
    if not args:
        return True  # a forward reference or a form not known here: keep it
    return any(arg is not type(None) and _holds_nodes(arg) for arg in args)


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not f.name.startswith(("whitespace", "lpar", "rpar", "comma", "semicolon"))
            and f.name not in ("header", "footer", "leading_lines", "lines_after_decorators")
            and _holds_nodes(f.type)
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
# together they visited each node of pytorch/examples about 2.7 times.  `remembering(module)`
# lays the module out once in pre-order (`_Layout`), so that a walk of any node under it is
# a slice of that list (minus the subtrees of nested defs where asked), and keeps each
# walk's node list until the analysis ends (per thread: the language server analyses
# buffers in threads of its own).
_Memo = dict[tuple[int, bool], tuple[cst.CSTNode, list[cst.CSTNode]]]
_local = threading.local()


class _Layout:
    """One module's nodes in pre-order (`order`), each node's position (`start`, by id)
    and the size of its subtree (`size`), and the positions of the defs (`defs`, sorted).
    Built lazily, by the first walk that needs it; the module it holds keeps every id
    valid while the layout lives."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.order: list[cst.CSTNode] = []
        self.size: list[int] = []
        self.start: dict[int, int] = {}
        self.defs: list[int] = []
        self.built = False

    def build(self) -> None:
        # the loop of `_walk`, inlined again on purpose (it is the hottest loop of the
        # analysis), recording each node's parent as well
        order, parents = self.order, []
        append, parent_of = order.append, parents.append
        stack: list[tuple[cst.CSTNode, int]] = [(self.module, -1)]
        pop, push = stack.pop, stack.append
        fields, is_node, defs = _FIELDS, _IS_NODE, self.defs
        while stack:
            current, parent = pop()
            index = len(order)
            append(current)
            parent_of(parent)
            cls = type(current)
            if cls in _DEFS:
                defs.append(index)
            mark = len(stack)
            for name in fields.get(cls) or _fields(cls):
                value = getattr(current, name)
                vcls = type(value)
                if vcls is tuple or vcls is list:
                    for item in value:
                        icls = type(item)
                        known = is_node.get(icls)
                        if known is None:
                            known = _is_node(icls)
                        if known:
                            push((item, index))
                else:
                    known = is_node.get(vcls)
                    if known is None:
                        known = _is_node(vcls)
                    if known:
                        push((value, index))
            if len(stack) - mark > 1:
                stack[mark:] = stack[mark:][::-1]  # children in source order when popped
        size = [1] * len(order)
        for index in range(len(order) - 1, 0, -1):
            size[parents[index]] += size[index]
        self.size = size
        self.start = {id(node): index for index, node in enumerate(order)}
        self.built = True

    def nodes(self, node: cst.CSTNode, into_functions: bool) -> Optional[list[cst.CSTNode]]:
        """What `_walk(node, into_functions)` yields, or None for a node outside the
        module (one the analysis built itself)."""
        if not self.built:
            self.build()
        start = self.start.get(id(node))
        if start is None or self.order[start] is not node:
            return None
        end = start + self.size[start]
        order = self.order
        if into_functions:
            return order[start:end]
        defs, size = self.defs, self.size
        out: list[cst.CSTNode] = []
        at = bisect_right(defs, start)
        cursor = start
        while at < len(defs) and defs[at] < end:
            nested = defs[at]
            out.extend(order[cursor : nested + 1])  # the def itself, not its body
            cursor = nested + size[nested]
            at = bisect_left(defs, cursor, at)
        out.extend(order[cursor:end])
        return out


@contextmanager
def remembering(module: Optional[cst.Module] = None) -> Iterator[None]:
    """Walks inside this block are computed once per (node, into_functions); with
    `module`, walks of its nodes are slices of one pre-order layout of it."""
    outer = getattr(_local, "memo", None), getattr(_local, "layout", None)
    _local.memo = {}
    _local.layout = _Layout(module) if module is not None else None
    try:
        yield
    finally:
        _local.memo, _local.layout = outer


def walk(node: cst.CSTNode, *, into_functions: bool = True) -> Iterable[cst.CSTNode]:
    """Every node under `node` (pre-order); nested defs are skipped unless asked for."""
    memo: Optional[_Memo] = getattr(_local, "memo", None)
    if memo is None:
        return _walk(node, into_functions)
    key = (id(node), into_functions)
    hit = memo.get(key)
    if hit is None:
        layout: Optional[_Layout] = _local.layout
        nodes = layout.nodes(node, into_functions) if layout is not None else None
        if nodes is None:
            nodes = list(_walk(node, into_functions))
        # the entry holds the node, so its id cannot be reused while the entry lives
        hit = memo[key] = (node, nodes)
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
