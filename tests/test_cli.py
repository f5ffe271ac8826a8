"""The command line: exit codes, output formats, subcommands and error handling.

Until the engine reports facts only DL000 (a file that cannot be parsed) fires for
real, so most tests use DL000 or the `fake_rule` fixture, which makes DL004 report
every bare `x.to(...)` statement through the real checker (positions, source lines).
The tests at the end run the bundled fixtures and need the engine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Sequence

import libcst as cst
import pytest

import devlint
from devlint import checker
from devlint.cli import cli, use_color
from devlint.engine.facts import FileFacts
from devlint.findings import Finding
from devlint.report import render
from devlint.report.full import caret_line
from devlint.rules import ALL_RULES, META_RULES, RULES_BY_CODE, Report
from tests.fixture_expectations import expectations, fixture_files
from tests.helpers import BROKEN, CLEAN, concise, run, runner, write

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"

# DL000 at 2:5 with the same message on Python 3.9 to 3.13 (tests.helpers.BROKEN).
MOVES = "import torch\n\ndef f(x, device):\n    x.to(device)\n    y = x * 2\n    y.cuda()\n"


class _BareMoves(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value in ("to", "cuda")
        ):
            self.calls.append(call)


@pytest.fixture
def fake_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make DL004 report each bare `x.to(...)`/`x.cuda()` statement, as the engine will."""

    def analyze(
        module: cst.Module, source: str, device_names: Sequence[str] = (), options: object = None
    ) -> FileFacts:
        return FileFacts(module=module, source=source)

    def check(facts: FileFacts) -> Iterator[Report]:
        assert facts.module is not None
        visitor = _BareMoves()
        facts.module.visit(visitor)
        for call in visitor.calls:
            text = facts.text(call)
            yield Report("DL004", call, f"`{text}` is discarded", f"assign it: `x = {text}`")

    monkeypatch.setattr(checker, "analyze", analyze)
    monkeypatch.setattr(RULES_BY_CODE["DL004"], "check", check)


# --- exit codes -------------------------------------------------------------------------


def test_clean_file_exits_0(project: Path) -> None:
    write(project, "ok.py", CLEAN)
    result = run("ok.py")
    assert result.exit_code == 0
    assert result.stdout == "All checks passed!\n"


def test_syntax_error_is_dl000_and_exits_1(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    result = run("bad.py", "--output-format", "concise")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "bad.py:2:5: DL000 syntax error: unmatched ')'",
        "Found 1 problem.",
    ]


def test_default_path_is_the_current_directory(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    write(project, "pkg/ok.py", CLEAN)
    result = run("--output-format", "concise")
    assert result.exit_code == 1
    assert result.stdout.startswith("bad.py:2:5: DL000 ")


def test_exit_zero_keeps_the_report(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    result = run("--exit-zero", "bad.py")
    assert result.exit_code == 0
    assert "bad.py:2:5: DL000" in result.stdout
    assert result.stdout.endswith("Found 1 problem.\n")


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
def test_unknown_selector_exits_2(project: Path, option: str) -> None:
    write(project, "ok.py", CLEAN)
    result = run(option, "DL001,DL999", "ok.py")
    assert result.exit_code == 2
    assert "DL999" in result.stderr
    assert option in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("selector", ["DL001", "dl001", "DL00", "DL", "ALL", "DL001,DL003"])
def test_valid_selectors_are_accepted(project: Path, selector: str) -> None:
    write(project, "ok.py", CLEAN)
    assert run("--select", selector, "ok.py").exit_code == 0


def test_nonexistent_path_exits_2_and_the_rest_is_checked(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    result = run("missing.py", "bad.py", "--output-format", "concise")
    assert result.exit_code == 2
    assert "devlint: error: path does not exist: missing.py" in result.stderr
    assert "bad.py:2:5: DL000" in result.stdout
    assert "All checks passed" not in result.stdout


def test_nonexistent_path_alone_does_not_claim_success(project: Path) -> None:
    result = run("missing.py")
    assert result.exit_code == 2
    assert "path does not exist: missing.py" in result.stderr
    assert "All checks passed" not in result.stdout


def test_no_python_files_warns_and_exits_0(project: Path) -> None:
    write(project, "notes.txt", "hello")
    result = run()
    assert result.exit_code == 0
    assert "no Python files" in result.stderr
    assert result.stdout == "All checks passed!\n"


def test_no_cache_is_accepted(project: Path) -> None:
    write(project, "ok.py", CLEAN)
    assert run("--no-cache", "ok.py").exit_code == 0


# --- rule selection ---------------------------------------------------------------------


def test_ignore_dl000_hides_unparsable_files(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    assert run("--ignore", "DL000", "bad.py").exit_code == 0


def test_syntax_errors_are_reported_whatever_is_selected(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    result = run("--select", "DL004", "bad.py")
    assert result.exit_code == 1
    assert "DL000" in result.stdout


def test_fake_rule_follows_select_and_ignore(project: Path, fake_rule: None) -> None:
    write(project, "moves.py", MOVES)
    assert run("moves.py").exit_code == 1
    assert run("--select", "DL004", "moves.py").exit_code == 1
    assert run("--select", "DL00", "--ignore", "DL004", "moves.py").exit_code == 0
    assert run("--select", "DL001", "moves.py").exit_code == 0
    assert run("--select", "DL001", "--extend-select", "DL004", "moves.py").exit_code == 1
    assert run("--ignore", "dl004", "moves.py").exit_code == 0


LOAD = 'import torch\nstate = torch.load("model.pt")\n'  # DL008 at 2:9


def test_dl008_is_off_by_default_and_each_way_of_selecting_it_turns_it_on(project: Path) -> None:
    write(project, "a.py", LOAD)
    result = run("a.py")
    assert result.exit_code == 0 and result.stdout == "All checks passed!\n"
    for args in (["--extend-select", "DL008"], ["--select", "DL008"], ["--select", "ALL"]):
        result = run(*args, "--output-format", "concise", "a.py")
        assert result.exit_code == 1, args
        assert concise(result) == [
            'a.py:2:9: DL008 `torch.load("model.pt")` has no `map_location`: a checkpoint saved '
            "on a GPU fails to load on a CPU-only machine and lands on GPU 0 on a multi-GPU one"
        ], args
    write(project, "pyproject.toml", '[tool.devlint]\nextend-select = ["DL008"]\n')
    assert run("a.py").exit_code == 1
    assert run("--ignore", "DL008", "a.py").exit_code == 0
    assert run("--isolated", "a.py").exit_code == 0


# --- output formats ---------------------------------------------------------------------


def test_full_format_shows_source_caret_help_and_summary(project: Path, fake_rule: None) -> None:
    write(project, "moves.py", MOVES)
    result = run("moves.py")
    assert result.exit_code == 1
    assert result.stdout == (
        "moves.py:4:5: DL004 `x.to(device)` is discarded\n"
        "    x.to(device)\n"
        "    ^^^^^^^^^^^^\n"
        "  help: assign it: `x = x.to(device)`\n"
        "\n"
        "moves.py:6:5: DL004 `y.cuda()` is discarded\n"
        "    y.cuda()\n"
        "    ^^^^^^^^\n"
        "  help: assign it: `x = y.cuda()`\n"
        "\n"
        "Found 2 problems.\n"
    )


def test_full_format_for_a_syntax_error(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    lines = run("bad.py").stdout.splitlines()
    assert lines[0] == "bad.py:2:5: DL000 syntax error: unmatched ')'"
    assert lines[1] == "x = )"
    assert lines[2] == "    ^"
    assert lines[3].startswith("  help: ")
    assert lines[-1] == "Found 1 problem."


def test_concise_format(project: Path, fake_rule: None) -> None:
    write(project, "moves.py", MOVES)
    write(project, "bad.py", BROKEN)
    result = run("--output-format", "concise", ".")
    assert result.stdout.splitlines() == [
        "bad.py:2:5: DL000 syntax error: unmatched ')'",
        "moves.py:4:5: DL004 `x.to(device)` is discarded",
        "moves.py:6:5: DL004 `y.cuda()` is discarded",
        "Found 3 problems.",
    ]


def test_json_format_is_ruff_records_with_1_based_positions(project: Path, fake_rule: None) -> None:
    path = write(project, "moves.py", MOVES)
    result = run("--output-format", "json", "moves.py")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert isinstance(records, list) and len(records) == 2
    first = records[0]
    assert set(first) == {
        "code", "message", "filename", "location", "end_location", "fix", "url",
        "noqa_row", "cell", "name", "severity", "help",
    }  # fmt: skip
    assert first["code"] == "DL004"
    assert first["name"] == "discarded-tensor-move"
    assert first["message"] == "`x.to(device)` is discarded"
    assert first["filename"] == str(path.resolve())
    assert os.path.isabs(first["filename"])
    assert first["location"] == {"row": 4, "column": 5}
    assert first["end_location"] == {"row": 4, "column": 17}  # exclusive, as in ruff
    assert first["noqa_row"] == 4
    assert first["fix"] is None and first["cell"] is None
    assert first["severity"] == "error"
    assert first["help"] == "assign it: `x = x.to(device)`"
    assert first["url"].endswith("#dl004")
    assert records[1]["location"] == {"row": 6, "column": 5}


def test_json_format_for_dl000_and_for_nothing(project: Path) -> None:
    write(project, "bad.py", BROKEN)
    write(project, "ok.py", CLEAN)
    [record] = json.loads(run("--output-format", "json", "bad.py").stdout)
    assert record["code"] == "DL000"
    assert record["name"] == "syntax-error"
    assert record["location"] == {"row": 2, "column": 5}
    result = run("--output-format", "json", "ok.py")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_output_order_is_by_file_then_position(project: Path, fake_rule: None) -> None:
    for name in ["z.py", "a/b.py", "a.py", "m.py"]:
        write(project, name, MOVES)
    once = run("--output-format", "concise", "z.py", ".").stdout
    again = run("--output-format", "concise", "m.py", "a", ".").stdout
    assert once == again
    files = [line.split(":")[0] for line in once.splitlines()[:-1]]
    assert files == ["a/b.py", "a/b.py", "a.py", "a.py", "m.py", "m.py", "z.py", "z.py"]
    assert once.splitlines()[-1] == "Found 8 problems."


def test_no_colour_when_not_a_terminal(project: Path, fake_rule: None) -> None:
    write(project, "moves.py", MOVES)
    assert "\x1b[" not in run("moves.py").stdout


def test_colour_decision() -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    assert use_color(Tty(), {}) is True  # type: ignore[arg-type]
    assert use_color(Tty(), {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert use_color(Pipe(), {}) is False  # type: ignore[arg-type]


def finding(**kw: object) -> Finding:
    base: dict = dict(
        code="DL009", name="mixed-device-operation", message="m", path="t.py",
        line=1, col=1, end_line=1, end_col=2, help="h", source_line="x",
    )  # fmt: skip
    base.update(kw)
    return Finding(**base)


def test_colour_output_styles_code_and_caret() -> None:
    text = render("full", [finding()], color=True)
    assert "\x1b[" in text
    assert click_unstyle(text) == render("full", [finding()], color=False)


def click_unstyle(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_caret_is_clipped_to_the_first_line() -> None:
    f = finding(source_line="    y = torch.cat([a,", col=9, end_line=3, end_col=6)
    assert caret_line(f) == "        " + "^" * 13


def test_caret_under_tabs_and_wide_characters() -> None:
    assert caret_line(finding(source_line="\tx = (1,", col=6, end_col=7)) == " " * 12 + "^"
    assert caret_line(finding(source_line="s = '日本' + y", col=12, end_col=13)) == " " * 13 + "^"


def test_caret_at_end_of_line_is_one_wide() -> None:
    assert caret_line(finding(source_line="x = 1 +", col=8, end_col=8)) == " " * 7 + "^"


def test_control_characters_never_reach_the_terminal(project: Path) -> None:
    write(project, "evil.py", 'x = "\x1b]0;pwned\x07" +\n')
    result = run("evil.py")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil.py:1:" in result.stdout


# --- files that are not clean Python ----------------------------------------------------


def test_non_utf8_file_is_dl000_not_a_traceback(project: Path) -> None:
    write(project, "latin.py", b"name = '\xe9t\xe9'\n")
    result = run("--output-format", "concise", "latin.py")
    assert result.exit_code == 1
    assert result.stdout.startswith("latin.py:1:1: DL000 cannot decode file")
    assert result.stderr == ""


def test_coding_cookie_is_honoured(project: Path) -> None:
    write(project, "latin.py", b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n")
    assert run("latin.py").exit_code == 0


def test_null_byte_file_is_dl000_not_a_traceback(project: Path) -> None:
    write(project, "blob.py", b"x = 1\x00\x01\x02\n")
    result = run("--output-format", "concise", "blob.py")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        "blob.py:1:1: DL000 file contains a null byte; is it a binary file?"
    )


def test_directories_skip_virtualenvs_git_and_caches(project: Path) -> None:
    for skipped in [".venv/lib/a.py", "venv/b.py", ".git/hooks/c.py", "__pycache__/d.py"]:
        write(project, skipped, BROKEN)
    write(project, "env/lib/e.py", BROKEN)
    write(project, "env/pyvenv.cfg", "home = /usr\n")
    write(project, "src/ok.py", CLEAN)
    result = run()
    assert result.exit_code == 0, result.stdout
    assert run(".venv/lib/a.py").exit_code == 1  # an explicit file is always checked


def test_a_path_named_rules_is_checkable(project: Path) -> None:
    write(project, "rules/bad.py", BROKEN)
    result = run("check", "rules", "--output-format", "concise")
    assert result.exit_code == 1
    assert result.stdout.startswith(os.path.join("rules", "bad.py") + ":2:5: DL000")
    assert run("check").exit_code == 1  # `check` alone checks `.`


# --- internal errors --------------------------------------------------------------------


def test_internal_error_is_reported_and_the_run_goes_on(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(
        module: cst.Module, source: str, device_names: Sequence[str] = (), options: object = None
    ) -> FileFacts:
        raise RuntimeError("boom")

    monkeypatch.setattr(checker, "analyze", explode)
    write(project, "a_crash.py", CLEAN)
    write(project, "b_bad.py", BROKEN)  # never reaches the engine: DL000
    write(project, "c_crash.py", CLEAN)
    result = runner().invoke(cli, ["--output-format", "concise", "."])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "devlint: internal error in a_crash.py: RuntimeError: boom (please report this bug)",
        "devlint: internal error in c_crash.py: RuntimeError: boom (please report this bug)",
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "b_bad.py:2:5: DL000 syntax error: unmatched ')'",
        "Found 1 problem; 2 paths could not be checked (see stderr).",
    ]
    # --exit-zero hides findings, never a failure to check.
    assert runner().invoke(cli, ["--exit-zero", "."]).exit_code == 2


# --- subcommands ------------------------------------------------------------------------


def test_rules_table_lists_every_rule() -> None:
    result = run("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "SUMMARY"]
    assert lines[1].split()[:2] == ["DL000", "syntax-error"]
    for rule, line in zip([*ALL_RULES, *META_RULES], lines[2:]):
        assert line.split()[:2] == [rule.code, rule.name]
        assert " ".join(rule.summary.split()) in line
    assert lines[-1].split()[:2] == ["DL100", "unused-suppression"]
    off = [line.split()[0] for line in lines[1:] if line.endswith("(off by default)")]
    assert off == ["DL008", "DL100"]
    assert len(lines) == len(ALL_RULES) + len(META_RULES) + 2


def test_rule_explains_dl003() -> None:
    rule = RULES_BY_CODE["DL003"]
    result = run("rule", "DL003")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith(f"DL003 {rule.name}\n")
    assert " ".join(rule.summary.split()) in " ".join(out.split())
    assert " ".join(rule.why.split()) in " ".join(out.split())
    assert " ".join(rule.fix.split()) in " ".join(out.split())
    for example in (rule.bad, rule.good):
        for line in example.strip("\n").splitlines():
            assert f"    {line}".rstrip() in out
    assert out.index("Example (reported):") < out.index("Fixed:")


def test_rule_accepts_lower_case_and_names() -> None:
    assert run("rule", "dl003").stdout == run("rule", RULES_BY_CODE["DL003"].name).stdout


def test_rule_unknown_code_exits_2() -> None:
    result = run("rule", "DL999")
    assert result.exit_code == 2
    assert "DL999" in result.stderr


def test_rule_dl008_says_it_is_off_by_default_why_and_how_to_enable_it() -> None:
    rule = RULES_BY_CODE["DL008"]
    assert rule.default_enabled is False and rule.default_off_reason
    out = run("rule", "DL008").stdout
    assert out.startswith(
        "DL008 load-without-map-location (off by default; enable with --extend-select DL008)\n"
    )
    flat = " ".join(out.split())
    assert "Why it is off by default: " + " ".join(rule.default_off_reason.split()) in flat
    assert "13 to 19 of 30 sampled (43-63%) were false" in flat
    assert 'Enable it with `--extend-select DL008` or `extend-select = ["DL008"]`' in flat
    assert out.index("Why it is off by default:") < out.index("Why it fails at run time:")
    # a rule on by default says none of it
    assert "off by default" not in run("rule", "DL002").stdout


def test_rule_dl000() -> None:
    result = run("rule", "DL000")
    assert result.exit_code == 0
    assert result.stdout.startswith("DL000 syntax-error")


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"devlint, version {devlint.__version__}"
    result = run("--help")
    assert result.exit_code == 0
    for word in ["rules", "rule", "--select", "--output-format", "--exit-zero"]:
        assert word in result.stdout
    assert run("-h").stdout == result.stdout


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    write(tmp_path, "bad.py", BROKEN)
    write(tmp_path, "ok.py", CLEAN)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "devlint", "--output-format", "concise", "."],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        "bad.py:2:5: DL000 syntax error: unmatched ')'",
        "Found 1 problem.",
    ]
    assert proc.stderr == ""
    proc = subprocess.run(
        [sys.executable, "-m", "devlint", "--select", "XYZ"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "XYZ" in proc.stderr and "Traceback" not in proc.stderr


# --- the bundled fixtures (need the engine) ---------------------------------------------


def expected_findings(kind: str) -> set[tuple[str, int, str]]:
    """(absolute path, line, code) for every `# expect:` comment in fixtures/<kind>."""
    return {
        (str(path.resolve()), line, code)
        for path in fixture_files(kind)
        for code, line in expectations(path)
    }


def test_fixtures_buggy_report_exactly_their_expectations() -> None:
    """Every `# expect: DL00x` line is reported with that code, and nothing else is: with
    every rule selected, the rules that are off by default included."""
    buggy = FIXTURES / "buggy"
    expected = expected_findings("buggy")
    assert expected, "fixtures/buggy has no `# expect:` annotations yet"
    result = run("--select", "ALL", "--output-format", "json", str(buggy))
    assert result.exit_code == 1
    got = {(r["filename"], r["location"]["row"], r["code"]) for r in json.loads(result.stdout)}
    assert got == expected


def test_fixtures_clean_pass() -> None:
    clean = FIXTURES / "clean"
    assert list(clean.rglob("*.py")), "fixtures/clean has no programs yet"
    result = run("--select", "ALL", str(clean))
    assert result.exit_code == 0, result.stdout
    assert result.stdout == "All checks passed!\n"


def test_fixtures_readme_command_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """`devlint fixtures/` from the README: reports the buggy fixtures, exits 1 by design."""
    monkeypatch.chdir(REPO)
    result = run("fixtures/")
    assert result.exit_code == 1
    assert re.search(
        r"^Found \d+ problems?(?: \(\d+ fixable with --fix\))?\.$", result.stdout, re.MULTILINE
    )
    assert "fixtures/clean" not in result.stdout


# --- documentation and tooling stay in step with the code -------------------------------

README = (REPO / "README.md").read_text(encoding="utf-8")
RUN_COMMAND = "python -m venv .venv && . .venv/bin/activate && pip install . && devlint fixtures/"
TEST_COMMAND = (
    "python -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 "
    "&& pip install -e '.[test]' && python -m pytest -q -n auto --dist loadfile"
)


def test_readme_rules_table_matches_the_registry() -> None:
    rows = re.findall(r"^\| (DL\d{3}) \| `([^`]+)` \| (.+) \|$", README, re.MULTILINE)
    assert rows == [(r.code, r.name, r.summary) for r in [*ALL_RULES, *META_RULES]], (
        "README.md's rules table is out of date: regenerate it from devlint.rules.ALL_RULES"
    )


def test_readme_setup_commands_are_verbatim_code_blocks() -> None:
    for command in (RUN_COMMAND, TEST_COMMAND):
        assert f"```sh\n{command}\n```" in README


def test_pre_commit_hook_definition() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    for line in [
        "- id: devlint",
        "  name: devlint",
        "  entry: devlint --force-exclude",
        "  language: python",
        "  types_or: [python, pyi, jupyter]",
        "  require_serial: true",
    ]:
        assert line in text.splitlines()


# --- more formats, output files, statistics, stdin, progress ----------------------------

# one DL002 finding on line 2, column 27 (a hard-coded accelerator)
CUDA = 'import torch\nx = torch.zeros(3, device="cuda")\n'


def test_json_lines_is_one_record_per_line(project: Path) -> None:
    write(project, "a.py", CUDA)
    # (a second module-level use would run only after the first succeeded: one defect)
    write(project, "b.py", CUDA + 'def f():\n    x = torch.zeros(3, device="cuda")\n')
    result = run("--output-format", "json-lines", ".")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(Path(r["filename"]).name, r["location"]["row"]) for r in records] == [
        ("a.py", 2), ("b.py", 2), ("b.py", 4),
    ]  # fmt: skip
    json_records = json.loads(run("--output-format", "json", ".").stdout)
    assert records == json_records
    write(project, "a.py", CLEAN)
    write(project, "b.py", CLEAN)
    assert run("--output-format", "json-lines", ".").stdout == ""


def test_output_format_from_the_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "a.py", CUDA)
    monkeypatch.setenv("DEVLINT_OUTPUT_FORMAT", "concise")
    lines = run("a.py").stdout.splitlines()
    assert lines[0].startswith("a.py:2:27: DL002 ") and lines[-2].startswith("Found 1 problem")


def test_output_file_with_a_format_keeps_stdout(project: Path) -> None:
    write(project, "a.py", CUDA)
    result = run(
        "--output-format", "github",
        "--output-file", "sarif:out/devlint.sarif",
        "--output-file", "json:report.json",
        "a.py",
    )  # fmt: skip
    assert result.stdout.startswith("::error title=devlint (DL002),file=a.py,")
    # the folder does not exist: an error (exit 2), the other outputs are still written
    assert result.exit_code == 2
    assert "cannot write out/devlint.sarif" in result.stderr
    (project / "out").mkdir()
    result = run("--output-format", "github", "--output-file", "sarif:out/devlint.sarif", "a.py")
    assert result.exit_code == 1
    log = json.loads((project / "out" / "devlint.sarif").read_text())
    assert log["runs"][0]["results"][0]["ruleId"] == "DL002"
    assert json.loads((project / "report.json").read_text())[0]["code"] == "DL002"


def test_output_file_without_a_format_replaces_stdout(project: Path) -> None:
    write(project, "a.py", CUDA)
    result = run("--output-format", "concise", "--output-file", "report.txt", "a.py")
    assert result.exit_code == 1
    assert result.stdout == ""
    text = (project / "report.txt").read_text()
    assert text.startswith("a.py:2:27: DL002 ") and "\x1b[" not in text


def test_output_file_with_an_empty_path_is_a_usage_error(project: Path) -> None:
    write(project, "a.py", CUDA)
    assert run("--output-file", "sarif:", "a.py").exit_code == 2


def test_statistics(project: Path) -> None:
    write(project, "a.py", CUDA + "y = torch.zeros(3)\ny.cpu()\n")
    write(project, "b.py", CUDA)
    write(project, "c.py", BROKEN)
    result = run("--statistics", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "2  DL002  [ ] hardcoded-accelerator",
        "1  DL000  [ ] syntax-error",
        "1  DL004  [*] discarded-tensor-move",
    ]
    assert re.fullmatch(r"Found 4 problems( \(\d fixable with --fix\))?\.", lines[3])
    rows = json.loads(run("--statistics", "--output-format", "json", ".").stdout)
    assert [(r["code"], r["name"], r["count"]) for r in rows] == [
        ("DL002", "hardcoded-accelerator", 2),
        ("DL000", "syntax-error", 1),
        ("DL004", "discarded-tensor-move", 1),
    ]
    assert all(isinstance(r["fixable"], int) for r in rows)
    write(project, "a.py", CLEAN)
    write(project, "b.py", CLEAN)
    write(project, "c.py", CLEAN)
    assert run("--statistics", ".").stdout == "All checks passed!\n"


def test_stdin_with_a_file_name(project: Path) -> None:
    result = run("-", "--stdin-filename", "src/train.py", "--output-format", "concise", input=CUDA)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("src/train.py:2:27: DL002 ")
    assert run("-", "--stdin-filename", "ok.py", input=CLEAN).exit_code == 0
    # without `-`, --stdin-filename alone reads stdin too; without a name it is `-`
    assert run("--stdin-filename", "t.py", input=CUDA).exit_code == 1
    assert run("-", "--output-format", "concise", input=CUDA).stdout.startswith("-:2:27: DL002")


def test_stdin_honours_configuration_for_its_file_name(project: Path) -> None:
    write(
        project,
        "pyproject.toml",
        '[tool.devlint]\nextend-exclude = ["gen"]\n[tool.devlint.per-file-ignores]\n"tests/*" = ["DL002"]\n',
    )
    assert run("-", "--stdin-filename", "tests/t.py", input=CUDA).exit_code == 0
    assert run("-", "--stdin-filename", "src/t.py", input=CUDA).exit_code == 1
    assert run("-", "--stdin-filename", "gen/t.py", input=CUDA).exit_code == 1
    result = run("-", "--stdin-filename", "gen/t.py", "--force-exclude", input=CUDA)
    assert result.exit_code == 0 and result.stdout == "All checks passed!\n"


def test_stdin_cannot_mix_with_paths(project: Path) -> None:
    write(project, "a.py", CLEAN)
    assert run("-", "a.py", input=CUDA).exit_code == 2


def test_force_exclude_on_the_command_line(project: Path) -> None:
    write(project, "pyproject.toml", '[tool.devlint]\nextend-exclude = ["migrations"]\n')
    write(project, "migrations/0001.py", BROKEN)
    write(project, "ok.py", CLEAN)
    assert run("migrations/0001.py", "ok.py").exit_code == 1
    assert run("--force-exclude", "migrations/0001.py", "ok.py").exit_code == 0


def test_show_files(project: Path) -> None:
    write(project, "b.py", CLEAN)
    write(project, "a/nb.ipynb", "{}")
    write(project, ".venv/x.py", CLEAN)
    result = run("--show-files")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [os.path.join("a", "nb.ipynb"), "b.py"]


class FakeTerminal:
    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.text = ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_on_a_terminal_only_and_erased() -> None:
    from devlint.cli import Progress

    tty = FakeTerminal(True)
    progress = Progress(3, tty, delay=0, interval=0)  # type: ignore[arg-type]
    for done in (1, 2, 3):
        progress.update(done)
    progress.close()
    assert "devlint: 1/3 files" in tty.text and "devlint: 3/3 files" in tty.text
    assert tty.text.endswith("\r" + " " * len("devlint: 3/3 files") + "\r")
    pipe = FakeTerminal(False)
    progress = Progress(3, pipe, delay=0, interval=0)  # type: ignore[arg-type]
    progress.update(1)
    progress.close()
    assert pipe.text == ""
    slow = FakeTerminal(True)
    progress = Progress(3, slow)  # type: ignore[arg-type]  # a short run stays silent
    progress.update(1)
    progress.close()
    assert slow.text == ""


def test_no_progress_when_stderr_is_not_a_terminal(project: Path) -> None:
    for i in range(3):
        write(project, f"m{i}.py", CLEAN)
    assert run().stderr == ""


def test_summary_counts_fixable_findings() -> None:
    safe = finding(fix={"applicability": "safe", "edits": [], "message": ""})
    unsafe = finding(fix={"applicability": "unsafe", "edits": [], "message": ""}, line=2)
    text = render("concise", [safe, unsafe, finding(line=3)])
    assert text.splitlines()[-2:] == [
        "Found 3 problems.",
        "[*] 1 fixable with `--fix` (1 unsafe fix available with `--fix --unsafe-fixes`).",
    ]


def test_rules_markdown_and_json() -> None:
    markdown = run("rules", "--format", "markdown").stdout
    assert markdown.startswith("# devlint rules\n")
    records = json.loads(run("rules", "--format", "json").stdout)
    assert [r["code"] for r in records][:2] == ["DL000", "DL001"]
    assert records[-1]["code"] == "DL100" and records[-1]["default_enabled"] is False
    off = [r["code"] for r in records if not r["default_enabled"]]
    assert off == ["DL008", "DL100"]
