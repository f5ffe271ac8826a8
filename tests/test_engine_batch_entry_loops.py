"""A dict batch moved entry by entry in a loop over its own keys or items: every tensor
entry is moved when the store is unconditional or only skips entries that are not
tensors (`if torch.is_tensor(v):`, timm's NaFlex prefetcher); a loop that skips a tensor
entry by name leaves it on the CPU, and that entry meeting the model is a DL003."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import ALL_RULES

SOURCE = """\
import torch
from torch.utils.data import DataLoader


def by_keys(model, dataset, device):
    for x, _ in DataLoader(dataset):
        for name in x.keys():
            x[name] = x[name].to(device)
        model(x["a"])


def tensors_only(model, dataset, device):
    for x, _ in DataLoader(dataset):
        for name, v in x.items():
            if isinstance(v, torch.Tensor):
                x[name] = v.to(device)
        model(x["a"])


def skips_one(model, dataset, device):
    for x, _ in DataLoader(dataset):
        for name, v in x.items():
            if name != "a":
                x[name] = x[name].to(device)
        model(x["a"])


def main(dataset):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.nn.Linear(2, 2).to(device)
    by_keys(model, dataset, device)
    tensors_only(model, dataset, device)
    skips_one(model, dataset, device)
"""


def test_only_the_loop_that_skips_a_tensor_entry_fires() -> None:
    found = check_source(SOURCE, "train.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL003", 25)]
