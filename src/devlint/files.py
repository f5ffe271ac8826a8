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
from typing import Callable, Iterable, Optional

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
    # More (directory, patterns) groups, each relative to its own directory: a setting
    # inherited through `extend` stays relative to the file that wrote it, and the
    # command line's patterns are relative to the current directory.
    extra_exclude: tuple[tuple[str, tuple[str, ...]], ...] = ()
    extra_include: tuple[tuple[str, tuple[str, ...]], ...] = ()


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
        self.exclude = [
            PathSet([*options.exclude, *options.extend_exclude], options.root),
            *(PathSet(patterns, root) for root, patterns in options.extra_exclude),
        ]
        self.include = [
            PathSet(options.include, options.root),
            *(PathSet(patterns, root) for root, patterns in options.extra_include),
        ]

    def skip_dir(self, path: str, name: str) -> bool:
        return any(s.matches(path, is_dir=True) for s in self.exclude) or os.path.isfile(
            os.path.join(path, "pyvenv.cfg")
        )

    def keep_file(self, path: str) -> bool:
        return any(s.matches(path) for s in self.include) and not any(
            s.matches(path) for s in self.exclude
        )

    def excluded(self, path: str) -> bool:
        """Is `path`, or a directory above it (up to each pattern's directory), excluded?"""
        return any(s.matches_path_or_parent(path) for s in self.exclude)

    def force_excluded(self, path: str) -> bool:
        return self.options.force_exclude and self.excluded(path)


# The options that apply in one directory: to the files in it, and to its subdirectories
# when the walk decides whether to enter them (a nested configuration's settings apply
# below its directory, as in ruff).
Resolver = Callable[[str], FileOptions]


class _Filters:
    """One `_Filter` per distinct `FileOptions`, found per directory through a resolver."""

    def __init__(self, options: Optional[FileOptions], resolver: Optional[Resolver]) -> None:
        self.default = _Filter(options or FileOptions())
        self.resolver = resolver
        self.compiled: dict[FileOptions, _Filter] = {}

    def force_excluded(self, path: str) -> bool:
        """Does `--force-exclude` skip a path named on the command line?  Each
        configuration above it has its say about the part of the path below it (as the
        walk would not have entered an excluded directory), not only the nearest one."""
        if self.resolver is None:
            return self.default.force_excluded(path)
        seen: set[int] = set()
        directory = os.path.dirname(os.path.abspath(path))
        while True:
            filt = self.at(directory)
            if id(filt) not in seen:
                seen.add(id(filt))
                if filt.force_excluded(path):
                    return True
            parent = os.path.dirname(directory)
            if parent == directory:
                return False
            directory = parent

    def at(self, directory: str) -> _Filter:
        if self.resolver is None:
            return self.default
        options = self.resolver(directory)
        filt = self.compiled.get(options)
        if filt is None:
            filt = self.compiled[options] = _Filter(options)
        return filt


def _sort_key(display: str) -> tuple[str, ...]:
    # By path components, so `pkg/mod.py` sorts with `pkg/` and not between `pkg-x` and `pkg.py`.
    return tuple(display.replace(os.sep, "/").split("/"))


def _walk(top: str, errors: list[str], filters: _Filters) -> Iterable[str]:
    def on_error(exc: OSError) -> None:
        where = exc.filename if exc.filename is not None else top
        errors.append(f"cannot read directory: {where}: {exc.strerror or exc}")

    # with a resolver, a nested configuration may turn .gitignore on below it: keep track
    track = filters.resolver is not None or filters.default.options.respect_gitignore
    ignores: dict[str, GitIgnore] = {}
    if track:
        ignores[os.path.normpath(top)] = GitIgnore.for_directory(top)
    for dirpath, dirnames, filenames in os.walk(top, onerror=on_error, followlinks=False):
        here = filters.at(dirpath)
        gitignore = ignores.pop(os.path.normpath(dirpath), None) if track else None
        kept = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            # whether to enter a directory is its parent's call (as in ruff): a nested
            # configuration cannot undo the exclude of the configuration above it
            if here.skip_dir(full, d):
                continue
            if gitignore is not None:
                if here.options.respect_gitignore and gitignore.ignored(full, is_dir=True):
                    continue
                ignores[os.path.normpath(full)] = gitignore.child(full)
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if not here.keep_file(full):
                continue
            if (
                gitignore is not None
                and here.options.respect_gitignore
                and gitignore.ignored(full, is_dir=False)
            ):
                continue
            # Skip FIFOs, sockets and dangling links: reading them blocks or fails.
            if os.path.isfile(full):
                yield full


def is_force_excluded(
    path: str, options: Optional[FileOptions] = None, resolver: Optional[Resolver] = None
) -> bool:
    """Does `--force-exclude` skip `path`, a file given by name only (such as stdin's
    `--stdin-filename`), as it would skip it on the command line?"""
    return _Filters(options, resolver).force_excluded(path)


def discover(
    paths: Iterable[str],
    options: Optional[FileOptions] = None,
    resolver: Optional[Resolver] = None,
) -> Discovery:
    """Expand path arguments into the sorted, de-duplicated files to check.  With a
    `resolver`, the options of each directory come from it (per-directory configuration)
    and `options` is not used."""
    filters = _Filters(options, resolver)
    result = Discovery()
    found: list[SourceFile] = []
    for arg in paths:
        if filters.force_excluded(arg):
            continue
        if not os.path.exists(arg):
            if os.path.lexists(arg):
                result.errors.append(f"cannot follow symbolic link: {arg}")
            else:
                result.errors.append(f"path does not exist: {arg}")
            continue
        if os.path.isdir(arg):
            walked = _walk(arg, result.errors, filters)
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
