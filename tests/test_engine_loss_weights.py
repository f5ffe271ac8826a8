"""A loss's `weight=` made by a factory without `device=` (issue 14): the root cause is the
factory (DL005, like any CPU factory meeting an accelerator tensor), so a library's contract
with its callers applies to it, and a weight passed to a helper that hands it to the loss is
reported at the factory, naming the helper.  A loss module built with a CPU weight and never
moved stays DL009 (the fix moves the module)."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

TASK = """\
import torch
import torch.nn.functional as F


class Task:
    def __init__(self, model):
        self.model = model

    def frame_loss(self, prediction, target, weight=None):
        return F.binary_cross_entropy(prediction, target, weight=weight)

    def step(self, batch):
        prediction = self.model(batch["X"])
        weight = batch.get("weight", torch.ones(prediction.shape[0], 1))
        return self.frame_loss(prediction, batch["y"], weight=weight)

    def direct(self, batch):
        prediction = self.model(batch["X"])
        return F.binary_cross_entropy(prediction, batch["y"], weight=torch.ones(3, 1))

    def moved(self, batch):
        prediction = self.model(batch["X"])
        weight = torch.ones(3, 1, device=prediction.device)
        return self.frame_loss(prediction, batch["y"], weight=weight)
"""


def _found(src: str, role: str) -> list:
    return check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)


def test_a_cpu_factory_as_a_loss_weight_is_reported_at_the_factory() -> None:
    found = _found(TASK, "library")
    assert [(f.code, f.line) for f in found] == [("DL005", 14), ("DL005", 19)]
    helper, direct = found
    assert "the loss weight of `F.binary_cross_entropy` in `Task.frame_loss`" in helper.message
    assert "whose input `prediction` is on the device of `model`" in helper.message
    assert "the loss weight of `F.binary_cross_entropy`, whose input" in direct.message
    assert helper.fix is not None
    assert helper.fix["edits"][0]["content"] == (
        "torch.ones(prediction.shape[0], 1, device=prediction.device)"
    )


def test_a_loss_module_with_a_cpu_weight_stays_dl009() -> None:
    src = """\
    import torch
    import torch.nn as nn

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = nn.Linear(10, 2).to(device)
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    x = torch.randn(4, 10, device=device)
    y = torch.randint(0, 2, (4,), device=device)
    loss = criterion(model(x), y)
    """
    found = _found(src, "program")
    assert [(f.code, f.line) for f in found] == [("DL009", 9)]
    assert "keeps its class weight on the CPU" in found[0].message
