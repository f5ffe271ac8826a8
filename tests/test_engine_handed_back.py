"""Recall (issue 14): calls that hand back what they are given (apex's `amp.initialize`,
`torch.compile`) do not make `self.model` unknown, and the rows of a 2-D factory are
tensors, not 0-dim scalars."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


TRAINER = """\
    import torch
    try:
        from apex import amp
    except ImportError:
        amp = None
    class Trainer:
        def __init__(self, model):
            self.model = model
            self.loss_function = torch.nn.CrossEntropyLoss()
        def train(self, data, targets, optimizer, use_amp=False):
            if use_amp:
                self.model, optimizer = amp.initialize(self.model, optimizer, opt_level="O1")
            total_loss = torch.zeros(1)
            for _ in range(3):
                loss = self.loss_function(self.model(data), targets)
                total_loss += loss.data
            return total_loss
"""


def test_amp_initialize_hands_the_model_back() -> None:
    assert _found(TRAINER) == [("DL005", 13)]


def test_torch_compile_of_the_same_attribute_hands_it_back() -> None:
    src = TRAINER.replace(
        'self.model, optimizer = amp.initialize(self.model, optimizer, opt_level="O1")',
        "self.model = torch.compile(self.model)",
    )
    assert "torch.compile" in src
    assert _found(src) == [("DL005", 13)]


def test_rebinding_to_something_else_still_forgets_the_model() -> None:
    src = TRAINER.replace(
        'self.model, optimizer = amp.initialize(self.model, optimizer, opt_level="O1")',
        "self.model, optimizer = load_other(self.model, optimizer)",
    )
    assert "load_other" in src
    assert _found(src) == []


def test_the_model_alone_is_handed_back_alone() -> None:
    src = TRAINER.replace(
        'self.model, optimizer = amp.initialize(self.model, optimizer, opt_level="O1")',
        'self.model = amp.initialize(self.model, opt_level="O2")',
    )
    assert "O2" in src
    assert _found(src) == [("DL005", 13)]


ROWS = """\
    import torch
    def project_out(vecs):
        assert vecs.dim() == 2
        out = []
        for x in torch.eye(vecs.shape[1]):
            out.append(x - torch.dot(x, vecs[0]) * vecs[0])
        return out
    def per_entry(vecs):
        assert vecs.dim() == 2
        for x in torch.ones(vecs.shape[1]):
            vecs = vecs * x
        return vecs
    def rows_of_sizes(vecs):
        assert vecs.dim() == 2
        for x in torch.zeros((3, vecs.shape[1])):
            vecs = vecs + x
        return vecs
"""


def test_rows_of_a_matrix_factory_are_tensors_but_entries_of_a_vector_are_scalars() -> None:
    # `for x in torch.ones(n)` yields 0-dim CPU tensors, which mix with any device
    assert _found(ROWS) == [("DL005", 5), ("DL005", 15)]
