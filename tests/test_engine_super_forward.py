"""`super().forward(x)` in a module's method returns what the base's layers make: a
tensor on the module's device (issue 14, sbi's `CategoricalMADE`, whose CPU mask, a
plain attribute, meets the base network's logits)."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch
from torch import nn


class Base(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.net = nn.Linear(n, n)

    def forward(self, x):
        return self.net(x)


class Masked(Base):
    def __init__(self, n):
        super().__init__(n)
        self.mask = torch.ones(n, dtype=torch.bool)
        self.register_buffer("keep", torch.ones(n, dtype=torch.bool))

    def forward(self, x):
        out = super().forward(x)
        return out.masked_fill(~self.mask, 0.0), out.masked_fill(~self.keep, 0.0)
"""


def test_the_bases_output_is_on_the_modules_device() -> None:
    found = check_source(SOURCE, "masked.py", [RULES_BY_CODE["DL006"]], role="library")
    assert [(f.code, f.line) for f in found] == [("DL006", 22)]
    assert "`self.mask` is a plain tensor attribute" in found[0].message
