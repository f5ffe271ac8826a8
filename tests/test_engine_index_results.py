"""`torch.index_select(data, dim, index)` and the other index functions return `data`'s
values, on `data`'s device: a CPU index made without `device=` meets `data` there, and
says nothing about where the result is when `data` is unknown (captum's reference
conductance: `torch.index_select(saved_grads, 0, torch.tensor(range(...)))` with grads
saved by a hook was reported where its result met the inputs, naming the wrong tensor)."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import ALL_RULES

SOURCE = """\
import torch


class Reference:
    def __init__(self):
        self.saved = None

    def grads(self, inputs):
        idx = torch.tensor(range(0, inputs.shape[0], 2))
        return torch.index_select(self.saved, 0, idx)

    def attribute(self, inputs: torch.Tensor):
        picked = self.grads(inputs)
        return inputs[: picked.shape[0]] * picked


def pick(inputs: torch.Tensor):
    idx = torch.tensor(range(0, inputs.shape[0], 2))
    return torch.index_select(inputs, 0, idx)
"""


def test_an_index_meets_the_data_and_not_what_the_result_meets() -> None:
    found = check_source(SOURCE, "pkg/reference.py", ALL_RULES, role="library")
    assert [(f.code, f.line) for f in found] == [("DL005", 18)]
    assert "combined with `inputs`" in found[0].message
