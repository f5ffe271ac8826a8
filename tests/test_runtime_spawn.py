"""Processes started by spawn or forkserver run the main module's top level again before
the function they were started for: under the harness, as on a GPU machine.

mp.spawn's worker (and a DataLoader worker or a Pool process started by spawn, and a
forkserver's server) runs the parent's main module again, as `__mp_main__`, before it
unpickles what it is to run.  That top-level code ran without the harness: under the
emulation `torch.cuda.is_available()` was False there, `device_count()` 0, a module-level
`device` the CPU, and the tensors it made had no provenance, so a module-level CPU table
added to a tensor on the worker's device ran clean where a GPU raises.  The harness is now
installed first (`devlint.runtime.distributed.started_process_patches`).

All programs run at once in a session fixture, forked from one process that imported torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    REFUTED,
    Options,
    Program,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from tests.runtime_helpers import RUN_JOBS, planted, write_programs

WORKERS = """\
    import torch
    import torch.multiprocessing as mp

    ACCEL = torch.cuda.is_available()
    COUNT = torch.cuda.device_count()
    DEVICE = torch.device("cuda" if ACCEL else "cpu")
    TABLE = torch.arange(4)


    def worker(rank, world):
        assert ACCEL and COUNT == world and DEVICE.type == "cuda", (ACCEL, COUNT, DEVICE)
        x = torch.ones(4, device=rank)
        print(rank, (x + {table}).sum().item())


    if __name__ == "__main__":
        {start}
    """
SPAWN = "mp.spawn(worker, args=(2,), nprocs=2)"
FORKSERVER = 'mp.start_processes(worker, args=(2,), nprocs=2, start_method="forkserver")'

DATALOADER = """\
    import torch
    from torch.utils.data import DataLoader, Dataset

    ACCEL = torch.cuda.is_available()


    class Flags(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.tensor(float(ACCEL))


    if __name__ == "__main__":
        loader = DataLoader(Flags(), batch_size=2, num_workers=1, multiprocessing_context="spawn")
        seen = torch.cat([b for b in loader])
        assert seen.tolist() == [1.0] * 4, seen  # the workers saw the accelerator
        print("ok")
    """

PROGRAMS = {
    "spawn_bug": WORKERS.format(table="TABLE", start=SPAWN),
    "spawn_clean": WORKERS.format(table="TABLE.to(rank)", start=SPAWN),
    "forkserver_bug": WORKERS.format(table="TABLE", start=FORKSERVER),
    "dataloader_spawn": DATALOADER,
}
ADD_LINE = 13  # `print(rank, (x + ...))`
TABLE_LINE = 7


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    return write_programs(tmp_path_factory.mktemp("spawn"), PROGRAMS)


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    names = list(PROGRAMS)
    out = run_many(
        [Program(script=str(programs / f"{n}.py")) for n in names],
        [Options(device="emulated", device_count=2, timeout=240) for _ in names],
        jobs=RUN_JOBS,
    )
    return dict(zip(names, out))


def _describe(result: RunResult) -> str:
    return (
        f"status={result.status} exception={result.exception} workers={result.workers}\n"
        f"events={result.events}\n{result.output[-3000:]}"
    )


@pytest.mark.parametrize("name", ["spawn_bug", "forkserver_bug"])
def test_a_module_level_cpu_tensor_meets_the_workers_device(programs, results, name) -> None:
    result = results[name]
    path = programs / f"{name}.py"
    assert result.stopped_by_device_error, _describe(result)
    events = [e for e in result.events if e["kind"] == "mismatch"]
    assert events, _describe(result)
    for event in events:
        assert event["op"] == "aten::add.Tensor"
        assert event["frames"][0]["line"] == ADD_LINE
        assert event["devices"][1] == "cpu" and event["devices"][0].startswith("cuda:")
        cpu = [op for op in event["operands"] if op["device"] == "cpu"]
        assert [op["origin"] for op in cpu] == [[str(path), TABLE_LINE]], event["operands"]
    # No worker died of anything but the device error (the assertion on what the top
    # level saw held).
    assert all(
        w["status"] == "ok" or (w.get("exception") or {}).get("type") == "RuntimeError"
        for w in result.workers
    ), result.workers
    # A DL005 on the module-level factory is CONFIRMED through the origin.
    ((_, conf),) = confirm_findings([planted(path, TABLE_LINE, "DL005")], result)[0]
    assert conf.verdict == CONFIRMED, conf


def test_the_clean_look_alike_runs_with_no_event(programs, results) -> None:
    result = results["spawn_clean"]
    path = programs / "spawn_clean.py"
    assert result.status == "ok", _describe(result)
    assert result.events == [], _describe(result)
    assert [w["status"] for w in result.workers] == ["ok", "ok"], result.workers
    findings = static_findings(files_that_ran(result, Program(script=str(path))))
    items, missed = confirm_findings(findings, result)
    assert missed == [] and all(c.verdict != CONFIRMED for _, c in items), items
    ((_, conf),) = confirm_findings([planted(path, TABLE_LINE, "DL005")], result)[0]
    assert conf.verdict == REFUTED, conf


def test_spawned_dataloader_workers_see_the_accelerator_at_the_top_level(results) -> None:
    result = results["dataloader_spawn"]
    assert result.status == "ok", _describe(result)
    assert result.events == []
