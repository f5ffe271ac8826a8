"""Check one file: read, parse, analyse, run the rules, resolve positions.

Positions are resolved only for files that have something to report: LibCST's
`PositionProvider` costs about as much as parsing, and most files are clean.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from pathlib import Path
from typing import Mapping, Optional, Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from devlint.engine import analyze
from devlint.findings import Finding
from devlint.rules import SYNTAX_ERROR, Report, Rule
from devlint.rules.base import Fix


def _syntax_finding(path: str, line: int, col: int, message: str, source_line: str = "") -> Finding:
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


def _parse_error_finding(text: str, path: str, exc: cst.ParserSyntaxError) -> Finding:
    """DL000 at the place Python itself would name.

    LibCST's native parser reports the start of the line (column 0, sometimes the line
    before), so ask Python's own parser, which only builds a tree and never runs the
    code, for the 1-based line and column and its clearer message ("'(' was never
    closed").  When Python accepts what LibCST rejects, keep LibCST's words.
    """
    lines = text.splitlines()
    line, col, message = exc.editor_line, exc.editor_column, exc.message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as err:
        if err.lineno:
            line, col, message = err.lineno, err.offset or 1, err.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    col = min(max(col, 1), len(src) + 1)
    return _syntax_finding(path, line, col, f"syntax error: {message}", src)


def decode_source(data: bytes) -> str:
    """Decode as Python does: BOM, then a coding cookie, else UTF-8 (strict)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def check_source(data: bytes | str, path: str, rules: Sequence[Rule]) -> list[Finding]:
    """All findings for one file's contents (DL000 when it cannot be decoded or parsed)."""
    if isinstance(data, bytes):
        if b"\x00" in data:
            return [_syntax_finding(path, 1, 1, "file contains a null byte; is it a binary file?")]
        try:
            text = decode_source(data)
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            return [_syntax_finding(path, 1, 1, f"cannot decode file: {exc}")]
    else:
        text = data
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        return [_parse_error_finding(text, path, exc)]
    except RecursionError:
        return [_syntax_finding(path, 1, 1, "file is nested too deeply to parse")]
    if not rules:
        return []
    facts = analyze(module, text)
    reports: list[Report] = []
    for rule in rules:
        reports.extend(rule.check(facts))
    if not reports:
        return []
    return _locate(module, text, reports, path, {r.code: r for r in rules})


def _locate(
    module: cst.Module, text: str, reports: list[Report], path: str, rules: dict[str, Rule]
) -> list[Finding]:
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    lines = text.splitlines()
    seen: set[tuple[str, int, int]] = set()
    findings = []
    for rep in reports:
        pos = positions.get(rep.node)
        if pos is None:
            continue
        start, end = pos.start, pos.end
        key = (rep.code, start.line, start.column)
        if key in seen:
            continue
        seen.add(key)
        rule = rules[rep.code]
        message = rep.message
        for name, ref in rep.refs:
            ref_pos = positions.get(ref)
            message = message.replace("{" + name + "}", str(ref_pos.start.line) if ref_pos else "?")
        findings.append(
            Finding(
                code=rep.code,
                name=rule.name,
                message=message,
                path=path,
                line=start.line,
                col=start.column + 1,
                end_line=end.line,
                end_col=end.column + 1,
                help=rep.help,
                severity=rule.severity,
                source_line=lines[start.line - 1] if start.line <= len(lines) else "",
                fix=_locate_fix(rep.fix, positions, lines),
            )
        )
    findings.sort(key=lambda f: f.sort_key)
    return findings


def _locate_fix(
    fix: Optional[Fix], positions: Mapping[cst.CSTNode, CodeRange], lines: list[str]
) -> Optional[dict]:
    """A fix in ruff's JSON shape: edits with 1-based row/column start and (exclusive) end."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        pos = positions.get(edit.node)
        if pos is None:
            return None
        end = pos.start if edit.insert_before else pos.end
        line = lines[pos.start.line - 1] if pos.start.line <= len(lines) else ""
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        edits.append(
            {
                "content": edit.content.replace("{indent}", indent),
                "location": {"row": pos.start.line, "column": pos.start.column + 1},
                "end_location": {"row": end.line, "column": end.column + 1},
            }
        )
    return {"applicability": fix.applicability, "message": fix.title, "edits": edits}


def check_file(
    path: Path | str, rules: Sequence[Rule], display: str | None = None
) -> list[Finding]:
    """Read and check one file; an unreadable file is a DL000 finding, not a crash."""
    shown = display if display is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [_syntax_finding(shown, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    return check_source(data, shown, rules)
