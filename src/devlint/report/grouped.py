"""`grouped`: findings under a heading per file, as ruff's `grouped` format prints them.

```
src/train.py:
   9:5  DL004 [*] `x.to(device)` returns a moved copy that is discarded; ...
  41:15 DL001 `images` is on the CPU, `model` on `device`

Found 2 problems.
[*] 1 fixable with `--fix`.
```

Rows are right-aligned and columns left-aligned within a file, so the codes line up;
a notebook's positions are `cell N:line:col`.  The summary is the one `full` prints.
"""

from __future__ import annotations

from itertools import groupby
from typing import Sequence

from devlint.findings import Finding
from devlint.report.full import clean, fix_marker, style, summary_for


def _group(findings: Sequence[Finding], color: bool, unsafe_fixes: bool) -> str:
    row_width = max(len(str(f.line)) for f in findings)
    col_width = max(len(str(f.col)) for f in findings)
    lines = [style(clean(findings[0].path), color, bold=True) + ":"]
    for f in findings:
        cell = f"cell {f.cell}:" if f.cell is not None else ""
        where = f"{cell}{f.line:>{row_width}}:{f.col:<{col_width}}"
        code = style(f.code, color, fg="red", bold=True)
        lines.append(f"  {where} {code}{fix_marker(f, unsafe_fixes)} {clean(f.message)}")
    return "\n".join(lines) + "\n"


def render(
    findings: Sequence[Finding],
    *,
    color: bool = False,
    unchecked: int = 0,
    unsafe_fixes: bool = False,
    summary: bool = True,
    **_: object,
) -> str:
    # findings arrive sorted by file: consecutive runs of one path are its group
    blocks = [
        _group(list(items), color, unsafe_fixes)
        for _, items in groupby(findings, key=lambda f: f.path)
    ]
    if summary:
        blocks.append(summary_for(findings, unchecked, unsafe_fixes) + "\n")
    return "\n".join(blocks)
