"""Precision (issue 13): values that are on the host by design.  `nn.CTCLoss` takes its
targets and lengths on the CPU, as `F.ctc_loss` does, whether the module is a local or
kept on a model; a plain class named for preprocessing runs in the data pipeline."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
    return sorted((f.code, f.line) for f in found)


ALIGNER = """\
    import torch
    from torch import nn
    class Aligner(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 5)
            self.ctc = nn.CTCLoss()
        def forward(self, feats, lens):
            logp = self.proj(feats).log_softmax(-1).transpose(0, 1)
            target = torch.arange(1, 4).unsqueeze(0)
            return self.ctc({args})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Aligner().to(device)
    print(model(torch.randn(1, 6, 8, device=device), torch.tensor([6], device=device)))
    """


def test_ctc_targets_and_lengths_may_stay_on_the_cpu() -> None:
    for args in (
        "logp, target, lens, torch.tensor([3])",
        "logp, target, input_lengths=lens, target_lengths=torch.tensor([3])",
        "log_probs=logp, targets=target, input_lengths=lens, target_lengths=torch.tensor([3])",
    ):
        assert _found(ALIGNER.replace("{args}", args)) == [], args


def test_cpu_log_probabilities_still_fail() -> None:
    src = ALIGNER.replace("{args}", "torch.randn(6, 1, 5), target, lens, torch.tensor([3])")
    assert _found(src) == [("DL005", 11)]


PREPROCESSING = """\
    import torch
    class {name}:
        def __init__(self, clip):
            self.clip = clip
        def _pad(self, frames):
            zeros = torch.zeros(self.clip, *frames.shape[1:])
            return torch.cat((frames, zeros), 0)
        def __call__(self, frames):
            return self._pad(frames / 255.0)
    """


def test_a_plain_preprocessing_class_runs_in_the_data_pipeline() -> None:
    # library code: a public method's tensor may come from anywhere, except in the data
    # pipeline, where it is CPU data
    for name in ("Preprocessing", "VideoPreprocessor"):
        src = PREPROCESSING.replace("{name}", name)
        found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
        assert found == [], name
    src = PREPROCESSING.replace("{name}", "Padder")
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
    assert sorted((f.code, f.line) for f in found) == [("DL005", 6)]
