"""Shared pieces of the runtime tests: programs written to a session folder, the number
of programs `run_many` runs at once, and a finding planted on a line to read its verdict."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Mapping

from devlint.findings import Finding

# programs run at once by the session fixtures: the cores, at least 2, at most 4
RUN_JOBS = max(2, min(4, os.cpu_count() or 2))


def write_programs(root: Path, programs: Mapping[str, str]) -> Path:
    """Each program's dedented text to `root/<name>.py`; returns `root`."""
    for name, text in programs.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    return root


def planted(path: Path, line: int, code: str) -> Finding:
    """A finding of `code` on `line` of `path`, whatever the rules say: what the harness
    makes of that line is the verdict under test."""
    return Finding(
        code=code,
        name="planted",
        message="planted",
        path=str(path),
        line=line,
        col=1,
        end_line=line,
        end_col=2,
    )
