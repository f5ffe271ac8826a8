"""The text report and the program's warnings (issue 15, item 8).

* A MISSED BY STATIC line, and a CONFIRMED one, says where the operands were made and
  moved (file:line of each) and who called the failing line, so two events of one helper
  never print as the same line.
* The program's own warnings (`warnings.warn` in its code or in torch, C++ `TORCH_WARN`)
  point at the program's line, not at `devlint/runtime/tracer.py`, on every device, and
  the program's filters still apply to them.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

from devlint.findings import Finding
from devlint.runtime.confirm import (
    CONFIRMED,
    Confirmation,
    Options,
    Program,
    Report,
    RunResult,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)
from devlint.runtime.render import render
from tests.runtime_helpers import RUN_JOBS

PROGRAMS: dict[str, str] = {
    # One helper fails for two CPU copies, called from two lines: two events the static
    # pass does not see (a copy made by `.cpu()` is no factory it follows into `scale`).
    "helper_two_callers": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


        def scale(x, w):
            return x * w


        w = torch.ones(3).to(device)
        a = w.cpu()
        b = (w * 2).cpu()
        scale(a, w)
        scale(b, w)
        """,
    # The same helper given two CPU factories: the static pass reports each factory
    # (met in `scale`, which it is passed to), and each is confirmed by its own event.
    "helper_two_factories": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


        def scale(x, w):
            return x * w


        w = torch.ones(3).to(device)
        a = torch.ones(3)
        b = torch.full((3,), 2.0)
        scale(a, w)
        scale(b, w)
        """,
    # A discarded move: the CONFIRMED line names the move and the origin.
    "discarded_move": """\
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = torch.nn.Linear(4, 2).to(device)


        def predict(x):
            return model(x)


        x = torch.randn(5, 4)
        x.to(device)
        print(predict(x).shape)
        """,
    # Warnings of torch (C++ and Python) and of the program, through the harness.
    "warnings_prog": """\
        import warnings

        import torch
        import torch.nn.functional as F

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        w = torch.ones(3, device=device)


        def old_api():
            warnings.warn("old_api is deprecated", UserWarning, stacklevel=2)


        t = torch.tensor(w)
        p = F.softmax(w)
        old_api()
        old_api()
        t2 = torch.tensor(w)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.tensor(w)
        print("caught at", [(os.path.basename(c.filename), c.lineno) for c in caught])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                torch.tensor(w)
            except UserWarning as exc:
                print("raised:", str(exc)[:20])
        print("done")
        """,
}
WARNINGS_FIRST_LINE = "import os\n"  # the program prints basenames


@pytest.fixture(scope="session")
def programs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("text")
    for name, text in PROGRAMS.items():
        body = textwrap.dedent(text)
        if name == "warnings_prog":
            # `import os` on the first line keeps the line numbers below as written + 1.
            body = WARNINGS_FIRST_LINE + body
        (root / f"{name}.py").write_text(body)
    return root


@pytest.fixture(scope="session")
def results(programs: Path) -> dict[str, RunResult]:
    jobs = [(f"{n}@emulated", n, Options(device="emulated", keep_going=True)) for n in PROGRAMS]
    jobs += [("warnings_prog@cpu", "warnings_prog", Options(device="cpu", keep_going=True))]
    out = run_many(
        [Program(script=str(programs / f"{n}.py")) for _, n, _ in jobs],
        [o for *_, o in jobs],
        jobs=RUN_JOBS,
    )
    return {key: r for (key, _, _), r in zip(jobs, out)}


def _report(programs: Path, results: dict[str, RunResult], key: str) -> Report:
    path = programs / f"{key.split('@')[0]}.py"
    result = results[key]
    program = Program(script=str(path))
    items, missed = confirm_findings(static_findings(files_that_ran(result, program)), result)
    return Report(program, result, items, missed)


def _rel(path: Path) -> str:
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


# --- origins, moves and callers in the text ---------------------------------------------------


def test_two_events_of_one_helper_print_their_callers_and_origins(programs, results) -> None:
    report = _report(programs, results, "helper_two_callers@emulated")
    assert report.result.status == "ok", report.result.output
    text = render(report, "text")
    missed = [line for line in text.splitlines() if "MISSED BY STATIC" in line]
    prog = _rel(programs / "helper_two_callers.py")
    assert len(missed) == 2, text
    assert len(set(missed)) == 2  # not the same line twice
    for line, caller, origin in ((missed[0], 13, 11), (missed[1], 14, 12)):
        assert line.startswith(f"{prog}:7: MISSED BY STATIC aten::mul.Tensor [cuda:0, cpu] ")
        assert f"| in scale() called from {prog}:{caller} |" in line, line
        assert (
            f"operands: self on cpu made at {prog}:{origin}; other on cuda:0 made at {prog}:10"
            in line
        )


def test_factories_passed_to_one_helper_are_each_confirmed_with_their_caller(
    programs, results
) -> None:
    report = _report(programs, results, "helper_two_factories@emulated")
    assert report.result.status == "ok", report.result.output
    confirmed = sorted((f.line, c.verdict) for f, c in report.items if f.code == "DL005")
    assert confirmed == [(11, CONFIRMED), (12, CONFIRMED)]
    prog = _rel(programs / "helper_two_factories.py")
    lines = [ln for ln in render(report, "text").splitlines() if ": DL005 CONFIRMED " in ln]
    assert len(lines) == 2 and not [ln for ln in lines if "MISSED" in ln]
    for line, caller, origin in zip(lines, (13, 14), (11, 12)):
        assert "in `scale`, which it is passed to" in line, line
        assert f"in scale() called from {prog}:{caller} |" in line, line
        assert f"operands: self on cpu made at {prog}:{origin};" in line, line


def test_a_confirmed_line_shows_the_discarded_move_and_the_origin(programs, results) -> None:
    report = _report(programs, results, "discarded_move@emulated")
    ((finding, conf),) = [(f, c) for f, c in report.items if f.code == "DL004"]
    assert conf.verdict == CONFIRMED and finding.line == 12
    prog = _rel(programs / "discarded_move.py")
    (line,) = [ln for ln in render(report, "text").splitlines() if ": DL004 CONFIRMED " in ln]
    assert f"[cuda:0, cpu] at {prog}:8 in predict() called from {prog}:13 | operands: " in line
    assert f"made at {prog}:11, moved at {prog}:12 to cuda:0 (result unused)" in line, line


def _event(lines: list[int], origin: int | None, function: str = "helper") -> dict:
    frames = [
        {"path": "p.py", "line": n, "function": function if i == 0 else "f", "first_line": 1}
        for i, n in enumerate(lines)
    ]
    return {
        "kind": "mismatch",
        "op": "aten::add.Tensor",
        "message": "Expected all tensors to be on the same device",
        "exception": "RuntimeError",
        "devices": ["cuda:0", "cpu"],
        "frames": frames,
        "operands": [
            {"name": "self", "device": "cpu", "origin": ["p.py", origin] if origin else None},
            {"name": "other", "device": "cuda:0", "origin": ["p.py", 2], "moves": []},
        ],
    }


def _synthetic(missed: list[dict], items=()) -> str:
    result = RunResult("ok", 0, "emulated", None, list(missed), {}, [], 0.1)
    return render(Report(Program(script="p.py"), result, list(items), missed), "text")


def test_events_alike_but_for_a_far_caller_print_the_chain_until_they_differ() -> None:
    text = _synthetic([_event([5, 9, 20], 3), _event([5, 9, 30], 3), _event([5, 12], 3)])
    lines = text.splitlines()[:3]
    assert "called from p.py:9 <- p.py:20 |" in lines[0]
    assert "called from p.py:9 <- p.py:30 |" in lines[1]
    assert "called from p.py:12 |" in lines[2]  # distinct with one caller: no chain
    assert len(set(lines)) == 3


def test_an_operand_made_outside_the_users_code_says_so() -> None:
    line = _synthetic([_event([5], None)]).splitlines()[0]
    assert line.endswith(
        "| in helper() | operands: self on cpu made outside the user's code; "
        "other on cuda:0 made at p.py:2"
    )


def test_a_confirmed_load_shows_its_storages_and_a_missing_device_its_binding() -> None:
    load = {
        "kind": "load",
        "op": "torch.load",
        "message": "Attempting to deserialize object on a CUDA device",
        "exception": "RuntimeError",
        "devices": ["cuda", "cpu"],
        "frames": [{"path": "p.py", "line": 4, "function": "<module>", "first_line": 1}],
        "operands": [],
        "outcome": "failed",
        "storages": {
            "cuda:0": {"count": 2, "tensors": ["w", "b"]},
            "cpu": {"count": 1, "tensors": ["step"]},
        },
    }
    finding = Finding("DL008", "torch-load", "no map_location", "p.py", 4, 9, 4, 20)
    conf = Confirmation(CONFIRMED, "RuntimeError: Attempting", ["cuda", "cpu"], load, "frames")
    line = _synthetic([], [(finding, conf)]).splitlines()[0]
    assert line.endswith(
        "[cuda, cpu] at p.py:4 in <module>() | storages: 2 storages on cuda:0 (w, b) and 1 on cpu (step)"
    )
    no_accel = {**load, "kind": "no-accelerator", "storages": None, "bindings": [["p.py", 2]]}
    text = _synthetic([no_accel])
    assert "| in <module>() | device bound at p.py:2" in text.splitlines()[0]


# --- warnings point at the program ----------------------------------------------------------


def _warnings(output: str) -> list[tuple[str, int, str]]:
    return [
        (os.path.basename(m.group(1)), int(m.group(2)), m.group(3))
        for m in re.finditer(r"^(\S+\.py):(\d+): (\w*Warning): ", output, re.MULTILINE)
    ]


@pytest.mark.parametrize("key", ["warnings_prog@emulated", "warnings_prog@cpu"])
def test_the_programs_warnings_point_at_its_own_lines(results, key: str) -> None:
    result = results[key]
    assert result.status == "ok", result.output
    assert "devlint" not in "".join(
        line for line in result.output.splitlines() if "Warning" in line
    ), result.output
    shown = _warnings(result.output)
    prog = "warnings_prog.py"
    assert (prog, 15, "UserWarning") in shown  # torch.tensor(w): C++ TORCH_WARN
    assert (prog, 16, "UserWarning") in shown  # F.softmax(w): Python, stacklevel
    # stacklevel=2 from the program's own helper, called twice: once per calling line.
    assert (prog, 17, "UserWarning") in shown and (prog, 18, "UserWarning") in shown
    # The same C++ warning from another line of the program is shown again.
    assert (prog, 19, "UserWarning") in shown
    assert all(path == prog for path, _, _ in shown), shown
    # The program's own capture and filters see its lines.
    assert "caught at [('warnings_prog.py', 22)]" in result.output
    assert "raised: To copy construct" in result.output
    assert "done" in result.output


def test_warnings_keep_the_source_line_of_the_program(results) -> None:
    output = results["warnings_prog@emulated"].output
    assert "  t = torch.tensor(w)" in output
    assert "  p = F.softmax(w)" in output


def test_a_warning_is_placed_without_the_globals_of_a_script_with_no_loader() -> None:
    """Python 3.12's `warn_explicit` raises for globals whose `__spec__` and `__loader__`
    are None (a real GPU run died so at a CUDA legacy constructor's warning): such globals
    are not passed, and the source line is read from the file."""
    from devlint.runtime.install import _has_loader

    assert not _has_loader({"__name__": "__main__", "__spec__": None, "__loader__": None})
    assert not _has_loader({"__name__": "__main__"})
    assert _has_loader({"__loader__": object()})
    assert _has_loader({"__spec__": type("Spec", (), {"loader": object()})()})
