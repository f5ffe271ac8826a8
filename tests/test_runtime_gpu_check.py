"""`benchmarks/gpu_check.sh`, the real-GPU check, as far as it runs without a GPU: the
per-finding comparison (verdict, exception type, device pair, operation) on synthetic
halves, and the script's dry mode end to end on two fixtures (the emulated half, compared
with a synthetic CUDA half that must agree and a perturbed one that must not)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HALF = {
    "device": "emulated",
    "torch": "2.13.0+cpu",
    "seconds": 1.0,
    "records": {
        "dl001_x.py:40 DL001": {
            "verdict": "CONFIRMED",
            "exception": "RuntimeError",
            "devices": ["cuda:0", "cpu"],
            "op": "torch.nn.functional.linear",
        },
        "dl007_y.py:36 DL007": {
            "verdict": "CONFIRMED",
            "exception": "TypeError",
            "devices": ["cuda:0", "cpu"],
            "op": "Tensor.numpy",
        },
        "clean/z.py": {"verdict": "ran clean", "exception": None, "devices": None, "op": None},
    },
}


def test_identical_halves_agree() -> None:
    gpu_check = _gpu_check()
    rows, bad = gpu_check.compare(gpu_check.synthetic(HALF, perturb=False), HALF)
    assert bad == 0
    assert "| dl001_x.py:40 DL001 | CONFIRMED | RuntimeError | cuda:0, cpu |" in "\n".join(rows)
    assert rows[-1] == "3 records, 0 disagreeing"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("verdict", "REFUTED"),
        ("exception", "TypeError"),
        ("devices", ["cuda:1", "cpu"]),
        ("op", "torch.addmm"),
    ],
)
def test_each_compared_field_is_a_disagreement(field, value) -> None:
    gpu_check = _gpu_check()
    cuda = json.loads(json.dumps(HALF))
    cuda["records"]["dl001_x.py:40 DL001"][field] = value
    rows, bad = gpu_check.compare(cuda, HALF)
    assert bad == 1
    line = next(r for r in rows if r.startswith("| dl001_x.py:40 DL001"))
    assert line.endswith(f"| NO: {field} |")


def test_the_device_pair_is_compared_in_either_order() -> None:
    gpu_check = _gpu_check()
    cuda = json.loads(json.dumps(HALF))
    cuda["records"]["dl001_x.py:40 DL001"]["devices"] = ["cpu", "cuda:0"]
    assert gpu_check.compare(cuda, HALF)[1] == 0


def test_a_record_on_one_side_only_is_a_disagreement() -> None:
    gpu_check = _gpu_check()
    cuda = json.loads(json.dumps(HALF))
    del cuda["records"]["clean/z.py"]
    rows, bad = gpu_check.compare(cuda, HALF)
    assert bad == 1 and "| clean/z.py | only on emulated | | | | NO |" in rows
    assert gpu_check.compare(gpu_check.synthetic(HALF, perturb=True), HALF)[1] == 1


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_dry_run_of_the_script(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_JOBS": "2"}
    proc = subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "--dry",
            "--out",
            str(tmp_path),
            "--only",
            "dl007_outputs_numpy",
            "dl001_cached_features_moved",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "a perturbed half is caught" in proc.stdout
    table = (tmp_path / "table.md").read_text()
    assert "| dl007_outputs_numpy_after_to.py:36 DL007 | CONFIRMED | TypeError | cuda:0, cpu |" in (
        table
    )
    assert "| clean/dl001_cached_features_moved.py | ran clean |" in table
    assert table.rstrip().endswith("2 records, 0 disagreeing")
    emulated = json.loads((tmp_path / "emulated.json").read_text())
    assert emulated["device"] == "emulated" and set(emulated["records"]) == {
        "dl007_outputs_numpy_after_to.py:36 DL007",
        "clean/dl001_cached_features_moved.py",
    }


def test_the_script_refuses_to_run_without_its_wheels(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    env = {**os.environ, "DEVLINT_GPU_WHEELS": str(tmp_path / "none")}
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "run 'benchmarks/gpu_check.sh prepare' first" in proc.stderr
