"""`concise`: one `path:line:col: CODE message` line per finding, then the summary."""

from __future__ import annotations

from typing import Sequence

from devlint.findings import Finding
from devlint.report.full import location, summary_for


def render(
    findings: Sequence[Finding], *, color: bool = False, unchecked: int = 0, **_: object
) -> str:
    lines = [location(f, color) for f in findings]
    lines.append(summary_for(findings, unchecked))
    return "\n".join(lines) + "\n"
