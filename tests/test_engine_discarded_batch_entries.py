"""`x[name].to(device)` as a statement over a batch's keys (pytorch-forecasting's
`predict`): DL004 reports the discarded move; where the batch then meets the model is
its consequence, not a second finding.  The loop's iterable is named a loader but is
whatever a helper returned (`dataloader = data.to_dataloader(...)`): iterated as a
loader, known no better, it counts as one, as a loader-named parameter does."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import ALL_RULES

SOURCE = """\
import torch


def predict(model, data, device):
    dataloader = data.to_dataloader(batch_size=8)
    for x, _ in dataloader:
        for name in x.keys():
            if x[name].device != device:
                x[name].to(device)
        out = model(x)
    return out


def predict_moved(model, data, device):
    dataloader = data.to_dataloader(batch_size=8)
    for x, _ in dataloader:
        x = {name: t.to(device) for name, t in x.items()}
        out = model(x)
    return out
"""


def test_the_discarded_move_is_the_one_finding() -> None:
    found = check_source(SOURCE, "predict.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL004", 9)]
