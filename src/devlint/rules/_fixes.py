"""Building fixes: small LibCST rewrites of one node.

A fix replaces one node (a call, an argument, a literal, a statement) with a new node,
mostly a modified copy made with `with_changes`, or inserts a new statement before one.
The checker renders the new node with LibCST in the indentation of its block and puts
the text in the place of the old node's span, so the rest of the file, comments and
formatting included, keeps its bytes.
"""

from __future__ import annotations

from typing import Optional, Sequence

import libcst as cst

from devlint.engine.facts import FileFacts, Mismatch
from devlint.engine.names import dotted
from devlint.engine.values import Kind
from devlint.rules._scope import usable_device
from devlint.rules.base import Edit, Fix


def code(facts: FileFacts, node: cst.CSTNode) -> str:
    """The exact source of a node, without its own parentheses (not shortened, unlike
    `facts.text`): for titles and for texts a fix names."""
    return facts.code(node)


def expression(text: str) -> Optional[cst.BaseExpression]:
    """The expression `text` (a device name, `x.device`, a conditional), or None."""
    try:
        return cst.parse_expression(text)
    except (cst.ParserSyntaxError, RecursionError):
        return None


_NO_SPACE = cst.SimpleWhitespace("")
_SPACE = cst.SimpleWhitespace(" ")


def keyword_arg(name: str, value: cst.BaseExpression) -> cst.Arg:
    """`name=value`, without spaces around `=` (LibCST's default puts them there)."""
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE),
    )


def with_keyword(
    call: cst.Call, name: str, value: str, rename: Optional[str] = None
) -> Optional[cst.Call]:
    """`call` with `name=value` appended to its arguments (and, with `rename`, the
    attribute it calls renamed: `torch.from_numpy(a)` -> `torch.as_tensor(a, ...)`), or
    None if it cannot be added.  After a trailing comma (one argument per line), the new
    argument takes over the trailing comma and its layout, and the old last one the
    separator between the two last arguments."""
    if any(a.keyword is not None and a.keyword.value == name for a in call.args):
        return None
    if any(a.star == "**" for a in call.args):
        return None
    expr = expression(value)
    if expr is None:
        return None
    args = list(call.args)
    if len(args) == 1 and type(args[0].value) is cst.GeneratorExp and not args[0].value.lpar:
        return None  # `f(x for x in y)`: the generator would need parentheses
    new_arg = keyword_arg(name, expr)
    last_comma = args[-1].comma if args else cst.MaybeSentinel.DEFAULT
    if isinstance(last_comma, cst.Comma):
        between = (
            args[-2].comma
            if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma)
            else cst.Comma(whitespace_after=_SPACE)
        )
        args[-1] = args[-1].with_changes(comma=between)
        new_arg = new_arg.with_changes(comma=last_comma)
    elif args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=_SPACE))
    args.append(new_arg)
    fixed = call.with_changes(args=args)
    if rename is not None:
        if type(call.func) is not cst.Attribute:
            return None
        fixed = fixed.with_changes(func=call.func.with_changes(attr=cst.Name(rename)))
    return fixed


def without_parentheses(node: cst.CSTNode) -> cst.CSTNode:
    """`node` less its own parentheses (what its position spans), where it stays valid."""
    if not getattr(node, "lpar", ()):
        return node
    try:
        return node.with_changes(lpar=(), rpar=())
    except cst.CSTValidationError:
        return node


def method_call(
    receiver: cst.BaseExpression, method: str, args: Sequence[cst.Arg] = ()
) -> cst.Call:
    """`receiver.method(args)`, the receiver parenthesized when it needs it."""
    if not is_atom(receiver) and not getattr(receiver, "lpar", ()):
        receiver = receiver.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name(method)), args=args)


def positional(*values: cst.BaseExpression) -> list[cst.Arg]:
    """Positional arguments, separated by `, `."""
    args = [cst.Arg(value=v) for v in values]
    return [a.with_changes(comma=cst.Comma(whitespace_after=_SPACE)) for a in args[:-1]] + args[-1:]


def assignment(target: cst.BaseAssignTargetExpression, value: cst.BaseExpression) -> cst.Assign:
    """`target = value`."""
    return cst.Assign(targets=[cst.AssignTarget(target=target)], value=value)


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


def replace(applicability: str, title: str, node: cst.CSTNode, replacement: cst.CSTNode) -> Fix:
    """A fix that replaces one node with another."""
    return Fix(applicability, title, (Edit(node, replacement),))


def insert_before(
    applicability: str, title: str, node: cst.CSTNode, statement: cst.BaseSmallStatement
) -> Fix:
    """A fix that puts `statement` on a line of its own just before the statement `node`."""
    return Fix(applicability, title, (Edit(node, statement, insert_before=True),))


# --- wording -------------------------------------------------------------------------


def quote_call(facts: FileFacts, call: cst.CSTNode, limit: int = 60) -> str:
    """A call as a message quotes it: whole when it is short, else with its arguments
    elided (`self.encoder(...).cuda()`), so that a chained call keeps its receiver and its
    method rather than losing either to a cut at the end."""
    full = facts.text(call, 1_000_000)
    if len(full) <= limit or type(call) is not cst.Call:
        return full if len(full) <= limit else full[: limit - 3] + "..."
    func = call.func
    tail = "(...)" if call.args else "()"
    if type(func) is not cst.Attribute:
        head = facts.text(func, 1_000_000)
        return head + tail if len(head) + len(tail) <= limit else full[: limit - 3] + "..."
    tail = f".{func.attr.value}{tail}"
    room = max(limit - len(tail), 12)
    return quote_call(facts, func.value, room) + tail


# --- legacy constructors -------------------------------------------------------------

# `torch.<Type>Tensor(...)` and the dtype it makes (None: the default dtype, `torch.Tensor`)
LEGACY_DTYPES: dict[str, Optional[str]] = {
    "Tensor": None,
    "FloatTensor": "torch.float32",
    "DoubleTensor": "torch.float64",
    "HalfTensor": "torch.float16",
    "BFloat16Tensor": "torch.bfloat16",
    "ByteTensor": "torch.uint8",
    "CharTensor": "torch.int8",
    "ShortTensor": "torch.int16",
    "IntTensor": "torch.int32",
    "LongTensor": "torch.int64",
    "BoolTensor": "torch.bool",
}
# an argument that is a size: `torch.FloatTensor(n)` makes an uninitialised tensor of n
_SIZE_METHODS = frozenset({"size", "numel", "dim"})


def legacy_form(call: cst.Call) -> Optional[str]:
    """What a legacy constructor's arguments are: "shape" (`torch.FloatTensor(2, 3)`,
    `torch.Tensor(x.size())`), "data" (`torch.LongTensor([1, 2])`), "array" (data from
    NumPy, which the constructor shares memory with), or None when the code does not
    say (`torch.FloatTensor(n)`: a size or a list?)."""
    # a `device=` it was given (and rejects) says nothing of the form
    args = [a for a in call.args if a.keyword is None or a.keyword.value != "device"]
    if any(a.star or a.keyword is not None for a in args):
        return None
    if len(args) != 1:
        return "shape"  # none: an empty tensor; several: sizes (data is one argument)
    value = args[0].value
    cls = type(value)
    if cls in (cst.List, cst.Tuple, cst.ListComp):
        return "data"
    if cls is cst.Integer:
        return "shape"
    if cls is cst.Subscript and type(value.value) is cst.Attribute:
        return "shape" if value.value.attr.value == "shape" else None
    if cls is cst.Attribute and value.attr.value == "shape":
        return "shape"
    if cls is cst.Call:
        func = value.func
        name = dotted(func) or ""
        if name in ("len", "torch.Size"):
            return "shape"
        if name == "list":
            return "data"
        if name.split(".", 1)[0] in ("np", "numpy"):
            return "array"
        if type(func) is cst.Attribute:
            if func.attr.value in _SIZE_METHODS:
                return "shape"
            if func.attr.value == "tolist":
                return "data"
            if func.attr.value == "numpy":
                return "array"
    return None


def _float_literals(call: cst.Call) -> bool:
    """`torch.Tensor([1.0, 2.5])`: data that `torch.tensor` makes in the default dtype too."""
    value = call.args[0].value
    return type(value) in (cst.List, cst.Tuple) and all(
        type(e.value) is cst.Float
        for e in value.elements  # type: ignore[attr-defined]
    )


def legacy_replacement(call: cst.Call, device: str) -> Optional[tuple[cst.Call, str]]:
    """`torch.FloatTensor([1, 2])` -> `torch.tensor([1, 2], dtype=torch.float32,
    device=...)`, `torch.FloatTensor(2, 3)` -> `torch.empty(2, 3, dtype=torch.float32,
    device=...)`: the same values, dtype and shape, on `device`; with the argument form
    (`legacy_form`).  None when the form cannot be told or the call is not `torch.<Type>Tensor`."""
    func = call.func
    if (
        type(func) is not cst.Attribute
        or type(func.value) is not cst.Name
        or func.value.value != "torch"
        or func.attr.value not in LEGACY_DTYPES
    ):
        return None
    form = legacy_form(call)
    if form is None:
        return None
    dtype = LEGACY_DTYPES[func.attr.value]
    new = call
    if form == "shape":
        factory = "empty"
        if not call.args:
            new = call.with_changes(args=[cst.Arg(cst.Integer("0"))])
    else:
        factory = "tensor"
        if dtype is None and not (form == "data" and _float_literals(call)):
            dtype = "torch.get_default_dtype()"
    if dtype is not None:
        new = with_keyword(new, "dtype", dtype)  # type: ignore[assignment]
        if new is None:
            return None
    new = _with_device(new, device)  # type: ignore[assignment]
    if new is None:
        return None
    return new.with_changes(func=func.with_changes(attr=cst.Name(factory))), form


def _with_device(call: cst.Call, device: str) -> Optional[cst.Call]:
    """`call` with `device=device`: an existing `device=` argument (a legacy constructor
    given one, which it rejects) gets the new value where it stands."""
    args = list(call.args)
    for i, a in enumerate(args):
        if a.keyword is not None and a.keyword.value == "device":
            expr = expression(device)
            if expr is None:
                return None
            args[i] = a.with_changes(value=expr)
            return call.with_changes(args=args)
    return with_keyword(call, "device", device)
