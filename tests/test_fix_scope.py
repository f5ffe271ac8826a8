"""The scope check fixes rely on: a fix names only what is bound where it writes it."""

from __future__ import annotations

import libcst as cst
import pytest

from devlint.checker import check_source
from devlint.engine.walk import walk
from devlint.fix import fix_source
from devlint.rules import ALL_RULES
from devlint.rules._scope import Bindings


def _at(module: cst.Module, marker: str) -> cst.CSTNode:
    """The call `marker()` in `module` (a placeholder where a fix would write)."""
    for node in walk(module):
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == marker
        ):
            return node
    raise AssertionError(marker)


SOURCE = """
import torch
device = torch.device("cpu")

def train(model, dev):
    here()
    later = 1
    for batch in loader:
        in_loop()
    squares = [comp() for i in range(3)]
    g = lambda y: lam()

class Trainer:
    attr = cls_body()
    def __init__(self, model, device_arg):
        self.device = device_arg
        self.dev2 = device_arg
    def step(self, x):
        method()
        def inner():
            nested()

top()
late_global = 2

def uses_global():
    global late_global
    glob()
"""


@pytest.mark.parametrize(
    ("expression", "marker", "usable"),
    [
        ("device", "here", True),  # module level, bound anywhere
        ("dev", "here", True),  # parameter
        ("later", "here", False),  # a local bound further down: UnboundLocalError
        ("later", "in_loop", True),
        ("batch", "in_loop", True),  # a loop target inside its loop
        ("batch", "here", False),
        ("i", "comp", True),
        ("i", "here", False),  # comprehension targets stay in the comprehension
        ("y", "lam", True),
        ("model", "lam", True),  # an enclosing function's parameter
        ("attr", "method", False),  # class bodies are invisible to their methods
        ("device_arg", "method", False),  # another method's parameter
        ("self.device", "method", True),
        ("self", "nested", True),
        ("late_global", "top", False),  # module level code runs in order
        ("late_global", "glob", True),
        ("torch.cuda", "here", True),
        ("undefined", "here", False),
    ],
)
def test_usable(expression: str, marker: str, usable: bool) -> None:
    module = cst.parse_module(SOURCE)
    assert Bindings(module).usable(expression, _at(module, marker)) is usable


def test_via_self_names_the_attribute_a_method_can_reach() -> None:
    module = cst.parse_module(SOURCE)
    b = Bindings(module)
    assert b.via_self("device_arg", _at(module, "method")) == "self.device"
    assert b.via_self("device_arg", _at(module, "nested")) == "self.device"
    assert b.via_self("device_arg", _at(module, "here")) is None


def test_a_target_is_bound_after_its_value() -> None:
    module = cst.parse_module("def f():\n    x = g(probe())\n    y = probe2()\n")
    b = Bindings(module)
    assert not b.usable("x", _at(module, "probe"))
    assert b.usable("x", _at(module, "probe2"))


@pytest.mark.parametrize(
    "source",
    [
        # a sum of 5,000 terms is a left-leaning tree 5,000 nodes deep (LibCST's native
        # parser builds it at the default recursion limit); the scope check must not recurse
        "x = probe()" + " + 1" * 5_000 + "\n",
        "x = " + "(" * 900 + "probe()" + ")" * 900 + "\n",
    ],
    ids=["long_sum", "deep_parentheses"],
)
def test_deep_nesting_does_not_overflow(source: str) -> None:
    module = cst.parse_module(source)
    assert not Bindings(module).usable("x", _at(module, "probe"))


def _fixed(source: str) -> str:
    return fix_source(
        source, "t.py", lambda t: check_source(t, "t.py", ALL_RULES), unsafe=True
    ).fixed


def test_dl003_fix_uses_the_attribute_not_another_methods_parameter() -> None:
    source = (
        "import torch\n"
        "class Trainer:\n"
        "    def __init__(self, model, loader, device):\n"
        "        self.device = device\n"
        "        self.model = model.to(device)\n"
        "        self.loader = loader\n"
        "    def epoch(self):\n"
        "        for x, y in self.loader:\n"
        "            y = y.to(self.device)\n"
        "            out = self.model(x)\n"
    )
    fixed = _fixed(source)
    assert "x = x.to(self.device)" in fixed
    assert "x.to(device)" not in fixed


def test_dl005_fix_never_names_a_partner_made_further_down() -> None:
    source = (
        "import torch\n"
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "model = torch.nn.Linear(5, 5).to(device)\n"
        "def run(batches):\n"
        "    keep = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])\n"
        "    for b in batches:\n"
        "        logits = model(b.to(device))\n"
        "        print(logits * keep)\n"
    )
    fixed = _fixed(source)
    assert "logits.device" not in fixed
    assert "torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], device=device)" in fixed
    compile(fixed, "t.py", "exec")


def test_dl003_fix_follows_the_rest_of_the_batch_when_the_model_is_a_parameter() -> None:
    source = (
        "import torch\n"
        "def train(model, loader, device):\n"
        "    for x, mask, y in loader:\n"
        "        x = x.to(device)\n"
        "        y = y.to(device)\n"
        "        loss = (model(x, mask) - y).sum()\n"
        "def main():\n"
        "    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "    train(torch.nn.Linear(2, 2).to(device), [], device)\n"
    )
    assert "        mask = mask.to(device)\n        x = x.to(device)\n" in _fixed(source)
