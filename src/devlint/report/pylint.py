"""`pylint`: `path:line: [CODE] message`, the line pylint's parseable output prints.

Editors and CI problem matchers written for pylint (and ruff's `pylint` format) read it.
A notebook finding points at the line of the `.ipynb` file that holds the code (as the
`github` format does) and its message names the cell, since `path:line` has no room
for one.
"""

from __future__ import annotations

from typing import Sequence

from devlint.findings import Finding
from devlint.report.full import clean


def line(f: Finding) -> str:
    if f.cell is not None:
        row = f.file_span[0] if f.file_span else 1
        return (
            f"{clean(f.path)}:{row}: [{f.code}] cell {f.cell}:{f.line}:{f.col}: {clean(f.message)}"
        )
    return f"{clean(f.path)}:{f.line}: [{f.code}] {clean(f.message)}"


def render(findings: Sequence[Finding], **_: object) -> str:
    return "".join(line(f) + "\n" for f in findings)
