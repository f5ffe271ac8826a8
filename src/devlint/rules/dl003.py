"""DL003 batch-not-moved-in-loop."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import Cause, FileFacts, Mismatch
from devlint.engine.values import describe_device
from devlint.rules._fixes import (
    assignment,
    code,
    expression,
    fix_device,
    insert_before,
    method_call,
    positional,
    without_parentheses,
)
from devlint.rules._mismatch import SAME_DEVICE_ERROR, move_hint
from devlint.rules._scope import usable_device
from devlint.rules.base import UNSAFE, Fix, Report, Rule


class BatchNotMovedInLoop(Rule):
    code = "DL003"
    name = "batch-not-moved-in-loop"
    summary = "A batch element from a data loader reaches a device-placed model or tensor unmoved."
    why = (
        "A DataLoader yields CPU tensors. When the model (or the tensor it meets) has been moved "
        "to an accelerator, every element of the batch the step uses (inputs, labels, masks, dict "
        f"entries) must be moved too, or the step raises {SAME_DEVICE_ERROR} on the first batch "
        "on a GPU machine. Moves on one branch only, or only in the training loop but not the "
        "validation loop, fail the same way. A loader known only by name (a parameter) is "
        "taken to yield CPU batches when another loop of the same function or class over such "
        "a loader moves its batches."
    )
    fix = "Move every element at the top of the loop body: `x, y = x.to(device), y.to(device)`."
    fix_summary = 'insert `x = x.to(device)` (or `batch["k"] = batch["k"].to(device)`) at the top of the loop body'
    fix_applicability = "unsafe"
    bad = (
        "model = nn.Linear(10, 2).to(device)\n"
        "criterion = nn.CrossEntropyLoss()\n"
        "for x, y in loader:\n"
        "    x = x.to(device)\n"
        "    loss = criterion(model(x), y)\n"
    )
    good = (
        "model = nn.Linear(10, 2).to(device)\n"
        "criterion = nn.CrossEntropyLoss()\n"
        "for x, y in loader:\n"
        "    x, y = x.to(device), y.to(device)\n"
        "    loss = criterion(model(x), y)\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for m in facts.mismatches:
            if m.cause is not Cause.BATCH:
                continue
            paths = "" if m.certain else " on some paths (it is moved on one branch only)"
            msg = (
                f"batch element `{m.culprit.text}` is still on the CPU{paths} but meets "
                f"`{m.partner.text}` on {describe_device(m.partner.value.device)}; the step raises "
                f"{SAME_DEVICE_ERROR} on the first batch on a GPU machine"
            )
            help_ = (
                f"move it at the top of the loop body: `{m.culprit.text} = {move_hint(m)[1:-1]}`"
            )
            yield self.report(m.node, msg, help_, fix=self.autofix(facts, m))

    def autofix(self, facts: FileFacts, m: Mismatch) -> Optional[Fix]:
        """Insert `x = x.to(device)` (or `batch["k"] = batch["k"].to(device)`) at the top of
        the loop body, when `x` is a loop target or an entry of one; unsafe (the device is
        the one the model uses, which may not be what the author intended)."""
        node, first = m.culprit.node, m.loop_first
        if node is None or first is None:
            return None
        dev = fix_device(facts, m, first, variable_only=True)
        if dev is None and len(m.sibling_devices) == 1:
            # the model came in as a parameter: the device the rest of the batch goes to
            dev = usable_device(facts, m.sibling_devices[0], first)
        if dev is None:
            return None
        if isinstance(node, cst.Name):
            base = node.value
        elif (
            isinstance(node, cst.Subscript)
            and isinstance(node.value, cst.Name)
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
            and isinstance(node.slice[0].slice.value, cst.SimpleString)
        ):
            base = node.value.value
        else:
            return None
        if base not in m.loop_targets:
            return None
        device = expression(dev)
        if device is None:
            return None
        target = without_parentheses(node)
        return insert_before(
            UNSAFE,
            f"move `{code(facts, node)}` to `{dev}` at the top of the loop",
            first,
            assignment(target, method_call(target, "to", positional(device))),
        )
