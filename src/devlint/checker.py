"""Check one file: read, parse, analyse, run the rules, resolve positions, suppress.

Notebooks are checked as the program their code cells make (`devlint.notebooks`), and
each finding is mapped back to its cell.  Suppression comments (`devlint.suppression`)
are applied last, on the program's own lines.

Positions are resolved only for files that have something to report: LibCST's
`PositionProvider` costs about as much as parsing, and most files are clean.
"""

from __future__ import annotations

import contextlib
import io
import tokenize
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Protocol, Sequence

import libcst as cst

from devlint import notebooks, suppression
from devlint.engine import analyze
from devlint.engine.options import EngineOptions
from devlint.engine.summary import imports_summary
from devlint.files import is_notebook
from devlint.findings import Finding, syntax_finding
from devlint.meta_rules import UNUSED_SUPPRESSION
from devlint.positions import Placed, positions_of, render
from devlint.prefilter import may_have_findings
from devlint.roles import PROGRAM, RolePatterns
from devlint.rules import Report, Rule
from devlint.rules.base import Fix


class Reuse(Protocol):
    """What earlier checks of the same buffer parsed, for the language server, which
    checks a buffer again after every pause in typing (`lsp_incremental.BufferMemo`).
    Each method returns exactly what the function it stands for would."""

    def parse(self, text: str) -> cst.Module:  # `libcst.parse_module`
        ...

    def positions(
        self, module: cst.Module, nodes: Iterable[cst.CSTNode]
    ) -> Mapping[int, Placed]:  # `positions.positions_of`
        ...

    def scan(self, text: str) -> suppression.FileComments:  # `suppression.scan`
        ...


def engine_options(
    path: str,
    device_names: Sequence[str] = (),
    gpu_guards: Sequence[str] = (),
    roles: Optional[RolePatterns] = None,
    role: Optional[str] = None,
    *,
    program: bool = False,
    package: str = "",
    project: tuple[tuple[str, str], ...] = (),
) -> EngineOptions:
    """The analysis options of one file: a notebook (`program`) is a program; otherwise
    `role` when given, else what `roles` (the `library`/`scripts` settings) and the
    file's place say."""
    patterns = roles or RolePatterns()
    if program:
        role = PROGRAM
    elif role is None:
        role = patterns.role_for(path)
    return EngineOptions(
        device_names=tuple(device_names),
        gpu_guards=tuple(gpu_guards),
        role=role,
        test_suite=not program and patterns.in_test_suite(path),
        notebook=program,
        package=package,
        project=project,
    )


def _parse_error_finding(text: str, path: str, exc: cst.ParserSyntaxError) -> Finding:
    """DL000 for a file LibCST cannot parse, at the place Python itself would name.

    LibCST's native parser reports the start of the line (column 0, sometimes the line
    before), so Python's compiler, which never runs the code, is asked for the 1-based
    line and column and its clearer message ("'(' was never closed").  When Python
    accepts what LibCST rejects (newer syntax than LibCST knows), LibCST's words stay."""
    error = compile_error(text, path)
    if error is not None:
        return error
    lines = text.splitlines()
    line, col = exc.editor_line, exc.editor_column
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    col = min(max(col, 1), len(src) + 1)
    return syntax_finding(path, line, col, f"LibCST cannot parse this file: {exc.message}", src)


# `PyCF_ALLOW_TOP_LEVEL_AWAIT` (Python 3.8+): IPython runs a cell's top-level `await`
_ALLOW_TOP_LEVEL_AWAIT = 0x2000


def compile_error(
    text: str, path: str, cells: Optional[Sequence[tuple[int, str]]] = None
) -> Optional[Finding]:
    """DL000 when Python's compiler rejects the file (it compiles to bytecode and runs
    nothing): every file is checked, whether or not it can hold a device finding, so a
    file that would fail at import is reported as it would fail.  A notebook's `cells`
    (first program line, code) are compiled one by one, as IPython runs them: a
    `from __future__` import or a top-level `await` at the start of a cell is fine.
    Warnings about the source (invalid escape sequences...) are the user's business."""
    units = cells if cells is not None else [(1, text)]
    flags = _ALLOW_TOP_LEVEL_AWAIT if cells is not None else 0
    first = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start, unit in units:
                first = start
                compile(unit, path, "exec", flags=flags, dont_inherit=True)
    except SyntaxError as err:
        lines = text.splitlines()
        line = (err.lineno or 1) + first - 1
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        col = min(max(err.offset or 1, 1), len(src) + 1)
        return syntax_finding(path, line, col, f"syntax error: {err.msg}", src)
    except ValueError as exc:  # source code string cannot contain null bytes
        return syntax_finding(path, 1, 1, f"cannot parse file: {exc}")
    except (RecursionError, MemoryError):
        return syntax_finding(path, 1, 1, "file is nested too deeply to parse")
    return None


def decode_source(data: bytes) -> str:
    """Decode as Python does: BOM, then a coding cookie, else UTF-8 (strict)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def check_source(
    data: bytes | str,
    path: str,
    rules: Sequence[Rule],
    *,
    device_names: Sequence[str] = (),
    gpu_guards: Sequence[str] = (),
    roles: Optional[RolePatterns] = None,
    role: Optional[str] = None,
    noqa: bool = True,
    notebook: Optional[bool] = None,
    max_code_bytes: Optional[int] = None,
    reuse: Optional[Reuse] = None,
    package: str = "",
    project: tuple[tuple[str, str], ...] = (),
    collect: Optional[dict] = None,
) -> list[Finding]:
    """All findings for one file's contents (DL000 when it cannot be decoded or parsed).

    `device_names`: extra names that hold the target device (`device-names` setting).
    `gpu_guards`: decorators and markers that run code only where an accelerator is.
    `role`: library code or a script (`devlint.roles`); when not given, `roles` (the
    `library`/`scripts` settings) and the file's place decide.
    `noqa`: honour suppression comments (`--ignore-noqa` turns it off).
    `notebook`: read the contents as a Jupyter notebook (default: when `path` ends in
    `.ipynb`).  Findings in a notebook carry their cell and the line within it.
    `max_code_bytes`: a notebook whose code cells hold more is reported, not analysed.
    `reuse`: what an earlier check of the same buffer parsed (see `check_text`).
    `package`, `project`: where relative imports start and what the project's other
    modules say about the names this one imports (`devlint.project`).
    `collect`: filled with the file's summary and the imported names its analysis asked
    about (`check_text`).
    """
    if notebook is None:
        notebook = is_notebook(path)
    engine = engine_options(
        path,
        device_names,
        gpu_guards,
        roles,
        role,
        program=notebook,
        package=package,
        project=project,
    )
    if notebook:
        return _check_notebook(
            data,
            path,
            rules,
            engine=engine,
            noqa=noqa,
            max_code_bytes=max_code_bytes,
            reuse=reuse,
            collect=collect,
        )
    if isinstance(data, bytes):
        if b"\x00" in data:
            return [syntax_finding(path, 1, 1, "file contains a null byte; is it a binary file?")]
        try:
            text = decode_source(data)
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            return [syntax_finding(path, 1, 1, f"cannot decode file: {exc}")]
    else:
        text = data
    return check_text(text, path, rules, engine=engine, noqa=noqa, reuse=reuse, collect=collect)


def check_text(
    text: str,
    path: str,
    rules: Sequence[Rule],
    *,
    engine: Optional[EngineOptions] = None,
    device_names: Sequence[str] = (),
    gpu_guards: Sequence[str] = (),
    roles: Optional[RolePatterns] = None,
    noqa: bool = True,
    cells: Optional[Sequence[tuple[int, str]]] = None,
    reuse: Optional[Reuse] = None,
    collect: Optional[dict] = None,
) -> list[Finding]:
    """Findings for decoded Python source: parse, analyse, run the rules, suppress.
    `engine`: the analysis options (else built from `device_names`, `gpu_guards` and
    `roles`, as `check_source` does).
    `cells`: a notebook program's cells, (first line, code), compiled one by one.
    `reuse`: the language server's memo of one buffer (`lsp_incremental.BufferMemo`):
    its `parse`, `positions` and `scan` return what `libcst.parse_module`,
    `positions_of` and `suppression.scan` would, re-parsing only what an edit touched.
    `collect`: when given, receives `summary` (what importers learn from this module,
    `engine.summary`; None when it cannot be parsed) and `asked` (the imported names
    whose facts the analysis looked up)."""
    if engine is None:
        engine = engine_options(path, device_names, gpu_guards, roles, program=cells is not None)
    if collect is not None:
        collect["summary"], collect["asked"] = None, []
    if noqa and suppression.has_skip_file(text):
        return []
    report_unused = noqa and any(r.code == UNUSED_SUPPRESSION.code for r in rules)
    engine_rules = [r for r in rules if r.code != UNUSED_SUPPRESSION.code]
    findings: list[Finding] = []
    analyse = bool(engine_rules) and may_have_findings(text)
    error = compile_error(text, path, cells)
    if error is not None:
        return [error]
    if (
        collect is not None
        and not analyse
        and "import" in text
        and (path.endswith("__init__.py") or "import *" in text)
    ):
        # a package's `__init__.py` (or a star import) that never mentions torch may
        # still re-export names
        with contextlib.suppress(cst.ParserSyntaxError, RecursionError):
            collect["summary"] = imports_summary(cst.parse_module(text), engine.package)
    if analyse:
        try:
            module = reuse.parse(text) if reuse is not None else cst.parse_module(text)
        except cst.ParserSyntaxError as exc:
            return [_parse_error_finding(text, path, exc)]
        except RecursionError:
            return [syntax_finding(path, 1, 1, "file is nested too deeply to parse")]
    if analyse:
        try:
            facts = analyze(module, text, options=engine)
        except RecursionError:
            return [syntax_finding(path, 1, 1, "file is nested too deeply to analyse")]
        if collect is not None:
            collect["summary"], collect["asked"] = facts.summary, sorted(facts.asked)
        reports: list[Report] = []
        for rule in engine_rules:
            reports.extend(rule.check(facts))
        if reports:
            findings = _locate(
                module,
                text,
                reports,
                path,
                {r.code: r for r in engine_rules},
                reuse.positions if reuse is not None else positions_of,
            )
    if not noqa or (not findings and not report_unused):
        return findings
    comments = reuse.scan(text) if reuse is not None else suppression.scan(text)
    enabled = [r.code for r in rules]
    kept = suppression.apply(findings, comments, enabled, report_unused)
    lines = text.splitlines()
    kept = [
        f
        if f.path
        else replace(
            f, path=path, source_line=lines[f.line - 1] if 0 < f.line <= len(lines) else ""
        )
        for f in kept
    ]
    kept.sort(key=lambda f: f.sort_key)
    return kept


def _locate(
    module: cst.Module,
    text: str,
    reports: list[Report],
    path: str,
    rules: dict[str, Rule],
    place: Callable[[cst.Module, list[cst.CSTNode]], Mapping[int, Placed]] = positions_of,
) -> list[Finding]:
    wanted = [rep.node for rep in reports]
    for rep in reports:
        wanted.extend(ref for _, ref in rep.refs)
        wanted.extend(rep.covers)
        if rep.fix is not None:
            wanted.extend(edit.node for edit in rep.fix.edits)
    positions = place(module, wanted)
    lines = text.splitlines()
    seen: set[tuple[str, int, int]] = set()
    findings = []
    for rep in reports:
        pos = positions.get(id(rep.node))
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
            ref_pos = positions.get(id(ref))
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
                fix=_locate_fix(module, rep.fix, positions),
                asset=rep.asset,
                also_lines=tuple(
                    sorted({positions[id(n)].start.line for n in rep.covers if id(n) in positions})
                ),
            )
        )
    findings.sort(key=lambda f: f.sort_key)
    return findings


def _locate_fix(
    module: cst.Module, fix: Optional[Fix], positions: Mapping[int, Placed]
) -> Optional[dict]:
    """A fix in ruff's JSON shape: edits with 1-based row/column start and (exclusive) end,
    each new node rendered by LibCST in the indentation of the blocks around the old one."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        pos = positions.get(id(edit.node))
        if pos is None:
            return None
        indent = "".join(pos.indent_tokens)
        if edit.insert_before:
            line = edit.replacement
            if not isinstance(line, cst.BaseStatement):
                line = cst.SimpleStatementLine(body=[line])
            content = render(module, line, pos.indent_tokens)[len(indent) :] + indent
            end = pos.start
        else:
            content = _render_replacement(module, edit.node, edit.replacement, pos)
            end = pos.end
        edits.append(
            {
                "content": content,
                "location": {"row": pos.start.line, "column": pos.start.column + 1},
                "end_location": {"row": end.line, "column": end.column + 1},
            }
        )
    return {"applicability": fix.applicability, "message": fix.title, "edits": edits}


def _render_replacement(
    module: cst.Module, node: cst.CSTNode, replacement: cst.CSTNode, pos: Placed
) -> str:
    """The text that takes the place of `node`'s span.  The span leaves out the node's own
    parentheses, which stay in the file: a replacement made from the node keeps the
    same parentheses (`with_changes` shares them), so those are left out of its text."""
    text = render(module, replacement, pos.indent_tokens)
    lpar = getattr(node, "lpar", ())
    if lpar and getattr(replacement, "lpar", None) is lpar:
        head = sum(len(render(module, p)) for p in lpar)
        tail = sum(len(render(module, p)) for p in replacement.rpar)  # type: ignore[attr-defined]
        text = text[head : len(text) - tail]
    return text


# --- notebooks ------------------------------------------------------------------------

# rules whose failure a notebook can show in a saved error output (a device mismatch, a
# GPU tensor to NumPy)
DEMONSTRABLE = frozenset({"DL001", "DL003", "DL004", "DL005", "DL006", "DL007", "DL009"})


def _check_notebook(
    data: bytes | str,
    path: str,
    rules: Sequence[Rule],
    *,
    engine: EngineOptions,
    noqa: bool = True,
    max_code_bytes: Optional[int] = None,
    reuse: Optional[Reuse] = None,
    collect: Optional[dict] = None,
) -> list[Finding]:
    """A notebook's code cells checked as one program, findings mapped back to cells."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return [syntax_finding(path, 1, 1, f"cannot decode notebook (not UTF-8): {exc}")]
    else:
        text = data
    if not text.strip():
        # often a large-file pointer that was never fetched, or a failed save
        return [syntax_finding(path, 1, 1, "notebook file is empty: a notebook is JSON")]
    try:
        nb = notebooks.read(text)
    except notebooks.NotebookError as err:
        lines = text.splitlines()
        src = lines[err.line - 1] if 0 < err.line <= len(lines) else ""
        return [syntax_finding(path, err.line, err.col, err.message, src)]
    if not nb.python:
        return []
    code_bytes = len(nb.program.encode("utf-8"))
    if max_code_bytes and code_bytes > max_code_bytes:
        return [
            syntax_finding(
                path,
                1,
                1,
                f"skipped: the notebook's code is {code_bytes / 1e6:.1f} MB, over "
                f"--max-file-size ({max_code_bytes / 1e6:g} MB); generated code?",
            )
        ]
    found = check_text(
        nb.program,
        path,
        rules,
        engine=engine,
        noqa=noqa,
        cells=program_cells(nb),
        reuse=reuse,
        collect=collect,
    )
    transformed = {
        cell
        for cell, lines in nb.cell_lines.items()
        if [t for t, _, _ in notebooks.transform_cell(lines)] != lines
    }
    mapped: Iterable[Finding] = (map_to_cells(nb, f) for f in found)
    shown = notebooks.demonstrated_failures(nb)
    if shown:
        # the notebook's saved output shows this failure: a demonstration, not a defect
        mapped = [
            f
            for f in mapped
            if f.code not in DEMONSTRABLE
            or ((f.cell, 0) not in shown and (f.cell, f.line) not in shown)
        ]
    return sorted(
        # a cell holding a magic or a shell line is never rewritten (`fix.fix_notebook`):
        # its findings offer no fix, so counts and markers say what `--fix` will do
        (replace(f, fix=None) if f.fix and f.cell in transformed else f for f in mapped),
        key=lambda f: f.sort_key,
    )


def program_cells(nb: notebooks.Notebook) -> list[tuple[int, str]]:
    """The combined program cut back into its cells: (first program line, code)."""
    lines = nb.program.splitlines(keepends=True)
    origins = nb.origins

    def cell_of(i: int) -> Optional[int]:
        return origins[i].cell if i < len(origins) else None

    cells: list[tuple[int, str]] = []
    start = 0
    for i in range(1, len(lines) + 1):
        if i == len(lines) or cell_of(i) != cell_of(start):
            cells.append((start + 1, "".join(lines[start:i])))
            start = i
    return cells


def map_to_cells(nb: notebooks.Notebook, f: Finding) -> Finding:
    """A finding on the combined program, placed in its cell (and in the file's text)."""
    cell, line, col = nb.cell_position(f.line, f.col)
    end_cell, end_line, end_col = nb.cell_position(f.end_line, f.end_col)
    source_line = nb.source_line(cell, line)
    if end_cell != cell or (end_line, end_col) < (line, col):
        end_line, end_col = line, len(source_line) + 1
    noqa_row = None
    if f.noqa_row is not None:
        noqa_cell, noqa_row, _ = nb.cell_position(f.noqa_row, 1)
        if noqa_cell != cell:
            noqa_row = line
    start_raw = nb.file_position(cell, line, col)
    end_raw = nb.file_position(cell, end_line, end_col) if start_raw else None
    file_span = None
    if start_raw is not None:
        if end_raw is None or end_raw < start_raw:
            end_raw = (start_raw[0], start_raw[1] + 1)
        file_span = (*start_raw, *end_raw)
    fix = f.fix
    if fix is not None:
        fix = _map_fix(nb, fix)
    return replace(
        f,
        line=line,
        col=col,
        end_line=end_line,
        end_col=end_col,
        cell=cell,
        noqa_row=noqa_row,
        source_line=source_line,
        file_span=file_span,
        fix=fix,
    )


def _map_fix(nb: notebooks.Notebook, fix: dict) -> Optional[dict]:
    edits = []
    for edit in fix.get("edits", []):
        start, end = edit["location"], edit["end_location"]
        cell, row, col = nb.cell_position(start["row"], start["column"])
        end_cell, end_row, end_col = nb.cell_position(end["row"], end["column"])
        if end_cell != cell:
            return None
        edits.append(
            {
                "content": edit["content"],
                "location": {"row": row, "column": col},
                "end_location": {"row": end_row, "column": end_col},
            }
        )
    return {**fix, "edits": edits}


def read_source(path: Path | str) -> bytes:
    return Path(path).read_bytes()


def check_file(
    path: Path | str,
    rules: Sequence[Rule],
    display: str | None = None,
    *,
    device_names: Sequence[str] = (),
    gpu_guards: Sequence[str] = (),
    roles: Optional[RolePatterns] = None,
    noqa: bool = True,
) -> list[Finding]:
    """Read and check one file; an unreadable file is a DL000 finding, not a crash."""
    shown = display if display is not None else str(path)
    try:
        data = read_source(path)
    except OSError as exc:
        return [syntax_finding(shown, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    return check_source(
        data,
        shown,
        rules,
        device_names=device_names,
        gpu_guards=gpu_guards,
        roles=roles,
        noqa=noqa,
        notebook=is_notebook(str(path)),
    )
