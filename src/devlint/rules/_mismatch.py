"""Shared wording for the rules that report two operands on different devices."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from devlint.engine.facts import Mismatch, Operand
from devlint.engine.values import describe_device, is_cpu
from devlint.rules._fixes import device_expression

SAME_DEVICE_ERROR = "`RuntimeError: Expected all tensors to be on the same device`"


def where(m: Mismatch) -> str:
    """`images` is on the CPU, `model` on `device`."""
    via = f" ({m.culprit.value.via})" if m.culprit.value.via else ""
    return (
        f"`{m.culprit.text}` is on {describe_device(m.culprit.value.device)}"
        f"{'' if m.certain else ' on some paths'}{via}, "
        f"`{m.partner.text}` on {describe_device(m.partner.value.device)}"
    )


def move_hint(m: Mismatch) -> str:
    """The expression that moves the culprit to the partner's device."""
    target = m.partner.text
    moved = f"{_as_receiver(m.culprit)}.to({_device_expr(m)})"
    if is_cpu(m.culprit.value.device):
        return f"`{moved}`"
    return f"`{moved}` (or move `{target}` to the CPU)"


# operands that take a method call as they are (`x.T.to(d)`, `f(x).to(d)`, `x[i].to(d)`);
# any other expression (`a @ b`, `-x`, `a if c else b`) needs parentheses first
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.List)


def _as_receiver(operand: Operand) -> str:
    """The operand's text as the receiver of `.to(...)`."""
    return receiver_text(operand.node, operand.text)


def receiver_text(node: Optional[cst.CSTNode], text: str) -> str:
    """`text`, the source of `node`, as the receiver of a method call (`x.cpu()`,
    `(-x).cpu()`): parenthesized unless it takes one as it is."""
    if node is None or isinstance(node, _ATOMS):
        return text
    if getattr(node, "lpar", ()) and text.startswith("(") and text.endswith(")"):
        return text
    return f"({text})"


def _device_expr(m: Mismatch) -> str:
    """How to name the partner's device in a hint (`device`, `x.device`)."""
    named = device_expression(m)
    if named is not None:
        return named
    if m.partner.value.kind.value == "tensor":
        return f"{m.partner.text}.device"
    return "device"
