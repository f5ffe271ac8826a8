"""What another module's function or method returns (issue 14, item 1): a tensor on the
device of one of its parameters (`def shift(x): return x.roll(1, -1)`).  The summary says
which parameter (`follows`); an importer finds the result where its argument is, so a
CPU factory meeting it is reported.  A function that returns something else (a count, a
CPU tensor of its own) says nothing of the kind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES
from tests.helpers import concise, run, write

OPS = """\
import torch


def shift(x: torch.Tensor, steps: int = 1) -> torch.Tensor:
    return x.roll(steps, -1)


def count(x: torch.Tensor) -> int:
    return x.numel()


def halves(x: torch.Tensor, *, scale: torch.Tensor) -> torch.Tensor:
    return scale * x[: len(x) // 2]
"""

BASE = """\
import torch


class Estimator:
    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (theta * x).sum(-1)

    def count(self, theta: torch.Tensor) -> int:
        return theta.numel()


class Overriding(Estimator):
    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(3)
"""

USER = """\
import torch
import torch.nn.functional as F

from pkg.base import Estimator, Overriding
from pkg.ops import count, halves, shift


def smoothness(signal: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(0, 1, signal.size(-1))
    return (shift(signal) * weights).mean()


def positions(signal: torch.Tensor) -> torch.Tensor:
    n = count(signal)
    return torch.arange(n) * n


def by_keyword(signal: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return halves(signal[:4], scale=scale) + torch.ones(2)


class Ratio(Estimator):
    def loss(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        likelihood = torch.sigmoid(self.logits(theta, x))
        labels = torch.ones(theta.shape[0])
        return F.binary_cross_entropy(likelihood, labels)

    def sizes(self, theta: torch.Tensor) -> torch.Tensor:
        n = self.count(theta)
        return torch.arange(n) * n


class Fixed(Overriding):
    def loss(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.logits(theta, x) + torch.ones(3)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "pyproject.toml", '[project]\nname = "pkg"\n')
    write(tmp_path, "src/pkg/__init__.py", "")
    write(tmp_path, "src/pkg/ops.py", OPS)
    write(tmp_path, "src/pkg/base.py", BASE)
    write(tmp_path, "src/pkg/user.py", USER)
    return tmp_path


def _lines(root: Path) -> list[tuple[str, int, str]]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = run("--select", "ALL", "--no-cache", "--output-format", "concise", ".")
    finally:
        os.chdir(cwd)
    out = []
    for line in concise(result):
        path, lineno, _, rest = line.split(":", 3)
        out.append((path, int(lineno), rest.split()[0]))
    return sorted(out)


def test_results_that_follow_an_argument_meet_the_cpu_factory(project: Path) -> None:
    assert _lines(project) == [
        ("src/pkg/user.py", 9, "DL005"),  # shift(signal) * weights
        ("src/pkg/user.py", 19, "DL005"),  # halves(..., scale=scale) + torch.ones(2)
        ("src/pkg/user.py", 25, "DL005"),  # labels against self.logits(theta, x)
    ]


def test_the_summary_names_the_parameter(project: Path) -> None:
    def summary(name: str) -> dict:
        collect: dict = {}
        path = project / "src" / "pkg" / name
        check_source(path.read_bytes(), str(path), ALL_RULES, package="pkg", collect=collect)
        return collect["summary"]

    functions = summary("ops.py")["functions"]
    assert functions["shift"] == {"kind": "tensor", "follows": "x", "params": ["x", "steps"]}
    assert functions["halves"]["follows"] == "scale"
    assert "count" not in functions
    classes = summary("base.py")["classes"]
    assert classes["Estimator"]["returns"]["logits"]["follows"] == "theta"
    assert classes["Estimator"]["returns"]["count"] == {}
    # an override that returns something else hides the base's fact
    assert classes["Overriding"]["returns"]["logits"] == {}
