"""Precision (issue 13): code written for the default device.  In a project that makes an
accelerator the default device (`torch.set_default_device("cuda")` somewhere), a file
that places nothing itself has its factories on the same device as the tensors they
meet; anywhere else, or with a legacy constructor, the finding stays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devlint.engine.default_device import places_nothing
from devlint.run import RunOptions, check_paths
from devlint.settings import CommandLine, Resolver

KIT = """\
import torch


def rdiag(v):
    return v.unsqueeze(-1) * torch.eye(v.shape[-1])
"""

EXAMPLE = """\
import torch

from kit.ops import rdiag

if __name__ == "__main__":
    torch.set_default_device("cuda")
    print(rdiag(torch.ones(3)))
"""


def _project(tmp_path: Path, ops: str = KIT, example: str = EXAMPLE) -> set[tuple[str, str, int]]:
    (tmp_path / "pyproject.toml").write_text("[tool.devlint]\n")
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "__init__.py").write_text("")
    (tmp_path / "kit" / "ops.py").write_text(ops)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "demo.py").write_text(example)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        outcome = check_paths(
            ["."], Resolver(CommandLine(cwd=str(tmp_path))), RunOptions(cache=False, jobs=1)
        )
    finally:
        os.chdir(old)
    assert not outcome.errors and not outcome.internal_errors
    return {
        (f.path.replace(os.sep, "/").removeprefix("./"), f.code, f.line) for f in outcome.findings
    }


def test_a_file_that_places_nothing_follows_the_projects_default_device(tmp_path: Path) -> None:
    assert _project(tmp_path) == set()


def test_without_the_default_device_the_factory_is_reported(tmp_path: Path) -> None:
    example = EXAMPLE.replace('    torch.set_default_device("cuda")\n', "")
    assert _project(tmp_path, example=example) == {("kit/ops.py", "DL005", 5)}


@pytest.mark.parametrize(
    "setter",
    [
        'torch.set_default_device("cpu")',  # the CPU: no accelerator convention
        "# torch.set_default_device is not called",
    ],
)
def test_a_cpu_default_is_no_convention(tmp_path: Path, setter: str) -> None:
    example = EXAMPLE.replace('torch.set_default_device("cuda")', setter)
    assert _project(tmp_path, example=example) == {("kit/ops.py", "DL005", 5)}


def test_the_older_cuda_tensor_type_default_counts(tmp_path: Path) -> None:
    example = EXAMPLE.replace(
        'torch.set_default_device("cuda")', "torch.set_default_tensor_type(torch.cuda.FloatTensor)"
    )
    assert _project(tmp_path, example=example) == set()


def test_a_file_that_places_something_itself_keeps_its_finding(tmp_path: Path) -> None:
    ops = KIT + "\n\ndef rzeros(v):\n    return torch.zeros(v.shape, device=v.device)\n"
    assert _project(tmp_path, ops=ops) == {("kit/ops.py", "DL005", 5)}


def test_a_legacy_constructor_ignores_the_default_device(tmp_path: Path) -> None:
    ops = KIT.replace("torch.eye(v.shape[-1])", "torch.FloatTensor(v.shape[-1])")
    assert _project(tmp_path, ops=ops) == {("kit/ops.py", "DL005", 5)}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = torch.zeros(3)\n", True),
        ("x = torch.zeros(3, device=d)\n", False),
        ("x = y.to(d)\n", False),
        ("x = y.cuda()\n", False),
        ("x = y.new_zeros(3)\n", True),  # follows `y`, wherever the default put it
        ("d = y.device\n", False),
        ("d = torch.device('cuda')\n", False),
        ("devices = 3\n", True),
        ("q = q.type_as(x)\n", True),  # a dtype cast first
        # NumPy data comes in on the CPU whatever the default device: moving it along
        # is what default-device code does too
        ("w = torch.from_numpy(W).to(s.device).type_as(s)\n", True),
        ("w = torch.from_numpy(np.ones(3)).to(x.device)\n", True),
        ("w = torch.from_numpy(W)\nw = w.to(s.device)\n", False),
    ],
)
def test_what_counts_as_placing(source: str, expected: bool) -> None:
    assert places_nothing(source) is expected


def test_a_module_that_places_itself_by_a_flag_is_written_for_the_default_device() -> None:
    """`if self.is_cuda: x = x.cuda()` and no move of itself: the class picks the
    accelerator by its flag, so its plain tensors are made on the default device.  A
    class that also moves itself, or has no such flag, is moved with `.to()`."""
    import libcst as cst

    from devlint.engine.default_device import places_itself_by_flag

    def cls(body: str) -> cst.ClassDef:
        module = cst.parse_module("class M(nn.Module):\n" + body)
        node = module.body[0]
        assert isinstance(node, cst.ClassDef)
        return node

    flagged = "    def score(self, x):\n        if self.is_cuda:\n            x = x.cuda()\n"
    assert places_itself_by_flag(cls(flagged))
    assert not places_itself_by_flag(cls(flagged + "    def move(self):\n        self.cuda()\n"))
    assert not places_itself_by_flag(
        cls(flagged + "    def move(self, d):\n        return self.to(d)\n")
    )
    assert not places_itself_by_flag(cls("    def score(self, x):\n        return x.cuda()\n"))
    assert not places_itself_by_flag(
        cls("    def score(self, x):\n        if self.training:\n            x = x * 2\n")
    )
