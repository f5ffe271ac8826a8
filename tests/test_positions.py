"""`positions_of` (statements generated one by one, placed by `ast`) gives exactly the
positions of the whole-module pass, for every node, in every layout."""

from __future__ import annotations

import random
from pathlib import Path

import libcst as cst
import pytest

import devlint.positions as positions
from devlint.engine.walk import walk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

LAYOUTS = {
    "decorators_and_comments": (
        "import torch\n\n# a comment\n\n@decorator(\n    1)\n# between\n@other\n"
        "def f(x, d='cuda'):\n    '''doc'''\n    return x.to(d)  # trailing\n"
    ),
    "nested_classes": (
        "class A:\n    x = 1\n\n    class B:\n        def m(self):\n"
        "            if self:\n                return torch.zeros(3)\n\n"
        "    # footer comment\n\nz = A()\n"
    ),
    "semicolons": "a = 1; b = torch.ones(2); c = a + b\nd = 4\n",
    "crlf": "import torch\r\nclass M:\r\n    def f(self):\r\n        return torch.ones(1)\r\n",
    "cr_only": "import torch\rx = torch.ones(1)\ry = x.cuda()\r",
    "tabs": "class M:\n\tdef f(self):\n\t\treturn torch.ones(1)\n",
    "unicode": "s = 'é' ; t = torch.tensor([1])\nclass K:\n    ü = 'ß'\n    def f(self): return t\n",
    "one_line_bodies": "class A: x = torch.ones(1)\ndef g(): return torch.zeros(1)\n",
    "async_and_match": (
        "async def f(x):\n    async with a as b:\n        match x:\n"
        "            case [1, *r]:\n                return torch.ones(1)\n"
    ),
    "no_trailing_newline": "def f():\n    return torch.load('m.pt')",
    "continuations": "x = torch.ones(\n    3,\n)  \\\n    + 1\ny = [\n  1,\n  2]\n",
    "form_feed": "import torch\n\x0c\ndef f():\n    return torch.ones(1)\n",
    "indent_mix": "class A:\n  def f(self):\n        return 1\n  def g(self):\n     return 2\n",
}


def _sources() -> list[tuple[str, str]]:
    items = list(LAYOUTS.items())
    items += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.rglob("*.py"))]
    return items


@pytest.mark.parametrize(("name", "text"), _sources(), ids=[n for n, _ in _sources()])
def test_positions_of_equals_the_whole_module_pass(name: str, text: str) -> None:
    module = cst.parse_module(text)
    full = positions.node_positions(module)
    nodes = [n for n in walk(module) if not isinstance(n, cst.Module)]
    rng = random.Random(name)
    groups = [[n] for n in nodes] if len(nodes) < 400 else []
    groups += [rng.sample(nodes, min(6, len(nodes))) for _ in range(20)]
    for group in groups:
        got = positions.positions_of(module, text, group)
        assert {id(n): got.get(n) for n in group} == {id(n): full.get(n) for n in group}


def test_only_the_statements_holding_the_nodes_are_generated(monkeypatch) -> None:
    """The point of it: a node in the last statement of a long file costs one statement."""
    text = "".join(f"x{i} = torch.ones({i})\n" for i in range(500)) + "y = x1.cuda()\n"
    module = cst.parse_module(text)
    generated: list[cst.CSTNode] = []
    real = positions._place_statement

    def spy(module, statement, *args):
        generated.append(statement)
        return real(module, statement, *args)

    monkeypatch.setattr(positions, "_place_statement", spy)
    monkeypatch.setattr(positions, "node_positions", lambda m: pytest.fail("fell back"))
    last = module.body[-1]
    got = positions.positions_of(module, text, [last])
    assert generated == [last]
    assert got[last].start.line == 501


def test_a_file_ast_rejects_falls_back_to_the_whole_module_pass(monkeypatch) -> None:
    text = "x = 1\ny = torch.ones(1)\n"
    module = cst.parse_module(text)
    target = module.body[1]

    def broken(_text):
        raise SyntaxError("newer syntax than this Python")

    monkeypatch.setattr(positions.ast, "parse", broken)
    assert positions.positions_of(module, text, [target])[target].start.line == 2
