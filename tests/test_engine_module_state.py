"""Recall (issue 14): a submodule's parameter reached through an attribute
(`self.crf.transitions`) and read as a tensor (`.detach()`, `.data`) is on the module's
device, so `.numpy()` of it without `.cpu()` fails once the module is on an accelerator."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

TAGGER = """\
    import torch
    from torch import nn
    class CRF(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.transitions = nn.Parameter(torch.randn(n, n))
        def forward(self, x):
            return x.unsqueeze(-1) + self.transitions
    class Tagger(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.crf = CRF(n)
            self.linear = nn.Linear(4, n)
        def forward(self, x):
            features = self.crf(self.linear(x))
            return features, self.crf.transitions.detach().numpy()
        def transitions(self):
            return self.crf.transitions.data.numpy()
        def on_host(self):
            return self.crf.transitions.detach().cpu().numpy(), self.crf.training
"""


def _found(src: str, role: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


def test_a_library_module_moved_by_its_users() -> None:
    assert _found(TAGGER, "library") == [("DL007", 16), ("DL007", 18)]


def test_a_script_needs_the_module_placed() -> None:
    assert _found(TAGGER, "script") == []
    placed = (
        TAGGER
        + """\
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tagger = Tagger(3).to(device)
    print(tagger(torch.randn(2, 4, device=device)))
"""
    )
    assert ("DL007", 16) in _found(placed, "script")


def test_other_state_is_not_a_tensor() -> None:
    src = TAGGER.replace("self.crf.transitions.data.numpy()", "self.crf.names.numpy()")
    assert _found(src, "library") == [("DL007", 16)]
