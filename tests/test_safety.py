"""The static pass never imports, executes or evaluates user code, and never uses the
network; odd paths are reported, not fatal."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.helpers import run, write

EVIL = """\
import pathlib
pathlib.Path({marker!r}).write_text("executed")
import torch
state = torch.zeros(3, device="cuda")
"""


def test_user_code_and_conftest_are_never_executed(project: Path) -> None:
    marker = project / "MARKER"
    write(project, "evil.py", EVIL.format(marker=str(marker)))
    write(project, "conftest.py", EVIL.format(marker=str(marker)))
    write(project, "pkg/__init__.py", EVIL.format(marker=str(marker)))
    write(project, "setup.py", EVIL.format(marker=str(marker)))
    write(
        project,
        "pyproject.toml",
        '[tool.devlint]\nselect = ["DL002"]\n# __import__("os").system("touch MARKER")\n',
    )
    result = run("--no-cache", "--output-format", "concise", ".")
    assert result.exit_code == 1
    assert result.stdout.count("DL002") == 4
    assert not marker.exists()


def test_no_network_access(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("devlint opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    write(project, "a.py", "import torch\nx = torch.zeros(3, device='cuda')\n")
    assert run("--no-cache", ".").exit_code == 1


@pytest.mark.parametrize(
    "name", ["with space.py", "caf\u00e9_\u6a21\u578b.py", "dir with space/m.py"]
)
def test_paths_with_spaces_and_non_ascii_names(project: Path, name: str) -> None:
    write(project, name, "import torch\nx = torch.zeros(3, device='cuda')\n")
    result = run("--no-cache", "--output-format", "concise", ".")
    assert result.exit_code == 1
    assert f"{os.path.normpath(name)}:2:27: DL002" in result.stdout


def test_a_directory_named_like_a_python_file(project: Path) -> None:
    write(project, "odd.py/inner.py", "import torch\nx = torch.zeros(3, device='cuda')\n")
    result = run("--no-cache", "--output-format", "concise", "odd.py")
    assert result.exit_code == 1 and "inner.py:2:27: DL002" in result.stdout


def test_an_empty_file_list_is_clean(project: Path) -> None:
    (project / "empty").mkdir()
    result = run("--no-cache", "empty")
    assert result.exit_code == 0
