"""The record every rule produces and every formatter reads.

Locations are 1-based lines and 1-based columns, as ruff and flake8 print them;
`end_col` is exclusive (the column just past the last character), as in ruff's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# DL000 is not a Rule: the checker reports it when a file cannot be read or parsed.
SYNTAX_ERROR = ("DL000", "syntax-error")


@dataclass(frozen=True)
class Finding:
    """One problem in one file."""

    code: str
    name: str
    message: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    help: str = ""
    severity: str = "error"
    # The source line the finding starts on (for `full` output); empty when unknown.
    source_line: str = field(default="", compare=False)
    fix: Optional[dict] = field(default=None, compare=False)
    # Notebooks: the 1-based cell (every cell counts, as in ruff) that `line`/`col` are in.
    cell: Optional[int] = None
    # The line where a noqa comment for this finding goes (the last line of a multi-line
    # statement when the finding's own line cannot take a comment); None: `line`.
    noqa_row: Optional[int] = field(default=None, compare=False)
    # Notebooks: (line, col, end_line, end_col) in the file's own text (the .ipynb JSON),
    # for formats that point into the raw file (SARIF, GitHub annotations).
    file_span: Optional[tuple[int, int, int, int]] = field(default=None, compare=False)
    # DL008: the file the load names, as (base, path) (`engine.file_paths.FileSpec`), for
    # `checkpoints.settle`, which reads it after the cache
    asset: Optional[tuple[str, str]] = field(default=None, compare=False)
    # other lines this one finding stands for (DL005: the other CPU factories of one
    # failing operation), so that `devlint confirm` links their runtime errors to it
    also_lines: tuple[int, ...] = field(default=(), compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.col, self.code, self.message)

    @property
    def url(self) -> str:
        return f"https://github.com/devlint/devlint/blob/main/docs/rules.md#{self.code.lower()}"


def syntax_finding(path: str, line: int, col: int, message: str, source_line: str = "") -> Finding:
    """A DL000 finding: the file could not be read, decoded, parsed or analysed."""
    code, name = SYNTAX_ERROR
    return Finding(
        code=code,
        name=name,
        message=message,
        path=path,
        line=max(line, 1),
        col=max(col, 1),
        end_line=max(line, 1),
        end_col=max(col, 1) + 1,
        help=(
            "devlint could not analyse this file; "
            "fix the problem above so its device flow can be checked"
        ),
        source_line=source_line,
    )
