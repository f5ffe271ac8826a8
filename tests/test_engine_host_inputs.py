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


REFUSES = """\
    import torch
    class Tree:
        def __init__(self, logits):
            {guard}
            self.logits = logits
        def laplacian(self):
            v = self.logits.shape[-1]
            return torch.eye(v) - self.logits.exp()
    def normalise(x):
        {fguard}
        return x / torch.ones(x.shape[-1])
    """


def _library(src: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
    return sorted((f.code, f.line) for f in found)


def test_code_that_refuses_accelerator_tensors_sees_cpu_ones() -> None:
    for guard, fguard in (
        ("if logits.is_cuda: raise NotImplementedError('no CUDA')", "assert not x.is_cuda"),
        ('if logits.device.type != "cpu": raise ValueError', 'assert x.device.type == "cpu"'),
    ):
        src = REFUSES.replace("{guard}", guard).replace("{fguard}", fguard)
        assert _library(src) == [], guard


def test_code_that_needs_the_accelerator_keeps_its_findings() -> None:
    guard, fguard = "if not logits.is_cuda: raise ValueError('CUDA only')", "assert x.is_cuda"
    src = REFUSES.replace("{guard}", guard).replace("{fguard}", fguard)
    assert _library(src) == [("DL005", 8), ("DL005", 11)]


def test_a_branch_for_fx_symbolic_tracing_never_sees_real_tensors() -> None:
    src = """\
        import torch
        from transformers.utils import is_torch_fx_proxy
        def shift_right(input_ids, start):
            if is_torch_fx_proxy(input_ids):
                first = torch.full(input_ids.shape[:-1] + (1,), start)
                return torch.cat([first, input_ids[..., :-1]], dim=-1)
            shifted = input_ids.new_zeros(input_ids.shape)
            shifted[..., 1:] = input_ids[..., :-1].clone()
            return shifted
        def shift_right_bad(input_ids, start):
            first = torch.full(input_ids.shape[:-1] + (1,), start)
            return torch.cat([first, input_ids[..., :-1]], dim=-1)
        """
    assert _library(src) == [("DL005", 11)]


FLAGS = """\
    import torch
    def attention(q, k, causal=False):
        scores = q @ k.transpose(-2, -1)
        if causal:
            mask = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(-1)
    def run(q, k):
        return {call}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    q = torch.randn(2, 4, 8, device=device)
    print(run(q, q))
    """


def test_a_flag_every_call_sets_alike_decides_the_branches() -> None:
    for call in ("attention(q, k, causal=False)", "attention(q, k)", "attention(q, k, False)"):
        src = FLAGS.replace("{call}", call)
        found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
        assert found == [], call


def test_a_flag_some_call_sets_keeps_the_branch() -> None:
    for call in (
        "attention(q, k, causal=True)",
        "attention(q, k) + attention(q, k, causal=True)",
        "attention(q, k, causal=bool(q.shape[0]))",
    ):
        src = FLAGS.replace("{call}", call)
        found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
        assert [(f.code, f.line) for f in found] == [("DL005", 5)], call
    # used other than by a call (a callback): every caller is not in sight
    src = FLAGS.replace("{call}", "attention(q, k, causal=False), attention")
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
    assert [(f.code, f.line) for f in found] == [("DL005", 5)]
