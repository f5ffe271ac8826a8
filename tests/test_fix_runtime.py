"""Fixes repair, not hide: every buggy fixture, fixed with `--unsafe-fixes`, runs under the
runtime harness with no device event and prints exactly what its correct twin prints.

The twin of a fixture is the same program on the machine where its bug cannot show: a
CPU-only run (`--device cpu`) for the rules that need an accelerator to fail, and a run on
the emulated accelerator for DL002, whose bug is assuming one.  The fixed program runs
where the bug did show (emulated accelerator; for DL002 no accelerator at all).  Same
printed losses and metrics means the fix kept the computation; no device event means it
removed the bug rather than a symptom.  A fix that introduced a `NameError` (a device
variable of another function) or an `UnboundLocalError` (a partner defined further down)
fails here, as the first version of this test showed.  That the same programs, unfixed,
do fail where they run here is `test_runtime_fixtures.py`'s check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.checker import check_source
from devlint.fix import fix_source
from devlint.rules import ALL_RULES
from devlint.runtime.confirm import Options, Program, RunResult, run_many
from tests.fixture_expectations import fixture_files

BUGGY = fixture_files("buggy")
FIXES = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"
FIXED_SNIPPETS = sorted(FIXES.glob("*.fixed.py"))

# Fixtures with a finding that has no fix, and why; the exact set is checked, so a new fix
# (or a lost one) shows up here.
NOT_FULLY_FIXED = {
    # the model is moved by the caller: which device its input needs is not named here
    "dl001_build_model_not_moved.py": "DL001",
    "dl001_model_cpu_after_export.py": "DL001",
    "dl001_seq2seq_decoder_not_moved.py": "DL001",
    # the module is the culprit (built on the CPU, never moved): moving it is the fix,
    # and where its other users expect it is not known here
    "dl001_buffer_from_cpu_tensor.py": "DL001",
    "dl001_unmoved_model_used_again.py": "DL001",
    "dl001_helper_flag_moves_data.py": "DL001",
    "dl001_wrapper_of_cpu_model.py": "DL001",
    # a new layer set on a moved model: move it too, or set it before the move (which
    # of the two is the author's call)
    "dl001_new_head_after_move.py": "DL001",
    # the input cast with the CPU tensor type (`.type(torch.FloatTensor)`): which type the
    # program meant (its `Tensor` alias, a dtype) is not known here
    "dl001_batch_cast_to_cpu_tensor_type.py": "DL001",
    # the input of a GPU-only test's model: its device is the literal the guard allows
    "dl001_mismatch_in_gpu_only_test.py": "DL001",
    # a default `device="cuda"` parameter: no fallback expression fits a signature
    "dl002_device_param_default.py": "DL002",
    "dl002_gpu_only_script_and_omitted_default.py": "DL002",
    "dl002_script_class_default_left_out.py": "DL002",
    "dl002_gpu_benchmarks_without_a_guard.py": "DL002",
    # a legacy CUDA type (`torch.cuda.LongTensor(data)`): which factory and dtype replace
    # it depends on what the data is, which the fix cannot tell
    "dl002_legacy_cuda_index_constructor.py": "DL002",
    # the partner (`logits`) is made further down, in the loop: it cannot be named earlier
    "dl005_numpy_stats_class_mask.py": "DL005",
    # the partner is a module passed to `__init__` (`backbone`): a module has no `.device`
    "dl005_shape_probe_on_placed_backbone.py": "DL005",
    "dl005_helper_feeds_bare_placed_model.py": "DL005",
    # the factory is in a helper that returns it (`rotary_table`): the partner's device is
    # no name there, and the helper needs a new `device` parameter
    "dl005_rotary_table_follows_cpu_frequencies.py": "DL005",
    # a legacy constructor of a parameter (`torch.LongTensor(rows)`): a size or data?
    "dl005_default_device_skips_from_numpy.py": "DL005",
    # a legacy constructor of a comprehension's value (`torch.LongTensor(ids)`), made
    # before the rows it meets: a size or data, and whose device?
    "dl005_task_rows_not_moved.py": "DL005",
    # the partner is computed from two parameters (`prediction` and an element of `batch`):
    # which input's device to name is not known here
    "dl005_default_mask_on_cpu.py": "DL005",
    # the partner is the helper's per-frame losses (`losses` in `frame_loss`), no name in
    # the caller whose device the weight could take
    "dl005_default_loss_weight.py": "DL005",
    # a legacy constructor of a name given an accelerator (`torch.FloatTensor(rows,
    # device=device)`): a size or data?
    "dl005_legacy_constructor_given_device.py": "DL005",
    # the partner is the output of the model a constructor stored (`self.model`): a
    # module has no `.device`, and the trainer's own device is not known to be the model's
    "dl005_trainer_total_after_amp.py": "DL005",
    # DL009 has no autofix: which side should move is a design decision
    "dl009_bce_pos_weight_not_moved.py": "DL009",
    "dl009_cat_cpu_catalog.py": "DL009",
    "dl009_functional_ce_cpu_weight.py": "DL009",
    "dl009_gather_cpu_pseudo_labels.py": "DL009",
    "dl009_reference_output_diff.py": "DL009",
}


def _is_dl002(path: Path) -> bool:
    return path.name.startswith("dl002")


def _opts(device: str) -> Options:
    return Options(device=device, keep_going=False, max_batches=1, timeout=180)


@pytest.fixture(scope="session")
def fixed_dir(tmp_path_factory) -> Path:
    """A copy of the buggy fixtures with every fix applied (safe and unsafe)."""
    folder = tmp_path_factory.mktemp("fixed")
    for path in BUGGY:
        text = path.read_text(encoding="utf-8")
        target = folder / path.name
        result = fix_source(
            text, str(target), lambda t, p=str(target): check_source(t, p, ALL_RULES), unsafe=True
        )
        target.write_text(result.fixed, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def runs(fixed_dir: Path) -> dict[tuple[str, str], RunResult]:
    """("fixed" | "twin" | "snippet", name) -> result."""
    jobs: list[tuple[tuple[str, str], Path, Options]] = []
    for path in BUGGY:
        fixed_on, twin_on = ("cpu", "emulated") if _is_dl002(path) else ("emulated", "cpu")
        jobs.append((("fixed", path.name), fixed_dir / path.name, _opts(fixed_on)))
        jobs.append((("twin", path.name), path, _opts(twin_on)))
    for path in FIXED_SNIPPETS:
        device = "cpu" if _is_dl002(path) else "emulated"
        jobs.append((("snippet", path.name), path, _opts(device)))
    results = run_many(
        [Program(script=str(p)) for _, p, _ in jobs], [o for _, _, o in jobs], jobs=2
    )
    return {key: r for (key, _, _), r in zip(jobs, results)}


def _remaining(path: Path) -> set[str]:
    return {f.code for f in check_source(path.read_text(encoding="utf-8"), str(path), ALL_RULES)}


def test_the_fixtures_left_with_findings_are_the_known_ones(fixed_dir: Path) -> None:
    left = {p.name: _remaining(fixed_dir / p.name) for p in BUGGY}
    assert {name: codes for name, codes in left.items() if codes} == {
        name: {code} for name, code in NOT_FULLY_FIXED.items()
    }


def _describe(result: RunResult) -> str:
    events = "\n".join(f"  {e['kind']} {e['op']}: {e['message'][:160]}" for e in result.events)
    return f"status={result.status} exception={result.exception}\n{events}\n{result.output[-1500:]}"


FULLY_FIXED = [p for p in BUGGY if p.name not in NOT_FULLY_FIXED]


@pytest.mark.parametrize("path", FULLY_FIXED, ids=lambda p: p.name)
def test_fixed_program_runs_clean_where_the_bug_showed(runs, path: Path) -> None:
    result = runs[("fixed", path.name)]
    assert result.status == "ok", _describe(result)
    # a load that met only CPU storages cannot show DL008's bug (a file this program
    # writes with tensor-free payloads: issue 13, class 7); anything else is an event
    events = [
        e for e in result.events if not (e["kind"] == "load" and e.get("outcome") == "cpu-only")
    ]
    assert events == [], _describe(result)
    assert result.device == ("cpu" if _is_dl002(path) else "emulated")


@pytest.mark.parametrize("path", FULLY_FIXED, ids=lambda p: p.name)
def test_fixed_program_prints_what_its_correct_twin_prints(runs, path: Path) -> None:
    fixed, twin = runs[("fixed", path.name)], runs[("twin", path.name)]
    assert twin.status == "ok", _describe(twin)
    assert twin.output.strip(), "the twin printed nothing to compare"
    assert fixed.output == twin.output


@pytest.mark.parametrize(
    "path", [p for p in BUGGY if p.name in NOT_FULLY_FIXED], ids=lambda p: p.name
)
def test_a_partly_fixed_program_still_fails_as_the_left_finding_says(runs, path: Path) -> None:
    """The fixes that did apply broke nothing: the program now fails (or not) only because
    of the finding left, which is still a device error."""
    result = runs[("fixed", path.name)]
    assert result.status in ("exception", "ok"), _describe(result)
    if result.status == "exception":
        assert result.events, _describe(result)


@pytest.mark.parametrize("path", FIXED_SNIPPETS, ids=lambda p: p.name)
def test_fixed_snippets_run_with_no_device_event(runs, path: Path) -> None:
    result = runs[("snippet", path.name)]
    assert result.status == "ok", _describe(result)
    assert result.events == [], _describe(result)
