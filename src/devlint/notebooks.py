"""Jupyter notebooks (`.ipynb`): the code cells as one program, and positions back.

A notebook runs its cells in one namespace, so devlint checks the code cells, in order,
as one program: a model moved in cell 2 and called with a CPU batch in cell 5 is a
finding.  IPython syntax is turned into the Python it runs, one line for one line, so
every finding maps back to its cell:

- `%time model(x)`, `%timeit -n 10 f(x)`, `%prun f()`: the statement they run;
- a cell that starts with `%%time`/`%%timeit`/`%%capture`/...: its body; a cell magic
  that runs another language (`%%bash`, `%%writefile`, `%%html`...): nothing;
- other line magics (`%matplotlib inline`), shell lines (`!pip install x`), help
  (`model?`, `??f`) and `x = !ls`/`x = %sx ls`: nothing (a `pass` or `x = None` keeps
  the indentation valid).

Positions: in `json` output a finding has its cell (1-based, every cell counts, as in
ruff) and its line and column within that cell; SARIF and GitHub annotations point into
the notebook's own text (the line of the JSON file that holds the code).

The notebook is read with the standard library's JSON parser; no Jupyter package is
needed.  A file that is not a notebook devlint can read is a DL000 finding that says why.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any, Optional

# Line magics that run the rest of the line as Python, with the options that take a
# value (None: the magic takes no options, so a leading `-` belongs to the statement).
EXEC_LINE_MAGICS: dict[str, Optional[frozenset[str]]] = {
    "time": None,
    "timeit": frozenset("nrp"),
    "prun": frozenset("lrsTD"),
    "memit": frozenset("rit"),
    "debug": None,
}
# Cell magics whose body is Python run in the notebook's namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit"})

_MAGIC_NAME = re.compile(r"%{1,2}([A-Za-z_][\w.]*)")
_ASSIGN_MAGIC = re.compile(r"^(?P<lhs>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[!%]")
_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


class NotebookError(Exception):
    """A file that is not a notebook devlint can read: message, and 1-based position."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


@dataclass(frozen=True)
class Origin:
    """Where a line of the combined program comes from."""

    cell: int  # 1-based, every cell counts
    line: int  # 1-based within the cell
    offset: int  # original column = program column + offset (after the indentation)
    indent: int  # columns up to which no offset applies


@dataclass
class Notebook:
    """A parsed notebook: its cells' lines and the combined program."""

    text: str  # the file's own text
    cells: list[dict[str, Any]]
    program: str = ""
    origins: list[Origin] = field(default_factory=list)
    cell_lines: dict[int, list[str]] = field(default_factory=dict)
    python: bool = True
    _raw: Optional[_RawPositions] = None

    # --- positions ---------------------------------------------------------------------

    def cell_position(self, line: int, col: int) -> tuple[int, int, int]:
        """(cell, line in cell, col in cell) for a 1-based program position."""
        if not self.origins:
            return (1, 1, 1)
        origin = self.origins[min(max(line, 1), len(self.origins)) - 1]
        shifted = col + origin.offset if col > origin.indent else col
        return origin.cell, origin.line, shifted

    def source_line(self, cell: int, line: int) -> str:
        lines = self.cell_lines.get(cell, [])
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def file_position(self, cell: int, line: int, col: int) -> Optional[tuple[int, int]]:
        """The (line, col) in the notebook file's own text of a cell position, if known."""
        if self._raw is None:
            self._raw = _RawPositions(self.text)
        return self._raw.locate(self.cells, cell, line, col)

    # --- writing -----------------------------------------------------------------------

    def set_cell_lines(self, cell: int, lines: list[str]) -> None:
        """Replace a cell's source (lines without endings), keeping nbformat's list form."""
        data = json.loads(self.text)
        raw = data["cells"][cell - 1]
        text = "\n".join(lines)
        original = raw.get("source", "")
        original_text = "".join(original) if isinstance(original, list) else original
        if original_text.endswith("\n"):
            text += "\n"
        if isinstance(original, list):
            raw["source"] = re.findall(r"[^\n]*\n|[^\n]+$", text)
        else:
            raw["source"] = text
        indent = _indent_of(self.text)
        self.text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def _indent_of(text: str) -> int:
    m = re.search(r"\n( +)\"", text)
    return len(m.group(1)) if m else 1


def read(text: str) -> Notebook:
    """Parse a notebook's JSON text; raise NotebookError for anything unusable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"notebook is not valid JSON: {exc.msg}", exc.lineno, exc.colno
        ) from None
    except RecursionError:
        raise NotebookError("notebook is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise NotebookError("not a Jupyter notebook: the file is not a JSON object")
    if "worksheets" in data and "cells" not in data:
        raise NotebookError(
            "nbformat 3 notebooks are not supported: convert it with "
            "`jupyter nbconvert --to notebook --nbformat 4`"
        )
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("not a Jupyter notebook: no `cells` list (nbformat 4 expected)")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {number} is not a JSON object")
        if not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f"cell {number} has no `cell_type`")
        source = cell.get("source", "")
        if not isinstance(source, str) and not (
            isinstance(source, list) and all(isinstance(s, str) for s in source)
        ):
            raise NotebookError(f"cell {number}: `source` must be a string or a list of strings")
    nb = Notebook(text=text, cells=cells, python=_is_python(data))
    _build(nb)
    return nb


# a saved error that is a device failure: mixed devices, a GPU tensor to NumPy
_DEVICE_ERROR = re.compile(
    r"same device|device type|can't convert cuda|should be the same|(?:on|to be on) (?:cpu|cuda)",
    re.IGNORECASE,
)
# a traceback frame in a notebook cell, ANSI colours removed: `Cell In[3], line 23`
# (IPython 8), or `<ipython-input-3-...> in f()` with the line marked `---> 23` (older)
_CELL_FRAME = re.compile(r"In\s*\[(\d+)\],\s*line (\d+)")
_OLD_CELL_FRAME = re.compile(r"<ipython-input-(\d+)-[0-9a-f]+>")
_FRAME_ARROW = re.compile(r"^-+>\s*(\d+)", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _frame_lines(frame: str) -> list[tuple[int, int]]:
    """(execution count, line) of a traceback frame that is in a notebook cell."""
    text = _ANSI.sub("", frame)
    found = [(int(c), int(n)) for c, n in _CELL_FRAME.findall(text)]
    old = _OLD_CELL_FRAME.search(text)
    arrow = _FRAME_ARROW.search(text)
    if old is not None and arrow is not None:
        found.append((int(old.group(1)), int(arrow.group(1))))
    return found


def demonstrated_failures(nb: Notebook) -> set[tuple[int, int]]:
    """Where the notebook's own saved outputs show a device failure, as (cell, line):
    every line of the cell whose output holds the error (line 0), and each line of a
    cell its traceback passes through (`In [n]` is the cell run as `n`).  A tutorial
    that shows the error on purpose ("this fails on a GPU; here is why") is not a
    finding there: its author has run it and kept the failure."""
    by_count: dict[int, int] = {}
    for number, cell in enumerate(nb.cells, start=1):
        count = cell.get("execution_count")
        if isinstance(count, int):
            by_count.setdefault(count, number)
    shown: set[tuple[int, int]] = set()
    for number, cell in enumerate(nb.cells, start=1):
        outputs = cell.get("outputs")
        if not isinstance(outputs, list):
            continue
        for out in outputs:
            if not isinstance(out, dict) or out.get("output_type") != "error":
                continue
            if not _DEVICE_ERROR.search(str(out.get("evalue", ""))):
                continue
            shown.add((number, 0))
            frames = out.get("traceback")
            for frame in frames if isinstance(frames, list) else ():
                for count, line in _frame_lines(str(frame)):
                    if count in by_count:
                        shown.add((by_count[count], line))
    return shown


def _is_python(data: dict[str, Any]) -> bool:
    """False for notebooks whose kernel runs another language (R, Julia...)."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        return True
    for key, sub in (("language_info", "name"), ("kernelspec", "language")):
        info = meta.get(key)
        if isinstance(info, dict) and isinstance(info.get(sub), str):
            return info[sub].lower() in ("python", "python3", "ipython", "ipython3")
    return True


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def split_lines(source: str) -> list[str]:
    lines = _LINE_SPLIT.split(source)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _build(nb: Notebook) -> None:
    out: list[str] = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        lines = split_lines(cell_source(cell))
        nb.cell_lines[number] = lines
        for index, (text, offset, indent) in enumerate(transform_cell(lines), start=1):
            out.append(text)
            nb.origins.append(Origin(number, index, offset, indent))
    nb.program = "".join(line + "\n" for line in out)


# --- IPython syntax -------------------------------------------------------------------


class _LineState:
    """Enough of Python's lexer to know whether a line starts a new statement."""

    def __init__(self) -> None:
        self.quote: Optional[str] = None  # an open triple-quoted string
        self.depth = 0
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.quote is not None:
                end = line.find(self.quote, i)
                while end > 0 and _escaped(line, end):
                    end = line.find(self.quote, end + 1)
                if end < 0:
                    return
                i = end + 3
                self.quote = None
                continue
            c = line[i]
            if c == "#":
                return
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(self.depth - 1, 0)
            elif c in "'\"":
                if line.startswith(c * 3, i):
                    self.quote = c * 3
                    i += 3
                    continue
                j = i + 1
                while j < n and line[j] != c:
                    j += 2 if line[j] == "\\" else 1
                i = j + 1
                continue
            elif c == "\\" and i == n - 1:
                self.continued = True
            i += 1


def _escaped(line: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and line[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _strip_options(rest: str, takes_value: Optional[frozenset[str]]) -> int:
    """The index in `rest` where the statement starts, after `-n 10 -r3 -q` options."""
    i = 0
    n = len(rest)
    while i < n:
        while i < n and rest[i] in " \t":
            i += 1
        if takes_value is None or i >= n or rest[i] != "-":
            break
        j = i
        while j < n and rest[j] not in " \t":
            j += 1
        option = rest[i + 1 : j]
        i = j
        if len(option) == 1 and option in takes_value:
            while i < n and rest[i] in " \t":
                i += 1
            while i < n and rest[i] not in " \t":
                i += 1
    return i


def transform_cell(lines: list[str]) -> list[tuple[str, int, int]]:
    """Each cell line as (Python text, column offset, indentation width)."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        head = lines[first].lstrip()
        m = _MAGIC_NAME.match(head)
        if head.startswith("%%") and m:
            blank = [("", 0, 0)] * len(lines)
            if m.group(1) not in PYTHON_CELL_MAGICS:
                return blank  # another language (bash, html, writefile...)
            return [*blank[: first + 1], *transform_lines(lines[first + 1 :])]
    return transform_lines(lines)


def transform_lines(lines: list[str]) -> list[tuple[str, int, int]]:
    state = _LineState()
    out = []
    continued = False  # inside a shell or magic line continued with a backslash
    for line in lines:
        if continued:
            out.append(("", 0, 0))
            continued = line.rstrip().endswith("\\")
            continue
        if state.at_statement_start:
            out.append(transform_line(line))
            # a dropped shell/magic line continued with a backslash drops its continuation
            dropped = out[-1][0].strip() == "pass" and line.lstrip().startswith(("!", "%"))
            continued = dropped and line.rstrip().endswith("\\")
        else:
            out.append((line, 0, 0))
        state.feed(out[-1][0])
    return out


def transform_line(line: str) -> tuple[str, int, int]:
    """One line that starts a statement, as (Python text, column offset, indent)."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if not stripped:
        return line, 0, 0
    if stripped.startswith("!"):
        return indent + "pass", 0, 0
    if stripped.startswith("%"):
        m = _MAGIC_NAME.match(stripped)
        name = m.group(1) if m else ""
        if m and not stripped.startswith("%%") and name in EXEC_LINE_MAGICS:
            rest = stripped[m.end() :]
            start = _strip_options(rest, EXEC_LINE_MAGICS[name])
            statement = rest[start:].lstrip()
            if statement:
                offset = len(line) - len(statement) - len(indent)
                return indent + statement, offset, len(indent)
        return indent + "pass", 0, 0
    assign = _ASSIGN_MAGIC.match(stripped)
    if assign:
        return indent + assign.group("lhs") + " = None", 0, 0
    if "#" not in stripped and (
        stripped.startswith("?") or (stripped.endswith("?") and not stripped.endswith("'?"))
    ):
        return indent + "pass", 0, 0
    return line, 0, 0


# --- positions in the file's own text --------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class _RawPositions:
    """Where each cell's `source` strings start in the JSON text (found on demand)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # (cell index from 0, item index or None) -> offset of the string's opening quote
        self.starts: dict[tuple[int, Optional[int]], int] = {}
        try:
            self._value(_WS.match(text, 0).end(), ())  # type: ignore[union-attr]
        except (ValueError, IndexError, RecursionError):
            self.starts = {}

    # A small recursive-descent JSON reader: the standard library's C string scanner
    # does the heavy lifting (outputs with images are long strings).
    def _value(self, i: int, path: tuple) -> int:
        text = self.text
        c = text[i]
        if c == "{":
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            if text[i] == "}":
                return i + 1
            while True:
                key, i = scanstring(text, i + 1)
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                if text[i] != ":":
                    raise ValueError("expected ':'")
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
                i = self._value(i, (*path, key))
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                if text[i] == "}":
                    return i + 1
                if text[i] != ",":
                    raise ValueError("expected ','")
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        if c == "[":
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = self._value(i, (*path, index))
                index += 1
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                if text[i] == "]":
                    return i + 1
                if text[i] != ",":
                    raise ValueError("expected ','")
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        if c == '"':
            self._record(path, i)
            return scanstring(text, i + 1)[1]
        for word in ("true", "false", "null", "NaN", "Infinity", "-Infinity"):
            if text.startswith(word, i):
                return i + len(word)
        m = _NUMBER.match(text, i)
        if not m:
            raise ValueError("unexpected character")
        return m.end()

    def _record(self, path: tuple, i: int) -> None:
        if len(path) >= 3 and path[0] == "cells" and path[2] == "source":
            if len(path) == 3:
                self.starts[(path[1], None)] = i
            elif len(path) == 4:
                self.starts[(path[1], path[3])] = i

    def _raw_offset(self, quote: int, index: int) -> int:
        """Offset in the text of the `index`-th decoded character of the string at `quote`."""
        text = self.text
        i = quote + 1
        decoded = 0
        while decoded < index:
            c = text[i]
            if c == '"':
                break
            if c == "\\":
                if text[i + 1] == "u":
                    code = int(text[i + 2 : i + 6], 16)
                    i += 6
                    if 0xD800 <= code < 0xDC00 and text.startswith("\\u", i):
                        i += 6  # a surrogate pair is one character
                else:
                    i += 2
            else:
                i += 1
            decoded += 1
        return i

    def locate(
        self, cells: list[dict[str, Any]], cell: int, line: int, col: int
    ) -> Optional[tuple[int, int]]:
        if not self.starts or not 0 < cell <= len(cells):
            return None
        source = cells[cell - 1].get("source", "")
        items = source if isinstance(source, list) else [source]
        joined = "".join(items)
        # Offset in the joined source of the line's start, then of the column.
        starts = [0] + [m.end() for m in _LINE_SPLIT.finditer(joined)]
        if not 0 < line <= len(starts):
            return None
        offset = starts[line - 1] + col - 1
        for number, item in enumerate(items):
            if offset <= len(item) and (offset < len(item) or number == len(items) - 1):
                key = (cell - 1, number if isinstance(source, list) else None)
                quote = self.starts.get(key)
                if quote is None:
                    return None
                raw = self._raw_offset(quote, offset)
                row = bisect.bisect_right(self.line_starts, raw)
                return row, raw - self.line_starts[row - 1] + 1
            offset -= len(item)
        return None


__all__ = ["Notebook", "NotebookError", "read", "transform_cell", "transform_line"]
