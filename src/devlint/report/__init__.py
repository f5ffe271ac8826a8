"""Formatters: each turns the findings of a run into the text of a report.

Formatters are pure functions of the findings (and of a few facts about the run: the
workspace root for relative paths, what could not be checked), so they are easy to test
and a new format is one small module.  Diagnostics about the run itself (missing paths,
internal errors) go to stderr from the CLI and never mix into this output.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from typing import Any, Callable, Sequence

from devlint.findings import Finding
from devlint.report import full

Formatter = Callable[..., str]

# format -> (module of devlint.report, function): a module loads when its format is
# used, so a run pays only for its own format (junit's XML escaping alone pulls in
# urllib, about 20 ms, more than a warm run's whole analysis)
FORMATS: dict[str, tuple[str, str]] = {
    "full": ("full", "render"),
    "concise": ("concise", "render"),
    "json": ("json_format", "render"),
    "json-lines": ("json_format", "render_lines"),
    "sarif": ("sarif", "render"),
    "github": ("github", "render"),
    "gitlab": ("gitlab", "render"),
    "junit": ("junit", "render"),
    "pylint": ("pylint", "render"),
    "grouped": ("grouped", "render"),
}


def formatter(fmt: str) -> Formatter:
    """The render function of format `fmt`, its module loaded on first use."""
    module, function = FORMATS[fmt]
    return getattr(importlib.import_module(f"devlint.report.{module}"), function)


# Formats read by programs: never coloured, and no summary line.
MACHINE_FORMATS = frozenset({"json", "json-lines", "sarif", "github", "gitlab", "junit", "pylint"})
# Formats whose `--statistics` report is JSON.
JSON_FORMATS = frozenset({"json", "json-lines", "sarif", "gitlab"})


def render(
    fmt: str,
    findings: Sequence[Finding],
    *,
    color: bool = False,
    unchecked: int = 0,
    **options: Any,
) -> str:
    """The complete text of a run's report in format `fmt`."""
    return formatter(fmt)(findings, color=color, unchecked=unchecked, **options)


def statistics(findings: Sequence[Finding], unsafe_fixes: bool = False) -> list[dict[str, Any]]:
    """Counts per rule, most frequent first (then by code).  `fixable` counts the fixes
    `--fix` applies under the run's flags (with `--unsafe-fixes`, the unsafe ones too);
    `fixable_count` is the same number under ruff's name for it."""
    counts = Counter(f.code for f in findings)
    names = {f.code: f.name for f in findings}
    fixable = Counter(f.code for f in findings if full.is_fixable(f, unsafe_fixes))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {
            "code": code,
            "name": names[code],
            "count": count,
            "fixable": fixable[code],
            "fixable_count": fixable[code],
        }
        for code, count in rows
    ]


def render_statistics(
    fmt: str,
    findings: Sequence[Finding],
    *,
    unchecked: int = 0,
    unsafe_fixes: bool = False,
    summary: bool = True,
    **_: Any,
) -> str:
    """`--statistics`: `12  DL003  batch-not-moved-in-loop` lines, then the summary
    (a JSON list of `{code, name, count, fixable, fixable_count}` for the JSON formats).
    When some rule has fixes `--fix` applies, a `[*]`/`[ ]` column says which, as in
    ruff; `summary=False` (`--quiet`) leaves the summary out."""
    rows = statistics(findings, unsafe_fixes)
    if fmt in JSON_FORMATS:
        return json.dumps(rows, indent=2) + "\n"
    last = [full.summary_for(findings, unchecked, unsafe_fixes)] if summary else []
    if not rows:
        return "".join(line + "\n" for line in last)
    width = max(len(str(r["count"])) for r in rows)
    marks = any(r["fixable"] for r in rows)
    lines = []
    for r in rows:
        mark = ("[*] " if r["fixable"] else "[ ] ") if marks else ""
        lines.append(f"{r['count']:>{width}}  {r['code']}  {mark}{r['name']}")
    return "\n".join([*lines, *last]) + "\n"


__all__ = [
    "FORMATS",
    "JSON_FORMATS",
    "MACHINE_FORMATS",
    "formatter",
    "render",
    "render_statistics",
    "statistics",
]
