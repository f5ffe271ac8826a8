"""`full` (the default): each finding with its source line, a caret span and the help.

```
src/train.py:41:15: DL001 `images` is on the CPU, `model` on `device`
    outputs = model(images)
              ^^^^^^^^^^^^^
  help: move the batch first: `images = images.to(device)`

Found 1 problem.
```

In a notebook the position is `cell N:line:col`, the line and column within cell N.
The helpers here (`location`, `summary`, `clean`) are shared with `concise`.
"""

from __future__ import annotations

import unicodedata
from typing import Sequence

import click

from devlint.findings import Finding

TAB_SIZE = 8

# C0/C1 control characters except tab, each replaced by one visible character.
_CONTROL = {c: "\ufffd" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x09}


def clean(text: str) -> str:
    """Make text from a scanned file safe to print.

    Control characters become U+FFFD, so a hostile file cannot drive the terminal, and
    one character stays one character, which keeps carets aligned.  Lone surrogates
    (from file names that are not UTF-8) become escapes instead of failing the write.
    """
    text = text.translate(_CONTROL)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def width(text: str) -> int:
    """Terminal columns taken by `text` (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def style(text: str, color: bool, **kwargs: object) -> str:
    return click.style(text, **kwargs) if color else text  # type: ignore[arg-type]


def position(f: Finding) -> str:
    """`line:col`, or `cell N:line:col` in a notebook (as ruff prints it)."""
    if f.cell is not None:
        return f"cell {f.cell}:{f.line}:{f.col}"
    return f"{f.line}:{f.col}"


def location(f: Finding, color: bool = False) -> str:
    """`path:line:col: CODE message`, the line flake8 and ruff users already parse."""
    path = style(clean(f.path), color, bold=True)
    code = style(f.code, color, fg="red", bold=True)
    return f"{path}:{position(f)}: {code} {clean(f.message)}"


def is_fixable(f: Finding) -> bool:
    """A fix that `--fix` applies (unsafe fixes need `--unsafe-fixes`)."""
    return f.fix is not None and f.fix.get("applicability", "safe") == "safe"


def summary(count: int, unchecked: int = 0, fixable: int = 0) -> str:
    """The last line of a human-readable run."""
    noun = "problem" if count == 1 else "problems"
    fixes = f" ({fixable} fixable with --fix)" if fixable else ""
    if unchecked:
        paths = "path" if unchecked == 1 else "paths"
        return (
            f"Found {count} {noun}{fixes}; {unchecked} {paths} could not be checked (see stderr)."
        )
    if count == 0:
        return "All checks passed!"
    return f"Found {count} {noun}{fixes}."


def summary_for(findings: Sequence[Finding], unchecked: int = 0) -> str:
    return summary(len(findings), unchecked, sum(1 for f in findings if is_fixable(f)))


def caret_line(f: Finding) -> str:
    """Spaces then `^` under the finding's span, clipped to its first line.

    Tabs expand as the printed source line does and wide characters take two columns,
    so the carets sit under the code in a terminal.  The span is at least one caret.
    """
    line = f.source_line
    start = min(max(f.col - 1, 0), len(line))
    end = f.end_col - 1 if f.end_line == f.line else len(line.rstrip())
    end = max(min(end, len(line)), start + 1)
    before = line[:start].expandtabs(TAB_SIZE)
    upto_end = line[:end].expandtabs(TAB_SIZE)
    span = upto_end[len(before) :]
    return " " * width(before) + "^" * max(width(span), 1)


def render_one(f: Finding, color: bool = False) -> str:
    parts = [location(f, color)]
    if f.source_line.strip():
        parts.append(clean(f.source_line.expandtabs(TAB_SIZE)))
        parts.append(style(caret_line(f), color, fg="red", bold=True))
    if f.help:
        parts.append(f"  {style('help', color, fg='cyan', bold=True)}: {clean(f.help)}")
    return "\n".join(parts)


def render(
    findings: Sequence[Finding], *, color: bool = False, unchecked: int = 0, **_: object
) -> str:
    blocks = [render_one(f, color) for f in findings]
    blocks.append(summary_for(findings, unchecked))
    return "\n\n".join(blocks) + "\n"
