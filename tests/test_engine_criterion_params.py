"""A loss handed to a training function as a parameter (`criterion`, `loss_fn`): losses
hold no state, so where the loss object is does not matter, but its prediction and its
target must share a device (TTS's `criterion_st(stop_tokens, stop_target)` with a stop
target the loop never moved)."""

from __future__ import annotations

import textwrap

import pytest

from devlint.checker import check_source
from devlint.engine import names as N
from devlint.rules import ALL_RULES

LOOP = """\
import torch
from torch.utils.data import DataLoader


def train(model, {param}, loader, device):
    for inputs, target in loader:
        inputs = inputs.to(device)
        out = model(inputs)
        loss = {param}(out, target{moved})
        loss.backward()


def main(dataset):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.nn.Linear(4, 1).to(device)
    train(model, torch.nn.MSELoss(), DataLoader(dataset), device)
"""


@pytest.mark.parametrize("param", ["criterion", "criterion_st", "loss_fn", "mel_loss_fn"])
def test_an_unmoved_target_meets_the_prediction_in_a_loss_parameter(param: str) -> None:
    found = check_source(LOOP.format(param=param, moved=""), "train.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL003", 9)]


def test_a_moved_target_is_silent() -> None:
    source = LOOP.format(param="criterion", moved=".to(device)")
    assert check_source(source, "train.py", ALL_RULES) == []


def test_ctc_shaped_calls_keep_their_cpu_lengths() -> None:
    """A loss parameter called with lengths (CTC) is not a two-tensor comparison: the
    lengths of `F.ctc_loss` may stay on the CPU."""
    source = textwrap.dedent(
        """\
        def train(model, criterion, loader, device):
            for feats, targets, feat_lens, target_lens in loader:
                log_probs = model(feats.to(device))
                loss = criterion(log_probs, targets, feat_lens, target_lens)
                loss.backward()
        """
    )
    assert check_source(source, "train.py", ALL_RULES) == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("criterion", True),
        ("criterion_st", True),
        ("bce_criterion", True),
        ("loss_fn", True),
        ("loss_function", True),
        ("criterion_config", False),
        ("loss", False),
        ("loss_weights", False),
        ("criterions", False),
    ],
)
def test_criterion_names(name: str, expected: bool) -> None:
    assert N.is_criterion_name(name) is expected


def test_a_criterion_named_tensor_stays_a_tensor() -> None:
    """`criterion_weight` used as a tensor (a tensor method on it) is a tensor parameter,
    not a loss module: under the library contract its CPU partner is a DL005."""
    source = textwrap.dedent(
        """\
        import torch


        def weigh(criterion_weight):
            return criterion_weight.clamp(min=0) * torch.ones(3)
        """
    )
    found = check_source(source, "pkg/weights.py", ALL_RULES, role="library")
    assert [(f.code, f.line) for f in found] == [("DL005", 5)]
