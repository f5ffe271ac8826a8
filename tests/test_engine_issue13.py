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


# ------------------------------------------------------- class 2: modules placed at birth
PLACED_MODULES = """
class Shift(nn.Module):
    def __init__(self, root):
        super().__init__()
        self.register_buffer("root", root)

    def forward(self, x):
        return x - self.root


class Scale(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x * self.w


class Head(nn.Module):
    def __init__(self, dim, device=None, dtype=None):
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.fc = nn.Linear(dim, 2, **factory_kwargs)

    def forward(self, x):
        return self.fc(x)
"""


def test_modules_built_from_placed_state_are_on_that_device() -> None:
    e = env(
        PLACED_MODULES
        + """
a = Shift(torch.zeros(4, device=device))
b = Scale(torch.ones(4, device=device))
c = Head(4, device=device)
kw = {"device": device}
d = nn.Linear(4, 2, **kw)
"""
    )
    for name in "abcd":
        assert e[name].kind is Kind.MODULE
        assert e[name].device == sym("device"), name


def test_modules_built_from_cpu_state_stay_on_the_cpu() -> None:
    e = env(
        PLACED_MODULES
        + """
a = Shift(torch.zeros(4))
b = Scale(torch.ones(4))
c = Head(4)
d = nn.Linear(4, 2, **{"dtype": torch.float64})
"""
    )
    for name in "abcd":
        assert e[name].device == DEV_CPU, name


def test_module_partly_placed_or_with_unknown_kwargs_is_unknown() -> None:
    e = env(
        PLACED_MODULES
        + """
class Both(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.register_buffer("a", t)
        self.register_buffer("b", torch.zeros(3))

m = Both(torch.ones(3, device=device))
def build(options):
    return nn.Linear(4, 2, **options)
n = build({})
"""
    )
    assert e["m"].device == DEV_UNKNOWN
    f = facts(
        """
def build(options, x):
    layer = nn.Linear(4, 2, **options)
    return layer(x.to(device))
"""
    )
    assert f.mismatches == []


def test_modules_under_a_default_device() -> None:
    e = env(
        PLACED_MODULES
        + """
with torch.device(device):
    a = Shift(torch.zeros(4))
    f = nn.Linear(4, 2)
"""
    )
    assert e["a"].device == sym("device")
    assert e["f"].device == sym("device")
    e = env(
        PLACED_MODULES
        + """
torch.set_default_device(device)
g = nn.Linear(4, 2)
h = Shift(torch.zeros(4))
"""
    )
    assert e["g"].device == DEV_UNKNOWN
    assert e["h"].device == DEV_UNKNOWN


def test_placed_module_called_with_placed_input_is_not_a_mismatch() -> None:
    src = (
        PLACED_MODULES
        + """
def run():
    x = torch.randn(3, 4, device=device)
    return Shift(torch.zeros(4, device=device))(x), Head(4, device=device)(x)

def wrong():
    x = torch.randn(3, 4, device=device)
    return Shift(torch.zeros(4))(x)
"""
    )
    lines = module_mismatch_lines(src)
    assert len(lines) == 1 and lines[0] > src.count("\n") - 3


# ------------------------------------------------------ class 8: one defect, one finding
def test_same_unmoved_module_is_reported_once_per_function() -> None:
    src = """
    def run():
        model = nn.Linear(4, 3)
        x = torch.randn(2, 4, device=device)
        out = model(x)
        again = model(x * 2)
        return out, again

    def other():
        model = nn.Linear(4, 3)
        return model(torch.randn(2, 4, device=device))
    """
    assert module_mismatch_lines(src) == [5, 11]


def test_same_unmoved_tensor_is_reported_once_but_a_new_binding_again() -> None:
    src = """
    def run(model):
        model = model.to(device)
        feats = torch.randn(2, 4, device=device).cpu()
        a = model(feats)
        b = model(feats)
        feats = torch.randn(2, 4, device=device).cpu()
        c = model(feats)
        return a, b, c
    """
    assert module_mismatch_lines(src) == [5, 8]
