"""`gitlab`: a GitLab Code Quality report (the `codequality` artifact of a CI job).

A JSON list of issues with the fields GitLab reads: `description`, `check_name`,
`fingerprint`, `severity` and `location` (`path` relative to the project,
`lines.begin`/`lines.end`).  GitLab matches issues between the base and the head of a
merge request by fingerprint, so the fingerprint hashes the rule, the file, the text of
the reported line and which occurrence of it this is, not the line number: code added
above a finding does not make it look new (the same scheme as the SARIF fingerprints).

Paths are relative to `CI_PROJECT_DIR` (set in GitLab jobs), else the current directory.
A notebook finding points at the line of the `.ipynb` file that holds the code.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional, Sequence

from devlint.findings import Finding
from devlint.report.github import relative_path

# GitLab's severities: info, minor, major, critical, blocker.
SEVERITIES = {"error": "major", "warning": "minor", "info": "info", "note": "info"}


def _fingerprint(f: Finding, path: str, occurrence: int) -> str:
    key = "\0".join([f.code, path, " ".join(f.source_line.split()), str(f.cell or 0)])
    key += f"\0{occurrence}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def issues(findings: Sequence[Finding], root: Optional[str] = None) -> list[dict[str, Any]]:
    base = root or os.environ.get("CI_PROJECT_DIR") or None
    seen: dict[tuple[str, str, str, int], int] = {}
    out = []
    for f in findings:
        path = relative_path(f.path, base)
        key = (f.code, path, " ".join(f.source_line.split()), f.cell or 0)
        seen[key] = occurrence = seen.get(key, 0) + 1
        if f.cell is not None:
            begin, end = (f.file_span or (1, 1, 1, 2))[0::2]
            description = f"{f.code}: cell {f.cell}:{f.line}:{f.col}: {f.message}"
        else:
            begin, end = f.line, max(f.end_line, f.line)
            description = f"{f.code}: {f.message}"
        out.append(
            {
                "description": description,
                "check_name": f.code,
                "fingerprint": _fingerprint(f, path, occurrence),
                "severity": SEVERITIES.get(f.severity, "major"),
                "location": {"path": path, "lines": {"begin": begin, "end": end}},
            }
        )
    return out


def render(findings: Sequence[Finding], *, root: Optional[str] = None, **_: object) -> str:
    return json.dumps(issues(findings, root), indent=2, ensure_ascii=True) + "\n"
