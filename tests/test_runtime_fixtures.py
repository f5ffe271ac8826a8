"""Every fixture, run under the runtime harness: the `# expect:` lines are CONFIRMED at run
time, the clean programs run to completion with no device event, wrong findings planted on
correct lines come back REFUTED.

All the fixture programs run once per session, two at a time, forked from one process that
imported torch once (`devlint.runtime.confirm.run_many`), each with `--max-batches 1`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.runtime.confirm import (
    CONFIRMED,
    NOT_REACHED,
    REFUTED,
    UNTESTED,
    Options,
    Program,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from tests.fixture_expectations import expectations, fixture_files
from tests.runtime_helpers import RUN_JOBS, planted

BUGGY = fixture_files("buggy")
CLEAN = fixture_files("clean")
DL002 = [p for p in BUGGY if p.name.startswith("dl002")]
DL008 = [p for p in BUGGY if p.name.startswith("dl008")]
# The verdict each DL008 fixture gets, per device.  Every one saves its checkpoint and
# loads it back in the same run, so no load ever fails: on the (emulated) accelerator the
# load *would* fail on a CPU-only machine (UNTESTED, saying which storages are on which
# device); with no accelerator the program saved CPU storages, which cannot show the bug
# (UNTESTED).  CONFIRMED needs a load that really failed: a checkpoint saved on the
# emulated accelerator, loaded by a `--device cpu` run
# (`tests/test_runtime_checkpoints.py`, `tests/test_runtime_emulation.py`).
DL008_VERDICTS: dict[str, dict[str, str]] = {
    "dl008_load_checkpoint_helper.py": {"emulated": UNTESTED, "cpu": UNTESTED},
    "dl008_open_file_handle.py": {"emulated": UNTESTED, "cpu": UNTESTED},
    "dl008_positional_path.py": {"emulated": UNTESTED, "cpu": UNTESTED},
    "dl008_reload_elsewhere_written_path.py": {"emulated": UNTESTED, "cpu": UNTESTED},
    "dl008_weights_only_without_map_location.py": {"emulated": UNTESTED, "cpu": UNTESTED},
}


def expected_verdict(name: str, code: str, device: str) -> str:
    """What a `# expect:` line of fixture `name` gets when run on `device`."""
    if code == "DL008":
        return DL008_VERDICTS[name][device]
    return CONFIRMED


# Rules the emulated accelerator shows; DL002 shows where there is no accelerator.
EMULATED_RULES = {"DL001", "DL003", "DL004", "DL005", "DL006", "DL007", "DL008", "DL009"}


@pytest.fixture(scope="session")
def runs() -> dict[tuple[str, str], RunResult]:
    """(kind, fixture name) -> result, for: buggy/emulated/--keep-going, clean/emulated,
    dl002 and dl008/--device cpu/--keep-going."""
    jobs: list[tuple[tuple[str, str], Path, Options]] = []
    for path in BUGGY:
        jobs.append((("emulated", path.name), path, _opts("emulated", keep_going=True)))
    for path in CLEAN:
        jobs.append((("clean", path.name), path, _opts("emulated", keep_going=False)))
    for path in DL002 + DL008:
        jobs.append((("cpu", path.name), path, _opts("cpu", keep_going=True)))
    results = run_many(
        [Program(script=str(p)) for _, p, _ in jobs], [o for _, _, o in jobs], jobs=RUN_JOBS
    )
    return {key: r for (key, _, _), r in zip(jobs, results)}


def _opts(device: str, keep_going: bool) -> Options:
    return Options(device=device, keep_going=keep_going, max_batches=1, timeout=180)


def _verdicts(path: Path, result: RunResult):
    findings = static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"])
    return confirm_findings(findings, result)


def _describe(result: RunResult) -> str:
    events = "\n".join(
        f"  {e['kind']} {e['op']} at line {e['frames'][0]['line'] if e['frames'] else '?'}: "
        f"{e['message'][:120]}"
        for e in result.events
    )
    return f"status={result.status} exception={result.exception}\nevents:\n{events}\n{result.output[-2000:]}"


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.name)
def test_buggy_fixture_expectations_are_confirmed(runs, path: Path) -> None:
    kind = "cpu" if path.name.startswith("dl002") else "emulated"
    result = runs[(kind, path.name)]
    items, missed = _verdicts(path, result)
    verdicts = {(f.code, f.line): c for f, c in items}
    expected = expectations(path)
    assert expected
    for code, line in sorted(expected):
        conf = verdicts.get((code, line))
        assert conf is not None, f"no static {code} finding at line {line}"
        want = expected_verdict(path.name, code, kind)
        assert conf.verdict == want, (
            f"{path.name}:{line} {code} is {conf.verdict}, not {want}: {conf.message}\n"
            + _describe(result)
        )
        if want == CONFIRMED:
            assert conf.message.split(":", 1)[0] in ("RuntimeError", "TypeError", "AssertionError")
    # The harness saw nothing that the static pass did not report.
    assert not missed, _describe(result)


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.name)
def test_buggy_fixture_runs_to_completion_with_keep_going(runs, path: Path) -> None:
    kind = "cpu" if path.name.startswith("dl002") else "emulated"
    result = runs[(kind, path.name)]
    assert result.status == "ok", _describe(result)
    # Every error was healed (a DL008 load event is no error: it would be one on a
    # CPU-only machine).
    assert all(e.get("healed") or e["kind"] == "load" for e in result.events)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_fixture_has_no_device_event(runs, path: Path) -> None:
    """No device error.  A load without map_location that did not fail is recorded
    (`would-fail`/`cpu-only`) but is no error: a clean program may read back, on the
    machine that wrote it, a file saved earlier in the same function (issue 13, class 7),
    which the harness cannot tell from a checkpoint brought from elsewhere."""
    result = runs[("clean", path.name)]
    assert result.status == "ok", _describe(result)
    assert result.device == "emulated"
    errors = [
        e for e in result.events if not (e["kind"] == "load" and e.get("outcome") != "failed")
    ]
    assert errors == [], _describe(result)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_planted_findings_on_correct_lines_are_refuted(runs, path: Path) -> None:
    """A finding of every emulated rule planted on lines of the clean program that ran
    (none of them a device error) is REFUTED (DL008: UNTESTED, never REFUTED)."""
    result = runs[("clean", path.name)]
    ran = sorted(result.lines.get(str(path), ()))
    assert ran, "no line coverage"
    findings = [
        planted(path, line, code)
        for line in ran[:: max(1, len(ran) // 12)]
        for code in EMULATED_RULES
    ]
    items, _ = confirm_findings(findings, result)
    wrong = [(f.code, f.line, c.verdict) for f, c in items if c.verdict != _planted(f.code)]
    assert not wrong, wrong


def test_planted_findings_on_unrelated_lines_of_buggy_programs_are_not_confirmed(runs) -> None:
    """Linking is by the event's frames, its operands' creation sites and discarded moves:
    a finding on a line that ran but took no part in the error is not confirmed."""
    checked = 0
    for path in BUGGY:
        if path.name.startswith("dl002"):
            continue
        result = runs[("emulated", path.name)]
        lines = path.read_text().splitlines()
        seed = [i + 1 for i, text in enumerate(lines) if "torch.manual_seed" in text]
        for line in seed:
            for code in EMULATED_RULES:
                ((_, conf),) = confirm_findings([planted(path, line, code)], result)[0]
                assert conf.verdict == _planted(code), (path.name, line, code, conf)
                checked += 1
    assert checked > 100


def test_a_finding_on_a_line_that_never_ran_is_not_reached(runs) -> None:
    path = next(p for p in CLEAN if p.name == "dl001_build_model_moves.py")
    result = runs[("clean", path.name)]
    ran = result.lines[str(path)]
    missing = next(n for n in range(1, 500) if n not in ran and n > max(ran))
    ((_, conf),) = confirm_findings([planted(path, missing, "DL001")], result)[0]
    assert conf.verdict == NOT_REACHED


def test_keep_going_confirms_several_findings_in_one_run(runs) -> None:
    path = next(p for p in BUGGY if p.name == "dl007_metric_helper_params.py")
    items, _ = _verdicts(path, runs[("emulated", path.name)])
    confirmed = [f.line for f, c in items if c.verdict == CONFIRMED]
    assert len(confirmed) == 4
    path = next(p for p in BUGGY if p.name == "dl005_numpy_stats_class_mask.py")
    items, _ = _verdicts(path, runs[("emulated", path.name)])
    assert [c.verdict for _, c in items] == [CONFIRMED, CONFIRMED]
    messages = {c.message for _, c in items}
    assert len(messages) == 2  # two different errors, each from its own operation


def test_real_error_texts(runs) -> None:
    """The emulation raises PyTorch's own texts, with the CUDA kernel names."""

    def message(name: str, kind: str = "emulated") -> str:
        events = runs[(kind, name)].events
        assert events, name
        return events[0]["message"]

    assert message("dl001_cached_features_not_moved.py") == (
        "Expected all tensors to be on the same device, but got mat1 is on cpu, different "
        "from other tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)"
    )
    assert message("dl006_anchor_grid_attr.py") == (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!"
    )
    assert message("dl007_outputs_numpy_after_to.py") == (
        "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
        "tensor to host memory first."
    )
    assert message("dl003_trainer_branch_only_move.py") == (
        "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the "
        "same or input should be a MKLDNN tensor and weight is a dense tensor"
    )
    assert "wrapper_CUDA__index_select" in message("dl005_arange_in_forward.py")
    assert "got target is on cpu" in message("dl003_tuple_batch_labels_not_moved.py")
    assert "wrapper_CUDA_nll_loss_forward" in message("dl003_tuple_batch_labels_not_moved.py")
    assert "got tensors is on cpu" in message("dl005_helper_cat_ones.py")
    assert "wrapper_CUDA_gather" in message("dl009_gather_cpu_pseudo_labels.py")
    assert message("dl005_seq2seq_init_hidden.py") == (
        "Input and hidden tensors are not at the same device, found input tensor at cuda:0 "
        "and hidden tensor at cpu"
    )
    assert message("dl006_causal_mask_plain_attr.py") == (
        "expected self and mask to be on the same device, but got mask on cpu and self on cuda:0"
    )
    assert message("dl008_positional_path.py").startswith(
        "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
        "False. If you are running on a CPU-only machine, please use torch.load with "
        "map_location=torch.device('cpu')"
    )
    # The CPU build, a CUDA build with no driver, a CUDA build with no GPU:
    assert any(
        text in message("dl002_unguarded_cuda_calls.py", "cpu")
        for text in (
            "Torch not compiled with CUDA enabled",
            "Found no NVIDIA driver on your system",
            "No CUDA GPUs are available",
        )
    )


def test_events_carry_frames_operands_and_creation_sites(runs) -> None:
    event = runs[("emulated", "dl004_gan_noise_cuda_discarded.py")].events[0]
    assert event["kind"] == "mismatch"
    assert event["devices"] == ["cuda:0", "cpu"]
    assert event["frames"][0]["line"] == 49  # fake = netG(noise)
    noise = next(o for o in event["operands"] if o["device"] == "cpu")
    assert noise["origin"][1] == 41  # noise = torch.randn(b, NZ)
    assert [m[1] for m in noise["moves"]] == [46]  # noise.cuda(), discarded
    assert noise["moves"][0][2] == "cuda:0"


def _planted(code: str) -> str:
    """The verdict of a wrong finding planted on a line that ran: REFUTED, except DL008,
    which no run refutes (a checkpoint saved elsewhere may still fail to load): UNTESTED."""
    return UNTESTED if code == "DL008" else REFUTED


def test_every_dl008_fixture_has_an_expected_verdict() -> None:
    assert sorted(DL008_VERDICTS) == sorted(p.name for p in DL008)


@pytest.mark.parametrize("path", DL008, ids=lambda p: p.name)
def test_a_dl008_load_that_did_not_fail_is_untested_never_refuted_nor_missed(
    runs, path: Path
) -> None:
    """The load ran and did not fail (issue 15, item 4): on the emulated accelerator it
    would fail on a CPU-only machine, and the verdict says which storages are on which
    device; under --device cpu the checkpoint had CPU storages only.  Neither is a
    MISSED BY STATIC error, and the program exits clean (nothing confirmed)."""
    ((code, line),) = expectations(path)
    for kind, text in (
        ("emulated", "would fail on a CPU-only machine"),
        ("cpu", "no accelerator storage"),
    ):
        result = runs[(kind, path.name)]
        items, missed = _verdicts(path, result)
        conf = next(c for f, c in items if (f.code, f.line) == (code, line))
        assert conf.verdict == DL008_VERDICTS[path.name][kind] == UNTESTED
        assert text in conf.message, conf.message
        assert f"torch.load at {os.path.relpath(path)}:{line}" in conf.message
        assert (" on cuda:0 (" if kind == "emulated" else " on cpu (") in conf.message
        assert not missed, _describe(result)
        assert not any(c.verdict == CONFIRMED for _, c in items)
        outcome = "would-fail" if kind == "emulated" else "cpu-only"
        assert [
            e["outcome"]
            for e in result.events
            if e["kind"] == "load" and e["frames"][0]["line"] == line
        ] == [outcome]
        assert not any(e.get("outcome") == "failed" for e in result.events)
