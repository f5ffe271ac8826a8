"""Engine tests of three more false-positive classes of issue 13.

- class 1 (DL001): a same-file helper or method is evaluated with its caller's arguments,
  defaults included: known tests (`if cuda:`, `if device is not None:`, `device or
  "cpu"`, `flag and torch.cuda.is_available()`) take only their live branch;
- class 6 (DL006): a cached tensor compared only after an explicit device-equality check
  takes the input's device there;
- class 7 (DL008): a load of a path saved earlier in the same scope, or of a path this
  file only writes tensor-free or CPU payloads to, is no finding.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from devlint.engine.facts import Cause, FileFacts
from devlint.engine.flow import analyze
from devlint.engine.values import DEV_CPU, Kind, sym
from tests.test_engine import env
from tests.test_engine_issue13 import HEADER, _lines, module_mismatch_lines


def facts(src: str) -> FileFacts:
    text = HEADER + textwrap.dedent(src)
    return analyze(cst.parse_module(text), text)


def load_lines(src: str) -> list[int]:
    f = facts(src)
    return _lines(f, [load.node for load in f.loads])


def plain_attr_lines(src: str) -> list[int]:
    f = facts(src)
    return _lines(f, [m.node for m in f.mismatches if m.cause is Cause.PLAIN_ATTR])


# ------------------------------------------------------------- class 1: helper arguments
HELPERS = """
def make_data(cuda=False):
    x = torch.linspace(0, 1, 10)
    if cuda:
        x = x.cuda()
    return x

def make_batch(n, device=None):
    x = torch.randn(n, 1)
    if device is not None:
        x = x.to(device)
    return x

def make_grid(n, device=None):
    return torch.linspace(-1, 1, n, device=device or "cpu")

def make_y(x, use_gpu=False):
    if use_gpu and torch.cuda.is_available():
        return x.cuda()
    return x
"""


def test_known_flags_and_defaults_take_only_the_live_branch() -> None:
    e = env(
        HELPERS
        + """
a = make_data()
b = make_data(cuda=False)
c = make_data(cuda=True)
d = make_batch(3)
g = make_grid(4)
y = make_y(a)
h = make_batch(3, device)
"""
    )
    for name in ("a", "b", "d", "g", "y"):
        assert e[name].kind is Kind.TENSOR and e[name].device == DEV_CPU, name
    assert e["c"].device == frozenset({"cuda"})
    assert e["h"].device != DEV_CPU  # the caller's device: the move may happen


def test_unknown_flags_still_join_both_branches() -> None:
    e = env(
        HELPERS
        + """
import os
flag = os.environ.get("CUDA") == "1"
a = make_data(cuda=flag)
"""
    )
    assert e["a"].device != DEV_CPU  # both branches: the move may happen


def test_constant_folding_of_simple_tests() -> None:
    e = env(
        """
def pick(name, mode=0, on=True):
    if mode == 0 and not name == "y" and on is not None:
        return torch.zeros(2)
    return torch.zeros(2).to(device)

first = pick("x")
second = pick("x", mode=1)
fourth = pick(name="y")
third = torch.zeros(2, device="cuda") if False else torch.ones(2)
"""
    )
    assert e["first"].device == DEV_CPU
    assert e["second"].device == sym("device")
    assert e["third"].device == DEV_CPU
    assert e["fourth"].device == sym("device")


def test_test_methods_run_with_their_defaults_and_helpers_with_the_callers_values() -> None:
    src = (
        HELPERS
        + """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x):
        return self.lin(x)

class TestModel(unittest.TestCase):
    def _get(self, cuda=False):
        dev = torch.device("cuda") if cuda else torch.device("cpu")
        return torch.ones(3, 1, device=dev)

    def test_default(self):
        return Model()(make_data())

    def test_method(self):
        return Model()(self._get())

    def test_flag(self, cuda=False):
        model = Model()
        if cuda:
            model = model.cuda()
        return model(make_data(cuda=cuda))

    def test_gpu(self):
        return Model()(make_data(cuda=True))

    def test_gpu_method(self):
        return Model()(self._get(cuda=True))
"""
    )
    assert module_mismatch_lines(src) == [48, 51]  # test_gpu, test_gpu_method


def test_starred_arguments_keep_the_defaults_unknown() -> None:
    e = env(
        HELPERS
        + """
opts = {"cuda": True}
a = make_data(**opts)
"""
    )
    assert e["a"].device != DEV_CPU


# ------------------------------------------------------------- class 6: device checks
CACHE = """
class Cached(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.cache = torch.zeros(1, 4)
        self.index = torch.tensor([0, 2])

    def forward(self, x):
"""


def test_cache_compared_after_device_check_is_not_reported() -> None:
    checked = [
        "if not x.device == self.cache.device or not torch.equal(x, self.cache):\n"
        "            self.cache = x\n        return self.lin(self.cache)",
        "if x.device == self.cache.device and torch.equal(x, self.cache):\n"
        "            return x\n        return self.lin(x)",
        "if self.cache.shape[0] < 2 or self.cache.device != x.device:\n"
        "            self.cache = torch.ones(2, 4, device=x.device)\n        return x + self.cache",
        "if self.cache.device != x.device:\n            return self.lin(x)\n"
        "        return x + self.cache",
        "self.cache = x\n        return x * self.cache",
    ]
    for body in checked:
        assert plain_attr_lines(CACHE + "        " + body + "\n") == [], body


def test_plain_attribute_without_device_check_still_fires() -> None:
    assert plain_attr_lines(CACHE + "        return x.index_select(1, self.index)\n") == [10]
    assert plain_attr_lines(CACHE + "        return torch.equal(x, self.cache)\n") == [10]
    # a check of another pair of tensors says nothing about this one
    src = CACHE + (
        "        if x.device == self.lin.weight.device:\n"
        "            return x.index_select(1, self.index)\n"
        "        return x\n"
    )
    assert plain_attr_lines(src) == [11]


# ------------------------------------------------------------- class 7: loads
def test_load_of_a_path_saved_earlier_in_the_same_scope_is_silent() -> None:
    src = """
import io
def test_round_trip(tmp_path, model):
    path = tmp_path / "m.pt"
    torch.save(model, path)
    return torch.load(path)

def buffer_round_trip(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf)

def rebound(model, a, b):
    path = a
    torch.save(model, path)
    path = b
    return torch.load(path)

def saved_on_one_branch(model, path, best):
    if best:
        torch.save(model, path)
    return torch.load(path)

def saved_in_a_loop(model, path, epochs):
    for _ in range(epochs):
        torch.save(model, path)
    return torch.load(path)

def saved_elsewhere(path):
    return torch.load(path)
"""
    # saved on one branch or in a loop (`if better: torch.save(best, path)` while training,
    # then `torch.load(path)`): this run wrote the file; readers labelled it FALSE
    assert load_lines(src) == [18, 31]


def test_load_of_a_path_written_only_with_cpu_or_tensor_free_payloads_is_silent() -> None:
    src = """
class Store:
    def __init__(self, root):
        self.meta = root + "/meta.pt"
        self.weights = root + "/weights.pt"
        self.full = root + "/full.pt"

    def save(self, model, epochs: int):
        torch.save({"epochs": epochs, "name": "m", "done": True}, self.meta)
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, self.weights)
        torch.save(model.state_dict(), self.full)

    def load(self):
        return torch.load(self.meta), torch.load(self.weights), torch.load(self.full)

def save_copy(model, x):
    torch.save(x.cpu(), "x.pt")
    torch.save(model.cpu().state_dict(), "m.pt")

def load_copy():
    return torch.load("x.pt"), torch.load("m.pt"), torch.load("other.pt")
"""
    f = facts(src)
    texts = sorted(load.call_text for load in f.loads)
    assert texts == ['torch.load("other.pt")', "torch.load(self.full)"]


def test_device_check_against_a_cpu_copy_does_not_move_the_copy() -> None:
    """`out.device == values.device` with `out = values.cpu()`: where it holds, `values`
    is on the CPU; `out` stays there (botorch's `as_ndarray`)."""
    src = """
def as_array(values: torch.Tensor, inplace=True):
    out = values.cpu()
    if not inplace and out.device == values.device:
        out = out.clone()
    return out.numpy()
"""
    assert facts(src).numpy_calls == []
