"""Autofix: before/after fixtures, and the guarantees a user's files rely on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devlint.checker import check_source
from devlint.findings import Finding
from devlint.fix import apply_edits, fix_file, fix_source, parses
from devlint.rules import ALL_RULES

FIXES = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"
CASES = sorted(p for p in FIXES.glob("*.py") if not p.name.endswith(".fixed.py"))


def check(path: str):
    return lambda text: check_source(text, path, ALL_RULES)


def fix_text(text: str, unsafe: bool, path: str = "t.py") -> str:
    return fix_source(text, path, check(path), unsafe=unsafe).fixed


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_fixture_before_after(case: Path) -> None:
    unsafe = "unsafe" in case.stem
    before = case.read_text(encoding="utf-8")
    expected = case.with_name(case.stem + ".fixed.py").read_text(encoding="utf-8")
    result = fix_source(before, str(case), check(str(case)), unsafe=unsafe)
    assert result.fixed == expected
    code = case.stem.split("_")[0].upper()
    assert code in {f.code for f in result.applied}
    # the fix repairs: a new run no longer reports it, and fixing again changes nothing
    assert code not in {f.code for f in check_source(expected, str(case), ALL_RULES)}
    assert fix_text(expected, unsafe=True) == expected


@pytest.mark.parametrize("case", [c for c in CASES if "unsafe" in c.stem], ids=lambda p: p.stem)
def test_unsafe_fixes_need_the_flag(case: Path) -> None:
    before = case.read_text(encoding="utf-8")
    assert fix_text(before, unsafe=False) == before


def _finding(row: int, col: int, end_col: int, content: str) -> Finding:
    return Finding(
        "DL007",
        "numpy-on-accelerator",
        "m",
        "t.py",
        row,
        col,
        row,
        end_col,
        fix={
            "applicability": "safe",
            "message": "t",
            "edits": [
                {
                    "content": content,
                    "location": {"row": row, "column": col},
                    "end_location": {"row": row, "column": end_col},
                }
            ],
        },
    )


def test_overlapping_fixes_apply_one_per_round() -> None:
    text = "y = a.numpy()\n"
    outer = _finding(1, 5, 14, "a.cpu().numpy()")
    inner = _finding(1, 5, 6, "b")
    fixed, applied = apply_edits(text, [outer, inner], unsafe=False)
    assert applied == [outer]
    assert fixed == "y = a.cpu().numpy()\n"


def test_a_multiline_call_keeps_its_layout_when_it_gains_an_argument() -> None:
    """The new argument follows the call's own layout, and continuation lines keep their
    indentation (the edit replaces the call's span with its own text plus the argument)."""
    text = (
        "import torch\n"
        "class Data:\n"
        "    def load(self, root):\n"
        "        return torch.load(\n"
        "            os.path.join(root,  # the file\n"
        "                         'data.pt'),\n"
        "        )\n"
    )
    assert fix_text(text, unsafe=True) == (
        "import torch\n"
        "class Data:\n"
        "    def load(self, root):\n"
        "        return torch.load(\n"
        "            os.path.join(root,  # the file\n"
        "                         'data.pt'), map_location=\"cpu\",\n"
        "        )\n"
    )
    per_line = (
        "import torch\n"
        "def load(path):\n"
        "    return torch.load(\n"
        "        path,\n"
        "        weights_only=True,\n"
        "    )\n"
    )
    assert fix_text(per_line, unsafe=True) == per_line.replace(
        "weights_only=True,\n", 'weights_only=True,\n        map_location="cpu",\n'
    )
    one_line = "import torch\nw = torch.load('m.pt', weights_only=True)\n"
    assert fix_text(one_line, unsafe=True) == (
        "import torch\nw = torch.load('m.pt', weights_only=True, map_location=\"cpu\")\n"
    )


SRC = (
    "import torch\n"
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = torch.nn.Linear(4, 2).to(device)\n"
    "x = torch.randn(3, 4, device=device)\n"
    "y = model(x).numpy()  # comment\n"
)


def test_crlf_encoding_bom_mode_and_symlink_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    text = "# -*- coding: latin-1 -*-\n# caf\u00e9\n" + SRC
    real.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    os.chmod(real, 0o750)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    result = fix_file(link, check(str(link)))
    assert result is not None and result.changed
    assert link.is_symlink()
    data = real.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert "caf\u00e9".encode("latin-1") in data
    assert b"model(x).detach().cpu().numpy()  # comment" in data
    assert stat.S_IMODE(real.stat().st_mode) == 0o750
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".devlint-tmp")]


def test_utf8_bom_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + SRC.encode())
    fix_file(path, check(str(path)))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b".cpu().numpy()" in data


def test_syntax_error_file_is_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    original = SRC + "def (:\n"
    path.write_text(original)
    result = fix_file(path, check(str(path)), unsafe=True)
    assert result is not None and not result.changed
    assert path.read_text() == original


def test_diff_mode_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(SRC)
    result = fix_file(path, check(str(path)), write=False)
    assert result is not None and result.changed
    assert path.read_text() == SRC
    assert parses(result.fixed)
