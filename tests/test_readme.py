"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_cmds = [c for c in _readme_commands() if "pytest" in c]
    assert len(test_cmds) == 1
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmds[0] in ci.splitlines()


def test_readme_installs_torch_first_and_runs_devlint_on_fixtures() -> None:
    cmds = _readme_commands()
    assert any(c.endswith("devlint fixtures/") and "torch" not in c for c in cmds)
    test_cmd = next(c for c in cmds if "pytest" in c)
    assert test_cmd.index("torch==2.13.0") < test_cmd.index(".[test]")


def test_install_commands_work_without_a_release() -> None:
    """devlint is not on PyPI and no release is tagged yet: every install the README shows
    works from a clone or a git URL, and references to a release say that one is needed."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    installs = [line for line in readme.splitlines() if "pip install" in line]
    assert installs
    for line in installs:
        assert "pip install devlint" not in line.replace("'devlint[", ""), line
    for line in readme.splitlines():
        if "v0.1.0" in line:
            assert "once" in line or "until" in line or "exists" in line, line
