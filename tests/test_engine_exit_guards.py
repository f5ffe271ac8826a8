"""An early exit on a device test guards what follows only when it stops the runs that
have no accelerator (`if not torch.cuda.is_available(): sys.exit()`).  OpenNMT's
`if len(opt.gpuid) > 1: sys.exit(...)` stops multi-GPU runs, and `if rnn == "SRU" and
not opt.gpuid: raise` stops only SRU runs: CPU runs go on to the `.cuda()` below."""

from __future__ import annotations

import pytest

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

TEMPLATE = """\
import sys
import torch

gpus = [int(g) for g in sys.argv[1:]]
rnn = "LSTM"
if {test}:
    sys.exit("unsupported")


def build():
    return torch.nn.Linear(2, 2).cuda()
"""
DL002 = [RULES_BY_CODE["DL002"]]


@pytest.mark.parametrize(
    "test",
    [
        "not torch.cuda.is_available()",
        "not gpus",
        "not gpus or rnn == 'SRU'",
        "rnn != 'cpu' and not torch.cuda.is_available()",
    ],
)
def test_an_exit_without_accelerator_guards_the_rest(test: str) -> None:
    assert check_source(TEMPLATE.format(test=test), "train.py", DL002) == []


@pytest.mark.parametrize(
    "test",
    [
        "len(gpus) > 1",
        "torch.cuda.device_count() >= 2",
        "rnn == 'SRU' and not gpus",
        "torch.cuda.is_available()",
    ],
)
def test_an_exit_that_lets_cpu_runs_through_guards_nothing(test: str) -> None:
    found = check_source(TEMPLATE.format(test=test), "train.py", DL002)
    assert [(f.code, f.line) for f in found] == [("DL002", 11)]
