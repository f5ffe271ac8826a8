"""What a committed checkpoint holds (`devlint.checkpoints`), and how DL008 uses it:
the pickle is read opcode by opcode, never unpickled; a file whose tensors were all
saved on the CPU (or that holds none) loads anywhere, so its load is not reported."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import libcst as cst
import pytest

from devlint.checkpoints import candidates, read_locations, settle
from devlint.engine.file_paths import file_spec
from devlint.findings import Finding
from devlint.run import RunOptions, check_paths
from devlint.settings import CommandLine, Resolver


def _save(path: Path, obj: object, location: str = "cpu", **kwargs: object) -> Path:
    """`torch.save`, with every storage tagged `location` as a machine with that device
    would tag it (so a "GPU checkpoint" can be made on a CPU-only machine)."""
    torch = pytest.importorskip("torch")
    import torch.serialization as serialization

    original = serialization.location_tag
    if location != "cpu":
        serialization.location_tag = lambda storage: location
    try:
        torch.save(obj, path, **kwargs)
    finally:
        serialization.location_tag = original
    return path


def _state() -> dict:
    torch = pytest.importorskip("torch")
    return {"weight": torch.ones(2, 2), "bias": torch.zeros(2), "steps": 3}


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"_use_new_zipfile_serialization": False}, {"pickle_protocol": 4}],
    ids=["zip", "legacy", "protocol-4"],
)
def test_locations_in_every_format(tmp_path: Path, kwargs: dict) -> None:
    cpu = _save(tmp_path / "cpu.pt", _state(), **kwargs)
    gpu = _save(tmp_path / "gpu.pt", _state(), "cuda:1", **kwargs)
    mps = _save(tmp_path / "mps.pt", _state(), "mps", **kwargs)
    assert read_locations(str(cpu)).locations == ("cpu",)
    assert read_locations(str(gpu)).locations == ("cuda:1",)
    assert read_locations(str(gpu)).accelerator == "cuda:1"
    assert read_locations(str(mps)).accelerator == "mps"
    assert read_locations(str(cpu)).accelerator is None


def test_a_file_without_tensors_holds_no_locations(tmp_path: Path) -> None:
    saved = _save(tmp_path / "vocab.pt", {"tokens": ["a", "b"], "size": 2, "name": "cpu"})
    assert read_locations(str(saved)).locations == ()


def test_files_it_does_not_understand_are_unknown(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    whole = _save(tmp_path / "whole.pt", _state(), "cuda:0")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[:300])
    old = _save(tmp_path / "old.pt", _state(), "cuda:0", _use_new_zipfile_serialization=False)
    old_cut = tmp_path / "old_cut.pt"
    old_cut.write_bytes(old.read_bytes()[:120])
    for path in (text, plain, cut, old_cut, tmp_path / "missing.pt"):
        assert read_locations(str(path)) is None, path.name


def _spec(source: str) -> object:
    module = cst.parse_module(source)
    names = {}
    for stmt in module.body[:-1]:
        assign = stmt.body[0]
        names[assign.targets[0].target.value] = assign.value
    call = module.body[-1].body[0].value
    node = call.args[0].value

    def resolve(n: cst.BaseExpression) -> cst.BaseExpression:
        return names.get(n.value, n) if isinstance(n, cst.Name) else n

    constant = node.evaluated_value if isinstance(node, cst.SimpleString) else None
    return file_spec(node, constant, resolve)


@pytest.mark.parametrize(
    ("source", "spec"),
    [
        ('torch.load("w/a.pt")\n', ("cwd", "w/a.pt")),
        ('torch.load(os.path.join("w", "a.pt"))\n', ("cwd", "w/a.pt")),
        ('torch.load(os.path.join(os.path.dirname(__file__), "w", "a.pt"))\n', ("file", "w/a.pt")),
        (
            'torch.load(osp.join(osp.dirname(osp.realpath(__file__)), "a.pt"))\n',
            ("file", "a.pt"),
        ),
        ('torch.load(Path(__file__).parent / "w" / "a.pt")\n', ("file", "w/a.pt")),
        ('torch.load(Path(__file__).resolve().parent / "a.pt")\n', ("file", "a.pt")),
        ('torch.load(pathlib.Path("w") / "a.pt")\n', ("cwd", "w/a.pt")),
        (
            'HERE = os.path.dirname(__file__)\ntorch.load(os.path.join(HERE, "a.pt"))\n',
            ("file", "a.pt"),
        ),
        ('W = Path(__file__).parent / "w"\ntorch.load(W / "a.pt")\n', ("file", "w/a.pt")),
        ('torch.load(open("w/a.pt", "rb"))\n', ("cwd", "w/a.pt")),
        (
            'torch.load(open(os.path.join(os.path.dirname(__file__), "a.pt"), mode="rb"))\n',
            ("file", "a.pt"),
        ),
        ('torch.load(f"w/{name}.pt")\n', None),
        ("torch.load(args.checkpoint)\n", None),
        ('torch.load(os.path.join(root, "a.pt"))\n', None),
        ("torch.load(Path(__file__).parent.parent / name)\n", None),
    ],
)
def test_file_specs(source: str, spec: object) -> None:
    assert _spec(source) == spec


def test_candidates_go_up_to_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    source = tmp_path / "pkg" / "sub" / "m.py"
    source.parent.mkdir(parents=True)
    source.write_text("")
    found = candidates(str(source), ("cwd", "w.pt"))
    assert found == [
        str(tmp_path / "pkg/sub/w.pt"),
        str(tmp_path / "pkg/w.pt"),
        str(tmp_path / "w.pt"),
    ]
    assert candidates(str(source), ("file", "w.pt")) == [str(tmp_path / "pkg/sub/w.pt")]
    assert candidates(str(source), ("cwd", "/abs/w.pt")) == ["/abs/w.pt"]


def _finding(path: str, asset: tuple[str, str]) -> Finding:
    return Finding(
        "DL008",
        "load-without-map-location",
        "`torch.load(x)` has no `map_location`",
        path,
        3,
        5,
        3,
        20,
        asset=asset,
    )


def test_settle_drops_cpu_files_and_names_accelerator_ones(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("")
    source = tmp_path / "run.py"
    source.write_text("")
    _save(tmp_path / "cpu.pt", _state())
    _save(tmp_path / "gpu.pt", _state(), "cuda:0")
    (tmp_path / "odd.pt").write_text("?")
    found = [
        _finding(str(source), ("cwd", "cpu.pt")),
        _finding(str(source), ("file", "gpu.pt")),
        _finding(str(source), ("cwd", "absent.pt")),
        _finding(str(source), ("cwd", "odd.pt")),
    ]
    kept = settle(found)
    assert [f.asset[1] for f in kept] == ["gpu.pt", "absent.pt", "odd.pt"]
    assert kept[0].message.endswith("; `gpu.pt` holds tensors saved on `cuda:0`")
    assert kept[1].message == found[2].message


def test_two_candidates_must_both_load_anywhere(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app").mkdir()
    source = tmp_path / "app" / "main.py"
    source.write_text("")
    _save(tmp_path / "app" / "w.pt", _state())
    _save(tmp_path / "w.pt", _state(), "cuda:0")
    (kept,) = settle([_finding(str(source), ("cwd", "w.pt"))])
    assert "holds tensors saved on `cuda:0`" in kept.message


def test_a_checkpoint_saved_again_changes_a_cached_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.devlint]\nselect = ["ALL"]\n')
    (tmp_path / "predict.py").write_text(
        "import torch\n\nstate = torch.load('weights.pt')\nprint(state['bias'])\n"
    )
    _save(tmp_path / "weights.pt", _state())
    monkeypatch.chdir(tmp_path)

    def codes() -> list[str]:
        outcome = check_paths(["."], Resolver(CommandLine(cwd=str(tmp_path))), RunOptions(jobs=1))
        return [f.code for f in outcome.findings]

    assert codes() == []
    assert codes() == []  # from the cache
    _save(tmp_path / "weights.pt", _state(), "cuda:0")  # saved again, on a GPU machine
    assert codes() == ["DL008"]
    assert os.path.isdir(tmp_path / ".devlint_cache")


HELPER = """\
import torch
import torch.nn as nn


def restore(model, path):
    model.load_state_dict(torch.load(path))
    return model


net = restore(nn.Linear(2, 2), {first})
{more}
"""


@pytest.mark.parametrize(
    ("first", "more", "kept"),
    [
        ('"weights.pt"', "", []),
        ('"weights.pt"', 'again = restore(nn.Linear(2, 2), "weights.pt")', []),
        ('"gpu.pt"', "", ["gpu.pt"]),
        ('"weights.pt"', 'other = restore(nn.Linear(2, 2), "gpu.pt")', ["?"]),
        ("args.weights", "", ["?"]),
    ],
)
def test_a_helper_whose_calls_name_the_file(
    first: str, more: str, kept: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script's helper loads what its calls pass it: every call passing the same
    string names the file (captum's tutorial helper `train_load_save_model(model,
    "models/california_model.pt")`); two files, or a value, name none."""
    (tmp_path / "pyproject.toml").write_text('[tool.devlint]\nselect = ["ALL"]\n')
    (tmp_path / "run.py").write_text(HELPER.format(first=first, more=more))
    _save(tmp_path / "weights.pt", _state())
    _save(tmp_path / "gpu.pt", _state(), "cuda:0")
    monkeypatch.chdir(tmp_path)
    outcome = check_paths(["."], Resolver(CommandLine(cwd=str(tmp_path))), RunOptions(jobs=1))
    found = [f for f in outcome.findings if f.code == "DL008"]
    assert len(found) == len(kept)
    for finding, name in zip(found, kept):
        named = f"`{name}` holds tensors saved on `cuda:0`"
        assert (named in finding.message) == (name != "?")


def test_devlint_confirm_reads_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime harness's static pass (`confirm.static_findings`) reports what
    `devlint` reports: a load of a committed CPU file is not a finding there either."""
    from devlint.runtime.confirm import static_findings

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "run.py").write_text(
        "import torch\n\ncpu = torch.load('cpu.pt')\ngpu = torch.load('gpu.pt')\n"
    )
    _save(tmp_path / "cpu.pt", _state())
    _save(tmp_path / "gpu.pt", _state(), "cuda:0")
    monkeypatch.chdir(tmp_path)
    found = static_findings(["run.py"], root=str(tmp_path), select=["ALL"])
    assert [(f.code, f.line) for f in found] == [("DL008", 4)]
