"""Re-parse only what an edit changed: the language server's memo of one buffer.

While the user types, each check of a buffer differs from the last one by a few
characters, yet LibCST's parse of the whole file, the codegen pass that places the
findings and the tokenizer pass that finds suppression comments cost three quarters
of a check of a 2,000-line file.  All three work on top-level statements that the edit
did not touch, so this memo keeps them:

- The text is cut into *chunks*, each one or more whole top-level statements with the
  comment and blank lines that follow them, at lines where a top-level statement
  starts (column 0, outside brackets, strings and continuations, not `else:`/`except`
  and the like, not the `def` under a decorator).  Each chunk is parsed on its own and
  the module is assembled from the chunks' statements.  After an edit only the chunks
  it touched are parsed again.
- The assembled module is the module `libcst.parse_module` makes of the whole text,
  node for node (`Module.deep_equals`; tests/test_server_incremental.py holds the memo
  to that): a chunk that is not the last is parsed with a `pass` line after it, so
  LibCST gives the comment lines after it to the same owner as in the whole file (the
  block above, or the statement below: those become the next chunk's first
  statement's `leading_lines`).  The analysis therefore sees the same tree, and the
  findings are the command line's.
- Anything unusual (a chunk that does not parse on its own, an indentation or line
  ending that differs between chunks, lone `\\r` line ends) falls back to the plain
  whole-file parse, so the memo can make a check faster, never different.
- Positions (`positions.positions_of`) and suppression comments (`suppression.scan`)
  are computed per chunk, cached, and shifted by the chunk's first line.

The memo only parses and tokenizes; it never runs or imports the user's code.  It is
used by one thread at a time (the server's analysis worker).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from typing import Callable, Iterable, Optional, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

from devlint import suppression
from devlint.positions import Placed, positions_of

# a line of the text with its ending (the text is cut at "\n" only: "\r\n" stays whole)
_LINES = re.compile(r"[^\n]*\n|[^\n]+$")
# a line at column 0 that continues the statement above it
_CONTINUES = re.compile(r"(?:else|elif|except|finally)\b")
# the characters that can change the lexical state outside strings
_SPECIAL = re.compile(r"[\"'#\\()\[\]{}]")
_STRING_STOP = {q: re.compile(r"\\|" + re.escape(q)) for q in ('"', "'", '"""', "'''")}
# appended to a chunk that is not the last, to stand for the statement that follows it
_SENTINEL = "pass\n"
# after a failed build from scratch, this many parses use the whole-file parse
_COOLDOWN = 8
# a chunk that fails to parse on its own is merged with the next this many times,
# then the rest of the file is taken as one chunk
_MERGES = 2


def split_lines(text: str) -> list[str]:
    """The lines of `text` with their endings, cut at `\\n` only."""
    return _LINES.findall(text)


class _Lexer:
    """Enough of Python's lexer to know which lines start a top-level statement: open
    strings, bracket depth, backslash continuations.  A mistake here can only make a
    chunk that does not parse on its own (and the memo then falls back), never a
    different tree."""

    def __init__(self) -> None:
        self.quote: Optional[str] = None
        self.depth = 0
        self.continued = False

    @property
    def clean(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line: str) -> None:
        body = line.rstrip("\r\n")
        n = len(body)
        i = 0
        self.continued = False
        while i < n:
            if self.quote is not None:
                stop = _STRING_STOP[self.quote]
                m = stop.search(body, i)
                while m is not None and m.group() == "\\":
                    if m.end() >= n:  # a backslash at the end: the string goes on
                        return
                    m = stop.search(body, m.end() + 1)
                if m is None:
                    if len(self.quote) == 1:
                        self.quote = None  # an unclosed one-line string: an error
                    return
                i = m.end()
                self.quote = None
                continue
            m = _SPECIAL.search(body, i)
            if m is None:
                return
            c = m.group()
            i = m.end()
            if c == "#":
                return
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(self.depth - 1, 0)
            elif c == "\\":
                if i >= n:
                    self.continued = True
                    return
                i += 1
            else:
                self.quote = c * 3 if body.startswith(c * 3, i - 1) else c
                i = i - 1 + len(self.quote)


def statement_starts(lines: Sequence[str]) -> list[int]:
    """Indices of the lines, after the first code line, that start a top-level
    statement: where a chunk may begin."""
    lexer = _Lexer()
    starts: list[int] = []
    seen_code = False
    decorating = False  # the statement being read began with a decorator
    for index, line in enumerate(lines):
        if lexer.clean and line[:1] not in ("", " ", "\t", "\f", "\r", "\n", "#", "\\"):
            if decorating:
                decorating = line.startswith("@")
            elif not _CONTINUES.match(line):
                if seen_code:
                    starts.append(index)
                seen_code = True
                decorating = line.startswith("@")
        lexer.feed(line)
    return starts


@dataclasses.dataclass(eq=False)
class Chunk:
    """Whole top-level statements of the text, parsed on their own."""

    text: str
    last: bool  # parsed as the end of the file (no sentinel after it)
    header: tuple[cst.EmptyLine, ...]
    body: tuple[cst.BaseStatement, ...]
    # the lines after the last statement that belong to the next statement (or, for
    # the last chunk, the module's footer)
    carry: tuple[cst.EmptyLine, ...]
    indent: str
    newline: str
    trailing_newline: bool
    has_block: bool  # holds an indented block (its `indent` is then the file's)
    newlines: int = 0
    # filled on demand
    joined: Optional[cst.BaseStatement] = None  # body[0] with the carry before it
    joined_after: Optional[Chunk] = None  # the chunk whose carry `joined` holds
    _ids: Optional[frozenset[int]] = None
    lossless: bool = False  # known once `ids` ran
    placed: dict[int, Placed] = dataclasses.field(default_factory=dict)
    comments: Optional[suppression.FileComments] = None

    def __post_init__(self) -> None:
        self.newlines = self.text.count("\n")

    def ids(self) -> frozenset[int]:
        """The ids of every node of the chunk's own statements (and header).  The same
        pass checks that LibCST writes the chunk back as its text (`lossless`): where
        it does not, its positions (from that writing) drift from the text's lines.
        (The chunk's own indentation and line ending are the file's wherever they
        matter: `BufferMemo` checks that before it assembles the chunks.)"""
        if self._ids is None:
            state = _IdState(default_indent=self.indent, default_newline=self.newline)
            for node in (*self.header, *self.body):
                node._codegen(state)
            own = frozenset(state.ids)
            for line in self.carry:
                line._codegen(state)
            tokens = state.tokens
            if self.last and not self.trailing_newline and tokens[-1:] in (["\r\n"], ["\n"]):
                tokens.pop()  # as `Module` drops the newline the file does not end with
            self.lossless = "".join(state.tokens) == self.text
            self._ids = own
        return self._ids


class _IdState(CodegenState):
    """A codegen pass that also collects the ids of the nodes it passes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ids: set[int] = set()

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.ids.add(id(node))


_CLAUSES = (cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.If)


def _has_block(node: cst.CSTNode) -> bool:
    """Does a top-level statement hold an indented block (where LibCST takes the
    file's default indentation from)?"""
    if isinstance(node, cst.Match):
        return True
    for child in node.children:
        if isinstance(child, (cst.IndentedBlock, cst.Match)):
            return True
        if isinstance(child, _CLAUSES) and _has_block(child):
            return True
    return False


def parse_chunk(text: str, last: bool) -> Optional[Chunk]:
    """`text` (whole statements) parsed on its own; None when it does not parse so."""
    if not last and not text.endswith("\n"):
        return None
    try:
        module = cst.parse_module(text if last else text + _SENTINEL)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
    body = list(module.body)
    if last:
        carry = tuple(module.footer)
    else:
        if not body or module.footer:
            return None
        sentinel = body.pop()
        if not (
            isinstance(sentinel, cst.SimpleStatementLine)
            and len(sentinel.body) == 1
            and isinstance(sentinel.body[0], cst.Pass)
        ):
            return None
        carry = tuple(sentinel.leading_lines)
        if not body:
            return None
    chunk = Chunk(
        text=text,
        last=last,
        header=tuple(module.header),
        body=tuple(body),
        carry=carry,
        indent=module.default_indent,
        newline=module.default_newline,
        trailing_newline=module.has_trailing_newline,
        has_block=any(isinstance(s, cst.BaseCompoundStatement) and _has_block(s) for s in body),
    )
    return chunk


def parse_chunks(text: str, last: bool) -> Optional[list[Chunk]]:
    """`text`, which starts at a statement and ends at the end of one (or of the file
    when `last`), cut at statement starts and parsed chunk by chunk.  A chunk that
    does not parse on its own is merged with the next (the cut was wrong, say inside
    a string the lexer misread); None when the text cannot be parsed this way."""
    lines = split_lines(text)
    cuts = [0, *statement_starts(lines), len(lines)]
    pieces = ["".join(lines[a:b]) for a, b in zip(cuts, cuts[1:])]
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        merged = 0
        piece = pieces[i]
        while True:
            is_last = last and i == len(pieces) - 1
            chunk = parse_chunk(piece, is_last)
            if chunk is not None:
                break
            if i == len(pieces) - 1:
                return None
            merged += 1
            if merged > _MERGES:
                piece += "".join(pieces[i + 1 :])
                i = len(pieces) - 1
            else:
                i += 1
                piece += pieces[i]
        chunks.append(chunk)
        i += 1
    return chunks


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix (bisection on C string comparisons)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _lone_cr(text: str) -> bool:
    """Line ends of a lone `\\r`: Python's tokenizer and LibCST count lines differently
    there, so per-chunk line numbers could not be trusted."""
    return "\r" in text and text.count("\r") != text.count("\r\n")


class BufferMemo:
    """What the last checks of one buffer parsed, for the next check: `parse`,
    `positions` and `scan` return what `libcst.parse_module`, `positions.positions_of`
    and `suppression.scan` would, reusing the chunks an edit left alone.  The checker
    takes it as its `reuse` argument (`checker.check_text`)."""

    def __init__(self) -> None:
        self.text: Optional[str] = None
        self.module: Optional[cst.Module] = None
        self.chunks: list[Chunk] = []
        self.starts: list[int] = []  # offset of each chunk in `text`
        self.lines: list[int] = []  # 1-based first line of each chunk
        self._owner: dict[int, int] = {}  # id of a joined statement -> chunk index
        self._cooldown = 0
        # how the last parse went: "same", "incremental", "scratch" or "whole"
        self.last_parse = ""
        self.reparsed = 0  # chunks parsed by the last parse

    # --- parsing ---------------------------------------------------------------------

    def parse(self, text: str) -> cst.Module:
        """`libcst.parse_module(text)`: the module of the last parse when the text is
        the same, else the chunks the edit left alone with the others parsed again, else
        (nothing kept, or a text that cannot be cut up) chunks from scratch or the
        whole-file parse, which raises as the checker expects."""
        if self.module is not None and text == self.text:
            self.last_parse = "same"
            return self.module
        chunks: Optional[list[Chunk]] = None
        if not _lone_cr(text):
            if self.chunks and self.text is not None:
                chunks = self._update(text)
                self.last_parse = "incremental"
            if chunks is None and self._cooldown <= 0:
                chunks = parse_chunks(text, last=True)
                self.last_parse = "scratch"
                if chunks is not None:
                    self.reparsed = len(chunks)
        module = self._assemble(text, chunks) if chunks else None
        if module is None:
            # a text that cannot be cut up now: the next parses are whole, and only then
            # is cutting it tried again
            if self.last_parse == "scratch":
                self._cooldown = _COOLDOWN
            self._cooldown -= 1
            self._forget()
            self.last_parse = "whole"
            module = cst.parse_module(text)  # raises as the checker expects
            self.text, self.module = text, module
        return module

    def _forget(self) -> None:
        self.text = self.module = None
        self.chunks, self.starts, self.lines = [], [], []
        self._owner = {}

    def _update(self, text: str) -> Optional[list[Chunk]]:
        """The chunks of `text`, parsing again only those the edit from `self.text`
        touched (and the one before, when the edit reaches the first line of one: an
        indented or `else:` line there continues the statement above)."""
        old = self.text
        assert old is not None
        chunks, starts = self.chunks, self.starts
        p = _common_prefix(old, text)
        s = _common_suffix(old, text, min(len(old), len(text)) - p)
        end_old = len(old) - s
        a = max(bisect.bisect_right(starts, p) - 1, 0)
        first_line_end = old.find("\n", starts[a])
        if a > 0 and (first_line_end < 0 or p <= first_line_end):
            a -= 1
        hi = min(max(end_old, p + 1), len(old)) - 1
        b = max(bisect.bisect_right(starts, max(hi, 0)) - 1, a)
        region_start = starts[a]
        region_end = starts[b] + len(chunks[b].text) + len(text) - len(old)
        last = b == len(chunks) - 1
        region = text[region_start:region_end]
        if not region or (not last and not region.endswith("\n")):
            return None
        fresh = parse_chunks(region, last)
        if fresh is None:
            return None
        self.reparsed = len(fresh)
        return [*chunks[:a], *fresh, *chunks[b + 1 :]]

    def _assemble(self, text: str, chunks: list[Chunk]) -> Optional[cst.Module]:
        """The module of the chunks; None when LibCST's whole-file parse could differ
        (chunks detected different indentation or line endings)."""
        indent = next((c.indent for c in chunks if c.has_block), chunks[0].indent)
        newline = chunks[0].newline
        for c in chunks:
            if c.has_block and c.indent != indent:
                return None
            if c.newline != newline and c.newlines:
                return None
            if c is not chunks[0] and c.header:
                return None
        body: list[cst.BaseStatement] = []
        owner: dict[int, int] = {}
        starts, lines = [], []
        offset, line = 0, 1
        previous: Optional[Chunk] = None
        for index, c in enumerate(chunks):
            starts.append(offset)
            lines.append(line)
            offset += len(c.text)
            line += c.newlines
            if not c.body:  # a file without statements: one chunk, its header only
                previous = c
                continue
            first = c.body[0]
            if previous is not None and previous.carry:
                if c.joined is None or c.joined_after is not previous:
                    c.joined = first.with_changes(
                        leading_lines=(*previous.carry, *first.leading_lines)
                    )
                    c.joined_after = previous
                first = c.joined
                owner[id(first)] = index
            body.append(first)
            body.extend(c.body[1:])
            previous = c
        if offset != len(text):
            return None
        last = chunks[-1]
        module = cst.Module(
            body=body,
            header=chunks[0].header,
            footer=last.carry,
            encoding="utf-8",
            default_indent=indent,
            default_newline=newline,
            has_trailing_newline=last.trailing_newline,
        )
        self.text, self.module, self.chunks = text, module, chunks
        self.starts, self.lines, self._owner = starts, lines, owner
        return module

    def warm(self, stop: Callable[[], bool]) -> int:
        """Do now, chunk by chunk, what a check with findings needs of every chunk (the
        ids that say which chunk holds a node, the suppression comments), until `stop()`
        says new work came in; the number of chunks done.  The server runs this while
        the user pauses, so the first findings after opening a file do not pay for
        generating and tokenizing the whole file."""
        done = 0
        for chunk in list(self.chunks):
            if stop():
                break
            if chunk._ids is not None and chunk.comments is not None:
                continue
            chunk.ids()
            if chunk.comments is None:
                chunk.comments = suppression.scan(chunk.text)
            done += 1
        return done

    # --- positions ---------------------------------------------------------------------

    def positions(self, module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, Placed]:
        """`positions.positions_of(module, nodes)`, from the chunks' cached positions:
        only a chunk that holds a node not placed before is generated again."""
        nodes = list(nodes)
        if module is not self.module or not self.chunks:
            return positions_of(module, nodes)
        assert self.module is not None
        indent, newline = self.module.default_indent, self.module.default_newline
        wanted: dict[int, cst.CSTNode] = {}
        for node in nodes:
            wanted[id(node)] = node
        result: dict[int, Placed] = {}
        missing: dict[int, list[tuple[int, cst.CSTNode]]] = {}
        remaining = dict(wanted)
        for key in list(remaining):
            index = self._owner.get(key)
            if index is not None:  # a joined statement: placed as the chunk's own first
                node = self.chunks[index].body[0]
                missing.setdefault(index, []).append((key, node))
                del remaining[key]
        # every chunk up to the last that holds a wanted node: its lines must be its
        # text's, or the line numbers after it would drift from LibCST's
        upto = max(missing, default=-1)
        for index, chunk in enumerate(self.chunks):
            if not remaining and index > upto:
                break
            ids = chunk.ids()
            if not chunk.lossless:
                return positions_of(module, nodes)
            for key in [k for k in remaining if k in ids]:
                missing.setdefault(index, []).append((key, remaining.pop(key)))
        if remaining:
            return positions_of(module, nodes)  # a node outside every chunk's statements
        for index, items in missing.items():
            chunk = self.chunks[index]
            todo = [node for _, node in items if id(node) not in chunk.placed]
            if todo:
                own = cst.Module(
                    body=chunk.body,
                    header=chunk.header,
                    default_indent=indent,
                    default_newline=newline,
                )
                chunk.placed.update(positions_of(own, todo))
            shift = self.lines[index] - 1
            for key, node in items:
                placed = chunk.placed.get(id(node))
                if placed is None:
                    return positions_of(module, nodes)
                result[key] = _shifted(placed, shift)
        return result

    # --- suppression comments ----------------------------------------------------------

    def scan(self, text: str) -> suppression.FileComments:
        """`suppression.scan(text)`, tokenizing only the chunks not scanned before."""
        if text != self.text or not self.chunks:
            return suppression.scan(text)
        merged = suppression.FileComments()
        for chunk, first in zip(self.chunks, self.lines):
            if chunk.comments is None:
                chunk.comments = suppression.scan(chunk.text)
            part = chunk.comments
            if not part.tokenized:
                return suppression.scan(text)
            shift = first - 1
            merged.skip_file = merged.skip_file or part.skip_file
            for line, directives in part.directives.items():
                merged.directives[line + shift] = [
                    dataclasses.replace(d, line=d.line + shift, used=set()) for d in directives
                ]
            if shift:
                merged.statement_end.update(
                    {k + shift: v + shift for k, v in part.statement_end.items()}
                )
                merged.commentable.update(k + shift for k in part.commentable)
            else:
                merged.statement_end.update(part.statement_end)
                merged.commentable.update(part.commentable)
        return merged


def _shifted(placed: Placed, lines: int) -> Placed:
    if not lines:
        return placed
    start, end = placed.range.start, placed.range.end
    return Placed(
        CodeRange(
            CodePosition(start.line + lines, start.column),
            CodePosition(end.line + lines, end.column),
        ),
        placed.indent_tokens,
    )


__all__ = ["BufferMemo", "Chunk", "parse_chunks", "split_lines", "statement_starts"]
