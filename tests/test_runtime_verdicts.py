"""Verdicts a user can trust (issue 15): small programs of our own, run under the emulated
accelerator, asserting the verdict of every finding and the link from every runtime event
to its finding, not only the exit status.

* legacy constructors (`torch.LongTensor`, `torch.Tensor(ndarray)`, `torch.cuda.*Tensor`,
  `from_numpy`) are tracked, so a real DL005 on one is CONFIRMED;
* every legal device spelling works (`.to(rank)`, `torch.device(0)`, `device=0`, ...);
* a run that dies of something other than a device error is not "ran to completion";
* the report is the only thing on stdout.

All programs run at once in a session fixture, forked from one process that imported torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    INCONCLUSIVE,
    REFUTED,
    Options,
    Program,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from tests.runtime_helpers import RUN_JOBS, write_programs

PROGRAMS: dict[str, str] = {
    # --- 1. legacy constructors -------------------------------------------------------------
    "legacy_long_index": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        table = torch.LongTensor([[1, 2], [3, 4], [5, 6]])
        idx = torch.tensor([0, 2], device=device)
        print(table[idx])
        """,
    "legacy_ndarray": """\
        import numpy as np
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        features = torch.Tensor(np.ones((4, 3), dtype=np.float32))
        weight = torch.randn(3, 2, device=device)
        print((features @ weight).sum().item())
        """,
    "legacy_float_target": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        labels = torch.FloatTensor([0.0, 1.0, 1.0])
        logits = torch.randn(3, device=device)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        print(loss.item())
        """,
    "legacy_from_numpy_mask": """\
        import numpy as np
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        mask = torch.from_numpy(np.array([True, False, True]))
        scores = torch.randn(3, device=device)
        print(scores.masked_fill(mask, 0.0).sum().item())
        """,
    "legacy_cuda_type": """\
        import torch

        acc = torch.cuda.FloatTensor(3).fill_(1.0)
        assert isinstance(acc, torch.cuda.FloatTensor) and not isinstance(acc, torch.FloatTensor)
        bias = torch.ones(3)
        print((acc + bias).sum().item())
        """,
    "legacy_clean": """\
        import numpy as np
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        table = torch.LongTensor([[1, 2], [3, 4], [5, 6]]).to(device)
        idx = torch.tensor([0, 2], device=device)
        feats = torch.FloatTensor(np.ones((2, 2), dtype=np.float32)).to(device)
        view = feats.as_strided((2,), (1,))
        cuda_made = torch.cuda.LongTensor([1, 0])
        print(table[idx].sum().item(), (feats + 1).sum().item(), view[cuda_made].sum().item())
        """,
    # --- 2. device spellings ----------------------------------------------------------------
    "ordinals_ddp_style": """\
        import io
        import pickle

        import torch
        import torch.nn as nn


        def train(rank):
            torch.cuda.set_device(rank)
            model = nn.Linear(4, 2).to(rank)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            x = torch.randn(8, 4).to(rank)
            y = torch.randn(8, 2, device=rank)
            loss = nn.functional.mse_loss(model(x), y.to(device=rank))
            loss.backward()
            opt.step()
            return loss.item()


        loss = train(0)
        spellings = [
            torch.device(0),
            torch.device("cuda", 0),
            torch.device("cuda:0"),
            torch.zeros(1, device=0).device,
            torch.zeros(1, device=torch.device(0)).device,
            torch.ones(1).cuda(0).device,
            torch.ones(1).to("cuda:0").device,
            torch.ones(1).to(0, torch.float64).device,
            torch.ones(1, device="cuda").new_zeros(1, device=0).device,
        ]
        assert all(str(d) == "cuda:0" for d in spellings), spellings
        assert isinstance(torch.device(0), torch.device)
        assert pickle.loads(pickle.dumps(torch.device(0))) == torch.device("cuda", 0)
        buf = io.BytesIO()
        torch.save({"device": torch.device(0)}, buf)
        buf.seek(0)
        assert torch.load(buf, weights_only=True)["device"] == torch.device("cuda:0")
        print("ok", loss)
        """,
    "ordinal_bug": """\
        import torch
        import torch.nn as nn

        rank = 0
        model = nn.Linear(4, 2).to(rank)
        x = torch.randn(8, 4)
        print(model(x).sum().item())
        """,
    # --- 3. confirmation by operands ----------------------------------------------------------
    # The `randn` is moved inside `forward` (by a helper the static pass does not follow):
    # its DL005 is a false positive, and the error on its line is about `bad_target`.
    "operands_other_error": """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


        def to_device(batch):
            return batch.to(device)


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 3)

            def forward(self, x):
                return self.fc(to_device(x))


        model = Net().to(device)
        bad_target = torch.tensor([0, 1] * 16)
        loss = F.cross_entropy(model(torch.randn(32, 8)), bad_target)
        print(loss.item())
        """,
    # The same line, where the `randn` really is the CPU operand.
    "operands_same_line_real": """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = nn.Linear(8, 3).to(device)
        target = torch.zeros(32, dtype=torch.long, device=device)
        loss = F.cross_entropy(model(torch.randn(32, 8)), target)
        print(loss.item())
        """,
    # --- 5. --keep-going heals as the fix would (GCN-style: CPU labels, legacy types) ----------
    "heal_gcn": """\
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


        class GraphConvolution(nn.Module):
            def __init__(self, i, o):
                super().__init__()
                self.weight = nn.Parameter(torch.FloatTensor(i, o))
                self.bias = nn.Parameter(torch.FloatTensor(o))
                nn.init.uniform_(self.weight, -0.1, 0.1)
                nn.init.zeros_(self.bias)

            def forward(self, x, adj):
                support = torch.mm(x, self.weight)
                return torch.spmm(adj, support) + self.bias


        class GCN(nn.Module):
            def __init__(self):
                super().__init__()
                self.gc1 = GraphConvolution(5, 8)
                self.gc2 = GraphConvolution(8, 3)

            def forward(self, x, adj):
                x = F.relu(self.gc1(x, adj))
                x = F.dropout(x, 0.5, training=self.training)
                return F.log_softmax(self.gc2(x, adj), dim=1)


        n = 6
        features = torch.FloatTensor(np.random.rand(n, 5).astype(np.float32))
        labels = torch.LongTensor(np.array([0, 1, 2, 0, 1, 2]))
        idx = torch.arange(n)
        indices = torch.LongTensor(np.array([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]]))
        adj = torch.sparse_coo_tensor(indices, torch.ones(6), (n, n))
        model = GCN().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        features, adj, labels = features.to(device), adj.to(device), labels
        idx_train = torch.LongTensor(range(4))
        for epoch in range(3):
            opt.zero_grad()
            output = model(features, adj)
            loss = F.nll_loss(output[idx_train], labels[idx_train])
            acc = (output[idx_train].max(1)[1].type_as(labels[idx_train]) == labels[idx_train]).double().mean()
            loss.backward()
            opt.step()
            print(epoch, loss.item(), acc.item())
        """,
    "type_as": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        pred = torch.ones(2, device=device)
        labels = torch.zeros(2, dtype=torch.long)
        assert pred.type_as(labels).device == labels.device
        assert labels.type_as(pred).device == pred.device
        print((pred.type_as(labels) == labels).sum().item())
        """,
    # --- 6. runs that do not complete ------------------------------------------------------------
    "crash_non_device": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        x = torch.randn(3)
        raise RuntimeError("Distributed package doesn't have NCCL built in")
        """,
    "crash_emulator": """\
        import torch

        x = torch.randn(3)
        y = torch.ones(3).to("cuda:3")
        print((x + y).sum())
        """,
    "crash_exit_status": """\
        import sys

        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        x = torch.randn(3)
        sys.exit(3)
        """,
}


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    return write_programs(tmp_path_factory.mktemp("verdicts"), PROGRAMS)


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    jobs = [(n, n, False) for n in PROGRAMS]
    jobs += [(f"{n}+keep_going", n, True) for n in KEEP_GOING]
    out = run_many(
        [Program(script=str(programs / f"{n}.py")) for _, n, _ in jobs],
        [Options(device="emulated", timeout=180, keep_going=k) for _, _, k in jobs],
        jobs=RUN_JOBS,
    )
    return {key: r for (key, _, _), r in zip(jobs, out)}


# Programs that also run with --keep-going (the result under "<name>+keep_going").
KEEP_GOING = ("operands_other_error", "operands_same_line_real", "heal_gcn")


def verdicts(programs: Path, results: dict[str, RunResult], name: str) -> dict[tuple, Any]:
    """{(code, line): Confirmation} of the static findings in the program, and the
    events no finding explains (as `missed`)."""
    path = programs / f"{name.split('+')[0]}.py"
    result = results[name]
    findings = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    items, missed = confirm_findings(findings, result)
    out: dict[tuple, Any] = {(f.code, f.line): c for f, c in items if Path(f.path) == path}
    out["missed"] = missed
    return out


def _origins(event: dict[str, Any]) -> list[int]:
    return [op["origin"][1] for op in event["operands"] if op.get("origin")]


# --- 1. legacy constructors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "op", "text"),
    [
        ("legacy_long_index", 4, "aten::index", "indices should be either on cpu or on the same"),
        ("legacy_ndarray", 5, "aten::mm", "wrapper_CUDA_mm"),
        ("legacy_float_target", 4, "aten::", "Expected all tensors to be on the same device"),
        ("legacy_from_numpy_mask", 5, "aten::masked_fill", "expected self and mask"),
    ],
)
def test_a_legacy_constructor_bug_is_confirmed_through_its_origin(
    programs, results, name, line, op, text
) -> None:
    result = results[name]
    assert result.status == "exception" and result.stopped_by_device_error, result.output
    (event,) = result.events
    assert event["kind"] == "mismatch" and event["op"].startswith(op)
    assert text in event["message"]
    assert line in _origins(event)  # the CPU operand points at the constructor
    v = verdicts(programs, results, name)
    conf = v[("DL005", line)]
    assert conf.verdict == CONFIRMED and conf.link == "origins" and conf.event is event
    assert v["missed"] == []


def test_a_cuda_legacy_type_makes_an_accelerator_tensor(programs, results) -> None:
    result = results["legacy_cuda_type"]
    (event,) = result.events
    assert event["devices"] == ["cuda:0", "cpu"]
    assert 5 in _origins(event) and 3 in _origins(event)  # `torch.ones(3)`, the cuda type
    v = verdicts(programs, results, "legacy_cuda_type")
    # the static pass places `torch.cuda.FloatTensor(3)` on CUDA (and reports it as
    # DL002): the CPU `torch.ones(3)` added to it is a DL005, confirmed by its origin
    assert v[("DL005", 5)].verdict == CONFIRMED and v[("DL005", 5)].event is event
    assert v["missed"] == []


def test_legacy_constructors_moved_to_the_device_are_clean(programs, results) -> None:
    result = results["legacy_clean"]
    assert result.status == "ok", result.output
    assert result.events == []
    v = verdicts(programs, results, "legacy_clean")
    assert v["missed"] == []
    assert all(c.verdict != CONFIRMED for k, c in v.items() if k != "missed")


# --- 2. every device spelling ---------------------------------------------------------------


def test_integer_ordinals_and_every_spelling_work(programs, results) -> None:
    result = results["ordinals_ddp_style"]
    assert result.status == "ok", result.output
    # No device error; its `torch.load` of a checkpoint without tensors is noted as such.
    assert [(e["kind"], e.get("outcome"), e.get("storages")) for e in result.events] == [
        ("load", "cpu-only", {})
    ]
    assert "ok" in result.output
    v = verdicts(programs, results, "ordinals_ddp_style")
    assert v["missed"] == []
    assert all(c.verdict != CONFIRMED for k, c in v.items() if k != "missed")


def test_a_model_moved_with_an_ordinal_still_confirms_the_cpu_input(programs, results) -> None:
    result = results["ordinal_bug"]
    (event,) = result.events
    assert event["op"] == "aten::addmm" and event["devices"] == ["cuda:0", "cpu"]
    assert 6 in _origins(event)
    v = verdicts(programs, results, "ordinal_bug")
    # The static pass may not know that `.to(rank)` names an accelerator: then the real
    # error is MISSED BY STATIC, never blamed on another line.
    if ("DL005", 6) in v:
        assert v[("DL005", 6)].verdict == CONFIRMED and v[("DL005", 6)].event is event
        assert v["missed"] == []
    else:
        assert v["missed"] == [event]
    assert all(c.verdict != CONFIRMED for k, c in v.items() if k not in ("missed", ("DL005", 6)))


# --- 3. confirmation by operands, not by frames --------------------------------------------


def test_an_error_about_another_operand_does_not_confirm_a_factory_on_its_line(
    programs, results
) -> None:
    for key in ("operands_other_error", "operands_other_error+keep_going"):
        result = results[key]
        (event,) = result.events
        assert event["op"] == "aten::nll_loss_forward" and event["frames"][0]["line"] == 23
        assert 22 in _origins(event) and 23 not in _origins(event)
        v = verdicts(programs, results, key)
        conf = v[("DL005", 23)]
        assert conf.verdict != CONFIRMED, conf
        assert v["missed"] == [event]  # `bad_target` (line 22): the static pass missed it
    assert verdicts(programs, results, "operands_other_error")[("DL005", 23)].verdict == (
        INCONCLUSIVE
    )
    assert verdicts(programs, results, "operands_other_error+keep_going")[
        ("DL005", 23)
    ].verdict == (REFUTED)


def test_a_factory_that_is_the_odd_operand_on_the_same_line_is_confirmed(programs, results) -> None:
    for key in ("operands_same_line_real", "operands_same_line_real+keep_going"):
        result = results[key]
        (event,) = result.events
        assert event["op"] == "aten::addmm" and 8 in _origins(event)
        v = verdicts(programs, results, key)
        conf = v[("DL005", 8)]
        assert conf.verdict == CONFIRMED and conf.link == "origins" and conf.event is event
        assert v["missed"] == []


# --- 5. healing is the fix: no invented consequences -----------------------------------------


def test_healing_a_cpu_value_heals_what_is_made_from_its_creation_site(programs, results) -> None:
    """`labels` (a CPU LongTensor) meets the model's output in `nll_loss`: one event, healed.
    The fixed program (`labels.to(device)`) has no other error, so neither has the healed
    run: `labels[idx_train]` taken again on the next line and in later epochs, `type_as`,
    and the optimizer over gradients that flowed through the healed loss."""
    result = results["heal_gcn+keep_going"]
    assert result.status == "ok", result.output
    (event,) = result.events
    assert event["op"] == "aten::nll_loss_forward" and event["healed"]
    assert event["frames"][0]["line"] == 47 and 36 in _origins(event)
    v = verdicts(programs, results, "heal_gcn+keep_going")
    assert v["missed"] == [event] or any(c.event is event for k, c in v.items() if k != "missed")


def test_type_as_follows_the_other_tensors_device(programs, results) -> None:
    result = results["type_as"]
    assert result.status == "ok", result.output
    assert result.events == []


# --- 6. a run that does not complete --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("crash_non_device", "exception", "RuntimeError: Distributed package doesn't have NCCL"),
        ("crash_emulator", "exception", "the emulated accelerator raised RuntimeError: CUDA error"),
        ("crash_exit_status", "exit", "the program exited with status 3"),
    ],
)
def test_a_run_that_dies_is_not_a_completed_run(programs, results, name, status, text) -> None:
    from devlint.runtime.confirm import Report
    from devlint.runtime.render import render

    result = results[name]
    assert result.status == status
    assert not result.completed and result.crashed and not result.stopped_by_device_error
    assert text in result.stop_description()
    v = verdicts(programs, results, name)
    for key, conf in v.items():
        if key != "missed":
            assert conf.verdict not in (CONFIRMED, REFUTED), (key, conf)
    ran = [c for k, c in v.items() if k != "missed" and c.verdict == INCONCLUSIVE]
    assert all("did not complete" in c.message for c in ran)
    path = programs / f"{name}.py"
    findings = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    items, missed = confirm_findings(findings, result)
    report = Report(Program(script=str(path)), result, items, missed)
    summary = next(
        line
        for line in render(report, "text").splitlines()
        if line.startswith(("Confirmed on", "Nothing was checked"))
    )
    assert "did not complete" in summary and text in summary
    assert "ran to completion" not in summary
    run = json.loads(render(report, "json"))["run"]
    assert run["completed"] is False and text in run["stop_reason"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devlint.runtime.command", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_crashed_run_exits_non_zero_and_the_report_alone_is_on_stdout(programs) -> None:
    """One command per property (each costs a torch import): the crash exits 2 with the
    report (JSON) alone on stdout; the program's prints and traceback go to stderr."""
    crash = _cli(
        "--device",
        "emulated",
        "--output-format",
        "json",
        "--",
        "python",
        str(programs / "crash_non_device.py"),
        cwd=programs,
    )
    assert crash.returncode == 2, crash.stderr
    data = json.loads(crash.stdout)  # nothing else on stdout
    assert data["run"]["completed"] is False
    assert "NCCL" in crash.stderr  # the program's own traceback


def test_the_programs_output_goes_to_stderr_in_every_format(tmp_path: Path) -> None:
    prog = tmp_path / "prints.py"
    prog.write_text(
        "import sys\nimport torch\n\nprint('PROGRAM-OUT')\nsys.stdout.flush()\n"
        "import os\nos.write(1, b'RAW-FD-1\\n')\nprint(torch.ones(2).sum().item())\n"
    )
    text = _cli("--device", "emulated", str(prog), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "PROGRAM-OUT" not in text.stdout and "RAW-FD-1" not in text.stdout
    assert "PROGRAM-OUT" in text.stderr and "RAW-FD-1" in text.stderr
    assert text.stdout.startswith("Confirmed on emulated")
    lines = _cli("--device", "emulated", "--output-format", "json-lines", str(prog), cwd=tmp_path)
    assert lines.returncode == 0 and "PROGRAM-OUT" in lines.stderr
    assert lines.stdout == ""  # no findings, no missed events: an empty report
