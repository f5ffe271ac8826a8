"""The language server's incremental parse (`devlint.lsp_incremental`): never different.

The memo re-parses only the top-level statements an edit touched; everything the
checker gets from it (the module, positions, suppression comments) must equal what a
check from scratch computes, so the editor's findings stay the command line's.  No
pygls needed: these run on every Python devlint supports.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import libcst as cst
import pytest

from devlint import checker, suppression
from devlint.lsp_incremental import BufferMemo, split_lines, statement_starts
from devlint.positions import positions_of
from devlint.rules import ENGINE_CODES, rules_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RULES = rules_for([*ENGINE_CODES, "DL100"])  # DL100: suppression comments always read

BASE = '''\
"""Doc."""
import torch
from torch import nn


@torch.no_grad()
@staticmethod
def evaluate(model, loader, device):
    model.eval()
    for x in loader:
        x.to(device)  # DL004
    # trailing comment of the block

  # less indented comment
# a comment at column 0

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x) + torch.ones(2)


if torch.cuda.is_available():
    device = "cuda"
else:
    device = "cpu"
try:
    state = torch.load("m.pt")
except OSError:
    state = None
finally:
    pass
text = """
def not_a_statement():
    pass
"""
total = (1 +
2)
joined = 1 + \\
2
'''


def nodes(module: cst.Module) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            found.append(node)
            return True

    module.visit(Collect())
    return found


def same_as_scratch(memo: BufferMemo, text: str, every: int = 1) -> None:
    """The memo's module, positions (of every `every`-th node) and comments equal those
    of a parse from scratch."""
    module = memo.parse(text)
    whole = cst.parse_module(text)
    assert module.deep_equals(whole)
    assert module.code == whole.code
    some = nodes(module)[::every]
    assert memo.positions(module, some) == positions_of(module, some)
    assert memo.scan(text) == suppression.scan(text)


def findings(text: str, memo: BufferMemo | None) -> list[tuple]:
    found = checker.check_text(text, "train.py", RULES, reuse=memo)
    return [(f.code, f.line, f.col, f.end_line, f.end_col, f.message, f.fix) for f in found]


def test_statement_starts_skip_continuations_strings_and_decorated_defs() -> None:
    lines = split_lines(BASE)
    starts = [lines[i].split("(")[0].split()[0] for i in statement_starts(lines)]
    assert starts == [
        "import",
        "from",
        "@torch.no_grad",
        "class",
        "if",
        "try:",
        "text",
        "total",
        "joined",
    ]


def test_edits_reparse_only_the_statements_they_touch() -> None:
    memo = BufferMemo()
    same_as_scratch(memo, BASE)
    assert memo.last_parse == "scratch"
    edited = BASE.replace("        x.to(device)  # DL004", "        x = x.to(device)")
    same_as_scratch(memo, edited)
    assert (memo.last_parse, memo.reparsed) == ("incremental", 1)
    same_as_scratch(memo, edited)
    assert memo.last_parse == "same"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # an indented line at the start of a statement continues the one above
        ("\nclass Net", "\n    extra = 1\nclass Net"),
        # `else:` / `except` / `finally` join the statement above
        ('else:\n    device = "cpu"\n', 'elif False:\n    pass\nelse:\n    device = "cpu"\n'),
        # a decorator added above a class, and one removed
        ("class Net", "@dataclass\nclass Net"),
        ("@staticmethod\n", ""),
        # a string that held statements is code again (and back: code becomes a string)
        ('text = """\ndef not_a_statement():\n    pass\n"""\n', "text = 1\ndef f():\n    pass\n"),
        # a lone backslash line joins the next line (LibCST and Python agree)
        ("    # trailing comment of the block\n", "    # trailing comment of the block\n\\\n"),
        # comment ownership at a boundary changes with the indentation
        ("# a comment at column 0\n", "        # a deep comment\n\n"),
        # statements added at the end, and the end without a newline
        ("joined = 1 + \\\n2\n", "joined = 1 + \\\n2\ndef tail():\n    return 1\n"),
        ("joined = 1 + \\\n2\n", "joined = 1 + \\\n2"),
        # whole statements deleted
        (
            'try:\n    state = torch.load("m.pt")\nexcept OSError:\n    state = None\nfinally:\n    pass\n',
            "",
        ),
        # another indentation and line ending (chunks must agree, or the whole is parsed)
        ("joined = 1 + \\\n2\n", "joined = 1 + \\\n2\ndef tabbed():\n\treturn 1\n"),
        ("\n", "\r\n"),
        ("\n", "\r"),
    ],
)
def test_every_edit_gives_the_module_a_fresh_parse_gives(old: str, new: str) -> None:
    memo = BufferMemo()
    memo.parse(BASE)
    edited = BASE.replace(old, new)
    try:
        cst.parse_module(edited)
    except cst.ParserSyntaxError:
        with pytest.raises(cst.ParserSyntaxError):
            memo.parse(edited)
        return
    same_as_scratch(memo, edited)
    same_as_scratch(memo, BASE)  # and back


def _edit(rng: random.Random, text: str) -> str:
    lines = split_lines(text)
    snippets = [
        "x = 1\n",
        "    y = 2\n",
        "else:\n    pass\n",
        "@dec\n",
        "def h():\n    return torch.zeros(2)\n",
        "# c\n",
        "    # deep\n",
        "\n",
        '"""\n',
        "\\\n",
        "if q:\n    z = 3\n",
    ]
    i = rng.randrange(len(lines) + 1)
    roll = rng.random()
    if roll < 0.4 or i == len(lines):
        lines.insert(i, rng.choice(snippets))
    elif roll < 0.6:
        del lines[i]
    elif roll < 0.8:
        j = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:j] + rng.choice(["a", " ", "(", ")", "'", "#", ":"]) + lines[i][j:]
    else:
        lines[i : i + 3] = lines[i : i + 3][::-1]
    return "".join(lines)


@pytest.mark.parametrize(
    "name",
    [
        "buggy/dl005_arange_in_forward.py",
        "buggy/dl003_dict_batch_partial_move.py",
        "buggy/dl004_tensor_param_discarded.py",
        "clean/dl006_causal_mask_buffer.py",
    ],
)
def test_random_edits_give_the_findings_of_a_check_from_scratch(name: str) -> None:
    rng = random.Random(name)
    text = (FIXTURES / name).read_text(encoding="utf-8")
    memo = BufferMemo()
    assert findings(text, memo) == findings(text, None)
    checked = 0
    for _ in range(30):
        edited = _edit(rng, text)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(edited, name, "exec")
            cst.parse_module(edited)
        except (SyntaxError, ValueError, cst.ParserSyntaxError):
            continue
        text = edited
        assert findings(text, memo) == findings(text, None)
        same_as_scratch(memo, text, every=9)
        checked += 1
    assert checked >= 8


def test_warm_prepares_every_chunk_and_stops_when_asked() -> None:
    memo = BufferMemo()
    memo.parse(BASE)
    assert memo.warm(lambda: True) == 0
    calls = iter([False, False, True])
    assert memo.warm(lambda: next(calls)) == 2
    assert memo.warm(lambda: False) == len(memo.chunks) - 2
    assert all(c.comments is not None and c.lossless for c in memo.chunks)
    edited = BASE.replace("total = (1 +", "total = (2 +")
    same_as_scratch(memo, edited)
