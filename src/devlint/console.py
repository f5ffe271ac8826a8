"""What the command line needs to know about its terminal."""

from __future__ import annotations

from typing import IO


def isatty(stream: IO[str]) -> bool:
    """Is `stream` a terminal?  A closed or replaced stream (pytest's capture, a pipe
    wrapper without `isatty`) is not."""
    method = getattr(stream, "isatty", None)
    try:
        return bool(method and method())
    except ValueError:
        return False
