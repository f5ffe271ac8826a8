"""`devlint confirm` (the click command), its output formats, the pytest plugin, and the
promise that nothing outside a run imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from devlint.runtime.confirm import ConfirmError, parse_program
from devlint.runtime.opinfo import (
    OpTable,
    exact_same_message,
    legacy_type_name,
    parse_native_functions,
    tensor_iterator_message,
    wrapper_name,
)

ROOT = Path(__file__).resolve().parent.parent
BUGGY = ROOT / "fixtures" / "buggy"

BUG = """\
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = torch.nn.Linear(4, 2).to(device)
x = torch.randn(8, 4)
print(model(x).sum().item())
"""


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def _invoke(*args: str):
    from devlint.runtime.command import confirm

    return _runner().invoke(confirm, list(args), catch_exceptions=False)


# --- no torch outside a run ---------------------------------------------------------------


def test_the_command_and_the_plugin_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import devlint.runtime, devlint.runtime.command, devlint.runtime.pytest_plugin\n"
        "import devlint.runtime.confirm, devlint.runtime.render, devlint.runtime.coverage\n"
        "import devlint.runtime.events, devlint.runtime.opinfo, devlint.runtime.child\n"
        "from devlint.runtime.command import confirm\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help() -> None:
    result = _invoke("--help")
    assert result.exit_code == 0
    for option in (
        "--device",
        "--keep-going",
        "--max-batches",
        "--timeout",
        "--sandbox",
        "--output-format",
    ):
        assert option in result.output


# --- program parsing ----------------------------------------------------------------------


def test_parse_program(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("")
    p = parse_program(["python", "-u", str(script), "--epochs", "1"])
    assert (p.script, p.argv, p.python_flags) == (str(script), ["--epochs", "1"], ["-u"])
    p = parse_program([str(script), "--lr", "0.1"])
    assert (p.script, p.argv) == (str(script), ["--lr", "0.1"])
    p = parse_program(["python3", "-m", "pkg.train", "-x"])
    assert (p.module, p.argv) == ("pkg.train", ["-x"])
    p = parse_program([sys.executable, "-X", "dev", str(script)])
    assert p.python == sys.executable and p.python_flags == ["-X", "dev"]
    for bad in ([], ["python"], ["python", "-c", "print(1)"], ["python", "-m"], ["missing.py"]):
        with pytest.raises(ConfirmError):
            parse_program(bad)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = _invoke("--", "python", str(tmp_path / "missing.py"))
    assert result.exit_code == 2
    result = _invoke("--device", "tpu", "x.py")
    assert result.exit_code == 2


def test_the_static_pass_follows_the_project_and_select_replaces_it(tmp_path: Path) -> None:
    """The findings `confirm` gives verdicts to are the project's selection; `select`
    replaces it, as `devlint --select` does, so it turns on a rule the project leaves off."""
    from devlint.runtime.confirm import static_findings

    (tmp_path / "pyproject.toml").write_text('[tool.devlint]\nselect = ["DL001"]\n')
    script = tmp_path / "train.py"
    script.write_text('import torch\nx = torch.zeros(3, device="cuda")\n')

    def codes(select: list[str] | None = None) -> list[str]:
        return [f.code for f in static_findings([str(script)], str(tmp_path), select=select)]

    assert codes() == []
    assert codes(["DL002"]) == codes(["DL00"]) == codes(["ALL"]) == ["DL002"]
    assert codes(["DL003"]) == []
    # DL008 is off by default: a project without configuration confirms it when selected
    (tmp_path / "pyproject.toml").unlink()
    # (the load first: after an unconditional CUDA use the script runs only with CUDA)
    script.write_text('import torch\ns = torch.load("m.pt")\nx = torch.zeros(3, device="cuda")\n')
    assert codes() == ["DL002"]
    assert codes(["DL008"]) == ["DL008"]
    assert codes(["ALL"]) == ["DL008", "DL002"]


# --- a run through the command ------------------------------------------------------------

torch_needed = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("torch") is None, reason="needs torch"
)


@pytest.fixture(scope="module")
def bug(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "bug.py"
    path.write_text(BUG)
    return path


@torch_needed
def test_text_report(bug: Path) -> None:
    result = _invoke("--device", "emulated", "--quiet-program", "--", "python", str(bug))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert (
        lines[0].endswith(
            "| RuntimeError: Expected all tensors to be on the same device, but got mat1 is on cpu, "
            "different from other tensors on cuda:0 (when checking argument in method "
            "wrapper_CUDA_addmm) [cuda:0, cpu] at " + os.path.relpath(bug) + ":6"
        )
        or "wrapper_CUDA_addmm" in lines[0]
    )
    assert ":5:5: DL005 CONFIRMED " in lines[0]
    assert lines[-1].startswith("Confirmed on emulated: 1 confirmed.")
    assert "stopped on a device error" in lines[-1]


@pytest.fixture(scope="module")
def report(bug: Path):
    from devlint.runtime.confirm import Options, Program, confirm

    return confirm(Program(script=str(bug)), Options(device="emulated", quiet_program=True))


@torch_needed
def test_json_report(report) -> None:
    from devlint.runtime.render import render

    data = json.loads(render(report, "json"))
    (finding,) = data["findings"]
    assert finding["code"] == "DL005"
    assert finding["location"] == {"row": 5, "column": 5}
    conf = finding["confirmation"]
    assert conf["verdict"] == "CONFIRMED"
    assert conf["devices"] == ["cuda:0", "cpu"]
    assert conf["runtime_message"].startswith("RuntimeError: Expected all tensors")
    assert conf["kind"] == "mismatch" and conf["op"] == "aten::addmm"
    assert conf["link"] == "origins"
    assert data["missed_by_static"] == []
    assert data["run"]["device"] == "emulated"
    assert data["run"]["status"] == "exception"


@torch_needed
def test_json_lines_and_sarif_reports(report) -> None:
    from devlint.runtime.render import render

    (line,) = render(report, "json-lines").strip().splitlines()
    assert json.loads(line)["confirmation"]["verdict"] == "CONFIRMED"
    log = json.loads(render(report, "sarif"))
    (res,) = log["runs"][0]["results"]
    assert res["ruleId"] == "DL005"
    assert res["properties"]["confirmation"]["verdict"] == "CONFIRMED"
    assert log["runs"][0]["invocations"][0]["properties"]["confirm"]["device"] == "emulated"


@torch_needed
def test_output_file(bug: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = _invoke(
        "--device",
        "emulated",
        "--quiet-program",
        "--output-format",
        "json",
        "--output-file",
        str(out),
        str(bug),
    )
    assert result.exit_code == 1
    assert result.output == ""
    assert json.loads(out.read_text())["findings"][0]["confirmation"]["verdict"] == "CONFIRMED"


@torch_needed
def test_keep_going_and_max_batches_through_the_command(tmp_path: Path) -> None:
    result = _invoke(
        "--device",
        "emulated",
        "--keep-going",
        "--max-batches",
        "1",
        "--quiet-program",
        "--output-format",
        "json",
        str(BUGGY / "dl007_metric_helper_params.py"),
    )
    data = json.loads(result.output)
    assert [f["confirmation"]["verdict"] for f in data["findings"]] == ["CONFIRMED"] * 4
    assert data["run"]["status"] == "ok"


@torch_needed
def test_clean_program_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "ok.py"
    path.write_text(BUG.replace("torch.randn(8, 4)", "torch.randn(8, 4, device=device)"))
    result = _invoke("--device", "emulated", "--quiet-program", str(path))
    assert result.exit_code == 0, result.output
    assert "Confirmed on emulated: no findings in the files that ran." in result.output


@torch_needed
def test_device_cpu_confirms_hard_coded_cuda() -> None:
    result = _invoke(
        "--device",
        "cpu",
        "--keep-going",
        "--max-batches",
        "1",
        "--quiet-program",
        "--output-format",
        "json",
        str(BUGGY / "dl002_torch_device_cuda.py"),
    )
    data = json.loads(result.output)
    (finding,) = data["findings"]
    assert finding["code"] == "DL002"
    conf = finding["confirmation"]
    assert conf["verdict"] == "CONFIRMED" and conf["link"] == "bindings"
    assert data["run"]["device"] == "cpu"


DEFAULT_DEVICE = """\
import torch

with torch.device("meta"):
    layer = torch.nn.Linear(2, 2)
    made = torch.zeros(3)
assert layer.weight.device.type == "meta" and made.device.type == "meta", layer.weight.device
torch.set_default_device("meta")
assert torch.ones(2).device.type == "meta"
torch.set_default_device(None)
"""


@torch_needed
@pytest.mark.parametrize("device", ["cpu", "emulated"])
def test_the_default_device_still_places_factories_under_the_harness(
    tmp_path: Path, device: str
) -> None:
    """A real GPU run (H200, torch 2.11) found `with torch.device("cuda")` placing nothing
    under the harness: torch's cache of default-device factories held the harness's
    wrappers.  The meta device shows the same on a CPU-only machine."""
    path = tmp_path / "meta.py"
    path.write_text(DEFAULT_DEVICE)
    result = _invoke("--device", device, "--quiet-program", str(path))
    assert result.exit_code == 0, result.output


# --- the pytest plugin ----------------------------------------------------------------------


def _plugin_args() -> list[str]:
    from importlib.metadata import entry_points

    try:
        eps = entry_points(group="pytest11")
    except TypeError:  # Python < 3.10
        eps = entry_points().get("pytest11", [])
    installed = any(e.value == "devlint.runtime.pytest_plugin" for e in eps)
    return [] if installed else ["-p", "devlint.runtime.pytest_plugin"]


@torch_needed
def test_pytest_plugin_on_a_sample_project(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        textwrap.dedent(
            """\
            import torch
            import torch.nn as nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
                    self.offset = torch.ones(2)

                def forward(self, x):
                    return self.fc(x) + self.offset


            def predict(model, x, device):
                model.to(device)
                return model(x.to(device)).argmax(1)
            """
        )
    )
    (tmp_path / "test_model.py").write_text(
        textwrap.dedent(
            """\
            import torch
            from model import Net, predict


            def test_predict():
                device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
                assert predict(Net(), torch.randn(3, 4), device).shape == (3,)
            """
        )
    )
    report = tmp_path / "verdicts.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *_plugin_args(),
        "--devlint-confirm",
        "--devlint-device",
        "emulated",
        "--devlint-report",
        str(report),
    ]
    failing = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    # On a GPU the test fails: so it does here, with PyTorch's own error.
    assert failing.returncode == 1
    assert "Expected all tensors to be on the same device" in failing.stdout
    assert "devlint confirm" in failing.stdout
    assert "model.py:12:16: DL006 CONFIRMED" in failing.stdout
    data = json.loads(report.read_text())
    assert [f["confirmation"]["verdict"] for f in data["findings"]] == ["CONFIRMED"]
    healed = subprocess.run(
        [*cmd, "--devlint-keep-going"], cwd=tmp_path, capture_output=True, text=True
    )
    # the healed tests pass, but a CONFIRMED finding fails the session, as
    # `devlint confirm --keep-going` exits 1 on the same code
    assert healed.returncode == 1, healed.stdout
    assert "DL006 CONFIRMED" in healed.stdout
    assert "passed" in healed.stdout and "failed" not in healed.stdout.split("devlint confirm")[0]


def test_pytest_plugin_without_the_option_does_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import sys\n\ndef test_x():\n    assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_plugin_args()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
    assert "devlint confirm" not in out.stdout


# --- the operator table -------------------------------------------------------------------

SAMPLE = """\
- func: addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor
  structured_delegate: addmm.out
  variants: function, method

- func: addmm.out(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1, Tensor(a!) out) -> Tensor(a!)
  structured: True
  dispatch:
    CPU: addmm_out_cpu
    CUDA: addmm_out_cuda

- func: add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor
  device_check: NoCheck   # TensorIterator
  structured_delegate: add.out

- func: index_select(Tensor self, int dim, Tensor index) -> Tensor
  dispatch:
    CPU: index_select_cpu_
    CUDA: index_select_cuda

- func: embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1) -> Tensor
  dispatch:
    CompositeExplicitAutograd: embedding_symint
"""


def test_native_functions_parser_and_wrapper_names() -> None:
    table = OpTable(parse_native_functions(SAMPLE))
    addmm = table.get("addmm")
    assert addmm.device_check == "ExactSame" and table.has_kernel(addmm, "CUDA")
    assert wrapper_name(addmm, "CUDA", table.is_structured(addmm)) == "wrapper_CUDA_addmm"
    add = table.get("add.Tensor")
    assert add.device_check == "NoCheck" and table.is_tensor_iterator(add)
    assert wrapper_name(add, "CUDA", True) == "wrapper_CUDA_add_Tensor"
    index_select = table.get("index_select")
    assert wrapper_name(index_select, "CUDA", False) == "wrapper_CUDA__index_select"
    embedding = table.get("embedding")
    assert not table.has_kernel(embedding, "CUDA")
    assert "CompositeExplicitAutograd" in embedding.dispatch_keys


def test_messages() -> None:
    assert exact_same_message("mat1", "cpu", "cuda:0", "wrapper_CUDA_addmm") == (
        "Expected all tensors to be on the same device, but got mat1 is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)"
    )
    assert tensor_iterator_message("cuda:0", "cpu") == (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )
    assert legacy_type_name("float32", "cuda") == "torch.cuda.FloatTensor"
    assert legacy_type_name("int64", "cpu") == "torch.LongTensor"


@torch_needed
def test_the_installed_torch_has_the_table() -> None:
    table = OpTable.load()
    assert len(table.ops) > 1000
    for name in ("addmm", "index_select", "cat", "gather", "nll_loss_forward", "mm"):
        info = table.get(name)
        assert info.device_check == "ExactSame" and table.has_kernel(info, "CUDA"), name
    for name in ("add.Tensor", "mul.Tensor", "where.self"):
        assert table.is_tensor_iterator(table.get(name)), name
