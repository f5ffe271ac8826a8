"""DL009 mixed-device-operation."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from devlint.engine.facts import Cause, Context, FileFacts, Mismatch
from devlint.engine.values import describe_device
from devlint.rules._fixes import method_call, quote_call, replace
from devlint.rules._mismatch import SAME_DEVICE_ERROR, move_hint, receiver_text, where
from devlint.rules.base import SAFE, Report, Rule


class MixedDeviceOperation(Rule):
    code = "DL009"
    name = "mixed-device-operation"
    summary = "An operation combines tensors on different devices."
    why = (
        "Operations on two tensors (`torch.cat`, arithmetic, `index_select`, `gather`, a loss's "
        "`weight=`) need both on the same device (only 0-dim CPU tensors and plain indexing with "
        f"CPU indices are exempt). Mixing raises {SAME_DEVICE_ERROR} on a GPU machine. The "
        "other way round, `pack_padded_sequence` reads its `lengths` on the host: lengths on "
        "a GPU raise `RuntimeError: 'lengths' argument should be a 1D CPU int64 tensor` "
        "(PyTorch 1.7 and later)."
    )
    fix = "Move the odd operand to the other's device (`w.to(x.device)`); move loss modules with their weights (`criterion.to(device)`)."
    fix_summary = "the lengths of `pack_padded_sequence` get `.cpu()`"
    fix_applicability = "safe"
    bad = (
        "criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))\n"
        "model = nn.Linear(10, 2).to(device)\n"
        "out = model(x.to(device))\n"
        "loss = criterion(out, y.to(device))\n"
    )
    good = (
        "criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0])).to(device)\n"
        "model = nn.Linear(10, 2).to(device)\n"
        "out = model(x.to(device))\n"
        "loss = criterion(out, y.to(device))\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for m in facts.mismatches:
            if m.cause is not Cause.OTHER or not m.certain:
                continue
            if m.context is Context.MODULE_CALL and m.module_text is not None:
                continue  # DL001
            if m.context is Context.HOST_ARGUMENT:
                yield self.host_lengths_report(m)
                continue
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

    def host_lengths_report(self, m: Mismatch) -> Report:
        """`pack_padded_sequence(x, lengths)` with lengths on an accelerator; the fix
        copies them to the host (what PyTorch asks for, and what every release before 1.7
        did itself)."""
        if m.contract:
            where_ = f"may be on an accelerator ({m.contract})"
        else:
            where_ = f"are on {describe_device(m.culprit.value.device)}"
        along = (
            f", with `{m.partner.text}`"
            if m.partner.value.device == m.culprit.value.device
            else ""
        )
        msg = (
            f"`{m.op_text}` is given the lengths `{m.culprit.text}`, which {where_}{along}; "
            "PyTorch reads the lengths of a packed sequence on the host and raises "
            "`RuntimeError: 'lengths' argument should be a 1D CPU int64 tensor` for lengths "
            "on a GPU"
        )
        lengths = m.culprit.node
        fix = None
        if isinstance(lengths, cst.BaseExpression):
            fix = replace(
                SAFE, f"copy `{m.culprit.text}` to the host", lengths, method_call(lengths, "cpu")
            )
        help_ = f"pass the lengths on the CPU: `{receiver_text(lengths, m.culprit.text)}.cpu()`"
        return self.report(m.node, msg, help_, fix=fix)
