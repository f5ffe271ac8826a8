"""`github` format: workflow commands that GitHub turns into annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from devlint.findings import Finding
from devlint.report import github
from tests.helpers import BUGGY, run, write


def finding(**kw: object) -> Finding:
    base: dict = dict(
        code="DL001", name="module-input-device-mismatch", message="m", path="t.py",
        line=3, col=5, end_line=3, end_col=9, help="",
    )  # fmt: skip
    base.update(kw)
    return Finding(**base)


def test_real_finding_is_an_error_annotation_with_a_relative_path(project: Path) -> None:
    write(project, "src/train.py", BUGGY)
    result = run("--output-format", "github", str(project / "src"))
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(
        "::error title=devlint (DL002),file=src/train.py,line=2,col=27,endLine=2,endColumn=33::"
    )
    assert "%0Ahelp: choose the device once with a fallback" in line
    assert "Found" not in result.stdout  # nothing but workflow commands


def test_paths_are_relative_to_the_github_workspace(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "repo/pkg/t.py", BUGGY)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project / "repo"))
    monkeypatch.chdir(project / "repo" / "pkg")
    line = run("--output-format", "github", "t.py").stdout
    assert ",file=pkg/t.py," in line


def test_message_and_property_escaping() -> None:
    f = finding(message="100% wrong:\r\nnext, line", path="dir,a:b/t%.py", help="do: x")
    line = github.command(f, root=".")
    assert line == (
        "::error title=devlint (DL001),file=dir%2Ca%3Ab/t%25.py,line=3,col=5,endLine=3,"
        "endColumn=9::100%25 wrong:%0D%0Anext, line%0Ahelp: do: x"
    )
    assert "\n" not in line and "\r" not in line


def test_less_sure_findings_are_warnings() -> None:
    assert github.command(finding(severity="warning"), root=".").startswith("::warning ")
    assert github.command(finding(severity="info"), root=".").startswith("::notice ")
    assert github.command(finding(), root=".").startswith("::error ")


def test_dl100_is_a_warning(project: Path) -> None:
    write(project, "u.py", "x = 1  # noqa: DL004\n")
    out = run("--output-format", "github", "--extend-select", "DL100", "u.py").stdout
    assert out.startswith("::warning title=devlint (DL100),file=u.py,line=1,col=8,")


def test_nothing_found_prints_nothing(project: Path) -> None:
    write(project, "ok.py", "x = 1\n")
    result = run("--output-format", "github", "ok.py")
    assert result.exit_code == 0 and result.stdout == ""
