"""action.yml: the composite GitHub Action, its inputs, and its two steps run for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BUGGY = 'import torch\nx = torch.zeros(3, device="cuda")\n'  # DL002 at 2:27


def action() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="needs PyYAML (installed with pre-commit)")
    return yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))


def step(name: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s.get("name") == name)


def test_action_is_composite_with_the_documented_inputs() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    assert set(data["inputs"]) == {"paths", "args", "version", "sarif-file"}
    assert data["inputs"]["paths"]["default"] == "."
    for s in data["runs"]["steps"]:
        assert s["shell"] == "bash"
        # inputs reach the scripts through the environment, never spliced into the code
        assert "${{" not in s["run"]
    assert "--output-format github" in step("Run devlint")["run"]


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=540,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_and_run_steps(tmp_path: Path) -> None:
    """Install devlint from the action's own checkout, then run it on a buggy project:
    annotations on stdout, a SARIF file, exit status 1."""
    checkout = tmp_path / "action"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", checkout / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "action.yml"):
        shutil.copy2(REPO / name, checkout / name)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    github_path = tmp_path / "github_path"
    github_output = tmp_path / "github_output"
    install = bash(
        step("Install devlint")["run"],
        tmp_path,
        {
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_PATH": str(github_path),
            "DEVLINT_VERSION": "",
            "DEVLINT_ACTION_PATH": str(checkout),
        },
    )
    assert install.returncode == 0, install.stderr
    bin_dir = github_path.read_text().strip()
    assert (Path(bin_dir) / "devlint").exists()

    project = tmp_path / "workspace"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text(BUGGY)
    (project / "src" / "ok.py").write_text("x = 1\n")
    env = {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_OUTPUT": str(github_output),
        "DEVLINT_PATHS": "src",
        "DEVLINT_ARGS": "--select DL002 --extend-select DL100",
        "DEVLINT_SARIF": "devlint.sarif",
    }
    result = bash(step("Run devlint")["run"], project, env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "::error title=devlint (DL002),file=src/train.py,line=2,col=27,endLine=2,endColumn=33::"
    )
    log = json.loads((project / "devlint.sarif").read_text())
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["DL002"]
    assert "sarif-file=devlint.sarif" in github_output.read_text()

    (project / "src" / "train.py").write_text("x = 2\n")
    result = bash(step("Run devlint")["run"], project, {**env, "DEVLINT_SARIF": ""})
    assert result.returncode == 0 and result.stdout == ""


def test_readme_shows_the_action_with_sarif_upload() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # no release is tagged yet: the README names a branch and says which tag will follow
    assert re.search(r"uses: devlint/devlint@main +# @v\d", readme)
    assert "github/codeql-action/upload-sarif" in readme
    assert "sarif-file:" in readme
