"""A legacy constructor given an accelerator `device=` fails where it is made, whatever
its tensor meets: DL005 reports it (with a safe fix to the factory that takes a device)
whenever the device may be an accelerator: in library code whatever device a caller
chooses, in a script or test only where a call here passes one."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.fix import fix_source
from devlint.rules import ALL_RULES


def _check(src: str, role: str = "script") -> list:
    return check_source(src, "m.py", ALL_RULES, role=role)


PROGRAM = textwrap.dedent(
    """\
    import torch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    weights = torch.FloatTensor([0.2, 0.8], device=device)
    sizes = torch.LongTensor(2, 3, device=device)
    on_host = torch.FloatTensor([0.2, 0.8], device="cpu")
    print(weights, sizes, on_host)
    """
)


def test_legacy_constructors_given_an_accelerator_are_reported() -> None:
    found = _check(PROGRAM)
    assert [(f.code, f.line) for f in found] == [("DL005", 3), ("DL005", 4)]
    assert "legacy constructor expects device type: cpu" in found[0].message
    assert "`device` is an accelerator" in found[0].message


def test_the_fix_makes_the_tensor_with_a_factory_that_takes_a_device() -> None:
    result = fix_source(PROGRAM, "m.py", _check)
    assert "torch.tensor([0.2, 0.8], device=device, dtype=torch.float32)" in result.fixed
    assert "torch.empty(2, 3, device=device, dtype=torch.int64)" in result.fixed
    assert 'torch.FloatTensor([0.2, 0.8], device="cpu")' in result.fixed
    assert [f.code for f in result.remaining] == []
    compile(result.fixed, "m.py", "exec")


HELPERS = textwrap.dedent(
    """\
    import torch
    def weights(device="cpu"):
        return torch.FloatTensor([0.2, 0.8], device=device)
    def like(x):
        return torch.FloatTensor([0.2, 0.8], device=x.device)
    """
)


def test_library_code_is_called_with_any_device() -> None:
    # a device parameter, or an input's device, exists to follow the caller: a legacy
    # constructor cannot honour it for anything but the CPU
    assert [(f.code, f.line) for f in _check(HELPERS, "library")] == [
        ("DL005", 3),
        ("DL005", 5),
    ]


def test_a_script_helper_fails_only_for_a_call_that_passes_an_accelerator() -> None:
    assert _check(HELPERS + "print(weights(), like(torch.ones(2)))\n") == []
    placing = (
        HELPERS + 'print(weights(torch.device("cuda" if torch.cuda.is_available() else "cpu")))\n'
    )
    assert [(f.code, f.line) for f in _check(placing)] == [("DL005", 3)]
