"""Which frames are the user's, and where in the user's code something happened.

A *site* is `(path, line)`: the innermost frame of the user's own code at the moment a
tensor was created or moved, or an operation failed.  "The user's code" is every file
that is not part of Python itself, of an installed package (site-packages), of devlint,
or generated (`<string>`, `<frozen ...>`).  This module never imports torch.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from typing import Optional

Site = tuple[str, int]


def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    for scheme_key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            path = sysconfig.get_paths()[scheme_key]
        except KeyError:
            continue
        if path:
            roots.add(os.path.realpath(path))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        roots.add(os.path.realpath(os.path.join(prefix, "lib")))
    for path in sys.path:
        if path and ("site-packages" in path or "dist-packages" in path):
            roots.add(os.path.realpath(path))
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # src/devlint
    roots.add(here)
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots))


_ROOTS: Optional[tuple[str, ...]] = None
_USER_CACHE: dict[str, bool] = {}


def is_user_file(filename: str) -> bool:
    """True for a file of the program being checked (cached per file name)."""
    cached = _USER_CACHE.get(filename)
    if cached is not None:
        return cached
    global _ROOTS
    if _ROOTS is None:
        _ROOTS = _library_roots()
    if not filename or filename.startswith("<") or not filename.endswith((".py", ".pyw")):
        result = False
    else:
        real = os.path.realpath(filename)
        result = not any(real.startswith(root) for root in _ROOTS)
    _USER_CACHE[filename] = result
    return result


def mark_user_file(filename: str) -> None:
    """Treat `filename` as the user's even if it lives in a library directory."""
    _USER_CACHE[filename] = True


class _ThreadFrames(threading.local):
    """The user frames of the code that started the current thread (empty on the main
    thread): a thread runs on behalf of that code, so its stack goes on there."""

    frames: list = []


_PARENT = _ThreadFrames()


def set_parent_frames(frames: list[dict]) -> None:
    """Called first thing in a new thread with the starting thread's user frames."""
    _PARENT.frames = list(frames)


def innermost_user_site(frame) -> Optional[Site]:
    """The first user frame at or above `frame`, as a site (in a thread started from user
    code with no user frame of its own: the line that started it)."""
    cache = _USER_CACHE
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        user = cache.get(filename)
        if user is None:
            user = is_user_file(filename)
        if user:
            return (filename, frame.f_lineno)
        frame = frame.f_back
    parent = _PARENT.frames
    if parent:
        return (parent[0]["path"], parent[0]["line"])
    return None


def user_frames(frame, limit: int = 64) -> list[dict]:
    """The user frames at or above `frame`, innermost first, as JSON-ready records, then
    those of the code that started this thread (see `set_parent_frames`)."""
    out: list[dict] = []
    while frame is not None and len(out) < limit:
        code = frame.f_code
        if is_user_file(code.co_filename):
            out.append(
                {
                    "path": code.co_filename,
                    "line": frame.f_lineno,
                    "function": code.co_name,
                    "first_line": code.co_firstlineno,
                }
            )
        frame = frame.f_back
    parent = _PARENT.frames
    if parent:
        out.extend(parent[: max(0, limit - len(out))])
    return out


def caller_frame(depth: int = 1):
    """`sys._getframe(depth + 1)`, or None when the stack is shallower."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None
