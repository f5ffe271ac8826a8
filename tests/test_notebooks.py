"""Jupyter notebooks: cells as one program, IPython syntax, positions, broken files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devlint.checker import check_source
from devlint.notebooks import read, transform_cell, transform_line
from devlint.rules import ALL_RULES
from tests.helpers import concise, run, write

MOVE = "import torch\nimport torch.nn as nn\n"


def code(source: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def notebook(*cells: dict[str, Any], language: str = "python") -> str:
    nb = {
        "cells": list(cells),
        "metadata": {"language_info": {"name": language}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def lines(*rows: str) -> list[str]:
    """nbformat's list form: every line but the last ends with a newline."""
    return [row + "\n" for row in rows[:-1]] + [rows[-1]]


TRAIN = notebook(
    markdown("# Training"),
    code(
        lines("!pip install torch", "%matplotlib inline", "import torch", "import torch.nn as nn")
    ),
    code(
        lines(
            "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
            "model = nn.Linear(4, 2).to(device)",
        )
    ),
    markdown("Run it"),
    code(lines("%time out = model(torch.zeros(1, 4))", "x = torch.zeros(3, device='cuda')")),
    code(lines("%%time", "y = model(torch.ones(1, 4))")),
    code(lines("%%bash", "echo torch.load")),
)


def test_cells_are_one_program_and_findings_name_their_cell(project: Path) -> None:
    write(project, "train.ipynb", TRAIN)
    result = run("--output-format", "concise", "train.ipynb")
    assert result.exit_code == 1
    got = [line.split(" ")[:3] for line in concise(result)]
    assert got == [
        ["train.ipynb:cell", "5:1:19:", "DL005"],  # after `%time `: columns of the cell line
        ["train.ipynb:cell", "5:2:27:", "DL002"],
        ["train.ipynb:cell", "6:2:11:", "DL005"],  # the body of a %%time cell
    ]


def test_full_format_shows_the_cell_line_and_caret(project: Path) -> None:
    write(project, "train.ipynb", TRAIN)
    out = run("train.ipynb").stdout.splitlines()
    assert out[0].startswith("train.ipynb:cell 5:1:19: DL005 ")
    assert out[1] == "%time out = model(torch.zeros(1, 4))"
    assert out[2] == " " * 18 + "^" * len("torch.zeros(1, 4)")


def test_json_has_cell_and_rows_within_the_cell(project: Path) -> None:
    write(project, "train.ipynb", TRAIN)
    records = json.loads(run("--output-format", "json", "train.ipynb").stdout)
    first = records[0]
    assert first["cell"] == 5
    assert first["location"] == {"row": 1, "column": 19}
    assert first["end_location"] == {"row": 1, "column": 36}
    assert first["noqa_row"] == 1
    assert first["filename"] == str((project / "train.ipynb").resolve())


def test_sarif_and_github_point_into_the_notebook_file(project: Path) -> None:
    path = write(project, "train.ipynb", TRAIN)
    text_lines = path.read_text().splitlines()
    log = json.loads(run("--output-format", "sarif", "train.ipynb").stdout)
    result = log["runs"][0]["results"][1]
    assert result["ruleId"] == "DL002" and result["properties"]["cell"] == 5
    region = result["locations"][0]["physicalLocation"]["region"]
    row = text_lines[region["startLine"] - 1]
    start = region["startColumn"] - 1
    assert row[start : region["endColumn"] - 1] == "'cuda'"
    annotations = run("--output-format", "github", "train.ipynb").stdout.splitlines()
    assert f"line={region['startLine']},col={region['startColumn']}," in annotations[1]
    assert "::cell 5:2:27: " in annotations[1]


def test_positions_with_escapes_and_a_single_string_source(project: Path) -> None:
    source = 'label = "é\\t"; x = torch.zeros(3, device="cuda")\n'
    write(project, "nb.ipynb", notebook(code(["import torch\n", source])))
    write(project, "one.ipynb", notebook(code("import torch\n" + source)))
    for name in ("nb.ipynb", "one.ipynb"):
        raw = (project / name).read_text()
        log = json.loads(run("--output-format", "sarif", name).stdout)
        region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
        row = raw.splitlines()[region["startLine"] - 1]
        assert row[region["startColumn"] - 1 :].startswith('\\"cuda\\")')


def test_suppression_in_a_cell(project: Path) -> None:
    text = notebook(code(lines("import torch", "x = torch.zeros(3, device='cuda')  # noqa: DL002")))
    write(project, "nb.ipynb", text)
    assert run("nb.ipynb").exit_code == 0
    result = run("--ignore-noqa", "--output-format", "concise", "nb.ipynb")
    assert concise(result)[0].startswith("nb.ipynb:cell 1:2:27: DL002")


def test_skip_file_in_a_notebook(project: Path) -> None:
    text = notebook(
        code(lines("# devlint: skip-file", "import torch", "torch.zeros(3, device='cuda')"))
    )
    write(project, "nb.ipynb", text)
    assert run("nb.ipynb").exit_code == 0


def test_syntax_error_in_a_cell_is_dl000_in_that_cell(project: Path) -> None:
    write(project, "nb.ipynb", notebook(code(["import torch\n"]), code(["x = )\n"])))
    result = run("--output-format", "concise", "nb.ipynb")
    assert result.exit_code == 1
    assert concise(result) == ["nb.ipynb:cell 2:1:5: DL000 syntax error: unmatched ')'"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"cells": [\n  {"cell_type": "code"\n]}\n', "3:1: DL000 notebook is not valid JSON"),
        ("[1, 2]\n", "1:1: DL000 not a Jupyter notebook: the file is not a JSON object"),
        ('{"metadata": {}}\n', "1:1: DL000 not a Jupyter notebook: no `cells` list"),
        ('{"worksheets": []}\n', "1:1: DL000 nbformat 3 notebooks are not supported"),
        ('{"cells": [{"cell_type": "code", "source": 3}]}', "DL000 cell 1: `source` must be"),
        ('{"cells": [7]}', "DL000 cell 1 is not a JSON object"),
        (b'{"cells": ["\xff"]}', "DL000 cannot decode notebook (not UTF-8)"),
        ("", "1:1: DL000 notebook file is empty: a notebook is JSON"),
        ("\n  \n", "1:1: DL000 notebook file is empty: a notebook is JSON"),
    ],
)
def test_malformed_notebooks_are_dl000_with_a_clear_message(
    project: Path, text: str | bytes, message: str
) -> None:
    write(project, "nb.ipynb", text)
    result = run("--output-format", "concise", "nb.ipynb")
    assert result.exit_code == 1
    assert result.stderr == ""
    [line] = concise(result)
    assert line.startswith("nb.ipynb:") and message in line, line


def test_notebooks_in_other_languages_are_skipped(project: Path) -> None:
    write(project, "r.ipynb", notebook(code(["library(torch)\n", "x <- 1 +\n"]), language="R"))
    assert run("r.ipynb").exit_code == 0


def test_markdown_and_raw_cells_are_not_code() -> None:
    text = notebook(markdown("torch.zeros(3, device='cuda')"), code(["import torch\n"]))
    assert check_source(text, "nb.ipynb", ALL_RULES) == []


def test_stdin_notebook(project: Path) -> None:
    result = run("-", "--stdin-filename", "nb.ipynb", "--output-format", "concise", input=TRAIN)
    assert result.exit_code == 1
    assert concise(result)[1].startswith("nb.ipynb:cell 5:2:27: DL002")


# --- IPython syntax -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "python", "offset"),
    [
        ("%time model(x)", "model(x)", 6),
        ("  %time model(x)", "  model(x)", 6),
        ("%timeit -n 10 -r3 -q model(x)", "model(x)", 21),
        ("%time -x", "-x", 6),
        ("%prun -l 5 f()", "f()", 11),
        ("%matplotlib inline", "pass", 0),
        ("    %load_ext autoreload", "    pass", 0),
        ("!pip install torch", "pass", 0),
        ("  !nvidia-smi", "  pass", 0),
        ("files = !ls", "files = None", 0),
        ("a, b = %sx ls", "a, b = None", 0),
        ("model?", "pass", 0),
        ("??model.forward", "pass", 0),
        ("x = 'why?'", "x = 'why?'", 0),
        ("y = 1  # what?", "y = 1  # what?", 0),
        ("x = 5 % 2", "x = 5 % 2", 0),
    ],
)
def test_line_transforms(line: str, python: str, offset: int) -> None:
    text, got_offset, _ = transform_line(line)
    assert text == python
    assert got_offset == offset


def test_cell_magics() -> None:
    assert [t for t, _, _ in transform_cell(["%%time", "x = 1", "y = 2"])] == ["", "x = 1", "y = 2"]
    assert [t for t, _, _ in transform_cell(["%%capture out", "x = 1"])] == ["", "x = 1"]
    assert [t for t, _, _ in transform_cell(["%%bash", "ls -l", "echo $x"])] == ["", "", ""]
    assert [t for t, _, _ in transform_cell(["%%writefile a.py", "import os"])] == ["", ""]


def test_magic_lookalikes_inside_strings_and_brackets_are_left_alone() -> None:
    cell = ['s = """', "%time not magic", "!not shell", '"""', "f(1,", "  %2)", "%time g()"]
    assert [t for t, _, _ in transform_cell(cell)] == [
        's = """',
        "%time not magic",
        "!not shell",
        '"""',
        "f(1,",
        "  %2)",
        "g()",
    ]


def test_read_keeps_line_numbers_one_for_one() -> None:
    nb = read(TRAIN)
    assert nb.program.count("\n") == len(nb.origins)
    assert [(o.cell, o.line) for o in nb.origins][:3] == [(2, 1), (2, 2), (2, 3)]
    assert nb.program.splitlines()[:3] == ["pass", "pass", "import torch"]


def test_shell_lines_continued_with_a_backslash_are_dropped_whole() -> None:
    from devlint.notebooks import transform_lines

    lines = ["!pip install -q \\\n", "    transformers \\\n", "    peft\n", "x = 1\n"]
    assert [text for text, _, _ in transform_lines(lines)] == ["pass", "", "", "x = 1\n"]
    magic = ["%time y = \\\n", "    2\n"]
    assert [text for text, _, _ in transform_lines(magic)] == ["y = \\\n", "    2\n"]


# --- a notebook that shows the device failure on purpose (issue 13) -------------------

DEMO_CLASS = lines(
    "import torch",
    "import torch.nn as nn",
    "class Attention(nn.Module):",
    "    def __init__(self):",
    "        super().__init__()",
    "        self.mask = torch.triu(torch.ones(4, 4), diagonal=1)",
    "    def forward(self, x):",
    "        return x.masked_fill(self.mask.bool(), 0.0)",
)
DEMO_CALL = lines(
    'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")',
    "attn = Attention().to(device)",
    "print(attn(torch.ones(4, 4, device=device)))",
)
MIXED = lines(
    'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")',
    "a = torch.ones(3, device=device)",
    "print(a + torch.arange(3.0).to('cpu'))",
)


def _error(evalue: str, *frames: str) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": "RuntimeError",
        "evalue": evalue,
        "traceback": ["\x1b[0;31m---------\x1b[0m", *frames, f"RuntimeError: {evalue}"],
    }


def _ran(cell: dict[str, Any], count: int, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {**cell, "execution_count": count, "outputs": list(outputs)}


DEVICE_ERROR = "expected self and mask to be on the same device, but got mask on cpu"


def _codes(text: str) -> list[tuple[str, int, int]]:
    found = check_source(text, "demo.ipynb", ALL_RULES)
    return sorted((f.code, f.cell or 0, f.line) for f in found)


def test_a_saved_device_error_in_the_cell_marks_a_demonstration() -> None:
    plain = notebook(code(DEMO_CLASS), code(MIXED))
    assert _codes(plain) == [("DL006", 1, 8), ("DL009", 2, 3)]
    shown = notebook(
        code(DEMO_CLASS),
        _ran(code(MIXED), 2, _error("Expected all tensors to be on the same device, but found")),
    )
    assert _codes(shown) == [("DL006", 1, 8)]


@pytest.mark.parametrize(
    "frame",
    [
        # IPython 8
        "Cell \x1b[0;32mIn[1], line 8\x1b[0m, in \x1b[0;36mAttention.forward\x1b[0m",
        # older IPython: the file name holds the execution count, the arrow the line
        "<ipython-input-1-cf1dad0dd611> in forward(self, x)\n      7 \n----> 8         return x",
    ],
)
def test_a_traceback_through_a_cell_marks_that_line(frame: str) -> None:
    shown = notebook(
        _ran(code(DEMO_CLASS), 1),
        _ran(code(DEMO_CALL), 2, _error(DEVICE_ERROR, frame)),
    )
    assert _codes(shown) == []


def test_an_unrelated_saved_error_marks_nothing() -> None:
    shown = notebook(
        _ran(code(DEMO_CLASS), 1),
        _ran(code(MIXED), 2, _error("name 'b' is not defined")),
    )
    assert _codes(shown) == [("DL006", 1, 8), ("DL009", 2, 3)]
