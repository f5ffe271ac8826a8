"""What DL000 means with the LibCST engine: Python's compiler rejects the file (every
file; a notebook cell by cell, as IPython runs it), or LibCST cannot parse a file the
analysis needs.  And the cache never answers with another engine's findings."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest

from devlint import cache as cache_module
from devlint import checker
from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _codes(text: str, path: str = "m.py") -> list[tuple[str, int, int, str]]:
    return [(f.code, f.line, f.col, f.message) for f in check_source(text, path, ALL_RULES)]


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("import torch\nreturn torch.zeros(1)\n", 2, "'return' outside function"),
        ("x = 1\nfrom __future__ import annotations\n", 2, "from __future__ imports"),
        ("def f():\n    nonlocal y\n", 2, "nonlocal"),
        ("import torch\nx = (\n", 2, "never closed"),
    ],
)
def test_what_python_refuses_at_import_is_dl000(source: str, line: int, words: str) -> None:
    (finding,) = _codes(source)
    assert finding[0] == "DL000" and finding[1] == line
    assert finding[3].startswith("syntax error: ") and words in finding[3]


def test_a_file_without_torch_is_compiled_too() -> None:
    (finding,) = _codes("def f():\n    pass\nbreak\n")
    assert finding[:2] == ("DL000", 3) and "'break' outside loop" in finding[3]


def test_a_file_libcst_cannot_parse_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python accepts it, LibCST does not (syntax newer than the installed LibCST)."""

    def refuse(text: str) -> cst.Module:
        lines = text.splitlines(keepends=True)
        raise cst.ParserSyntaxError("unexpected token", lines=lines, raw_line=2, raw_column=4)

    monkeypatch.setattr(checker.cst, "parse_module", refuse)
    (finding,) = _codes("import torch\nx = torch.zeros(1)\n")
    assert finding[:3] == ("DL000", 2, 5)
    assert finding[3] == "LibCST cannot parse this file: unexpected token"


def _notebook(*cells: str) -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
            "cells": [
                {"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                 "execution_count": None}
                for c in cells
            ],
        }
    )


def test_notebook_cells_compile_one_by_one_as_ipython_runs_them() -> None:
    nb = _notebook(
        "import torch\n",
        "from __future__ import annotations\nx = await fetch()\n",
        "y = torch.zeros(3).cuda()\n",
    )
    found = check_source(nb, "n.ipynb", ALL_RULES)
    assert [(f.code, f.cell, f.line) for f in found] == [("DL002", 3, 1)]


def test_a_syntax_error_in_a_notebook_cell_is_placed_in_that_cell() -> None:
    nb = _notebook("import torch\n", "x = 1\n", "def f(:\n    pass\n")
    (finding,) = check_source(nb, "n.ipynb", ALL_RULES)
    assert (finding.code, finding.cell, finding.line) == ("DL000", 3, 1)


def test_the_cache_key_follows_the_analysis_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "devlint"
    for name in ("engine", "rules"):
        (package / name).mkdir(parents=True)
        (package / name / "a.py").write_text("x = 1\n")
    (package / "checker.py").write_text("y = 1\n")
    monkeypatch.setattr(cache_module, "_PACKAGE", package)
    monkeypatch.setattr(cache_module, "_fingerprint", None)
    before = cache_module.engine_fingerprint()
    monkeypatch.setattr(cache_module, "_fingerprint", None)
    assert cache_module.engine_fingerprint() == before  # stable
    (package / "engine" / "a.py").write_text("x = 2\n")
    monkeypatch.setattr(cache_module, "_fingerprint", None)
    changed = cache_module.engine_fingerprint()
    assert changed != before
    root = tmp_path / "cache"
    assert cache_module.Cache(root, "o").key(b"data") != _key_with(monkeypatch, before, root)


def _key_with(monkeypatch: pytest.MonkeyPatch, fingerprint: str, root: Path) -> str:
    monkeypatch.setattr(cache_module, "_fingerprint", fingerprint)
    return cache_module.Cache(root, "o").key(b"data")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("torch.randn(\n    8,\n    16,\n)", "torch.randn(8, 16)"),
        ("x[\n  0 ]", "x[0]"),
        ("torch.zeros( 3 )", "torch.zeros(3)"),
        ("(x,)", "(x,)"),  # a one-element tuple keeps its comma
        ("f('a  ( b', x )", "f('a  ( b', x)"),  # string literals as written
        ("a  +\n   b", "a + b"),
    ],
)
def test_messages_quote_multi_line_code_on_one_tidy_line(code: str, expected: str) -> None:
    from devlint.engine.facts import one_line

    assert one_line(code) == expected
