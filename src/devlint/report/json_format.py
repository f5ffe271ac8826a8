"""`json` and `json-lines`: ruff-compatible records, so tools that read ruff's JSON read ours.

Each record has ruff's fields (`code`, `message`, `filename`, `location`,
`end_location`, `fix`, `url`, `noqa_row`, `cell`) plus devlint's `name`, `severity`
and `help`.  Rows and columns are 1-based; `end_location` is exclusive, as in ruff.  In a
notebook `cell` is the 1-based cell (every cell counts) and rows are within that cell;
elsewhere it is null.  `fix` is null, or ruff's `{applicability, message, edits}` with
each edit's `content`, `location` and `end_location`.

`json` writes one list (`[]` when nothing is found); `json-lines` one record per line,
for tools that stream.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from devlint.findings import Finding


def record(f: Finding) -> dict[str, Any]:
    return {
        "cell": f.cell,
        "code": f.code,
        "end_location": {"column": f.end_col, "row": f.end_line},
        "filename": os.path.abspath(f.path),
        "fix": f.fix,
        "location": {"column": f.col, "row": f.line},
        "message": f.message,
        "noqa_row": f.noqa_row if f.noqa_row is not None else f.line,
        "url": f.url,
        "name": f.name,
        "severity": f.severity,
        "help": f.help,
    }


def render(findings: Sequence[Finding], **_: object) -> str:
    # ASCII-only output: valid JSON whatever the terminal's or pipe's encoding is.
    return json.dumps([record(f) for f in findings], indent=2, ensure_ascii=True) + "\n"


def render_lines(findings: Sequence[Finding], **_: object) -> str:
    return "".join(json.dumps(record(f), ensure_ascii=True) + "\n" for f in findings)
