"""`full` (the default): each finding with its source line, a caret span and the help.

```
src/train.py:41:15: DL001 `images` is on the CPU, `model` on `device`
    outputs = model(images)
              ^^^^^^^^^^^^^
  help: move the batch first: `images = images.to(device)`

Found 1 problem.
```

A finding that `--fix` repairs under the run's flags is marked `[*]` after its code, and
the summary ends with ruff's fix hint on a line of its own:
    [*] 1 fixable with `--fix` (2 unsafe fixes available with `--fix --unsafe-fixes`).

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


def location(f: Finding, color: bool = False, unsafe_fixes: bool = False) -> str:
    """`path:line:col: CODE [*] message`, the line flake8 and ruff users already parse;
    `[*]` (as ruff prints it) marks a finding that `--fix` repairs under the current flags."""
    path = style(clean(f.path), color, bold=True)
    code = style(f.code, color, fg="red", bold=True)
    return f"{path}:{position(f)}: {code}{fix_marker(f, unsafe_fixes)} {clean(f.message)}"


def is_fixable(f: Finding, unsafe_fixes: bool = False) -> bool:
    """A fix that `--fix` applies: a safe one, or an unsafe one when `--unsafe-fixes` is
    given.  Counting by the run's own flags is what keeps the summary honest."""
    if f.fix is None:
        return False
    applicability = f.fix.get("applicability", "safe")
    return applicability == "safe" or (unsafe_fixes and applicability == "unsafe")


def is_hidden_fix(f: Finding, unsafe_fixes: bool = False) -> bool:
    """An unsafe fix that the current flags do not apply (`--unsafe-fixes` would)."""
    return not unsafe_fixes and f.fix is not None and f.fix.get("applicability") == "unsafe"


def fix_marker(f: Finding, unsafe_fixes: bool = False) -> str:
    return " [*]" if is_fixable(f, unsafe_fixes) else ""


def fix_hint(fixable: int, hidden: int) -> str:
    """ruff's second summary line (0.17), word for word: what `--fix` would repair, and
    the unsafe fixes that only `--fix --unsafe-fixes` applies; empty when there is none."""
    unsafe = ""
    if hidden:
        noun = "fix" if hidden == 1 else "fixes"
        unsafe = f"{hidden} unsafe {noun} available with `--fix --unsafe-fixes`"
    if fixable:
        return f"[*] {fixable} fixable with `--fix`" + (f" ({unsafe})." if unsafe else ".")
    return f"{unsafe}." if unsafe else ""


def summary(count: int, unchecked: int = 0, fixable: int = 0, hidden: int = 0) -> str:
    """The last line (or two) of a human-readable run: `Found N problems.` and, when
    something can be fixed, ruff's fix hint on the line below."""
    noun = "problem" if count == 1 else "problems"
    if unchecked:
        paths = "path" if unchecked == 1 else "paths"
        first = f"Found {count} {noun}; {unchecked} {paths} could not be checked (see stderr)."
    elif count == 0:
        return "All checks passed!"
    else:
        first = f"Found {count} {noun}."
    hint = fix_hint(fixable, hidden)
    return f"{first}\n{hint}" if hint else first


def summary_for(findings: Sequence[Finding], unchecked: int = 0, unsafe_fixes: bool = False) -> str:
    return summary(
        len(findings),
        unchecked,
        sum(1 for f in findings if is_fixable(f, unsafe_fixes)),
        sum(1 for f in findings if is_hidden_fix(f, unsafe_fixes)),
    )


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


def render_one(f: Finding, color: bool = False, unsafe_fixes: bool = False) -> str:
    parts = [location(f, color, unsafe_fixes)]
    if f.source_line.strip():
        parts.append(clean(f.source_line.expandtabs(TAB_SIZE)))
        parts.append(style(caret_line(f), color, fg="red", bold=True))
    if f.help:
        parts.append(f"  {style('help', color, fg='cyan', bold=True)}: {clean(f.help)}")
    return "\n".join(parts)


def render(
    findings: Sequence[Finding],
    *,
    color: bool = False,
    unchecked: int = 0,
    unsafe_fixes: bool = False,
    summary: bool = True,
    **_: object,
) -> str:
    """The report; `summary=False` (`--quiet`) leaves out the summary line."""
    blocks = [render_one(f, color, unsafe_fixes) for f in findings]
    if summary:
        blocks.append(summary_for(findings, unchecked, unsafe_fixes))
    return "\n\n".join(blocks) + "\n" if blocks else ""
