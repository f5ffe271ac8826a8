"""`concise`: one `path:line:col: CODE message` line per finding, then the summary."""

from __future__ import annotations

from typing import Sequence

from devlint.findings import Finding
from devlint.report.full import location, summary


def render(findings: Sequence[Finding], *, color: bool = False, unchecked: int = 0) -> str:
    lines = [location(f, color) for f in findings]
    lines.append(summary(len(findings), unchecked))
    return "\n".join(lines) + "\n"
