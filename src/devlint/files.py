"""Which files a run checks.

Explicit file arguments are always checked, whatever their name (unless
`--force-exclude` asks to apply `exclude` to them too, as pre-commit's file lists need).
Directories are walked for the files `include` names (`*.py`, `*.pyi`, `*.ipynb` by
default), skipping directories and files that `exclude`/`extend-exclude` name (by
default those that hold other people's code or generated files: virtual environments,
VCS metadata, build output, caches) and, with `respect-gitignore` (the default), those
that `.gitignore` files ignore: linting them is slow and reports problems the user
cannot fix.  Symbolic links to directories are not followed, so a link loop cannot hang
the walk.  The result is sorted and each file appears once, so output is the same from
run to run and machine to machine.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterable, Optional

from devlint.globs import GitIgnore, PathSet

PYTHON_SUFFIXES = (".py", ".pyi")
NOTEBOOK_SUFFIX = ".ipynb"
DEFAULT_INCLUDE = ("*.py", "*.pyi", "*.ipynb")

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


# The default `exclude`: the names above and `*.egg-info` (a `pyvenv.cfg` inside a
# directory always marks a virtual environment, whatever `exclude` says).
DEFAULT_EXCLUDE = (*sorted(EXCLUDED_DIRS), "*.egg-info")


@dataclass(frozen=True)
class FileOptions:
    """What the walk includes and skips (`[tool.devlint]` settings and options)."""

    # Relative patterns are relative to this directory (the configuration's, else the cwd).
    root: str = "."
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = DEFAULT_INCLUDE
    respect_gitignore: bool = True
    # Apply `exclude`/`extend-exclude` to files named on the command line too.
    force_exclude: bool = False


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


def is_notebook(path: str) -> bool:
    return path.lower().endswith(NOTEBOOK_SUFFIX)


class _Filter:
    """The compiled form of `FileOptions`."""

    def __init__(self, options: FileOptions) -> None:
        self.options = options
        self.exclude = PathSet([*options.exclude, *options.extend_exclude], options.root)
        self.include = PathSet(options.include, options.root)

    def skip_dir(self, path: str, name: str) -> bool:
        return self.exclude.matches(path, is_dir=True) or os.path.isfile(
            os.path.join(path, "pyvenv.cfg")
        )

    def keep_file(self, path: str) -> bool:
        return self.include.matches(path) and not self.exclude.matches(path)

    def force_excluded(self, path: str) -> bool:
        return self.options.force_exclude and self.exclude.matches_path_or_parent(path)


def _sort_key(display: str) -> tuple[str, ...]:
    # By path components, so `pkg/mod.py` sorts with `pkg/` and not between `pkg-x` and `pkg.py`.
    return tuple(display.replace(os.sep, "/").split("/"))


def _walk(top: str, errors: list[str], filt: _Filter) -> Iterable[str]:
    def on_error(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else top
        errors.append(f"cannot read directory: {where}: {exc.strerror or exc}")

    use_gitignore = filt.options.respect_gitignore
    ignores: dict[str, GitIgnore] = {}
    if use_gitignore:
        ignores[os.path.normpath(top)] = GitIgnore.for_directory(top)
    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error, followlinks=False):
        gitignore = ignores.pop(os.path.normpath(dirpath), None) if use_gitignore else None
        kept = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if filt.skip_dir(full, d):
                continue
            if gitignore is not None:
                if gitignore.ignored(full, is_dir=True):
                    continue
                ignores[os.path.normpath(full)] = gitignore.child(full)
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if not filt.keep_file(full):
                continue
            if gitignore is not None and gitignore.ignored(full, is_dir=False):
                continue
            # Skip FIFOs, sockets and dangling links: reading them blocks or fails.
            if os.path.isfile(full):
                yield full


def discover(paths: Iterable[str], options: Optional[FileOptions] = None) -> Discovery:
    """Expand path arguments into the sorted, de-duplicated files to check."""
    filt = _Filter(options or FileOptions())
    result = Discovery()
    found: list[SourceFile] = []
    for arg in paths:
        if filt.force_excluded(arg):
            continue
        if not os.path.exists(arg):
            if os.path.lexists(arg):
                result.errors.append(f"cannot follow symbolic link: {arg}")
            else:
                result.errors.append(f"path does not exist: {arg}")
            continue
        if os.path.isdir(arg):
            walked = _walk(arg, result.errors, filt)
            found.extend(SourceFile(p, os.path.normpath(p)) for p in walked)
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
