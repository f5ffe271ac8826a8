"""Text helpers for the language server that need no LSP library.

devlint reports 1-based lines and 1-based *character* (code point) columns, end column
exclusive; LSP wants 0-based lines and columns in the code units the client negotiated
(UTF-16 unless it asks for another), so a character outside the Basic Multilingual
Plane before a finding counts twice.  The conversions, the noqa edit, the buffer's
bytes and the smallest edit between two texts live here, as plain functions over
strings, so they can be tested without pygls (which needs a newer Python than some
devlint users run) and so the server module keeps to the protocol.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Callable, NamedTuple, Optional, Sequence

from devlint import suppression

# Lines break where LibCST breaks them (fix.py splits the same way), so devlint's rows and
# the server's rows agree; str.splitlines also breaks at \x0c, \x1c and U+2028, which
# Python's tokenizer does not.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINES_WITH_ENDINGS = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")

# Counts the code units of a string in the client's position encoding.
Units = Callable[[str], int]


def utf16_units(text: str) -> int:
    """UTF-16 code units: two for each character outside the BMP (the LSP default)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class Pos(NamedTuple):
    """A 0-based LSP position: line, and column in the client's code units."""

    line: int
    character: int


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their endings; a text ending in a line break has an
    empty last line, as an editor shows it."""
    return _LINE_BREAK.split(text)


def position(lines: Sequence[str], row: int, column: int, units: Units = utf16_units) -> Pos:
    """LSP position of devlint's 1-based (`row`, `column`), clamped to the text: a DL000
    at the end of a file, or a column past the end of its line, stays inside it."""
    if not lines:
        return Pos(0, 0)
    index = row - 1
    if index < 0:
        return Pos(0, 0)
    if index >= len(lines):
        return Pos(len(lines) - 1, units(lines[-1]))
    line = lines[index]
    return Pos(index, units(line[: max(column - 1, 0)]))


def offset_of(text_lines: Sequence[str], pos: Pos, units: Units = utf16_units) -> int:
    """The character index within its line of an LSP position (the inverse of
    `position` for one line): the editor's cursor, for hover."""
    if not 0 <= pos.line < len(text_lines):
        return 0
    line = text_lines[pos.line]
    count = 0
    for i, ch in enumerate(line):
        if count >= pos.character:
            return i
        count += units(ch)
    return len(line)


def buffer_bytes(text: str) -> bytes:
    """The bytes of an editor buffer, encoded as the file would be on disk: in the
    encoding its coding cookie declares (so `run.check_source` decodes it back to the
    same characters and the same columns), else UTF-8."""
    data = text.encode("utf-8", "surrogatepass")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return data  # an unknown cookie: the check reports it as DL000
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return data


def buffer_text(data: bytes) -> Optional[str]:
    """The text of bytes `buffer_bytes` made (or fixed bytes from `run.check_source`)."""
    from devlint.run import decode

    decoded = decode(data)
    return None if decoded is None else decoded[0]


class Replacement(NamedTuple):
    """Replace the 0-based lines [start, end) (with their endings) by `text`."""

    start: int
    end: int
    text: str


def line_diff(old: str, new: str) -> Optional[Replacement]:
    """The smallest run of whole lines whose replacement turns `old` into `new` (None
    when they are equal): an editor keeps its cursor, folds and marks outside it, which
    a whole-document edit would lose.  Whole lines, so an edit never splits a `\\r\\n`."""
    if old == new:
        return None
    a = _LINES_WITH_ENDINGS.findall(old)
    b = _LINES_WITH_ENDINGS.findall(new)
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    return Replacement(start, end_a, "".join(b[start:end_b]))


def noqa_line(text: str, row: int, code: str) -> Optional[tuple[str, str]]:
    """(old body, new body) of 1-based `row` after adding `# noqa: CODE` there (merged
    into a noqa comment the line already has), as `devlint --add-noqa` writes it; None
    when the line needs no change."""
    lines = _LINES_WITH_ENDINGS.findall(text)
    if not 0 < row <= len(lines):
        return None
    before = lines[row - 1]
    changed = suppression.add_noqa_to_lines(lines, {row: {code}}, text)
    if not changed:
        return None
    return before.rstrip("\r\n"), lines[row - 1].rstrip("\r\n")
