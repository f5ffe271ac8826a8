"""The command line's --fix/--diff, --jobs, cache and --file-timeout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from devlint import checker as checker_module
from devlint import runner as runner_module
from tests.helpers import run, write

NUMPY = (
    "import torch\n"
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = torch.nn.Linear(4, 2).to(device)\n"
    "x = torch.randn(3, 4, device=device)\n"
    "y = model(x).numpy()\n"
)
CUDA = "import torch\nx = torch.zeros(3, device='cuda')\n"  # DL002 (an unsafe fix) at 2:27


def test_fix_applies_safe_fixes_and_reports_the_rest(project: Path) -> None:
    write(project, "a.py", NUMPY)
    write(project, "b.py", CUDA)
    result = run("--fix", "--output-format", "concise", "--no-cache", ".")
    assert result.exit_code == 1  # the unsafe DL002 fix was not applied
    assert "model(x).detach().cpu().numpy()" in (project / "a.py").read_text()
    assert (project / "b.py").read_text() == CUDA
    assert "DL002" in result.stdout and "DL007" not in result.stdout
    assert "Fixed 1 problem in 1 file." in result.stderr


def test_unsafe_fixes_need_the_flag(project: Path) -> None:
    write(project, "b.py", CUDA)
    result = run("--fix", "--unsafe-fixes", "--no-cache", ".")
    assert result.exit_code == 0
    fallback = 'device=("cuda" if torch.cuda.is_available() else "cpu")'
    assert fallback in (project / "b.py").read_text()


def test_diff_writes_nothing_and_exits_1(project: Path) -> None:
    write(project, "a.py", NUMPY)
    result = run("--diff", "--no-cache", ".")
    assert result.exit_code == 1
    assert (project / "a.py").read_text() == NUMPY
    assert "-y = model(x).numpy()" in result.stdout
    assert "+y = model(x).detach().cpu().numpy()" in result.stdout
    clean = run("--diff", "--no-cache", ".", "--select", "DL002")
    assert clean.exit_code == 0 and clean.stdout == ""


def test_fix_only_and_show_fixes(project: Path) -> None:
    write(project, "a.py", NUMPY)
    result = run("--fix-only", "--show-fixes", "--no-cache", ".")
    assert result.exit_code == 0
    assert "Fixes applied:" in result.stdout and "DL007" in result.stdout
    assert "Found" not in result.stdout


def test_fix_never_touches_a_file_with_a_syntax_error(project: Path) -> None:
    broken = NUMPY + "def (:\n"
    write(project, "a.py", broken)
    run("--fix", "--unsafe-fixes", "--no-cache", ".")
    assert (project / "a.py").read_text() == broken


def test_cache_makes_a_second_run_identical(project: Path) -> None:
    write(project, "a.py", NUMPY)
    write(project, "b.py", CUDA)
    first = run("--output-format", "json", ".")
    cache = project / ".devlint_cache"
    assert (cache / "CACHEDIR.TAG").exists() and list(cache.rglob("*.json"))
    second = run("--output-format", "json", ".")
    assert json.loads(first.stdout) == json.loads(second.stdout)
    elsewhere = project / "elsewhere"
    run("--cache-dir", str(elsewhere), ".")
    assert list(elsewhere.rglob("*.json"))


def test_no_cache_writes_no_cache(project: Path) -> None:
    write(project, "a.py", CUDA)
    run("--no-cache", ".")
    assert not (project / ".devlint_cache").exists()


def test_jobs_do_not_change_the_output(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "PARALLEL_MIN_BYTES", 0)
    for i in range(6):
        write(project, f"m{i}.py", NUMPY if i % 2 else CUDA)
    one = run("--no-cache", "--jobs", "1", "--output-format", "json", ".")
    two = run("--no-cache", "--jobs", "2", "--output-format", "json", ".")
    assert one.stdout == two.stdout and json.loads(one.stdout)


def test_file_timeout_reports_and_skips_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "slow.py", CUDA)
    write(project, "fast.py", CUDA)
    real = checker_module.check_source

    def slow(data, display, rules, **kw):
        if display.endswith("slow.py"):
            time.sleep(5)
        return real(data, display, rules, **kw)

    monkeypatch.setattr(checker_module, "check_source", slow)
    start = time.perf_counter()
    result = run("--no-cache", "--file-timeout", "0.5", "--output-format", "concise", ".")
    assert time.perf_counter() - start < 4
    assert "slow.py:1:1: DL000 skipped: checking took longer than --file-timeout (0.5 s)" in (
        result.stdout
    )
    assert "fast.py:2:27: DL002" in result.stdout


def test_huge_files_are_reported_not_analysed(project: Path) -> None:
    body = "import torch\n" + "x = torch.ones(3) + 1\n" * 150_000  # ~3.3 MB
    write(project, "generated.py", body)
    start = time.perf_counter()
    result = run("--no-cache", "--fix", "--output-format", "concise", ".")
    assert time.perf_counter() - start < 10
    assert "generated.py:1:1: DL000 skipped: the file is 3.3 MB, over --max-file-size (2 MB)" in (
        result.stdout
    )
    assert (project / "generated.py").read_text() == body


def _notebook(code: str, output_bytes: int) -> str:
    image = "A" * output_bytes  # an embedded PNG, as base64, in a cell's outputs
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": code.splitlines(keepends=True),
        "outputs": [{"output_type": "display_data", "data": {"image/png": image}, "metadata": {}}],
    }
    return json.dumps(
        {
            "cells": [cell],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_a_notebook_large_only_by_its_outputs_is_analysed(project: Path) -> None:
    """Plots make notebooks megabytes; the size limit is about code that LibCST parses."""
    write(project, "plots.ipynb", _notebook(CUDA, 3_000_000))
    result = run("--no-cache", "--output-format", "concise", ".")
    assert "plots.ipynb:cell 1:2:27: DL002" in result.stdout
    assert "DL000" not in result.stdout


def test_a_notebook_with_too_much_code_is_reported(project: Path) -> None:
    code = "import torch\n" + "x = torch.ones(3) + 1\n" * 20_000  # ~0.4 MB of code
    write(project, "generated.ipynb", _notebook(code, 0))
    result = run("--no-cache", "--max-file-size", "0.1", "--output-format", "concise", ".")
    assert "generated.ipynb:1:1: DL000 skipped: the notebook's code is 0.4 MB" in result.stdout
