"""`json`: a list of ruff-compatible records, so tools that read ruff's JSON read ours.

Each record has ruff's fields (`code`, `message`, `filename`, `location`,
`end_location`, `fix`, `url`, `noqa_row`, `cell`) plus devlint's `name`, `severity`
and `help`.  Rows and columns are 1-based; `end_location` is exclusive, as in ruff.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from devlint.findings import Finding


def record(f: Finding) -> dict[str, Any]:
    return {
        "cell": None,
        "code": f.code,
        "end_location": {"column": f.end_col, "row": f.end_line},
        "filename": os.path.abspath(f.path),
        "fix": f.fix,
        "location": {"column": f.col, "row": f.line},
        "message": f.message,
        "noqa_row": f.line,
        "url": f.url,
        "name": f.name,
        "severity": f.severity,
        "help": f.help,
    }


def render(findings: Sequence[Finding], *, color: bool = False, unchecked: int = 0) -> str:
    # ASCII-only output: valid JSON whatever the terminal's or pipe's encoding is.
    return json.dumps([record(f) for f in findings], indent=2, ensure_ascii=True) + "\n"
