"""The `devlint` command.

`devlint [PATHS...]` checks files; `devlint rules` and `devlint rule CODE` document the
rules.  Because the default command takes paths, the group routes any first argument
that is not a subcommand to `check`, so `devlint src/`, `devlint --select DL001 .`
and `devlint check src/` all work, and `devlint check rules` checks a path named
`rules`.

Exit codes follow ruff and flake8: 0 clean, 1 findings, 2 usage or internal error.
The command never ends in a traceback: a crash while checking one file is reported on
stderr, the run goes on, and the exit code is 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import os
import re
import sys
import textwrap
import time
import tokenize
from pathlib import Path
from typing import IO, Any, Callable, Sequence

import click

from devlint import __version__, config, runner, suppression
from devlint.cache import CACHE_DIR_NAME, Cache, options_key
from devlint.config import Config, Selection
from devlint.docs import documented_rules, rules_markdown, url
from devlint.files import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    Discovery,
    FileOptions,
    SourceFile,
    discover,
    is_notebook,
)
from devlint.findings import Finding
from devlint.globs import PathSet
from devlint.meta_rules import UNUSED_SUPPRESSION
from devlint.report import FORMATS, MACHINE_FORMATS, render, render_statistics
from devlint.report.full import clean
from devlint.rules import KNOWN_CODES, SYNTAX_ERROR, Rule, is_valid_selector, rules_for

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _err(message: str) -> None:
    click.echo(f"devlint: {message}", err=True)


def use_color(stream: IO[str], environ: Any = os.environ) -> bool:
    """Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class DefaultGroup(click.Group):
    """A group whose default command is `check`: unknown first arguments are paths."""

    default_command = "check"
    # commands imported only when used: `confirm` brings the runtime harness
    lazy_commands = {"confirm": ("devlint.runtime.command", "confirm")}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {"--version", *ctx.help_option_names}
        known = args and (args[0] in self.commands or args[0] in self.lazy_commands)
        if not args or (not known and args[0] not in group_options):
            args = [self.default_command, *args]
            ctx.meta[IMPLICIT_CHECK] = True
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, attr = self.lazy_commands[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the options of `check`, which is what most users want."""
        super().format_help(ctx, formatter)
        command = self.commands[self.default_command]
        with click.Context(command, info_name=self.default_command, parent=ctx) as sub:
            params = [p for p in command.get_params(sub) if isinstance(p, click.Option)]
            records = [p.get_help_record(sub) for p in params]
        shown_above = {"--version", *ctx.help_option_names}
        rows = [r for r in records if r is not None and not shown_above & set(r[0].split(", "))]
        if rows:
            with formatter.section("Options of check (the default command)"):
                formatter.write_dl(rows)


IMPLICIT_CHECK = "devlint.implicit_check"


class CheckContext(click.Context):
    """The context of `check`: when the user did not type `check` (`devlint --bogus`),
    usage errors and help name the command they typed, `devlint`, not `devlint check`."""

    @property
    def command_path(self) -> str:
        if self.parent is not None and self.meta.get(IMPLICIT_CHECK):
            return self.parent.command_path
        return super().command_path


class CheckCommand(click.Command):
    context_class = CheckContext


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _split_selectors(values: Sequence[str], option: str) -> list[str]:
    """`--select DL001,DL003 --select DL005` -> ['DL001', 'DL003', 'DL005'], validated."""
    selectors = [part.upper() for part in _split(values)]
    bad = [s for s in selectors if not is_valid_selector(s)]
    if bad:
        known = ", ".join(sorted(KNOWN_CODES))
        raise click.BadParameter(
            f"unknown rule code or prefix {', '.join(repr(b) for b in bad)} "
            f"(known codes: {known}; `devlint rules` lists them)",
            param_hint=f"'{option}'",
        )
    return selectors


def _check_one(
    source: SourceFile | None,
    rules: Sequence[Rule],
    display: str,
    device_names: Sequence[str],
    noqa: bool,
    data: bytes | None = None,
) -> list[Finding] | None:
    """The findings of one file (or of stdin's `data`), or None after reporting an
    internal error on stderr."""
    from devlint import checker  # the analysis loads only when a file needs it

    try:
        if data is not None:
            return checker.check_source(
                data,
                display,
                rules,
                device_names=device_names,
                noqa=noqa,
                notebook=is_notebook(display),
            )
        assert source is not None
        return checker.check_file(
            source.path, rules, display=display, device_names=device_names, noqa=noqa
        )
    except Exception as exc:  # a bug in devlint must not stop the other files
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _err(f"internal error in {display}: {detail} (please report this bug)")
        return None


class Progress:
    """`devlint: 120/480 files` on stderr, only when it is a terminal and the run is long.

    Nothing appears before `delay` seconds (short runs stay silent), the line is
    redrawn at most every `interval` seconds, and it is erased at the end, so it never
    mixes with the report."""

    def __init__(
        self, total: int, stream: IO[str], delay: float = 0.5, interval: float = 0.1
    ) -> None:
        self.total = total
        self.stream = stream
        self.enabled = total > 1 and _isatty(stream)
        self.delay, self.interval = delay, interval
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = 0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or (self.shown and now - self.last < self.interval):
            return
        self.last = now
        text = f"devlint: {done}/{self.total} files"
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = max(self.shown, len(text))

    def close(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def _output_targets(values: Sequence[str], main: str) -> list[tuple[str, str, bool]]:
    """`--output-file sarif:out.sarif` -> ('sarif', 'out.sarif', True);
    `out.txt` -> (main format, 'out.txt', False): the report goes there, not to stdout."""
    targets = []
    for value in values:
        prefix, sep, rest = value.partition(":")
        if sep and prefix.lower() in FORMATS:
            if not rest:
                raise click.BadParameter(f"{value!r} names no file", param_hint="'--output-file'")
            targets.append((prefix.lower(), rest, True))
        else:
            targets.append((main, value, False))
    return targets


def _drop_ignored(
    findings: Sequence[Finding],
    ignores: Sequence[tuple[str, tuple[str, ...], str]],
    enabled: set[str],
    order: Sequence[str],
) -> list[Finding]:
    """Apply `per-file-ignores` and `--ignore DL000`, and sort the findings: files in
    the discovery's order (by path components), then by position."""
    cache: dict[str, set[str]] = {}
    kept = []
    for f in findings:
        if f.path not in cache:
            cache[f.path] = _per_file_codes(ignores, f.path) if ignores else set()
        if f.code in cache[f.path]:
            continue
        if f.code == SYNTAX_ERROR[0] and SYNTAX_ERROR[0] not in enabled:
            continue
        kept.append(f)
    rank = {path: i for i, path in enumerate(order)}
    return sorted(kept, key=lambda f: (rank.get(f.path, len(rank)), f.sort_key))


def _per_file_codes(ignores: Sequence[tuple[str, tuple[str, ...], str]], path: str) -> set[str]:
    """Codes (expanded from prefixes) that `per-file-ignores` switch off for `path`."""
    selectors: list[str] = []
    for pattern, ignored, root in ignores:
        if PathSet([pattern], root).matches_path_or_parent(path):
            selectors.extend(ignored)
    if not selectors:
        return set()
    known = sorted(KNOWN_CODES)
    return {c for c in known if any(sel == "ALL" or c.startswith(sel) for sel in selectors)}


def _add_noqa(findings: Sequence[Finding], sources: dict[str, str]) -> tuple[int, list[str]]:
    """Write `# noqa: CODES` for `findings`; returns (directives added, errors)."""
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
        program_lines = [text for text, _, _ in notebooks.transform_cell(lines)]
        program = "".join(line + "\n" for line in program_lines)
        with_endings = [line + "\n" for line in lines]
        count = suppression.add_noqa_to_lines(with_endings, rows, program)
        if count:
            nb.set_cell_lines(cell, [line[:-1] for line in with_endings])
            changed += count
    if changed:
        write_atomic(Path(path), source, nb.text)
    return changed


@click.group(cls=DefaultGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="devlint")
def cli() -> None:
    """Find PyTorch device-placement bugs without running your code.

    \b
    devlint [OPTIONS] [PATHS]...     check files (the default command)
    devlint rules                    list the rules
    devlint rule DL001               explain one rule

    Exit status: 0 no problems, 1 problems found, 2 usage, configuration or internal error.
    """


@cli.command(
    cls=CheckCommand,
    context_settings=CONTEXT_SETTINGS,
    short_help="Check files (the default command).",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--select",
    "select",
    multiple=True,
    metavar="CODES",
    help="Check only these rules: comma-separated codes or prefixes (DL001,DL003 or DL00).",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="CODES",
    help="Skip these rules (codes or prefixes); DL000 hides files that cannot be parsed.",
)
@click.option(
    "--extend-ignore",
    "extend_ignore",
    multiple=True,
    metavar="CODES",
    help="Skip these rules as well (flake8's option; the same as --ignore).",
)
@click.option(
    "--extend-select",
    "extend_select",
    multiple=True,
    metavar="CODES",
    help="Enable these rules on top of the selected or default ones (e.g. DL100).",
)
@click.option(
    "--per-file-ignores",
    "per_file_ignores",
    multiple=True,
    metavar="PATTERN:CODES",
    help="Skip rules in matching files, e.g. 'tests/*:DL002' (replaces the configured ones).",
)
@click.option(
    "--extend-per-file-ignores",
    "extend_per_file_ignores",
    multiple=True,
    metavar="PATTERN:CODES",
    help="Like --per-file-ignores, on top of the configured ones.",
)
@click.option(
    "--fixable",
    "fixable",
    multiple=True,
    metavar="CODES",
    help="Only these rules' fixes may be applied (default: all).",
)
@click.option(
    "--unfixable",
    "unfixable",
    multiple=True,
    metavar="CODES",
    help="These rules' fixes are never applied.",
)
@click.option(
    "--output-format",
    type=click.Choice(list(FORMATS), case_sensitive=False),
    default="full",
    show_default=True,
    envvar="DEVLINT_OUTPUT_FORMAT",
    help="full, concise, grouped, json, json-lines, sarif, github (workflow annotations), "
    "gitlab (Code Quality), junit or pylint.",
)
@click.option(
    "--output-file",
    "output_files",
    multiple=True,
    metavar="[FORMAT:]PATH",
    help="Write the report to PATH instead of stdout; FORMAT:PATH (e.g. sarif:devlint.sarif) "
    "writes that format too and keeps stdout. Repeatable.",
)
@click.option("--statistics", is_flag=True, help="Show counts per rule instead of each finding.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option(
    "--exit-non-zero-on-fix",
    is_flag=True,
    help="Exit 1 when --fix changed something, even if no problem remains.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print the findings, but no summary or other notes."
)
@click.option(
    "-s",
    "--silent",
    is_flag=True,
    help="Print nothing but errors (the exit status still says whether problems were found).",
)
@click.option(
    "--config",
    "config_values",
    multiple=True,
    metavar="FILE|KEY=VALUE",
    help="Read settings from FILE (pyproject.toml's [tool.devlint], or a devlint.toml), or "
    "override one setting with inline TOML, e.g. --config 'select = [\"DL001\"]'. Repeatable.",
)
@click.option(
    "--show-settings",
    is_flag=True,
    help="Print the settings that apply to the first path, and exit.",
)
@click.option("--isolated", is_flag=True, help="Ignore all configuration files.")
@click.option(
    "--exclude",
    "exclude",
    multiple=True,
    metavar="PATTERNS",
    help="Skip files and directories matching these globs (replaces the default list).",
)
@click.option(
    "--extend-exclude",
    "extend_exclude",
    multiple=True,
    metavar="PATTERNS",
    help="Skip these globs as well as the default (or configured) ones.",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore",
    default=None,
    help="Skip files ignored by .gitignore (default: on).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply exclude to files named on the command line too (for pre-commit).",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="Read the source from stdin (path `-`) and report it as PATH.",
)
@click.option(
    "--add-noqa",
    is_flag=True,
    help="Add `# noqa: CODE` comments for every finding, so only new ones are reported.",
)
@click.option("--ignore-noqa", is_flag=True, help="Report findings that comments suppress.")
@click.option("--show-files", is_flag=True, help="List the files that would be checked, and exit.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what remains.")
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="With --fix/--diff: apply unsafe fixes too (they may change behaviour).",
)
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--fix-only", is_flag=True, help="Apply fixes and do not report what remains.")
@click.option("--show-fixes", is_flag=True, help="List the fixes that were applied.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Worker processes (0: one per core; small runs stay in one process).",
)
@click.option(
    "--cache-dir",
    metavar="DIR",
    type=click.Path(path_type=str, file_okay=False),
    envvar="DEVLINT_CACHE_DIR",
    help="Where to keep the cache (default: .devlint_cache in the project root).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option(
    "--file-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help=(
        "Skip (and report) a file whose check takes longer than this (POSIX; the parse "
        "itself is not interrupted, --max-file-size bounds it)."
    ),
)
@click.option(
    "--max-file-size",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    metavar="MB",
    help="Skip (and report) larger files, generated code mostly.",
)
@click.version_option(__version__, "--version", prog_name="devlint")
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    per_file_ignores: tuple[str, ...],
    extend_per_file_ignores: tuple[str, ...],
    fixable: tuple[str, ...],
    unfixable: tuple[str, ...],
    output_format: str,
    output_files: tuple[str, ...],
    statistics: bool,
    exit_zero: bool,
    exit_non_zero_on_fix: bool,
    quiet: bool,
    silent: bool,
    config_values: tuple[str, ...],
    show_settings: bool,
    isolated: bool,
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    respect_gitignore: bool | None,
    force_exclude: bool,
    stdin_filename: str | None,
    add_noqa: bool,
    ignore_noqa: bool,
    show_files: bool,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    fix_only: bool,
    show_fixes: bool,
    jobs: int,
    cache_dir: str | None,
    no_cache: bool,
    file_timeout: float,
    max_file_size: float,
) -> None:
    """Check PATHS (files or directories; default: the current directory; `-`: stdin)."""
    cli_selection = Selection(
        select=tuple(_split_selectors(select, "--select")) if select else None,
        ignore=(
            *_split_selectors(ignore, "--ignore"),
            *_split_selectors(extend_ignore, "--extend-ignore"),
        ),
        extend_select=tuple(_split_selectors(extend_select, "--extend-select")),
    )
    cli_fixable = tuple(_split_selectors(fixable, "--fixable")) if fixable else None
    cli_unfixable = tuple(_split_selectors(unfixable, "--unfixable"))
    cli_ignores = _per_file_option(per_file_ignores, "--per-file-ignores")
    cli_extend_ignores = _per_file_option(extend_per_file_ignores, "--extend-per-file-ignores")
    config_file, overrides = _config_values(config_values)
    fmt = output_format.lower()
    targets = _output_targets(output_files, fmt)
    use_stdin = paths == ("-",) or (not paths and stdin_filename is not None)
    if "-" in paths and not use_stdin:
        raise click.UsageError("`-` (stdin) cannot be combined with other paths")
    if use_stdin and add_noqa:
        raise click.UsageError("--add-noqa cannot be used with stdin")
    fixing = fix or fix_only or diff
    if add_noqa and fixing:
        raise click.UsageError("--add-noqa cannot be combined with --fix or --diff")
    if isolated and config_file:
        raise click.UsageError("--isolated and --config FILE cannot be used together")
    if exit_zero and exit_non_zero_on_fix:
        raise click.UsageError("--exit-zero and --exit-non-zero-on-fix cannot be used together")
    quiet = quiet or silent

    start = stdin_filename if use_stdin and stdin_filename else (paths[0] if paths else ".")
    try:
        cfg = config.resolve(start, config_file=config_file, isolated=isolated, overrides=overrides)
    except config.ConfigError as exc:
        _err(f"error: {exc}")
        ctx.exit(EXIT_ERROR)
    enabled = config.enabled_codes([cfg.selection, cli_selection])
    fix_codes = config.fixable_codes([(cfg.fixable, cfg.unfixable), (cli_fixable, cli_unfixable)])
    ignores = _per_file_table(cfg, cli_ignores, cli_extend_ignores)
    options = FileOptions(
        root=cfg.root,
        exclude=tuple(_split(exclude))
        or (cfg.exclude if cfg.exclude is not None else DEFAULT_EXCLUDE),
        extend_exclude=(*cfg.extend_exclude, *_split(extend_exclude)),
        include=(
            *(cfg.include if cfg.include is not None else DEFAULT_INCLUDE),
            *cfg.extend_include,
        ),
        respect_gitignore=cfg.respect_gitignore if respect_gitignore is None else respect_gitignore,
        force_exclude=force_exclude,
    )
    if show_settings:
        click.echo(
            _settings_text(
                start, cfg, enabled, fix_codes, ignores, options, fmt, unsafe_fixes, fixing
            ),
            nl=False,
        )
        ctx.exit(EXIT_CLEAN)

    # the codes; the rule objects (and the analysis) load only if a file needs checking
    codes = sorted(c for c in enabled if c != SYNTAX_ERROR[0])
    noqa = not ignore_noqa

    def fix_codes_for(display: str) -> tuple[str, ...]:
        """The rules whose fixes apply to one file: enabled, fixable, not ignored there."""
        skipped = _per_file_codes(ignores, display)
        return tuple(c for c in codes if c in fix_codes and c not in skipped)

    stdin_data: bytes | None = None
    if use_stdin:
        display = os.path.normpath(stdin_filename) if stdin_filename else "-"
        excluded = bool(stdin_filename) and force_exclude and _is_force_excluded(display, options)
        discovery = Discovery(files=[] if excluded else [SourceFile("-", display)])
        if not excluded or fixing:
            stdin_data = _read_stdin()
        if fixing:
            assert stdin_data is not None
            if excluded:  # an editor replaces its buffer with stdout: give it back as it was
                _write_stdout(stdin_data)
                ctx.exit(EXIT_CLEAN)
            ctx.exit(
                _fix_stdin(
                    stdin_data,
                    display,
                    codes,
                    fix_codes_for(display),
                    enabled,
                    ignores,
                    fix_codes,
                    cfg.device_names,
                    noqa,
                    unsafe_fixes=unsafe_fixes,
                    diff=diff,
                    fix_only=fix_only,
                    fmt=fmt,
                    statistics=statistics,
                    quiet=quiet,
                    silent=silent,
                    exit_zero=exit_zero,
                    exit_non_zero_on_fix=exit_non_zero_on_fix,
                )
            )
    else:
        discovery = discover(paths or (".",), options)
    for message in discovery.errors:
        _err(f"error: {message}")
    if show_files:
        for source in discovery.files:
            click.echo(clean(source.display))
        ctx.exit(EXIT_ERROR if discovery.errors else EXIT_CLEAN)
    if not discovery.files and not discovery.errors and not use_stdin and not quiet:
        _err("warning: no Python files found under the given paths")

    progress = Progress(len(discovery.files), sys.stderr)
    fixed_count = 0
    if stdin_data is not None:
        result = _check_one(
            None,
            rules_for(codes),
            discovery.files[0].display,
            cfg.device_names,
            noqa,
            stdin_data,
        )
        found, failed = (result or []), (0 if result is not None else 1)
    else:
        analysis = {"device_names": tuple(cfg.device_names), "noqa": noqa}
        if fixing:
            from devlint.fix import unified_diff

            fixed = _fix_files(
                discovery.files,
                fix_codes_for,
                analysis,
                unsafe_fixes,
                write=not diff,
                max_bytes=int(max_file_size * 1_000_000),
            )
            for message in fixed.errors:
                _err(f"error: {message}")
            fixed_count = fixed.count
            if diff:
                progress.close()
                for result in fixed.results:
                    click.echo(unified_diff(result), nl=False)
                if not quiet:
                    _err(fixed.summary(would=True))
                ctx.exit(EXIT_FINDINGS if fixed.count else EXIT_CLEAN)
            if show_fixes and fixed.count and not silent:
                click.echo(fixed.listing())
            if (fixed.count or fix_only) and not quiet:
                _err(fixed.summary(would=False))
            if fix_only:
                progress.close()
                if fixed.errors or discovery.errors:
                    ctx.exit(EXIT_ERROR)
                ctx.exit(EXIT_FINDINGS if exit_non_zero_on_fix and fixed.count else EXIT_CLEAN)
        cache = None
        if not no_cache:
            cache_root = Path(cache_dir) if cache_dir else Path(cfg.root) / CACHE_DIR_NAME
            cache = Cache(cache_root, options_key(codes, analysis))
        file_jobs = [runner.Job(Path(s.path), s.display) for s in discovery.files]
        runner.tune_gc()
        run = runner.run(
            file_jobs,
            codes,
            workers=jobs,
            cache=cache,
            options={
                **analysis,
                "file_timeout": file_timeout,
                "max_file_bytes": int(max_file_size * 1_000_000),
            },
            on_progress=lambda done, total: progress.update(done),
        )
        for display, message in run.errors:
            _err(f"internal error in {display}: {message} (please report this bug)")
        found, failed = run.findings, len(run.errors)
    progress.close()
    findings = _drop_ignored(found, ignores, enabled, [s.display for s in discovery.files])
    findings = _strip_unfixable(findings, fix_codes)
    unchecked = failed + len(discovery.errors)

    if add_noqa:
        sources = {s.display: s.path for s in discovery.files}
        added, errors = _add_noqa(findings, sources)
        for message in errors:
            _err(f"error: {message}")
        noun = "directive" if added == 1 else "directives"
        if not quiet:
            click.echo(f"Added {added} noqa {noun}.", err=True)
        ctx.exit(EXIT_ERROR if unchecked or errors else EXIT_CLEAN)

    notes = [*discovery.errors]
    if failed:
        notes.append(f"{failed} file(s) could not be checked: internal error (see stderr)")
    unchecked += _emit_report(
        findings,
        fmt,
        targets,
        statistics=statistics,
        unchecked=unchecked,
        notes=notes,
        unsafe_fixes=unsafe_fixes,
        quiet=quiet,
        silent=silent,
    )
    if unchecked:
        ctx.exit(EXIT_ERROR)
    if exit_non_zero_on_fix and fixed_count:
        ctx.exit(EXIT_FINDINGS)
    ctx.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


def _emit_report(
    findings: Sequence[Finding],
    fmt: str,
    targets: Sequence[tuple[str, str, bool]],
    *,
    statistics: bool,
    unchecked: int,
    notes: Sequence[str],
    unsafe_fixes: bool,
    quiet: bool,
    silent: bool,
    to_stderr: bool = False,
) -> int:
    """Write the report to the `--output-file` targets and to stdout (stderr when stdout
    carries fixed source); returns how many output files could not be written.
    `--quiet` drops the summary, `--silent` the report on the terminal (files named
    with `--output-file` are still written: the user asked for them)."""
    extra: dict[str, Any] = {
        "notifications": list(notes),
        "unsafe_fixes": unsafe_fixes,
        "summary": not quiet,
    }
    failures = 0
    for target_fmt, target_path, explicit in targets:
        if statistics and not explicit:
            text = render_statistics(target_fmt, findings, unchecked=unchecked, **extra)
        else:
            text = render(target_fmt, findings, unchecked=unchecked, **extra)
        try:
            with open(target_path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except OSError as exc:
            _err(f"error: cannot write {target_path}: {exc.strerror or exc}")
            failures += 1
    if silent or not all(explicit for _, _, explicit in targets):
        return failures
    stream = sys.stderr if to_stderr else sys.stdout
    color = fmt not in MACHINE_FORMATS and use_color(stream)
    if statistics:
        text = render_statistics(fmt, findings, unchecked=unchecked + failures, **extra)
    else:
        text = render(fmt, findings, color=color, unchecked=unchecked + failures, **extra)
    click.echo(text, nl=False, color=color, err=to_stderr)
    return failures


def _strip_unfixable(findings: Sequence[Finding], fix_codes: set[str]) -> list[Finding]:
    """Findings of rules `--unfixable` (or not `--fixable`) lose their fix, as in ruff:
    no `[*]`, no count in the summary, a null `fix` in JSON."""
    return [
        dataclasses.replace(f, fix=None) if f.fix is not None and f.code not in fix_codes else f
        for f in findings
    ]


def _fix_files(
    files: Sequence[SourceFile],
    codes_for: Callable[[str], tuple[str, ...]],
    analysis: dict[str, Any],
    unsafe: bool,
    write: bool,
    max_bytes: int,
) -> Any:
    """`--fix`/`--diff` over `files`, each with only the rules whose fixes may apply to it
    (enabled, fixable, not switched off by `per-file-ignores`): the fixer applies every
    fix it is shown, so what it must not apply it is not shown.  Files with the same
    rules are fixed together; the result lists files in discovery order."""
    from devlint.fix import FixRun, apply_fixes

    groups: dict[tuple[str, ...], list[SourceFile]] = {}
    for source in files:
        groups.setdefault(codes_for(source.display), []).append(source)
    total = FixRun()
    for group_codes, sources in groups.items():
        if not group_codes:
            continue
        part = apply_fixes(
            sources,
            rules_for(list(group_codes)),
            analysis,
            unsafe,
            write=write,
            max_bytes=max_bytes,
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


def _decode_source(data: bytes) -> tuple[str, str, bool] | None:
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


def _write_stdout(data: bytes) -> None:
    """Fixed source goes to stdout byte for byte (its own encoding, BOM and line ends)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # pragma: no cover - a stdout without bytes
        sys.stdout.write(data.decode("utf-8", "replace"))
    else:
        buffer.write(data)
        buffer.flush()


def _fix_stdin(
    data: bytes,
    display: str,
    codes: Sequence[str],
    file_fix_codes: Sequence[str],
    enabled: set[str],
    ignores: Sequence[tuple[str, tuple[str, ...], str]],
    fix_codes: set[str],
    device_names: Sequence[str],
    noqa: bool,
    *,
    unsafe_fixes: bool,
    diff: bool,
    fix_only: bool,
    fmt: str,
    statistics: bool,
    quiet: bool,
    silent: bool,
    exit_zero: bool,
    exit_non_zero_on_fix: bool,
) -> int:
    """`devlint --fix -` (editors): the fixed source on stdout, as `ruff check --fix -`
    prints it, whether or not anything changed, so the editor can always replace its
    buffer with stdout; what remains is reported on stderr (`--quiet`: without the
    summary, `--silent`: not at all).  `--diff` prints the diff instead; `--fix-only`
    reports nothing.  Returns the exit status."""
    from devlint import checker
    from devlint.fix import FixRun, fix_source, unified_diff

    decoded = None if is_notebook(display) else _decode_source(data)
    out, fixed_count, run = data, 0, FixRun()
    if decoded is not None:
        text, encoding, bom = decoded
        fix_rules = rules_for(list(file_fix_codes))

        def check_text(source: str) -> list[Finding]:
            return checker.check_source(
                source, display, fix_rules, device_names=device_names, noqa=noqa, notebook=False
            )

        try:
            result = fix_source(text, display, check_text, unsafe_fixes) if fix_rules else None
        except Exception as exc:  # a bug in devlint must not lose the user's buffer
            _err(
                f"internal error in {display}: {type(exc).__name__}: {exc} (please report this bug)"
            )
            result = None
        if result is not None and result.changed:
            try:
                out = (b"\xef\xbb\xbf" if bom else b"") + result.fixed.encode(encoding)
            except UnicodeEncodeError:
                result = None  # keep the input rather than write what its encoding cannot hold
            else:
                fixed_count = len(result.applied)
                run.results.append(result)
    if diff:
        if run.results:
            click.echo(unified_diff(run.results[0]), nl=False)
        if not quiet:
            _err(run.summary(would=True))
        return EXIT_FINDINGS if fixed_count else EXIT_CLEAN
    _write_stdout(out)
    if fix_only:
        if not quiet:
            _err(run.summary(would=False))
        return EXIT_FINDINGS if exit_non_zero_on_fix and fixed_count else EXIT_CLEAN
    if fixed_count and not quiet:
        _err(run.summary(would=False))
    remaining = _check_one(None, rules_for(list(codes)), display, device_names, noqa, out)
    findings = _drop_ignored(remaining or [], ignores, enabled, [display])
    findings = _strip_unfixable(findings, fix_codes)
    unchecked = 1 if remaining is None else 0
    _emit_report(
        findings,
        fmt,
        [],
        statistics=statistics,
        unchecked=unchecked,
        notes=[],
        unsafe_fixes=unsafe_fixes,
        quiet=quiet,
        silent=silent,
        to_stderr=True,
    )
    if unchecked:
        return EXIT_ERROR
    if (findings and not exit_zero) or (exit_non_zero_on_fix and fixed_count):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _config_values(values: Sequence[str]) -> tuple[str | None, list[dict[str, Any]]]:
    """`--config` values: at most one configuration file, and any number of inline
    `KEY = VALUE` overrides (ruff's rule: a path to an existing file is a file; text
    with `=` is TOML; anything else is a file that is not there)."""
    config_file: str | None = None
    overrides: list[dict[str, Any]] = []
    for value in values:
        if not os.path.isfile(value) and "=" in value:
            try:
                overrides.append(config.parse_override(value))
            except config.ConfigError as exc:
                raise click.BadParameter(str(exc), param_hint="'--config'") from exc
            continue
        if config_file is not None:
            raise click.BadParameter(
                f"only one configuration file can be given (got {config_file!r} and {value!r})",
                param_hint="'--config'",
            )
        config_file = value
    return config_file, overrides


def _per_file_option(values: Sequence[str], option: str) -> list[tuple[str, tuple[str, ...]]]:
    """`--per-file-ignores 'tests/*:DL002,DL008'` -> [('tests/*', ('DL002', 'DL008'))]."""
    table = []
    for value in values:
        pattern, sep, codes = value.rpartition(":")
        if not sep or not pattern.strip() or not codes.strip():
            raise click.BadParameter(
                f"{value!r} is not PATTERN:CODES (such as 'tests/*:DL002')",
                param_hint=f"'{option}'",
            )
        table.append((pattern.strip(), tuple(_split_selectors([codes], option))))
    return table


def _per_file_table(
    cfg: Config,
    replace: Sequence[tuple[str, tuple[str, ...]]],
    extend: Sequence[tuple[str, tuple[str, ...]]],
) -> list[tuple[str, tuple[str, ...], str]]:
    """(pattern, codes, root) rows: the configuration's per-file-ignores (patterns
    relative to its directory) or `--per-file-ignores`' (relative to the current
    directory), plus `--extend-per-file-ignores`'."""
    cwd = os.getcwd()
    if replace:
        rows = [(pattern, codes, cwd) for pattern, codes in replace]
    else:
        rows = [(pattern, codes, cfg.root) for pattern, codes in cfg.per_file_ignores.items()]
    return [*rows, *((pattern, codes, cwd) for pattern, codes in extend)]


def _settings_text(
    target: str,
    cfg: Config,
    enabled: set[str],
    fix_codes: set[str],
    ignores: Sequence[tuple[str, tuple[str, ...], str]],
    options: FileOptions,
    fmt: str,
    unsafe_fixes: bool,
    fixing: bool,
) -> str:
    """`--show-settings`: the settings that apply to `target`, after the configuration
    file and the command line are combined, in TOML-like lines a user can copy into
    `[tool.devlint]`; what the flags made of the file's settings is what puzzles people."""
    skipped = _per_file_codes(ignores, os.path.normpath(target))

    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            return "[" + ", ".join(json.dumps(v) for v in items) + "]"
        return json.dumps(value)

    lines = [
        f"Resolved settings for: {json.dumps(os.path.abspath(target))}",
        f"Settings path: {json.dumps(os.path.abspath(cfg.path)) if cfg.path else 'none (defaults)'}",
        "",
        f"root = {show(cfg.root)}",
        f"enabled = {show(enabled)}",
        f"enabled-here = {show(enabled - skipped)}",
        f"fixable = {show(fix_codes)}",
        f"unsafe-fixes = {show(unsafe_fixes)}",
        f"fix = {show(fixing)}",
        f"output-format = {show(fmt)}",
        f"exclude = {show(options.exclude)}",
        f"extend-exclude = {show(options.extend_exclude)}",
        f"include = {show(options.include)}",
        f"respect-gitignore = {show(options.respect_gitignore)}",
        f"force-exclude = {show(options.force_exclude)}",
        f"device-names = {show(cfg.device_names)}",
        "",
        "[per-file-ignores]",
        *(
            f"{json.dumps(pattern)} = {show(codes)}  # relative to {root}"
            for pattern, codes, root in ignores
        ),
    ]
    return "\n".join(lines) + "\n"


def _read_stdin() -> bytes:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer.read()
    return sys.stdin.read().encode("utf-8")  # pragma: no cover - a stdin without bytes


def _is_force_excluded(path: str, options: FileOptions) -> bool:
    return PathSet(
        [*options.exclude, *options.extend_exclude], options.root
    ).matches_path_or_parent(path)


@cli.command("rules", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    help="text: a table; markdown: docs/rules.md; json: the rule metadata.",
)
def rules_command(fmt: str) -> None:
    """List every rule: code, name and summary.

    `devlint rules --format markdown > docs/rules.md` regenerates the rules page.
    """
    rules = documented_rules()
    if fmt == "markdown":
        click.echo(rules_markdown(rules), nl=False)
        return
    if fmt == "json":
        records = [
            {
                "code": r.code,
                "name": r.name,
                "summary": r.summary,
                "why": r.why,
                "fix": r.fix,
                "bad": r.bad,
                "good": r.good,
                "severity": r.severity,
                "default_enabled": r.default_enabled,
                "url": url(r.code),
            }
            for r in rules
        ]
        click.echo(json.dumps(records, indent=2))
        return
    rows = []
    for rule in rules:
        note = "" if rule.default_enabled else " (off by default)"
        rows.append((rule.code, rule.name, " ".join(rule.summary.split()) + note))
    name_width = max(len(name) for _, name, _ in rows)
    click.echo(f"{'CODE':<6} {'NAME':<{name_width}}  SUMMARY")
    for code, name, summary in rows:
        click.echo(f"{code:<6} {name:<{name_width}}  {summary}")


def _paragraph(text: str, indent: str = "  ") -> str:
    return textwrap.fill(
        " ".join(text.split()), width=88, initial_indent=indent, subsequent_indent=indent
    )


def _example(code: str) -> str:
    return textwrap.indent(code.rstrip("\n"), "    ")


@cli.command("rule", context_settings=CONTEXT_SETTINGS, short_help="Explain one rule.")
@click.argument("code")
def rule_command(code: str) -> None:
    """Explain one rule: what it reports, why it fails at run time, a bad and a good example.

    CODE is a rule code (DL001) or name (module-input-device-mismatch).
    """
    wanted = code.strip()
    rule = next(
        (r for r in documented_rules() if r.code == wanted.upper() or r.name == wanted.lower()),
        None,
    )
    if rule is None:
        raise click.BadParameter(
            f"unknown rule {code!r} (`devlint rules` lists them)", param_hint="'CODE'"
        )
    enabled = "" if rule.default_enabled else " (off by default; enable with --extend-select)"
    click.echo(f"{rule.code} {rule.name}{enabled}\n")
    click.echo(_paragraph(rule.summary, indent=""))
    if rule.code == SYNTAX_ERROR[0]:
        click.echo(f"\n{rule.fix}")
        return
    click.echo("\nWhy it fails at run time:")
    click.echo(_paragraph(rule.why))
    click.echo("\nHow to fix it:")
    click.echo(_paragraph(rule.fix))
    click.echo("\nExample (reported):")
    click.echo(_example(rule.bad))
    click.echo("\nFixed:")
    click.echo(_example(rule.good))
    click.echo(f"\nDocs: {url(rule.code)}")


def _harden_stdout() -> None:
    """Unprintable characters become escapes instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: never a traceback, exit 2 on a bug in devlint."""
    _harden_stdout()
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="devlint")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:
        _err(f"internal error: {type(exc).__name__}: {exc} (please report this bug)")
        sys.exit(EXIT_ERROR)
