"""DL001 module-input-device-mismatch."""

from __future__ import annotations

from typing import Iterator, Optional

from devlint.engine.facts import Cause, Context, FileFacts, Mismatch
from devlint.engine.values import Kind, describe_device, is_cpu
from devlint.rules._fixes import (
    expression,
    fix_device,
    method_call,
    positional,
    replace,
    without_parentheses,
)
from devlint.rules._mismatch import SAME_DEVICE_ERROR, move_hint
from devlint.rules.base import UNSAFE, Fix, Report, Rule


class ModuleInputDeviceMismatch(Rule):
    code = "DL001"
    name = "module-input-device-mismatch"
    summary = "A module on one device is called with a tensor on another."
    why = (
        "A module's parameters live where the module was moved; its input must be on the same "
        "device. Calling a GPU model with a CPU tensor (or a CPU model with a GPU tensor) raises "
        f"{SAME_DEVICE_ERROR} on any machine with a GPU, even though it runs on a laptop. A "
        "layer that a public function of library code builds for itself (`nn.Conv2d(...)` in "
        "its body) and applies to its tensor parameter is on the CPU where no caller can move "
        "it: callers that pass an accelerator tensor fail."
    )
    fix = "Move the input to the module's device (`x = x.to(device)`), or move the module."
    fix_summary = "move the input at the call: `model(x.to(device))`"
    fix_applicability = "unsafe"
    bad = (
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "model = Net().to(device)\n"
        "images, labels = next(iter(loader))\n"
        "preds = model(images)\n"
    )
    good = (
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "model = Net().to(device)\n"
        "images, labels = next(iter(loader))\n"
        "preds = model(images.to(device))\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for m in facts.mismatches:
            if m.context is not Context.MODULE_CALL or m.cause is not Cause.OTHER or not m.certain:
                continue
            if m.module_text is None:
                continue
            if m.grafted:
                moved_to = frozenset(a for a in m.partner.value.device if a != "cpu")
                where = describe_device(moved_to or m.partner.value.device)
                msg = (
                    f"`{m.grafted}` is a new layer on the CPU, set after `{m.module_text}` was "
                    f"moved to {where}: `{m.module_text}` is now partly on the CPU, and its "
                    f"call with `{m.partner.text}` raises {SAME_DEVICE_ERROR} on a GPU machine"
                )
                help_ = (
                    f"move the new layer too (`{m.grafted}.to(...)` on the model's device), or "
                    f"set it before moving `{m.module_text}`"
                )
                yield self.report(m.node, msg, help_)
                continue
            if m.culprit.text == m.module_text:
                # the module is the odd one out: left on the CPU while its input was moved
                msg = (
                    f"`{m.module_text}` is still on the CPU but its input `{m.partner.text}` is on "
                    f"{describe_device(m.partner.value.device)}; the call raises "
                    f"{SAME_DEVICE_ERROR} on a GPU machine"
                )
                if m.contract:
                    msg += f" ({m.contract}, and `{m.module_text}` is built here, on the CPU)"

                help_ = f"move the module first: `{m.module_text}.to({m.partner.text}.device)`"
            else:
                side = (
                    "still on the CPU"
                    if is_cpu(m.culprit.value.device)
                    else (f"on {describe_device(m.culprit.value.device)}")
                )
                msg = (
                    f"`{m.module_text}` is on {describe_device(m.partner.value.device)} but its input "
                    f"`{m.culprit.text}` is {side}; the call raises {SAME_DEVICE_ERROR} "
                    "on a GPU machine"
                )
                help_ = f"move the input first: {move_hint(m)}"
            yield self.report(m.node, msg, help_, fix=self.autofix(facts, m))

    def autofix(self, facts: FileFacts, m: Mismatch) -> Optional[Fix]:
        """Move the input at the call (`model(x.to(device))`): unsafe, since other uses of
        the input keep the old device."""
        node = m.culprit.node
        dev = fix_device(facts, m, node) if node is not None else None
        if node is None or dev is None or m.culprit.text == m.module_text:
            return None
        if m.culprit.value.kind is not Kind.TENSOR:
            return None
        target = expression(dev)
        if target is None:
            return None
        moved = method_call(without_parentheses(node), "to", positional(target))
        return replace(UNSAFE, f"move `{m.culprit.text}` to `{dev}` at the call", node, moved)
