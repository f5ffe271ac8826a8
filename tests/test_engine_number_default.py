"""A parameter that defaults to a number and is made a tensor when it is one
(`if isinstance(threshold, Number): threshold = torch.tensor([threshold])`): on the path
of every caller that leaves it out, the CPU tensor is its value, as for `if mask is None:
mask = torch.ones(n)` (issue 14: pyannote's diarization error rate)."""

from __future__ import annotations

import textwrap

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES

LIBRARY = """\
import numbers
from numbers import Number

import torch


def binarize(preds: torch.Tensor, threshold=0.5):
    {test}
        threshold = torch.tensor([threshold], dtype=preds.dtype)
    return (preds.unsqueeze(-1) > threshold).float()
"""


def lines(source: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(source), "lib.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


@pytest.mark.parametrize(
    "test",
    [
        "if isinstance(threshold, Number):",
        "if isinstance(threshold, numbers.Number):",
        "if isinstance(threshold, (int, float)):",
        "if not isinstance(threshold, torch.Tensor):",
        "if not torch.is_tensor(threshold):",
        "scalar = isinstance(threshold, float)\n    if scalar:",
    ],
)
def test_the_default_path_makes_a_cpu_tensor(test: str) -> None:
    source = LIBRARY.format(test=test)
    line = 9 if "scalar =" not in test else 10
    assert lines(source) == [("DL005", line)]


@pytest.mark.parametrize(
    "test",
    [
        # a test of something else: both paths join, nothing certain
        "if isinstance(threshold, str):",
        # the name is assigned twice: what `if scalar:` tests is not known
        "scalar = isinstance(threshold, float)\n    scalar = False\n    if scalar:",
    ],
)
def test_other_tests_keep_the_join(test: str) -> None:
    assert lines(LIBRARY.format(test=test)) == []


def test_a_device_following_tensor_is_silent() -> None:
    source = LIBRARY.format(test="if isinstance(threshold, Number):").replace(
        "dtype=preds.dtype)", "dtype=preds.dtype, device=preds.device)"
    )
    assert lines(source) == []


def test_a_default_of_none_is_not_a_number() -> None:
    # `threshold=None` never takes an `isinstance(..., Number)` branch by default
    source = LIBRARY.format(test="if isinstance(threshold, Number):").replace(
        "threshold=0.5", "threshold=None"
    )
    assert lines(source) == []


HELPER = """\
from numbers import Number

import torch


def _update(preds: torch.Tensor, threshold=0.5):
    if isinstance(threshold, Number):
        threshold = torch.tensor([threshold])
    return preds > threshold


def rate(preds: torch.Tensor, threshold={outer}):
    return _update(preds, threshold={passed}).float().mean()
"""


def test_a_relayed_default_still_reaches_the_helpers_default_path() -> None:
    # every call passes `threshold`, but `rate`'s own callers may leave it out
    assert lines(HELPER.format(outer="0.5", passed="threshold")) == [("DL005", 8)]


def test_a_helper_whose_every_call_passes_a_tensor_is_silent() -> None:
    source = HELPER.format(outer="0.5", passed="torch.full((1,), threshold, device=preds.device)")
    assert lines(source) == []


def test_a_default_relayed_to_a_constructor_binds_past_self() -> None:
    # `_Scaled(ref, scale)` hands on `scaled`'s own default: the constructor's `scale`
    # (after `self`), not its first parameter, is the one relayed
    source = """\
    from numbers import Number

    import torch


    class _Scaled:
        def __init__(self, ref: torch.Tensor, scale=1.0):
            if isinstance(scale, Number):
                scale = torch.tensor([scale])
            self.value = ref * scale


    def scaled(ref: torch.Tensor, scale=1.0):
        return _Scaled(ref, scale).value
    """
    assert lines(source) == [("DL005", 9)]
