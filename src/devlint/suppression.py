"""Suppression comments: `# noqa`, `# devlint: ignore[...]`, `# devlint: skip-file`.

- `# noqa: DL001` (several codes separated by commas or spaces) hides those codes, and a
  bare `# noqa` hides every finding, as in flake8 and ruff.  Codes of other tools in the
  same comment (`# noqa: E501, DL003`) are left to them.
- `# devlint: ignore[DL001, DL003]` is devlint's own form; a bare `# devlint: ignore`
  hides every devlint finding on the line.
- `# devlint: skip-file` on a line of its own skips the whole file.

A suppression counts on the line a finding is reported on, or on the last line of the
multi-line statement that contains it.  Only real comments count (the file is
tokenized), never text inside strings.  DL100 `unused-suppression` (off by default)
reports a devlint code in such a comment that hid nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Sequence

from devlint.findings import Finding
from devlint.meta_rules import UNUSED_SUPPRESSION
from devlint.rules import SYNTAX_ERROR

NOQA_RE = re.compile(
    r"#\s*noqa(?![\w-])(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
DEVLINT_IGNORE_RE = re.compile(r"#\s*devlint:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)
SKIP_FILE_RE = re.compile(r"^\s*#\s*devlint:\s*skip-file\s*$", re.IGNORECASE)
CODE_RE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)


@dataclass
class Directive:
    """One suppression comment: `codes` None means every code."""

    kind: str  # "noqa" or "devlint"
    line: int
    col: int  # 1-based column of the directive's `#`
    end_col: int  # exclusive
    codes: Optional[tuple[str, ...]]
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


@dataclass
class FileComments:
    """What the suppression layer needs to know about one file's text."""

    directives: dict[int, list[Directive]] = field(default_factory=dict)
    # For each line inside a multi-line statement: the statement's last line.
    statement_end: dict[int, int] = field(default_factory=dict)
    # Lines that end outside strings and without a backslash: a comment can be added there.
    commentable: set[int] = field(default_factory=set)
    skip_file: bool = False
    tokenized: bool = True

    def noqa_row(self, line: int) -> int:
        """Where a `# noqa` for a finding on `line` goes."""
        if line in self.commentable or not self.tokenized:
            return line
        return self.statement_end.get(line, line)

    def all_directives(self) -> Iterable[Directive]:
        for line in sorted(self.directives):
            yield from self.directives[line]


def _codes(text: Optional[str]) -> Optional[tuple[str, ...]]:
    if text is None:
        return None
    return tuple(c.upper() for c in CODE_RE.findall(text))


def parse_comment(comment: str, line: int, col0: int) -> list[Directive]:
    """The directives in one comment token that starts at 0-based column `col0`."""
    found = []
    for m in NOQA_RE.finditer(comment):
        found.append(
            Directive("noqa", line, col0 + m.start() + 1, col0 + m.end() + 1, _codes(m["codes"]))
        )
    for m in DEVLINT_IGNORE_RE.finditer(comment):
        codes = _codes(m["codes"]) if m["codes"] is not None else None
        found.append(Directive("devlint", line, col0 + m.start() + 1, col0 + m.end() + 1, codes))
    return found


def scan(text: str) -> FileComments:
    """Find the comments and statement extents of `text` (a whole file)."""
    result = FileComments()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError, ValueError):
        return _scan_lines(text)
    start: Optional[int] = None
    for tok in tokens:
        ttype = tok.type
        if ttype == tokenize.COMMENT:
            line, col = tok.start
            if SKIP_FILE_RE.match(tok.line) and tok.line.strip() == tok.string.strip():
                result.skip_file = True
            for d in parse_comment(tok.string, line, col):
                result.directives.setdefault(line, []).append(d)
            continue
        if ttype in (tokenize.NL, tokenize.NEWLINE):
            result.commentable.add(tok.start[0])
        if ttype == tokenize.NEWLINE:
            if start is not None:
                end = tok.start[0]
                for line in range(start, end + 1):
                    result.statement_end[line] = end
            start = None
            continue
        if ttype in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if start is None:
            start = tok.start[0]
    return result


def _scan_lines(text: str) -> FileComments:
    """A fallback for text that does not tokenize: look for directives line by line."""
    result = FileComments(tokenized=False)
    for number, line in enumerate(text.splitlines(), start=1):
        if SKIP_FILE_RE.match(line):
            result.skip_file = True
        hash_at = line.find("#")
        if hash_at >= 0:
            for d in parse_comment(line[hash_at:], number, hash_at):
                result.directives.setdefault(number, []).append(d)
    return result


def has_skip_file(text: str) -> bool:
    """True if `text` has a `# devlint: skip-file` comment line (cheap check first)."""
    if "skip-file" not in text:
        return False
    return scan(text).skip_file


def apply(
    findings: Sequence[Finding],
    comments: FileComments,
    enabled: Iterable[str],
    report_unused: bool,
) -> list[Finding]:
    """Drop suppressed findings, set `noqa_row`, and add DL100 findings if asked."""
    kept = []
    for f in findings:
        if f.code == SYNTAX_ERROR[0]:
            kept.append(f)
            continue
        lines = {f.line, comments.statement_end.get(f.line, f.line)}
        hit = False
        for line in sorted(lines):
            for d in comments.directives.get(line, ()):
                if d.covers(f.code):
                    d.used.add(f.code)
                    hit = True
        if not hit:
            kept.append(replace(f, noqa_row=comments.noqa_row(f.line)))
    if report_unused:
        kept.extend(unused(comments, set(enabled), kept))
    return kept


def unused(comments: FileComments, enabled: set[str], findings: Sequence[Finding]) -> list[Finding]:
    """DL100 for each devlint code in a suppression comment that hid nothing.

    Codes of other tools are theirs to judge, and a bare `# noqa` may serve them, so
    neither is reported; nor is a code whose rule this run does not enable."""
    from devlint.rules import KNOWN_CODES

    rule = UNUSED_SUPPRESSION
    out = []
    for d in comments.all_directives():
        what = "`noqa` directive" if d.kind == "noqa" else "`devlint: ignore` comment"
        if d.codes is None:
            if d.kind == "noqa" or d.used:
                continue
            message = f"unused {what}: it suppresses nothing on this line"
            help_ = "remove the comment"
        else:
            ours = [c for c in d.codes if c.startswith("DL")]
            stale = [c for c in ours if c in KNOWN_CODES and c in enabled and c not in d.used]
            unknown = [c for c in ours if c not in KNOWN_CODES]
            if not stale and not unknown:
                continue
            parts = []
            if stale:
                parts.append(f"unused: {', '.join(stale)}")
            if unknown:
                parts.append(f"unknown: {', '.join(unknown)}")
            message = f"unused {what} ({'; '.join(parts)})"
            drop = [*stale, *unknown]
            keep = [c for c in d.codes if c not in drop]
            help_ = f"remove {', '.join(drop)} from the comment" if keep else "remove the comment"
        out.append(
            Finding(
                code=rule.code,
                name=rule.name,
                message=message,
                path="",
                line=d.line,
                col=d.col,
                end_line=d.line,
                end_col=d.end_col,
                help=help_,
                severity=rule.severity,
                noqa_row=d.line,
            )
        )
    return out


# --- --add-noqa -----------------------------------------------------------------------


def add_noqa_to_lines(
    lines: list[str],
    wanted: dict[int, set[str]],
    text: str,
    offsets: Optional[dict[int, int]] = None,
) -> int:
    """Add `# noqa: CODES` to `lines` (each with its line ending) at the 1-based rows of
    `wanted`; merge into an existing `# noqa: ...` on that line.  Returns the number of
    rows changed.  `text` is the joined program, used to find the real comments;
    `offsets`: per row, where the program's text starts in the line (a notebook's
    `%time s = ...` holds the program's `s = ...` 6 columns in)."""
    comments = scan(text)
    changed = 0
    for row, codes in sorted(wanted.items()):
        if not 0 < row <= len(lines):
            continue
        raw = lines[row - 1]
        body = raw.rstrip("\r\n")
        ending = raw[len(body) :]
        existing = [d for d in comments.directives.get(row, []) if d.kind == "noqa"]
        if existing:
            d = existing[0]
            if d.codes is None:
                continue
            merged = sorted({*d.codes, *codes})
            if set(merged) == set(d.codes):
                continue
            new = f"# noqa: {', '.join(merged)}"
            shift = (offsets or {}).get(row, 0)
            body = body[: d.col - 1 + shift] + new + body[d.end_col - 1 + shift :]
        else:
            body = f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}"
        lines[row - 1] = body + ending
        changed += 1
    return changed
