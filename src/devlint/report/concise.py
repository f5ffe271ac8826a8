"""`concise`: one `path:line:col: CODE message` line per finding, then the summary."""

from __future__ import annotations

from typing import Sequence

from devlint.findings import Finding
from devlint.report.full import location, summary_for


def render(
    findings: Sequence[Finding],
    *,
    color: bool = False,
    unchecked: int = 0,
    unsafe_fixes: bool = False,
    summary: bool = True,
    **_: object,
) -> str:
    lines = [location(f, color, unsafe_fixes) for f in findings]
    if summary:
        lines.append(summary_for(findings, unchecked, unsafe_fixes))
    return "".join(line + "\n" for line in lines)
