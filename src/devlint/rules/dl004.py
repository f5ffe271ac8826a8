"""DL004 discarded-tensor-move."""

from __future__ import annotations

from typing import Iterator

from devlint.engine.facts import FileFacts
from devlint.rules.base import Report, Rule


class DiscardedTensorMove(Rule):
    code = "DL004"
    name = "discarded-tensor-move"
    summary = "`Tensor.to()`/`.cuda()`/`.cpu()` as a bare statement: the moved copy is thrown away."
    why = (
        "Unlike `Module.to()`, `Tensor.to()` is not in place: it returns a new tensor and leaves "
        "the original where it was. As a bare statement the moved copy is discarded, and the next "
        "use of the tensor still sees the old device, raising `RuntimeError: Expected all tensors "
        "to be on the same device` there (far from the real mistake) on a GPU machine."
    )
    fix = "Assign the result: `x = x.to(device)`."
    bad = "for x, y in loader:\n    x.to(device)\n    out = model(x)\n"
    good = "for x, y in loader:\n    x = x.to(device)\n    out = model(x)\n"

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for d in facts.discarded_moves:
            msg = (
                f"`{d.call_text}` returns a moved copy that is discarded; `{d.receiver_text}` "
                "stays where it was, so its next use mixes devices on a GPU machine"
            )
            if d.is_loop_target:
                help_ = f"assign the moved copy and use it: `{d.receiver_text} = {d.call_text}`"
            else:
                help_ = f"assign it: `{d.receiver_text} = {d.call_text}`"
            yield self.report(d.node, msg, help_)
