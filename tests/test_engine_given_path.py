"""Recall (issue 14): a value that is on the CPU when an optional tensor parameter is left
out and on that parameter's device when it is given, read into NumPy by a public library
function; and the indices of a store (`emb[mask.numpy()] = nan`), which run too."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

EMBED = """\
    import numpy as np
    import torch
    import torch.nn.functional as F
    class Embedding:
        def __call__(self, waveforms: torch.Tensor, masks: torch.Tensor = None):
            batch_size, _, num_samples = waveforms.shape
            if masks is None:
                lengths = num_samples * torch.ones(batch_size)
            else:
                lengths = (F.interpolate(masks[:, None], size=num_samples) > 0.5).sum(dim=1)
            too_short = lengths < 640
            embeddings = np.zeros((batch_size, 4))
            embeddings[too_short.numpy()] = np.nan
            return embeddings
"""


def _found(src: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


def test_numpy_on_the_given_parameter_path_in_a_store_index() -> None:
    assert _found(EMBED) == [("DL007", 13)]


def test_the_host_copy_is_silent() -> None:
    assert _found(EMBED.replace("too_short.numpy()", "too_short.cpu().numpy()")) == []


def test_a_script_helper_has_no_contract() -> None:
    # closed world: no call here passes `masks` on an accelerator
    assert _found(EMBED, role="script") == []


def test_cpu_on_one_path_and_a_move_on_the_other_is_not_this_rule() -> None:
    src = EMBED.replace(
        "lengths = (F.interpolate(masks[:, None], size=num_samples) > 0.5).sum(dim=1)",
        "lengths = torch.ones(batch_size)",
    )
    assert "masks[:, None]" not in src
    assert _found(src) == []


def test_store_indices_are_evaluated() -> None:
    src = """\
        import torch
        def scatter(x: torch.Tensor, out):
            out[torch.zeros(3, 2) + x] = 1
            return out
    """
    assert _found(src) == [("DL005", 3)]
