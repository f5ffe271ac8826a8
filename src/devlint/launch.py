"""The `devlint` command's entry point: start the workers first, then the command line.

What a run will do is known only once the command line has parsed its options and
read the configuration; starting the worker processes before that (`prestart`) overlaps
their loading of the analysis with the command line's own start.  So this module reads
the arguments the cheap way, with nothing imported: a check run (no subcommand), not
one file from stdin, not `--jobs 1`, not the modes that check nothing or check
repeatedly.  A guess that turns out wrong costs a second core's work, not time: a run
that needs no workers closes them.  Not where a cache folder is already there, unless
`--no-cache`: such a run is mostly answered by the cache, and a fork makes the command
line pay for the pages it then shares (about 1,100 copy-on-write faults, 6 ms of a
0.1 s warm run).
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

_CACHE_DIR_NAME = ".devlint_cache"  # as `devlint.cache.CACHE_DIR_NAME`, not imported
# the commands other than `check` (the default): none of them checks files
_OTHER_COMMANDS = frozenset(("rule", "rules", "server", "confirm"))
# options after which no analysis runs, or which run many (`--watch`) or in place (`--fix`
# still checks afterwards: it is not here)
_NO_WORKERS = frozenset(
    (
        "-",
        "--help",
        "-h",
        "--version",
        "--show-files",
        "--show-settings",
        "--diff",
        "--fix-only",
        "--watch",
        "-w",
        "--stdin-filename",
        "--add-noqa",
    )
)


def workers_wanted(argv: Sequence[str]) -> int:
    """How many workers a run with these arguments would start (0: none, or unknown)."""
    if argv and argv[0] in _OTHER_COMMANDS:
        return 0
    jobs: Optional[int] = None
    for index, arg in enumerate(argv):
        if arg in _NO_WORKERS or arg.startswith("--stdin-filename="):
            return 0
        value: Optional[str] = None
        if arg in ("--jobs", "-j") and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--jobs="):
            value = arg.partition("=")[2]
        elif arg.startswith("-j") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None:
            if not value.isdigit():
                return 0
            jobs = int(value)
    count = jobs if jobs else (os.cpu_count() or 1)
    if count < 2 or _cache_may_answer(argv):
        return 0
    return count


def _cache_may_answer(argv: Sequence[str]) -> bool:
    """Whether a cache folder this run may read exists: `--cache-dir` (or
    `DEVLINT_CACHE_DIR`), else `.devlint_cache` in the working directory, the folders
    of the paths named, or a folder above them (where the configuration puts it)."""
    if "--no-cache" in argv:
        return False
    named = os.environ.get("DEVLINT_CACHE_DIR")
    for index, arg in enumerate(argv):
        if arg == "--cache-dir" and index + 1 < len(argv):
            named = argv[index + 1]
        elif arg.startswith("--cache-dir="):
            named = arg.partition("=")[2]
    if named:
        return os.path.isdir(named)
    starts = {os.getcwd()}
    starts.update(os.path.abspath(a) for a in argv if not a.startswith("-") and os.path.exists(a))
    for start in starts:
        folder = start if os.path.isdir(start) else os.path.dirname(start)
        while True:
            if os.path.isdir(os.path.join(folder, _CACHE_DIR_NAME)):
                return True
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return False


def main() -> None:
    """The console script: `devlint ...`."""
    count = workers_wanted(sys.argv[1:])
    if count and not os.environ.get("DEVLINT_NO_PRESTART"):
        from devlint import prestart

        prestart.start(count)
    from devlint.cli import main as cli_main

    cli_main()
