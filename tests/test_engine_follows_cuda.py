"""A bare `.cuda()` under `if x.is_cuda:` in a public library function (issue 14: TTS's
`sequence_mask`, advertorch's L1 attack): it means to follow `x` but moves to the current
CUDA device, so with `x` on another GPU the next operation mixes devices.  DL002 reports
it, with a safe fix to `.to(x.device)`; elsewhere guarded code stays silent."""

from __future__ import annotations

import textwrap

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES

TEMPLATE = """\
import torch


def {name}(lengths: torch.Tensor, width: int) -> torch.Tensor:
    steps = torch.arange(width).expand(len(lengths), width)
    if {test}:
        steps = {move}
    return steps < lengths.unsqueeze(1)
"""


def found(role: str = "library", **parts: str) -> list[tuple[str, int, str]]:
    values = {"name": "padding_mask", "test": "lengths.is_cuda", "move": "steps.cuda()"}
    values.update(parts)
    source = textwrap.dedent(TEMPLATE.format(**values))
    return [(f.code, f.line, f.message) for f in check_source(source, "m.py", ALL_RULES, role=role)]


@pytest.mark.parametrize("test", ["lengths.is_cuda", 'lengths.device.type == "cuda"'])
def test_a_bare_cuda_meant_to_follow_a_parameter_fires(test: str) -> None:
    (code, line, message), = found(test=test)
    assert (code, line) == ("DL002", 7)
    assert "runs when `lengths` is on a CUDA device" in message


def test_the_fix_moves_to_the_tested_tensors_device() -> None:
    source = TEMPLATE.format(name="padding_mask", test="lengths.is_cuda", move="steps.cuda()")
    (finding,) = check_source(source, "m.py", ALL_RULES, role="library")
    assert finding.fix is not None and finding.fix["applicability"] == "safe"
    assert finding.fix["edits"][0]["content"] == "steps.to(lengths.device)"


@pytest.mark.parametrize(
    "parts",
    [
        {"move": "steps.to(lengths.device)"},
        {"move": "steps.cuda(lengths.device)"},
        {"move": "steps.cuda(lengths.get_device())"},
        {"name": "_padding_mask"},  # private: its callers are all known
        {"test": "torch.cuda.is_available()"},  # not a tensor's device
    ],
    ids=["to-device", "cuda-device", "cuda-index", "private", "availability"],
)
def test_look_alikes_stay_silent(parts: dict[str, str]) -> None:
    assert found(**parts) == []


def test_a_script_keeps_the_guard() -> None:
    # a program's helper: its callers are in sight, and a DDP script's current device is
    # the process's own GPU
    assert found(role="script") == []
