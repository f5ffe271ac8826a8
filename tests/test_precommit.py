"""The pre-commit hook, run by the real `pre-commit try-repo` in throw-away repositories.

pre-commit installs devlint from a git repository into an environment of its own (with
devlint's own dependencies only: no torch), so the working tree is copied into a temporary repository and committed.
The hook must fail on a buggy file with the finding, skip files that the project's
configuration excludes even though pre-commit names them (`--force-exclude`), lint
notebooks, and pass once the bug is fixed.  `try-repo` builds the hook's environment in
a temporary store each time (a few seconds: pip installs devlint and its dependencies).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.skipif(
        importlib.util.find_spec("pre_commit") is None,
        reason="needs pre-commit (pip install -e '.[test]')",
    ),
]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "devlint tests",
    "GIT_AUTHOR_EMAIL": "tests@devlint.invalid",
    "GIT_COMMITTER_NAME": "devlint tests",
    "GIT_COMMITTER_EMAIL": "tests@devlint.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV}, timeout=60,
    )  # fmt: skip


def hook_repository(root: Path) -> Path:
    """devlint's working tree (what pip needs to install it), committed in a new repo."""
    dest = root / "devlint-hook"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", dest / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO / name, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "devlint")
    return dest


def notebook(source: list[str]) -> str:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    return json.dumps({"cells": [{**cell, "source": source}], "metadata": {}, "nbformat": 4})


def try_repo(project: Path, hook_repo: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("PRE_COMMIT_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "devlint",
         "--all-files", "--color", "never"],
        cwd=project, capture_output=True, text=True, env=env, timeout=540,
    )  # fmt: skip


def test_pre_commit_hook_fails_on_the_bug_and_passes_once_fixed(tmp_path: Path) -> None:
    hook_repo = hook_repository(tmp_path)
    project = tmp_path / "project"
    (project / "generated").mkdir(parents=True)
    (project / "train.py").write_text('import torch\nx = torch.zeros(3, device="cuda")\n')
    (project / "explore.ipynb").write_text(
        notebook(["import torch\n", "%time x = torch.zeros(3).cuda()\n"])
    )
    (project / "generated" / "broken.py").write_text("x = )\n")
    (project / "notes.txt").write_text("torch.zeros(3, device='cuda')\n")
    (project / "pyproject.toml").write_text('[tool.devlint]\nextend-exclude = ["generated"]\n')
    git(project, "init", "-q")
    git(project, "add", "-A")

    home = tmp_path / "pre-commit-home"
    failed = try_repo(project, hook_repo, home)
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "devlint" in out and "Failed" in out
    assert "train.py:2:27: DL002" in out
    assert "explore.ipynb:cell 1:2:" in out and "DL002" in out
    assert "generated" not in out  # excluded by the project's configuration
    assert "notes.txt" not in out

    (project / "train.py").write_text(
        'import torch\nx = torch.zeros(3, device=("cuda" if torch.cuda.is_available() else "cpu"))\n'
    )
    (project / "explore.ipynb").write_text(
        notebook(["import torch\n", "%time x = torch.zeros(3)\n"])
    )
    git(project, "add", "-A")
    passed = try_repo(project, hook_repo, home)
    out = passed.stdout + passed.stderr
    assert passed.returncode == 0, out
    assert "Passed" in out


def test_hook_environment_needs_no_torch() -> None:
    """pre-commit installs the package's own dependencies only: torch must not be one."""
    import re

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.MULTILINE | re.DOTALL)
    assert deps is not None
    assert "torch" not in deps.group(1)
