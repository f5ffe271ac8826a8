"""`sarif`: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

- one `reportingDescriptor` per rule (id, name, short and full description, help as text
  and Markdown, helpUri, default level), from the same metadata as docs/rules.md;
- results with a region in 1-based lines and columns (`columnKind` is
  `unicodeCodePoints`: columns count characters, as devlint's do) and an
  `artifactLocation` relative to `%SRCROOT%` (the workspace), so the log is portable;
- `partialFingerprints` that hash the rule, the file and the text of the reported line
  (not its number), so code scanning keeps tracking a finding when code above it moves;
- `fixes` when devlint has a fix for the finding.

Notebook findings point into the `.ipynb` file's own text and carry their cell in the
result's `properties`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import quote

from devlint import __version__
from devlint.docs import documented_rules, rule_markdown, rule_text, url
from devlint.findings import Finding
from devlint.report.github import workspace

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://github.com/devlint/devlint"
FINGERPRINT_KEY = "devlintFingerprint/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "note": "note"}


def descriptor(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": " ".join(rule.summary.split())},
        "fullDescription": {"text": " ".join(f"{rule.summary} {rule.why}".split())},
        "help": {"text": rule_text(rule), "markdown": rule_markdown(rule)},
        "helpUri": url(rule.code),
        "defaultConfiguration": {
            "enabled": bool(rule.default_enabled),
            "level": LEVELS.get(rule.severity, "error"),
        },
        "properties": {"tags": ["pytorch", "device-placement"]},
    }


def _artifact(path: str, root: str) -> dict[str, str]:
    full = os.path.abspath(path)
    try:
        rel = os.path.relpath(full, root)
    except ValueError:
        rel = ""
    if rel and rel != ".." and not rel.startswith(".." + os.sep):
        return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}
    return {"uri": Path(full).as_uri()}


def _region(f: Finding) -> dict[str, Any]:
    if f.cell is not None:
        line, col, end_line, end_col = f.file_span or (1, 1, 1, 2)
    else:
        line, col, end_line, end_col = f.line, f.col, f.end_line, f.end_col
    region: dict[str, Any] = {
        "startLine": line,
        "startColumn": col,
        "endLine": max(end_line, line),
        "endColumn": end_col if end_line > line or end_col > col else col + 1,
    }
    if f.source_line and f.cell is None:
        region["snippet"] = {"text": f.source_line}
    return region


def fingerprint(f: Finding, rel: str, occurrence: int) -> str:
    """Stable across commits: rule, file, the reported line's text, and which occurrence
    of that (rule, file, text) it is.  Line numbers are left out on purpose."""
    key = "\0".join([f.code, rel, " ".join(f.source_line.split()), str(f.cell or 0)])
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{digest}:{occurrence}"


def _fixes(f: Finding, artifact: dict[str, str]) -> list[dict[str, Any]]:
    if not f.fix or f.cell is not None:
        return []
    replacements = []
    for edit in f.fix.get("edits", []):
        start, end = edit["location"], edit["end_location"]
        replacements.append(
            {
                "deletedRegion": {
                    "startLine": start["row"],
                    "startColumn": start["column"],
                    "endLine": end["row"],
                    "endColumn": end["column"],
                },
                "insertedContent": {"text": edit["content"]},
            }
        )
    if not replacements:
        return []
    title = f.fix.get("message") or f.help or "apply devlint's fix"
    applicability = f.fix.get("applicability", "safe")
    return [
        {
            "description": {"text": f"{title} ({applicability} fix)"},
            "artifactChanges": [{"artifactLocation": artifact, "replacements": replacements}],
        }
    ]


def log(
    findings: Sequence[Finding],
    *,
    root: Optional[str] = None,
    notifications: Sequence[str] = (),
    unchecked: int = 0,
) -> dict[str, Any]:
    """The SARIF log of a run, as a JSON-ready dict."""
    base = os.path.abspath(root or workspace())
    rules = documented_rules()
    index = {rule.code: i for i, rule in enumerate(rules)}
    seen: dict[tuple[str, str, str, int], int] = {}
    results = []
    for f in findings:
        artifact = _artifact(f.path, base)
        rel = artifact["uri"]
        key = (f.code, rel, " ".join(f.source_line.split()), f.cell or 0)
        occurrence = seen.get(key, 0) + 1
        seen[key] = occurrence
        text = f.message if not f.help else f"{f.message}\nhelp: {f.help}"
        result: dict[str, Any] = {
            "ruleId": f.code,
            "level": LEVELS.get(f.severity, "error"),
            "message": {"text": text},
            "locations": [
                {"physicalLocation": {"artifactLocation": artifact, "region": _region(f)}}
            ],
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f, rel, occurrence)},
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        fixes = _fixes(f, artifact)
        if fixes:
            result["fixes"] = fixes
        if f.cell is not None:
            result["properties"] = {"cell": f.cell, "cellLine": f.line, "cellColumn": f.col}
        results.append(result)
    root_uri = Path(base).as_uri()
    invocation: dict[str, Any] = {"executionSuccessful": unchecked == 0}
    if notifications:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": text}} for text in notifications
        ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "devlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [descriptor(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {"uri": root_uri if root_uri.endswith("/") else root_uri + "/"}
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
                "invocations": [invocation],
            }
        ],
    }


def render(
    findings: Sequence[Finding],
    *,
    root: Optional[str] = None,
    notifications: Sequence[str] = (),
    unchecked: int = 0,
    **_: object,
) -> str:
    data = log(findings, root=root, notifications=notifications, unchecked=unchecked)
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"
