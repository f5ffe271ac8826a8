"""Shared helpers for the command-line tests."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from devlint.cli import cli

# One DL002 finding on line 2, column 27 (a hard-coded accelerator): a real engine finding,
# of a rule on by default; FIXED is what its (unsafe) fix makes of it.
BUGGY = 'import torch\nx = torch.zeros(3, device="cuda")\n'
FIXED = (
    'import torch\nx = torch.zeros(3, device=("cuda" if torch.cuda.is_available() else "cpu"))\n'
)
CLEAN = "import torch\n\nx = torch.zeros(3)\n"
BROKEN = "import torch\nx = )\n"


def runner() -> CliRunner:
    """A runner that keeps stdout and stderr apart, on every click 8 release."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        return CliRunner()


def run(*args: str, input: bytes | str | None = None) -> Result:
    return runner().invoke(cli, list(args), catch_exceptions=False, input=input)


def write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def concise(result: Result) -> list[str]:
    """The finding lines of a concise report (without the summary)."""
    return [line for line in result.stdout.splitlines() if ": DL" in line]

# Run devlint's command line (`sys.argv[1:]`) and print to stderr, after it exits, which
# of LibCST and the rule modules it loaded, and its exit status: a run the cache answers
# loads neither.
ANALYSIS_LOADED_PROBE = (
    "import sys\n"
    "from devlint.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exit:\n"
    "    loaded = sorted(m for m in sys.modules if m == 'libcst' or m.startswith('devlint.rules.dl'))\n"
    "    print('LOADED', loaded, exit.code, file=sys.stderr)\n"
)
