"""Recall (issue 14): torchmetrics' inputs meet inside the metric.  A functional metric
(`retrieval_reciprocal_rank(preds, target)`) or a metric object not moved anywhere
combines its tensor arguments, so a CPU tensor made here next to a placed one fails."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

HEADER = """\
    import torch
    import torchmetrics.functional as MF
    from torchmetrics.retrieval import RetrievalMRR
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.nn.Linear(4, 1).to(device)
"""


def _found(body: str) -> list[tuple[str, int]]:
    src = textwrap.dedent(HEADER) + textwrap.dedent(body)
    return sorted((f.code, f.line) for f in check_source(src, "m.py", ALL_RULES, role="script"))


def test_functional_metric_given_a_cpu_target_and_placed_predictions() -> None:
    assert _found(
        """\
        def mrr(x):
            pred = model(x.to(device)).squeeze(-1)
            relevance = torch.zeros(*pred.shape, dtype=torch.bool)
            return MF.retrieval_reciprocal_rank(pred, relevance)
        """
    ) == [("DL005", 8)]


def test_metric_object_given_a_cpu_tensor_and_a_placed_one() -> None:
    assert _found(
        """\
        def mrr(x, target: torch.Tensor):
            preds = torch.zeros(x.shape[0])
            metric = RetrievalMRR()
            return metric(preds, target.to(device), indexes=target.to(device))
        """
    ) == [("DL005", 7)]


def test_inputs_on_one_device_are_silent() -> None:
    assert (
        _found(
            """\
        def mrr(x, target: torch.Tensor):
            pred = model(x.to(device)).squeeze(-1)
            relevance = torch.zeros(*pred.shape, dtype=torch.bool, device=pred.device)
            metric = RetrievalMRR()
            return MF.retrieval_reciprocal_rank(pred, relevance), metric(pred, target.to(device))
        def on_host(x):
            pred = model(x.to(device)).squeeze(-1).cpu()
            return MF.accuracy(pred, torch.zeros(pred.shape[0], dtype=torch.long), task="binary")
        """
        )
        == []
    )
