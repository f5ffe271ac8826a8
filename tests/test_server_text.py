"""The language server's text helpers (no pygls needed) and `devlint server` without pygls.

These run on every Python devlint supports; tests/test_server.py drives the real server
where pytest-lsp is installed.
"""

from __future__ import annotations

import subprocess
import sys

from devlint import lsp_text


def test_positions_count_non_bmp_characters_twice_in_utf16() -> None:
    lines = lsp_text.split_lines('s = "\U0001f600\u00e9"; x.to(d)\r\nnext\n')
    assert lines == ['s = "\U0001f600\u00e9"; x.to(d)', "next", ""]
    col = lines[0].index("x") + 1  # devlint's 1-based character column
    assert lsp_text.position(lines, 1, col) == (0, col - 1 + 1)
    assert lsp_text.position(lines, 1, col, units=len) == (0, col - 1)
    assert lsp_text.offset_of(lines, lsp_text.Pos(0, col)) == col - 1
    # past the end of the text: clamped to its last line
    assert lsp_text.position(lines, 9, 1) == (2, 0)
    assert lsp_text.position(["ab"], 1, 9) == (0, 2)


def test_line_diff_replaces_whole_changed_lines() -> None:
    old = "a\r\nb\r\nc\r\n"
    assert lsp_text.line_diff(old, old) is None
    assert lsp_text.line_diff(old, "a\r\nB\r\nc\r\n") == (1, 2, "B\r\n")
    assert lsp_text.line_diff("a\nb", "a\nb\nc\n") == (1, 2, "b\nc\n")


def test_noqa_line_adds_or_merges_the_comment() -> None:
    text = "x.to(d)\ny.cuda()  # noqa: DL004\n"
    assert lsp_text.noqa_line(text, 1, "DL004") == ("x.to(d)", "x.to(d)  # noqa: DL004")
    assert lsp_text.noqa_line(text, 2, "DL002") == (
        "y.cuda()  # noqa: DL004",
        "y.cuda()  # noqa: DL002, DL004",
    )
    assert lsp_text.noqa_line(text, 2, "DL004") is None


def test_buffer_bytes_follow_the_coding_cookie() -> None:
    text = "# -*- coding: latin-1 -*-\ns = '\u00e9'\n"
    data = lsp_text.buffer_bytes(text)
    assert data == text.encode("latin-1")
    assert lsp_text.buffer_text(data) == text
    assert lsp_text.buffer_bytes("s = '\u00e9'\n") == "s = '\u00e9'\n".encode()


def test_server_without_pygls_says_what_to_install() -> None:
    code = "import sys; sys.modules['pygls'] = None; from devlint.cli import main; main(['server'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "pip install 'devlint[server]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_notebook_cells_become_the_notebook_the_command_line_reads() -> None:
    from devlint import lsp_notebook
    from devlint.checker import check_source
    from devlint.rules import ENGINE_CODES, rules_for

    cells = [
        lsp_notebook.Cell("c1", lsp_notebook.MARKDOWN, None),
        lsp_notebook.Cell("c2", lsp_notebook.CODE, "!pip install torch\nimport torch\n"),
        lsp_notebook.Cell("c3", lsp_notebook.CODE, None),  # a cell in another language
        lsp_notebook.Cell("c4", lsp_notebook.CODE, "%time s = torch.zeros(3, device='cuda')\n"),
        lsp_notebook.Cell("c5", lsp_notebook.CODE, "print(1)\n"),
    ]
    data = lsp_notebook.notebook_json(cells, {"language_info": {"name": "python"}, "x": 1})
    found = check_source(data, "nb.ipynb", rules_for(ENGINE_CODES))
    assert [(f.code, f.cell, f.line, f.col) for f in found] == [("DL002", 4, 1, 33)]
    assert lsp_notebook.by_cell(found, cells) == {"c2": [], "c3": [], "c4": found, "c5": []}
    r_notebook = lsp_notebook.notebook_json(cells, {"language_info": {"name": "R"}})
    assert check_source(r_notebook, "nb.ipynb", rules_for(ENGINE_CODES)) == []


def test_noqa_in_a_cell_keeps_its_magic_and_reads_real_comments_only() -> None:
    from devlint import lsp_notebook

    cell = "%time s = torch.load('m.pt')  # noqa: DL004\nt = '# noqa'; torch.load(p)\n!ls\n"
    assert lsp_notebook.noqa_cell_line(cell, 1, "DL008") == (
        "%time s = torch.load('m.pt')  # noqa: DL004",
        "%time s = torch.load('m.pt')  # noqa: DL004, DL008",
    )
    assert lsp_notebook.noqa_cell_line(cell, 2, "DL008") == (
        "t = '# noqa'; torch.load(p)",
        "t = '# noqa'; torch.load(p)  # noqa: DL008",
    )
    assert lsp_notebook.noqa_cell_line(cell, 1, "DL004") is None  # already there
    assert lsp_notebook.noqa_cell_line(cell, 3, "DL008") is None  # a shell line
