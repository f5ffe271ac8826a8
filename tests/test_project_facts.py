"""Project-wide facts (issue 14, item 1): module summaries, import resolution, and the
second analysis of a file whose imports the project says something about."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devlint import project, runner
from devlint.cache import Cache, options_key
from devlint.checker import check_source
from devlint.rules import ALL_RULES
from tests.helpers import ANALYSIS_LOADED_PROBE

TRAINER = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "trainer"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "trainer"
    shutil.copytree(TRAINER, target)
    return target


def _jobs(root: Path, names: list[str] | None = None) -> list[runner.Job]:
    paths = sorted(root.rglob("*.py"))
    if names is not None:
        paths = [root / n for n in names]
    return [runner.Job(p, p.relative_to(root).as_posix()) for p in paths]


def _found(result: runner.RunResult) -> list[tuple[str, int, str, str]]:
    return [(f.path, f.line, f.code, f.message) for f in result.findings]


def _cache(root: Path) -> Cache:
    return Cache(root, options_key([r.code for r in ALL_RULES], {}))


def _summary(path: Path, package: str) -> dict:
    collect: dict = {}
    check_source(path.read_bytes(), str(path), ALL_RULES, package=package, collect=collect)
    return collect["summary"]


def test_a_summary_says_what_importers_need() -> None:
    blocks = _summary(TRAINER / "visionkit" / "blocks.py", "visionkit")
    assert blocks["classes"]["Residual"]["bases"] == ["BaseBlock"]
    assert blocks["classes"]["BaseBlock"]["module"] is True
    assert blocks["all"] == ["BaseBlock", "Residual"]
    models = _summary(TRAINER / "visionkit" / "models.py", "visionkit")
    # a relative import is qualified from the module's package
    assert models["aliases"]["Residual"] == "visionkit.blocks.Residual"
    assert models["functions"]["build_classifier"] == {
        "kind": "module",
        "device": ["cpu"],
        "moves": False,
    }
    # a constructor that moves the module itself: its place is the caller's choice
    assert models["classes"]["PlacedNet"]["to"] is True
    masks = _summary(TRAINER / "visionkit" / "masks.py", "visionkit")
    # a tensor a factory makes on the CPU whatever the arguments; one that follows them
    # says which parameter it follows
    assert masks["functions"]["positions"] == {
        "kind": "tensor",
        "device": ["cpu"],
        "factory": "torch.arange(length)",
    }
    assert masks["functions"]["shift"] == {"kind": "tensor", "follows": "x", "params": ["x"]}
    placement = _summary(TRAINER / "visionkit" / "placement.py", "visionkit")
    # helpers that move the module they are given (directly, or each one of a list)
    assert placement["functions"]["place"] == {
        "moves_args": ["model"],
        "params": ["model", "device"],
    }
    assert placement["functions"]["place_all"]["moves_args"] == ["models"]
    assert "count_parameters" not in placement["functions"]
    report = _summary(TRAINER / "report.py", "")
    # what only a placed argument makes a finding, and who passes one
    assert report["conditional"]["histogram"] == {
        "params": ["values", "bins"],
        "placed": ["values"],
    }
    assert _summary(TRAINER / "attend.py", "")["calls"] == {"report.histogram": ["0"]}
    config = _summary(TRAINER / "visionkit" / "config.py", "visionkit")
    assert config["constants"]["ACCEL"] == {"kind": "device", "device": ["sym:ACCEL"]}
    # a package's `__init__.py` is summarised for its re-exports
    init = _summary(TRAINER / "visionkit" / "__init__.py", "visionkit")
    assert init["aliases"]["ConvNet"] == "visionkit.models.ConvNet"
    json.dumps(
        [blocks, models, masks, placement, report, config, init]
    )  # plain JSON: it is cached and sent between processes


def test_names_resolve_through_reexports_stars_and_bases() -> None:
    summaries: dict[str, dict] = {}

    def load(path: str) -> dict:
        if path not in summaries:
            pkg = "visionkit" if "visionkit" in path else ""
            summaries[path] = _summary(Path(path), pkg)
        return summaries[path]

    proj = project.Project({}, load)
    roots = project.identify(str(TRAINER / "train.py")).roots
    convnet = proj.resolve("visionkit.ConvNet", roots)
    assert convnet is not None and convnet["t"] == "class" and convnet["module"]
    # a module class only through its base, defined in the same module
    residual = proj.resolve("visionkit.blocks.Residual", roots)
    assert residual is not None and residual["module"]
    placed = proj.resolve("visionkit.models.PlacedNet", roots)
    assert placed is not None and placed["to"]
    assert proj.resolve("visionkit.config.ACCEL", roots)["t"] == "constant"
    assert proj.resolve("visionkit.build_classifier", roots)["t"] == "function"
    assert proj.resolve("visionkit.missing", roots) is None
    assert proj.resolve("os.path.join", roots) is None


def test_identity_of_packages_scripts_and_src_layouts(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "src" / "lib" / "sub").mkdir(parents=True)
    for rel in ("src/lib/__init__.py", "src/lib/sub/__init__.py", "src/lib/sub/m.py", "run.py"):
        (tmp_path / rel).write_text("")
    m = project.identify(str(tmp_path / "src/lib/sub/m.py"))
    assert (m.name, m.package) == ("lib.sub.m", "lib.sub")
    init = project.identify(str(tmp_path / "src/lib/sub/__init__.py"))
    assert (init.name, init.package) == ("lib.sub", "lib.sub")
    script = project.identify(str(tmp_path / "run.py"))
    assert (script.name, script.package) == ("run", "")
    # a script at the root imports the package from `src/`
    assert project.locate("lib.sub.m", script.roots) == str(tmp_path / "src/lib/sub/m.py")


def test_import_cycles_and_star_exports_resolve_without_looping(tmp_path: Path) -> None:
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (tmp_path / "setup.cfg").write_text("")
    (pkg / "__init__.py").write_text("from .a import Thing\n")
    (pkg / "a.py").write_text("from .b import Thing\n")
    (pkg / "b.py").write_text("from .a import Thing\n")
    (pkg / "stars.py").write_text(
        "import torch\nfrom torch import nn\n__all__ = ['Shown']\n"
        "class Shown(nn.Module):\n    def forward(self, x):\n        return x\n"
        "class Hidden(nn.Module):\n    def forward(self, x):\n        return x\n"
    )
    (pkg / "user.py").write_text("from .stars import *\n")

    def load(path: str) -> dict:
        return _summary(Path(path), "cyc")

    proj = project.Project({}, load)
    roots = project.identify(str(pkg / "user.py")).roots
    assert proj.resolve("cyc.Thing", roots) is None  # a cycle: nothing, and no recursion error
    assert proj.resolve("cyc.user.Shown", roots) is not None
    assert proj.resolve("cyc.user.Hidden", roots) is None  # not in `__all__`


def test_same_findings_whole_project_alone_any_jobs_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    root = _copy(tmp_path)
    whole = _found(runner.run(_jobs(root), ALL_RULES, workers=1))
    assert [(p, line, code) for p, line, code, _ in whole] == [
        ("attend.py", 15, "DL009"),
        ("finetune.py", 16, "DL001"),
        ("finetune.py", 18, "DL001"),
        ("finetune.py", 22, "DL001"),
        ("finetune.py", 25, "DL001"),
        ("report.py", 9, "DL007"),
        ("train.py", 16, "DL001"),
        ("visionkit/adapters.py", 15, "DL001"),
        ("visionkit/exploration.py", 24, "DL005"),
        ("visionkit/fitting.py", 29, "DL003"),
        ("visionkit/fitting.py", 30, "DL003"),
    ]
    assert _found(runner.run(_jobs(root), ALL_RULES, workers=2)) == whole
    cold_cache = _cache(tmp_path / "c")
    assert _found(runner.run(_jobs(root), ALL_RULES, workers=2, cache=cold_cache)) == whole
    warm_cache = _cache(tmp_path / "c")
    assert _found(runner.run(_jobs(root), ALL_RULES, workers=1, cache=warm_cache)) == whole
    assert warm_cache.misses == 0 and warm_cache.hits == len(_jobs(root))
    # a pre-commit run names one file: the rest of the project still informs it
    # (report.py: its finding is there because attend.py, not named, calls it placed)
    for name in ("train.py", "finetune.py", "attend.py", "report.py"):
        alone = _found(runner.run(_jobs(root, [name]), ALL_RULES, workers=1))
        assert alone == [f for f in whole if f[0] == name]
        fresh = _cache(tmp_path / f"alone-{name}")
        alone_cached = _found(runner.run(_jobs(root, [name]), ALL_RULES, cache=fresh))
        assert alone_cached == alone


def test_a_change_in_a_dependency_reaches_its_importers_through_the_cache(
    tmp_path: Path,
) -> None:
    root = _copy(tmp_path)
    cache_dir = tmp_path / "c"
    before = _found(runner.run(_jobs(root), ALL_RULES, cache=_cache(cache_dir)))
    assert ("finetune.py", 18, "DL001") in [f[:3] for f in before]
    models = root / "visionkit" / "models.py"
    text = models.read_text()
    # `build_classifier` now returns the model on the chosen device
    text = text.replace("import torch\n", "import torch\n\nfrom .config import ACCEL\n", 1)
    text = text.replace("return ConvNet(classes)", "return ConvNet(classes).to(ACCEL)")
    models.write_text(text)
    cache = _cache(cache_dir)
    after = _found(runner.run(_jobs(root), ALL_RULES, cache=cache))
    assert ("finetune.py", 18, "DL001") not in [f[:3] for f in after]
    assert [f for f in after if f[0] == "train.py"] == [f for f in before if f[0] == "train.py"]
    # analysed again: the changed module and the two scripts that import
    # `build_classifier` (its facts changed); `train.py` imports only the unchanged class
    assert cache.misses == 3 and cache.hits == len(_jobs(root)) - 3


def test_a_warm_project_run_never_loads_the_analysis(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    args = [
        sys.executable,
        "-c",
        ANALYSIS_LOADED_PROBE,
        str(root),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    cold = subprocess.run(args, capture_output=True, text=True, cwd=root)
    warm = subprocess.run(args, capture_output=True, text=True, cwd=root)
    assert "'libcst'" in cold.stderr, cold.stderr
    assert "LOADED [] 1" in warm.stderr, warm.stderr
    assert warm.stdout == cold.stdout and "Found 11 problems." in warm.stdout


def test_what_a_function_returns_is_a_fact_only_when_its_call_returns_it(tmp_path: Path) -> None:
    """Generators, coroutines and functions behind decorators that may wrap them return
    something else than their `return` statements: no fact."""
    module = tmp_path / "made.py"
    module.write_text(
        "import functools\nimport torch\n\n"
        "def plain(n):\n    return torch.zeros(n)\n\n"
        "@torch.no_grad()\ndef no_grad(n):\n    return torch.zeros(n)\n\n"
        "def gen(n):\n    yield torch.zeros(n)\n    return torch.zeros(n)\n\n"
        "async def coro(n):\n    return torch.zeros(n)\n\n"
        "@some_registry.register\ndef wrapped(n):\n    return torch.zeros(n)\n\n"
        "def scalar():\n    return torch.tensor(1.0)\n"
    )
    functions = _summary(module, "")["functions"]
    assert sorted(functions) == ["no_grad", "plain"]


def test_what_an_imported_module_class_holds_decides_where_it_is() -> None:
    """Built on the CPU only when it (or a base, or a class it builds) has layers of its
    own; one that moves its state to its input works anywhere; one that keeps the
    modules it is given moves them with it."""
    summaries: dict[str, dict] = {}

    def load(path: str) -> dict:
        if path not in summaries:
            summaries[path] = _summary(Path(path), "visionkit")
        return summaries[path]

    proj = project.Project({}, load)
    roots = project.identify(str(TRAINER / "evaluate.py")).roots

    def fact(name: str) -> dict:
        found = proj.resolve(f"visionkit.models.{name}", roots)
        assert found is not None
        return found

    assert fact("ConvNet")["layers"] and not fact("ConvNet")["adapts"]
    assert fact("TwoBlocks")["layers"]  # through the blocks it builds, from blocks.py
    assert fact("Pyramid")["adapts"]
    assert fact("Normalize")["stateless"] and not fact("Normalize")["layers"]
    assert fact("Ensemble")["wraps"] and not fact("Ensemble")["layers"]


DATAFED = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "datafed"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


_HELPER = (
    "import torch\n\n\n"
    "def grid(masks):\n"
    "    ys = torch.arange(masks.shape[-1], dtype=torch.float)\n"
    "    return masks * ys\n"
)


def test_a_summary_says_which_helpers_are_open_and_what_imported_calls_pass() -> None:
    """`open`: a factory meets a parameter that no call in the file feeds; `fed`: per
    call of an imported function, what each argument is (data-side code feeds CPU)."""
    boxes = _summary(DATAFED / "segkit" / "boxes.py", "segkit")
    assert boxes["open"]["masks_to_boxes"] == {"params": ["masks"], "open": ["masks"]}
    assert boxes["open"]["clip_boxes"]["open"] == ["boxes"]
    data = _summary(DATAFED / "segkit" / "data.py", "segkit")
    assert data["fed"] == {"segkit.boxes.masks_to_boxes": [{"0": "host"}]}
    train = _summary(DATAFED / "train.py", "")
    assert train["fed"]["segkit.boxes.box_weights"] == [{"0": "placed"}]


@pytest.mark.parametrize(
    ("where", "caller", "kept"),
    [
        # every call of the project feeds CPU data: data-side code
        (
            "kit/data.py",
            "class D(Dataset):\n    def __getitem__(self, i):\n        return grid(torch.zeros(2, 3))\n",
            False,
        ),
        ("kit/data.py", "def boxes_of(arr):\n    return grid(torch.from_numpy(arr))\n", False),
        ("examples/demo.py", "def show(x):\n    return grid(x.detach().cpu()[0])\n", False),
        # one call passes a placed tensor, or something unknown, or a script passes a
        # tensor that merely happens to be on the CPU (an example's input): it stands
        ("kit/data.py", "def run(x):\n    return grid(x.cuda())\n", True),
        ("kit/data.py", "def run(x):\n    return grid(x)\n", True),
        ("examples/demo.py", "def demo():\n    return grid(torch.ones(2, 3))\n", True),
    ],
)
def test_a_helper_the_whole_project_feeds_cpu_data_is_data_side_code(
    tmp_path: Path, where: str, caller: str, kept: bool
) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": "",
            "kit/__init__.py": "",
            "kit/geometry.py": _HELPER,
            where: "import torch\nfrom torch.utils.data import Dataset\n"
            "from kit.geometry import grid\n\n\n" + caller,
        },
    )
    found = [f[:3] for f in _found(runner.run(_jobs(root), ALL_RULES, workers=1))]
    assert (("kit/geometry.py", 5, "DL005") in found) is kept, found


def test_test_suites_and_unused_helpers_do_not_make_a_helper_data_side(tmp_path: Path) -> None:
    """Tests feed CPU tensors because their CI has no accelerator, not because the helper
    is data-side code; a helper no module calls keeps its library contract; a call in
    its own file that passes something unknown is not overridden by the project."""
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": "",
            "kit/__init__.py": "",
            "kit/geometry.py": _HELPER
            + "\n\ndef unused(masks):\n    return masks + torch.ones(masks.shape[-1])\n"
            + "\n\ndef local(masks):\n    return masks + torch.ones(masks.shape[-1])\n"
            + "\n\ndef apply(m):\n    return local(m)\n",
            "kit/data.py": "import torch\nfrom kit.geometry import local\n\n\n"
            "def prep():\n    return local(torch.zeros(3))\n",
            "tests/test_geometry.py": "import torch\nfrom kit.geometry import grid\n\n\n"
            "def test_grid():\n    assert grid(torch.ones(2, 3)).shape == (2, 3)\n",
        },
    )
    found = [f[:3] for f in _found(runner.run(_jobs(root), ALL_RULES, workers=1))]
    assert ("kit/geometry.py", 5, "DL005") in found
    assert ("kit/geometry.py", 10, "DL005") in found
    assert ("kit/geometry.py", 14, "DL005") in found


_PIPELINE = (
    "import torch\n\n\n"
    "class Scorer:\n"
    "    def __init__(self, model):\n"
    "        self.model = model\n\n"
    "    def embed(self, t: torch.Tensor):\n"
    "        return t[:, None] * torch.arange(4, dtype=torch.float32)\n\n"
    "    def __call__(self, x):\n"
    "        return self.model(x)\n"
)


@pytest.mark.parametrize(
    ("where", "other", "kept"),
    [
        # a script module nothing imports; another file names it only in a docstring
        ("examples/scorer.py", '"""load_pipeline("scorer") then s.embed(t)"""\n', False),
        # another script imports it and calls the method
        (
            "examples/scorer.py",
            "from scorer import Scorer\n\nScorer(None).embed(t)\n",
            True,
        ),
        (
            "examples/scorer.py",
            "from . import (\n    scorer,\n)\n\nscorer.Scorer(None).embed(t)\n",
            True,
        ),
        # library code: a public method is called from outside the project
        ("kit/scorer.py", "", True),
    ],
)
def test_a_script_helper_that_nothing_calls_is_dead_code(
    tmp_path: Path, where: str, other: str, kept: bool
) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": "",
            "kit/__init__.py": "",
            where: _PIPELINE,
            "examples/run.py": other,
        },
    )
    found = [f[:3] for f in _found(runner.run(_jobs(root), ALL_RULES, workers=1))]
    assert ((where, 9, "DL005") in found) is kept, found
    role = "library" if where.startswith("kit") else "script"
    collect: dict = {}
    path = root / where
    check_source(path.read_bytes(), str(path), ALL_RULES, role=role, collect=collect)
    assert collect["summary"]["unused"] == ([] if role == "library" else ["embed"])
