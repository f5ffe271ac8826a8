"""`x.type(T)` and the constructors that give a tensor a new Python object in C++
(`torch.autograd.Variable`, `nn.Parameter`, `torch.from_dlpack`), under the emulated
accelerator: each buggy program's finding is CONFIRMED by an event whose CPU operand
points at the line that made it, each clean look-alike runs with no event and a finding
planted on its model call comes back REFUTED.

What was wrong: `Variable(t)` runs `t.detach()` in C++ and hands back a new Python object
that no `__torch_function__` sees, so it had no provenance; an untagged CPU tensor is taken
for a C++ temporary that follows its operation, so `model(Variable(x.type(torch.FloatTensor)))`
ran clean where a GPU raises (the six-line variant without `Variable` was CONFIRMED).  And
`x.type(torch.float16)` of an accelerator tensor went to the CPU (a dtype was read as a CPU
tensor type), where a GPU keeps the device.

All programs run at once in a session fixture, forked from one process that imported torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

# name -> (source, line of the model call or operation, line that made the CPU operand or
# None for a clean program, --devices)
PROGRAMS: dict[str, tuple[str, int, Any, int]] = {
    # --- buggy: a CPU tensor type while the model is on the accelerator -------------------
    "cpu_type_object": (
        """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2).cuda()
        x = torch.randn(3, 4).cuda()
        x = x.type(torch.FloatTensor)
        print(model(x).sum().item())
        """,
        7,
        6,
        1,
    ),
    "cpu_type_string": (
        """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2).cuda()
        x = torch.randn(3, 4).cuda()
        x = x.type("torch.FloatTensor")
        print(model(x).sum().item())
        """,
        7,
        6,
        1,
    ),
    # `Variable` of a CPU-typed batch: the dropped fixture's shape in six lines.
    "variable_cpu_type": (
        """\
        import torch
        import torch.nn as nn
        from torch.autograd import Variable

        model = nn.Linear(4, 2).cuda()
        x = Variable(torch.randn(3, 4).type(torch.FloatTensor))
        print(model(x).sum().item())
        """,
        7,
        6,
        1,
    ),
    "autograd_variable_of_cpu_tensor": (
        """\
        import torch
        import torch.nn as nn

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = nn.Linear(4, 2).to(device)
        x = torch.randn(3, 4)
        v = torch.autograd.Variable(x, requires_grad=True)
        print(model(v).sum().item())
        """,
        8,
        6,
        1,
    ),
    "dataloader_variable_cpu_type": (
        """\
        import torch
        import torch.nn as nn
        from torch.autograd import Variable
        from torch.utils.data import DataLoader, TensorDataset

        cuda = torch.cuda.is_available()
        Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
        model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
        if cuda:
            model.cuda()
        loader = DataLoader(TensorDataset(torch.randn(32, 16)), batch_size=8)
        for (imgs,) in loader:
            real = Variable(imgs.type(torch.FloatTensor))
            valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
            loss = nn.functional.binary_cross_entropy(model(real), valid)
            loss.backward()
        print(loss.item())
        """,
        15,
        None,  # a batch: its origin is the DataLoader's, not a line of ours to name
        1,
    ),
    # A Parameter made from a CPU tensor that the program never moved.
    "parameter_of_cpu_tensor": (
        """\
        import torch
        import torch.nn as nn

        scale = torch.ones(4)
        weight = nn.Parameter(scale)
        x = torch.randn(3, 4, device="cuda")
        print((x * weight).sum().item())
        """,
        7,
        4,
        1,
    ),
    "from_dlpack_of_an_array": (
        """\
        import numpy as np
        import torch

        mask = torch.from_dlpack(np.ones(4, dtype=np.float32))
        x = torch.randn(3, 4, device="cuda")
        print((x * mask).sum().item())
        """,
        6,
        4,
        1,
    ),
    # --- clean look-alikes ----------------------------------------------------------------
    "cuda_type_object": (
        """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2).cuda()
        x = torch.randn(3, 4)
        x = x.type(torch.cuda.FloatTensor)
        assert x.is_cuda and isinstance(x, torch.cuda.FloatTensor)
        print(model(x).sum().item())
        """,
        8,
        None,
        1,
    ),
    "tensor_alias_variable": (
        """\
        import torch
        import torch.nn as nn
        from torch.autograd import Variable

        cuda = torch.cuda.is_available()
        Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
        model = nn.Linear(4, 2)
        if cuda:
            model.cuda()
        x = torch.randn(3, 4)
        y = x.type(Tensor)
        print(model(Variable(y)).sum().item(), model(Variable(x.type(Tensor))).sum().item())
        """,
        12,
        None,
        1,
    ),
    "dataloader_tensor_alias": (
        """\
        import torch
        import torch.nn as nn
        from torch.autograd import Variable
        from torch.utils.data import DataLoader, TensorDataset

        cuda = torch.cuda.is_available()
        Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
        model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
        if cuda:
            model.cuda()
        loader = DataLoader(TensorDataset(torch.randn(32, 16)), batch_size=8)
        for (imgs,) in loader:
            real = torch.autograd.Variable(imgs.type(Tensor))
            valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
            loss = nn.functional.binary_cross_entropy(model(real), valid)
            loss.backward()
        print(loss.item())
        """,
        15,
        None,
        1,
    ),
    # A dtype keeps the device (a GPU keeps it; the emulation moved it to the CPU).
    "dtype_keeps_the_device": (
        """\
        import torch

        x = torch.randn(3, 4, device="cuda")
        w = torch.ones(4, 2, device="cuda", dtype=torch.float64)
        y = x.type(torch.float64)
        z = x.type(dtype=torch.float64)
        h = x.type(torch.cuda.DoubleTensor)
        s = x.type("torch.cuda.DoubleTensor")
        assert y.is_cuda and z.is_cuda and h.is_cuda and s.is_cuda, (y, z, h, s)
        print((y @ w + z @ w + h @ w + s @ w).sum().item())
        """,
        10,
        None,
        1,
    ),
    # A CUDA type keeps a tensor on the CUDA device it is on (not the current device).
    "cuda_type_keeps_cuda_1": (
        """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2).to("cuda:1")
        x = torch.randn(3, 4, device="cuda:1").type(torch.cuda.FloatTensor)
        y = torch.randn(3, 4, device="cuda:1").type("torch.cuda.DoubleTensor").float()
        assert x.device == y.device == torch.device("cuda", 1), (x.device, y.device)
        print(model(x).sum().item(), model(y).sum().item())
        """,
        8,
        None,
        2,
    ),
    "from_dlpack_of_an_accelerator_tensor": (
        """\
        import torch

        x = torch.randn(3, 4, device="cuda")
        shared = torch.from_dlpack(x)
        assert shared.device == x.device, shared.device
        print((x * shared).sum().item())
        """,
        6,
        None,
        1,
    ),
    "parameter_of_moved_tensor": (
        """\
        import torch
        import torch.nn as nn

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        weight = nn.Parameter(torch.ones(4).to(device))
        x = torch.randn(3, 4, device=device)
        print((x * weight).sum().item())
        """,
        7,
        None,
        1,
    ),
}

BUGGY = [n for n, (_, _, made, _) in PROGRAMS.items() if made is not None] + [
    "dataloader_variable_cpu_type"
]
CLEAN = [n for n in PROGRAMS if n not in BUGGY]


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    texts = {name: text for name, (text, *_) in PROGRAMS.items()}
    return write_programs(tmp_path_factory.mktemp("type_casts"), texts)


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    names = list(PROGRAMS)
    out = run_many(
        [Program(script=str(programs / f"{n}.py")) for n in names],
        [Options(device="emulated", timeout=180, device_count=PROGRAMS[n][3]) for n in names],
        jobs=RUN_JOBS,
    )
    return dict(zip(names, out))


def _describe(result: RunResult) -> str:
    return f"status={result.status} events={result.events}\n{result.output[-2000:]}"


@pytest.mark.parametrize("name", BUGGY)
def test_a_cpu_value_from_a_cast_or_an_alias_is_confirmed(programs, results, name) -> None:
    _, line, made, _ = PROGRAMS[name]
    path = programs / f"{name}.py"
    result = results[name]
    assert result.status == "exception" and result.stopped_by_device_error, _describe(result)
    (event,) = result.events
    assert event["kind"] == "mismatch" and event["devices"] == ["cuda:0", "cpu"]
    assert event["frames"][-1]["line"] == line
    if made is not None:
        cpu = [op for op in event["operands"] if op["device"] == "cpu"]
        assert [op["origin"][1] for op in cpu] == [made], event["operands"]
    findings = static_findings(files_that_ran(result, Program(script=str(path))))
    items, missed = confirm_findings(findings, result)
    on_line = [(f, c) for f, c in items if f.line == line and Path(f.path) == path]
    # the static pass reports the model call: CONFIRMED by this event
    assert all(c.verdict == CONFIRMED and c.event is event for _, c in on_line), on_line
    confirmed = [(f.code, f.line) for f, c in items if c.verdict == CONFIRMED]
    # only findings on the call or on the line that made the CPU value are confirmed (a
    # DL005 there, through the origin), and when none is, the event is MISSED BY STATIC
    assert {ln for _, ln in confirmed} <= {line, made}, confirmed
    assert missed == ([] if confirmed else [event])
    # A finding planted on the call is confirmed by the same event, through its frames.
    ((_, conf),) = confirm_findings([planted(path, line, "DL001")], result)[0]
    assert conf.verdict == CONFIRMED and conf.event is event


@pytest.mark.parametrize("name", CLEAN)
def test_the_clean_look_alikes_run_with_no_event_and_are_refuted(programs, results, name) -> None:
    _, line, _, _ = PROGRAMS[name]
    path = programs / f"{name}.py"
    result = results[name]
    assert result.status == "ok", _describe(result)
    assert result.events == [], _describe(result)
    findings = static_findings(files_that_ran(result, Program(script=str(path))))
    items, missed = confirm_findings(findings, result)
    assert missed == []
    assert all(c.verdict != CONFIRMED for _, c in items), items
    ((_, conf),) = confirm_findings([planted(path, line, "DL001")], result)[0]
    assert conf.verdict == REFUTED, conf


def test_the_static_pass_reports_the_buggy_casts_on_the_model_call(programs, results) -> None:
    """The programs the static pass sees through (the cast at hand, `Variable(t)` is `t`)
    get their DL001 on the model call, CONFIRMED, not REFUTED as before."""
    for name in ("cpu_type_object", "cpu_type_string", "dataloader_variable_cpu_type"):
        _, line, _, _ = PROGRAMS[name]
        path = programs / f"{name}.py"
        result = results[name]
        findings = static_findings(files_that_ran(result, Program(script=str(path))))
        items, _ = confirm_findings(findings, result)
        verdicts = {(f.code, f.line): c.verdict for f, c in items if Path(f.path) == path}
        assert verdicts.get(("DL001", line)) == CONFIRMED, (name, verdicts)
