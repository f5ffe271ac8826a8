"""DL005: CPU factories that meet their partner in one operation are one defect (issue 13,
class 8): one finding, at the first factory in the source, naming the others, with one fix
for all of them.  Factories that meet it in operations of their own stay findings of their
own."""

from __future__ import annotations

import json
import textwrap

from devlint.checker import check_source
from devlint.fix import fix_source
from devlint.rules import ALL_RULES

COUNTS = """\
import torch


def check(value, num_nodes):
    counts = torch.zeros(value.shape[:-1] + (num_nodes,))
    counts.scatter_add_(-1, value, torch.ones(value.shape))
    return counts


def pad(x, n):
    left = torch.zeros(x.shape[0], n)
    right = torch.zeros(x.shape[0], n)
    return torch.cat([left, x]), torch.cat([x, right])
"""


def _found(src: str) -> list:
    return check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")


def test_two_factories_in_one_operation_are_one_finding_that_names_both() -> None:
    found = _found(COUNTS)
    assert [(f.code, f.line) for f in found] == [("DL005", 5), ("DL005", 11), ("DL005", 12)]
    first = found[0]
    assert "`torch.ones(value.shape)` (line 6) meets it in the same operation" in first.message
    assert "needs `device=` too" in first.message
    # two operations, two defects: each `cat` has one factory
    assert all("same operation" not in f.message for f in found[1:])


def test_the_one_fix_repairs_every_factory_of_the_operation() -> None:
    result = fix_source(COUNTS, "m.py", lambda t: check_source(t, "m.py", ALL_RULES, role="library"))
    assert "torch.zeros(value.shape[:-1] + (num_nodes,), device=value.device)" in result.fixed
    assert "torch.ones(value.shape, device=value.device)" in result.fixed
    assert [f.line for f in _found(result.fixed)] == []
    compile(result.fixed, "m.py", "exec")


def test_the_finding_carries_the_other_lines_through_the_cache() -> None:
    """`Finding.also_lines` names the other factories' lines: `devlint confirm` links a
    runtime error made by any of them to this one finding; the cache keeps it."""
    from devlint.cache import _dump, _load

    first = _found(COUNTS)[0]
    assert first.also_lines == (6,)
    again = _load(json.loads(json.dumps(_dump(first))), first.path)
    assert again.also_lines == (6,) and again == first


def test_factories_that_meet_in_a_helper_through_two_calls_are_two_findings() -> None:
    """`scale(a, w)` and `scale(b, w)` meet `w` at the same node of `scale`, in two
    operations at run time: each factory is a finding of its own."""
    src = """\
    import torch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    def scale(x, w):
        return x * w
    w = torch.ones(3).to(device)
    a = torch.ones(3)
    b = torch.full((3,), 2.0)
    scale(a, w)
    scale(b, w)
    """
    found = _found(src)
    assert [(f.code, f.line) for f in found] == [("DL005", 6), ("DL005", 7)]
    assert all("same operation" not in f.message for f in found)
