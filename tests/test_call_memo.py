"""Same-file calls with the same argument values share one analysis of the callee
(`CallsMixin._call_key`), unless the callee makes objects of its own: two calls of a
model factory are two models, and moving one does not move the other."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str) -> list[tuple[str, int]]:
    text = textwrap.dedent(src)
    return [(f.code, f.line) for f in check_source(text, "m.py", ALL_RULES)]


def test_two_models_from_one_factory_are_two_models() -> None:
    assert _found(
        """\
        import torch
        import torch.nn as nn
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        def make_model():
            return nn.Linear(4, 2)

        a = make_model()
        b = make_model()
        a.to(device)
        x = torch.randn(8, 4).to(device)
        print(a(x))
        print(b(x))
        """
    ) == [("DL001", 13)]


def test_a_helper_called_twice_with_the_same_arguments_gives_the_same_answer() -> None:
    assert _found(
        """\
        import torch
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        def batch(n, cuda=False):
            x = torch.randn(n, 4)
            if cuda:
                x = x.to(device)
            return x

        w = torch.randn(4, 2).to(device)
        print(batch(3) @ w)
        print(batch(3) @ w)
        print(batch(3, cuda=True) @ w)
        """
    ) == [("DL005", 5)]  # the root cause, once: the factory the CPU calls reach
