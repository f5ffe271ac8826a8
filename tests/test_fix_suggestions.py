"""Fixes where users need them most (issue 16, item 11): a discarded move on a loop
variable, a factory in a method with no input tensor, a legacy constructor."""

from __future__ import annotations

import textwrap
from typing import Optional

import libcst as cst
import pytest

from devlint.checker import check_source
from devlint.findings import Finding
from devlint.fix import fix_source, parses
from devlint.rules import ALL_RULES
from devlint.rules._fixes import legacy_form, legacy_replacement


def _findings(source: str, code: str) -> list[Finding]:
    return [f for f in check_source(textwrap.dedent(source), "t.py", ALL_RULES) if f.code == code]


def _one(source: str, code: str) -> Finding:
    found = _findings(source, code)
    assert len(found) == 1, found
    return found[0]


def _fixed(source: str, unsafe: bool = True) -> str:
    text = textwrap.dedent(source)
    result = fix_source(text, "t.py", lambda t: check_source(t, "t.py", ALL_RULES), unsafe=unsafe)
    assert parses(result.fixed)
    return result.fixed


# --- (a) a discarded move of a loop variable ------------------------------------------

LOOP = """\
import torch
from torch.utils.data import DataLoader

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(8, 2).to(device)
loader = DataLoader(range(4))
for x, y in loader:
    x.to(device)
{after}
"""


def test_a_loop_variable_read_after_the_move_is_rebound() -> None:
    source = LOOP.format(after="    out = model(x)")
    finding = _one(source, "DL004")
    assert finding.fix is not None and finding.fix["applicability"] == "safe"
    assert "    x = x.to(device)\n    out = model(x)\n" in _fixed(source, unsafe=False)


@pytest.mark.parametrize(
    "after",
    [
        "    print(y)",  # never read again in the loop
        "    print(model.x, dict(x=1))",  # an attribute and a keyword named x are not reads
        "    x = y",  # a store is not a read
    ],
    ids=["not_read", "attribute_and_keyword", "store"],
)
def test_a_loop_variable_not_read_after_the_move_gets_no_fix(after: str) -> None:
    finding = _one(LOOP.format(after=after), "DL004")
    assert finding.fix is None
    assert "x = x.to(device)" in finding.help


def test_a_move_of_an_expression_is_not_assigned_to() -> None:
    """`f(x).to(d)` cannot be the target of an assignment: no fix, a help that parses."""
    source = """\
    import torch
    import torch.nn as nn
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)

        def forward(self, x):
            self.encoder(x).to(dev)
            return x
    """
    finding = _one(source, "DL004")
    assert finding.fix is None
    assert "self.encoder(x) =" not in finding.help
    assert "`y = self.encoder(x).to(dev)`" in finding.help


# --- (b) a factory in a method with no input tensor -----------------------------------

MODULE = """\
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
{init}

    {decorator}def init_hidden(self, batch_size):
        return torch.zeros(1, batch_size, 16)

    def forward(self, x):
        out, _ = self.rnn(x, self.init_hidden(x.size(0)))
        return out


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = Tagger().to(device)
"""
GRU = "        self.rnn = nn.GRU(8, 16, batch_first=True)"


@pytest.mark.parametrize(
    ("init", "device"),
    [
        (GRU, "next(self.parameters()).device"),
        (GRU + "\n        self.scale = nn.Parameter(torch.ones(1))", "next(self.parameters()).device"),
        (
            "        self.rnn = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, 16))",
            "next(self.parameters()).device",
        ),
        (
            "        self.rnn = nn.ReLU()\n"
            '        self.register_buffer("table", torch.zeros(4))',
            "self.table.device",
        ),
    ],
    ids=["layer", "parameter", "container", "buffer_only"],
)
def test_the_module_device_is_offered_as_an_unsafe_fix(init: str, device: str) -> None:
    source = MODULE.format(init=init, decorator="")
    finding = _one(source, "DL005")
    assert finding.fix is not None and finding.fix["applicability"] == "unsafe"
    assert f"`device={device}`" in finding.help
    assert f"torch.zeros(1, batch_size, 16, device={device})" in _fixed(source)
    assert _fixed(source, unsafe=False) == source


@pytest.mark.parametrize(
    "init",
    [
        "        self.rnn = nn.ReLU()",  # no parameter, no buffer: next() would raise
        "        self.rnn = nn.LayerNorm(16, elementwise_affine=False)",
        "        self.rnn = nn.Sequential(nn.ReLU(), nn.Dropout(0.1))",
    ],
    ids=["parameter_free_layer", "no_affine", "parameter_free_container"],
)
def test_no_module_device_without_parameters_or_buffers(init: str) -> None:
    finding = _one(MODULE.format(init=init, decorator=""), "DL005")
    assert finding.fix is None
    assert "module's device" in finding.help


def test_no_module_device_outside_an_instance_method_of_a_module() -> None:
    plain = MODULE.replace("class Tagger(nn.Module):", "class Tagger(Base):").format(
        init=GRU, decorator=""
    )
    for source in (plain, MODULE.format(init=GRU, decorator="@staticmethod\n    ")):
        assert all(f.fix is None for f in _findings(source, "DL005"))


def test_the_input_tensor_of_the_method_is_named_in_help_and_fix() -> None:
    """The help names the module's input as the file calls it (not always `x`)."""
    source = """\
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.register_buffer("scale", torch.ones(4))

        def forward(self, input):
            pos = torch.arange(input.size(-1))
            return self.encoder(input) * self.scale + pos

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = Net().to(device)
    """
    finding = _one(source, "DL005")
    assert "`device=input.device`" in finding.help
    assert "for an input `x`" not in finding.help
    assert finding.fix is not None and finding.fix["applicability"] == "unsafe"
    assert "torch.arange(input.size(-1), device=input.device)" in _fixed(source)


# --- (c) legacy constructors -----------------------------------------------------------

LEGACY = """\
import numpy as np
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
x = torch.ones(2, 3, device=device)
w = {call}
print(x * w)
"""


@pytest.mark.parametrize(
    ("call", "replacement", "applicability"),
    [
        (
            "torch.FloatTensor([1, 2])",
            "torch.tensor([1, 2], dtype=torch.float32, device=device)",
            "safe",
        ),
        ("torch.FloatTensor(2, 3)", "torch.empty(2, 3, dtype=torch.float32, device=device)", "safe"),
        ("torch.LongTensor((4,))", "torch.tensor((4,), dtype=torch.int64, device=device)", "safe"),
        ("torch.Tensor(3)", "torch.empty(3, device=device)", "safe"),
        ("torch.Tensor([1.0, 2.5])", "torch.tensor([1.0, 2.5], device=device)", "safe"),
        (
            "torch.Tensor([1, 2])",
            "torch.tensor([1, 2], dtype=torch.get_default_dtype(), device=device)",
            "safe",
        ),
        (
            "torch.DoubleTensor(np.ones(3))",
            "torch.tensor(np.ones(3), dtype=torch.float64, device=device)",
            "unsafe",  # the constructor shared the array's memory; torch.tensor copies it
        ),
    ],
)
def test_a_legacy_constructor_becomes_a_factory_with_a_device(
    call: str, replacement: str, applicability: str
) -> None:
    source = LEGACY.format(call=call)
    finding = _one(source, "DL005")
    assert finding.fix is not None
    assert finding.fix["applicability"] == applicability
    assert f"`{replacement}`" in finding.help
    assert f"\nw = {replacement}\n" in _fixed(source)
    if applicability == "unsafe":
        assert _fixed(source, unsafe=False) == source


def test_a_legacy_constructor_the_fix_cannot_rewrite_gets_help_and_no_fix() -> None:
    """`FloatTensor(...)` imported by name: the help names both factories, with the dtype."""
    source = LEGACY.format(call="FloatTensor([1, 2])").replace(
        "import torch\n", "import torch\nfrom torch import FloatTensor\n"
    )
    finding = _one(source, "DL005")
    assert finding.fix is None
    assert "`torch.tensor(data, dtype=torch.float32, device=device)` for data" in finding.help
    assert "`torch.empty(*size, dtype=torch.float32, device=device)` for a size" in finding.help


@pytest.mark.parametrize(
    "call",
    [
        "torch.FloatTensor([1, 2])",
        "torch.FloatTensor(2, 3)",
        "torch.FloatTensor()",
        "torch.IntTensor((1, 2, 3))",
        "torch.Tensor([1, 2])",
        "torch.Tensor([0.5, 1.5])",
        "torch.Tensor(4)",
        "torch.BoolTensor([True, False])",
        "torch.HalfTensor([1, 2])",
        "torch.Tensor(x.size())",
        "torch.LongTensor(len(x))",
        "torch.FloatTensor([[1, 2], [3, 4]])",
    ],
)
def test_the_replacement_makes_the_same_tensor(call: str) -> None:
    """Evaluated on the CPU, the rewrite has the constructor's dtype, shape and (for data)
    values: only the device changes."""
    torch = pytest.importorskip("torch")
    node = cst.parse_expression(call)
    assert isinstance(node, cst.Call)
    rewritten: Optional[tuple[cst.Call, str]] = legacy_replacement(node, '"cpu"')
    assert rewritten is not None
    new = cst.Module([]).code_for_node(rewritten[0])
    x = torch.zeros(2, 3)
    before, after = eval(call, {"torch": torch, "x": x}), eval(new, {"torch": torch, "x": x})
    assert (after.dtype, after.shape, after.device) == (before.dtype, before.shape, before.device)
    if rewritten[1] != "shape":
        assert torch.equal(before, after)


@pytest.mark.parametrize(
    ("call", "form"),
    [
        ("torch.FloatTensor(n)", None),
        ("torch.FloatTensor(t)", None),
        ("torch.FloatTensor(a, b)", "shape"),
        ("torch.FloatTensor(x.shape[0])", "shape"),
        ("torch.FloatTensor(x.tolist())", "data"),
        ("torch.FloatTensor(arr.numpy())", "array"),
        ("torch.FloatTensor([v for v in y])", "data"),
        # a `device=` it was given says nothing of the form; another keyword is unknown
        ("torch.FloatTensor(2, device='cpu')", "shape"),
        ("torch.FloatTensor([1.0], device=device)", "data"),
        ("torch.FloatTensor(2, requires_grad=True)", None),
        ("torch.FloatTensor(*sizes)", None),
    ],
)
def test_legacy_forms(call: str, form: Optional[str]) -> None:
    """What the arguments say; when they say nothing, there is no rewrite."""
    node = cst.parse_expression(call)
    assert isinstance(node, cst.Call)
    assert legacy_form(node) == form
    if form is None:
        assert legacy_replacement(node, "x.device") is None


def test_a_legacy_constructor_given_a_device_fails_itself_on_an_accelerator() -> None:
    """`torch.FloatTensor(shape, device=device)`: on an accelerator the constructor raises
    before anything is combined, and the message says so; without `device=` (or with the
    CPU) the message is about the mixed-device operation."""
    given = _one(LEGACY.format(call="torch.FloatTensor((2, 3), device=device)"), "DL005")
    assert "raises `RuntimeError: legacy constructor expects device type: cpu`" in given.message
    plain = _one(LEGACY.format(call="torch.FloatTensor(2, 3)"), "DL005")
    assert "legacy constructor expects" not in plain.message
    assert "it always creates a CPU tensor" in plain.message
    cpu = _one(LEGACY.format(call="torch.FloatTensor((2, 3), device='cpu')"), "DL005")
    assert "legacy constructor expects" not in cpu.message
