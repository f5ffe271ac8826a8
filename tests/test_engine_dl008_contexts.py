"""Where `torch.load` without `map_location` cannot meet the failure DL008 names (issue
13, classes the audit's readers labelled FALSE):

- data-pipeline code (a dataset's methods, a collate function) reads files that pipeline
  wrote itself, on the CPU: CPU data by design, not a checkpoint from an accelerator
  (PyG's datasets);
- code that runs only where an accelerator is (the branch of `if
  torch.cuda.is_available():`, a GPU-only test) never runs on a CPU-only machine
  (fairseq's vocoder, Lightning's `RunIf(min_cuda_gpus=...)` tests).

The same loads in model code, or on the CPU branch, still fire."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch
from torch.utils.data import Dataset


class Processed(Dataset):
    def __init__(self, path):
        self.data, self.slices = torch.load(path)

    def __len__(self):
        return len(self.slices)

    def __getitem__(self, i):
        return self.data[self.slices[i]]


def collate_cached(paths):
    return [torch.load(p) for p in paths]


def restore(model, path):
    model.load_state_dict(torch.load(path))


class SpeechTokenizer(torch.nn.Module):
    # a module named like a data-pipeline class: it loads its weights
    @staticmethod
    def load_from_checkpoint(path):
        model = SpeechTokenizer()
        model.load_state_dict(torch.load(path))
        return model
"""


def test_only_the_model_checkpoint_load_fires() -> None:
    found = check_source(textwrap.dedent(SOURCE), "data.py", [RULES_BY_CODE["DL008"]])
    assert [(f.code, f.line) for f in found] == [("DL008", 21), ("DL008", 29)]


GUARDED = """\
import pytest
import torch


def load_vocoder(path):
    if torch.cuda.is_available():
        state = torch.load(path)
    else:
        state = torch.load(path, map_location="cpu")
    return state


def load_on_cpu_branch(path):
    if not torch.cuda.is_available():
        return torch.load(path)
    return torch.load(path, map_location="cuda")


def load_if_both(path, use_gpu):
    if use_gpu and torch.cuda.is_available():
        return torch.load(path)
    return None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_resume(tmp_path):
    state = torch.load(tmp_path / "external.pt")
    assert state
"""


def test_only_the_load_a_cpu_only_machine_reaches_fires() -> None:
    found = check_source(textwrap.dedent(GUARDED), "loads.py", [RULES_BY_CODE["DL008"]])
    assert [(f.code, f.line) for f in found] == [("DL008", 15)]


SUITE = """\
import pytest
import torch


@pytest.fixture
def committed_path():
    return "tests/data/model.pt"


def test_round_trip(tmp_path, model):
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), str(path))
    model.load_state_dict(torch.load(str(path)))


def test_loads_a_committed_file(committed_path):
    return torch.load(committed_path)


def restore(path):
    return torch.load(path)
"""


def test_a_test_suite_loads_only_what_runs_on_ci() -> None:
    """A test suite runs on CI's CPU machines, so the files it loads (written by the
    run, or committed beside it) load there; in the audit's four readings of DL008, its
    46 test-suite rows held no REAL one.  The same code in a module outside the suite
    still fires (a helper of the test module included: tests/ is the suite)."""
    rule = [RULES_BY_CODE["DL008"]]
    for path in ("tests/test_ckpt.py", "tests/helpers/io.py", "test/ckpt_utils.py"):
        assert check_source(SUITE, path, rule) == [], path
    found = check_source(SUITE, "evaluation/ckpt.py", rule)
    assert [(f.code, f.line) for f in found] == [("DL008", 17), ("DL008", 21)]


def test_folders_above_the_project_do_not_make_a_test_suite(tmp_path, monkeypatch) -> None:
    """The folder names are read below the project: a checkout under `~/tests/` is not
    a test suite."""
    project = tmp_path / "tests" / "proj"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    found = check_source(SUITE, str(project / "ckpt.py"), [RULES_BY_CODE["DL008"]])
    assert len(found) == 2


def test_a_save_is_not_forgotten_when_a_name_inside_its_literal_path_is_rebound() -> None:
    """`torch.save(model.state_dict(), "model.pth")`, then `model = Net()`: the word
    `model` inside the string is text, not the variable, so the load of the same literal
    path still reads back what this run wrote (LLMs-from-scratch's `gpt_train.py`).  A
    rebound path variable, or a name inside an f-string, still forgets the save."""
    src = textwrap.dedent(
        """\
        import torch

        def main(model, out_dir, Net):
            torch.save(model.state_dict(), "model.pth")
            model = Net()
            model.load_state_dict(torch.load("model.pth", weights_only=True))
            path = f"{out_dir}/best.pt"
            torch.save(model.state_dict(), path)
            path = "elsewhere.pt"
            model.load_state_dict(torch.load(path))
            torch.save(model.state_dict(), f"{out_dir}/last.pt")
            out_dir = "other"
            return torch.load(f"{out_dir}/last.pt")
        """
    )
    found = check_source(src, "train.py", [RULES_BY_CODE["DL008"]])
    assert [f.line for f in found] == [10, 13]
