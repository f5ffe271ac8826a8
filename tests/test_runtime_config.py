"""`devlint confirm` checks each file that ran with that file's own settings, as the static
command does (`devlint.settings.Resolver`: the nearest configuration file at or above the
file, `devlint --show-settings FILE`): rule selection, `per-file-ignores`, `device-names`,
and `noqa` comments.  Before, one configuration (the working directory's, its selection
only) applied to every file.

One program runs once (with `--keep-going`) over a project with a root configuration and
two subpackages whose configurations differ; the same code in both subpackages gets
different findings, each CONFIRMED where its file's settings report it, and the event is
MISSED BY STATIC where they do not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import CONFIRMED, Options, Program, confirm

DEVICE = 'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'

# The same module in both packages.  Line 13: a CPU factory (DL005); line 20: the same
# with the model on `gpu`, a device only `device-names` declares; line 26: the same as
# 13 under `noqa`; line 32: `.numpy()` of an accelerator tensor (DL007).
MODULE = (
    "import torch\n"
    "import torch.nn as nn\n"
    "\n" + DEVICE + "\n"
    "\n"
    "def pick():\n"
    '    return torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
    "\n"
    "\n"
    "def run():\n"
    "    model = nn.Linear(4, 2).to(device)\n"
    "    x = torch.randn(3, 4)\n"
    "    return model(x).sum().item()\n"
    "\n"
    "\n"
    "def gpu_run():\n"
    '    gpu = globals()["pick"]()\n'
    "    model = nn.Linear(4, 2).to(gpu)\n"
    "    x = torch.zeros(1, 4)\n"
    "    return model(x).sum().item()\n"
    "\n"
    "\n"
    "def quiet():\n"
    "    model = nn.Linear(4, 2).to(device)\n"
    "    x = torch.randn(3, 4)  # noqa: DL005\n"
    "    return model(x).sum().item()\n"
    "\n"
    "\n"
    "def probs():\n"
    "    model = nn.Linear(4, 2).to(device)\n"
    "    return model(torch.ones(1, 4, device=device)).softmax(-1).numpy()\n"
)
MAIN = (
    "import torch\n"
    "\n"
    "from pkg_a import mod as a\n"
    "from pkg_b import mod as b\n"
    "\n" + DEVICE + "for m in (a, b):\n"
    "    print(m.run(), m.gpu_run(), m.quiet(), m.probs())\n"
    "print(torch.ones(2, device=device).softmax(-1).numpy())\n"
)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("confirm_config")
    _write(root, "pyproject.toml", '[tool.devlint]\nignore = ["DL007"]\n')
    # pkg_a: its own file (nothing inherited from the root): DL005 off, DL007 on.
    _write(root, "pkg_a/pyproject.toml", '[tool.devlint]\nignore = ["DL005"]\n')
    # pkg_b: `gpu` holds the device; DL007 off for mod.py only (per-file-ignores).
    _write(
        root,
        "pkg_b/pyproject.toml",
        '[tool.devlint]\ndevice-names = ["gpu"]\n\n'
        '[tool.devlint.per-file-ignores]\n"mod.py" = ["DL007"]\n',
    )
    for pkg in ("pkg_a", "pkg_b"):
        _write(root, f"{pkg}/__init__.py", "")
        _write(root, f"{pkg}/mod.py", MODULE)
    _write(root, "main.py", MAIN)
    return root


@pytest.fixture(scope="module")
def report(project: Path):
    options = Options(device="emulated", keep_going=True, cwd=str(project), timeout=180)
    return confirm(Program(script=str(project / "main.py")), options)


def test_each_file_is_checked_with_its_own_configuration(project: Path, report) -> None:
    assert report.result.status == "ok", report.result.output
    verdicts = {
        (os.path.relpath(f.path, project), f.code, f.line): c.verdict for f, c in report.items
    }
    assert verdicts == {
        # pkg_a ignores DL005; its DL007 is on (the root's `ignore` does not reach it)
        ("pkg_a/mod.py", "DL007", 32): CONFIRMED,
        # pkg_b: DL005 on, `gpu` is a device there, DL007 off in mod.py
        ("pkg_b/mod.py", "DL005", 13): CONFIRMED,
        ("pkg_b/mod.py", "DL005", 20): CONFIRMED,
    }
    # What no finding explains (each file's settings switched it off, or `noqa`):
    missed = sorted(
        (os.path.relpath(e["frames"][0]["path"], project), e["frames"][0]["line"])
        for e in report.missed
    )
    assert missed == [
        ("main.py", 9),  # the root configuration ignores DL007
        ("pkg_a/mod.py", 14),  # pkg_a ignores DL005
        ("pkg_a/mod.py", 21),  # no `device-names` in pkg_a: no DL005 on `gpu`
        ("pkg_a/mod.py", 27),  # its `noqa` comment (and pkg_a ignores DL005)
        ("pkg_b/mod.py", 27),  # its `noqa` comment
        ("pkg_b/mod.py", 32),  # per-file-ignores
    ]


def test_the_static_command_reports_the_same_findings(project: Path, report) -> None:
    """`devlint` on the files that ran reports, among the rules `confirm` links, exactly
    the findings that got a verdict."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "devlint",
            "--output-format",
            "concise",
            "main.py",
            "pkg_a",
            "pkg_b",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    found = (re.match(r"(\S+\.py):(\d+):\d+: (DL\d{3})", ln) for ln in out.stdout.splitlines())
    static = sorted((m[1], int(m[2]), m[3]) for m in found if m)
    confirmed = sorted((os.path.relpath(f.path, project), f.line, f.code) for f, _ in report.items)
    assert static == confirmed, out.stdout


def test_a_broken_configuration_stops_confirm_before_the_program_runs(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.devlint]\nselect = "DL001"\n')
    _write(tmp_path, "prog.py", "open('ran.txt', 'w').write('ran')\n")
    out = subprocess.run(
        [sys.executable, "-m", "devlint.runtime.command", "--device", "cpu", "prog.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 2, out.stderr
    assert "devlint confirm: configuration:" in out.stderr and "select" in out.stderr
    assert out.stdout == ""
    assert not (tmp_path / "ran.txt").exists()
