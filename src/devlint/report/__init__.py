"""Formatters: each turns the findings of a run into the text of a report.

Formatters are pure functions of the findings (and of a few facts about the run: the
workspace root for relative paths, what could not be checked), so they are easy to test
and a new format is one small module.  Diagnostics about the run itself (missing paths,
internal errors) go to stderr from the CLI and never mix into this output.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Callable, Sequence

from devlint.findings import Finding
from devlint.report import concise, full, github, json_format, sarif

Formatter = Callable[..., str]

FORMATS: dict[str, Formatter] = {
    "full": full.render,
    "concise": concise.render,
    "json": json_format.render,
    "json-lines": json_format.render_lines,
    "sarif": sarif.render,
    "github": github.render,
}
# Formats read by programs: never coloured, and no summary line.
MACHINE_FORMATS = frozenset({"json", "json-lines", "sarif", "github"})


def render(
    fmt: str,
    findings: Sequence[Finding],
    *,
    color: bool = False,
    unchecked: int = 0,
    **options: Any,
) -> str:
    """The complete text of a run's report in format `fmt`."""
    return FORMATS[fmt](findings, color=color, unchecked=unchecked, **options)


def statistics(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Counts per rule, most frequent first (then by code)."""
    counts = Counter(f.code for f in findings)
    names = {f.code: f.name for f in findings}
    fixable = Counter(f.code for f in findings if full.is_fixable(f))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"code": code, "name": names[code], "count": count, "fixable": fixable[code]}
        for code, count in rows
    ]


def render_statistics(
    fmt: str, findings: Sequence[Finding], *, unchecked: int = 0, **_: Any
) -> str:
    """`--statistics`: `12  DL003  batch-not-moved-in-loop` lines, then the summary
    (a JSON list of `{code, name, count, fixable}` for the json formats)."""
    rows = statistics(findings)
    if fmt in ("json", "json-lines", "sarif"):
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return full.summary_for(findings, unchecked) + "\n"
    width = max(len(str(r["count"])) for r in rows)
    lines = [f"{r['count']:>{width}}  {r['code']}  {r['name']}" for r in rows]
    lines.append(full.summary_for(findings, unchecked))
    return "\n".join(lines) + "\n"


__all__ = ["FORMATS", "MACHINE_FORMATS", "render", "render_statistics", "statistics"]
