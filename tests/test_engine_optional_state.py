"""Two ways a module's parameter used to drop out of sight (issue 14: a stable-baselines
policy whose `get_log_std` multiplies a CPU `ones` with its parameter):

- an attribute that is `None` unless a flag is set (`self.log_std = None`, then a
  parameter under `if use_sde:`) is, wherever an operation meets it, the parameter: `None`
  would raise first.  Whether it is `None` stays unknown, so `is None` tests keep both
  branches;
- a method that `__init__` calls and the class's other methods call too runs on the moved
  module as well: it is not construction-time code."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

POLICY = """\
import torch
import torch.nn as nn


class Actor(nn.Module):
    def __init__(self, latent_dim: int, action_dim: int, use_sde: bool = False):
        super().__init__()
        self.latent_dim, self.action_dim = latent_dim, action_dim
        self.log_std = None
        if use_sde:
            self.log_std = nn.Parameter(torch.zeros(latent_dim, 1))
            {init_call}

    def get_log_std(self):
        return torch.ones(self.latent_dim, self.action_dim) * self.log_std

    def sample_weights(self):
        return torch.normal(torch.zeros_like(self.log_std), self.get_log_std().exp())
"""


def lines(source: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(source), "policy.py", ALL_RULES, role="library")
    return sorted((f.code, f.line) for f in found)


def test_a_parameter_set_under_a_flag_meets_the_factory() -> None:
    assert lines(POLICY.format(init_call="pass")) == [("DL005", 15)]


def test_a_method_init_and_runtime_methods_both_call_runs_on_the_moved_module() -> None:
    assert lines(POLICY.format(init_call="self.get_log_std()")) == [("DL005", 15)]


def test_a_method_only_init_calls_is_construction_time_code() -> None:
    source = POLICY.format(init_call="self.get_log_std()").replace(
        "self.get_log_std().exp()", "self.log_std.exp()"
    )
    assert lines(source) == []


def test_none_tests_keep_both_branches() -> None:
    source = """\
    import torch

    def scale(x: torch.Tensor, flag: bool):
        w = None
        if flag:
            w = torch.ones(3, device="cuda")
        if w is None:
            return x.numpy()
        return x * w
    """
    # `x.numpy()` is reached on the path where `w` is None: that branch is not dead
    assert ("DL007", 8) in lines(source)
