"""`positions_of` (the positions of LibCST nodes, which findings and fixes are placed
with, from one lean codegen pass) agrees with LibCST's own `PositionProvider`, for every
node of every fixture and of odd layouts: non-ASCII lines, form feeds, CR-only and CRLF
line ends, tabs, continuations; and `render` gives a node back in the indentation of the
blocks around it."""

from __future__ import annotations

import random
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Optional

import libcst as cst
import pytest
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from devlint.engine.walk import walk
from devlint.positions import positions_of, render

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


_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+$")  # lines as LibCST counts them


def _select(text: str, where: CodeRange) -> str:
    """The source text between two LibCST positions (1-based lines, 0-based columns)."""
    lines = [*_LINE.findall(text), ""]
    start, end = where.start, where.end
    if start.line == end.line:
        return lines[start.line - 1][start.column : end.column]
    return (
        lines[start.line - 1][start.column :]
        + "".join(lines[start.line : end.line - 1])
        + lines[end.line - 1][: end.column]
    )


@dataclass
class _HoistingState(CodegenState):
    """Notes the nodes whose syntactic position LibCST takes from their children
    (`record_syntactic_position(start_node=..., end_node=...)`: statements, blocks)."""

    hoisted: set[int] = field(default_factory=set)

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> Iterator[None]:
        if start_node is not None or end_node is not None:
            self.hoisted.add(id(node))
        yield


def _libcst_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def _hoisted(module: cst.Module) -> set[int]:
    """Ids of the module and of the nodes LibCST places by their children."""
    state = _HoistingState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    module._codegen(state)
    return state.hoisted | {id(module)}


@pytest.mark.parametrize(("name", "text"), _sources(), ids=[n for n, _ in _sources()])
def test_positions_of_equals_libcst_position_provider(name: str, text: str) -> None:
    """Every node (whitespace, operators and parentheses included) that LibCST places by
    its own tokens: `positions_of` gives the range `PositionProvider` gives, whether it is
    asked for all nodes at once, for a few, or for the node alone, and the source text
    in that range is the text the provider's range selects."""
    module = cst.parse_module(text)
    expected = _libcst_positions(module)
    hoisted = _hoisted(module)
    nodes = [n for n in expected if id(n) not in hoisted]
    assert nodes
    everything = positions_of(module, expected)
    rng = random.Random(name)
    groups = [[n] for n in nodes] if len(nodes) < 400 else []
    groups += [rng.sample(nodes, min(6, len(nodes))) for _ in range(20)]
    for group in [nodes, *groups]:
        got = everything if group is nodes else positions_of(module, group)
        for node in group:
            placed = got.get(id(node))
            assert placed is not None, (type(node).__name__, expected[node])
            assert placed.range == expected[node], type(node).__name__
            assert _select(text, placed.range) == _select(text, expected[node])


def test_hoisted_nodes_and_the_module_are_placed_as_libcst_places_them() -> None:
    """Statements, blocks and the module, which `PositionProvider` places by their
    children (a statement line ends at its last statement, not after its newline; a block
    starts at its first statement): `positions_of` must give the same range, or leave the
    node out, as its docstring says; never a different range."""
    wrong = []
    for name, text in _sources():
        module = cst.parse_module(text)
        expected = _libcst_positions(module)
        hoisted = _hoisted(module)
        nodes = [n for n in expected if id(n) in hoisted]
        got = positions_of(module, nodes)
        for node in nodes:
            placed = got.get(id(node))
            if placed is not None and placed.range != expected[node]:
                wrong.append((name, type(node).__name__, expected[node], placed.range))
    kinds = Counter(kind for _, kind, _, _ in wrong)
    assert wrong == [], f"{len(wrong)} nodes misplaced ({dict(kinds)}), first: {wrong[0]}"


def test_the_source_between_the_positions_is_the_node_text() -> None:
    """An oracle independent of `PositionProvider`: the text between a node's positions
    is the node's own code (rendered in the indentation of its blocks, without its own
    parentheses, which a syntactic range leaves out)."""
    for name, text in LAYOUTS.items():
        module = cst.parse_module(text)
        nodes = [n for n in walk(module) if isinstance(n, cst.BaseExpression)]
        got = positions_of(module, nodes)
        for node in nodes:
            placed = got[id(node)]
            bare = node.with_changes(lpar=(), rpar=()) if getattr(node, "lpar", ()) else node
            assert _select(text, placed.range) == render(module, bare, placed.indent_tokens), (
                name,
                type(node).__name__,
            )


def test_render_keeps_the_block_indentation_of_continuation_lines() -> None:
    """A multi-line call nested in indented blocks renders back to its own source text
    with the indentation `positions_of` recorded; `Module.code_for_node` renders it as if
    at module level, so its continuation lines lose the block indentation."""
    text = (
        "class Data:\n"
        "    def load(self, root):\n"
        "        if root:\n"
        "            return torch.load(\n"
        "                os.path.join(root,  # the file\n"
        "                             'data.pt'),\n"
        "                weights_only=True,\n"
        "            )\n"
    )
    module = cst.parse_module(text)
    call = next(
        n
        for n in walk(module)
        if isinstance(n, cst.Call)
        and isinstance(n.func, cst.Attribute)
        and n.func.attr.value == "load"
    )
    placed = positions_of(module, [call])[id(call)]
    original = _select(text, placed.range)
    assert original == text[text.index("torch.load(") : text.rindex(")") + 1]
    assert placed.indent_tokens == ("    ", "    ", "    ")
    assert render(module, call, placed.indent_tokens) == original
    at_module_level = module.code_for_node(call)
    assert at_module_level != original
    first, *rest = original.split("\n")
    assert at_module_level == "\n".join([first, *(line[12:] for line in rest)])
