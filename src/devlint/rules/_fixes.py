"""Building fixes: small LibCST rewrites of one node, printed back as source text.

A fix replaces the text of one node (a call, an argument, a literal) with the code of a
modified copy, so the rest of the file, comments and formatting included, is untouched.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from devlint.engine.facts import FileFacts, Mismatch
from devlint.engine.values import Kind
from devlint.rules._scope import usable_device
from devlint.rules.base import Edit, Fix


def code(facts: FileFacts, node: cst.CSTNode) -> str:
    """The exact source of a node (not shortened, unlike `facts.text`)."""
    assert facts.module is not None
    return facts.module.code_for_node(node)


def with_keyword(facts: FileFacts, call: cst.Call, name: str, value: str) -> Optional[str]:
    """`call` with `name=value` appended to its arguments, or None if it cannot be added."""
    if any(a.keyword is not None and a.keyword.value == name for a in call.args):
        return None
    if any(a.star == "**" for a in call.args):
        return None
    try:
        expr = cst.parse_expression(value)
    except cst.ParserSyntaxError:
        return None
    args = list(call.args)
    new_arg = cst.Arg(
        value=expr,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    last_comma = args[-1].comma if args else cst.MaybeSentinel.DEFAULT
    if isinstance(last_comma, cst.Comma):
        # a trailing comma (usually one argument per line): the new argument takes over
        # the trailing comma and its layout, the old last one the layout of its neighbour
        between = (
            args[-2].comma
            if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma)
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
        args[-1] = args[-1].with_changes(comma=between)
        new_arg = new_arg.with_changes(comma=last_comma)
    elif args:
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
    args.append(new_arg)
    return code(facts, call.with_changes(args=args))


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
    facts: FileFacts, m: Mismatch, at: cst.CSTNode, variable_only: bool = False
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


def is_atom(node: cst.CSTNode) -> bool:
    """An expression that takes `.to(...)` without parentheses."""
    return isinstance(node, (cst.Name, cst.Attribute, cst.Subscript, cst.Call))


def replace(applicability: str, title: str, node: cst.CSTNode, content: str) -> Fix:
    return Fix(applicability, title, (Edit(node, content),))
