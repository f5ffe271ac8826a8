"""The emulated accelerator and the harness, observed from programs run under it.

Each program runs in its own process (the harness patches torch for the whole process), all
of them at once in a session fixture, forked from one process that imported torch once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    INCONCLUSIVE,
    NOT_REACHED,
    Options,
    Program,
    confirm,
    confirm_findings,
    files_that_ran,
    run,
    run_many,
    static_findings,
)
from tests.runtime_helpers import RUN_JOBS

PROGRAMS = Path(__file__).parent / "runtime_programs"

CRASH = """\
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
noise = torch.randn(8, 4)
config = {"layers": 2}
depth = config["depth"]
out = model(noise)
print(out.sum().item(), depth)
"""

MISSED = """\
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make(kind):
    return getattr(torch, kind)(3)


w = torch.ones(3, device=device)
print((w + make("ones")).sum().item())
"""

TWO_BUGS = """\
import numpy as np
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
x = torch.randn(8, 4)
logits = model(x)
probs = logits.softmax(-1).numpy()
print(np.round(probs, 2).shape)
"""


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("programs")
    for name, text in (("crash.py", CRASH), ("missed.py", MISSED), ("two_bugs.py", TWO_BUGS)):
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="session")
def results(programs: Path):
    jobs = {
        "behaviour": (PROGRAMS / "behaviour.py", Options(device="emulated")),
        "training": (PROGRAMS / "training.py", Options(device="emulated")),
        "crash": (programs / "crash.py", Options(device="emulated")),
        "missed": (programs / "missed.py", Options(device="emulated")),
        "two_bugs": (programs / "two_bugs.py", Options(device="emulated")),
        "two_bugs_keep_going": (
            programs / "two_bugs.py",
            Options(device="emulated", keep_going=True),
        ),
    }
    out = run_many(
        [Program(script=str(p)) for p, _ in jobs.values()],
        [o for _, o in jobs.values()],
        jobs=RUN_JOBS,
    )
    return dict(zip(jobs, out))


@pytest.fixture(scope="session")
def behaviour(results) -> dict:
    result = results["behaviour"]
    assert result.status == "ok", result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_python_sees_cuda_tensors(behaviour) -> None:
    b = behaviour["basics"]
    assert b["device"] == "cuda:0"
    assert b["is_cuda"] is True
    assert b["type"] == "torch.cuda.FloatTensor"
    assert b["get_device"] == 0
    assert b["repr"] == "tensor([0., 1., 2.], device='cuda:0')"
    assert b["repr_int"] == "tensor([1, 2], device='cuda:0', dtype=torch.int32)"
    assert b["format"] == "3.00"
    assert b["item"] == 3.0
    assert b["tolist"] == [0.0, 1.0, 2.0]
    assert (b["available"], b["count"]) == (True, 1)
    assert (b["cpu_back"], b["cpu_type"]) == ("cpu", "Tensor")
    assert b["to_same_is_self"] is True
    assert b["half"] == "torch.float16 cuda:0"
    assert b["new_tensor"] == "cuda:0"
    assert b["zeros_like_cpu"] == "cpu"
    assert b["tensor_of"] == "cuda:0"
    assert b["as_tensor"] is True
    assert b["cuda_method"] == "cuda:0"
    assert b["type_cuda"] == "torch.cuda.DoubleTensor"


def test_numpy_of_an_accelerator_tensor_fails_as_on_a_gpu(behaviour) -> None:
    assert behaviour["numpy"]["error"] == (
        "can't convert cuda:0 device type tensor to numpy. "
        "Use Tensor.cpu() to copy the tensor to host memory first."
    )
    assert behaviour["numpy"]["cpu_numpy"] == [1.0, 1.0]


def test_module_moves_keep_parameter_identity_and_gradients_cross_devices(behaviour) -> None:
    m = behaviour["module"]
    assert m["identity_to"] and m["identity_cpu"] and m["isinstance_param"]
    assert (m["device"], m["grad"], m["after_cpu"]) == ("cuda:0", "cuda:0", "cpu")
    assert m["deepcopy"] == "cuda:0" and m["state_dict"] == "cuda:0"
    assert m["param_repr"] is True
    g = behaviour["gradients_cross_devices"]
    assert g == {"x_grad": "cpu", "value": [2.0, 2.0, 2.0]}


def test_default_device(behaviour) -> None:
    assert behaviour["default_device"] == {
        "set_default_device": "cuda:0",
        "with_device": "cuda:0",
        "after": "cpu",
    }


def test_checkpoints_are_ordinary_and_tagged_cuda(behaviour) -> None:
    c = behaviour["checkpoint"]
    assert c["no_harness_class"] and c["tagged_cuda"]
    assert c["load"] == "cuda:0"
    assert c["load_cpu"] == "cpu Tensor" and c["values"]
    assert c["pickle"] == "Tensor"


def test_device_checks(behaviour) -> None:
    assert behaviour["invalid_ordinal"]["message"].startswith("CUDA error: invalid device ordinal")
    assert behaviour["index_cuda_indices_on_cpu_tensor"]["message"] == (
        "indices should be either on cpu or on the same device as the indexed tensor (cpu)"
    )
    assert behaviour["cpu_indices_on_cuda_tensor"] == [0.0, 1.0]
    assert behaviour["cpu_scalars"] == {"add": [3.0, 3.0, 3.0], "where": [1.0, 1.0, 1.0]}
    assert behaviour["foreach_mixed"]["message"] == (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )
    assert behaviour["functional_loss_weight_on_cpu"]["message"] == (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )
    assert behaviour["inplace_and_views"] == {
        "same": True,
        "values": [[[5.0, 5.0, 5.0], [1.0, 1.0, 1.0]]],
        "shape": [1, 2, 3],
    }


def test_amp_compile_streams_rnn(behaviour) -> None:
    assert behaviour["amp"] == {"dtype": "torch.float16", "scale": 65536.0, "device": "cuda:0"}
    assert behaviour["compile"] == "cuda:0"
    assert behaviour["streams"] == {"elapsed": True, "allocated": 0, "x": "cuda:0"}
    assert behaviour["rnn"] == "cuda:0"


def test_lazy_modules_materialize_on_the_device_they_were_moved_to(behaviour) -> None:
    lazy = dict(behaviour["lazy"])
    # a CPU input to the GPU convolution: the error a CUDA build gives
    assert lazy.pop("cpu_input").startswith(
        "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor)"
    )
    assert lazy == {
        "weight": "cuda:0",
        "is_param": True,
        "grad": "cuda:0",
        "buffer": "cuda:0",
        "stepped": True,
    }


def test_dataloader_pin_memory_and_spawn_workers(behaviour) -> None:
    d = behaviour["dataloader"]
    assert d["pinned_batches"] == 2
    # The harness reached worker processes started by spawn.
    assert d["workers_see_cuda"] == [[1.0, 1.0], [1.0, 1.0]]


def test_notes(results) -> None:
    assert any("torch.compile" in n for n in results["behaviour"].notes)


def test_correct_training_is_bit_identical_to_a_cpu_run(results) -> None:
    emulated = results["training"]
    assert emulated.status == "ok" and emulated.events == []
    plain = subprocess.run(
        [sys.executable, str(PROGRAMS / "training.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    emu_lines = emulated.output.strip().splitlines()
    plain_lines = plain.strip().splitlines()
    assert len(emu_lines) == len(plain_lines) == 12  # 6 models x (SGD, Adam)
    for e, p in zip(emu_lines, plain_lines):
        e_name, e_opt, e_dev, *e_losses = e.split()
        p_name, p_opt, p_dev, *p_losses = p.split()
        assert (e_dev, p_dev) == ("cuda", "cpu")
        assert (e_name, e_opt, e_losses) == (p_name, p_opt, p_losses)


def test_an_unrelated_crash_confirms_nothing(results, programs: Path) -> None:
    result = results["crash"]
    assert result.status == "exception"
    assert result.exception["type"] == "KeyError" and not result.exception["device_error"]
    assert result.events == []
    items, missed = _confirm(programs / "crash.py", result)
    assert items and not missed
    verdicts = {f.line: c.verdict for f, c in items}
    assert CONFIRMED not in verdicts.values()
    assert verdicts[5] == INCONCLUSIVE  # noise = torch.randn(8, 4): ran, never used


def test_an_error_the_static_pass_misses_is_reported(results, programs: Path) -> None:
    items, missed = _confirm(programs / "missed.py", results["missed"])
    assert not [f for f, _ in items]
    (event,) = missed
    assert event["op"] == "aten::add.Tensor"
    assert event["frames"][0]["line"] == 11
    assert event["devices"] == ["cuda:0", "cpu"]


def test_without_keep_going_the_first_error_stops_the_program(results, programs: Path) -> None:
    items, _ = _confirm(programs / "two_bugs.py", results["two_bugs"])
    by_line = {f.line: c.verdict for f, c in items}
    assert by_line[6] == CONFIRMED  # x = torch.randn(8, 4), used by model(x)
    assert by_line[8] == NOT_REACHED  # .numpy()
    items, _ = _confirm(programs / "two_bugs.py", results["two_bugs_keep_going"])
    assert {f.line: c.verdict for f, c in items}[8] == CONFIRMED


def test_a_checkpoint_saved_on_the_emulated_gpu_fails_to_load_on_a_cpu_only_run(tmp_path) -> None:
    (tmp_path / "save.py").write_text(
        textwrap.dedent(
            """\
            import torch
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model = torch.nn.Linear(3, 2).to(device)
            torch.save({"model": model.state_dict(), "step": 3}, "ckpt.pt")
            """
        )
    )
    (tmp_path / "load.py").write_text(
        textwrap.dedent(
            """\
            import torch
            state = torch.load("ckpt.pt", weights_only=True)
            print(sorted(state))
            """
        )
    )
    saved = run(
        Program(script=str(tmp_path / "save.py")),
        Options(device="emulated", cwd=str(tmp_path), quiet_program=True),
    )
    assert saved.status == "ok", saved.output
    # An ordinary checkpoint: plain torch (no harness) loads it with map_location.
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch; s = torch.load('ckpt.pt', map_location='cpu', weights_only=True);"
            "print(s['model']['weight'].device, type(s['model']['weight']).__name__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert plain.stdout.split() == ["cpu", "Tensor"]
    report = confirm(
        Program(script=str(tmp_path / "load.py")),
        Options(device="cpu", cwd=str(tmp_path), quiet_program=True),
        select=["ALL"],
    )
    ((finding, conf),) = report.items
    assert finding.code == "DL008" and finding.line == 2
    assert conf.verdict == CONFIRMED
    assert "Attempting to deserialize object on a CUDA device" in conf.message
    assert report.result.exception["device_error"] is True


def test_sandbox_keeps_the_working_directory_clean(tmp_path) -> None:
    (tmp_path / "write.py").write_text(
        "open('out.txt', 'w').write('x')\nprint(open('data.txt').read())\n"
    )
    (tmp_path / "data.txt").write_text("input")
    result = run(
        Program(script=str(tmp_path / "write.py")),
        Options(device="emulated", sandbox=True, cwd=str(tmp_path), quiet_program=True),
    )
    assert result.status == "ok", result.output
    assert "input" in result.output
    assert not (tmp_path / "out.txt").exists()
    assert str(tmp_path / "write.py") in result.lines


def test_timeout_stops_the_program(tmp_path) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\nimport torch\nx = torch.randn(3)\ntime.sleep(60)\n"
    )
    result = run(
        Program(script=str(tmp_path / "slow.py")),
        Options(device="emulated", timeout=8, quiet_program=True),
    )
    assert result.status == "timeout"
    assert result.elapsed < 30


def test_module_programs_and_arguments(tmp_path) -> None:
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import sys\nimport torch\nprint('args', sys.argv[1:], torch.cuda.is_available())\n"
    )
    result = run(
        Program(module="app", argv=["--epochs", "1"]),
        Options(device="emulated", cwd=str(tmp_path), quiet_program=True),
    )
    assert result.status == "ok", result.output
    assert "args ['--epochs', '1'] True" in result.output
    assert result.lines.get(str(pkg / "__main__.py"))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_real_cuda_mode_records_the_real_error(programs: Path) -> None:
    report = confirm(
        Program(script=str(programs / "two_bugs.py")),
        Options(device="cuda", keep_going=True, quiet_program=True),
        select=["ALL"],
    )
    verdicts = {f.line: c for f, c in report.items}
    assert verdicts[6].verdict == CONFIRMED
    assert "Expected all tensors to be on the same device" in verdicts[6].message
    assert verdicts[8].verdict == CONFIRMED


def _confirm(path: Path, result):
    findings = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    return confirm_findings(findings, result)
