"""DL008 under the harness (issue 15, item 4): a `torch.load` without `map_location` is
CONFIRMED only by a load that really failed, and otherwise UNTESTED with what would fail
and where (which storages, on which device); never REFUTED, and a load that did not fail
is never MISSED BY STATIC.

The programs share one directory: the `save_*` ones run first (emulated) and write the
checkpoints that the `load_*` ones read in a second round (`--device cpu`, where there is
no accelerator, as on a CPU-only machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    NOT_REACHED,
    UNTESTED,
    Confirmation,
    Options,
    Program,
    Report,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from devlint.runtime.render import render
from tests.runtime_helpers import RUN_JOBS, write_programs

SAVERS: dict[str, str] = {
    # A model on the accelerator and a CPU step counter, as a training loop saves them.
    "save_gpu": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = torch.nn.Linear(3, 2).to(device)
        torch.save({"model": model.state_dict(), "step": torch.tensor(3)}, "gpu.pt")
        """,
}

PROGRAMS: dict[str, str] = {
    # Saved on the accelerator and loaded back in the same run: works on a GPU.
    "roundtrip": """\
        import io

        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = torch.nn.Linear(4, 2).to(device)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        buf.seek(0)
        state = torch.load(buf)
        model.load_state_dict(state)
        print(model(torch.randn(1, 4, device=device)).shape)
        """,
    # Saved before the model moved: only CPU storages, nothing can fail.
    "cpu_checkpoint": """\
        import io

        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = torch.nn.Linear(4, 2)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        buf.seek(0)
        model.load_state_dict(torch.load(buf))
        model.to(device)
        """,
    # Two loads through a helper: the same line, two checkpoints of different devices.
    "helper_two_checkpoints": """\
        import io

        import torch


        def restore(buf):
            buf.seek(0)
            return torch.load(buf)


        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        cpu_buf, gpu_buf = io.BytesIO(), io.BytesIO()
        torch.save({"w": torch.ones(2)}, cpu_buf)
        torch.save({"w": torch.ones(2, device=device)}, gpu_buf)
        restore(cpu_buf)
        restore(gpu_buf)
        """,
    # A load the static pass may not flag (an alias): never MISSED BY STATIC either.
    "aliased_load": """\
        import io

        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        buf = io.BytesIO()
        torch.save(torch.ones(3, device=device), buf)
        buf.seek(0)
        reader = getattr(torch, "lo" + "ad")
        print(reader(buf).device)
        """,
}

LOADERS: dict[str, str] = {
    # The checkpoint save_gpu wrote on the (emulated) accelerator, loaded with none.
    "load_gpu": """\
        import torch

        state = torch.load("gpu.pt")
        print(sorted(state), state["model"]["weight"].device)
        """,
    "load_gpu_mapped": """\
        import torch

        state = torch.load("gpu.pt", map_location="cpu")
        print(state["model"]["weight"].device)
        """,
}


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    return write_programs(tmp_path_factory.mktemp("checkpoints"), {**SAVERS, **PROGRAMS, **LOADERS})


def _options(device: str, keep_going: bool = False) -> Options:
    return Options(device=device, keep_going=keep_going, timeout=180)


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    """name -> result.  Round 1: the savers and the one-run programs, emulated and with no
    accelerator (`name@cpu`); round 2: the loaders, with no accelerator, with and without
    --keep-going (`name+keep_going`)."""
    first = [(n, n, _options("emulated")) for n in [*SAVERS, *PROGRAMS]]
    first += [(f"{n}@cpu", n, _options("cpu")) for n in PROGRAMS]
    second = [(n, n, _options("cpu")) for n in LOADERS]
    second += [(f"{n}+keep_going", n, _options("cpu", keep_going=True)) for n in LOADERS]
    jobs = RUN_JOBS
    out: dict[str, RunResult] = {}
    for round_ in (first, second):
        runs = run_many(
            [Program(script=str(programs / f"{n}.py")) for _, n, _ in round_],
            [o for *_, o in round_],
            jobs=jobs,
        )
        out.update({key: r for (key, _, _), r in zip(round_, runs)})
    assert out["save_gpu"].status == "ok", out["save_gpu"].output
    return out


def _verdicts(
    programs: Path, results: dict[str, RunResult], key: str
) -> tuple[dict[int, Confirmation], list[dict[str, Any]], Report]:
    name = key.split("+")[0].split("@")[0]
    path = programs / f"{name}.py"
    result = results[key]
    found = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    items, missed = confirm_findings(found + _planted(path, found), result)
    by_line = {f.line: c for f, c in items if f.code == "DL008"}
    return by_line, missed, Report(Program(script=str(path)), result, items, missed)


def _planted(path: Path, found: list) -> list:
    """A DL008 on every `torch.load(` line without map_location that the static pass did
    not flag (it may judge an in-memory round trip safe): the verdicts under test are the
    harness's, whatever the rules decide."""
    from devlint.findings import Finding

    flagged = {f.line for f in found if f.code == "DL008" and Path(f.path) == path}
    out = []
    for n, text in enumerate(path.read_text().splitlines(), 1):
        col = text.find("torch.load(")
        if col >= 0 and "map_location" not in text and n not in flagged:
            out.append(Finding("DL008", "planted", "planted", str(path), n, col + 1, n, col + 2))
    return out


def test_a_checkpoint_saved_on_the_accelerator_and_loaded_with_none_is_confirmed(
    programs, results
) -> None:
    for key in ("load_gpu", "load_gpu+keep_going"):
        by_line, missed, report = _verdicts(programs, results, key)
        conf = by_line[3]
        assert conf.verdict == CONFIRMED, (key, conf)
        assert conf.message.startswith(
            "RuntimeError: Attempting to deserialize object on a CUDA device"
        )
        assert conf.event is not None and conf.event["outcome"] == "failed"
        assert not missed
        assert "load_gpu.py:3:9: DL008 CONFIRMED" in render(report, "text")
    # Without --keep-going the failure ends the run; with it, the checkpoint is loaded onto
    # the CPU and the program goes on, and the verdict names the storages.
    assert results["load_gpu"].stopped_by_device_error
    healed = results["load_gpu+keep_going"]
    assert healed.status == "ok", healed.output
    (event,) = healed.events
    assert event["healed"] is True
    assert event["storages"] == {
        "cpu": {"count": 1, "tensors": ["step"]},
        "cuda:0": {"count": 2, "tensors": ["model.weight", "model.bias"]},
    }
    record = json.loads(render(_verdicts(programs, results, "load_gpu+keep_going")[2], "json"))
    confirmation = record["findings"][0]["confirmation"]
    assert confirmation["outcome"] == "failed"
    assert confirmation["storages"]["cuda:0"]["count"] == 2


def test_the_same_checkpoint_loaded_with_map_location_is_clean(programs, results) -> None:
    by_line, missed, _ = _verdicts(programs, results, "load_gpu_mapped")
    assert by_line == {} and missed == []
    assert results["load_gpu_mapped"].status == "ok"
    assert results["load_gpu_mapped"].events == []


def test_a_load_on_the_accelerator_would_fail_elsewhere_and_is_untested(programs, results) -> None:
    by_line, missed, report = _verdicts(programs, results, "roundtrip")
    conf = by_line[10]
    assert conf.verdict == UNTESTED
    assert conf.message.startswith(
        "would fail on a CPU-only machine, not in this run (emulated has the accelerator): "
        "torch.load at "
    )
    assert "roundtrip.py:10 without map_location read 2 storages on cuda:0 (weight, bias)" in (
        conf.message
    )
    assert "there it raises RuntimeError: Attempting to deserialize object on a CUDA device" in (
        conf.message
    )
    assert "--device cpu" in conf.message
    assert not missed
    assert results["roundtrip"].status == "ok"
    text = render(report, "text")
    assert "roundtrip.py:10:9: DL008 UNTESTED " in text
    assert "MISSED BY STATIC" not in text
    assert "1 untested." in text


def test_a_load_of_cpu_storages_is_untested_on_every_device(programs, results) -> None:
    for key, device_text in (("cpu_checkpoint", "emulated"), ("cpu_checkpoint@cpu", "cpu")):
        by_line, missed, _ = _verdicts(programs, results, key)
        conf = by_line[10]
        assert conf.verdict == UNTESTED, (key, conf)
        assert "read 2 storages on cpu (weight, bias), no accelerator storage" in conf.message
        assert not missed
        assert results[key].device == device_text
    # Saved on the accelerator and reloaded in one run, with no accelerator: CPU storages.
    by_line, missed, _ = _verdicts(programs, results, "roundtrip@cpu")
    assert by_line[10].verdict == UNTESTED
    assert "no accelerator storage" in by_line[10].message
    assert not missed


def test_two_loads_on_one_line_the_one_that_would_fail_is_reported(programs, results) -> None:
    by_line, missed, _ = _verdicts(programs, results, "helper_two_checkpoints")
    conf = by_line[8]
    assert conf.verdict == UNTESTED
    assert "1 storage on cuda:0 (w)" in conf.message
    assert not missed
    outcomes = sorted(e["outcome"] for e in results["helper_two_checkpoints"].events)
    assert outcomes == ["cpu-only", "would-fail"]


def test_a_load_that_did_not_fail_is_never_missed_by_static(programs, results) -> None:
    for key in ("aliased_load", "roundtrip", "helper_two_checkpoints", "cpu_checkpoint@cpu"):
        result = results[key]
        assert result.events, key
        items, missed = confirm_findings([], result)
        assert items == [] and missed == [], key
    # A load that really failed, that no finding explains, is.
    _, missed = confirm_findings([], results["load_gpu"])
    assert [e["op"] for e in missed] == ["torch.load"]


def test_a_planted_dl008_is_never_refuted(programs, results) -> None:
    from devlint.findings import Finding

    path = programs / "load_gpu_mapped.py"
    for line, verdict in ((3, UNTESTED), (1, UNTESTED), (40, NOT_REACHED)):
        planted = Finding("DL008", "planted", "planted", str(path), line, 1, line, 2)
        ((_, conf),) = confirm_findings([planted], results["load_gpu_mapped"])[0]
        assert conf.verdict == verdict, (line, conf)
        if line == 3:
            assert conf.message.startswith("the line ran, but no torch.load without map_location")


def test_the_command_exits_0_on_a_program_whose_load_works(programs) -> None:
    """The issue: a program that works was CONFIRMED with an error that never happened
    and `devlint confirm` exited 1."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devlint.runtime.command",
            "--device",
            "emulated",
            "--quiet-program",
            "--",
            "python",
            str(programs / "roundtrip.py"),
        ],
        cwd=programs,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CONFIRMED" not in proc.stdout and "MISSED BY STATIC" not in proc.stdout
    assert "ran to completion" in proc.stdout
