"""Factories reached through a helper's chain (issue 14, OpenNMT's rotary table): a
factory whose `device=` copies a CPU factory tensor's device (`torch.arange(n,
device=inv_freq.device)`) is on the CPU because of that factory, and the elementwise
torch functions beyond arithmetic (`torch.polar`, `hypot`, `logaddexp`...) combine their
tensors like `torch.mul`.  The finding sits at the root factory; where the partner's
device is no name at that factory (a helper that returns its tensor), the help says to
give the helper a device."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch
import torch.nn as nn


def positions(n):
    freq = torch.arange(n).float()
    return torch.arange(n, device=freq.device)


def rotations(n):
    angles = torch.linspace(0, 1, n)
    return torch.polar(torch.ones_like(angles), angles)


def on_the_device(n, device):
    freq = torch.arange(n, device=device).float()
    return torch.arange(n, device=freq.device)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        h = self.proj(x)
        return h * positions(3), h * rotations(3), h * on_the_device(3, h.device)
"""


def _found() -> list:
    return check_source(SOURCE, "block.py", [RULES_BY_CODE["DL005"]], role="library")


def test_the_root_factory_of_a_followed_device_and_of_a_polar_table_fires() -> None:
    assert [(f.code, f.line) for f in _found()] == [("DL005", 6), ("DL005", 11)]


def test_the_help_asks_for_a_device_argument_where_the_partner_is_no_name() -> None:
    for finding in _found():
        assert finding.help == (
            "give the function that builds it a `device` argument for `device=`, and pass "
            "it `h.device` where the tensor meets `h`"
        )


HELPERS = """\
import torch
import torch.nn as nn


def table(n):
    return torch.linspace(0, 1, n)


def apply_table(x, t):
    return x * t


def scale(x):
    return x * torch.ones(3)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        h = self.proj(x)
        t = table(h.size(-1))
        return apply_table(h, t), scale(h)
"""


def test_a_helpers_table_met_in_another_helper_fires_once_at_its_factory() -> None:
    """`t = table(n)` then `apply_table(h, t)`: the CPU table, made in one helper, meets
    the module's output in another (OpenNMT's `rotaryembeddings` and
    `apply_rotary_emb`).  `scale`'s own factory is `scale`'s analysis' business (where
    nothing shows its `x` is a tensor), not reported through its caller."""
    found = check_source(HELPERS, "block.py", [RULES_BY_CODE["DL005"]], role="library")
    assert [(f.code, f.line) for f in found] == [("DL005", 6)]
    assert "in `apply_table`, which it is passed to" in found[0].message

