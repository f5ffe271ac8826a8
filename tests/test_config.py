"""Configuration: where it is found, what each key does, and how mistakes are reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devlint import checker, config
from devlint.config import Selection, enabled_codes
from tests.helpers import BROKEN, BUGGY, CLEAN, concise, run, write

PYPROJECT = "[project]\nname = 'x'\n\n[tool.devlint]\n"


def test_pyproject_tool_devlint_is_found_from_a_subdirectory(project: Path) -> None:
    write(project, "pyproject.toml", PYPROJECT + 'ignore = ["DL002"]\n')
    write(project, "src/pkg/train.py", BUGGY)
    assert run("src/pkg/train.py").exit_code == 0
    # from inside the subdirectory too
    result = run("--output-format", "concise", str(project / "src"))
    assert result.exit_code == 0, result.stdout


def test_pyproject_without_a_devlint_table_is_skipped(project: Path) -> None:
    write(project, "devlint.toml", 'ignore = ["DL002"]\n')
    write(project, "pkg/pyproject.toml", "[project]\nname = 'x'\n")
    write(project, "pkg/train.py", BUGGY)
    assert run("pkg/train.py").exit_code == 0  # devlint.toml above still applies


def test_dot_devlint_toml_wins_over_devlint_toml_and_pyproject(project: Path) -> None:
    write(project, "pyproject.toml", PYPROJECT + 'select = ["DL001"]\n')
    write(project, "devlint.toml", 'select = ["DL008"]\n')
    write(project, ".devlint.toml", 'select = ["DL002"]\n')
    write(project, "train.py", BUGGY)
    assert run("train.py").exit_code == 1
    assert config.find(str(project / "train.py")) == str(project / ".devlint.toml")


def test_nearest_configuration_wins(project: Path) -> None:
    write(project, "devlint.toml", 'ignore = ["DL002"]\n')
    write(project, "sub/devlint.toml", "ignore = []\n")
    write(project, "sub/train.py", BUGGY)
    assert run("sub/train.py").exit_code == 1
    assert run("--isolated", "sub/train.py").exit_code == 1
    write(project, "other/train.py", BUGGY)
    assert run("other/train.py").exit_code == 0


def test_config_option_and_isolated(project: Path) -> None:
    write(project, "pyproject.toml", PYPROJECT + 'ignore = ["DL002"]\n')
    write(project, "strict.toml", "select = ['ALL']\n")
    write(project, "train.py", BUGGY)
    assert run("train.py").exit_code == 0
    assert run("--isolated", "train.py").exit_code == 1
    assert run("--config", "strict.toml", "train.py").exit_code == 1
    result = run("--config", "strict.toml", "--isolated", "train.py")
    assert result.exit_code == 2
    assert "--isolated" in result.stderr
    result = run("--config", "missing.toml", "train.py")
    assert result.exit_code == 2


def test_config_option_reads_a_pyproject_table(project: Path) -> None:
    write(project, "conf/pyproject.toml", PYPROJECT + 'ignore = ["DL002"]\n')
    write(project, "train.py", BUGGY)
    assert run("--config", "conf/pyproject.toml", "train.py").exit_code == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('selct = ["DL001"]\n', ["'selct'", "allowed:", "select", "device-names"]),
        ("extend_select = []\n", ["'extend_select'", "did you mean 'extend-select'"]),
        ('select = ["DL999"]\n', ["'select'", "'DL999'", "allowed:", "DL001", "ALL"]),
        ('select = "DL001"\n', ["'select'", "must be a list of rule codes", "not a string"]),
        ('respect-gitignore = "yes"\n', ["'respect-gitignore'", "true or false"]),
        ("exclude = [1]\n", ["'exclude'", "list of glob patterns"]),
        ('device-names = ["my device"]\n', ["'device-names'", "'my device'", "identifiers"]),
        ('per-file-ignores = ["x"]\n', ["'per-file-ignores'", "table of glob"]),
        ('[tool.devlint.per-file-ignores]\n"t/*" = ["DL99X"]\n', ["per-file-ignores", "'DL99X'"]),
    ],
)
def test_mistakes_exit_2_naming_file_key_and_what_is_allowed(
    project: Path, text: str, expected: list[str]
) -> None:
    write(project, "pyproject.toml", PYPROJECT + text)
    write(project, "ok.py", CLEAN)
    result = run("ok.py")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "pyproject.toml" in result.stderr
    assert "[tool.devlint]" in result.stderr
    for word in expected:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_toml_exits_2(project: Path) -> None:
    write(project, "devlint.toml", "select = [\n")
    write(project, "ok.py", CLEAN)
    result = run("ok.py")
    assert result.exit_code == 2
    assert "devlint.toml" in result.stderr and "invalid TOML" in result.stderr


def test_devlint_toml_unknown_key_names_the_file(project: Path) -> None:
    write(project, "devlint.toml", "colour = true\n")
    write(project, "ok.py", CLEAN)
    result = run("ok.py")
    assert result.exit_code == 2
    assert "devlint.toml: unknown key 'colour'" in result.stderr


def test_command_line_select_overrides_configuration(project: Path) -> None:
    write(project, "devlint.toml", 'select = ["DL001"]\n')
    write(project, "train.py", BUGGY)
    assert run("train.py").exit_code == 0
    assert run("--select", "DL002", "train.py").exit_code == 1
    assert run("--extend-select", "DL002", "train.py").exit_code == 1
    write(project, "devlint.toml", 'extend-select = ["DL100"]\nignore = ["DL00"]\n')
    assert run("train.py").exit_code == 0
    assert run("--select", "DL002", "train.py").exit_code == 1


def test_selection_layers() -> None:
    defaults = enabled_codes([])
    assert "DL002" in defaults and "DL000" in defaults and "DL100" not in defaults
    assert "DL100" in enabled_codes([Selection(extend_select=("DL100",))])
    # DL008 is off by default too (issue 13); selecting it, or ALL, turns it on
    assert "DL008" not in defaults
    assert "DL008" in enabled_codes([Selection(extend_select=("DL008",))])
    assert enabled_codes([Selection(select=("ALL",))]) >= {"DL001", "DL008", "DL009", "DL100"}
    assert "DL008" in enabled_codes([Selection(select=("DL00",))])
    # a more specific selector wins within a layer; on a tie `ignore` does
    assert enabled_codes([Selection(select=("DL003",), ignore=("DL00",))]) == {"DL003"}
    assert enabled_codes([Selection(select=("DL003",), ignore=("DL001",))]) == {"DL000", "DL003"}
    assert "DL003" not in enabled_codes([Selection(select=("DL003",), ignore=("DL003",))])
    # `select` resets what earlier layers chose; `ignore` of an earlier layer stays
    layers = [Selection(ignore=("DL002",)), Selection(extend_select=("DL100",))]
    assert "DL002" not in enabled_codes(layers) and "DL100" in enabled_codes(layers)
    layers = [Selection(ignore=("DL002",)), Selection(select=("DL002",))]
    assert enabled_codes(layers) == {"DL000", "DL002"}
    # selecting never hides syntax errors; ignoring DL000 does
    assert "DL000" in enabled_codes([Selection(select=("DL001",))])
    assert "DL000" not in enabled_codes([Selection(ignore=("DL000",))])


def test_per_file_ignores(project: Path) -> None:
    write(
        project,
        "pyproject.toml",
        PYPROJECT
        + '[tool.devlint.per-file-ignores]\n"tests/*" = ["DL002"]\n"gen_*.py" = ["DL0"]\n',
    )
    write(project, "tests/test_a.py", BUGGY)
    write(project, "src/gen_b.py", BROKEN)
    write(project, "src/train.py", BUGGY)
    result = run("--output-format", "concise", ".")
    assert concise(result) == [
        "src/train.py:2:27: DL002 device `'cuda'` is hard-coded with no availability check: "
        "it fails on machines without that accelerator"
    ]


def test_exclude_and_extend_exclude(project: Path) -> None:
    write(project, "generated/a.py", BROKEN)
    write(project, "src/legacy.py", BROKEN)
    write(project, "src/keep.py", BUGGY)
    write(project, "build/b.py", BROKEN)
    write(project, "devlint.toml", 'extend-exclude = ["generated", "src/legacy.py"]\n')
    result = run("--output-format", "concise")
    assert [line.split(":")[0] for line in concise(result)] == ["src/keep.py"]
    # `exclude` replaces the defaults: build/ is checked again
    write(project, "devlint.toml", 'exclude = ["generated", "src/legacy.py"]\n')
    result = run("--output-format", "concise")
    assert [line.split(":")[0] for line in concise(result)] == ["build/b.py", "src/keep.py"]
    # and on the command line
    result = run("--output-format", "concise", "--extend-exclude", "src")
    assert [line.split(":")[0] for line in concise(result)] == ["build/b.py"]


def test_include_patterns(project: Path) -> None:
    write(project, "scripts/train.pyw", BUGGY)
    write(project, "src/train.py", BUGGY)
    assert run("--show-files").stdout.splitlines() == ["src/train.py"]
    write(project, "devlint.toml", 'include = ["*.py", "*.pyw"]\n')
    assert run("--show-files").stdout.splitlines() == ["scripts/train.pyw", "src/train.py"]
    write(project, "devlint.toml", 'include = ["scripts/*.pyw"]\n')
    assert run("--show-files").stdout.splitlines() == ["scripts/train.pyw"]


def test_respect_gitignore_setting(project: Path) -> None:
    write(project, ".gitignore", "out/\n")
    write(project, "out/gen.py", BROKEN)
    write(project, "ok.py", CLEAN)
    assert run().exit_code == 0
    assert run("--no-respect-gitignore").exit_code == 1
    write(project, "devlint.toml", "respect-gitignore = false\n")
    assert run().exit_code == 1
    assert run("--respect-gitignore").exit_code == 0


def test_device_names_reach_the_engine(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = checker.analyze

    def spy(module: Any, source: Any = None, device_names: Any = (), options: Any = None) -> Any:
        seen.append(tuple(options.device_names))
        return real(module, source, options=options)

    monkeypatch.setattr(checker, "analyze", spy)
    write(project, "pyproject.toml", PYPROJECT + 'device-names = ["dev", "cfg.device"]\n')
    write(project, "train.py", BUGGY)
    run("train.py")
    assert seen == [("dev", "cfg.device")]


def test_device_names_change_the_analysis(project: Path) -> None:
    """`gpu` is not a name devlint knows holds the device until the setting says so."""
    program = (
        "import torch\n"
        "import torch.nn as nn\n"
        "gpu = get_target()\n"
        "model = nn.Linear(4, 2).to(gpu)\n"
        "x = torch.zeros(1, 4)\n"
        "y = model(x)\n"
    )
    write(project, "train.py", program)
    assert run("train.py").exit_code == 0
    write(project, "devlint.toml", 'device-names = ["gpu"]\n')
    result = run("--output-format", "concise", "train.py")
    assert result.exit_code == 1
    assert [line.split(": ")[1].split()[0] for line in concise(result)] == ["DL005"]
    assert "`model` on `gpu`" in result.stdout
