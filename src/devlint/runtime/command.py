"""The `devlint confirm` command (a click command; the CLI registers it).

    devlint confirm [OPTIONS] -- python train.py --epochs 1
    devlint confirm [OPTIONS] train.py --epochs 1
    devlint confirm [OPTIONS] -- python -m mypackage.train
    devlint confirm --devices 2 [OPTIONS] -- torchrun --nproc-per-node 2 train.py

Importing this module does not import torch: the program runs in a child process, which
does.  `confirm` runs the user's code because the user asked for it; `devlint check`
never imports or runs the code it reads.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from devlint.runtime.confirm import (
    CONFIRMED,
    DEVICES,
    ConfirmError,
    Options,
    parse_program,
)
from devlint.runtime.confirm import (
    confirm as run_confirm,
)
from devlint.runtime.render import FORMATS, render

EXIT_OK = 0
EXIT_CONFIRMED = 1
EXIT_ERROR = 2  # a usage error, or a run that did not complete


@click.command(
    "confirm",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
    },
    short_help="Run a program and confirm each finding at run time.",
)
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="auto",
    show_default=True,
    help="auto: real CUDA or MPS when present, else the emulated accelerator; "
    "cpu: no accelerator at all (shows hard-coded 'cuda', DL002).",
)
@click.option(
    "--devices",
    "device_count",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="How many emulated accelerators (cuda:0 .. cuda:N-1): for DataParallel, and for "
    "DDP under torchrun or mp.spawn, one process per device.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="After recording a device error, heal it (move the operands to the accelerator) "
    "and go on, so one run confirms many findings.",
)
@click.option(
    "--max-batches",
    type=click.IntRange(min=0),
    default=0,
    help="Stop each DataLoader iteration after N batches (0: no limit).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop the program after S seconds (verdicts for what ran until then).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run the program in a temporary copy of the working directory, so its "
    "checkpoints and logs do not overwrite your files.",
)
@click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    envvar="DEVLINT_CONFIRM_OUTPUT_FORMAT",
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report here instead of stdout.",
)
@click.option(
    "--select",
    multiple=True,
    help="Only these codes (prefixes), e.g. DL001; ALL for every rule. A rule that is off "
    "by default is checked when selected.",
)
@click.option("--quiet-program", is_flag=True, help="Hide the program's own output.")
@click.argument("program", nargs=-1, type=click.UNPROCESSED, required=True)
def confirm(
    device: str,
    device_count: int,
    keep_going: bool,
    max_batches: int,
    timeout: Optional[float],
    sandbox: bool,
    output_format: str,
    output_file: Optional[str],
    select: tuple[str, ...],
    quiet_program: bool,
    program: tuple[str, ...],
) -> None:
    """Run PROGRAM under the runtime harness, then mark each static finding in the files
    that ran CONFIRMED, REFUTED, NOT REACHED, INCONCLUSIVE or UNTESTED, and list the
    device errors the static pass missed (MISSED BY STATIC).

    Exit status: 0 when nothing was confirmed or missed, 1 when something was, 2 on a
    usage error or when the program could not be run or did not complete (an exception
    that is not a device error, a non-zero exit, a kill).  The report goes to stdout (or
    --output-file) and nothing else does: the program's own output goes to stderr.
    """
    try:
        prog = parse_program(program)
        options = Options(
            device=device,
            device_count=device_count,
            keep_going=keep_going,
            max_batches=max_batches,
            timeout=timeout,
            sandbox=sandbox,
            quiet_program=quiet_program,
        )
        report = run_confirm(prog, options, select=[s.upper() for s in select] or None)
    except ConfirmError as exc:
        click.echo(f"devlint confirm: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    text = render(report, output_format)
    if output_file:
        with open(output_file, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.flush()
        click.echo(text, nl=False)
    if report.result.crashed:
        # Nothing after the crash was checked: a CI step must not pass on it.
        sys.exit(EXIT_ERROR)
    confirmed = any(c.verdict == CONFIRMED for _, c in report.items)
    sys.exit(EXIT_CONFIRMED if confirmed or report.missed else EXIT_OK)


def main(argv: Optional[list[str]] = None) -> None:
    """`python -m devlint.runtime.command ...` (the same as `devlint confirm ...`)."""
    confirm.main(args=argv, prog_name="devlint confirm")


if __name__ == "__main__":
    main()
