"""One run of devlint, without a command line: discover, resolve, fix, check, filter.

The command line, the LSP server and the pytest plugin all check code the same way, so
the way lives here, as plain functions that take a `settings.Resolver` (what the
configuration files and the caller's options say for each file) and paths, or one
file's source in memory, and return an `Outcome`: the files, the settings each used,
the findings left after `per-file-ignores` and suppressions, the fixes and the errors.
Nothing here prints or exits: rendering and exit codes are the caller's (`cli.py`).

Each file is checked with its own settings (its nearest configuration file): files are
grouped by settings, and each group is fixed and checked with its rules, its analysis
options and its own cache (in the directory of its configuration, keyed by every
resolved setting, so a change to a nested configuration misses the cache).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from devlint import checkpoints, runner, suppression
from devlint.cache import CACHE_DIR_NAME, Cache, options_key
from devlint.files import Discovery, SourceFile, discover, is_force_excluded, is_notebook
from devlint.findings import Finding
from devlint.meta_rules import UNUSED_SUPPRESSION
from devlint.project import Project, identify
from devlint.project import forget as project_forget
from devlint.rules import SYNTAX_ERROR, rules_for
from devlint.settings import Resolver, Settings

# A `(done, total)` callback, for a progress display.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run, beyond what the settings say each file is checked for."""

    fix: bool = False  # apply fixes before checking (write the files)
    diff: bool = False  # compute the fixes without writing them, and do not check
    fix_only: bool = False  # apply fixes and do not check what remains
    unsafe_fixes: bool = False
    noqa: bool = True  # honour suppression comments
    jobs: int = 0  # worker processes: 0 = one per core, 1 = in this process
    cache: bool = True
    cache_dir: Optional[str] = None  # default: `.devlint_cache` by each configuration
    file_timeout: Optional[float] = 60.0
    max_file_size: float = 2.0  # MB

    @property
    def fixing(self) -> bool:
        return self.fix or self.diff or self.fix_only

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_size * 1_000_000)


@dataclass
class Outcome:
    """What a run found and did."""

    files: list[SourceFile] = field(default_factory=list)
    # the settings each file was checked with, by its display path
    settings: dict[str, Settings] = field(default_factory=dict)
    # arguments that do not exist, directories that could not be read
    errors: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # (display path, message) of files whose check crashed: a bug in devlint
    internal_errors: list[tuple[str, str]] = field(default_factory=list)
    fixes: Any = None  # a `fix.FixRun` when fixing
    checked: bool = False  # False after `diff`/`fix_only`: `findings` is empty
    # fixed source of an in-memory file (`check_source` with fixing), else None
    fixed_source: Optional[bytes] = None

    @property
    def failed(self) -> int:
        return len(self.internal_errors)


def discover_files(paths: Iterable[str], resolver: Resolver) -> Discovery:
    """The files `paths` expand to, each directory walked with its own settings."""
    return discover(paths, resolver=resolver.file_options)


def analysis_options(settings: Settings, options: RunOptions) -> dict[str, Any]:
    """What besides the rules decides a file's findings (passed to the checker)."""
    return {
        "device_names": tuple(settings.device_names),
        "gpu_guards": tuple(settings.gpu_guards),
        "roles": settings.roles,
        "noqa": options.noqa,
    }


def check_paths(
    paths: Sequence[str],
    resolver: Resolver,
    options: RunOptions = RunOptions(),
    *,
    discovery: Optional[Discovery] = None,
    on_progress: Optional[Progress] = None,
) -> Outcome:
    """Fix (when asked) and check the files under `paths` (default: the current
    directory), each with its own settings.  Raises `config.ConfigError` for a
    configuration file that cannot be used."""
    if discovery is None:
        discovery = discover_files(paths or (".",), resolver)
    outcome = Outcome(files=list(discovery.files), errors=list(discovery.errors))
    outcome.settings = {s.display: resolver.for_path(s.path) for s in discovery.files}
    if options.fixing:
        outcome.fixes = _fix_files(discovery.files, outcome.settings, options)
        if options.diff or options.fix_only:
            return outcome
    groups: dict[Settings, list[SourceFile]] = {}
    for source in discovery.files:
        groups.setdefault(outcome.settings[source.display], []).append(source)
    total = len(discovery.files)
    done = 0
    found: list[Finding] = []
    runner.tune_gc()
    for settings, sources in groups.items():
        base = done

        def progress(finished: int, _: int, base: int = base) -> None:
            if on_progress is not None:
                on_progress(base + finished, total)

        result = runner.run(
            [runner.Job(Path(s.path), s.display) for s in sources],
            list(settings.codes),
            workers=options.jobs,
            cache=_cache(settings, options),
            options={
                **analysis_options(settings, options),
                "file_timeout": options.file_timeout,
                "max_file_bytes": options.max_bytes,
            },
            on_progress=progress,
        )
        found.extend(result.findings)
        outcome.internal_errors.extend(result.errors)
        done += len(sources)
    outcome.findings = apply_settings(found, outcome.settings, [s.display for s in discovery.files])
    outcome.checked = True
    return outcome


def _cache(settings: Settings, options: RunOptions) -> Optional[Cache]:
    """The cache of one group of files: by its configuration (or `cache_dir`), keyed by
    the rules, the analysis options and every resolved setting."""
    if not options.cache:
        return None
    root = Path(options.cache_dir) if options.cache_dir else Path(settings.root) / CACHE_DIR_NAME
    key = options_key(list(settings.codes), analysis_options(settings, options))
    return Cache(root, f"{key}\0{settings.fingerprint()}")


def apply_settings(
    findings: Iterable[Finding],
    settings: dict[str, Settings],
    order: Sequence[str],
) -> list[Finding]:
    """Apply each file's `per-file-ignores`, its `ignore = ["DL000"]`, and its
    `unfixable` (a finding whose fix may not apply loses it, as in ruff: no `[*]`, no
    count in the summary, a null `fix` in JSON); sort: files in the discovery's order,
    then by position."""
    ignored: dict[str, frozenset[str]] = {}
    kept = []
    for f in findings:
        s = settings.get(f.path)
        if s is None:
            kept.append(f)
            continue
        if f.path not in ignored:
            ignored[f.path] = s.ignored_codes(f.path)
        if f.code in ignored[f.path]:
            continue
        if f.code == SYNTAX_ERROR[0] and SYNTAX_ERROR[0] not in s.enabled:
            continue
        if f.fix is not None and f.code not in s.fixable:
            f = dataclasses.replace(f, fix=None)
        kept.append(f)
    rank = {path: i for i, path in enumerate(order)}
    return sorted(kept, key=lambda f: (rank.get(f.path, len(rank)), f.sort_key))


def _fix_files(
    files: Sequence[SourceFile], settings: dict[str, Settings], options: RunOptions
) -> Any:
    """Fix `files`, each with only the rules whose fixes may apply to it (enabled,
    fixable, not switched off by `per-file-ignores`): the fixer applies every fix it is
    shown, so what it must not apply it is not shown.  Files with the same rules and
    analysis options are fixed together; the result lists files in discovery order."""
    from devlint.fix import FixRun, apply_fixes

    groups: dict[tuple[tuple[str, ...], Settings], list[SourceFile]] = {}
    for source in files:
        s = settings[source.display]
        groups.setdefault((s.fix_codes_for(source.display), s), []).append(source)
    total = FixRun()
    for (codes, group_settings), sources in groups.items():
        if not codes:
            continue
        part = apply_fixes(
            sources,
            rules_for(list(codes)),
            analysis_options(group_settings, options),
            options.unsafe_fixes,
            write=not options.diff,
            max_bytes=options.max_bytes,
        )
        for item in dataclasses.fields(part):  # lists are joined, counts added
            mine, theirs = getattr(total, item.name), getattr(part, item.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, int):
                setattr(total, item.name, mine + theirs)
    rank = {s.display: i for i, s in enumerate(files)}
    total.results.sort(key=lambda r: rank.get(r.path, len(rank)))
    return total


# --- one file in memory (stdin, an editor's buffer) ------------------------------------


def excluded(display: str, resolver: Resolver) -> bool:
    """Does `--force-exclude` skip a file given by name only (stdin's file name)?"""
    return is_force_excluded(display, resolver=resolver.file_options)


def check_source(
    data: bytes,
    display: str,
    resolver: Resolver,
    options: RunOptions = RunOptions(),
    *,
    reuse: Any = None,
) -> Outcome:
    """Check (and with `options.fixing`, fix) one file's source held in memory, with
    the settings of the file it is shown as (`display`; `-` for an unnamed stdin: the
    current directory's).  With fixing, `fixed_source` is the fixed bytes (the input
    when nothing changed, so an editor can always take them), and the findings are
    those left in it (none after `diff`/`fix_only`).  `reuse`: the language server's
    memo of the buffer (`checker.Reuse`), which makes a check faster, never different."""
    settings = resolver.for_path(display if display != "-" else ".")
    source = SourceFile("-", display)
    outcome = Outcome(files=[source], settings={display: settings})
    if options.fixing:
        data = _fix_in_memory(data, display, settings, options, outcome)
        outcome.fixed_source = data
        if options.diff or options.fix_only:
            return outcome
    from devlint import checker  # the analysis loads only when a file needs it

    try:
        notebook = is_notebook(display)
        rules = rules_for(list(settings.codes))
        package = "" if notebook or display == "-" else identify(display).package
        check = functools.partial(
            checker.check_source,
            data,
            display,
            rules,
            notebook=notebook,
            reuse=reuse,
            package=package,
            **analysis_options(settings, options),
        )
        collect: dict = {}
        found = check(collect=collect)
        facts = _project_facts(display, collect, settings, options)
        if facts:
            # what the project's other modules (on disk) say about its imports
            found = check(project=facts)
    except Exception as exc:  # a bug in devlint must not stop the caller
        outcome.internal_errors.append((display, _describe(exc)))
        found = []
    outcome.findings = apply_settings(checkpoints.settle(found), outcome.settings, [display])
    outcome.checked = True
    return outcome


def _project_facts(
    display: str, collect: dict, settings: Settings, options: RunOptions
) -> tuple[tuple[str, str], ...]:
    """The facts the project gives one file checked on its own (stdin with a name, an
    editor's buffer): its imports resolved from its place, the modules they lead to
    summarised from the cache or from disk (`runner.outside_summary`), and what its
    importers pass its functions (the buffer's own summary, as just analysed)."""
    asked = collect.get("asked") or ()
    own = collect.get("summary") or {}
    if display == "-" or not (asked or own.get("conditional")):
        return ()
    cache = _cache(settings, options)
    codes = list(settings.codes)
    run_options = {
        **analysis_options(settings, options),
        "file_timeout": options.file_timeout,
        "max_file_bytes": options.max_bytes,
    }
    project_forget()
    path = os.path.normpath(os.path.abspath(display))
    proj = Project(
        {path: own or None}, lambda p: runner.outside_summary(p, codes, cache, run_options)
    )
    return proj.facts_for(path, list(asked))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def decode(data: bytes) -> Optional[tuple[str, str, bool]]:
    """(text, encoding, BOM) of source bytes, as `fix.read_source` reads a file; None when
    they cannot be decoded (the check reports that as DL000)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return None
    bom = encoding == "utf-8-sig"
    if text.startswith("\ufeff"):
        text, bom = text[1:], True
    return text, ("utf-8" if encoding == "utf-8-sig" else encoding), bom


def _fix_in_memory(
    data: bytes, display: str, settings: Settings, options: RunOptions, outcome: Outcome
) -> bytes:
    """The fixed bytes of one in-memory file (its encoding, BOM and line ends kept), or
    `data` when nothing applies; `outcome.fixes` says what was done."""
    from devlint import checker
    from devlint.fix import FixRun, fix_source

    outcome.fixes = FixRun()
    decoded = None if is_notebook(display) else decode(data)
    fix_rules = rules_for(list(settings.fix_codes_for(display)))
    if decoded is None or not fix_rules:
        return data
    text, encoding, bom = decoded

    def check_text(source: str) -> list[Finding]:
        return checkpoints.settle(
            checker.check_source(
                source,
                display,
                fix_rules,
                notebook=False,
                **analysis_options(settings, options),
            )
        )

    try:
        result = fix_source(text, display, check_text, options.unsafe_fixes)
    except Exception as exc:  # a bug in devlint must not lose the user's buffer
        outcome.internal_errors.append((display, _describe(exc)))
        return data
    if not result.changed:
        return data
    try:
        fixed = (b"\xef\xbb\xbf" if bom else b"") + result.fixed.encode(encoding)
    except UnicodeEncodeError:
        return data  # keep the input rather than write what its encoding cannot hold
    outcome.fixes.results.append(result)
    return fixed


# --- `--add-noqa` -------------------------------------------------------------------------


def add_noqa(findings: Sequence[Finding], sources: dict[str, str]) -> tuple[int, list[str]]:
    """Write `# noqa: CODES` for `findings` (`sources`: display path -> path on disk);
    returns (directives added, errors)."""
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        if f.code in (SYNTAX_ERROR[0], UNUSED_SUPPRESSION.code):
            continue
        by_file.setdefault(f.path, []).append(f)
    added = 0
    errors = []
    for display, items in by_file.items():
        path = sources.get(display, display)
        try:
            added += _add_noqa_to_file(path, items)
        except (OSError, UnicodeError, SyntaxError, ValueError) as exc:
            errors.append(f"cannot add noqa to {display}: {exc}")
    return added, errors


def _add_noqa_to_file(path: str, findings: Sequence[Finding]) -> int:
    from devlint.fix import read_source, write_atomic

    if is_notebook(path):
        return _add_noqa_to_notebook(path, findings)
    source = read_source(Path(path))
    wanted: dict[int, set[str]] = {}
    for f in findings:
        wanted.setdefault(f.noqa_row or f.line, set()).add(f.code)
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", source.text)
    changed = suppression.add_noqa_to_lines(lines, wanted, source.text)
    if changed:
        write_atomic(Path(path), source, "".join(lines))
    return changed


def _add_noqa_to_notebook(path: str, findings: Sequence[Finding]) -> int:
    from devlint import notebooks
    from devlint.fix import read_source, write_atomic

    source = read_source(Path(path))
    nb = notebooks.read(source.text)
    wanted: dict[int, dict[int, set[str]]] = {}
    for f in findings:
        if f.cell is not None:
            wanted.setdefault(f.cell, {}).setdefault(f.noqa_row or f.line, set()).add(f.code)
    changed = 0
    for cell, rows in sorted(wanted.items()):
        lines = list(nb.cell_lines.get(cell, []))
        transformed = notebooks.transform_cell(lines)
        program = "".join(text + "\n" for text, _, _ in transformed)
        # a magic line (`%time s = ...`) holds the program's text further right
        offsets = {i + 1: offset for i, (_, offset, _) in enumerate(transformed) if offset}
        with_endings = [line + "\n" for line in lines]
        count = suppression.add_noqa_to_lines(with_endings, rows, program, offsets)
        if count:
            nb.set_cell_lines(cell, [line[:-1] for line in with_endings])
            changed += count
    if changed:
        write_atomic(Path(path), source, nb.text)
    return changed
