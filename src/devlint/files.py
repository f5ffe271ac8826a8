"""Which files a run checks.

Explicit file arguments are always checked, whatever their name.  Directories are
walked for `*.py` and `*.pyi`, skipping directories that hold other people's code or
generated files (virtual environments, VCS metadata, build output, caches): linting
them is slow and reports problems the user cannot fix.  Symbolic links to directories
are not followed, so a link loop cannot hang the walk.  The result is sorted and each
file appears once, so output is the same from run to run and machine to machine.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterable

PYTHON_SUFFIXES = (".py", ".pyi")

# Directory names never descended into while walking (an explicit argument is still walked).
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".eggs",
        "__pycache__",
        "__pypackages__",
        "build",
        "dist",
        "node_modules",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".devlint_cache",
        ".ipynb_checkpoints",
        ".direnv",
    }
)


@dataclass(frozen=True)
class SourceFile:
    """A file to check: `path` opens it, `display` is what output shows."""

    path: str
    display: str


@dataclass
class Discovery:
    """What the path arguments expanded to, and the arguments that could not be used."""

    files: list[SourceFile] = field(default_factory=list)
    # Messages for arguments that do not exist or directories that could not be read.
    errors: list[str] = field(default_factory=list)


def is_excluded_dir(path: str, name: str) -> bool:
    """True for a directory the walk skips (by name, `*.egg-info`, or a `pyvenv.cfg` inside)."""
    if name in EXCLUDED_DIRS or name.endswith(".egg-info"):
        return True
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def is_python_file(name: str) -> bool:
    return name.endswith(PYTHON_SUFFIXES)


def _sort_key(display: str) -> tuple[str, ...]:
    # By path components, so `pkg/mod.py` sorts with `pkg/` and not between `pkg-x` and `pkg.py`.
    return tuple(display.replace(os.sep, "/").split("/"))


def _walk(top: str, errors: list[str]) -> Iterable[str]:
    def on_error(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else top
        errors.append(f"cannot read directory: {where}: {exc.strerror or exc}")

    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if not is_excluded_dir(os.path.join(dirpath, d), d)
        )
        for name in sorted(filenames):
            if not is_python_file(name):
                continue
            full = os.path.join(dirpath, name)
            # Skip FIFOs, sockets and dangling links: reading them blocks or fails.
            if os.path.isfile(full):
                yield full


def discover(paths: Iterable[str]) -> Discovery:
    """Expand path arguments into the sorted, de-duplicated files to check."""
    result = Discovery()
    found: list[SourceFile] = []
    for arg in paths:
        if not os.path.exists(arg):
            if os.path.lexists(arg):
                result.errors.append(f"cannot follow symbolic link: {arg}")
            else:
                result.errors.append(f"path does not exist: {arg}")
            continue
        if os.path.isdir(arg):
            found.extend(SourceFile(p, os.path.normpath(p)) for p in _walk(arg, result.errors))
            continue
        try:
            mode = os.stat(arg).st_mode
        except OSError as exc:
            result.errors.append(f"cannot read: {arg}: {exc.strerror or exc}")
            continue
        if not stat.S_ISREG(mode):
            result.errors.append(f"not a regular file or directory: {arg}")
            continue
        found.append(SourceFile(arg, os.path.normpath(arg)))

    seen: set[str] = set()
    for source in sorted(found, key=lambda s: _sort_key(s.display)):
        key = os.path.normcase(os.path.realpath(source.path))
        if key not in seen:
            seen.add(key)
            result.files.append(source)
    return result
