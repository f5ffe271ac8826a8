"""A data loader over a dataset that an unresolved call built after being told which
device to use (`make_data(n, use_gpu=flag)`, `load_split(root, device)`) may yield batches
already on that device: its batches are of unknown device, not CPU ones (issue 13: a
captum test whose datasets move their samples to the GPU).  A call told the CPU, or told
nothing, still gives a loader of CPU batches."""

from __future__ import annotations

import textwrap

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES

SCRIPT = """\
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from mydata import load_split


def main():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = nn.Linear(3, 1).to(device)
    use_gpu = torch.cuda.is_available()
    train, valid = load_split("data", {args})
    for x, y in DataLoader(train, batch_size=8):
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
"""


def codes(args: str) -> list[str]:
    source = textwrap.dedent(SCRIPT.format(args=args))
    return sorted(f.code for f in check_source(source, "train.py", ALL_RULES))


@pytest.mark.parametrize(
    "args", ["device=device", "device", "use_gpu=use_gpu", "use_gpu", "gpu=True", "cuda=1"]
)
def test_a_dataset_built_for_the_device_gives_batches_of_unknown_device(args: str) -> None:
    assert codes(args) == []


@pytest.mark.parametrize(
    "args", ["", "shuffle=True", 'device="cpu"', "use_gpu=False", "device=torch.device('cpu')"]
)
def test_a_dataset_built_for_the_cpu_or_for_nothing_gives_cpu_batches(args: str) -> None:
    assert codes(args) == ["DL003"]
