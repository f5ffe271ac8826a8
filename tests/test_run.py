"""The run as a library (`devlint.run`): what the LSP server and the pytest plugin call,
with a settings resolver and paths, or one file's source in memory; no click."""

from __future__ import annotations

import sys
from pathlib import Path

from devlint.run import RunOptions, check_paths, check_source
from devlint.settings import CommandLine, Resolver
from tests.helpers import write
from tests.test_config_per_file import BOTH


def _project(root: Path) -> None:
    write(root, "pkg_a/pyproject.toml", '[tool.devlint]\nselect = ["DL002"]\n')
    write(root, "pkg_b/devlint.toml", 'ignore = ["DL002"]\n')
    write(root, "pkg_a/m.py", BOTH)
    write(root, "pkg_b/m.py", BOTH)


def test_check_paths_uses_each_files_settings(project: Path) -> None:
    _project(project)
    outcome = check_paths(["pkg_b", "pkg_a"], Resolver(), RunOptions(cache=False, jobs=1))
    assert outcome.checked and not outcome.errors and not outcome.internal_errors
    assert [(f.path.replace("\\", "/"), f.code) for f in outcome.findings] == [
        ("pkg_a/m.py", "DL002"),
        ("pkg_b/m.py", "DL007"),
    ]
    paths = {k.replace("\\", "/"): v.path for k, v in outcome.settings.items()}
    assert paths == {
        "pkg_a/m.py": str(project / "pkg_a" / "pyproject.toml"),
        "pkg_b/m.py": str(project / "pkg_b" / "devlint.toml"),
    }
    # the caller's options sit on top of every file's, as the command line's do
    resolver = Resolver(CommandLine(extend_select=("DL007",)))
    outcome = check_paths(["pkg_a"], resolver, RunOptions(cache=False, jobs=1))
    assert [f.code for f in outcome.findings] == ["DL007", "DL002"]


def test_check_source_in_memory(project: Path) -> None:
    _project(project)
    resolver = Resolver()
    outcome = check_source(BOTH.encode(), "pkg_a/x.py", resolver)
    assert [f.code for f in outcome.findings] == ["DL002"]
    assert not (project / "pkg_a" / "x.py").exists()
    fixed = check_source(BOTH.encode(), "pkg_b/x.py", resolver, RunOptions(fix=True))
    assert fixed.fixed_source is not None and b"detach().cpu()" in fixed.fixed_source
    assert fixed.findings == [] and fixed.fixes.count == 1


def test_the_run_module_does_not_import_click() -> None:
    import devlint.run  # noqa: F401

    source = Path(sys.modules["devlint.run"].__file__ or "").read_text(encoding="utf-8")
    source += Path(sys.modules["devlint.settings"].__file__ or "").read_text(encoding="utf-8")
    assert "import click" not in source
