"""Each rule's documented bad example fires it; its good twin does not (Fixit-style)."""

from __future__ import annotations

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES

PRELUDE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_bad_example_fires(rule) -> None:
    codes = [f.code for f in check_source(PRELUDE + rule.bad, "bad.py", ALL_RULES)]
    assert rule.code in codes


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_good_example_is_silent(rule) -> None:
    findings = check_source(PRELUDE + rule.good, "good.py", ALL_RULES)
    assert [f.code for f in findings] == []


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_metadata_is_complete(rule) -> None:
    assert rule.code.startswith("DL") and len(rule.code) == 5
    for text in (rule.name, rule.summary, rule.why, rule.fix, rule.bad, rule.good):
        assert text.strip()
