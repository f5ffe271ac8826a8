"""The text prefilter never changes a result: findings with and without it are identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from devlint import checker
from devlint.prefilter import may_have_findings
from devlint.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "src").rglob("*.py"))

# programs with findings that barely mention devices: each must pass the prefilter
SNEAKY = {
    "numpy_only": "def metric(p, y):\n    return p.numpy()\nx = model.to(dev)\n",
    "to_spaced": "def f(x, d):\n    x . to (d)\n    return x\n",
    "accelerator_literal": "m = net.to('mps')\n",
    "xpu": "m = net.to('xpu:0')\n",
    "device_kw": "t = make(3, device=dev)\n",
}


def _codes(text: str, path: str) -> list[tuple[str, int, int]]:
    return [(f.code, f.line, f.col) for f in checker.check_source(text, path, ALL_RULES)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_findings_with_and_without_prefilter(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text(encoding="utf-8")
    with_filter = _codes(text, path.name)
    monkeypatch.setattr(checker, "may_have_findings", lambda _text: True)
    assert _codes(text, path.name) == with_filter


@pytest.mark.parametrize("name", sorted(SNEAKY))
def test_device_code_passes_the_prefilter(name: str) -> None:
    assert may_have_findings(SNEAKY[name])


def test_files_without_device_code_skip_the_tree_but_syntax_errors_still_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_tree(*_a: object, **_k: object) -> None:
        raise AssertionError("LibCST should not parse this file")

    monkeypatch.setattr(checker.cst, "parse_module", no_tree)
    assert checker.check_source("import os\nprint(os.sep)\n", "plain.py", ALL_RULES) == []
    monkeypatch.undo()
    broken = checker.check_source("import os\nprint(os.sep\n", "broken.py", ALL_RULES)
    assert [f.code for f in broken] == ["DL000"]


def test_syntax_errors_are_found_when_only_dl000_is_selected() -> None:
    from devlint.rules import RULES_BY_CODE

    broken = "import torch\nx = torch.load(\n"
    codes = [f.code for f in checker.check_source(broken, "b.py", [RULES_BY_CODE["DL008"]][:0])]
    assert codes == ["DL000"]
