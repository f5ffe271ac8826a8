"""Data moved by things devlint does not know (issue 14, asteroid's evaluation recipe):

- a move helper (`to_device(tensors, device)`: every return is the move, the argument
  as it is, or calls of the helper itself) returns its argument on the device, in this
  file and, through the project summary, in the modules that import it;
- `x.to(device)` of something unknown is a tensor once a method only tensors have is
  called on it (`.numpy()`, `.detach()`) or its `.data` is read;
- a model of unknown type moved only under a device flag (`if conf["use_gpu"]:
  model.cuda()`) is on the accelerator when one is chosen;
- a local variable named like an imported module (`model`, beside `from model import
  build`) is the variable: `model.parameters()` is the model's."""

from __future__ import annotations

import libcst as cst

from devlint.checker import check_source
from devlint.engine.syntax import move_helper
from devlint.rules import RULES_BY_CODE


def _helper(code: str):
    module = cst.parse_module(code)
    (func,) = [s for s in module.body if isinstance(s, cst.FunctionDef)]
    return move_helper(func)


def test_a_move_helper_is_known_by_its_returns() -> None:
    assert _helper(
        "def to_device(t, device):\n"
        "    if isinstance(t, torch.Tensor):\n"
        "        return t.to(device)\n"
        "    if isinstance(t, dict):\n"
        "        return {k: to_device(v, device) for k, v in t.items()}\n"
        "    if isinstance(t, (list, tuple)):\n"
        "        return type(t)(to_device(v, device) for v in t)\n"
        "    return t\n"
    ) is None  # `type(t)(...)` is not one of the shapes it knows: no guess
    assert _helper(
        "def to_device(t, device):\n"
        "    if isinstance(t, (list, tuple)):\n"
        "        return tuple(to_device(v, device) for v in t)\n"
        "    if isinstance(t, dict):\n"
        "        return {k: to_device(v, device) for k, v in t.items()}\n"
        "    return t.to(device=device)\n"
    ) == ("t", "device")
    assert _helper("def f(x, device):\n    return x.to(device)\n") == ("x", "device")
    # a factory on one path, another parameter passed through, no move at all: not one
    assert _helper(
        "def f(x, device):\n    if x is None:\n        return torch.zeros(3)\n    return x.to(device)\n"
    ) is None
    assert _helper("def f(x, y, device):\n    if y:\n        return y\n    return x.to(device)\n") is None
    assert _helper("def f(x, device):\n    return x\n") is None


SOURCE = """\
import torch
from model import build


def to_device(tensors, device):
    if isinstance(tensors, torch.Tensor):
        return tensors.to(device)
    if isinstance(tensors, (list, tuple)):
        return [to_device(t, device) for t in tensors]
    return tensors


def evaluate(conf, examples):
    model = build(conf)
    if conf["use_gpu"]:
        model.cuda()
    device = next(model.parameters()).device
    for example in examples:
        inputs, targets = to_device(example, device)
        a = inputs.numpy()
        b = targets.cpu().numpy()
        c = example[0].to(device).detach().numpy()
        d = example[1].to(device).data.numpy()
        return a, b, c, d


def export(examples):
    model = build({})
    model.to("cpu")
    return [to_device(e, "cpu")[0].numpy() for e in examples]
"""


def test_what_a_move_helper_and_a_flag_guarded_move_place_reaches_numpy() -> None:
    found = check_source(SOURCE, "evaluate.py", [RULES_BY_CODE["DL007"]], role="script")
    assert [(f.code, f.line) for f in found] == [("DL007", 20), ("DL007", 22), ("DL007", 23)]
