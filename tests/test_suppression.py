"""Suppression comments, DL100 unused-suppression, and --add-noqa."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devlint.checker import check_source
from devlint.config import enabled_codes
from devlint.rules import ALL_RULES, rules_for
from devlint.suppression import scan
from tests.helpers import BUGGY, CLEAN, concise, run, write

# DL002 (a hard-coded accelerator), reported on the line of the literal
CUDA = 'torch.zeros(3, device="cuda")'


def codes(text: str, rules=ALL_RULES, **kw) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in check_source(text, "t.py", rules, **kw)]


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: DL002",
        "# noqa:DL002",
        "# NOQA: DL002",
        "# noqa",
        "# noqa: E501, DL002",
        "# noqa: DL001 DL002",
        "# devlint: ignore[DL002]",
        "# devlint: ignore[DL001, DL002]",
        "# devlint: ignore",
        "# some reason  # noqa: DL002",
    ],
)
def test_suppression_forms(comment: str) -> None:
    assert codes(f"import torch\nx = {CUDA}  {comment}\n") == []


@pytest.mark.parametrize(
    "comment",
    ["# noqa: DL001", "# noqa: E501", "# devlint: ignore[DL001]", "# noqa-ish", "# devlint"],
)
def test_other_codes_do_not_suppress(comment: str) -> None:
    assert codes(f"import torch\nx = {CUDA}  {comment}\n") == [("DL002", 2)]


def test_only_real_comments_count() -> None:
    text = f'import torch\nx = {CUDA}; s = "# noqa"\n'
    assert codes(text) == [("DL002", 2)]


def test_suppression_on_the_last_line_of_a_multi_line_statement() -> None:
    text = f"import torch\nx = {CUDA}.add(\n    1,\n)  # noqa: DL002\n"
    assert codes(text) == []
    # a comment on a line in the middle of the statement does not count
    text = f"import torch\nx = {CUDA}.add(\n    1,  # noqa: DL002\n)\n"
    assert codes(text) == [("DL002", 2)]
    # but one on the reported line does
    text = f"import torch\nx = {CUDA}.add(  # noqa: DL002\n    1,\n)\n"
    assert codes(text) == []


def test_skip_file() -> None:
    assert codes(f"# devlint: skip-file\nimport torch\nx = {CUDA}\n") == []
    assert codes(f"import torch\nx = {CUDA}\n    # devlint: skip-file\n") == []
    # not when it follows code, nor inside a string
    assert codes(f"import torch\nx = {CUDA}  # devlint: skip-file\n") == [("DL002", 2)]
    assert codes(f'import torch\ns = """\n# devlint: skip-file\n"""\nx = {CUDA}\n') == [
        ("DL002", 5)
    ]
    # a file that does not parse is skipped too, when it says so
    assert codes("# devlint: skip-file\nx = )\n") == []


def test_ignore_noqa_reports_everything() -> None:
    assert codes(f"import torch\nx = {CUDA}  # noqa\n", noqa=False) == [("DL002", 2)]


def test_syntax_errors_cannot_be_suppressed() -> None:
    assert codes("x = )  # noqa\n") == [("DL000", 1)]


def test_noqa_row_is_where_a_comment_can_go() -> None:
    text = f'import torch\nx = {CUDA}.add(\n    len("""model\n    .pt"""),\n)\n'
    [f] = check_source(text, "t.py", ALL_RULES)
    assert (f.line, f.noqa_row) == (2, 2)
    text = f"import torch\nx = \\\n  {CUDA}\n"
    [f] = check_source(text, "t.py", ALL_RULES)
    assert (f.line, f.noqa_row) == (3, 3)
    text = f"import torch\nx = {CUDA} + \\\n  1\n"
    [f] = check_source(text, "t.py", ALL_RULES)
    assert (f.line, f.noqa_row) == (2, 3)  # a comment cannot follow a backslash


def test_scan_finds_statement_ends() -> None:
    comments = scan("x = (1,\n     2)\ny = 3  # noqa: DL001\n")
    assert comments.statement_end[1] == 2
    [d] = comments.directives[3]
    assert (d.kind, d.codes, d.col) == ("noqa", ("DL001",), 8)


# --- DL100 --------------------------------------------------------------------------


def dl100(text: str, extra: tuple[str, ...] = ("DL100",)) -> list[tuple[str, int, str]]:
    from devlint.config import Selection

    rules = rules_for(enabled_codes([Selection(extend_select=extra)]))
    return [(f.code, f.line, f.message) for f in check_source(text, "t.py", rules)]


def test_dl100_is_off_by_default() -> None:
    assert codes("import torch\nx = torch.zeros(3)  # noqa: DL004\n") == []


def test_dl100_reports_unused_devlint_codes() -> None:
    text = (
        "import torch\n"
        "x = torch.zeros(3)  # noqa: DL004\n"
        f"state = {CUDA} if SIZE else None  # noqa: DL002, DL004, E501\n"
        f"other = {CUDA}  # noqa: DL002\n"
        "y = 1  # noqa: DL999\n"
        "z = 2  # noqa\n"
        "w = 3  # devlint: ignore\n"
        "v = 4  # noqa: E501\n"
    )
    assert dl100(text) == [
        ("DL100", 2, "unused `noqa` directive (unused: DL004)"),
        ("DL100", 3, "unused `noqa` directive (unused: DL004)"),
        ("DL100", 5, "unused `noqa` directive (unknown: DL999)"),
        ("DL100", 7, "unused `devlint: ignore` comment: it suppresses nothing on this line"),
    ]


def test_dl100_position_and_severity() -> None:
    from devlint.config import Selection

    rules = rules_for(enabled_codes([Selection(extend_select=("DL100",))]))
    [f] = check_source("x = 1  # noqa: DL004\n", "t.py", rules)
    assert (f.line, f.col, f.end_col) == (1, 8, 21)
    assert f.severity == "warning" and f.name == "unused-suppression"
    assert f.source_line == "x = 1  # noqa: DL004"


def test_dl100_skips_codes_this_run_does_not_enable() -> None:
    from devlint.config import Selection

    rules = rules_for(enabled_codes([Selection(select=("DL001", "DL100"))]))
    assert check_source("x = 1  # noqa: DL004\n", "t.py", rules) == []


def test_dl100_from_the_command_line(project: Path) -> None:
    write(project, "a.py", "import torch\nx = torch.zeros(3)  # noqa: DL004\n")
    assert run("a.py").exit_code == 0
    result = run("--extend-select", "DL100", "--output-format", "concise", "a.py")
    assert result.exit_code == 1
    assert concise(result) == ["a.py:2:21: DL100 unused `noqa` directive (unused: DL004)"]
    assert run("rule", "DL100").stdout.startswith("DL100 unused-suppression (off by default")


# --- --add-noqa ---------------------------------------------------------------------


def test_add_noqa_then_only_new_findings_are_reported(project: Path) -> None:
    # (conditional uses: an unconditional one at the top level would guard the rest of
    # the script, which runs only where it succeeded)
    text = (
        "import torch\n"
        f"a = {CUDA} if SIZE else None\n"
        f"b = {CUDA} if SIZE else None  # keep this comment\n"
        f"c = {CUDA} if SIZE else None  # noqa: E501\n"
        f"d = {CUDA}.add(\n"
        "    1,\n"
        ") + 0\n"
    )
    path = write(project, "train.py", text)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # line endings are kept
    result = run("--add-noqa", "train.py")
    assert result.exit_code == 0
    assert "Added 4 noqa directives." in result.stderr
    assert path.read_bytes().decode().split("\r\n") == [
        "import torch",
        f"a = {CUDA} if SIZE else None  # noqa: DL002",
        f"b = {CUDA} if SIZE else None  # keep this comment  # noqa: DL002",
        f"c = {CUDA} if SIZE else None  # noqa: DL002, E501",
        f"d = {CUDA}.add(  # noqa: DL002",
        "    1,",
        ") + 0",
        "",
    ]
    assert run("train.py").exit_code == 0
    with path.open("a", newline="") as fh:
        fh.write(f"def f():\r\n    e = {CUDA}\r\n")
    result = run("--output-format", "concise", "train.py")
    assert [line.split(":")[1] for line in concise(result)] == ["9"]
    # running it again adds only what is missing
    assert "Added 1 noqa directive." in run("--add-noqa", "train.py").stderr
    assert run("--add-noqa", "train.py").stderr.strip() == "Added 0 noqa directives."


def test_add_noqa_leaves_clean_files_and_syntax_errors_alone(project: Path) -> None:
    clean = write(project, "ok.py", CLEAN)
    broken = write(project, "bad.py", "x = )\n")
    result = run("--add-noqa", ".")
    assert result.exit_code == 0
    assert clean.read_text() == CLEAN and broken.read_text() == "x = )\n"


def test_add_noqa_refuses_stdin(project: Path) -> None:
    result = run("-", "--add-noqa", input=BUGGY)
    assert result.exit_code == 2


def test_add_noqa_in_a_notebook(project: Path) -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["import torch\n", f"x = {CUDA}\n", "%time y = 1"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = write(project, "nb.ipynb", json.dumps(nb, indent=1) + "\n")
    result = run("--add-noqa", "nb.ipynb")
    assert "Added 1 noqa directive." in result.stderr
    data = json.loads(path.read_text())
    assert data["cells"][1]["source"] == [
        "import torch\n",
        f"x = {CUDA}  # noqa: DL002\n",
        "%time y = 1",
    ]
    assert data["cells"][0] == nb["cells"][0]
    assert run("nb.ipynb").exit_code == 0


def test_add_noqa_merges_into_a_comment_on_a_magic_line(project: Path) -> None:
    """`%time s = torch.zeros(3, device="cuda")  # noqa: DL004`: the program's comment sits 6 columns
    further right in the cell than in the program; the merge must land on it."""
    source = ["import torch\n", f"%time s = {CUDA}  # noqa: DL004\n", "t = 1"]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": source,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = write(project, "nb.ipynb", json.dumps(nb, indent=1) + "\n")
    run("--add-noqa", "nb.ipynb")
    assert json.loads(path.read_text())["cells"][0]["source"] == [
        "import torch\n",
        f"%time s = {CUDA}  # noqa: DL002, DL004\n",
        "t = 1",
    ]
