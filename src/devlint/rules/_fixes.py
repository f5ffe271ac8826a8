"""Building fixes: small rewrites of one node, printed back as source text.

A fix replaces the text of one node (a call, an argument, a literal) with the code of a
modified copy, so the rest of the file, comments and formatting included, is untouched.

Fixes are text operations on the node's source span: a call that gains an argument keeps
its layout (one argument per line, trailing commas, comments), and every new text is
parsed before it is offered.
"""

from __future__ import annotations

import ast
import re
from typing import Optional

from devlint.engine.facts import FileFacts, Mismatch
from devlint.engine.nodes import args_of
from devlint.engine.values import Kind
from devlint.rules._scope import usable_device
from devlint.rules.base import Edit, Fix

Position = tuple[int, int]  # 1-based line, 0-based character column


def code(facts: FileFacts, node: ast.AST) -> str:
    """The exact source of a node (not shortened, unlike `facts.text`): continuation
    lines keep their indentation, so a multi-line call rewritten in place keeps its layout."""
    assert facts.source is not None
    return facts.source.segment(node)


def with_keyword(facts: FileFacts, call: ast.Call, name: str, value: str) -> Optional[str]:
    """`call` with `name=value` appended to its arguments, or None if it cannot be added."""
    return _with_keyword(facts, call, name, value, None)


def with_keyword_renamed(
    facts: FileFacts, call: ast.Call, attr: str, name: str, value: str
) -> Optional[str]:
    """`with_keyword` for `call` with the attribute it calls renamed to `attr`
    (`torch.from_numpy(a)` -> `torch.as_tensor(a, device=d)`), or None."""
    return _with_keyword(facts, call, name, value, attr)


def receiver_code(facts: FileFacts, func: ast.Attribute) -> str:
    """The source of the receiver of `func` (`x` of `x.cuda`), with its parentheses
    (`(a + b)` of `(a + b).cuda`): a fix that writes `<receiver>.to(...)` needs them."""
    return _parenthesized(facts, func.value, _start(facts, func), _end(facts, func))


def value_code(facts: FileFacts, owner: ast.AST) -> str:
    """The source of the value of a `k=v` argument (`ast.keyword`) or of an assignment
    (`ast.Assign`), with its parentheses."""
    value = owner.value  # type: ignore[attr-defined]
    if type(owner) is ast.Assign:
        return _parenthesized(facts, value, _end(facts, owner.targets[-1]), _end(facts, owner))
    return _parenthesized(facts, value, _start(facts, owner), _end(facts, owner))


def simple_expression(text: str) -> bool:
    """A name or dotted attribute (`x`, `self.device`): safe to repeat elsewhere."""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def device_candidates(m: Mismatch, variable_only: bool = False) -> list[str]:
    """Source texts naming the partner's device, best first: the device variable it was
    moved with (`device`, `args.device`), then `x.device` for a tensor partner with a simple
    name (not with `variable_only`: a fix placed before the partner exists cannot name it).
    They are texts from elsewhere in the file: a fix checks they can run where it puts them
    (`fix_device`)."""
    partner = m.partner
    names = [
        a[4:]
        for a in partner.value.device
        if a.startswith("sym:")
        and a not in ("sym:self", "sym:auto")
        and not a.startswith("sym:param:")
    ]
    found = []
    if len(names) == 1 and simple_expression(names[0]) and len(partner.value.device) == 1:
        found.append(names[0])
    if not variable_only and partner.value.kind is Kind.TENSOR and simple_expression(partner.text):
        found.append(f"{partner.text}.device")
    return found


def device_expression(m: Mismatch, variable_only: bool = False) -> Optional[str]:
    """The best text naming the partner's device, for messages (fixes use `fix_device`)."""
    found = device_candidates(m, variable_only)
    return found[0] if found else None


def fix_device(
    facts: FileFacts, m: Mismatch, at: ast.AST, variable_only: bool = False
) -> Optional[str]:
    """The first text naming the partner's device that can be evaluated at `at` (or its
    `self.<attr>` equivalent inside a method), or None: a fix must not raise NameError."""
    for text in device_candidates(m, variable_only):
        usable = usable_device(facts, text, at)
        if usable is not None:
            return usable
    return None


def fallback_device(literal: str) -> Optional[str]:
    """`"cuda" if torch.cuda.is_available() else "cpu"` for a literal accelerator device."""
    kind = literal.split(":", 1)[0]
    check = {
        "cuda": "torch.cuda.is_available()",
        "mps": "torch.backends.mps.is_available()",
        "xpu": "torch.xpu.is_available()",
    }.get(kind)
    if check is None:
        return None
    return f'"{literal}" if {check} else "cpu"'


def is_atom(node: ast.AST) -> bool:
    """An expression that takes `.to(...)` without parentheses."""
    return type(node) in (ast.Name, ast.Attribute, ast.Subscript, ast.Call) or (
        # `True`, `False` and `None`
        type(node) is ast.Constant and (node.value is None or type(node.value) is bool)
    )


def replace(applicability: str, title: str, node: ast.AST, content: str) -> Fix:
    return Fix(applicability, title, (Edit(node, content),))


# ---------------------------------------------------------------- source text


def _with_keyword(
    facts: FileFacts, call: ast.Call, name: str, value: str, attr: Optional[str]
) -> Optional[str]:
    """The text of `call` with `name=value` appended to its arguments (and, with `attr`,
    its called attribute renamed): the new argument without spaces
    around `=`, after `, `; after a trailing comma (one argument per line), the new
    argument takes over the trailing comma and its layout, and the old last argument gets
    the separator between the two last arguments (`, ` when there is one argument)."""
    arguments = args_of(call)
    if any(a.keyword is not None and a.keyword == name for a in arguments):
        return None
    if any(a.star == "**" for a in arguments):
        return None
    try:
        ast.parse(value, mode="eval")
    except (SyntaxError, ValueError):
        return None
    assert facts.source is not None
    span = facts.source.span(call)
    if span is None:
        return None
    text = _between(facts, (span[0], span[1]), (span[2], span[3]))
    if not text.endswith(")"):
        return None
    offset = _Offsets(facts, span[0], span[1])
    close = len(text) - 1  # the parenthesis that closes the arguments
    new = f"{name}={value}"
    nodes = sorted((a.node for a in arguments), key=lambda n: (n.lineno, n.col_offset))
    if not nodes:
        out = text[:close] + new + text[close:]
    else:
        last_start, last_end = offset.of(nodes[-1])
        if last_end > close:
            return None  # `f(x for x in y)`: the generator would need parentheses
        # after the last argument: its closing parentheses, maybe a comma, then whitespace
        # and comments
        gap = _blank_comments(text[last_end:close])
        comma = gap.find(",")
        end = last_end + gap.rfind(")", 0, comma if comma >= 0 else len(gap)) + 1
        if comma < 0:
            out = text[:end] + ", " + text[end:close] + new + text[close:]
        else:
            between = ", "
            if len(nodes) >= 2:
                # the comma after the last but one argument, with its whitespace and
                # comments: from its closing parentheses to the opening ones of the last
                prev_end = offset.of(nodes[-2])[1]
                gap = _blank_comments(text[prev_end:last_start])
                comma = gap.find(",")
                first = gap.rfind(")", 0, comma) + 1
                opening = gap.find("(", comma + 1)
                stop = opening if opening >= 0 else len(gap)
                between = text[prev_end + first : prev_end + stop]
            out = text[:end] + between + new + text[end:close] + text[close:]
    if attr is not None:
        func = call.func
        if type(func) is not ast.Attribute:
            return None
        func_end = offset.of(func)[1]
        if text[func_end - len(func.attr) : func_end] != func.attr:
            return None
        out = out[: func_end - len(func.attr)] + attr + out[func_end:]
    try:
        ast.parse(out, mode="eval")
    except (SyntaxError, ValueError):
        return None
    return out


class _Offsets:
    """Offsets, in the source text of a node that starts at (`line`, `col`), of the
    positions of the nodes inside it."""

    def __init__(self, facts: FileFacts, line: int, col: int) -> None:
        assert facts.source is not None
        self.source = facts.source
        self.line = line
        self.starts = [-col]  # the offset of the start of each line, from `line` on

    def at(self, line: int, col: int) -> int:
        starts, lines = self.starts, self.source.lines
        while len(starts) <= line - self.line:
            previous = self.line + len(starts) - 1
            starts.append(starts[-1] + len(lines[previous - 1]))
        return starts[line - self.line] + col

    def of(self, node: ast.AST) -> tuple[int, int]:
        span = self.source.span(node)
        assert span is not None
        return self.at(span[0], span[1]), self.at(span[2], span[3])


_COMMENT = re.compile(r"#[^\r\n]*")


def _blank_comments(text: str) -> str:
    """`text` with its comments blanked out (for text that holds no string literal)."""
    return _COMMENT.sub(lambda m: " " * len(m.group()), text)


def _between(facts: FileFacts, start: Position, end: Position) -> str:
    """The source from one position to another."""
    assert facts.source is not None
    return facts.source.between(*start, *end)


def _after(facts: FileFacts, start: Position, count: int) -> Position:
    """The position `count` characters after `start`."""
    assert facts.source is not None
    lines = facts.source.lines
    line, col = start
    while line < len(lines) and count >= len(lines[line - 1]) - col:
        count -= len(lines[line - 1]) - col
        line, col = line + 1, 0
    return line, col + count


def _parenthesized(
    facts: FileFacts, node: ast.AST, head_from: Optional[Position], tail_to: Optional[Position]
) -> str:
    """The source of `node` with the parentheses around it (`(a + b)`), which `ast` leaves
    out of its position.  The source from `head_from` to the
    node holds its opening parentheses (after an `=`, if there is one), and that from the
    node to `tail_to` its closing ones: only punctuation, whitespace and comments there."""
    assert facts.source is not None
    span = facts.source.span(node)
    if span is None or head_from is None or tail_to is None:
        return code(facts, node)
    start, end = (span[0], span[1]), (span[2], span[3])
    head = _blank_comments(_between(facts, head_from, start))
    opening = head.rfind("=") + 1
    count = head.count("(", opening)
    if not count:
        return code(facts, node)
    tail = _blank_comments(_between(facts, end, tail_to))
    closing = -1
    for _ in range(count):
        closing = tail.find(")", closing + 1)
        if closing < 0:
            return code(facts, node)
    first = _after(facts, head_from, head.index("(", opening))
    return _between(facts, first, _after(facts, end, closing + 1))


def _start(facts: FileFacts, node: ast.AST) -> Optional[Position]:
    assert facts.source is not None
    span = facts.source.span(node)
    return (span[0], span[1]) if span is not None else None


def _end(facts: FileFacts, node: ast.AST) -> Optional[Position]:
    assert facts.source is not None
    span = facts.source.span(node)
    return (span[2], span[3]) if span is not None else None
