"""Which lines of the user's files ran: the difference between REFUTED and NOT REACHED.

Three ways, cheapest first:

* Python 3.12+: `sys.monitoring` LINE events for user code objects only (library code
  objects are disabled at their first call, each line location after its first hit), which
  costs almost nothing after warm-up.
* Older Pythons, for the program that `devlint confirm` runs: the user's files are compiled
  with a probe before each statement, `__devlint_hit__(line)`, where `__devlint_hit__` is
  the C-level `add` of a per-file set (no Python frame, no tracing of library code).  The
  main script is compiled here; modules it imports are compiled by an import hook
  (`install_import_hook`) that leaves library modules alone and writes no bytecode cache.
* Otherwise (pytest on an older Python, where pytest compiles the test modules itself):
  `sys.settrace` with a local tracer only for frames of user files.

Line numbers are the statements' first lines.  This module never imports torch.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.machinery
import sys
import threading
from typing import Any, Optional

from devlint.runtime._sites import is_user_file

PROBE = "__devlint_hit__"


class _Instrument(ast.NodeTransformer):
    """Put `__devlint_hit__(N)` before every statement (after docstrings and
    `from __future__` imports)."""

    def _probe(self, stmt: ast.stmt) -> ast.stmt:
        call = ast.Expr(
            ast.Call(
                func=ast.Name(id=PROBE, ctx=ast.Load()),
                args=[ast.Constant(stmt.lineno)],
                keywords=[],
            )
        )
        return ast.copy_location(call, stmt)

    def _block(self, body: list[ast.stmt], docstring_ok: bool) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        start = 0
        if (
            docstring_ok
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            out.append(body[0])
            start = 1
        while (
            start < len(body)
            and isinstance(body[start], ast.ImportFrom)
            and body[start].module == "__future__"
        ):
            out.append(body[start])
            start += 1
        for stmt in body[start:]:
            out.append(self._probe(stmt))
            out.append(self.visit(stmt))
        return out or body

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                doc = name == "body" and isinstance(
                    node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                )
                setattr(node, name, self._block(block, doc))
        for handler in getattr(node, "handlers", ()) or ():
            handler.body = self._block(handler.body, False)
        for case in getattr(node, "cases", ()) or ():
            case.body = self._block(case.body, False)
        return node

    def visit(self, node: ast.AST) -> Any:
        return self.generic_visit(node)


def instrument(source: bytes | str, filename: str):
    """The code object of `source` with line probes (same line numbers)."""
    tree = ast.parse(source, filename)
    tree = _Instrument().visit(tree)
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", dont_inherit=True)


class LineRecorder:
    """Records the first execution of each line of each user file."""

    def __init__(self) -> None:
        self.hits: dict[str, set[int]] = {}
        self._tool: Optional[int] = None
        self._active = False
        self.mode = ""
        self._finder: Optional[_ProbeFinder] = None

    def probe_for(self, filename: str):
        """The `__devlint_hit__` of an instrumented file."""
        return self.hits.setdefault(filename, set()).add

    # -- 3.12+: sys.monitoring --
    def _start_monitoring(self) -> bool:
        mon = getattr(sys, "monitoring", None)
        if mon is None:
            return False
        for tool in (3, 4, mon.COVERAGE_ID):
            try:
                mon.use_tool_id(tool, "devlint")
            except ValueError:
                continue
            self._tool = tool
            break
        else:
            return False
        events = mon.events
        disable = mon.DISABLE
        hits = self.hits

        def on_start(code, offset):
            if is_user_file(code.co_filename):
                mon.set_local_events(self._tool, code, events.LINE)
            return disable

        def on_line(code, line):
            hits.setdefault(code.co_filename, set()).add(line)
            return disable

        mon.register_callback(self._tool, events.PY_START, on_start)
        mon.register_callback(self._tool, events.LINE, on_line)
        mon.set_events(self._tool, events.PY_START)
        frame = sys._getframe(1)
        while frame is not None:
            if is_user_file(frame.f_code.co_filename):
                mon.set_local_events(self._tool, frame.f_code, events.LINE)
            frame = frame.f_back
        return True

    # -- settrace --
    def _local(self, frame, event, arg):
        if event == "line":
            self.hits.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
        return self._local

    def _global(self, frame, event, arg):
        if event == "call" and is_user_file(frame.f_code.co_filename):
            return self._local
        return None

    def start(self, probes: bool = False) -> None:
        """Start recording; `probes`: instrument user modules as they are imported
        (and `compile_main` the script) instead of tracing, where monitoring is missing."""
        if self._active:
            return
        self._active = True
        if self._start_monitoring():
            self.mode = "monitoring"
            return
        if probes:
            self.mode = "probes"
            self._finder = _ProbeFinder(self)
            sys.meta_path.insert(0, self._finder)
            import builtins

            hits = self.hits

            def fallback(line: int) -> None:
                # For code whose globals miss the probe (a module run with `-m`).
                hits.setdefault(sys._getframe(1).f_code.co_filename, set()).add(line)

            builtins.__dict__.setdefault(PROBE, fallback)
            return
        self.mode = "settrace"
        sys.settrace(self._global)
        threading.settrace(self._global)

    def compile_main(self, path: str):
        """The code object for the program's main script, and the globals it needs."""
        with open(path, "rb") as fh:
            source = fh.read()
        if self.mode == "probes":
            return instrument(source, path), {PROBE: self.probe_for(path)}
        return compile(source, path, "exec", dont_inherit=True), {}

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        mon = getattr(sys, "monitoring", None)
        if self._tool is not None and mon is not None:
            mon.set_events(self._tool, 0)
            mon.register_callback(self._tool, mon.events.PY_START, None)
            mon.register_callback(self._tool, mon.events.LINE, None)
            mon.free_tool_id(self._tool)
            self._tool = None
            return
        if self._finder is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self._finder)
            self._finder = None
            return
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, list[int]]:
        return {path: sorted(lines) for path, lines in self.hits.items() if lines}


class _ProbeLoader(importlib.machinery.SourceFileLoader):
    recorder: LineRecorder

    def get_code(self, fullname):  # no bytecode cache: the probes must be compiled in
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def source_to_code(self, data, path, *, _optimize=-1):  # type: ignore[override]
        try:
            return instrument(data, path)
        except SyntaxError:
            return super().source_to_code(data, path)

    def exec_module(self, module) -> None:
        module.__dict__[PROBE] = self.recorder.probe_for(module.__spec__.origin)
        super().exec_module(module)


class _ProbeFinder(importlib.abc.MetaPathFinder):
    """Give the user's own modules (not libraries) a probing loader."""

    def __init__(self, recorder: LineRecorder) -> None:
        self.recorder = recorder

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or not spec.origin
            or not is_user_file(spec.origin)
        ):
            return None
        loader = _ProbeLoader(spec.loader.name, spec.loader.path)
        loader.recorder = self.recorder
        spec.loader = loader
        return spec
