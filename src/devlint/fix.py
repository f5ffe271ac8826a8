"""Applying fixes to files: edits from findings, verified, written atomically.

The loop is ruff's: check, apply every non-overlapping fix of the allowed applicability,
check again (a fix can make another one possible or change positions), until nothing
is left to fix or a round limit is hit.  A round whose result does not parse is thrown
away, so a file is only ever written with valid code.  Files are written through a
temporary file in the same folder and `os.replace`, keeping the mode, the encoding
(with its BOM) and the line endings; a symlink is followed so the link stays a link.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import difflib
import io
import os
import re
import stat
import tempfile
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import libcst as cst

from devlint.checkpoints import settle
from devlint.findings import Finding
from devlint.rules.base import SAFE

MAX_ROUNDS = 10
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class FixResult:
    """What fixing one file did."""

    path: str
    original: str
    fixed: str
    applied: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original


def applicable(finding: Finding, unsafe: bool) -> bool:
    fix = finding.fix
    return bool(fix and fix.get("edits")) and (unsafe or fix["applicability"] == SAFE)


def _line_starts(text: str) -> list[int]:
    """Offsets where each line starts, splitting lines as LibCST does (\\r\\n, \\r, \\n)."""
    starts = [0]
    starts.extend(m.end() for m in _LINE_BREAK.finditer(text))
    return starts


def _offset(starts: list[int], row: int, column: int) -> int:
    return starts[row - 1] + column - 1


def apply_edits(text: str, findings: Sequence[Finding], unsafe: bool) -> tuple[str, list[Finding]]:
    """Apply the fixes of `findings` that do not overlap an earlier one (in file order)."""
    out, applied, _ = _apply(text, findings, unsafe)
    return out, applied


# One edit of a round, in the offsets of the text the round started from:
# (start, end, new content, the text it replaced)
_Span = tuple[int, int, str, str]


def _apply(
    text: str, findings: Sequence[Finding], unsafe: bool
) -> tuple[str, list[Finding], list[_Span]]:
    """`apply_edits`, also returning the edits made (for `_Remap`)."""
    starts = _line_starts(text)
    chosen: list[tuple[int, int, str, Finding]] = []
    taken: list[tuple[int, int]] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        if not applicable(finding, unsafe):
            continue
        assert finding.fix is not None
        spans = []
        for edit in finding.fix["edits"]:
            start = _offset(starts, edit["location"]["row"], edit["location"]["column"])
            end = _offset(starts, edit["end_location"]["row"], edit["end_location"]["column"])
            spans.append((start, end, edit["content"]))
        if any((s < te and ts < e) or s == ts for s, e, _ in spans for ts, te in taken):
            continue  # overlaps a fix already chosen: the next round will see it again
        for start, end, content in spans:
            chosen.append((start, end, content, finding))
            taken.append((start, end))
    out = text
    for start, end, content, _ in sorted(chosen, key=lambda c: c[0], reverse=True):
        out = out[:start] + content + out[end:]
    applied = list(dict.fromkeys(c[3] for c in chosen))
    spans = sorted((start, end, content, text[start:end]) for start, end, content, _ in chosen)
    return out, applied, spans


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class _Remap:
    """Maps positions in the text after some fixing rounds back to the text before them,
    so that a fix applied in a later round is listed (`--show-fixes`) where the user's
    file has it, not where the earlier rounds' edits shifted it.  A position inside the
    new text of an edit maps through the part the edit kept (`x.cuda()` is still at the
    start of `x.cuda().cpu()`), else to the edit's start."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.rounds: list[list[_Span]] = []

    def add(self, spans: list[_Span]) -> None:
        self.rounds.append(spans)

    @staticmethod
    def _back(spans: list[_Span], offset: int) -> int:
        delta = 0  # new offset - old offset, after the edits passed so far
        for start, end, content, old in spans:
            new_start = start + delta
            new_end = new_start + len(content)
            if offset < new_start:
                break
            if offset < new_end or (offset == new_end and not content):
                inside = offset - new_start
                kept = _common_prefix(content, old)
                if inside < kept:
                    return start + inside
                tail = new_end - offset
                kept_tail = _common_prefix(content[::-1], old[::-1])
                if tail <= min(kept_tail, len(old)):
                    return end - tail
                return start
            delta += len(content) - (end - start)
        return offset - delta

    def finding(self, finding: Finding, text: str) -> Finding:
        """`finding`, located in `text` (the text after all rounds so far), moved to its
        place in the original text."""
        if not self.rounds:
            return finding
        starts = _line_starts(text)
        original = _line_starts(self.original)

        def back(row: int, column: int) -> tuple[int, int]:
            if not 0 < row <= len(starts):
                return row, column
            offset = _offset(starts, row, column)
            for spans in reversed(self.rounds):
                offset = self._back(spans, offset)
            line = max(bisect.bisect_right(original, offset) - 1, 0)
            return line + 1, offset - original[line] + 1

        line, col = back(finding.line, finding.col)
        end_line, end_col = back(finding.end_line, finding.end_col)
        if (end_line, end_col) < (line, col):
            end_line, end_col = line, col
        return dataclasses.replace(finding, line=line, col=col, end_line=end_line, end_col=end_col)


def parses(text: str) -> bool:
    """Is the fixed text a valid program both for LibCST (which the next run parses) and
    for Python's compiler (LibCST accepts some code Python rejects)?  Compiling runs
    nothing.  A fix that breaks the program is never written."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<fixed>", "exec", dont_inherit=True)
        cst.parse_module(text)
    except (cst.ParserSyntaxError, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def fix_source(
    text: str,
    path: str,
    check: Callable[[str], list[Finding]],
    unsafe: bool = False,
) -> FixResult:
    """Fix `text` until no fix applies; `check` lints a version of the text."""
    result = FixResult(path, text, text)
    current = text
    findings = check(current)
    remap = _Remap(text)
    for _ in range(MAX_ROUNDS):
        if any(f.code == "DL000" for f in findings):
            break  # never touch a file that does not parse
        candidate, applied, spans = _apply(current, findings, unsafe)
        if not applied or candidate == current or not parses(candidate):
            break
        # listed where the user's file has them: a later round's positions are shifted
        result.applied.extend(remap.finding(f, current) for f in applied)
        remap.add(spans)
        current = candidate
        findings = check(current)
    result.fixed = current
    result.remaining = findings
    return result


@dataclass(frozen=True)
class SourceFile:
    """A file's text and how to write it back exactly as it was encoded."""

    text: str
    encoding: str
    bom: bool


def read_source(path: Path) -> SourceFile:
    data = path.read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    bom = encoding == "utf-8-sig"
    text = data.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
        bom = True
    return SourceFile(text, "utf-8" if encoding == "utf-8-sig" else encoding, bom)


def write_atomic(path: Path, source: SourceFile, text: str) -> None:
    """Replace `path`'s content with `text` atomically, keeping mode, encoding and BOM.

    The temporary file lives next to the real one (same filesystem, so `os.replace` is
    atomic); a symlink is resolved first so the link itself is preserved."""
    target = Path(os.path.realpath(path))
    data = text.encode(source.encoding)
    if source.bom:
        data = b"\xef\xbb\xbf" + data
    mode = stat.S_IMODE(target.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".devlint-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fix_file(
    path: Path,
    check: Callable[[str], list[Finding]],
    unsafe: bool = False,
    write: bool = True,
) -> Optional[FixResult]:
    """Fix one file on disk (or only compute the result with `write=False`, for `--diff`).
    Returns None when the file cannot be read or decoded (the check reports that)."""
    try:
        source = read_source(path)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
        return None
    result = fix_source(source.text, str(path), check, unsafe)
    if write and result.changed:
        write_atomic(path, source, result.fixed)
    return result


def unified_diff(result: FixResult) -> str:
    """The change a fix would make, as `--diff` prints it."""
    return "".join(
        difflib.unified_diff(
            result.original.splitlines(keepends=True),
            result.fixed.splitlines(keepends=True),
            fromfile=result.path,
            tofile=result.path,
        )
    )


@dataclass
class FixRun:
    """What `--fix`/`--diff` did over many files."""

    results: list[FixResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(r.applied) for r in self.results)

    def summary(self, would: bool) -> str:
        files = sum(1 for r in self.results if r.changed)
        verb = "Would fix" if would else "Fixed"
        text = (
            f"{verb} {self.count} problem{'s' if self.count != 1 else ''} "
            f"in {files} file{'s' if files != 1 else ''}."
        )
        return text

    def listing(self) -> str:
        lines = ["Fixes applied:"]
        for result in self.results:
            for f in sorted(result.applied, key=lambda f: (f.line, f.col)):
                title = f.fix["message"] if f.fix else ""
                lines.append(f"  {f.path}:{f.line}:{f.col}: {f.code} {title}")
        return "\n".join(lines)


def apply_fixes(
    sources: Sequence[object],
    rules: Sequence[object],
    options: dict,
    unsafe: bool,
    write: bool,
    max_bytes: Optional[int] = None,
) -> FixRun:
    """Fix every `.py` file of `sources` (objects with `path` and `display`); files over
    `max_bytes` are left alone (the check reports them)."""
    from devlint.checker import check_source  # the checker imports rules; keep this lazy

    run = FixRun()
    for source in sources:
        path, display = Path(source.path), source.display  # type: ignore[attr-defined]
        notebook = path.suffix == ".ipynb"
        try:
            limit = max_bytes * NOTEBOOK_RAW_FACTOR if max_bytes and notebook else max_bytes
            if limit and path.stat().st_size > limit:
                continue
        except OSError:
            continue
        if notebook:
            try:
                result = fix_notebook(path, display, rules, options, unsafe=unsafe, write=write)
            except OSError as exc:
                run.errors.append(f"cannot write {display}: {exc.strerror or exc}")
                continue
            if result is not None and result.changed:
                run.results.append(result)
            continue

        def check(text: str, display: str = display) -> list[Finding]:
            return settle(check_source(text, display, rules, notebook=False, **options))  # type: ignore[arg-type]

        try:
            result = fix_file(path, check, unsafe=unsafe, write=write)
        except OSError as exc:
            run.errors.append(f"cannot write {display}: {exc.strerror or exc}")
            continue
        if result is not None:
            result.path = display
            if result.changed:
                run.results.append(result)
    return run


# --- notebooks -----------------------------------------------------------------------

# a notebook file may be this many times --max-file-size (its outputs, plots mostly)
NOTEBOOK_RAW_FACTOR = 25


def fix_notebook(
    path: Path,
    display: str,
    rules: Sequence[object],
    options: dict,
    unsafe: bool = False,
    write: bool = True,
) -> Optional[FixResult]:
    """Fix a notebook as ruff does: the fixes go into the cells' sources; outputs,
    metadata and the JSON layout stay.  A cell whose lines the checker reads through a
    transformation (a magic, a shell line: `notebooks.transform_cell`) is never touched,
    since its fixed text could not be put back as the user wrote it.  Each round checks
    the whole program again, so fixes in one cell see the others."""
    from devlint import notebooks
    from devlint.checker import check_text, program_cells

    try:
        source = read_source(path)
        nb = notebooks.read(source.text)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError, notebooks.NotebookError):
        return None
    if not nb.python:
        return None
    result = FixResult(display, source.text, source.text)
    for _ in range(MAX_ROUNDS):
        cells = program_cells(nb)
        found = settle(check_text(nb.program, display, rules, cells=cells, **options))  # type: ignore[arg-type]
        if any(f.code == "DL000" for f in found):
            break
        changed = _fix_cells(nb, cells, found, unsafe, result)
        if not changed:
            break
        nb = notebooks.read(nb.text)
    result.fixed = nb.text
    if write and result.changed:
        write_atomic(path, source, result.fixed)
    return result


def _fix_cells(
    nb: Any,
    cells: Sequence[tuple[int, str]],
    found: Sequence[Finding],
    unsafe: bool,
    result: FixResult,
) -> bool:
    """Apply, cell by cell, the fixes of `found` (program coordinates) to the cells that
    hold no transformed line; True when a cell changed."""
    from devlint import notebooks

    by_start = {first: text for first, text in cells}
    starts = sorted(by_start)
    changed = False
    pending: dict[int, list[Finding]] = {}
    for f in found:
        if not applicable(f, unsafe) or not 0 < f.line <= len(nb.origins):
            continue
        first = max(s for s in starts if s <= f.line)
        pending.setdefault(first, []).append(f)
    for first, items in sorted(pending.items()):
        cell = nb.origins[first - 1].cell
        lines = nb.cell_lines.get(cell, [])
        if [t for t, _, _ in notebooks.transform_cell(lines)] != lines:
            continue  # a magic or shell line: the cell stays as written
        text = by_start[first]
        shifted = [_shift(f, first - 1) for f in items]
        fixed, applied = apply_edits(text, shifted, unsafe)
        if not applied or fixed == text:
            continue
        program = nb.program.splitlines(keepends=True)
        end = first - 1 + len(text.splitlines())
        candidate = "".join(program[: first - 1]) + fixed + "".join(program[end:])
        if not _notebook_parses(candidate, first, fixed):
            continue
        nb.set_cell_lines(
            cell, fixed[:-1].split("\n") if fixed.endswith("\n") else fixed.split("\n")
        )
        result.applied.extend(applied)
        changed = True
    return changed


def _notebook_parses(program: str, first: int, cell: str) -> bool:
    """The fixed cell compiles on its own, as IPython runs it, and the whole program
    still parses with LibCST (which the next check reads)."""
    from devlint.checker import compile_error

    if compile_error(program, "<fixed>", [(first, cell)]) is not None:
        return False
    try:
        cst.parse_module(program)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return False
    return True


def _shift(finding: Finding, rows: int) -> Finding:
    """`finding` with its fix's rows moved up by `rows` (program -> cell coordinates)."""
    assert finding.fix is not None
    edits = [
        {
            **e,
            "location": {**e["location"], "row": e["location"]["row"] - rows},
            "end_location": {**e["end_location"], "row": e["end_location"]["row"] - rows},
        }
        for e in finding.fix["edits"]
    ]
    return dataclasses.replace(finding, fix={**finding.fix, "edits": edits})
