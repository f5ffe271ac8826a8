"""Several emulated accelerators (issue 15, item 9): `devlint confirm --devices N`.

Small programs of our own, run once per session (forked from one process that imported
torch, `run_many`), asserting each runtime event (operation, device pair, the operands'
creation sites, the frames), the verdict of the findings linked to it, and that the clean
look-alikes run with no event:

* the current device (`set_device`, `with torch.cuda.device(i)`, per thread) decides where
  a bare `.cuda()` or `device="cuda"` lands, with one device and with two;
* data on `cuda:0` meeting a model on `cuda:1` is confirmed;
* `nn.DataParallel` replicates, scatters and gathers (a correct program trains as it would
  on one device), and its bugs are confirmed, its own device check included;
* DDP, one process per emulated device, under mp.spawn and under torchrun: NCCL asked for,
  gloo underneath (said in the report), a device error in a worker stops the run as a
  device error, not as a crash;
* `--max-batches` says what it bounded, or that it had nothing to bound.

The static pass has no rule for two accelerators of one type (a mismatch needs one side
certainly on the CPU): such an event is MISSED BY STATIC, and what the harness links it to
is checked with findings planted on the lines (as `tests/test_runtime_fixtures.py` plants
them): CONFIRMED on the buggy program, REFUTED on the clean look-alike.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    REFUTED,
    Options,
    Program,
    RunResult,
    _merge_workers,
    confirm_findings,
    files_that_ran,
    parse_program,
    run_many,
    static_findings,
)
from tests.runtime_helpers import RUN_JOBS, planted, write_programs

# --- the programs --------------------------------------------------------------------------

CURRENT_DEVICE = """\
    import threading

    import torch

    assert torch.cuda.device_count() == {n}
    assert torch.cuda.current_device() == 0
    assert torch.ones(1).cuda().device == torch.device("cuda", 0)
    last = torch.cuda.device_count() - 1
    torch.cuda.set_device(last)
    assert torch.cuda.current_device() == last
    assert torch.ones(1).cuda().device.index == last
    assert torch.zeros(1, device="cuda").device.index == last
    assert torch.zeros(1, device=torch.device("cuda")).device.index == last
    assert torch.ones(1).to("cuda").device.index == last
    with torch.cuda.device(0):
        assert torch.cuda.current_device() == 0
        assert torch.ones(1).cuda().device.index == 0
        assert torch.empty(1, device="cuda").device.index == 0
    assert torch.cuda.current_device() == last
    seen = []
    worker = threading.Thread(target=lambda: seen.append(torch.ones(1).cuda().device.index))
    worker.start()
    worker.join()
    assert seen == [0], seen  # the current device is per thread, as on CUDA
    print("ok")
    """

PROGRAMS: dict[str, str] = {
    # --- the current device, one and two devices ---------------------------------------------
    "current_one": CURRENT_DEVICE.format(n=1),
    "current_two": CURRENT_DEVICE.format(n=2),
    "ordinal_missing": """\
        import torch

        x = torch.randn(3).cuda()
        y = torch.randn(3).to("cuda:1")
        print((x + y).sum().item())
        """,
    # --- data on cuda:0, model on cuda:1 ----------------------------------------------------
    "bare_cuda_bug": """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2).to("cuda:1")
        x = torch.randn(8, 4).cuda()
        out = model(x)
        print(out.sum().item())
        """,
    "device_cuda_bug": """\
        import torch
        import torch.nn as nn

        device = torch.device("cuda")
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        model.to(torch.device("cuda", 1))
        x = torch.randn(8, 4, device=device)
        out = model(x)
        print(out.sum().item())
        """,
    "set_device_late_bug": """\
        import torch
        import torch.nn as nn

        batch = torch.randn(8, 4).cuda()
        torch.cuda.set_device(1)
        model = nn.Linear(4, 2).cuda()
        print(model(batch).sum().item())
        """,
    "bare_cuda_clean": """\
        import torch
        import torch.nn as nn

        torch.cuda.set_device(1)
        model = nn.Linear(4, 2).to("cuda:1")
        x = torch.randn(8, 4).cuda()
        out = model(x)
        print(out.sum().item())
        """,
    "device_cuda_clean": """\
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        model.to(torch.device("cuda", 1))
        with torch.cuda.device(1):
            device = torch.device("cuda")
            x = torch.randn(8, 4, device=device)
            out = model(x)
        print(out.sum().item(), out.device)
        """,
    # --- DataParallel ----------------------------------------------------------------------
    "dp_clean": """\
        import copy

        import torch
        import torch.nn as nn

        seen = set()


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 2)
                self.register_buffer("scale", torch.full((2,), 0.5))

            def forward(self, x):
                seen.add((str(x.device), torch.cuda.current_device()))
                noise = torch.zeros(x.shape[0], 8, device=x.device)
                return self.fc2(torch.relu(self.fc1(x)) + noise) * self.scale


        torch.manual_seed(0)
        device = torch.device("cuda")
        net = Net().to(device)
        single = copy.deepcopy(net)
        model = nn.DataParallel(net)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        ref_opt = torch.optim.SGD(single.parameters(), lr=0.1)
        for step in range(3):
            x = torch.randn(8, 4, device=device)
            y = torch.randn(8, 2, device=device)
            out = model(x)
            assert out.device == torch.device("cuda", 0), out.device
            loss = nn.functional.mse_loss(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref = nn.functional.mse_loss(single(x), y)
            ref_opt.zero_grad()
            ref.backward()
            ref_opt.step()
            assert torch.allclose(loss, ref, atol=1e-6), (loss.item(), ref.item())
        for a, b in zip(net.parameters(), single.parameters()):
            assert torch.allclose(a, b, atol=1e-6)
        assert ("cuda:0", 0) in seen and ("cuda:1", 1) in seen, seen
        print("ok", loss.item())
        """,
    "dp_factory_bug": """\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                noise = torch.randn(x.shape[0], 4)
                return self.fc(x + noise)


        device = torch.device("cuda")
        model = nn.DataParallel(Net().to(device))
        x = torch.randn(8, 4, device=device)
        print(model(x).sum().item())
        """,
    "dp_attr_bug": """\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.scale = torch.ones(2)

            def forward(self, x):
                return self.fc(x) * self.scale


        device = torch.device("cuda")
        model = nn.DataParallel(Net().to(device))
        x = torch.randn(8, 4, device=device)
        print(model(x).sum().item())
        """,
    "dp_not_moved": """\
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        model = nn.DataParallel(nn.Linear(4, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(2):
            x = torch.randn(8, 4).cuda()
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("ok", loss.item(), model.module.weight.device)
        """,
    "dp_captured_device": """\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, device):
                super().__init__()
                self.fc = nn.Linear(4, 2)
                self.device = device

            def forward(self, x):
                mask = torch.ones(x.shape[0], 2, device=self.device)
                return self.fc(x) * mask


        device = torch.device("cuda:0")
        model = nn.DataParallel(Net(device).to(device))
        x = torch.randn(8, 4, device=device)
        print(model(x).sum().item())
        """,
    # --- DDP, one process per device ---------------------------------------------------------
    "ddp_spawn_bug": """\
        import os
        import sys

        import torch
        import torch.distributed as dist
        import torch.multiprocessing as mp
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.nn.parallel import DistributedDataParallel as DDP


        def train(rank, world_size, port):
            os.environ["MASTER_ADDR"] = "127.0.0.1"
            os.environ["MASTER_PORT"] = port
            dist.init_process_group("nccl", rank=rank, world_size=world_size)
            model = nn.Linear(4, 3).to(rank)
            ddp = DDP(model, device_ids=[rank])
            x = torch.randn(8, 4).to(rank)
            labels = torch.randint(0, 3, (8,))
            loss = F.cross_entropy(ddp(x), labels)
            loss.backward()
            dist.destroy_process_group()


        if __name__ == "__main__":
            mp.spawn(train, args=(2, sys.argv[1]), nprocs=2)
        """,
    "ddp_torchrun_cpu_collective": """\
        import os
        import sys

        import torch
        import torch.distributed as dist
        import torch.nn as nn
        from torch.nn.parallel import DistributedDataParallel as DDP

        local_rank = int(os.environ["LOCAL_RANK"])
        dist.init_process_group(backend="nccl")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        torch.manual_seed(0)
        layer = nn.Linear(4, 2).to(device)
        model = DDP(layer, device_ids=[local_rank], gradient_as_bucket_view=True)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(dist.get_rank())  # different data on each rank
        for step in range(2):
            x = torch.randn(8, 4, device=device)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            assert norm.device == layer.weight.grad.device == device, norm.device
            opt.step()
        report = torch.tensor([loss.item()])
        dist.all_reduce(report)
        weights = model.module.weight.detach().sum().reshape(1)
        dist.all_reduce(weights)
        # one write per line: two ranks print at once, and `print(a, b)` writes piece by piece
        sys.stdout.write(f"rank {dist.get_rank()} ok {report.item()} {weights.item()}\\n")
        sys.stdout.flush()
        # both ranks leave together: a rank tearing gloo down while the other still
        # talks to it aborted once under a loaded CI machine ("terminate called without
        # an active exception" after both had printed)
        dist.barrier()
        dist.destroy_process_group()
        """,
    # --- --max-batches -----------------------------------------------------------------------
    "batches_none": """\
        import torch

        data = torch.randn(40, 4)
        for start in range(0, 40, 8):
            batch = data[start : start + 8]
        print("slices", start // 8 + 1)
        """,
    "batches_loader": """\
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        loader = DataLoader(TensorDataset(torch.randn(40, 4)), batch_size=8)
        taken = sum(1 for _ in loader)
        print("batches", taken)
        """,
}


@dataclass
class Job:
    """One run of a program: its device count, --keep-going, --max-batches, arguments."""

    program: str
    devices: int = 2
    keep_going: bool = False
    max_batches: int = 0
    argv: list[str] = field(default_factory=list)
    torchrun: Optional[int] = None  # run under `torchrun --nproc-per-node N`


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _jobs() -> dict[str, Job]:
    jobs = {name: Job(name) for name in PROGRAMS if not name.startswith(("ddp_", "batches_"))}
    jobs["current_one"].devices = 1
    jobs["ordinal_missing"].devices = 1
    for name in ("dp_attr_bug", "dp_not_moved"):
        jobs[f"{name}+keep_going"] = Job(name, keep_going=True)
    jobs["ddp_spawn_bug"] = Job("ddp_spawn_bug", argv=[_free_port()])
    jobs["ddp_torchrun_cpu_collective+keep_going"] = Job(
        "ddp_torchrun_cpu_collective", keep_going=True, torchrun=2
    )
    jobs["batches_none"] = Job("batches_none", max_batches=2)
    jobs["batches_loader"] = Job("batches_loader", max_batches=2)
    return jobs


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    return write_programs(tmp_path_factory.mktemp("multidevice"), PROGRAMS)


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    jobs = _jobs()
    progs = []
    for job in jobs.values():
        script = str(programs / f"{job.program}.py")
        if job.torchrun:
            progs.append(
                parse_program(
                    ["torchrun", "--standalone", f"--nproc-per-node={job.torchrun}", script]
                )
            )
        else:
            progs.append(Program(script=script, argv=job.argv))
    options = [
        Options(
            device="emulated",
            device_count=job.devices,
            keep_going=job.keep_going,
            max_batches=job.max_batches,
            timeout=240,
            cwd=str(programs),
        )
        for job in jobs.values()
    ]
    out = run_many(progs, options, jobs=RUN_JOBS)
    return dict(zip(jobs, out))


def _path(programs: Path, key: str) -> Path:
    return programs / f"{key.split('+')[0]}.py"


def _line(programs: Path, key: str, text: str) -> int:
    """The line of the program that contains `text` (the first one)."""
    lines = _path(programs, key).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def _verdicts(programs: Path, results: dict[str, RunResult], key: str):
    """(findings of the static pass with their verdicts, events no finding explains)."""
    path = _path(programs, key)
    result = results[key]
    findings = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    return confirm_findings([f for f in findings if Path(f.path) == path], result)


def _confirm_planted(programs, results, key: str, code: str, line: int):
    ((_, conf),) = confirm_findings([planted(_path(programs, key), line, code)], results[key])[0]
    return conf


def _origins(event: dict[str, Any]) -> dict[str, int]:
    """{device: origin line} of the event's operands."""
    return {op["device"]: op["origin"][1] for op in event["operands"] if op.get("origin")}


def _describe(result: RunResult) -> str:
    return (
        f"status={result.status} exception={result.exception}\nevents={result.events}\n"
        f"notes={result.notes}\n{result.output[-3000:]}"
    )


def _only_mismatch_events(result: RunResult) -> list[dict[str, Any]]:
    return [e for e in result.events if e["kind"] == "mismatch"]


# --- the current device ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["current_one", "current_two"])
def test_the_current_device_decides_where_a_bare_cuda_lands(results, key) -> None:
    result = results[key]
    assert result.status == "ok", _describe(result)
    assert result.events == [] and "ok" in result.output
    assert result.device_count == (1 if key == "current_one" else 2)


def test_a_device_beyond_devices_is_an_emulator_error_that_names_the_option(
    programs, results
) -> None:
    result = results["ordinal_missing"]
    assert result.crashed and result.exception["harness"], _describe(result)
    assert "invalid device ordinal" in result.exception["message"]
    assert "the emulated accelerator raised" in result.stop_description()
    assert any("--devices N" in n and "cuda:1" in n for n in result.notes), result.notes


# --- data on cuda:0, model on cuda:1 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data", "call"),
    [
        ("bare_cuda_bug", "x = torch.randn(8, 4).cuda()", "out = model(x)"),
        ("device_cuda_bug", "x = torch.randn(8, 4, device=device)", "out = model(x)"),
        ("set_device_late_bug", "batch = torch.randn(8, 4).cuda()", "print(model(batch)"),
    ],
)
def test_data_on_the_current_device_and_a_model_on_another_is_confirmed(
    programs, results, key, data, call
) -> None:
    result = results[key]
    assert result.stopped_by_device_error and not result.crashed, _describe(result)
    (event,) = result.events
    assert event["op"] == "aten::addmm" and event["devices"] == ["cuda:1", "cuda:0"]
    assert "wrapper_CUDA_addmm" in event["message"]
    data_line, call_line = _line(programs, key, data), _line(programs, key, call)
    assert _origins(event)["cuda:0"] == data_line  # the `.cuda()` / `device=` line
    assert event["frames"][0]["line"] == call_line
    # The static pass has no rule for two accelerators: the event is missed, unless a
    # finding on these lines explains it (then it is CONFIRMED through this event).
    items, missed = _verdicts(programs, results, key)
    linked = [c for f, c in items if f.line in (data_line, call_line) and f.code != "DL002"]
    assert missed == [event] or any(c.verdict == CONFIRMED and c.event is event for c in linked)
    # What the harness links the event to: the model call (frames), the line that put the
    # data on cuda:0 (its origin).
    for code, line, link in (("DL001", call_line, "frames"), ("DL005", data_line, "origins")):
        conf = _confirm_planted(programs, results, key, code, line)
        assert conf.verdict == CONFIRMED and conf.link == link and conf.event is event, conf
        assert conf.devices == ["cuda:1", "cuda:0"]


@pytest.mark.parametrize(
    ("key", "data", "call"),
    [
        ("bare_cuda_clean", "x = torch.randn(8, 4).cuda()", "out = model(x)"),
        ("device_cuda_clean", "x = torch.randn(8, 4, device=device)", "out = model(x)"),
    ],
)
def test_the_clean_look_alikes_are_refuted(programs, results, key, data, call) -> None:
    result = results[key]
    assert result.status == "ok" and result.events == [], _describe(result)
    items, missed = _verdicts(programs, results, key)
    assert missed == [] and not any(c.verdict == CONFIRMED for _, c in items)
    for code, text in (("DL001", call), ("DL005", data)):
        conf = _confirm_planted(programs, results, key, code, _line(programs, key, text))
        assert conf.verdict == REFUTED, conf


# --- DataParallel ------------------------------------------------------------------------------


def test_a_correct_data_parallel_program_trains_as_on_one_device(results) -> None:
    """Replicate (broadcast_coalesced), scatter, parallel_apply (each replica on its own
    device and current device) and gather, forward and backward: no event, the losses
    and weights of a single-device copy trained on the same batches."""
    result = results["dp_clean"]
    assert result.status == "ok", _describe(result)
    assert result.events == [] and "ok" in result.output
    assert "NCCL" not in result.output  # no warning about NCCL missing from this build


@pytest.mark.parametrize(
    ("key", "code", "line_text", "odd"),
    [
        ("dp_factory_bug", "DL005", "noise = torch.randn(x.shape[0], 4)", "cpu"),
        ("dp_attr_bug", "DL006", "return self.fc(x) * self.scale", "cpu"),
    ],
)
def test_a_data_parallel_bug_in_forward_is_confirmed_in_the_replicas(
    programs, results, key, code, line_text, odd
) -> None:
    result = results[key]
    # The replica thread's error comes back through ExceptionWrapper: still a device error.
    assert result.stopped_by_device_error and not result.crashed, _describe(result)
    events = _only_mismatch_events(result)
    assert {e["devices"][0] for e in events} <= {"cuda:0", "cuda:1"} and events
    assert all(e["devices"][1] == odd for e in events)
    items, missed = _verdicts(programs, results, key)
    conf = next(c for f, c in items if f.code == code)
    assert conf.verdict == CONFIRMED and conf.event in events, conf
    assert conf.link == ("origins" if code == "DL005" else "frames")
    assert missed == []
    # The replica's frames go on to the program's `model(x)` line in the main thread.
    call = _line(programs, key, "print(model(x)")
    assert all(call in [f["line"] for f in e["frames"]] for e in events)


def test_a_plain_attribute_in_a_replica_on_cuda_1_is_confirmed_and_heals(programs, results) -> None:
    result = results["dp_attr_bug+keep_going"]
    assert result.status == "ok", _describe(result)
    events = _only_mismatch_events(result)
    assert {tuple(e["devices"]) for e in events} <= {("cuda:0", "cpu"), ("cuda:1", "cpu")}
    assert all(e["healed"] for e in events)
    attr = _line(programs, "dp_attr_bug", "self.scale = torch.ones(2)")
    assert all(_origins(e)["cpu"] == attr for e in events)


def test_a_module_left_off_device_ids_0_is_recorded_and_healed(programs, results) -> None:
    """`nn.DataParallel(nn.Linear(4, 2))` with two devices: DataParallel's own check (one
    device would have moved the module itself).  Recorded at the `model(x)` line with the
    parameter's creation site; with --keep-going healed as `model.to("cuda:0")`."""
    call = _line(programs, "dp_not_moved", "loss = model(x)")
    made = _line(programs, "dp_not_moved", "nn.DataParallel(nn.Linear(4, 2))")
    stopped = results["dp_not_moved"]
    assert stopped.stopped_by_device_error and not stopped.crashed, _describe(stopped)
    (event,) = stopped.events
    assert event["op"] == "nn.DataParallel.forward" and event["devices"] == ["cuda:0", "cpu"]
    assert "(device_ids[0])" in event["message"] and event["frames"][0]["line"] == call
    assert event["operands"][0]["name"] == "module.weight"
    assert _origins(event) == {"cpu": made}
    conf = _confirm_planted(programs, results, "dp_not_moved", "DL001", call)
    assert conf.verdict == CONFIRMED and conf.event is event and conf.link == "frames"
    healed = results["dp_not_moved+keep_going"]
    assert healed.status == "ok" and "ok" in healed.output, _describe(healed)
    (event,) = healed.events
    assert event["healed"] and event["count"] == 1  # healed once: the module was moved
    assert "cuda:0" in healed.output.splitlines()[-1]


def test_a_device_captured_at_init_meets_the_replica_on_cuda_1(programs, results) -> None:
    result = results["dp_captured_device"]
    assert result.stopped_by_device_error, _describe(result)
    (event,) = result.events
    assert event["devices"] == ["cuda:1", "cuda:0"]
    mask = _line(programs, "dp_captured_device", "mask = torch.ones(")
    assert _origins(event)["cuda:0"] == mask
    _items, missed = _verdicts(programs, results, "dp_captured_device")
    assert missed == [event]  # no static rule for two accelerators
    conf = _confirm_planted(programs, results, "dp_captured_device", "DL005", mask)
    assert conf.verdict == CONFIRMED and conf.link == "origins" and conf.event is event


# --- DDP, one process per device ------------------------------------------------------------------

GLOO_NOTE = "so it ran on gloo"


def test_a_ddp_worker_stopped_by_a_device_error_stops_the_run_on_it(programs, results) -> None:
    """mp.spawn raises ProcessRaisedException in the main process: the run stopped on the
    worker's device error, which is no crash (exit 1, not 2)."""
    result = results["ddp_spawn_bug"]
    assert result.stopped_by_device_error and not result.crashed, _describe(result)
    assert result.exception["worker"] in (0, 1)
    labels = _line(programs, "ddp_spawn_bug", "labels = torch.randint(0, 3, (8,))")
    events = _only_mismatch_events(result)
    assert events and {e["devices"][1] for e in events} == {"cpu"}
    assert {e["devices"][0] for e in events} <= {"cuda:0", "cuda:1"}
    assert all(e["op"] == "aten::nll_loss_forward" and _origins(e)["cpu"] == labels for e in events)
    assert len({e["pid"] for e in events}) == len(events)  # one per worker process
    items, missed = _verdicts(programs, results, "ddp_spawn_bug")
    found = [c for f, c in items if f.line == labels]
    assert missed == events or any(c.verdict == CONFIRMED for c in found)
    conf = _confirm_planted(programs, results, "ddp_spawn_bug", "DL005", labels)
    assert conf.verdict == CONFIRMED and conf.link == "origins" and conf.event in events


def test_ddp_under_torchrun_runs_on_gloo_and_says_so(programs, results) -> None:
    """torchrun --nproc-per-node 2: each worker under the harness, NCCL asked for, gloo
    underneath (a note says so); DDP trains on different data in each rank and the weights
    agree (gradients synchronised, with gradient_as_bucket_view and clip_grad_norm_ on the
    device).  `dist.all_reduce` of a CPU tensor in an NCCL process group fails on a GPU
    machine ("No backend type associated with device type cpu"): recorded in each rank,
    healed with --keep-going."""
    key = "ddp_torchrun_cpu_collective+keep_going"
    result = results[key]
    assert result.status == "ok", _describe(result)
    assert sorted(w["rank"] for w in result.workers) == [0, 1]
    assert all(w["status"] == "ok" for w in result.workers)
    assert result.device == "emulated" and result.device_count == 2
    assert any("nccl backend" in n and GLOO_NOTE in n for n in result.notes), result.notes
    assert any("gradient_as_bucket_view=True" in n for n in result.notes), result.notes
    # The workers' lines ran: a finding in the training loop is refuted, not unreached.
    step = _line(programs, key, "loss = model(x).pow(2).mean()")
    assert step in result.lines[str(_path(programs, key))]
    assert _confirm_planted(programs, results, key, "DL005", step).verdict == REFUTED
    made = _line(programs, key, "report = torch.tensor([loss.item()])")
    call = _line(programs, key, "dist.all_reduce(report)")
    events = _only_mismatch_events(result)
    assert sorted(e["devices"][0] for e in events) == ["cuda:0", "cuda:1"]
    for e in events:
        assert e["op"] == "torch.distributed.all_reduce" and e["healed"]
        assert e["message"] == "No backend type associated with device type cpu"
        assert e["frames"][0]["line"] == call and _origins(e) == {"cpu": made}
    sums = {line.split()[-1] for line in result.output.splitlines() if " ok " in line}
    assert len(sums) == 1, result.output  # the weights agree across the ranks
    conf = _confirm_planted(programs, results, key, "DL005", made)
    assert conf.verdict == CONFIRMED and conf.event in events


# --- --max-batches ----------------------------------------------------------------------------------


def test_max_batches_says_when_it_had_nothing_to_bound(results) -> None:
    result = results["batches_none"]
    assert result.status == "ok" and "slices 5" in result.output
    assert any("--max-batches 2 had nothing to bound" in n for n in result.notes), result.notes


def test_max_batches_says_what_it_bounded(results) -> None:
    result = results["batches_loader"]
    assert result.status == "ok" and "batches 2" in result.output
    assert "--max-batches 2 stopped 1 of the 1 DataLoader loop after 2 batches" in result.notes


# --- no torch: parsing, the backend map, merging the workers ---------------------------------------


def test_a_torchrun_worker_leaves_after_its_atexit_handlers_without_finalising() -> None:
    """The worker's exit: the program's atexit handlers and buffered output still happen,
    the exit status is the program's, and interpreter finalization (where gloo's threads
    could abort a finished worker) does not: an object's `__del__` left to it never runs."""
    program = (
        "import atexit, sys\n"
        "class Late:\n"
        "    def __del__(self): print('finalised')\n"
        "late = Late()\n"
        "atexit.register(print, 'atexit ran')\n"
        "sys.stdout.write('buffered')\n"
        "from devlint.runtime.child import _leave_as_multiprocessing_does\n"
        "_leave_as_multiprocessing_does(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "bufferedatexit ran\n"


def test_torchrun_is_a_program(tmp_path: Path) -> None:
    prog = parse_program(["torchrun", "--standalone", "--nproc-per-node=2", "train.py", "--x"])
    assert prog.module == "torch.distributed.run"
    assert prog.argv == ["--standalone", "--nproc-per-node=2", "train.py", "--x"]


def test_nccl_becomes_gloo() -> None:
    from devlint.runtime.distributed import gloo_backend

    assert gloo_backend("nccl") == ("gloo", True)
    assert gloo_backend("NCCL") == ("gloo", True)
    assert gloo_backend(None) == ("gloo", True)
    assert gloo_backend("gloo") == ("gloo", False)
    assert gloo_backend("cpu:gloo,cuda:nccl") == ("cpu:gloo,cuda:gloo", True)


def test_a_worker_that_crashed_is_the_runs_stop_reason() -> None:
    main = RunResult(
        status="exception",
        exit_code=1,
        device=None,
        exception={"type": "ChildFailedError", "message": "", "device_error": False},
        events=[],
        lines={},
        notes=[],
        elapsed=0.0,
    )
    workers = [
        # stopped by torchrun (SIGTERM) once rank 1 had failed: an echo, not the cause
        {"rank": 0, "status": "exit", "exit_code": 143, "lines": {"a.py": [3]}},
        {"rank": 2, "status": "ok", "lines": {"a.py": [3]}, "device": "emulated"},
        {
            "rank": 1,
            "status": "exception",
            "exception": {
                "type": "RuntimeError",
                "message": "Distributed package doesn't have NCCL built in",
                "device_error": False,
            },
            "lines": {"a.py": [4]},
            "notes": ["n"],
        },
    ]
    _merge_workers(main, workers)
    assert main.crashed and main.device == "emulated" and main.lines == {"a.py": {3, 4}}
    assert main.stop_description() == (
        "rank 1: RuntimeError: Distributed package doesn't have NCCL built in"
    )
    assert main.notes == ["n"]


def test_the_devices_option() -> None:
    from click.testing import CliRunner

    from devlint.runtime.command import confirm

    out = CliRunner().invoke(confirm, ["--help"])
    assert out.exit_code == 0 and "--devices" in out.output
    bad = CliRunner().invoke(confirm, ["--devices", "0", "x.py"])
    assert bad.exit_code == 2
