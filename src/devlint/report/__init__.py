"""Formatters: each turns the findings of a run into the text written to stdout.

Formatters are pure functions of the findings, so they are easy to test and a new
format is one small module.  Diagnostics about the run itself (missing paths,
internal errors) go to stderr from the CLI and never mix into this output.
"""

from __future__ import annotations

from typing import Callable, Sequence

from devlint.findings import Finding
from devlint.report import concise, full, json_format

Formatter = Callable[..., str]

FORMATS: dict[str, Formatter] = {
    "full": full.render,
    "concise": concise.render,
    "json": json_format.render,
}


def render(
    fmt: str, findings: Sequence[Finding], *, color: bool = False, unchecked: int = 0
) -> str:
    """The complete stdout text of a run in format `fmt`."""
    return FORMATS[fmt](findings, color=color, unchecked=unchecked)


__all__ = ["FORMATS", "render"]
