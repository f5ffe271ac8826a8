"""`Source` (the character positions and source text of `ast` nodes, which findings
and fixes are placed with) agrees with the standard library's own conversion, for every
node of every fixture and of odd layouts: non-ASCII lines (`ast` counts bytes), form
feeds, CR-only and CRLF line ends, tabs, continuations."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from devlint.engine.nodes import Source
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
    "wide_chars": "x = '日本語'; y = torch.ones(1).cuda()  # 🙂\nz = ('ü' +\n  'é')\n",
    "indent_mix": "class A:\n  def f(self):\n        return 1\n  def g(self):\n     return 2\n",
}


def _sources() -> list[tuple[str, str]]:
    items = list(LAYOUTS.items())
    items += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.rglob("*.py"))]
    return items


@pytest.mark.parametrize(("name", "text"), _sources(), ids=[n for n, _ in _sources()])
def test_segments_and_spans_agree_with_the_standard_library(name: str, text: str) -> None:
    tree = ast.parse(text)
    source = Source(text)
    lines = io.StringIO(text, newline="").readlines()  # split at \n, \r\n, \r only
    checked = 0
    for node in walk(tree):
        if getattr(node, "end_col_offset", None) is None:
            continue
        expected = ast.get_source_segment(text, node)
        assert source.segment(node) == expected, ast.dump(node)
        line, col, end_line, end_col = source.span(node)  # type: ignore[misc]
        assert (line, end_line) == (node.lineno, node.end_lineno)
        parts = io.StringIO(expected, newline="").readlines() or [""]
        assert lines[line - 1][col:].startswith(parts[0])
        assert lines[end_line - 1][:end_col].endswith(parts[-1])
        checked += 1
    assert checked > 0


def test_a_node_the_engine_made_up_has_no_span_and_prints_as_code() -> None:
    source = Source("x = 1\n")
    made_up = ast.Call(func=ast.Name(id="fixture"), args=[], keywords=[])
    assert source.span(made_up) is None
    assert source.segment(made_up) == "fixture()"
