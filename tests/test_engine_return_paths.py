"""DL005 on return paths and `out=` buffers (issue 14): a function that returns a CPU
factory's tensor on one path and a tensor on its input's device on another hands
accelerator callers a CPU tensor on that path only; a CPU buffer given as `out=` must be
on the inputs' device whatever its shape."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

EMPTY_CASE = """\
import torch


def keep(boxes, scores):
    if boxes.numel() == 0:
        return torch.zeros((0, 4))
    return boxes[scores > 0.5]
"""


def _found(src: str, role: str) -> list:
    return check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)


def test_empty_case_returned_from_the_cpu_is_reported_in_library_code() -> None:
    found = _found(EMPTY_CASE, "library")
    assert [(f.code, f.line) for f in found] == [("DL005", 6)]
    message = found[0].message
    assert "another `return` gives `boxes[scores > 0.5]` on the device of `boxes`" in message
    assert "`keep` is a public function of library code" in message
    fix = found[0].fix
    assert fix is not None and fix["applicability"] == "safe"
    assert fix["edits"][0]["content"] == "torch.zeros((0, 4), device=boxes.device)"


def test_a_script_needs_a_caller_that_passes_a_placed_tensor() -> None:
    assert _found(EMPTY_CASE, "program") == []
    called = EMPTY_CASE + textwrap.dedent(
        """\

        if __name__ == "__main__":
            boxes = torch.rand(3, 4).cuda()
            print(keep(boxes, torch.rand(3).cuda()))
        """
    )
    codes = [(f.code, f.line) for f in _found(called, "program")]
    assert ("DL005", 6) in codes


def test_paths_without_the_input_and_scalars_stay_silent() -> None:
    src = """\
    import torch


    def areas(boxes=None):
        if boxes is None:
            return torch.ones(4)
        return boxes[:, 2] * boxes[:, 3]


    def kept(boxes, scores):
        if not boxes.numel():
            return torch.tensor(0)
        return (scores > 0.5).sum()


    def rows(boxes):
        if boxes.numel() == 0:
            return torch.zeros((0, 4), device=boxes.device)
        return boxes[1:]
    """
    assert _found(src, "library") == []


def test_an_out_argument_must_be_on_the_inputs_device() -> None:
    src = """\
    import torch


    def totals(table: torch.Tensor):
        out = torch.empty(table.shape[1:])
        torch.sum(table, dim=0, out=out)
        return out


    def added(a: torch.Tensor, b: torch.Tensor):
        out = torch.empty(a.shape)
        torch.add(a, b, out=out)
        return out


    def on_device(table: torch.Tensor):
        out = torch.empty(table.shape[1:], device=table.device)
        torch.sum(table, dim=0, out=out)
        return out
    """
    assert [(f.code, f.line) for f in _found(src, "library")] == [("DL005", 5), ("DL005", 11)]
