"""Notebook documents in the language server, without the LSP library.

An editor syncs a notebook as cells (LSP 3.17 notebook documents), each cell a text
document of its own.  The command line checks a `.ipynb` file as the program its code
cells make (`devlint.notebooks`), with magics and shell lines turned into the Python they
run; to give the editor exactly those findings, the server writes the cells it holds
into the JSON of an nbformat 4 notebook and checks that with the command line's run, as
the command line would check the saved file.  Each finding then carries its cell (the
1-based index among all cells) and its line and column in that cell, which is what a
cell's own diagnostics need.

Markdown cells and code cells in another language (not synced to the server, or not
Python) are kept as cells without code, so cell numbers still match the editor's.
These helpers are plain functions over strings so they can be tested without pygls.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, NamedTuple, Optional, Sequence

from devlint import lsp_text, notebooks
from devlint.findings import Finding

CODE, MARKDOWN, RAW = "code", "markdown", "raw"
# notebook metadata that decides how the command line reads a notebook (its language)
_LANGUAGE_KEYS = ("language_info", "kernelspec")


class Cell(NamedTuple):
    """One cell as the editor holds it: `text` is None when the server has no text for
    it (a markdown cell, a cell in another language)."""

    uri: str
    kind: str  # CODE, MARKDOWN or RAW
    text: Optional[str]
    version: Optional[int] = None


def notebook_json(cells: Sequence[Cell], metadata: Any = None) -> str:
    """The nbformat 4 JSON of `cells`, as the saved notebook would hold them: code
    cells with their text, every other cell empty.  From `metadata` only what says the
    notebook's language is kept (a notebook in R is not checked, as on the command
    line)."""
    meta: dict[str, Any] = {}
    if isinstance(metadata, dict):
        for key in _LANGUAGE_KEYS:
            if isinstance(metadata.get(key), dict):
                meta[key] = metadata[key]
    raw = []
    for cell in cells:
        if cell.kind == CODE and cell.text is not None:
            raw.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": cell.text,
                }
            )
        else:
            kind = RAW if cell.kind == CODE else cell.kind  # code the server does not hold
            raw.append({"cell_type": kind, "metadata": {}, "source": ""})
    return json.dumps({"cells": raw, "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def by_cell(findings: Sequence[Finding], cells: Sequence[Cell]) -> dict[str, list[Finding]]:
    """The findings of each code cell, by the cell's URI (every code cell has a list,
    empty when it is clean, so its old diagnostics are cleared).  A finding about the
    notebook as a whole (no cell) goes to the first code cell, at its start."""
    out: dict[str, list[Finding]] = {c.uri: [] for c in cells if c.kind == CODE}
    first = next((c.uri for c in cells if c.kind == CODE), None)
    for f in findings:
        if f.cell is not None and 0 < f.cell <= len(cells) and cells[f.cell - 1].uri in out:
            out[cells[f.cell - 1].uri].append(f)
        elif first is not None:
            out[first].append(f)
    return out


def noqa_cell_line(text: str, row: int, code: str) -> Optional[tuple[str, str]]:
    """(old line, new line) of 1-based `row` of a cell once `# noqa: CODE` is added
    (merged into a noqa comment already there); None when nothing changes or the line
    cannot take one.  The comment is placed in the Python the checker reads for the
    cell (so only real comments count, as in the check) and mapped back: a line like
    `%time model(x)` keeps its magic, its comment's columns shifted past it."""
    lines = notebooks.split_lines(text)
    if not 0 < row <= len(lines):
        return None
    transformed = notebooks.transform_cell(lines)
    program = "".join(line + "\n" for line, _, _ in transformed)
    change = lsp_text.noqa_line(program, row, code)
    if change is None:
        return None
    _, new = change
    line = lines[row - 1]
    python, offset, indent = transformed[row - 1]
    if python == line:
        return line, new
    magic = line[indent : indent + offset]
    if offset and line == python[:indent] + magic + python[indent:]:
        return line, new[:indent] + magic + new[indent:]
    return None  # a line the checker does not read as written (a shell line)


def fixed_cells(fixed_json: str) -> list[str]:
    """The cells' sources of a notebook the fixer wrote."""
    data = json.loads(fixed_json)
    return [notebooks.cell_source(cell) for cell in data.get("cells", [])]


def fix_notebook(notebook: str, display: str, settings: Any, unsafe: bool) -> Optional[str]:
    """What `devlint --fix` (with `--unsafe-fixes` when `unsafe`) writes into the
    notebook JSON `notebook`, checked with `settings` as the file `display`; None when
    it changes nothing.  The fixer reads notebooks from disk, so the JSON is written to
    a temporary file first (the command line's own fix loop then runs unchanged)."""
    from devlint import run
    from devlint.files import SourceFile

    handle, path = tempfile.mkstemp(suffix=".ipynb", prefix="devlint-lsp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(notebook)
        options = run.RunOptions(diff=True, unsafe_fixes=unsafe, cache=False, jobs=1)
        done = run._fix_files([SourceFile(path, display)], {display: settings}, options)
    finally:
        os.unlink(path)
    for result in getattr(done, "results", []):
        if result.changed:
            return str(result.fixed)
    return None


__all__ = ["CODE", "MARKDOWN", "RAW", "Cell", "by_cell", "noqa_cell_line", "notebook_json"]
