"""pytest plugin: `pytest --devlint-confirm` runs the test suite under the runtime harness.

The natural CI step for projects that already test their training code on CPU: the tests
run on the emulated accelerator (or a real one), so a test that would fail on a GPU fails
here too, with PyTorch's own error; at the end the terminal summary gives every static
finding in the files that ran its verdict (CONFIRMED, REFUTED, NOT REACHED, ...) and lists
the device errors the static pass missed.

    pytest --devlint-confirm [--devlint-device auto|cuda|mps|emulated|cpu]
           [--devlint-keep-going] [--devlint-max-batches N] [--devlint-report FILE]

Registered through the `pytest11` entry point.  Loading it imports neither torch nor
anything heavy: the harness (and torch) is loaded only when `--devlint-confirm` is given.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Optional

import pytest

DEVICES = ("auto", "cuda", "mps", "emulated", "cpu")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("devlint", "devlint runtime confirmation")
    group.addoption(
        "--devlint-confirm",
        action="store_true",
        default=False,
        help="run the tests under the devlint runtime harness and report a verdict for "
        "each static device finding in the files that ran",
    )
    group.addoption(
        "--devlint-device",
        default="auto",
        choices=DEVICES,
        help="auto (default): real CUDA/MPS when present, else the emulated accelerator",
    )
    group.addoption(
        "--devlint-keep-going",
        action="store_true",
        default=False,
        help="heal device errors after recording them, so the tests go on",
    )
    group.addoption(
        "--devlint-max-batches",
        type=int,
        default=0,
        help="stop each DataLoader iteration after N batches",
    )
    group.addoption(
        "--devlint-devices",
        type=int,
        default=1,
        help="how many emulated accelerators (cuda:0 .. cuda:N-1); default 1",
    )
    group.addoption(
        "--devlint-report",
        default=None,
        metavar="FILE",
        help="also write the verdicts as JSON (the `confirm --output-format json` shape)",
    )


def pytest_configure(config: Any) -> None:
    if not config.getoption("devlint_confirm", default=False):
        return
    plugin = ConfirmPlugin(config)
    config.pluginmanager.register(plugin, "devlint-confirm-session")
    plugin.start()


class ConfirmPlugin:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.device = config.getoption("devlint_device")
        self.recorder: Optional[Any] = None
        self.harness: Optional[Any] = None
        self.events_path = os.path.join(tempfile.mkdtemp(prefix="devlint-pytest-"), "events.jsonl")
        self.error: Optional[str] = None
        self.report: Optional[Any] = None
        self.confirmed = 0

    def start(self) -> None:
        from devlint.runtime.coverage import LineRecorder

        if self.device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        self.recorder = LineRecorder()
        self.recorder.start()
        from devlint.runtime import tracer
        from devlint.runtime.install import NoDevice, install

        try:
            self.harness = install(
                tracer.Config(
                    mode=self.device,
                    keep_going=bool(self.config.getoption("devlint_keep_going")),
                    max_batches=int(self.config.getoption("devlint_max_batches") or 0),
                    events_path=self.events_path,
                    device_count=max(1, int(self.config.getoption("devlint_devices") or 1)),
                )
            )
        except NoDevice as exc:
            self.error = str(exc)
            raise

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any) -> None:
        """Confirm the findings before pytest settles its exit status: a CONFIRMED finding
        fails the session, also under `--devlint-keep-going` (where the healed tests
        pass), as `devlint confirm --keep-going` exits 1 on the same code."""
        self.report = self._confirm()
        if self.confirmed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _confirm(self) -> Any:
        from devlint.runtime.confirm import (
            CONFIRMED,
            Program,
            RunResult,
            confirm_findings,
            static_findings,
        )
        from devlint.runtime.events import read_events
        from devlint.runtime.install import notes
        from devlint.runtime.render import render

        if self.recorder is not None:
            self.recorder.stop()
        lines = {p: set(v) for p, v in (self.recorder.snapshot() if self.recorder else {}).items()}
        events = read_events(self.events_path)
        counts = {}
        if self.harness is not None:
            from devlint.runtime.events import event_key

            counts = {event_key(e): e.get("count", 1) for e in self.harness.sink.events}
        for e in events:
            e["count"] = max(e.get("count", 1), counts.get(event_key(e), 1))
        result = RunResult(
            status="ok",
            exit_code=0,
            device=self.harness.mode if self.harness is not None else None,
            exception=None,
            events=events,
            lines=lines,
            notes=notes(),
            elapsed=0.0,
        )
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths = sorted(
            p for p, v in lines.items() if v and os.path.isfile(p) and not p.startswith(here)
        )
        findings = static_findings(paths, str(self.config.rootpath))
        items, missed = confirm_findings(findings, result)
        from devlint.runtime.confirm import Report

        report = Report(Program(script="pytest"), result, items, missed)
        target = self.config.getoption("devlint_report")
        if target:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(render(report, "json"))
        self.confirmed = sum(1 for _, c in items if c.verdict == CONFIRMED)
        return report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from devlint.runtime.render import render

        report = self.report if self.report is not None else self._confirm()
        terminalreporter.section("devlint confirm")
        for line in render(report, "text").splitlines():
            terminalreporter.write_line(line.replace(" The program ran to completion in 0.0s.", ""))
        if self.confirmed:
            terminalreporter.write_line(
                f"devlint confirm: {self.confirmed} finding(s) CONFIRMED: the session fails"
            )
