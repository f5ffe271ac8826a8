"""The command line a ruff user reaches for (issue 16, items 4, 6, 7 and 8).

Fix counts and `[*]` markers as ruff 0.17 prints them, a broken `pyproject.toml`,
`--fix` on stdin, and the flags and output formats ruff and flake8 users expect.  The
expected texts were taken from `ruff check` 0.17.6 on files with safe (F401) and unsafe
(RUF005) fixes; devlint's DL007 fix is safe and DL002's is unsafe.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from devlint.cli import cli
from devlint.findings import Finding
from devlint.report import render, render_statistics
from tests.helpers import BUGGY, CLEAN, run, runner, write

# DL007 (a safe fix) on line 5 and DL002 (an unsafe fix) on line 6, column 27.
BOTH = (
    "import torch\n"
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
    "model = torch.nn.Linear(4, 2).to(device)\n"
    "x = torch.randn(3, 4, device=device)\n"
    "y = model(x).numpy()\n"
    "z = torch.zeros(3, device='cuda')\n"
)
FIXED_DL007 = BOTH.replace("model(x).numpy()", "model(x).detach().cpu().numpy()")
SAFE_ONLY = BOTH.replace("z = torch.zeros(3, device='cuda')\n", "")
# what DL002's unsafe fix writes for the hard-coded device on line 6
FALLBACK = 'device=("cuda" if torch.cuda.is_available() else "cpu")'
HINT_BOTH = "[*] 1 fixable with `--fix` (1 unsafe fix available with `--fix --unsafe-fixes`)."


def _finding(line: int, applicability: str | None) -> Finding:
    fix = None if applicability is None else {"applicability": applicability, "edits": []}
    return Finding(
        code="DL009", name="mixed-device-operation", message="m", path="t.py",
        line=line, col=1, end_line=line, end_col=2, fix=fix,
    )  # fmt: skip


# --- item 4: fix counts and markers ----------------------------------------------------


@pytest.mark.parametrize(
    ("fixes", "unsafe_fixes", "hint"),
    [
        (["safe", "safe", "unsafe", "unsafe"], False,
         "[*] 2 fixable with `--fix` (2 unsafe fixes available with `--fix --unsafe-fixes`)."),
        (["safe", "unsafe"], False, HINT_BOTH),
        (["safe", "unsafe", "unsafe"], True, "[*] 3 fixable with `--fix`."),
        (["unsafe", "unsafe"], False, "2 unsafe fixes available with `--fix --unsafe-fixes`."),
        (["unsafe"], False, "1 unsafe fix available with `--fix --unsafe-fixes`."),
        (["safe", "safe"], False, "[*] 2 fixable with `--fix`."),
    ],
)  # fmt: skip
def test_summary_is_ruffs(fixes: list[str], unsafe_fixes: bool, hint: str) -> None:
    findings = [_finding(i + 1, a) for i, a in enumerate(fixes)] + [_finding(99, None)]
    for fmt in ("concise", "full", "grouped"):
        text = render(fmt, findings, unsafe_fixes=unsafe_fixes)
        assert text.splitlines()[-2:] == [f"Found {len(findings)} problems.", hint], fmt


def test_summary_without_fixes_is_one_line() -> None:
    assert render("concise", [_finding(1, None)]).splitlines()[-1] == "Found 1 problem."
    assert render("concise", []) == "All checks passed!\n"


def test_markers_and_summary_follow_the_flags(project: Path) -> None:
    write(project, "both.py", BOTH)
    lines = run("--output-format", "concise", "both.py").stdout.splitlines()
    assert lines[0].startswith("both.py:5:5: DL007 [*] `model(x)`")
    assert lines[1].startswith("both.py:6:27: DL002 device `'cuda'`")
    assert lines[2:] == ["Found 2 problems.", HINT_BOTH]
    lines = run("--output-format", "concise", "--unsafe-fixes", "both.py").stdout.splitlines()
    assert lines[1].startswith("both.py:6:27: DL002 [*] device `'cuda'`")
    assert lines[2:] == ["Found 2 problems.", "[*] 2 fixable with `--fix`."]
    full = run("both.py").stdout
    assert "both.py:5:5: DL007 [*] " in full and "both.py:6:27: DL002 device `'cuda'`" in full
    assert full.endswith(f"Found 2 problems.\n{HINT_BOTH}\n")


def test_statistics_honour_unsafe_fixes(project: Path) -> None:
    write(project, "both.py", BOTH)
    rows = json.loads(run("--statistics", "--output-format", "json", "both.py").stdout)
    assert {r["code"]: r["fixable"] for r in rows} == {"DL007": 1, "DL002": 0}
    rows = json.loads(
        run("--statistics", "--output-format", "json", "--unsafe-fixes", "both.py").stdout
    )
    assert {r["code"]: (r["fixable"], r["fixable_count"]) for r in rows} == {
        "DL007": (1, 1),
        "DL002": (1, 1),
    }
    text = run("--statistics", "both.py").stdout.splitlines()
    assert text == [
        "1  DL002  [ ] hardcoded-accelerator",
        "1  DL007  [*] numpy-on-accelerator",
        "Found 2 problems.",
        HINT_BOTH,
    ]
    text = run("--statistics", "--unsafe-fixes", "both.py").stdout.splitlines()
    assert text[0] == "1  DL002  [*] hardcoded-accelerator"
    assert text[-1] == "[*] 2 fixable with `--fix`."


def test_statistics_without_safe_fixes_have_no_marker_column() -> None:
    text = render_statistics("full", [_finding(1, "unsafe")])
    assert text.splitlines() == [
        "1  DL009  mixed-device-operation",
        "Found 1 problem.",
        "1 unsafe fix available with `--fix --unsafe-fixes`.",
    ]


# --- item 6: a broken pyproject.toml ---------------------------------------------------


def test_broken_pyproject_without_a_devlint_table_is_an_error(project: Path) -> None:
    write(project, "pyproject.toml", '[project\nname = "x"\n')
    write(project, "src/a.py", CLEAN)
    result = run("src/a.py")
    assert result.exit_code == 2
    assert "pyproject.toml" in result.stderr and "invalid TOML" in result.stderr
    assert "line 1" in result.stderr  # the parser's own words: where it failed
    assert run("--isolated", "src/a.py").exit_code == 0


def test_a_valid_pyproject_without_a_table_is_still_skipped(project: Path) -> None:
    write(project, "pyproject.toml", '[project]\nname = "x"\n')
    write(project, "a.py", BUGGY)
    assert run("a.py").exit_code == 1


# --- item 7: --fix on stdin -------------------------------------------------------------


def test_fix_on_stdin_prints_the_fixed_source(project: Path) -> None:
    result = run("--fix", "-", input=BOTH)
    assert result.stdout == FIXED_DL007
    assert result.exit_code == 1  # DL002 remains: reported on stderr, as ruff does
    assert "-:6:27: DL002 " in result.stderr and "Fixed 1 problem" in result.stderr
    result = run("--fix", "--stdin-filename", "src/t.py", "--output-format", "concise", input=BOTH)
    assert result.stdout == FIXED_DL007
    assert "src/t.py:6:27: DL002 " in result.stderr
    result = run("--fix", "--unsafe-fixes", "-", input=BOTH)
    assert FALLBACK in result.stdout and result.exit_code == 0


def test_fix_on_stdin_with_nothing_to_fix_echoes_the_input(project: Path) -> None:
    for text in (CLEAN, BUGGY, "import torch\nx = )\n"):
        assert run("--fix", "-", input=text).stdout == text
    result = run("--fix", "-s", "-", input=BOTH)
    assert result.stdout == FIXED_DL007 and result.stderr == "" and result.exit_code == 1


def test_fix_only_and_diff_on_stdin(project: Path) -> None:
    result = run("--fix-only", "-", input=BOTH)
    assert result.stdout == FIXED_DL007 and result.exit_code == 0
    assert "DL002" not in result.stderr
    result = run("--diff", "-", input=BOTH)
    assert "+y = model(x).detach().cpu().numpy()" in result.stdout and result.exit_code == 1


def test_fix_on_stdin_of_an_excluded_file_gives_it_back(project: Path) -> None:
    result = run(
        "--fix", "--force-exclude", "--extend-exclude", "gen", "--stdin-filename", "gen/a.py",
        input=BOTH,
    )  # fmt: skip
    assert result.stdout == BOTH and result.exit_code == 0


# --- item 8: flags ----------------------------------------------------------------------


def test_usage_errors_name_the_command_typed(project: Path) -> None:
    result = runner().invoke(cli, ["--bogus"], prog_name="devlint")
    assert result.exit_code == 2
    assert "Usage: devlint [OPTIONS] [PATHS]..." in result.stderr
    assert "Try 'devlint --help' for help." in result.stderr
    assert "devlint check" not in result.stderr
    result = runner().invoke(cli, ["--select", "XX", "."], prog_name="devlint")
    assert result.exit_code == 2 and "devlint check" not in result.stderr
    explicit = runner().invoke(cli, ["check", "--bogus"], prog_name="devlint")
    assert "Usage: devlint check [OPTIONS]" in explicit.stderr


def test_quiet_and_silent(project: Path) -> None:
    write(project, "both.py", BOTH)
    quiet = run("-q", "--output-format", "concise", "both.py")
    assert quiet.exit_code == 1
    assert [line.split(" ")[1] for line in quiet.stdout.splitlines()] == ["DL007", "DL002"]
    silent = run("--silent", "both.py")
    assert silent.exit_code == 1 and silent.stdout == "" and silent.stderr == ""
    write(project, "both.py", CLEAN)
    assert run("--quiet", "both.py").stdout == ""
    write(project, "both.py", SAFE_ONLY)
    fixed = run("-q", "--fix", "both.py")
    assert fixed.exit_code == 0 and fixed.stdout == "" and fixed.stderr == ""


def test_exit_non_zero_on_fix(project: Path) -> None:
    write(project, "a.py", SAFE_ONLY)
    assert run("--fix", "--no-cache", "a.py").exit_code == 0
    write(project, "a.py", SAFE_ONLY)
    result = run("--fix", "--exit-non-zero-on-fix", "--no-cache", "a.py")
    assert result.exit_code == 1 and "All checks passed!" in result.stdout
    write(project, "a.py", SAFE_ONLY)
    assert run("--fix-only", "--exit-non-zero-on-fix", "a.py").exit_code == 1
    assert run("--fix-only", "--exit-non-zero-on-fix", "a.py").exit_code == 0  # nothing left
    result = run("--fix", "--exit-zero", "--exit-non-zero-on-fix", "a.py")
    assert result.exit_code == 2 and "--exit-non-zero-on-fix" in result.stderr


def test_extend_ignore(project: Path) -> None:
    write(project, "both.py", BOTH)
    result = run("--extend-ignore", "DL007", "--output-format", "concise", "both.py")
    assert [line.split(" ")[1] for line in result.stdout.splitlines()[:-2]] == ["DL002"]
    assert run("--extend-ignore", "DL9", "both.py").exit_code == 2


def test_fixable_and_unfixable(project: Path) -> None:
    write(project, "both.py", BOTH)
    result = run("--unfixable", "DL007", "--output-format", "concise", "both.py")
    assert "[*]" not in result.stdout
    assert result.stdout.splitlines()[-1] == "1 unsafe fix available with `--fix --unsafe-fixes`."
    record = json.loads(run("--unfixable", "DL007", "--output-format", "json", "both.py").stdout)
    assert record[0]["code"] == "DL007" and record[0]["fix"] is None
    run("--fix", "--unfixable", "DL007", "--no-cache", "both.py")
    assert (project / "both.py").read_text() == BOTH
    run("--fix", "--unsafe-fixes", "--fixable", "DL002", "--no-cache", "both.py")
    text = (project / "both.py").read_text()
    assert FALLBACK in text and "model(x).numpy()" in text
    write(project, "both.py", BOTH)
    write(project, "pyproject.toml", '[tool.devlint]\nunfixable = ["DL007"]\n')
    run("--fix", "--no-cache", "both.py")
    assert (project / "both.py").read_text() == BOTH


def test_per_file_ignores_on_the_command_line(project: Path) -> None:
    write(project, "tests/t.py", BOTH)
    write(project, "src/s.py", BOTH)
    result = run("--per-file-ignores", "tests/*:DL007,DL002", "--output-format", "concise", ".")
    assert {line.split(":")[0] for line in result.stdout.splitlines()[:-2]} == {"src/s.py"}
    result = run("--per-file-ignores", "tests/*", ".")
    assert result.exit_code == 2 and "PATTERN:CODES" in result.stderr


def test_fix_leaves_what_per_file_ignores_switch_off(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.devlint.per-file-ignores]\n"tests/*" = ["DL007"]\n')
    write(project, "tests/t.py", BOTH)
    run("--fix", "--no-cache", ".")
    assert (project / "tests" / "t.py").read_text() == BOTH


def test_config_key_value_overrides(project: Path) -> None:
    write(project, "both.py", BOTH)
    write(project, "pyproject.toml", '[tool.devlint]\nignore = ["DL007"]\n')
    result = run("--config", 'select = ["DL002"]', "--output-format", "concise", "both.py")
    assert [line.split(" ")[1] for line in result.stdout.splitlines()[:-2]] == ["DL002"]
    result = run("--config", "ignore = []", "--output-format", "concise", "both.py")
    assert [line.split(" ")[1] for line in result.stdout.splitlines()[:-2]] == ["DL007", "DL002"]
    result = run("--isolated", "--config", "ignore = ['DL002']", "both.py")
    assert "DL002" not in result.stdout and "DL007" in result.stdout
    bad = run("--config", "select = ", "both.py")
    assert bad.exit_code == 2 and "not valid TOML" in bad.stderr and "--config" in bad.stderr
    bad = run("--config", "selct = ['DL001']", "both.py")
    assert bad.exit_code == 2 and "'selct'" in bad.stderr
    write(project, "strict.toml", "select = ['DL007']\n")
    result = run("--config", "strict.toml", "--config", "extend-select = ['DL002']", "both.py")
    assert "DL007" in result.stdout and "DL002" in result.stdout


def test_show_settings(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.devlint]\nignore = ["DL002"]\ndevice-names = ["dev"]\n')
    write(project, "tests/t.py", BOTH)
    result = run("--show-settings", "--per-file-ignores", "tests/*:DL007", "tests/t.py")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"Resolved settings for: {json.dumps(str(project / 'tests' / 't.py'))}"
    assert lines[1] == f"Settings path: {json.dumps(str(project / 'pyproject.toml'))}"
    enabled = next(line for line in lines if line.startswith("enabled = "))
    assert '"DL007"' in enabled and '"DL002"' not in enabled
    here = next(line for line in lines if line.startswith("enabled-here = "))
    assert '"DL007"' not in here and '"DL001"' in here
    assert 'device-names = ["dev"]' in lines
    assert any(line.startswith('"tests/*" = ["DL007"]') for line in lines)


# --- item 8: output formats -------------------------------------------------------------


def test_pylint_format(project: Path) -> None:
    write(project, "both.py", BOTH)
    result = run("--output-format", "pylint", "both.py")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [
        ["both.py:5:", "[DL007]"],
        ["both.py:6:", "[DL002]"],
    ]
    assert lines[1].startswith("both.py:6: [DL002] device `'cuda'` is hard-coded")


def test_grouped_format(project: Path) -> None:
    write(project, "b.py", "\n" * 9 + BOTH)
    write(project, "a.py", BUGGY)
    lines = run("--output-format", "grouped", ".").stdout.splitlines()
    assert [line.split(" `")[0] for line in lines] == [
        "a.py:",
        "  2:27 DL002 device",
        "",
        "b.py:",
        "  14:5  DL007 [*]",
        "  15:27 DL002 device",
        "",
        "Found 3 problems.",
        "[*] 1 fixable with",
    ]
    hint = "[*] 1 fixable with `--fix` (2 unsafe fixes available with `--fix --unsafe-fixes`)."
    assert lines[-1] == hint


def test_gitlab_format(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "src/both.py", BOTH)
    monkeypatch.setenv("CI_PROJECT_DIR", str(project))
    result = run("--output-format", "gitlab", "src")
    assert result.exit_code == 1
    issues = json.loads(result.stdout)
    assert [i["check_name"] for i in issues] == ["DL007", "DL002"]
    first = issues[0]
    assert first["description"].startswith("DL007: `model(x)` may be on `device`")
    assert first["severity"] == "major"
    assert first["location"] == {"path": "src/both.py", "lines": {"begin": 5, "end": 5}}
    assert len({i["fingerprint"] for i in issues}) == 2
    # code added above a finding does not change its fingerprint
    write(project, "src/both.py", "\n\n" + BOTH)
    moved = json.loads(run("--output-format", "gitlab", "src").stdout)
    assert [i["fingerprint"] for i in moved] == [i["fingerprint"] for i in issues]
    write(project, "src/both.py", CLEAN)
    assert json.loads(run("--output-format", "gitlab", "src").stdout) == []


def test_junit_format(project: Path) -> None:
    write(project, "both.py", BOTH)
    write(project, "cuda.py", BUGGY)
    result = run("--output-format", "junit", ".")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites" and root.get("failures") == "3"
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests")) for s in suites] == [("both.py", "2"), ("cuda.py", "1")]
    case = suites[0].find("testcase")
    assert case is not None
    assert (case.get("name"), case.get("classname"), case.get("line")) == (
        "org.devlint.DL007",
        "both",
        "5",
    )
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("line 5, col 5, `model(x)`")
    write(project, "both.py", CLEAN)
    write(project, "cuda.py", CLEAN)
    clean = ET.fromstring(run("--output-format", "junit", ".").stdout)
    assert clean.get("failures") == "0"
    [case] = clean.iter("testcase")
    assert case.get("name") == "No errors found"


@pytest.mark.parametrize("fmt", ["gitlab", "junit", "pylint", "grouped"])
def test_new_formats_write_output_files(project: Path, fmt: str) -> None:
    write(project, "both.py", BOTH)
    result = run("--output-format", "concise", "--output-file", f"{fmt}:report.out", "both.py")
    assert result.exit_code == 1
    assert "DL002" in (project / "report.out").read_text()
