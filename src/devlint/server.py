"""`devlint server`: devlint as a Language Server Protocol server over stdio.

The cheapest moment to catch a device bug is while typing it, so the editor gets the
same findings as the command line: each open `.py` buffer (unsaved text included) is
checked by `run.check_source` with a `settings.Resolver`, the run and the per-file
configuration resolution the command line uses (nearest `pyproject.toml`, `devlint.toml`
or `.devlint.toml`), so the editor and `devlint` never disagree.

- Diagnostics on open, save and change (debounced: one analysis per pause in typing),
  pushed (`textDocument/publishDiagnostics`) to clients that cannot pull, and answered
  to `textDocument/diagnostic` (pull).  A result for a version the buffer has left is
  never published.  Each check re-parses only the top-level statements an edit
  touched (`lsp_incremental`); the findings are those of a check from scratch.
- Notebook documents (`notebookDocument/*`, Python cells): the cells are checked as
  one notebook, as the command line checks the `.ipynb` file (`lsp_notebook`), and
  each cell gets its own diagnostics, ranges relative to the cell; fixes, suppressions
  and hover work on cells, and fix-all fixes the whole notebook.
- Code actions: each finding's fix (safe: a preferred quick fix; unsafe: listed, not
  preferred), with the edit `devlint --fix` writes; "suppress DLxxx on this line"
  (the `# noqa` comment `--add-noqa` writes); and `source.fixAll.devlint`, the whole
  `--fix` loop (safe fixes only unless the `unsafeFixes` setting is on).
- Hover on a finding: the rule's explanation, the text of `devlint rule DLxxx`.
- Settings (`select`, `ignore`, `extendSelect`, `configuration`, `unsafeFixes`,
  `debounceMs`) from `initializationOptions` and `workspace/didChangeConfiguration`
  (either bare or under a `devlint` key); a changed configuration file
  (`didChangeWatchedFiles`, or saving one) re-checks the open buffers.

Never crash the editor: a file that does not parse gets its DL000 diagnostic from the
check itself; any other error is logged to the client (`window/logMessage`) and the
server goes on serving.  The analysis runs in one worker thread so the protocol stays
responsive while a large file is checked; it only parses, never imports or runs the
user's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Sequence, TypeVar
from urllib.parse import unquote

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from devlint import __version__, config, lsp_incremental, lsp_notebook, lsp_text
from devlint import run as run_module
from devlint.docs import url
from devlint.findings import Finding
from devlint.rules import SYNTAX_ERROR, is_valid_selector
from devlint.settings import CommandLine, Resolver

logger = logging.getLogger("devlint.server")

SOURCE = "devlint"
FIX_ALL_KIND = "source.fixAll.devlint"
NOTEBOOK_FIX_ALL_KIND = "notebook.source.fixAll.devlint"
CONFIG_NAMES = ("pyproject.toml", "devlint.toml", ".devlint.toml")
PYTHON_SUFFIXES = (".py", ".pyi")
DEFAULT_DEBOUNCE_MS = 150
# codes a noqa comment cannot usefully silence: DL000 (the parser's) and DL100 (the
# suppression comments' own rule)
NO_SUPPRESS = frozenset({SYNTAX_ERROR[0], "DL100"})


# --- settings ---------------------------------------------------------------------------


def _codes(value: Any) -> tuple[str, ...]:
    """A list of codes, or a comma-separated string of them, as editors' settings send."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip().upper() for item in items if str(item).strip())


def _pick(raw: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in raw:
            return raw[name]
    return None


@dataclass(frozen=True)
class WorkspaceSettings:
    """The editor's settings for devlint; each applies on top of the configuration file,
    as the command line's options do."""

    select: Optional[tuple[str, ...]] = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    configuration: Optional[str] = None  # one configuration file for every file
    unsafe_fixes: bool = False
    debounce_ms: int = DEFAULT_DEBOUNCE_MS

    def updated(self, raw: Any) -> tuple[WorkspaceSettings, list[str]]:
        """These settings with those in `raw` (an editor's JSON object, bare or under a
        `devlint` key) replacing theirs; and warnings for values that cannot be used."""
        if not isinstance(raw, dict):
            return self, []
        if isinstance(raw.get("devlint"), dict):
            raw = raw["devlint"]
        warnings: list[str] = []
        changes: dict[str, Any] = {}

        def codes(*names: str) -> Optional[tuple[str, ...]]:
            value = _pick(raw, *names)
            if value is None:
                return None
            found = _codes(value)
            bad = [c for c in found if not is_valid_selector(c)]
            if bad:
                warnings.append(f"devlint: unknown rule selector(s) {', '.join(bad)} ignored")
            return tuple(c for c in found if is_valid_selector(c))

        select = codes("select")
        if select is not None:
            changes["select"] = select or None
        for attr, names in (
            ("ignore", ("ignore",)),
            ("extend_select", ("extendSelect", "extend-select", "extend_select")),
        ):
            value = codes(*names)
            if value is not None:
                changes[attr] = value
        if any(k in raw for k in ("configuration", "config")):
            path = _pick(raw, "configuration", "config")
            changes["configuration"] = str(path) if path else None
        unsafe = _pick(raw, "unsafeFixes", "unsafe-fixes", "unsafe_fixes")
        if unsafe is not None:
            changes["unsafe_fixes"] = bool(unsafe)
        debounce = _pick(raw, "debounceMs", "debounce-ms", "debounce_ms")
        if debounce is not None:
            try:
                changes["debounce_ms"] = max(0, int(debounce))
            except (TypeError, ValueError):
                warnings.append(f"devlint: debounceMs must be a number, not {debounce!r}")
        return replace(self, **changes), warnings


# --- one analysed buffer ------------------------------------------------------------------


@dataclass
class Analysis:
    """The findings of one version of one buffer (or notebook cell) under one
    generation of settings."""

    uri: str
    version: Optional[int]
    generation: int
    text: str
    findings: list[Finding]
    lines: list[str] = field(default_factory=list)
    # a notebook cell: the notebook's URI and version
    notebook: Optional[str] = None
    notebook_version: Optional[int] = None

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = lsp_text.split_lines(self.text)

    @property
    def result_id(self) -> str:
        """Changes whenever the diagnostics may (a cell's change with the notebook's)."""
        return f"{self.generation}:{self.notebook_version}:{self.version}:{hash(self.text)}"


@dataclass
class NotebookAnalysis:
    """The findings of one version of one notebook, cell by cell."""

    uri: str
    version: int
    generation: int
    cells: list[lsp_notebook.Cell]
    by_cell: dict[str, Analysis]


F = TypeVar("F", bound=Callable[..., Any])


class DevlintServer(LanguageServer):
    """The server's state: settings, the resolver they make, each buffer's analysis."""

    def __init__(self) -> None:
        super().__init__(
            "devlint",
            __version__,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
            # every notebook's Python cells; saves too (a save checks at once)
            notebook_document_sync=lsp.NotebookDocumentSyncOptions(
                notebook_selector=[
                    lsp.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[lsp.NotebookCellLanguage(language="python")]
                    )
                ],
                save=True,
            ),
        )
        self.settings = WorkspaceSettings()
        self.root = os.getcwd()
        self.generation = 0  # bumped whenever settings or a configuration file change
        self._resolver: Optional[Resolver] = None
        self.analyses: dict[str, Analysis] = {}
        self.notebook_analyses: dict[str, NotebookAnalysis] = {}
        # what the last checks of each buffer (or notebook) parsed, for the next check
        # (made on this thread, read and updated by the worker)
        self.memos: dict[str, lsp_incremental.BufferMemo] = {}
        # the cells of each notebook that were last published diagnostics
        self.published_cells: dict[str, set[str]] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        # one worker: the analysis is CPU-bound (threads would only contend for the GIL)
        # and the resolver's caches then never see two callers at once
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devlint-check")
        self.push = True  # publish diagnostics (clients that pull get no duplicates)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # counts the requests for checks: a warm-up (`warm`) stops when it moves
        self._requests = 0
        self._config_errors: set[tuple[int, str]] = set()

    # --- messages to the client ---

    def log(self, message: str, kind: lsp.MessageType = lsp.MessageType.Error) -> None:
        """Tell the client (its output panel); never raise, whatever the transport does."""
        logger.log(logging.ERROR if kind == lsp.MessageType.Error else logging.INFO, message)
        with contextlib.suppress(Exception):
            self.window_log_message(lsp.LogMessageParams(type=kind, message=message))

    def log_exception(self, what: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.log(f"devlint: internal error while {what} (please report this bug):\n{detail}")

    # --- settings and configuration ---

    def resolver(self) -> Resolver:
        """The resolver for the current settings, built on first use after a change.  A
        configuration file named in the settings that cannot be used is logged and the
        nearest-configuration discovery is used instead, so the editor still checks."""
        if self._resolver is None:
            s = self.settings
            cli = CommandLine(
                select=s.select,
                ignore=s.ignore,
                extend_select=s.extend_select,
                config_file=self._config_path(),
                cwd=self.root,
            )
            try:
                self._resolver = Resolver(cli)
            except config.ConfigError as exc:
                self.log(f"devlint: {exc}; using the nearest configuration file instead")
                self._resolver = Resolver(replace(cli, config_file=None))
        return self._resolver

    def _config_path(self) -> Optional[str]:
        path = self.settings.configuration
        if not path:
            return None
        path = os.path.expanduser(path)
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def settings_changed(self) -> None:
        """Forget the resolved configuration and every analysis made with it."""
        self._resolver = None
        self.generation += 1

    def is_config_file(self, uri: str) -> bool:
        path = to_fs_path(uri) or uri
        if os.path.basename(path) in CONFIG_NAMES:
            return True
        configured = self._config_path()
        return configured is not None and os.path.abspath(path) == os.path.abspath(configured)

    # --- documents ---

    def display_path(self, uri: str) -> str:
        """The file a buffer is checked as: its path (settings, per-file-ignores); an
        unsaved buffer counts as a file in the workspace root."""
        path = to_fs_path(uri)
        if path:
            return path
        name = uri.rsplit("/", 1)[-1] or "untitled"
        if not name.endswith(PYTHON_SUFFIXES):
            name += ".py"
        return os.path.join(self.root, name)

    def notebook_of(self, uri: str) -> Optional[lsp.NotebookDocument]:
        """The notebook a cell belongs to (None for a plain text document)."""
        return self.workspace.get_notebook_document(cell_uri=uri)

    def is_notebook(self, uri: str) -> bool:
        return self.workspace.get_notebook_document(notebook_uri=uri) is not None

    def wants(self, uri: str) -> bool:
        """Python source buffers only (a notebook's JSON opened as text is not one, and a
        notebook's cells are checked together, through the notebook)."""
        if self.notebook_of(uri) is not None:
            return False
        try:
            doc = self.workspace.get_text_document(uri)
        except Exception:
            return False
        path = to_fs_path(uri) or uri
        if path.endswith(PYTHON_SUFFIXES):
            return True
        return doc.language_id == "python" and not path.endswith(".ipynb")

    def analyse(
        self,
        uri: str,
        version: Optional[int],
        text: str,
        generation: int,
        resolver: Resolver,
        memo: Optional[lsp_incremental.BufferMemo] = None,
    ) -> Analysis:
        """Check one buffer's text (in the worker thread): the same run and settings as
        `devlint - --stdin-filename PATH`.  Errors inside the check come back in the
        outcome and are logged; the findings of what could be checked still show.  A
        configuration file that cannot be used is the user's to fix, not a bug: it is
        logged once, and the buffer shows no findings until it is fixed."""
        display = self.display_path(uri)
        data = lsp_text.buffer_bytes(text)
        findings = self.run_check(data, display, generation, resolver, memo)
        return Analysis(uri, version, generation, text, findings)

    def run_check(
        self,
        data: bytes,
        display: str,
        generation: int,
        resolver: Resolver,
        memo: Optional[lsp_incremental.BufferMemo],
    ) -> list[Finding]:
        """The command line's check of `data` as the file `display` (worker thread),
        reusing what `memo` kept of the buffer's last check.  Internal errors are
        logged; a configuration error is logged once and gives no findings."""
        try:
            outcome = run_module.check_source(
                data, display, resolver, run_module.RunOptions(cache=False, jobs=1), reuse=memo
            )
        except config.ConfigError as exc:
            self.call_soon(self.config_error, generation, str(exc))
            return []
        for where, message in outcome.internal_errors:
            self.call_soon(
                self.log, f"devlint: internal error in {where}: {message} (please report this bug)"
            )
        return list(outcome.findings)

    # --- notebooks ---

    def notebook_path(self, uri: str) -> str:
        """The `.ipynb` file a notebook is checked as (its settings, per-file-ignores)."""
        path = to_fs_path(uri)
        if path:
            return path
        name = uri.rsplit("/", 1)[-1] or "untitled"
        if not name.endswith(".ipynb"):
            name += ".ipynb"
        return os.path.join(self.root, name)

    def notebook_cells(self, notebook: lsp.NotebookDocument) -> list[lsp_notebook.Cell]:
        """The notebook's cells as the server holds them now: Python code cells with
        their text, others without."""
        cells = []
        for cell in notebook.cells:
            kind = (
                lsp_notebook.CODE
                if cell.kind == lsp.NotebookCellKind.Code
                else lsp_notebook.MARKDOWN
            )
            # only the cells the client synced (never a document read from disk)
            doc = self.workspace.text_documents.get(unquote(cell.document))
            text: Optional[str] = None
            if doc is not None and kind == lsp_notebook.CODE:
                text = doc.source if doc.language_id in (None, "", "python") else None
            version = doc.version if doc is not None else None
            cells.append(lsp_notebook.Cell(cell.document, kind, text, version))
        return cells

    def analyse_notebook(
        self,
        uri: str,
        version: int,
        cells: list[lsp_notebook.Cell],
        metadata: Any,
        generation: int,
        resolver: Resolver,
        memo: Optional[lsp_incremental.BufferMemo] = None,
    ) -> NotebookAnalysis:
        """Check a notebook's cells as its `.ipynb` file (worker thread)."""
        data = lsp_notebook.notebook_json(cells, metadata).encode("utf-8")
        findings = self.run_check(data, self.notebook_path(uri), generation, resolver, memo)
        grouped = lsp_notebook.by_cell(findings, cells)
        by_cell = {
            cell.uri: Analysis(
                cell.uri,
                cell.version,
                generation,
                cell.text or "",
                grouped.get(cell.uri, []),
                notebook=uri,
                notebook_version=version,
            )
            for cell in cells
            if cell.kind == lsp_notebook.CODE and cell.text is not None
        }
        return NotebookAnalysis(uri, version, generation, cells, by_cell)

    async def notebook_analysis_for(self, uri: str) -> Optional[NotebookAnalysis]:
        """The analysis of the notebook as it is now: cached, else made now."""
        self._requests += 1
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is None:
            return None
        cells = self.notebook_cells(notebook)
        cached = self.notebook_analyses.get(uri)
        if (
            cached is not None
            and cached.version == notebook.version
            and cached.generation == self.generation
            and cached.cells == cells
        ):
            return cached
        self._loop = asyncio.get_running_loop()
        result = await self._loop.run_in_executor(
            self.executor,
            self.analyse_notebook,
            uri,
            notebook.version,
            cells,
            notebook.metadata,
            self.generation,
            self.resolver(),
            self.memo(uri),
        )
        if self.notebook_current(result):
            self.notebook_analyses[uri] = result
        return result

    def notebook_current(self, analysis: NotebookAnalysis) -> bool:
        """Is `analysis` of the notebook as it is now (version, settings and cells)?"""
        notebook = self.workspace.get_notebook_document(notebook_uri=analysis.uri)
        return (
            notebook is not None
            and notebook.version == analysis.version
            and analysis.generation == self.generation
            and self.notebook_cells(notebook) == analysis.cells
        )

    def publish_notebook(self, analysis: NotebookAnalysis) -> None:
        """One diagnostics list per code cell; cells that left the notebook (or stopped
        being Python code) get an empty one."""
        before = self.published_cells.get(analysis.uri, set())
        now = set()
        for cell in analysis.cells:
            cell_analysis = analysis.by_cell.get(cell.uri)
            if cell_analysis is None:
                continue
            now.add(cell.uri)
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(
                    uri=cell.uri,
                    diagnostics=self.diagnostics(cell_analysis),
                    version=cell.version,
                )
            )
        for gone in sorted(before - now):
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=gone, diagnostics=[])
            )
        self.published_cells[analysis.uri] = now

    def forget_notebook(self, uri: str, cells: Sequence[str] = ()) -> None:
        """A closed notebook: its pending check, analysis and memo go; its cells'
        diagnostics are cleared."""
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.notebook_analyses.pop(uri, None)
        self.memos.pop(uri, None)
        published = self.published_cells.pop(uri, set())
        if self.push:
            for cell in sorted(published | set(cells)):
                self.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=cell, diagnostics=[])
                )

    def memo(self, uri: str) -> lsp_incremental.BufferMemo:
        """What the last checks of buffer (or notebook) `uri` parsed; made here, on the
        protocol's thread, so a closed buffer's memo is never made again by the worker."""
        memo = self.memos.get(uri)
        if memo is None:
            memo = self.memos[uri] = lsp_incremental.BufferMemo()
        return memo

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the event loop's thread (the transport is not thread-safe)."""
        if self._loop is None:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def config_error(self, generation: int, message: str) -> None:
        """Log a configuration error once per generation of settings, not per keystroke."""
        if (generation, message) in self._config_errors:
            return
        self._config_errors.add((generation, message))
        self.log(f"devlint: configuration error: {message}")

    async def analysis_for(self, uri: str) -> Optional[Analysis]:
        """The analysis of the buffer (or notebook cell) as it is now: cached, else made
        now."""
        self._requests += 1
        notebook = self.notebook_of(uri)
        if notebook is not None:
            analysis = await self.notebook_analysis_for(notebook.uri)
            return analysis.by_cell.get(uri) if analysis is not None else None
        if not self.wants(uri):
            return None
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if (
            cached is not None
            and cached.version == doc.version
            and cached.generation == self.generation
            and cached.text == doc.source
        ):
            return cached
        self._loop = asyncio.get_running_loop()
        result = await self._loop.run_in_executor(
            self.executor,
            self.analyse,
            uri,
            doc.version,
            doc.source,
            self.generation,
            self.resolver(),  # built here: it may log, and only this thread may write
            self.memo(uri),
        )
        current = self.workspace.get_text_document(uri)
        if current.version == result.version and result.generation == self.generation:
            self.analyses[uri] = result
        return result

    def schedule(self, uri: str, delay: float = 0.0) -> None:
        """(Re)start the analysis of `uri` after `delay` seconds; an edit within the
        delay restarts it, so a burst of typing is checked once."""
        self._requests += 1
        notebook = self.notebook_of(uri)
        if notebook is not None:  # a client that sends a cell's own notifications
            uri = notebook.uri
        old = self.pending.pop(uri, None)
        if old is not None:
            old.cancel()
        if self.is_notebook(uri):
            self.pending[uri] = asyncio.ensure_future(self._refresh_notebook(uri, delay))
        elif self.wants(uri):
            self.pending[uri] = asyncio.ensure_future(self._refresh(uri, delay))

    async def _refresh_notebook(self, uri: str, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            analysis = await self.notebook_analysis_for(uri)
            if analysis is None or not self.notebook_current(analysis):
                return  # stale: the notebook moved on; its own analysis will publish
            if self.push:
                self.publish_notebook(analysis)
                self.warm_soon(uri)
            elif self._refresh_support():
                # a pulling client: cells it did not touch may have changed too
                with contextlib.suppress(Exception):
                    self.workspace_diagnostic_refresh(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.log_exception(f"checking {uri}", exc)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    async def _refresh(self, uri: str, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            analysis = await self.analysis_for(uri)
            if analysis is None:
                return
            doc = self.workspace.get_text_document(uri)
            if doc.version != analysis.version or analysis.generation != self.generation:
                return  # stale: the buffer moved on; its own analysis will publish
            if self.push:
                self.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(
                        uri=uri, diagnostics=self.diagnostics(analysis), version=doc.version
                    )
                )
                self.warm_soon(uri)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.log_exception(f"checking {uri}", exc)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    def warm_soon(self, uri: str) -> None:
        """Once the diagnostics (or the pulled report) are on their way, prepare in the
        worker what the memo of `uri` lacks for later checks (`BufferMemo.warm`); a new
        request for a check stops it at the next chunk, so it never holds an edit up."""
        memo = self.memos.get(uri)
        if memo is None or self._loop is None:
            return
        start = self._requests

        def warm() -> None:
            try:
                memo.warm(lambda: self._requests != start)
            except Exception as exc:  # a bug in the memo must not stop the worker
                self.call_soon(self.log_exception, f"preparing {uri}", exc)

        def submit() -> None:
            if self._requests == start:
                self.executor.submit(warm)

        self._loop.call_later(0.005, submit)  # after the answer is written

    def recheck_all(self, skip: str = "") -> None:
        """After a settings or configuration change (or a saved module): every open
        buffer again (but `skip`), and ask a pulling client to pull again."""
        for uri in list(self.workspace.text_documents):
            if uri != skip and self.wants(uri):
                self.schedule(uri)
        for uri in list(self.workspace.notebook_documents):
            self.schedule(uri)
        if self._refresh_support():
            with contextlib.suppress(Exception):
                self.workspace_diagnostic_refresh(None)

    def module_saved(self, uri: str) -> None:
        """A module was written: the other open buffers that import it were analysed with
        what the project said before (`devlint.project` reads modules from disk), so
        every analysis is made again."""
        self.generation += 1
        self.recheck_all(skip=uri)

    def _refresh_support(self) -> bool:
        caps = self.client_capabilities
        diagnostics = caps.workspace.diagnostics if caps and caps.workspace else None
        return bool(diagnostics and diagnostics.refresh_support)

    # --- conversions ---

    def units(self) -> lsp_text.Units:
        codec = self.workspace.position_codec
        return codec.client_num_units

    def range_of(
        self, lines: Sequence[str], row: int, col: int, end_row: int, end_col: int
    ) -> lsp.Range:
        units = self.units()
        start = lsp_text.position(lines, row, col, units)
        end = lsp_text.position(lines, end_row, end_col, units)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return lsp.Range(
            start=lsp.Position(line=start.line, character=start.character),
            end=lsp.Position(line=end.line, character=end.character),
        )

    def finding_range(self, analysis: Analysis, f: Finding) -> lsp.Range:
        return self.range_of(analysis.lines, f.line, f.col, f.end_line, f.end_col)

    def diagnostic(self, analysis: Analysis, f: Finding) -> lsp.Diagnostic:
        severity = (
            lsp.DiagnosticSeverity.Warning
            if f.severity == "warning"
            else lsp.DiagnosticSeverity.Error
        )
        fix = f.fix or {}
        return lsp.Diagnostic(
            range=self.finding_range(analysis, f),
            message=f.message,
            severity=severity,
            code=f.code,
            code_description=lsp.CodeDescription(href=url(f.code)),
            source=SOURCE,
            tags=[lsp.DiagnosticTag.Unnecessary] if f.code == "DL100" else None,
            data={"name": f.name, "fix": fix.get("applicability")} if fix else {"name": f.name},
        )

    def diagnostics(self, analysis: Analysis) -> list[lsp.Diagnostic]:
        return [self.diagnostic(analysis, f) for f in analysis.findings]

    def text_edit(self, lines: Sequence[str], edit: dict[str, Any]) -> lsp.TextEdit:
        start, end = edit["location"], edit["end_location"]
        return lsp.TextEdit(
            range=self.range_of(lines, start["row"], start["column"], end["row"], end["column"]),
            new_text=edit["content"],
        )

    def whole_lines_edit(self, analysis: Analysis, new_text: str) -> Optional[lsp.TextEdit]:
        """The edit that turns the buffer into `new_text`, as whole changed lines."""
        change = lsp_text.line_diff(analysis.text, new_text)
        if change is None:
            return None
        lines = analysis.lines
        start = lsp.Position(line=change.start, character=0)
        if change.end <= len(lines) - 1:  # a line that exists: its start
            end = lsp.Position(line=change.end, character=0)
        else:
            end = lsp.Position(line=len(lines) - 1, character=self.units()(lines[-1]))
        return lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text=change.text)


server = DevlintServer()


def guarded(what: str, default: Any = None) -> Callable[[F], F]:
    """A handler that logs its exception to the client and returns `default` (an empty
    answer) instead of failing: the editor keeps a working server."""

    def wrap(fn: F) -> F:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(ls: DevlintServer, params: Any) -> Any:
                try:
                    return await fn(ls, params)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    ls.log_exception(what, exc)
                    return default

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run_sync(ls: DevlintServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception as exc:
                ls.log_exception(what, exc)
                return default

        return run_sync  # type: ignore[return-value]

    return wrap


# --- lifecycle and settings ------------------------------------------------------------------


@server.feature(lsp.INITIALIZE)
@guarded("initializing")
def initialize(ls: DevlintServer, params: lsp.InitializeParams) -> None:
    root = None
    if params.workspace_folders:
        root = to_fs_path(params.workspace_folders[0].uri)
    if root is None and params.root_uri:
        root = to_fs_path(params.root_uri)
    if root is None and params.root_path:
        root = params.root_path
    if root:
        ls.root = root
    caps = params.capabilities
    ls.push = not (caps.text_document and caps.text_document.diagnostic)
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("settings"), dict):
        options = options["settings"]  # the shape some clients wrap their options in
    ls.settings, warnings = ls.settings.updated(options)
    for message in warnings:
        ls.log(message, lsp.MessageType.Warning)
    ls.settings_changed()


@server.feature(lsp.INITIALIZED)
@guarded("starting")
async def initialized(ls: DevlintServer, params: lsp.InitializedParams) -> None:
    ls._loop = asyncio.get_running_loop()
    caps = ls.client_capabilities
    watched = caps.workspace.did_change_watched_files if caps.workspace else None
    if watched and watched.dynamic_registration:
        watchers = [lsp.FileSystemWatcher(glob_pattern=f"**/{name}") for name in CONFIG_NAMES]
        # modules changed on disk: open buffers that import them see other facts
        watchers.append(lsp.FileSystemWatcher(glob_pattern="**/*.py"))
        await ls.client_register_capability_async(
            lsp.RegistrationParams(
                registrations=[
                    lsp.Registration(
                        id="devlint-configuration-files",
                        method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                            watchers=watchers
                        ),
                    )
                ]
            )
        )


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
@guarded("applying the settings")
async def did_change_configuration(
    ls: DevlintServer, params: lsp.DidChangeConfigurationParams
) -> None:
    raw = params.settings
    caps = ls.client_capabilities
    if not raw and caps.workspace and caps.workspace.configuration:
        # the pull model (VS Code's): the notification says only that something changed
        answer = await ls.workspace_configuration_async(
            lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section="devlint")])
        )
        raw = answer[0] if answer else None
    ls.settings, warnings = ls.settings.updated(raw)
    for message in warnings:
        ls.log(message, lsp.MessageType.Warning)
    ls.settings_changed()
    ls.recheck_all()


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@guarded("reloading the configuration")
def did_change_watched_files(ls: DevlintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    if any(ls.is_config_file(change.uri) for change in params.changes):
        ls.settings_changed()
        ls.recheck_all()
    elif any(change.uri.endswith(".py") for change in params.changes):
        ls.module_saved("")  # a module changed on disk (a checkout, another editor)


# --- documents ---------------------------------------------------------------------------------


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
@guarded("opening a document")
def did_open(ls: DevlintServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
@guarded("applying an edit")
def did_change(ls: DevlintServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.settings.debounce_ms / 1000)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
@guarded("saving a document")
def did_save(ls: DevlintServer, params: lsp.DidSaveTextDocumentParams) -> None:
    if ls.is_config_file(params.text_document.uri):
        ls.settings_changed()
        ls.recheck_all()
        return
    ls.schedule(params.text_document.uri)
    if params.text_document.uri.endswith(".py"):
        ls.module_saved(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
@guarded("closing a document")
def did_close(ls: DevlintServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.analyses.pop(uri, None)
    ls.memos.pop(uri, None)
    if ls.push:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


# --- notebook documents ------------------------------------------------------------------------


@server.feature(lsp.NOTEBOOK_DOCUMENT_DID_OPEN)
@guarded("opening a notebook")
def did_open_notebook(ls: DevlintServer, params: lsp.DidOpenNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri)


@server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CHANGE)
@guarded("applying a notebook edit")
def did_change_notebook(ls: DevlintServer, params: lsp.DidChangeNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri, ls.settings.debounce_ms / 1000)


@server.feature(lsp.NOTEBOOK_DOCUMENT_DID_SAVE)
@guarded("saving a notebook")
def did_save_notebook(ls: DevlintServer, params: lsp.DidSaveNotebookDocumentParams) -> None:
    ls.schedule(params.notebook_document.uri)


@server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE)
@guarded("closing a notebook")
def did_close_notebook(ls: DevlintServer, params: lsp.DidCloseNotebookDocumentParams) -> None:
    ls.forget_notebook(params.notebook_document.uri, [c.uri for c in params.cell_text_documents])


@server.feature(
    lsp.TEXT_DOCUMENT_DIAGNOSTIC,
    lsp.DiagnosticOptions(
        identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False
    ),
)
@guarded("computing diagnostics")
async def pull_diagnostics(
    ls: DevlintServer, params: lsp.DocumentDiagnosticParams
) -> lsp.DocumentDiagnosticReport:
    uri = params.text_document.uri
    analysis = await ls.analysis_for(uri)
    if analysis is None:
        return lsp.RelatedFullDocumentDiagnosticReport(items=[])
    ls.warm_soon(analysis.notebook or uri)
    result_id = analysis.result_id
    if params.previous_result_id == result_id:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
    return lsp.RelatedFullDocumentDiagnosticReport(
        items=ls.diagnostics(analysis), result_id=result_id
    )


# --- code actions ------------------------------------------------------------------------------


def _wanted(only: Optional[Sequence[str]], kind: str) -> bool:
    """Does the client's `only` filter admit `kind` (a kind admits its sub-kinds)?"""
    if not only:
        return True
    return any(kind == o or kind.startswith(f"{o}.") for o in only)


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    start_a, end_a = (a.start.line, a.start.character), (a.end.line, a.end.character)
    start_b, end_b = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return start_a <= end_b and start_b <= end_a


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL_KIND, NOTEBOOK_FIX_ALL_KIND],
        resolve_provider=False,
    ),
)
@guarded("computing code actions", default=[])
async def code_actions(ls: DevlintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    analysis = await ls.analysis_for(uri)
    if analysis is None:
        return []
    only = params.context.only
    actions: list[lsp.CodeAction] = []
    if _wanted(only, lsp.CodeActionKind.QuickFix):
        for f in analysis.findings:
            if not _overlaps(ls.finding_range(analysis, f), params.range):
                continue
            diagnostic = ls.diagnostic(analysis, f)
            if f.fix and f.fix.get("edits"):
                safe = f.fix.get("applicability") == "safe"
                title = f"devlint: {f.fix.get('message') or 'fix ' + f.code}"
                actions.append(
                    lsp.CodeAction(
                        title=title if safe else f"{title} (unsafe)",
                        kind=lsp.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        is_preferred=safe,
                        edit=lsp.WorkspaceEdit(
                            changes={uri: [ls.text_edit(analysis.lines, e) for e in f.fix["edits"]]}
                        ),
                    )
                )
            if f.code not in NO_SUPPRESS:
                edit = _noqa_edit(ls, analysis, f)
                if edit is not None:
                    actions.append(
                        lsp.CodeAction(
                            title=f"devlint: suppress {f.code} on this line",
                            kind=lsp.CodeActionKind.QuickFix,
                            diagnostics=[diagnostic],
                            edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
                        )
                    )
    if analysis.notebook is not None:
        kind = next((k for k in (FIX_ALL_KIND, NOTEBOOK_FIX_ALL_KIND) if _wanted(only, k)), None)
        if kind is not None:
            action = await _fix_all_notebook(ls, analysis.notebook, kind)
            if action is not None:
                actions.append(action)
    elif _wanted(only, FIX_ALL_KIND):
        action = await _fix_all(ls, analysis)
        if action is not None:
            actions.append(action)
    return actions


def _noqa_edit(ls: DevlintServer, analysis: Analysis, f: Finding) -> Optional[lsp.TextEdit]:
    row = f.noqa_row or f.line
    if analysis.notebook is not None:
        change = lsp_notebook.noqa_cell_line(analysis.text, row, f.code)
    else:
        change = lsp_text.noqa_line(analysis.text, row, f.code)
    if change is None:
        return None
    old, new = change
    units = ls.units()
    return lsp.TextEdit(
        range=lsp.Range(
            start=lsp.Position(line=row - 1, character=0),
            end=lsp.Position(line=row - 1, character=units(old)),
        ),
        new_text=new,
    )


async def _fix_all(ls: DevlintServer, analysis: Analysis) -> Optional[lsp.CodeAction]:
    """`source.fixAll.devlint`: what `devlint --fix` (with `--unsafe-fixes` when the
    setting is on) makes of the buffer, as one edit; None when it changes nothing."""
    unsafe = ls.settings.unsafe_fixes
    if not any(
        f.fix and f.fix.get("edits") and (unsafe or f.fix.get("applicability") == "safe")
        for f in analysis.findings
    ):
        return None
    display = ls.display_path(analysis.uri)
    resolver = ls.resolver()

    def fix() -> Optional[bytes]:
        outcome = run_module.check_source(
            lsp_text.buffer_bytes(analysis.text),
            display,
            resolver,
            run_module.RunOptions(fix_only=True, unsafe_fixes=unsafe, cache=False, jobs=1),
        )
        for where, message in outcome.internal_errors:
            ls.call_soon(ls.log, f"devlint: internal error fixing {where}: {message}")
        return outcome.fixed_source

    fixed = await asyncio.get_running_loop().run_in_executor(ls.executor, fix)
    new_text = lsp_text.buffer_text(fixed) if fixed is not None else None
    if new_text is None:
        return None
    edit = ls.whole_lines_edit(analysis, new_text)
    if edit is None:
        return None
    return lsp.CodeAction(
        title="devlint: fix all auto-fixable problems" + (" (unsafe included)" if unsafe else ""),
        kind=FIX_ALL_KIND,
        edit=lsp.WorkspaceEdit(changes={analysis.uri: [edit]}),
    )


async def _fix_all_notebook(ls: DevlintServer, uri: str, kind: str) -> Optional[lsp.CodeAction]:
    """Fix-all on a notebook's cell: what `devlint --fix` makes of the whole notebook,
    as one edit per changed cell; None when it changes nothing."""
    analysis = await ls.notebook_analysis_for(uri)
    if analysis is None:
        return None
    unsafe = ls.settings.unsafe_fixes
    if not any(
        f.fix and f.fix.get("edits") and (unsafe or f.fix.get("applicability") == "safe")
        for cell in analysis.by_cell.values()
        for f in cell.findings
    ):
        return None
    display = ls.notebook_path(uri)
    resolver = ls.resolver()
    notebook = lsp_notebook.notebook_json(analysis.cells)

    def fix() -> Optional[str]:  # in the worker, which alone uses the resolver's caches
        return lsp_notebook.fix_notebook(notebook, display, resolver.for_path(display), unsafe)

    fixed = await asyncio.get_running_loop().run_in_executor(ls.executor, fix)
    if fixed is None or not ls.notebook_current(analysis):
        return None
    sources = lsp_notebook.fixed_cells(fixed)
    changes: dict[str, list[lsp.TextEdit]] = {}
    for cell, source in zip(analysis.cells, sources):
        cell_analysis = analysis.by_cell.get(cell.uri)
        if cell_analysis is None or source == cell_analysis.text:
            continue
        edit = ls.whole_lines_edit(cell_analysis, source)
        if edit is not None:
            changes[cell.uri] = [edit]
    if not changes:
        return None
    return lsp.CodeAction(
        title="devlint: fix all auto-fixable problems in the notebook"
        + (" (unsafe included)" if unsafe else ""),
        kind=kind,
        edit=lsp.WorkspaceEdit(changes=changes),
    )


# --- hover ---------------------------------------------------------------------------------------


@functools.cache
def rule_explanation(code: str) -> str:
    """Exactly what `devlint rule CODE` prints (the command's own code writes it)."""
    from devlint.cli import rule_command

    out = io.StringIO()
    assert rule_command.callback is not None
    with contextlib.redirect_stdout(out):
        rule_command.callback(code)
    return out.getvalue()


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@guarded("computing a hover")
async def hover(ls: DevlintServer, params: lsp.HoverParams) -> Optional[lsp.Hover]:
    analysis = await ls.analysis_for(params.text_document.uri)
    if analysis is None:
        return None
    here = (params.position.line, params.position.character)
    parts = []
    for f in analysis.findings:
        r = ls.finding_range(analysis, f)
        if (r.start.line, r.start.character) <= here <= (r.end.line, r.end.character):
            help_line = f"\n\nhelp: {f.help}" if f.help else ""
            parts.append(
                f"**{f.code}** `{f.name}`: {f.message}{help_line}\n\n"
                f"```text\n{rule_explanation(f.code)}```"
            )
    if not parts:
        return None
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n---\n\n".join(parts))
    )


# --- entry point ---------------------------------------------------------------------------------


def serve() -> None:
    """Serve on stdin/stdout until the client says exit.  Logging goes to stderr, which
    editors show in their output panel; stdout carries the protocol only."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    server.start_io()
