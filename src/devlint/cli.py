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
import os
import sys
import textwrap
from typing import IO, Any, Sequence

import click

from devlint import __version__, checker
from devlint.files import discover
from devlint.findings import Finding
from devlint.report import FORMATS, render
from devlint.rules import (
    ALL_RULES,
    RULES_BY_CODE,
    SYNTAX_ERROR,
    Rule,
    is_valid_selector,
    select_rules,
)

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

SYNTAX_ERROR_SUMMARY = "The file cannot be read, decoded or parsed, so it was not analysed."


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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group_options = {"--version", *ctx.help_option_names}
        if not args or (args[0] not in self.commands and args[0] not in group_options):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

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


def _split_selectors(values: Sequence[str], option: str) -> list[str]:
    """`--select DL001,DL003 --select DL005` -> ['DL001', 'DL003', 'DL005'], validated."""
    selectors = []
    for value in values:
        for part in value.split(","):
            part = part.strip().upper()
            if part:
                selectors.append(part)
    bad = [s for s in selectors if not is_valid_selector(s)]
    if bad:
        known = ", ".join(sorted([SYNTAX_ERROR[0], *RULES_BY_CODE]))
        raise click.BadParameter(
            f"unknown rule code or prefix {', '.join(repr(b) for b in bad)} "
            f"(known codes: {known}; `devlint rules` lists them)",
            param_hint=f"'{option}'",
        )
    return selectors


def _ignores_syntax_errors(ignore: Sequence[str]) -> bool:
    code = SYNTAX_ERROR[0]
    return any(sel == "ALL" or code.startswith(sel) for sel in ignore)


def _check_one(path: str, rules: Sequence[Rule], display: str) -> list[Finding] | None:
    """The findings of one file, or None after reporting an internal error on stderr."""
    try:
        return checker.check_file(path, rules, display=display)
    except Exception as exc:  # a bug in devlint must not stop the other files
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _err(f"internal error in {display}: {detail} (please report this bug)")
        return None


@click.group(cls=DefaultGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="devlint")
def cli() -> None:
    """Find PyTorch device-placement bugs without running your code.

    \b
    devlint [OPTIONS] [PATHS]...     check files (the default command)
    devlint rules                    list the rules
    devlint rule DL001               explain one rule

    Exit status: 0 no problems, 1 problems found, 2 usage or internal error.
    """


@cli.command(context_settings=CONTEXT_SETTINGS, short_help="Check files (the default command).")
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
    "--extend-select",
    "extend_select",
    multiple=True,
    metavar="CODES",
    help="Enable these rules on top of the selected or default ones.",
)
@click.option(
    "--output-format",
    type=click.Choice(sorted(FORMATS), case_sensitive=False),
    default="full",
    show_default=True,
    help="full: source and help; concise: one line each; json: ruff-style records.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache (no cache yet).")
@click.version_option(__version__, "--version", prog_name="devlint")
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    output_format: str,
    exit_zero: bool,
    no_cache: bool,
) -> None:
    """Check PATHS (files or directories; default: the current directory)."""
    selected = _split_selectors(select, "--select") if select else None
    ignored = _split_selectors(ignore, "--ignore")
    extended = _split_selectors(extend_select, "--extend-select")
    rules = select_rules(selected, ignored, extended)

    discovery = discover(paths or (".",))
    for message in discovery.errors:
        _err(f"error: {message}")
    if not discovery.files and not discovery.errors:
        _err("warning: no Python files found under the given paths")

    findings: list[Finding] = []
    failed = 0
    drop_syntax = _ignores_syntax_errors(ignored)
    for source in discovery.files:
        result = _check_one(source.path, rules, source.display)
        if result is None:
            failed += 1
            continue
        if drop_syntax:
            result = [f for f in result if f.code != SYNTAX_ERROR[0]]
        findings.extend(sorted(result, key=lambda f: f.sort_key))

    fmt = output_format.lower()
    color = fmt != "json" and use_color(sys.stdout)
    unchecked = failed + len(discovery.errors)
    click.echo(render(fmt, findings, color=color, unchecked=unchecked), nl=False, color=color)

    if unchecked:
        ctx.exit(EXIT_ERROR)
    ctx.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


@cli.command("rules", context_settings=CONTEXT_SETTINGS)
def rules_command() -> None:
    """List every rule: code, name and summary."""
    rows = [(SYNTAX_ERROR[0], SYNTAX_ERROR[1], SYNTAX_ERROR_SUMMARY)]
    for rule in ALL_RULES:
        note = "" if rule.default_enabled else " (off by default)"
        rows.append((rule.code, rule.name, rule.summary + note))
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
    if wanted.upper() == SYNTAX_ERROR[0] or wanted == SYNTAX_ERROR[1]:
        click.echo(f"{SYNTAX_ERROR[0]} {SYNTAX_ERROR[1]}\n")
        click.echo(_paragraph(SYNTAX_ERROR_SUMMARY, indent=""))
        click.echo("\nFix the file so Python can parse it; devlint then checks its device flow.")
        return
    rule = RULES_BY_CODE.get(wanted.upper()) or next(
        (r for r in ALL_RULES if r.name == wanted.lower()), None
    )
    if rule is None:
        raise click.BadParameter(
            f"unknown rule {code!r} (`devlint rules` lists them)", param_hint="'CODE'"
        )
    enabled = "" if rule.default_enabled else " (off by default; enable with --extend-select)"
    click.echo(f"{rule.code} {rule.name}{enabled}\n")
    click.echo(_paragraph(rule.summary, indent=""))
    click.echo("\nWhy it fails at run time:")
    click.echo(_paragraph(rule.why))
    click.echo("\nHow to fix it:")
    click.echo(_paragraph(rule.fix))
    click.echo("\nExample (reported):")
    click.echo(_example(rule.bad))
    click.echo("\nFixed:")
    click.echo(_example(rule.good))


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
