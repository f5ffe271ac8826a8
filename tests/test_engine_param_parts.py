"""A parameter named like a model that the function unpacks (`model, layer = model`):
the caller made the pair, so its parts are where the caller put them, like the whole
(shap's DeepExplainer).  Library code: `.numpy()` on what the model returns is a DL007
without any caller in sight, as it is when the model is taken whole."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.rules import RULES_BY_CODE

SOURCE = """\
import torch


def baseline(model, data):
    if isinstance(model, tuple):
        model, layer = model
    with torch.no_grad():
        return model(*data).mean(0).numpy()


def host_baseline(model, data):
    if isinstance(model, tuple):
        model, layer = model
    with torch.no_grad():
        return model(*data).mean(0).cpu().numpy()
"""


def test_the_parts_of_a_model_parameter_are_the_callers() -> None:
    found = check_source(SOURCE, "pkg/explain.py", [RULES_BY_CODE["DL007"]], role="library")
    assert [(f.code, f.line) for f in found] == [("DL007", 8)]


def test_a_script_with_no_caller_in_sight_stays_silent() -> None:
    assert check_source(SOURCE, "explain.py", [RULES_BY_CODE["DL007"]], role="script") == []
