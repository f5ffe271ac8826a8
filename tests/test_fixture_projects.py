"""Fixture projects (`fixtures/projects/<name>/`): several modules, a configuration, a
layout (packages, scripts, tests).  Each yields exactly the findings its `# expect:`
lines declare, checked the way the command line checks a project: from its folder, so
its `pyproject.toml` applies and each file's role (library code or script) comes from
its place and the `library`/`scripts` settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devlint.roles import LIBRARY, PROGRAM, SCRIPT, RolePatterns, detect_role
from devlint.run import RunOptions, check_paths
from devlint.settings import CommandLine, Resolver
from tests.fixture_expectations import FIXTURES, expectations

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir())


def _expected(project: Path) -> set[tuple[str, str, int]]:
    return {
        (path.relative_to(project).as_posix(), code, line)
        for path in project.rglob("*.py")
        for code, line in expectations(path)
    }


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_project_exact_findings(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    resolver = Resolver(CommandLine(cwd=str(project)))
    outcome = check_paths(["."], resolver, RunOptions(cache=False, jobs=1))
    assert not outcome.errors and not outcome.internal_errors
    found = {
        (f.path.replace(os.sep, "/").removeprefix("./"), f.code, f.line) for f in outcome.findings
    }
    expected = _expected(project)
    assert expected, f"{project.name} declares no `# expect:` line"
    assert sorted(found - expected) == [], "unexpected findings"
    assert sorted(expected - found) == [], "missed findings"


def test_roles_from_the_files_place(tmp_path: Path) -> None:
    for rel in ("pkg/__init__.py", "pkg/core.py", "pkg/tests/t.py", "examples/pkg2/__init__.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "examples/pkg2/m.py").write_text("")
    (tmp_path / "pkg/sub").mkdir()
    (tmp_path / "pkg/sub/ns.py").write_text("")
    (tmp_path / "loose.py").write_text("")
    root = str(tmp_path)
    assert detect_role(str(tmp_path / "pkg/core.py"), root) == LIBRARY
    assert detect_role(str(tmp_path / "pkg/sub/ns.py"), root) == LIBRARY  # a namespace subpackage
    assert detect_role(str(tmp_path / "pkg/tests/t.py"), root) == SCRIPT  # a tests folder
    assert detect_role(str(tmp_path / "pkg/test_core.py"), root) == PROGRAM
    assert detect_role(str(tmp_path / "examples/pkg2/m.py"), root) == SCRIPT
    assert detect_role(str(tmp_path / "loose.py"), root) == SCRIPT  # beside a script
    assert detect_role(str(tmp_path / "nb.ipynb"), root) == PROGRAM
    # folder names above the project do not count: a checkout under ~/examples/ is not
    # all scripts
    assert detect_role(str(tmp_path / "pkg/core.py"), str(tmp_path / "pkg")) == LIBRARY
    configured = RolePatterns(
        root=root, library=("loose.py",), library_root=root, scripts=("pkg",), scripts_root=root
    )
    assert configured.role_for(str(tmp_path / "loose.py")) == LIBRARY
    assert configured.role_for(str(tmp_path / "pkg/core.py")) == SCRIPT  # a folder glob


def test_the_configured_project_depends_on_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `library`, `scripts` and `gpu-guards`, the `configured` project's findings
    change exactly where those settings speak."""
    project = FIXTURES / "projects" / "configured"
    monkeypatch.chdir(project)
    blank = {"library": [], "scripts": [], "gpu-guards": []}
    resolver = Resolver(CommandLine(cwd=str(project), overrides=(blank,)))
    outcome = check_paths(["."], resolver, RunOptions(cache=False, jobs=1))
    found = {
        (f.path.replace(os.sep, "/").removeprefix("./"), f.code, f.line) for f in outcome.findings
    }
    expected = _expected(project)
    assert found - expected == {
        ("tests/test_ops.py", "DL002", 9),  # the guard is not known
        ("trainkit/cli.py", "DL007", 6),  # a package module: library code by its place
    }
    assert expected - found == {("ops.py", "DL007", 12)}  # a loose module: a script's helper
