"""Loaders known only by name (issue 14): whether their batches are on the CPU cannot be
read where they are iterated, but another loop of the same class or function over such a
loader that moves its batches to the device says so.  A loop that then never moves its
batches (a validation pass next to the training epoch) feeds CPU batches to a placed
model.  Loops of other functions do not count: their loaders may be made elsewhere
(`accelerator.prepare` places batches, and a redundant move in the training loop says
nothing of the evaluation loader)."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

TRAIN = """\
import torch


def fit(model, train_loader, device):
    model.to(device)
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)
        model(x).sum().backward()
"""


def _found(src: str, role: str = "library") -> list:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return [(f.code, f.line) for f in found]


def test_an_unmoved_loop_next_to_a_moving_one_is_reported() -> None:
    src = """\
    import torch


    def fit(model, train_loader, val_loader, device):
        model.to(device)
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            model(x).sum().backward()
        for x, y in val_loader:
            model(x)


    class Fitter:
        def __init__(self, model, device):
            self.model = model.to(device)
            self.device = device

        def train(self, loader):
            for x, y in loader:
                self.model(x.to(self.device))

        def validate(self, loader):
            for x, y in loader:
                self.model(x)
    """
    assert _found(src) == [("DL003", 10), ("DL003", 24)]


def test_a_loop_of_another_function_is_no_evidence() -> None:
    src = TRAIN + textwrap.dedent(
        """\


        def evaluate(model, val_loader, device):
            model.to(device)
            for x, y in val_loader:
                model(x)
        """
    )
    assert _found(src) == []


def test_without_a_loop_that_moves_its_batches_it_stays_silent() -> None:
    src = """\
    import torch


    def evaluate(model, val_loader, device):
        model.to(device)
        for x, y in val_loader:
            model(x)
    """
    assert _found(src) == []
    moved_everywhere = TRAIN + textwrap.dedent(
        """\


        def evaluate(model, val_loader, device):
            model.to(device)
            for x, y in val_loader:
                model(x.to(device))
        """
    )
    assert _found(moved_everywhere) == []
