"""A legacy CPU constructor given an accelerator `device=` (`torch.FloatTensor(rows,
device=device)`) raises on a GPU before anything meets it.  Under the emulated
accelerator the harness raises the same error and records a "legacy" event whose operand
is the tensor asked for, made on that line: DL005's finding there is CONFIRMED by that
origin (and a finding planted on another line is not).  With `--keep-going` the tensor is
made where it was asked for, as the fix makes it, and the program runs to its end."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    Options,
    Program,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from tests.runtime_helpers import RUN_JOBS, planted, write_programs

PROGRAM = """\
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    weights = torch.FloatTensor([0.2, 0.8], device=device)
    scores = torch.randn(5, 2, device=device)
    print((scores * weights).sum(1).tolist())
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, RunResult, RunResult]:
    root = write_programs(tmp_path_factory.mktemp("legacy_device"), {"weights": PROGRAM})
    path = root / "weights.py"
    stop, keep = run_many(
        [Program(script=str(path))] * 2,
        [
            Options(device="emulated", timeout=120),
            Options(device="emulated", timeout=120, keep_going=True),
        ],
        jobs=RUN_JOBS,
    )
    return path, stop, keep


def test_the_constructor_fails_and_confirms_the_static_finding(runs) -> None:
    path, result, _ = runs
    assert result.status == "exception" and result.stopped_by_device_error, result.output
    (event,) = result.events
    assert event["kind"] == "legacy" and event["frames"][-1]["line"] == 4
    assert "legacy constructor expects device type" in event["message"]
    items, missed = confirm_findings(
        static_findings(files_that_ran(result, Program(script=str(path)))), result
    )
    assert [(f.code, f.line, c.verdict) for f, c in items] == [("DL005", 4, CONFIRMED)]
    assert missed == []
    ((_, other),) = confirm_findings([planted(path, 6, "DL005")], result)[0]
    assert other.verdict != CONFIRMED


def test_keep_going_makes_the_tensor_where_it_was_asked_for(runs) -> None:
    _, _, result = runs
    assert result.status == "ok", result.output
    (event,) = result.events
    assert event["kind"] == "legacy" and event["healed"] is True
