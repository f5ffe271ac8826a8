"""A class of a test module named only inside a module-level block that runs where an
accelerator is (captum's `DataParallelMeta`: the metaclass of a test class defined under
`if torch.cuda.is_available():`): the tests it builds run only there, so their `.cuda()`
calls are no DL002.  Named anywhere else too, it is not guarded."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch


class GpuMeta(type):
    def __new__(metacls, name, bases, attrs):
        def test_cuda(self):
            x = torch.ones(2).cuda()
            assert x.sum() == 2

        attrs["test_cuda"] = test_cuda
        return super(GpuMeta, metacls).__new__(metacls, name, bases, attrs)


if torch.cuda.is_available():

    class GpuTest(metaclass=GpuMeta):
        pass
"""
DL002 = [RULES_BY_CODE["DL002"]]


def test_a_class_named_only_under_an_availability_block_is_guarded() -> None:
    assert check_source(SOURCE, "tests/test_gpu.py", DL002) == []


def test_named_elsewhere_too_it_is_not() -> None:
    source = SOURCE + "\n\nclass CpuTest(metaclass=GpuMeta):\n    pass\n"
    found = check_source(source, "tests/test_gpu.py", DL002)
    assert [(f.code, f.line) for f in found] == [("DL002", 7)]
