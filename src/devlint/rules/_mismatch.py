"""Shared wording for the rules that report two operands on different devices."""

from __future__ import annotations

from devlint.engine.facts import Mismatch
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
    if is_cpu(m.culprit.value.device):
        return f"`{m.culprit.text}.to({_device_expr(m)})`"
    return f"`{m.culprit.text}.to({_device_expr(m)})` (or move `{target}` to the CPU)"


def _device_expr(m: Mismatch) -> str:
    """How to name the partner's device in a hint (`device`, `x.device`)."""
    named = device_expression(m)
    if named is not None:
        return named
    if m.partner.value.kind.value == "tensor":
        return f"{m.partner.text}.device"
    return "device"
