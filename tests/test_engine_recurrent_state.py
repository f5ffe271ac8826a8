"""Recall (issue 14): the initial state of a recurrent layer is a `(h0, c0)` tuple on one
path (LSTM) and one tensor on another (GRU); where it lives is what the layer checks."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.engine.values import DEV_CPU, Kind, Origin, Value, join_values, sym, tensor
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


STACK = """\
    import torch
    from torch import nn
    class Stack(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell
            self.rnn = nn.LSTM(4, 8) if cell == "lstm" else nn.GRU(4, 8)
        def forward(self, x):
            if self.cell == "lstm":
                state = (torch.zeros(1, x.size(1), 8), torch.zeros(1, x.size(1), 8))
            else:
                state = torch.zeros(1, x.size(1), 8)
            out, _ = self.rnn(x, state)
            return out
"""


def test_tuple_or_tensor_state_made_on_the_cpu_meets_the_layer() -> None:
    # the three factories meet the layer in one operation (`layer(x, state)`): one finding,
    # at the first, that names the others, with one fix for all three
    found = check_source(textwrap.dedent(STACK), "m.py", ALL_RULES, role="library")
    assert [(f.code, f.line, f.col) for f in found] == [("DL005", 10, 22)]
    assert "(line 10) and 1 more meet it in the same operation" in found[0].message
    assert found[0].fix is not None and len(found[0].fix["edits"]) == 3


def test_one_factory_on_both_paths_is_reported_once() -> None:
    src = STACK.replace(
        "state = (torch.zeros(1, x.size(1), 8), torch.zeros(1, x.size(1), 8))",
        "h = torch.zeros(1, x.size(1), 8)\n                state = (h, h)",
    )
    assert "state = (h, h)" in src
    assert _found(src) == [("DL005", 10)]


def test_state_made_on_the_input_device_is_silent() -> None:
    src = STACK.replace("x.size(1), 8)", "x.size(1), 8, device=x.device)")
    assert src.count("device=x.device") == 3
    assert _found(src) == []


def test_the_join_keeps_the_cpu_factory_of_the_first_path() -> None:
    site_a, site_b = object(), object()
    pair = Value(
        Kind.BATCH,
        DEV_CPU,
        elems=(
            tensor(DEV_CPU, origin=Origin.FACTORY, site=site_a),  # type: ignore[arg-type]
            tensor(DEV_CPU, origin=Origin.FACTORY, site=site_a),  # type: ignore[arg-type]
        ),
    )
    single = tensor(DEV_CPU, origin=Origin.FACTORY, site=site_b)  # type: ignore[arg-type]
    joined = join_values(pair, single)
    assert joined.kind is Kind.TENSOR and joined.device == DEV_CPU
    assert joined.origin is Origin.FACTORY and joined.site is site_a
    assert join_values(single, pair).site is site_b


def test_a_tuple_holding_a_non_tensor_is_no_state() -> None:
    pair = Value(Kind.BATCH, DEV_CPU, elems=(tensor(DEV_CPU), Value(Kind.OTHER)))
    assert join_values(pair, tensor(sym("param:x"))).kind is Kind.UNKNOWN
