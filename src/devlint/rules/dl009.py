"""DL009 mixed-device-operation."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from devlint.engine.facts import Cause, Context, FileFacts
from devlint.engine.values import describe_device
from devlint.rules._fixes import quote_call
from devlint.rules._mismatch import SAME_DEVICE_ERROR, move_hint, where
from devlint.rules.base import Report, Rule


class MixedDeviceOperation(Rule):
    code = "DL009"
    name = "mixed-device-operation"
    summary = "An operation combines tensors on different devices."
    why = (
        "Operations on two tensors (`torch.cat`, arithmetic, `index_select`, `gather`, a loss's "
        "`weight=`) need both on the same device (only 0-dim CPU tensors and plain indexing with "
        f"CPU indices are exempt). Mixing raises {SAME_DEVICE_ERROR} on a GPU machine."
    )
    fix = "Move the odd operand to the other's device (`w.to(x.device)`); move loss modules with their weights (`criterion.to(device)`)."
    bad = (
        "weights = torch.tensor([1.0, 3.0])\n"
        "model = nn.Linear(10, 2).to(device)\n"
        "out = model(x.to(device))\n"
        "loss = F.cross_entropy(out, y.to(device), weight=weights)\n"
    )
    good = (
        "weights = torch.tensor([1.0, 3.0], device=device)\n"
        "model = nn.Linear(10, 2).to(device)\n"
        "out = model(x.to(device))\n"
        "loss = F.cross_entropy(out, y.to(device), weight=weights)\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for m in facts.mismatches:
            if m.cause is not Cause.OTHER or not m.certain:
                continue
            if m.context is Context.MODULE_CALL and m.module_text is not None:
                continue  # DL001
            if m.context is Context.LOSS_WEIGHT and m.culprit.text == m.op_text:
                # a loss module built with a CPU weight and never moved
                msg = (
                    f"loss `{m.op_text}` keeps its class weight on the CPU (the module was never "
                    f"moved) but its inputs (`{m.partner.text}`) are on "
                    f"{describe_device(m.partner.value.device)}; the call raises {SAME_DEVICE_ERROR}"
                    " on a GPU machine"
                )
                help_ = f"move the loss module with its weight: `{m.op_text}.to(device)`"
            elif m.context is Context.LOSS_WEIGHT:
                msg = (
                    f"loss weight `{m.culprit.text}` is on the CPU but the loss inputs "
                    f"(`{m.partner.text}`) are on {describe_device(m.partner.value.device)}; "
                    f"`{m.op_text}` raises {SAME_DEVICE_ERROR} on a GPU machine"
                )
                help_ = f"create or move the weight on the inputs' device: {move_hint(m)}"
            else:
                op = m.op_text
                if op.startswith(".") and isinstance(m.node, cst.Call):
                    op = quote_call(facts, m.node)  # `log_probs.gather(...)`, not `.gather()`
                msg = f"`{op}` mixes devices: {where(m)}; it raises {SAME_DEVICE_ERROR} on a GPU machine"
                help_ = f"move it to the other operand's device: {move_hint(m)}"
            yield self.report(m.node, msg, help_)
