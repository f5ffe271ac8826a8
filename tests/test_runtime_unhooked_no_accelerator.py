"""A program that dies for want of an accelerator along a path no hook of the harness
watches (`torch.cuda.current_device()` on a CPU-only machine) still leaves a
"no-accelerator" event, placed at the innermost user line of its traceback
(`tracer.record_uncaught`); a hooked path (`torch.cuda.LongTensor(...)`) is recorded
once, by its hook, and with --keep-going is answered on the CPU."""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import Options, Program, run_many
from tests.runtime_helpers import RUN_JOBS

PROGRAMS = {
    "current_device": """\
        import torch


        def pick():
            return torch.cuda.current_device()


        pick()
        """,
    "legacy": """\
        import torch

        ids = torch.cuda.LongTensor([1, 2])
        print(ids.device)
        """,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unhooked")
    jobs = [("current_device", False), ("legacy", False), ("legacy", True)]
    for name, text in PROGRAMS.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    out = run_many(
        [Program(script=str(folder / f"{name}.py")) for name, _ in jobs],
        [Options(device="cpu", timeout=120, keep_going=keep) for _, keep in jobs],
        jobs=RUN_JOBS,
    )
    return dict(zip(jobs, out))


def test_an_unhooked_failure_is_recorded_at_the_user_line(results) -> None:
    result = results[("current_device", False)]
    assert result.status == "exception"
    events = [e for e in result.events if e["kind"] == "no-accelerator"]
    assert len(events) == 1
    assert [f["line"] for f in events[0]["frames"]][:2] == [5, 8]


def test_a_legacy_cuda_type_is_recorded_once_and_healed(results) -> None:
    stopped = results[("legacy", False)]
    assert [e["frames"][0]["line"] for e in stopped.events] == [3]
    healed = results[("legacy", True)]
    assert healed.status == "ok"
    assert all(e.get("healed") for e in healed.events) and len(healed.events) == 1
