"""Engine tests of three false-positive classes of issue 13.

- guards (DL002): code that runs only where an accelerator is, by a guard the engine reads
  on the test, its class, its set-up hook, its module or a project decorator;
- modules placed at construction (DL001): `device=`, `**factory_kwargs`, buffers and
  parameters made from tensors already on the device, `with torch.device(...)`,
  `torch.set_default_device(...)`;
- one defect, one finding: the same unmoved value met again further down the flow.
"""

from __future__ import annotations

import textwrap

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from devlint.engine.facts import Cause, Context, FileFacts
from devlint.engine.flow import analyze
from devlint.engine.values import DEV_CPU, DEV_UNKNOWN, Kind, sym
from tests.test_engine import env

HEADER = """\
import sys
import unittest
import pytest
import torch
import torch.nn as nn
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
"""


def facts(src: str) -> FileFacts:
    text = HEADER + textwrap.dedent(src)
    return analyze(cst.parse_module(text), text)


def _lines(f: FileFacts, nodes: list[cst.CSTNode]) -> list[int]:
    """The lines of `nodes` in the snippet (1-based, the snippet's own numbering)."""
    assert f.module is not None
    positions = MetadataWrapper(f.module, unsafe_skip_copy=True).resolve(PositionProvider)
    offset = HEADER.count("\n")
    return sorted(positions[n].start.line - offset for n in nodes)


def hardcoded_lines(src: str) -> list[int]:
    """Lines of the hard-coded accelerators the engine records (what DL002 reports)."""
    f = facts(src)
    return _lines(f, [h.node for h in f.hardcoded])


def module_mismatch_lines(src: str) -> list[int]:
    """Lines of the module calls with a mismatched operand (what DL001 reports)."""
    f = facts(src)
    return _lines(
        f,
        [
            m.node
            for m in f.mismatches
            if m.context is Context.MODULE_CALL and m.cause is Cause.OTHER
        ],
    )


# ---------------------------------------------------------------------- class 3: guards
def test_class_level_skipif_guards_every_method() -> None:
    src = """
    @unittest.skipIf(not torch.cuda.is_available(), "needs a GPU")
    class TestOnGpu(unittest.TestCase):
        def test_a(self):
            return torch.ones(3).cuda()

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="gpu")
    class TestPytest:
        def test_b(self):
            return torch.ones(3, device="cuda")

    class TestMarked:
        pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="gpu")

        def test_c(self):
            return torch.ones(3).cuda()
    """
    assert hardcoded_lines(src) == []


def test_class_guard_on_a_non_device_condition_does_not_guard() -> None:
    src = """
    @unittest.skipIf(sys.platform == "win32", "posix only")
    class TestPosix(unittest.TestCase):
        def test_a(self):
            return torch.ones(3).cuda()
    """
    assert hardcoded_lines(src) == [5]


def test_setup_hook_that_skips_guards_the_class_and_its_subclasses() -> None:
    src = """
    class GpuCase(unittest.TestCase):
        def setUp(self):
            if not torch.cuda.is_available():
                raise unittest.SkipTest("no CUDA")

    class TestChild(GpuCase):
        def test_a(self):
            return torch.zeros(2, device="cuda")

    class TestSkipTest(unittest.TestCase):
        def setUp(self):
            if not torch.cuda.is_available():
                self.skipTest("no CUDA")

        def test_b(self):
            return torch.zeros(2).cuda()

    class TestOtherSkip(unittest.TestCase):
        def setUp(self):
            if sys.platform == "win32":
                self.skipTest("posix only")

        def test_c(self):
            return torch.zeros(2).cuda()
    """
    assert hardcoded_lines(src) == [25]


def test_unconditional_skip_and_named_markers() -> None:
    src = """
    @pytest.mark.skip(reason="broken upstream")
    def test_a():
        return torch.zeros(2).cuda()

    @unittest.skip("broken")
    def test_b():
        return torch.zeros(2).cuda()

    @pytest.mark.gpu
    def test_c():
        return torch.zeros(2).cuda()

    @pytest.mark.tpu
    def test_d():
        return torch.zeros(2, device="xla")

    @pytest.mark.slow
    def test_e():
        return torch.zeros(2).cuda()
    """
    assert hardcoded_lines(src) == [20]


def test_decorators_of_this_file_are_followed_to_their_definition() -> None:
    src = """
    import functools

    hardware = pytest.mark.skipif(not torch.cuda.is_available(), reason="hw")

    def accelerated(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not torch.cuda.is_available():
                pytest.skip("needs an accelerator")
            return fn(*args, **kwargs)
        return wrapper

    def timed(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)
        return wrapper

    @hardware
    def test_a():
        return torch.zeros(2).cuda()

    @accelerated
    def test_b():
        return torch.zeros(2).cuda()

    @timed
    def test_c():
        return torch.zeros(2).cuda()
    """
    assert hardcoded_lines(src) == [30]


def test_third_party_guards_by_name() -> None:
    src = """
    from lightning.pytorch.utilities.testing import RunIf
    from transformers.testing_utils import require_torch_gpu, require_torch_accelerator
    from torch.testing._internal.common_device_type import onlyCUDA
    from torch.testing._internal.common_utils import TEST_CUDA

    @RunIf(min_cuda_gpus=1)
    def test_a():
        return torch.zeros(2).cuda()

    @require_torch_gpu
    def test_b():
        return torch.zeros(2).cuda()

    @require_torch_accelerator
    class TestC(unittest.TestCase):
        def test_c(self):
            return torch.zeros(2).cuda()

    @onlyCUDA
    def test_d(device):
        return torch.zeros(2).cuda()

    @unittest.skipIf(not TEST_CUDA, "no CUDA")
    def test_e():
        return torch.zeros(2).cuda()

    @RunIf(sklearn=True)
    def test_f():
        return torch.zeros(2).cuda()
    """
    assert hardcoded_lines(src) == [30]


def test_nested_function_of_a_guarded_test_is_guarded() -> None:
    src = """
    @pytest.mark.skipif(torch.cuda.device_count() < 1, reason="no GPU")
    def test_a():
        def batches():
            for _ in range(2):
                yield torch.randn(3).cuda()
        return list(batches())

    def test_b():
        def batches():
            yield torch.randn(3).cuda()
        return list(batches())
    """
    assert hardcoded_lines(src) == [11]


def test_module_level_skip_guards_the_module() -> None:
    src = """
    if not torch.cuda.is_available():
        pytest.skip("requires CUDA", allow_module_level=True)

    def test_a():
        return torch.zeros(2).cuda()
    """
    assert hardcoded_lines(src) == []


def test_guard_silences_only_dl002() -> None:
    """A real mismatch inside a GPU-only test is still a fact."""
    src = """
    @unittest.skipUnless(torch.cuda.is_available(), "needs a GPU")
    class TestGpu(unittest.TestCase):
        def test_a(self):
            model = nn.Linear(4, 2).cuda()
            return model(torch.randn(3, 4).cuda()), model(torch.randn(3, 4))
    """
    f = facts(src)
    assert f.hardcoded == []
    assert [m.cause for m in f.mismatches] == [Cause.FACTORY]
