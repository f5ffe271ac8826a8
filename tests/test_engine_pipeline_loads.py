"""`torch.load` without `map_location` in data-pipeline code (a dataset's methods, a
collate function) reads files that pipeline wrote itself, on the CPU: CPU data by design,
not a checkpoint from an accelerator (issue 13: PyG's datasets, read FALSE by the
audit's readers).  The same load in model code still fires."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch
from torch.utils.data import Dataset


class Processed(Dataset):
    def __init__(self, path):
        self.data, self.slices = torch.load(path)

    def __len__(self):
        return len(self.slices)

    def __getitem__(self, i):
        return self.data[self.slices[i]]


def collate_cached(paths):
    return [torch.load(p) for p in paths]


def restore(model, path):
    model.load_state_dict(torch.load(path))
"""


def test_only_the_model_checkpoint_load_fires() -> None:
    found = check_source(textwrap.dedent(SOURCE), "data.py", [RULES_BY_CODE["DL008"]])
    assert [(f.code, f.line) for f in found] == [("DL008", 21)]
