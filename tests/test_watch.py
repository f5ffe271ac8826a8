"""`devlint --watch`: a new report after each change, Ctrl-C ends it with status 0."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devlint.settings import Resolver
from devlint.watch import changed, snapshot, watched_paths
from tests.helpers import run

BUGGY = (
    "import torch\n"
    'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
    "x = torch.randn(4, 8, device=device).cpu()\n"
    "x.to(device)\n"
    "print(x)\n"
)
FIXED = BUGGY.replace("x.to(device)\n", "x = x.to(device)\n")


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(lines: queue.Queue, text: str, seen: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"devlint ended before printing {text!r}:\n{''.join(seen)}")
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} within {timeout} s:\n{''.join(seen)}")


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C is SIGINT on POSIX only")
def test_watch_reports_again_after_a_change_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    source = tmp_path / "train.py"
    source.write_text(BUGGY, encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DEVLINT_OUTPUT_FORMAT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devlint", "--watch", "--no-cache", "--output-format", "concise", "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a test run started in the background (`cmd &` in a script) ignores SIGINT, and
        # its children inherit that: give the watcher Ctrl-C's default back
        preexec_fn=_default_sigint if os.name == "posix" else None,
    )
    out: queue.Queue = queue.Queue()
    err: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_lines, args=(proc.stderr, err), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(out, "DL004", seen)
        _wait_for(out, "Found 1 problem", seen)
        _wait_for(err, "Watching for file changes", [])
        source.write_text(FIXED, encoding="utf-8")
        _wait_for(out, "All checks passed!", seen)
        _wait_for(err, "Watching for file changes", [])  # the second run has ended
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = "".join(seen)
    assert "\x1b[" not in report, "the screen is cleared only on a terminal"
    assert report.index("Found 1 problem") < report.index("All checks passed!")
    banners = []
    while True:
        line = err.get(timeout=5)
        if line is None:
            break
        banners.append(line)
    assert "Traceback" not in "".join(banners)


def test_the_watched_paths_are_the_files_their_directories_and_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "a.py").write_text("x = 1\n")
    config = tmp_path / "pkg" / "pyproject.toml"
    config.write_text("[tool.devlint]\n")
    monkeypatch.chdir(tmp_path)
    watched = watched_paths(["."], Resolver())
    assert {
        str(tmp_path),
        str(tmp_path / "pkg"),
        str(tmp_path / "pkg" / "sub"),
        str(tmp_path / "pkg" / "sub" / "a.py"),
        str(config),
    } <= watched
    state = snapshot(["."], Resolver())
    assert not changed(state)
    (tmp_path / "pkg" / "b.py").write_text("y = 2\n")  # a new file: its directory changes
    assert changed(state)


@pytest.mark.parametrize(
    "flag", ["--add-noqa", "--show-files", "--show-settings", "--statistics"]
)
def test_watch_refuses_the_one_shot_modes(project: Path, flag: str) -> None:
    result = run("--watch", flag, ".")
    assert result.exit_code == 2
    assert f"--watch cannot be used with {flag}" in result.stderr


def test_watch_refuses_stdin(project: Path) -> None:
    result = run("--watch", "-", input="x = 1\n")
    assert result.exit_code == 2
    assert "--watch cannot be used with stdin" in result.stderr
