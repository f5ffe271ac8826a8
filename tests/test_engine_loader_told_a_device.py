"""A loader told a device (`dgl.dataloading.DataLoader(graph, ids, sampler,
device=device)`) yields its batches there: they are not CPU batches left unmoved."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import ALL_RULES

SOURCE = """\
import torch
import dgl


def train(graph, ids, sampler, model, device):
    loader = dgl.dataloading.DataLoader(graph, ids, sampler, device=device, batch_size=64)
    for input_nodes, output_nodes, blocks in loader:
        logits = model(blocks, blocks[0].srcdata["feat"])
        logits.sum().backward()


def main(graph, ids, sampler):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.nn.Linear(4, 2).to(device)
    train(graph, ids, sampler, model, device)
"""


def test_batches_of_a_loader_told_a_device_are_there() -> None:
    assert check_source(SOURCE, "train.py", ALL_RULES) == []


def test_a_plain_loader_still_yields_cpu_batches() -> None:
    plain = SOURCE.replace("dgl.dataloading.DataLoader(graph, ids, sampler, device=device,", "torch.utils.data.DataLoader(ids,")
    found = check_source(plain, "train.py", ALL_RULES)
    assert [f.code for f in found] == ["DL003"]
