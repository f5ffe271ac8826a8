"""`github`: GitHub Actions workflow commands, shown as pull-request annotations.

```
::error title=devlint (DL003),file=src/train.py,line=41,col=15,endLine=41,endColumn=28::...
```

One line per finding: `::error` for findings the engine is sure of, `::warning` for
those it is less sure of (severity "warning"), paths relative to the workspace
(`GITHUB_WORKSPACE`, else the current directory).  Messages escape `%`, CR and LF;
properties also escape `:` and `,`, as GitHub requires.  Notebook findings point at the
line of the `.ipynb` file that holds the code, and the message names the cell.

GitHub shows only the first 10 error annotations of a step and 50 of a job: upload the
SARIF output (`--output-file sarif:devlint.sarif`) to code scanning for the full list.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from devlint.findings import Finding

LEVELS = {"error": "error", "warning": "warning", "info": "notice", "note": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace() -> str:
    return os.environ.get("GITHUB_WORKSPACE") or os.getcwd()


def relative_path(path: str, root: Optional[str] = None) -> str:
    """`path` relative to `root` with `/` separators; absolute when outside it."""
    full = os.path.abspath(path)
    base = os.path.abspath(root or workspace())
    try:
        rel = os.path.relpath(full, base)
    except ValueError:  # another drive on Windows
        return full.replace(os.sep, "/")
    if rel == ".." or rel.startswith(".." + os.sep):
        return full.replace(os.sep, "/")
    return rel.replace(os.sep, "/")


def command(f: Finding, root: Optional[str] = None) -> str:
    level = LEVELS.get(f.severity, "error")
    if f.cell is not None:
        span = f.file_span or (1, 1, 1, 2)
        text = f"cell {f.cell}:{f.line}:{f.col}: {f.message}"
    else:
        span = (f.line, f.col, f.end_line, f.end_col)
        text = f.message
    if f.help:
        text += f"\nhelp: {f.help}"
    props = [
        ("title", f"devlint ({f.code})"),
        ("file", relative_path(f.path, root)),
        ("line", str(span[0])),
        ("col", str(span[1])),
        ("endLine", str(span[2])),
        ("endColumn", str(span[3])),
    ]
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{level} {joined}::{escape_data(text)}"


def render(findings: Sequence[Finding], *, root: Optional[str] = None, **_: object) -> str:
    return "".join(command(f, root) + "\n" for f in findings)
