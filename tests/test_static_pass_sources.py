"""The static pass reads LibCST's concrete syntax tree and nothing else: no module of it
imports Python's `ast`, asks the compiler for an AST (`PyCF_ONLY_AST`), or calls LibCST
helpers that hand literals to `ast` (`evaluated_value`).  The runtime harness
(`devlint.runtime`) is not part of the static pass."""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst
import pytest

from devlint.engine.names import string_value

SRC = Path(__file__).resolve().parents[1] / "src" / "devlint"
FORBIDDEN = re.compile(
    r"^\s*(import ast\b|from ast import|import _ast\b)|PyCF_ONLY_AST|evaluated_value|literal_eval",
    re.MULTILINE,
)


def _static_sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "runtime" not in p.relative_to(SRC).parts]


@pytest.mark.parametrize("path", _static_sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_python_ast_in_the_static_pass(path: Path) -> None:
    found = FORBIDDEN.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{path}: {found}"


def test_the_flow_engine_is_a_libcst_visitor() -> None:
    from devlint.engine.flow import DeviceFlowVisitor

    assert issubclass(DeviceFlowVisitor, cst.CSTVisitor)
    for scope in ("Module", "ClassDef", "FunctionDef", "ListComp", "Lambda"):
        assert callable(getattr(DeviceFlowVisitor, f"visit_{scope}"))


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("'cuda'", "cuda"),
        ('"cuda:0"', "cuda:0"),
        ("u'mps'", "mps"),
        ("'''xpu'''", "xpu"),
        ('""', ""),
        ("''''''", ""),
        ("r'a\\nb'", "a\\nb"),
        ("'a\\nb'", "a\nb"),
        ("'\\x41\\u00e9\\N{BULLET}\\101'", "Aé•A"),
        ("'a\\\nb'", "ab"),
        ("'\\q'", "\\q"),
        ("'\\\\'", "\\"),
        ("'''a'b'''", "a'b"),
        ('b"cuda"', None),
        ("Rb'x'", None),
        ("f'cuda:{i}'", None),
    ],
)
def test_string_literals_decode_as_python_reads_them(literal: str, expected: str) -> None:
    assert string_value(cst.parse_expression(literal)) == expected
