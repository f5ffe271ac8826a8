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
import functools
import importlib
import json
import os
import sys
import textwrap
import time
from typing import IO, Any, Callable, Sequence

import click

from devlint import __version__, config
from devlint import run as run_module
from devlint.console import isatty
from devlint.docs import documented_rules, how_to_enable, rules_markdown, url
from devlint.findings import Finding
from devlint.report import FORMATS, MACHINE_FORMATS, render, render_statistics
from devlint.report.full import clean
from devlint.rules import KNOWN_CODES, SYNTAX_ERROR, is_valid_selector
from devlint.run import RunOptions
from devlint.settings import CommandLine, Resolver, Settings

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
        self.enabled = total > 1 and isatty(stream)
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
    help="Print which configuration file applies to the first path, and the settings it "
    "resolves to, and exit.",
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
    "--watch",
    "-w",
    is_flag=True,
    help="Check again whenever a checked file or a configuration file changes (Ctrl-C stops).",
)
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
    watch: bool,
    jobs: int,
    cache_dir: str | None,
    no_cache: bool,
    file_timeout: float,
    max_file_size: float,
) -> None:
    """Check PATHS (files or directories; default: the current directory; `-`: stdin)."""
    config_file, overrides = _config_values(config_values)
    command_line = CommandLine(
        select=tuple(_split_selectors(select, "--select")) if select else None,
        ignore=(
            *_split_selectors(ignore, "--ignore"),
            *_split_selectors(extend_ignore, "--extend-ignore"),
        ),
        extend_select=tuple(_split_selectors(extend_select, "--extend-select")),
        fixable=tuple(_split_selectors(fixable, "--fixable")) if fixable else None,
        unfixable=tuple(_split_selectors(unfixable, "--unfixable")),
        per_file_ignores=tuple(_per_file_option(per_file_ignores, "--per-file-ignores")),
        extend_per_file_ignores=tuple(
            _per_file_option(extend_per_file_ignores, "--extend-per-file-ignores")
        ),
        exclude=tuple(_split(exclude)),
        extend_exclude=tuple(_split(extend_exclude)),
        respect_gitignore=respect_gitignore,
        force_exclude=force_exclude,
        config_file=config_file,
        isolated=isolated,
        overrides=tuple(overrides),
    )
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
    if watch:
        # as `ruff check --watch`: fixing on each run is fine, the one-shot modes are not
        if use_stdin:
            raise click.UsageError("--watch cannot be used with stdin")
        for flag, name in (
            (add_noqa, "--add-noqa"),
            (show_files, "--show-files"),
            (show_settings, "--show-settings"),
            (statistics, "--statistics"),
        ):
            if flag:
                raise click.UsageError(f"--watch cannot be used with {name}")
    quiet = quiet or silent
    options = RunOptions(
        fix=fix,
        diff=diff,
        fix_only=fix_only,
        unsafe_fixes=unsafe_fixes,
        noqa=not ignore_noqa,
        jobs=jobs,
        cache=not no_cache,
        cache_dir=cache_dir,
        file_timeout=file_timeout,
        max_file_size=max_file_size,
    )
    run = functools.partial(
        _check,
        paths,
        options=options,
        fmt=fmt,
        targets=targets,
        stdin_filename=stdin_filename if use_stdin else None,
        use_stdin=use_stdin,
        show_settings=show_settings,
        show_files=show_files,
        show_fixes=show_fixes,
        add_noqa=add_noqa,
        statistics=statistics,
        quiet=quiet,
        silent=silent,
        exit_zero=exit_zero,
        exit_non_zero_on_fix=exit_non_zero_on_fix,
    )
    if watch:
        from devlint.watch import watch as watch_paths

        ctx.exit(
            watch_paths(
                paths,
                lambda: Resolver(command_line),
                lambda resolver: run(resolver=resolver),
                quiet=quiet,
                on_error=lambda message: _err(f"error: {message}"),
            )
        )
    try:
        ctx.exit(run(resolver=Resolver(command_line)))
    except config.ConfigError as exc:
        _err(f"error: {exc}")
        ctx.exit(EXIT_ERROR)


def _check(
    paths: Sequence[str],
    resolver: Resolver,
    options: RunOptions,
    *,
    fmt: str,
    targets: Sequence[tuple[str, str, bool]],
    stdin_filename: str | None,
    use_stdin: bool,
    show_settings: bool,
    show_files: bool,
    show_fixes: bool,
    add_noqa: bool,
    statistics: bool,
    quiet: bool,
    silent: bool,
    exit_zero: bool,
    exit_non_zero_on_fix: bool,
) -> int:
    """The `check` command once its flags are parsed: run, render, and the exit status.
    A configuration file that cannot be used raises `config.ConfigError`."""
    report = functools.partial(
        _emit_report,
        fmt=fmt,
        statistics=statistics,
        unsafe_fixes=options.unsafe_fixes,
        quiet=quiet,
        silent=silent,
    )
    if show_settings:
        target = stdin_filename if use_stdin and stdin_filename else (paths[0] if paths else ".")
        click.echo(_settings_text(target, resolver.for_path(target), fmt, options), nl=False)
        return EXIT_CLEAN

    if use_stdin:
        display = os.path.normpath(stdin_filename) if stdin_filename else "-"
        skipped = bool(stdin_filename) and run_module.excluded(display, resolver)
        if show_files:
            if not skipped:
                click.echo(clean(display))
            return EXIT_CLEAN
        if skipped and not options.fixing:
            report([], targets=targets, unchecked=0, notes=[])
            return EXIT_CLEAN
        data = _read_stdin()
        if skipped:  # an editor replaces its buffer with stdout: give it back as it was
            _write_stdout(data)
            return EXIT_CLEAN
        outcome = run_module.check_source(data, display, resolver, options)
        for where, message in outcome.internal_errors:
            _err(f"internal error in {where}: {message} (please report this bug)")
        if options.fixing:
            return _fix_stdin_report(
                outcome,
                options,
                report=report,
                quiet=quiet,
                exit_zero=exit_zero,
                exit_non_zero_on_fix=exit_non_zero_on_fix,
            )
        unchecked = outcome.failed
        notes = [f"{unchecked} file(s) could not be checked: internal error (see stderr)"]
        unchecked += report(
            outcome.findings, targets=targets, unchecked=unchecked, notes=notes if unchecked else []
        )
        if unchecked:
            return EXIT_ERROR
        return EXIT_FINDINGS if outcome.findings and not exit_zero else EXIT_CLEAN

    discovery = run_module.discover_files(paths or (".",), resolver)
    for message in discovery.errors:
        _err(f"error: {message}")
    if show_files:
        for source in discovery.files:
            click.echo(clean(source.display))
        return EXIT_ERROR if discovery.errors else EXIT_CLEAN
    if not discovery.files and not discovery.errors and not quiet:
        _err("warning: no Python files found under the given paths")

    progress = Progress(len(discovery.files), sys.stderr)
    try:
        outcome = run_module.check_paths(
            paths,
            resolver,
            options,
            discovery=discovery,
            on_progress=lambda done, total: progress.update(done),
        )
    finally:
        progress.close()
    fixed_count = 0
    if outcome.fixes is not None:
        from devlint.fix import unified_diff

        fixed = outcome.fixes
        for message in fixed.errors:
            _err(f"error: {message}")
        fixed_count = fixed.count
        if options.diff:
            for result in fixed.results:
                click.echo(unified_diff(result), nl=False)
            if not quiet:
                _err(fixed.summary(would=True))
            return EXIT_FINDINGS if fixed.count else EXIT_CLEAN
        if show_fixes and fixed.count and not silent:
            click.echo(fixed.listing())
        if (fixed.count or options.fix_only) and not quiet:
            _err(fixed.summary(would=False))
        if options.fix_only:
            if fixed.errors or discovery.errors:
                return EXIT_ERROR
            return EXIT_FINDINGS if exit_non_zero_on_fix and fixed.count else EXIT_CLEAN
    for display, message in outcome.internal_errors:
        _err(f"internal error in {display}: {message} (please report this bug)")
    findings, failed = outcome.findings, outcome.failed
    unchecked = failed + len(discovery.errors)

    if add_noqa:
        sources = {s.display: s.path for s in discovery.files}
        added, errors = run_module.add_noqa(findings, sources)
        for message in errors:
            _err(f"error: {message}")
        noun = "directive" if added == 1 else "directives"
        if not quiet:
            click.echo(f"Added {added} noqa {noun}.", err=True)
        return EXIT_ERROR if unchecked or errors else EXIT_CLEAN

    notes = [*discovery.errors]
    if failed:
        notes.append(f"{failed} file(s) could not be checked: internal error (see stderr)")
    unchecked += report(findings, targets=targets, unchecked=unchecked, notes=notes)
    if unchecked:
        return EXIT_ERROR
    if exit_non_zero_on_fix and fixed_count:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN


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


def _write_stdout(data: bytes) -> None:
    """Fixed source goes to stdout byte for byte (its own encoding, BOM and line ends)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # pragma: no cover - a stdout without bytes
        sys.stdout.write(data.decode("utf-8", "replace"))
    else:
        buffer.write(data)
        buffer.flush()


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


def _fix_stdin_report(
    outcome: run_module.Outcome,
    options: RunOptions,
    *,
    report: Callable[..., int],
    quiet: bool,
    exit_zero: bool,
    exit_non_zero_on_fix: bool,
) -> int:
    """`devlint --fix -` (editors): the fixed source on stdout, as `ruff check --fix -`
    prints it, whether or not anything changed, so the editor can always replace its
    buffer with stdout; what remains is reported on stderr (`--quiet`: without the
    summary, `--silent`: not at all).  `--diff` prints the diff instead; `--fix-only`
    reports nothing.  Returns the exit status."""
    from devlint.fix import unified_diff

    fixes = outcome.fixes
    fixed_count = fixes.count
    if options.diff:
        if fixes.results:
            click.echo(unified_diff(fixes.results[0]), nl=False)
        if not quiet:
            _err(fixes.summary(would=True))
        return EXIT_FINDINGS if fixed_count else EXIT_CLEAN
    assert outcome.fixed_source is not None
    _write_stdout(outcome.fixed_source)
    if options.fix_only:
        if not quiet:
            _err(fixes.summary(would=False))
        return EXIT_FINDINGS if exit_non_zero_on_fix and fixed_count else EXIT_CLEAN
    if fixed_count and not quiet:
        _err(fixes.summary(would=False))
    unchecked = outcome.failed
    report(outcome.findings, targets=[], unchecked=unchecked, notes=[], to_stderr=True)
    if unchecked:
        return EXIT_ERROR
    if (outcome.findings and not exit_zero) or (exit_non_zero_on_fix and fixed_count):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _settings_text(target: str, settings: Settings, fmt: str, options: RunOptions) -> str:
    """`--show-settings FILE`: which configuration file applied to FILE (and what it
    extends), and the settings that apply to it after the file and the command line are
    combined, in TOML-like lines a user can copy into `[tool.devlint]`; with a
    configuration per directory, which file applied is the first thing to know."""

    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            return "[" + ", ".join(json.dumps(v) for v in items) + "]"
        return json.dumps(value)

    files = settings.files
    exclude = [*files.exclude, *files.extend_exclude]
    extra = [(root, patterns) for root, patterns in files.extra_exclude]
    include = [(files.root, files.include)] if files.include else []
    include += list(files.extra_include)
    path = json.dumps(settings.path) if settings.path else "none (defaults)"
    lines = [
        f"Resolved settings for: {json.dumps(os.path.abspath(target))}",
        f"Settings path: {path}",
        "",
        f"extends = {show(settings.extends)}",
        f"root = {show(settings.root)}",
        f"enabled = {show(settings.enabled)}",
        f"enabled-here = {show(settings.enabled_for(os.path.normpath(target)))}",
        f"fixable = {show(settings.fixable)}",
        f"unsafe-fixes = {show(options.unsafe_fixes)}",
        f"fix = {show(options.fixing)}",
        f"output-format = {show(fmt)}",
        f"exclude = {show(exclude)}  # relative to {files.root}",
        *(f"extend-exclude = {show(p)}  # relative to {root}" for root, p in extra),
        *(f"include = {show(p)}  # relative to {root}" for root, p in include),
        f"respect-gitignore = {show(files.respect_gitignore)}",
        f"force-exclude = {show(files.force_exclude)}",
        f"device-names = {show(settings.device_names)}",
        f"gpu-guards = {show(settings.gpu_guards)}",
        f"library = {show(settings.roles.library)}  # relative to {settings.roles.library_root}",
        f"scripts = {show(settings.roles.scripts)}  # relative to {settings.roles.scripts_root}",
        f"role = {show(settings.roles.role_for(target))}  # library code or a script",
        "",
        "[per-file-ignores]",
        *(
            f"{json.dumps(pattern)} = {show(codes)}  # relative to {root}"
            for pattern, codes, root in settings.per_file_ignores
        ),
    ]
    return "\n".join(lines) + "\n"


def _read_stdin() -> bytes:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer.read()
    return sys.stdin.read().encode("utf-8")  # pragma: no cover - a stdin without bytes


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
    enabled = (
        ""
        if rule.default_enabled
        else f" (off by default; enable with --extend-select {rule.code})"
    )
    click.echo(f"{rule.code} {rule.name}{enabled}\n")
    click.echo(_paragraph(rule.summary, indent=""))
    reason = getattr(rule, "default_off_reason", "")
    if reason:
        click.echo("\nWhy it is off by default:")
        click.echo(_paragraph(f"{reason} Enable it with {how_to_enable(rule.code)}."))
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


# the libraries `devlint server` needs (the `server` extra), by their import names
SERVER_PACKAGES = frozenset({"pygls", "lsprotocol", "cattrs", "attrs"})


@cli.command(
    "server", context_settings=CONTEXT_SETTINGS, short_help="Run the language server (LSP)."
)
def server_command() -> None:
    """Run devlint as a Language Server Protocol server on stdin/stdout, for editors:
    diagnostics as you type, fixes as code actions, rule docs on hover.

    Needs the `server` extra: pip install 'devlint[server]'.
    """
    try:
        from devlint.server import serve  # pygls loads only for this command
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_PACKAGES:
            raise
        _err(
            f"`devlint server` needs the {exc.name} package: "
            "pip install 'devlint[server]' (Python 3.9+)"
        )
        sys.exit(EXIT_ERROR)
    serve()


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
