"""`devlint server` with notebook documents (LSP 3.17 `notebookDocument/*`), end to end.

The client syncs a notebook cell by cell, as VS Code does; what each cell shows must be
what the command line reports for the same notebook saved as `.ipynb` (findings across
cells, magics, positions within the cell), one diagnostics list per cell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402

from tests.lsp_client import (  # noqa: E402
    Client,
    apply,
    as_tuple,
    cli,
    cli_json,
    edits_of,
    serve,
    utf16,
)

pytestmark = pytest.mark.asyncio

NOTEBOOK_CAPS = lsp.ClientCapabilities(
    notebook_document=lsp.NotebookDocumentClientCapabilities(
        synchronization=lsp.NotebookDocumentSyncClientCapabilities()
    )
)

MARKDOWN = None  # a markdown cell (its text is not Python)
CELLS: list[Optional[str]] = [
    MARKDOWN,
    "!pip install torch\n%matplotlib inline\nimport torch\nimport torch.nn as nn\n",
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = nn.Linear(4, 2).to(device)\n",
    # the model (cell 3) meets a CPU tensor after `%time `; a hard-coded accelerator
    "%time out = model(torch.zeros(1, 4))\nw = torch.zeros(3, device='cuda')\n",
    # no magic here: its fix can be applied (DL004, safe)
    "x = torch.zeros(3)\nx.to(device)\n",
    "%%time\ny = model(torch.ones(1, 4))\n",
    "print('clean')\n",
]


def ipynb(cells: list[Optional[str]]) -> str:
    """The notebook file of `cells`, as Jupyter writes it."""
    raw: list[dict[str, Any]] = []
    for text in cells:
        if text is None:
            raw.append({"cell_type": "markdown", "metadata": {}, "source": ["# Training"]})
        else:
            raw.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": text.splitlines(keepends=True),
                }
            )
    data = {"cells": raw, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(data, indent=1) + "\n"


class Notebook:
    """A notebook the test client has opened: its URI, cell URIs and texts."""

    def __init__(self, client: Client, name: str, cells: list[Optional[str]]) -> None:
        self.client = client
        self.path = client.root / name
        self.uri = self.path.as_uri()
        self.version = 1
        self.count = 0
        self.cells: list[tuple[str, Optional[str]]] = [(self.new_uri(), t) for t in cells]
        self.path.write_text(ipynb(cells), encoding="utf-8")
        client.lsp.notebook_document_did_open(
            lsp.DidOpenNotebookDocumentParams(
                notebook_document=lsp.NotebookDocument(
                    uri=self.uri,
                    notebook_type="jupyter-notebook",
                    version=1,
                    cells=[self.cell(uri, text) for uri, text in self.cells],
                ),
                cell_text_documents=[
                    self.item(uri, text) for uri, text in self.cells if text is not None
                ],
            )
        )

    def new_uri(self) -> str:
        self.count += 1
        return f"vscode-notebook-cell:{self.path}#C{self.count}"

    @staticmethod
    def cell(uri: str, text: Optional[str]) -> lsp.NotebookCell:
        kind = lsp.NotebookCellKind.Markup if text is None else lsp.NotebookCellKind.Code
        return lsp.NotebookCell(kind=kind, document=uri)

    @staticmethod
    def item(uri: str, text: Optional[str]) -> lsp.TextDocumentItem:
        language = "markdown" if text is None else "python"
        return lsp.TextDocumentItem(uri=uri, language_id=language, version=1, text=text or "")

    def uri_of(self, index: int) -> str:
        return self.cells[index][0]

    def text_of(self, index: int) -> str:
        text = self.cells[index][1]
        assert text is not None
        return text

    def set_text(self, index: int, text: str) -> None:
        """Replace a cell's whole text (a content change of the notebook)."""
        uri, _ = self.cells[index]
        self.cells[index] = (uri, text)
        self.version += 1
        self.client.lsp.notebook_document_did_change(
            lsp.DidChangeNotebookDocumentParams(
                notebook_document=lsp.VersionedNotebookDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                change=lsp.NotebookDocumentChangeEvent(
                    cells=lsp.NotebookDocumentCellChanges(
                        text_content=[
                            lsp.NotebookDocumentCellContentChanges(
                                document=lsp.VersionedTextDocumentIdentifier(
                                    uri=uri, version=self.version
                                ),
                                changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
                            )
                        ]
                    )
                ),
            )
        )

    def splice(self, start: int, delete: int, texts: list[str]) -> None:
        """Delete `delete` cells at `start` and insert code cells with `texts` there."""
        new = [(self.new_uri(), t) for t in texts]
        removed = self.cells[start : start + delete]
        self.cells[start : start + delete] = new  # type: ignore[assignment]
        self.version += 1
        self.client.lsp.notebook_document_did_change(
            lsp.DidChangeNotebookDocumentParams(
                notebook_document=lsp.VersionedNotebookDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                change=lsp.NotebookDocumentChangeEvent(
                    cells=lsp.NotebookDocumentCellChanges(
                        structure=lsp.NotebookDocumentCellChangeStructure(
                            array=lsp.NotebookCellArrayChange(
                                start=start,
                                delete_count=delete,
                                cells=[self.cell(u, t) for u, t in new],
                            ),
                            did_open=[self.item(u, t) for u, t in new],
                            did_close=[lsp.TextDocumentIdentifier(uri=u) for u, _ in removed],
                        )
                    )
                ),
            )
        )

    def close(self) -> None:
        self.client.lsp.notebook_document_did_close(
            lsp.DidCloseNotebookDocumentParams(
                notebook_document=lsp.NotebookDocumentIdentifier(uri=self.uri),
                cell_text_documents=[
                    lsp.TextDocumentIdentifier(uri=u) for u, t in self.cells if t is not None
                ],
            )
        )


def cell_range(text: str, record: dict[str, Any]) -> tuple[int, int, int, int]:
    """The LSP range (UTF-16, within the cell) of a CLI JSON record of a notebook."""
    lines = text.split("\n")
    start, end = record["location"], record["end_location"]
    return (
        start["row"] - 1,
        utf16(lines[start["row"] - 1][: start["column"] - 1]),
        end["row"] - 1,
        utf16(lines[end["row"] - 1][: end["column"] - 1]),
    )


async def test_cells_are_checked_as_one_notebook_like_the_command_line(tmp_path: Path) -> None:
    async with serve(tmp_path, capabilities=NOTEBOOK_CAPS) as client:
        sync = client.capabilities.notebook_document_sync if client.capabilities else None
        assert isinstance(sync, lsp.NotebookDocumentSyncOptions)
        (selector,) = sync.notebook_selector
        assert [c.language for c in selector.cells or []] == ["python"]

        nb = Notebook(client, "train.ipynb", CELLS)
        records = cli_json(tmp_path, "train.ipynb")
        assert {r["cell"] for r in records} == {4, 5, 6}  # cell 4's DL005 comes from cell 3
        for index, text in enumerate(CELLS):
            if text is None:
                continue
            got = await client.diagnostics(nb.uri_of(index), version=1)
            mine = [r for r in records if r["cell"] == index + 1]
            assert [d.code for d in got] == [r["code"] for r in mine]
            assert [as_tuple(d.range) for d in got] == [cell_range(text, r) for r in mine]
            assert [d.message for d in got] == [r["message"] for r in mine]
        assert not any(p.uri == nb.uri_of(0) for p in client.published)  # markdown

        # an edit in cell 3 changes what cells 4 and 6 show
        seen = len(client.published)
        nb.set_text(2, "device = torch.device('cpu')\nmodel = nn.Linear(4, 2)\n")
        assert [d.code for d in await client.diagnostics(nb.uri_of(3), 1, seen)] == ["DL002"]
        assert await client.diagnostics(nb.uri_of(5), 1, seen) == []

        # a cell deleted gets its diagnostics cleared; a new cell is checked
        seen = len(client.published)
        gone = nb.uri_of(4)
        nb.splice(4, 1, ["z = torch.zeros(3, device='cuda')\n"])
        assert await client.diagnostics(gone, None, seen) == []
        assert [d.code for d in await client.diagnostics(nb.uri_of(4), 1, seen)] == ["DL002"]

        # closing clears every cell
        seen = len(client.published)
        nb.close()
        for uri in (nb.uri_of(3), nb.uri_of(4)):
            assert await client.diagnostics(uri, None, seen) == []


async def test_fixes_suppressions_and_hover_on_cells(tmp_path: Path) -> None:
    async with serve(tmp_path, capabilities=NOTEBOOK_CAPS) as client:
        nb = Notebook(client, "train.ipynb", CELLS)
        (dl004,) = await client.diagnostics(nb.uri_of(4))
        # the quick fix edits the cell, as `--fix` edits the notebook
        actions = await client.actions(nb.uri_of(4), dl004.range, only=["quickfix"])
        (fix,) = [a for a in actions if "suppress" not in a.title]
        assert fix.is_preferred
        fixed_cell = apply(nb.text_of(4), edits_of(fix, nb.uri_of(4)))

        fixed = tmp_path / "fixed.ipynb"
        fixed.write_text(ipynb(CELLS), encoding="utf-8")
        cli(tmp_path, "--fix", "--no-cache", "fixed.ipynb")
        cli_cells = ["".join(c["source"]) for c in json.loads(fixed.read_text())["cells"]]
        assert fixed_cell == cli_cells[4] != nb.text_of(4)

        # fix-all: one edit per changed cell, the notebook `--fix` writes
        whole = lsp.Range(
            start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)
        )
        (fix_all,) = await client.actions(nb.uri_of(1), whole, only=["source.fixAll"])
        assert fix_all.edit is not None and fix_all.edit.changes is not None
        after = [
            apply(text, list(fix_all.edit.changes[uri])) if uri in fix_all.edit.changes else text
            for uri, text in nb.cells
            if text is not None
        ]
        assert after == [c for i, c in enumerate(cli_cells) if CELLS[i] is not None]
        (nb_fix_all,) = await client.actions(nb.uri_of(1), whole, only=["notebook.source.fixAll"])
        assert nb_fix_all.kind == "notebook.source.fixAll.devlint"

        # a cell with a magic offers no fix, but a suppression, which silences it
        found = {d.code: d for d in await client.diagnostics(nb.uri_of(3))}
        actions = await client.actions(nb.uri_of(3), found["DL002"].range, only=["quickfix"])
        assert [a.title for a in actions if "suppress" not in a.title] == []
        (suppress,) = [a for a in actions if "suppress DL002" in a.title]
        silenced = apply(nb.text_of(3), edits_of(suppress, nb.uri_of(3)))
        assert silenced.splitlines()[1] == "w = torch.zeros(3, device='cuda')  # noqa: DL002"
        seen = len(client.published)
        nb.set_text(3, silenced)
        assert [d.code for d in await client.diagnostics(nb.uri_of(3), None, seen)] == ["DL005"]

        hover = await client.lsp.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=nb.uri_of(3)),
                position=found["DL005"].range.start,
            )
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert cli(tmp_path, "rule", "DL005").stdout in hover.contents.value


async def test_notebook_pull_diagnostics_and_syntax_error_in_a_cell(tmp_path: Path) -> None:
    caps = lsp.ClientCapabilities(
        notebook_document=NOTEBOOK_CAPS.notebook_document,
        text_document=lsp.TextDocumentClientCapabilities(
            diagnostic=lsp.DiagnosticClientCapabilities()
        ),
    )
    cells = ["import torch\n", "x = )\n"]
    async with serve(tmp_path, capabilities=caps) as client:
        nb = Notebook(client, "broken.ipynb", list(cells))
        (record,) = cli_json(tmp_path, "broken.ipynb")
        reports = []
        for index in range(2):
            report = await client.lsp.text_document_diagnostic_async(
                lsp.DocumentDiagnosticParams(
                    text_document=lsp.TextDocumentIdentifier(uri=nb.uri_of(index))
                )
            )
            assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
            reports.append(report)
        assert list(reports[0].items) == []
        (diag,) = reports[1].items
        assert diag.code == "DL000" == record["code"] and record["cell"] == 2
        assert as_tuple(diag.range) == cell_range(cells[1], record)
        # a fix in cell 2 changes cell 2's report, and cell 1's result id moves with the
        # notebook (a change in one cell can change another's findings)
        nb.set_text(1, "x = torch.zeros(3, device='cuda')\n")
        again = await client.lsp.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(
                text_document=lsp.TextDocumentIdentifier(uri=nb.uri_of(0)),
                previous_result_id=reports[0].result_id,
            )
        )
        assert isinstance(again, lsp.RelatedFullDocumentDiagnosticReport)
        assert client.published == []
