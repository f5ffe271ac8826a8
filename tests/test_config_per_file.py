"""Configuration per file (issue 16, item 5): each file uses the nearest configuration
above it, as ruff does, `extend` inherits from another file, and `--show-settings FILE`
says which one applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import BROKEN, concise, run, write

# DL007 (safe fix) on line 5, DL002 (unsafe fix) on line 6.
BOTH = (
    "import torch\n"
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = torch.nn.Linear(4, 2).to(device)\n"
    "x = torch.randn(3, 4, device=device)\n"
    "y = model(x).numpy()\n"
    "z = torch.zeros(3, device='cuda')\n"
)
# DL005 only once `gpu` is declared in device-names.
GPU = (
    "import torch\n"
    "import torch.nn as nn\n"
    "gpu = get_target()\n"
    "model = nn.Linear(4, 2).to(gpu)\n"
    "x = torch.zeros(1, 4)\n"
    "y = model(x)\n"
)


def codes(result: object) -> list[tuple[str, str]]:
    """(path, code) of each finding of a concise report."""
    pairs = []
    for line in concise(result):  # type: ignore[arg-type]
        path, _, _, rest = line.split(":", 3)
        pairs.append((path.replace("\\", "/"), rest.split()[0]))
    return pairs


@pytest.fixture
def two_packages(project: Path) -> Path:
    """A root configuration and two packages with configurations of their own that
    differ in every kind of setting."""
    write(project, "pyproject.toml", '[tool.devlint]\nignore = ["DL002"]\n')
    write(project, "top.py", BOTH)
    write(
        project,
        "pkg_a/pyproject.toml",
        "[project]\nname = 'a'\n\n[tool.devlint]\n"
        'select = ["DL002"]\nextend-exclude = ["gen"]\n'
        '[tool.devlint.per-file-ignores]\n"tests/*" = ["DL002"]\n',
    )
    write(
        project,
        "pkg_b/devlint.toml",
        'ignore = ["DL002"]\nextend-exclude = ["legacy"]\n'
        '[per-file-ignores]\n"scripts/*" = ["DL007"]\n',
    )
    for pkg in ("pkg_a", "pkg_b"):
        write(project, f"{pkg}/m.py", BOTH)
        write(project, f"{pkg}/tests/t.py", BOTH)
        write(project, f"{pkg}/scripts/s.py", BOTH)
        write(project, f"{pkg}/gen/g.py", BROKEN)
        write(project, f"{pkg}/legacy/l.py", BROKEN)
    return project


PKG_A = [
    ("pkg_a/legacy/l.py", "DL000"),  # pkg_b's exclude does not reach pkg_a
    ("pkg_a/m.py", "DL002"),  # pkg_a selects DL002 only
    ("pkg_a/scripts/s.py", "DL002"),
    # tests/* ignores DL002 in pkg_a; gen/ is excluded there
]
PKG_B = [
    ("pkg_b/gen/g.py", "DL000"),  # pkg_a's exclude does not reach pkg_b
    ("pkg_b/m.py", "DL007"),  # pkg_b ignores DL002
    ("pkg_b/tests/t.py", "DL007"),
    # scripts/* ignores DL007 in pkg_b; legacy/ is excluded there
]


def test_each_argument_uses_its_own_configuration(two_packages: Path) -> None:
    result = run("--output-format", "concise", "--no-cache", "pkg_b", "pkg_a")
    assert result.exit_code == 1
    assert codes(result) == PKG_A + PKG_B


def test_a_walk_switches_configuration_below_a_nested_one(two_packages: Path) -> None:
    result = run("--output-format", "concise", "--no-cache", ".")
    assert codes(result) == PKG_A + PKG_B + [("top.py", "DL007")]
    shown = run("--show-files").stdout.splitlines()
    assert [p.replace("\\", "/") for p in shown] == [
        "pkg_a/legacy/l.py",
        "pkg_a/m.py",
        "pkg_a/scripts/s.py",
        "pkg_a/tests/t.py",
        "pkg_b/gen/g.py",
        "pkg_b/m.py",
        "pkg_b/scripts/s.py",
        "pkg_b/tests/t.py",
        "top.py",
    ]


def test_explicit_files_use_their_own_configuration(two_packages: Path) -> None:
    result = run("--output-format", "concise", "--no-cache", "pkg_b/m.py", "pkg_a/m.py", "top.py")
    assert codes(result) == [("pkg_a/m.py", "DL002"), ("pkg_b/m.py", "DL007"), ("top.py", "DL007")]
    # --force-exclude applies each file's own exclude
    result = run("--force-exclude", "--show-files", "pkg_a/gen/g.py", "pkg_b/gen/g.py")
    assert [p.replace("\\", "/") for p in result.stdout.splitlines()] == ["pkg_b/gen/g.py"]


def test_config_file_and_isolated_override_discovery(two_packages: Path) -> None:
    write(two_packages, "strict.toml", 'select = ["DL007"]\n')
    result = run(
        "--output-format", "concise", "--no-cache", "--config", "strict.toml", "pkg_b", "pkg_a"
    )
    found = codes(result)
    assert {code for _, code in found} == {"DL007", "DL000"}
    assert ("pkg_a/m.py", "DL007") in found and ("pkg_b/scripts/s.py", "DL007") in found
    result = run(
        "--output-format", "concise", "--no-cache", "--isolated", "pkg_a/m.py", "pkg_b/m.py"
    )
    assert codes(result) == [
        ("pkg_a/m.py", "DL007"),
        ("pkg_a/m.py", "DL002"),
        ("pkg_b/m.py", "DL007"),
        ("pkg_b/m.py", "DL002"),
    ]


def test_command_line_options_apply_on_top_of_every_file(two_packages: Path) -> None:
    result = run(
        "--output-format",
        "concise",
        "--no-cache",
        "--extend-select",
        "DL007",
        "pkg_a/m.py",
        "pkg_b/m.py",
    )
    assert codes(result) == [
        ("pkg_a/m.py", "DL007"),
        ("pkg_a/m.py", "DL002"),
        ("pkg_b/m.py", "DL007"),
    ]
    # inline overrides replace a key of each file
    result = run(
        "--output-format",
        "concise",
        "--no-cache",
        "--config",
        "ignore = []",
        "pkg_a/m.py",
        "pkg_b/m.py",
    )
    assert codes(result) == [
        ("pkg_a/m.py", "DL002"),
        ("pkg_b/m.py", "DL007"),
        ("pkg_b/m.py", "DL002"),
    ]


def test_stdin_uses_the_configuration_of_its_file_name(two_packages: Path) -> None:
    result = run("-", "--stdin-filename", "pkg_a/x.py", "--output-format", "concise", input=BOTH)
    assert codes(result) == [("pkg_a/x.py", "DL002")]
    result = run("-", "--stdin-filename", "pkg_b/x.py", "--output-format", "concise", input=BOTH)
    assert codes(result) == [("pkg_b/x.py", "DL007")]


def test_fix_uses_each_files_configuration(two_packages: Path) -> None:
    result = run("--fix", "--no-cache", "pkg_a/m.py", "pkg_b/m.py")
    assert result.exit_code == 1
    # DL007's fix applies where DL007 is enabled (pkg_b), not in pkg_a which selects DL002
    assert "detach().cpu()" in (two_packages / "pkg_b/m.py").read_text()
    assert (two_packages / "pkg_a/m.py").read_text() == BOTH


def test_a_nested_configuration_cannot_undo_the_exclude_above_it(project: Path) -> None:
    """Whether to enter a directory is decided by its parent's settings, as in ruff."""
    write(project, "devlint.toml", 'extend-exclude = ["vendored"]\n')
    write(project, "vendored/lib/devlint.toml", 'select = ["DL002"]\n')
    write(project, "vendored/lib/x.py", BROKEN)
    write(project, "ok.py", "x = 1\n")
    assert run("--show-files").stdout.splitlines() == ["ok.py"]
    # named explicitly, it is checked with its own configuration
    result = run("--output-format", "concise", "--no-cache", "vendored/lib")
    assert codes(result) == [("vendored/lib/x.py", "DL000")]
    result = run("--force-exclude", "--show-files", "vendored/lib/x.py")
    assert result.stdout == ""


def test_a_broken_nested_configuration_stops_the_walk(two_packages: Path) -> None:
    write(two_packages, "pkg_c/pyproject.toml", "[project\n")
    write(two_packages, "pkg_c/m.py", BOTH)
    result = run("--no-cache", ".")
    assert result.exit_code == 2
    assert "pyproject.toml" in result.stderr and "invalid TOML" in result.stderr


def test_cache_follows_each_files_configuration(two_packages: Path) -> None:
    write(two_packages, "pkg_a/g.py", GPU)
    first = run("--output-format", "concise", "pkg_a/g.py", "pkg_b/m.py")
    assert codes(first) == [("pkg_b/m.py", "DL007")]
    write(
        two_packages,
        "pkg_a/pyproject.toml",
        '[tool.devlint]\nselect = ["DL005"]\ndevice-names = ["gpu"]\n',
    )
    second = run("--output-format", "concise", "pkg_a/g.py", "pkg_b/m.py")
    assert codes(second) == [("pkg_a/g.py", "DL005"), ("pkg_b/m.py", "DL007")]
    write(two_packages, "pkg_b/devlint.toml", 'select = ["DL002"]\n')
    third = run("--output-format", "concise", "pkg_a/g.py", "pkg_b/m.py")
    assert codes(third) == [("pkg_a/g.py", "DL005"), ("pkg_b/m.py", "DL002")]
    # each configuration's directory holds the cache of its files, as ruff's packages do
    assert list((two_packages / "pkg_a" / ".devlint_cache").rglob("*.json"))
    assert list((two_packages / "pkg_b" / ".devlint_cache").rglob("*.json"))


# --- extend -------------------------------------------------------------------------------


def test_extend_inherits_from_another_file(project: Path) -> None:
    write(
        project,
        "pyproject.toml",
        '[tool.devlint]\nselect = ["DL007", "DL002"]\nextend-exclude = ["pkg/gen"]\n'
        '[tool.devlint.per-file-ignores]\n"pkg/scripts/*" = ["DL002"]\n',
    )
    write(
        project,
        "pkg/pyproject.toml",
        '[tool.devlint]\nextend = "../pyproject.toml"\nignore = ["DL007"]\n',
    )
    write(project, "pkg/m.py", BOTH)
    write(project, "pkg/scripts/s.py", BOTH)
    write(project, "pkg/gen/g.py", BROKEN)
    result = run("--output-format", "concise", "--no-cache", "pkg")
    # the base's selection, then the file's ignore; the base's patterns stay relative to
    # the base's directory
    assert codes(result) == [("pkg/m.py", "DL002")]
    # the extending file's keys replace the base's
    write(
        project,
        "pkg/pyproject.toml",
        '[tool.devlint]\nextend = "../pyproject.toml"\n[tool.devlint.per-file-ignores]\n',
    )
    result = run("--output-format", "concise", "--no-cache", "pkg")
    assert codes(result) == [
        ("pkg/m.py", "DL007"),
        ("pkg/m.py", "DL002"),
        ("pkg/scripts/s.py", "DL007"),
        ("pkg/scripts/s.py", "DL002"),
    ]


def test_extend_chains_and_cycles(project: Path) -> None:
    write(project, "base/devlint.toml", 'select = ["DL002"]\n')
    write(project, "mid/devlint.toml", 'extend = "../base/devlint.toml"\n')
    write(project, "pkg/devlint.toml", 'extend = "../mid/devlint.toml"\n')
    write(project, "pkg/m.py", BOTH)
    result = run("--output-format", "concise", "--no-cache", "pkg")
    assert codes(result) == [("pkg/m.py", "DL002")]
    write(project, "base/devlint.toml", 'extend = "../pkg/devlint.toml"\n')
    result = run("--no-cache", "pkg")
    assert result.exit_code == 2
    assert "cycle" in result.stderr and "Traceback" not in result.stderr
    write(project, "pkg/devlint.toml", 'extend = "missing.toml"\n')
    result = run("--no-cache", "pkg")
    assert result.exit_code == 2 and "missing.toml" in result.stderr
    write(project, "pkg/devlint.toml", "extend = 3\n")
    result = run("--no-cache", "pkg")
    assert result.exit_code == 2 and "'extend'" in result.stderr


# --- --show-settings ----------------------------------------------------------------------


def test_show_settings_names_the_file_that_applied(two_packages: Path) -> None:
    for target, config in (
        ("pkg_a/m.py", "pkg_a/pyproject.toml"),
        ("pkg_b/tests/t.py", "pkg_b/devlint.toml"),
        ("top.py", "pyproject.toml"),
    ):
        result = run("--show-settings", target)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == f"Resolved settings for: {json.dumps(str(two_packages / target))}"
        assert lines[1] == f"Settings path: {json.dumps(str(two_packages / config))}"
    lines = run("--show-settings", "pkg_a/m.py").stdout.splitlines()
    assert 'enabled = ["DL000", "DL002"]' in lines
    assert any(line.startswith('"tests/*" = ["DL002"]') for line in lines)
    lines = run("--show-settings", "pkg_a/tests/t.py").stdout.splitlines()
    assert 'enabled-here = ["DL000"]' in lines


def test_show_settings_lists_what_a_file_extends(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.devlint]\nselect = ["DL002"]\n')
    write(project, "pkg/devlint.toml", 'extend = "../pyproject.toml"\n')
    write(project, "pkg/m.py", BOTH)
    lines = run("--show-settings", "pkg/m.py").stdout.splitlines()
    assert lines[1] == f"Settings path: {json.dumps(str(project / 'pkg' / 'devlint.toml'))}"
    assert f"extends = {json.dumps([str(project / 'pyproject.toml')])}" in lines
    assert 'enabled = ["DL000", "DL002"]' in lines
