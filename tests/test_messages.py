"""Messages quote the code as the file writes it (issue 16, item 10): the receiver a
module is moved with, the input a module's method takes, a chained call's receiver, and
`--show-fixes` positions in the user's file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from devlint.checker import check_source
from devlint.engine.facts import FileFacts
from devlint.findings import Finding
from devlint.rules import ALL_RULES
from devlint.rules._fixes import quote_call
from tests.helpers import run, write


def _only(source: str, code: str) -> Finding:
    found = [
        f for f in check_source(textwrap.dedent(source), "t.py", ALL_RULES) if f.code == code
    ]
    assert len(found) == 1, found
    return found[0]


DL006 = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 4)
        self.scale = torch.ones(4)

    def forward(self, inp):
        return self.encoder(inp) * self.scale

{tail}
"""


@pytest.mark.parametrize(
    ("tail", "mover"),
    [
        ('dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")\nnet = Net()\nnet.to(dev)',
         "`net.to(dev)`"),
        ('encoder = Net().to(torch.device("cpu"))', '`Net().to(torch.device("cpu"))`'),
        ("", "moving a `Net` (`.to(device)`)"),
    ],
    ids=["variable", "chained", "not_moved_here"],
)
def test_dl006_names_the_move_the_file_makes(tail: str, mover: str) -> None:
    finding = _only(DL006.format(tail=tail), "DL006")
    assert f"which {mover} does not move" in finding.message
    assert "model.to(device)" not in finding.message


def test_dl005_help_names_the_input_as_the_method_calls_it() -> None:
    source = """\
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)

        def forward(self, input):
            pos = torch.arange(input.size(-1))
            return self.encoder(input) + pos
    """
    finding = _only(source, "DL005")
    assert finding.help == (
        "pass `device=input.device`: the input `input` is on the module's device"
    )


def test_a_long_cuda_call_keeps_its_receiver() -> None:
    source = """\
    import torch

    def f(x):
        return some_rather_long_function_name(x, another_argument_here).cuda()
    """
    finding = _only(source, "DL002")
    assert finding.message.startswith("`some_rather_long_function_name(...).cuda()` hard-codes")


def test_a_method_operation_is_quoted_with_its_receiver() -> None:
    source = """\
    import torch
    import torch.nn.functional as F

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.nn.Linear(8, 4).to(device)
    pool = torch.randn(16, 8).to(device)
    pseudo = model(pool).argmax(dim=1).cpu()
    picked = F.log_softmax(model(pool), dim=1).gather(1, pseudo.unsqueeze(1))
    """
    finding = _only(source, "DL009")
    assert finding.message.startswith("`F.log_softmax(model(pool), dim=1).gather(...)` mixes")


@pytest.mark.parametrize(
    ("code", "limit", "quoted"),
    [
        ("self.encoder(x).to(dev)", 60, "self.encoder(x).to(dev)"),
        ("self.encoder(x, y, z, w).to(device)", 30, "self.encoder(...).to(...)"),
        ("aaaa.bbbb(cccc).dddd(eeee).cuda()", 20, "aaaa.bbbb(...).dddd(...).cuda()"),
        ("f(" + "x, " * 40 + "y)", 20, "f(...)"),
    ],
)
def test_quote_call_elides_arguments_not_receivers(code: str, limit: int, quoted: str) -> None:
    module = cst.parse_module(code + "\n")
    call = module.body[0].body[0].value  # type: ignore[attr-defined]
    facts = FileFacts(module=module, source=code)
    assert quote_call(facts, call, limit) == quoted


def test_show_fixes_lists_a_later_round_where_the_file_has_it(project: Path) -> None:
    """The `.cuda()` fix is applied in a second round (its span overlaps the `.numpy()`
    fix), after a fix earlier on the line lengthened it: it is listed at its column in
    the file as the user wrote it, the column the check reported."""
    source = (
        "import torch\n\n"
        "def f(x):\n"
        # (the first hard-coded device only on some paths: a later one on the line is
        # not a second hit of the same defect)
        '    a = torch.ones(3, device="cuda") if x.ndim else x; b = x.sum().cuda().numpy()\n'
        "    return a, b\n"
    )
    write(project, "t.py", source)
    reported = run("--no-cache", "--output-format", "concise", "t.py").stdout
    assert "t.py:4:30: DL002" in reported and "t.py:4:68: DL002" in reported
    result = run("--no-cache", "--fix", "--unsafe-fixes", "--show-fixes", "t.py")
    listing = [line.strip() for line in result.stdout.splitlines() if line.startswith("  t.py")]
    assert [line.split(" ", 2)[:2] for line in listing] == [
        ["t.py:4:30:", "DL002"],
        ["t.py:4:60:", "DL007"],
        ["t.py:4:68:", "DL002"],
    ]


@pytest.mark.parametrize(
    ("expr", "moved"),
    [
        ("rows.T @ rows + ridge", "`(rows.T @ rows).to(device)`"),
        ("(rows.T @ rows) + ridge", "`(rows.T @ rows).to(device)`"),
        ("rows.T + ridge", "`rows.T.to(device)`"),
        ("rows.t() + ridge", "`rows.t().to(device)`"),
    ],
    ids=["binary", "parenthesised", "attribute", "call"],
)
def test_dl009_hint_moves_the_whole_operand(expr: str, moved: str) -> None:
    """`.to()` binds tighter than `@`: the hint parenthesises an operand that is not an
    atom, or it would move only its last part and keep the mismatch."""
    source = f"""\
    import torch


    def main():
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        ridge = torch.eye(3, device=device)
        rows = torch.randn(4, 3, device=device).cpu()
        print({expr})
    """
    finding = _only(source, "DL009")
    assert f"move it to the other operand's device: {moved}" in finding.help
