"""`--fix` on notebooks, as ruff does it: the fixes go into the cells' sources; outputs,
metadata and the JSON layout stay; a cell holding a magic or a shell line is never
rewritten, and its findings offer no fix (so counts and markers stay honest)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run


def _notebook(*cells: list[str]) -> str:
    data = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}, "tags": ["é"]},
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"collapsed": False},
                "source": source,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
                "execution_count": i,
            }
            for i, source in enumerate(cells, start=1)
        ],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


BUGGY = _notebook(
    ["import torch\n"],
    ["x = torch.ones(2)\n", "x.to('cpu')\n", "y = torch.zeros(3, device='cuda')  # é\n"],
    ["%matplotlib inline\n", "z = torch.zeros(3, device='cuda')"],
)


def test_fix_writes_the_cells_and_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "explore.ipynb"
    path.write_text(BUGGY, encoding="utf-8")
    result = run(str(path), "--no-cache", "--fix", "--unsafe-fixes")
    after = path.read_text(encoding="utf-8")
    before_data, after_data = json.loads(BUGGY), json.loads(after)
    assert after_data["cells"][1]["source"] == [
        "x = torch.ones(2)\n",
        "x = x.to('cpu')\n",
        'y = torch.zeros(3, device=("cuda" if torch.cuda.is_available() else "cpu"))  # é\n',
    ]
    # everything but that cell's source is as it was, and so is the JSON layout
    after_data["cells"][1]["source"] = before_data["cells"][1]["source"]
    assert after_data == before_data
    assert after.replace('x = x.to', "x.to").count("\n") == BUGGY.count("\n")
    assert after.startswith('{\n "nbformat"') or after.startswith('{\n "cells"')
    # the cell with a magic is untouched; its finding remains, without a fix
    assert "cell 3:2:27: DL002" in result.stdout
    assert "fixable" not in result.stdout
    again = run(str(path), "--no-cache", "--fix", "--unsafe-fixes")
    assert path.read_text(encoding="utf-8") == after
    assert "Found 1 problem." in again.stdout


def test_counts_and_markers_match_what_fix_does(tmp_path: Path) -> None:
    path = tmp_path / "explore.ipynb"
    path.write_text(BUGGY, encoding="utf-8")
    result = run(str(path), "--no-cache", "--output-format", "concise")
    assert "cell 2:2:1: DL004 [*]" in result.stdout
    assert "cell 3:2:27: DL002 device `" in result.stdout  # no marker: the cell holds a magic
    assert "[*] 1 fixable with `--fix` (1 unsafe fix available" in result.stdout


def test_diff_on_a_notebook_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "explore.ipynb"
    path.write_text(BUGGY, encoding="utf-8")
    result = run(str(path), "--no-cache", "--diff")
    assert path.read_text(encoding="utf-8") == BUGGY
    assert "x = x.to('cpu')" in result.stdout
