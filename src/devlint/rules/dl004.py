"""DL004 discarded-tensor-move."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import DiscardedMove, FileFacts
from devlint.rules._context import enclosing_loop, only_host_reads_after, read_after
from devlint.rules._fixes import assignment, code, replace
from devlint.rules.base import SAFE, UNSAFE, Fix, Report, Rule

# receivers a moved copy can be assigned back to
_ASSIGNABLE = (cst.Name, cst.Attribute, cst.Subscript)


class DiscardedTensorMove(Rule):
    code = "DL004"
    name = "discarded-tensor-move"
    summary = "`Tensor.to()`/`.cuda()`/`.cpu()` as a bare statement: the moved copy is thrown away."
    why = (
        "Unlike `Module.to()`, `Tensor.to()` is not in place: it returns a new tensor and leaves "
        "the original where it was. As a bare statement the moved copy is discarded, and the next "
        "use of the tensor still sees the old device, raising `RuntimeError: Expected all tensors "
        "to be on the same device` there (far from the real mistake) on a GPU machine. Not "
        "reported when the tensor is afterwards read only where PyTorch takes CPU tensors beside "
        "accelerator ones (the targets and lengths of `F.ctc_loss`, the lengths of "
        "`pack_padded_sequence`): nothing breaks there."
    )
    fix = "Assign the result: `x = x.to(device)`."
    fix_summary = "`x.to(d)` becomes `x = x.to(d)`"
    fix_applicability = (
        "safe for names (locals, parameters, and loop variables the loop body reads after the "
        "move), unsafe for attributes and subscripts; none for other loop variables, for "
        "expressions that cannot be assigned and for attributes that hold a parameter "
        "requiring grad"
    )
    bad = "for x, y in loader:\n    x.to(device)\n    out = model(x)\n"
    good = "for x, y in loader:\n    x = x.to(device)\n    out = model(x)\n"

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for d in facts.discarded_moves:
            receiver_name = d.call.func.value if type(d.call.func) is cst.Attribute else None
            if type(receiver_name) is cst.Name and only_host_reads_after(
                facts, d.node, receiver_name.value
            ):
                # `targets.to(device)` discarded, then `F.ctc_loss(..., targets, ...)`:
                # CTC loss takes its targets and lengths on the CPU; nothing breaks
                continue
            msg = (
                f"`{d.call_text}` returns a moved copy that is discarded; `{d.receiver_text}` "
                "stays where it was, so its next use mixes devices on a GPU machine"
            )
            receiver = d.call.func.value if type(d.call.func) is cst.Attribute else None
            if receiver is not None and type(receiver) not in _ASSIGNABLE:
                # `self.encoder(x).to(dev)`: the moved copy of a value with no name
                help_ = f"use the moved copy: `y = {d.call_text}`, then `y` where it is needed"
            elif d.is_loop_target:
                help_ = f"assign the moved copy and use it: `{d.receiver_text} = {d.call_text}`"
            else:
                help_ = f"assign it: `{d.receiver_text} = {d.call_text}`"
            yield self.report(d.node, msg, help_, fix=self.autofix(facts, d))

    def autofix(self, facts: FileFacts, d: DiscardedMove) -> Optional[Fix]:
        """`x.to(d)` -> `x = x.to(d)`: safe for plain local names; unsafe for attributes and
        subscripts; none for an expression that cannot be assigned (`f(x).to(d)`) and for
        parameter attributes (`self.w = ...` raises for an nn.Parameter); a local that
        requires grad (a model output) rebinds like any other.  A loop variable is rebound
        only where the loop body reads it after the move (`for x, y in loader: x.to(d);
        model(x)`): that repairs those reads, though not the container the loop walks."""
        if d.receiver.requires_grad and d.is_attribute:
            return None
        func = d.call.func
        if type(func) is not cst.Attribute or type(d.node) is not cst.Expr:
            return None
        if d.node.value is not d.call or type(func.value) not in _ASSIGNABLE:
            return None
        if d.is_loop_target:
            name = func.value.value if type(func.value) is cst.Name else None
            loop = enclosing_loop(facts, d.node, name) if name else None
            if loop is None or name is None or not read_after(facts, d.node, loop, name):
                return None
        applicability = UNSAFE if d.is_attribute else SAFE
        return replace(
            applicability,
            f"assign the moved tensor to `{code(facts, func.value)}`",
            d.node,
            assignment(func.value, d.call),
        )
