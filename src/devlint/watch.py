"""`devlint --watch`: check again whenever a checked file or a configuration changes.

As `ruff check --watch` does: an initial run, then a new run after every change, until
Ctrl-C, which ends the session with exit status 0 (stopping is how a watch session ends,
not an error).  Changes are found by polling, with no dependency and no platform
watcher: every `POLL_INTERVAL` seconds the modification time and size of each watched
path are read again.  The watched paths are the files the last run checked, the
directories that hold them up to the path arguments (a new or deleted file, a new
configuration file changes its directory), and the configuration files their settings
came from (and what those extend).  They are read just before each run, so a file saved
while a run is under way starts another one; so do the files a `--fix` run writes, once
(that run finds nothing left to fix, and writes nothing).

The screen is cleared before each run only when stdout is a terminal: piped into a file
or another program, the reports follow each other.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Callable, Optional, Sequence

from devlint import config
from devlint.console import isatty
from devlint.files import discover
from devlint.settings import Resolver

POLL_INTERVAL = 0.5
# clear the screen and the scrollback, then home the cursor
CLEAR = "\x1b[2J\x1b[3J\x1b[H"

Stamp = Optional[tuple[int, int]]


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def watched_paths(paths: Sequence[str], resolver: Resolver) -> set[str]:
    """The paths whose change means the next run may report something else."""
    roots = [os.path.abspath(p) for p in paths]
    watched = set(roots)
    try:
        discovery = discover(paths, resolver=resolver.file_options)
    except config.ConfigError:
        return watched  # a broken configuration: its directory is watched (a root)
    for source in discovery.files:
        path = os.path.abspath(source.path)
        watched.add(path)
        directory = os.path.dirname(path)
        while any(directory == r or directory.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
            watched.add(directory)
            if directory in roots:
                break
            directory = os.path.dirname(directory)
        try:
            settings = resolver.for_path(source.path)
        except config.ConfigError:
            continue
        for extra in (settings.path, *settings.extends):
            if extra:
                watched.add(os.path.abspath(extra))
    return watched


def snapshot(paths: Sequence[str], resolver: Resolver) -> dict[str, Stamp]:
    """Each watched path with its modification time and size (None: missing)."""
    return {path: _stamp(path) for path in watched_paths(paths, resolver)}


def changed(state: dict[str, Stamp]) -> bool:
    return any(_stamp(path) != stamp for path, stamp in state.items())


def _timestamp() -> str:
    return time.strftime("%H:%M:%S")


def watch(
    paths: Sequence[str],
    make_resolver: Callable[[], Resolver],
    run: Callable[[Resolver], object],
    *,
    quiet: bool = False,
    out: Optional[IO[str]] = None,
    err: Optional[IO[str]] = None,
    interval: float = POLL_INTERVAL,
    on_error: Callable[[str], None] = lambda message: None,
) -> int:
    """Run `run` now and after each change under `paths`, until Ctrl-C; returns 0.
    `make_resolver` builds the settings afresh for each run (a configuration may have
    changed).  Banners go to `err`, so that `out` carries the reports only."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    targets = list(paths) or ["."]
    terminal = isatty(out)

    def one_run(banner: str) -> dict[str, Stamp]:
        if terminal:
            out.write(CLEAR)
            out.flush()
        if not quiet:
            err.write(f"[{_timestamp()}] {banner}\n")
            err.flush()
        resolver = make_resolver()
        state = snapshot(targets, resolver)  # before the run: a save during it is a change
        try:
            run(resolver)
        except config.ConfigError as exc:
            on_error(str(exc))
        out.flush()
        if not quiet:
            err.write(f"[{_timestamp()}] Watching for file changes.\n")
            err.flush()
        return state

    try:
        state = one_run("Starting devlint in watch mode...")
        while True:
            time.sleep(interval)
            if changed(state):
                state = one_run("File change detected...")
    except KeyboardInterrupt:
        return 0
