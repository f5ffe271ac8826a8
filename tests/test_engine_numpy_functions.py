"""NumPy functions given a tensor read it with `Tensor.__array__`, which is `.numpy()`:
on an accelerator tensor they raise as `.numpy()` does (sentence-transformers' semantic
search example, `np.argpartition(-cos_scores, ...)` on GPU scores).  DL007 reports the
call, with a fix that copies a tensor argument to the host; a list of tensors is
reported without a fix; scalar types and host copies stay silent."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.fix import fix_source
from devlint.rules import RULES_BY_CODE

SOURCE = textwrap.dedent(
    """\
    import numpy as np
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    scores = torch.randn(10, device=device)
    top = np.argsort(-scores)
    mean = np.mean([scores[0], scores[1]])
    host = np.asarray(scores.cpu())
    items = np.mean([scores[0].item(), scores[1].item()])
    number = np.float32(scores.sum().item())
    """
)
DL007 = [RULES_BY_CODE["DL007"]]


def test_numpy_functions_reading_device_tensors_fire() -> None:
    found = check_source(SOURCE, "search.py", DL007)
    assert [(f.line, f.fix is not None) for f in found] == [(6, True), (7, False)]
    assert "`np.argsort` reads `-scores` into NumPy" in found[0].message


def test_the_fix_copies_the_argument_to_the_host() -> None:
    result = fix_source(SOURCE, "search.py", lambda text: check_source(text, "search.py", DL007))
    assert "top = np.argsort((-scores).cpu())" in result.fixed
    left = check_source(result.fixed, "search.py", DL007)
    assert [f.line for f in left] == [7]  # the list: no fix


UNCERTAIN = textwrap.dedent(
    """\
    import numpy as np
    import torch


    def preprocess(image):
        return np.array(image).astype(np.float32) / 255.0


    def check(pipe, inputs, device):
        pipe = pipe.to(device)
        images = pipe(**inputs).images
        return np.abs(images[0, -3:, -3:, -1]).max()
    """
)


def test_values_not_certainly_tensors_stay_silent() -> None:
    """A NumPy function does not say its argument is a tensor, as `.numpy()` does: a
    library function's parameter may be an image or an array, and what a pipeline
    returns (`.images`) is an array; in library code too."""
    for role in ("library", "script"):
        assert check_source(UNCERTAIN, "pkg/utils.py", DL007, role=role) == []
