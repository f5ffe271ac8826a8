"""NumPy and Matplotlib reads of a parameter's tensors (issue 14): a function that copies
some tensors to the host itself (`y.cpu().numpy()`) knows its data may be on an
accelerator, so what it hands NumPy or a plot without a copy is read there; without such
a copy, a parameter given to NumPy may be an array and stays silent."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list:
    return check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)


def test_a_plot_next_to_a_host_copy_is_reported() -> None:
    src = """\
    import matplotlib.pyplot as plt
    import numpy as np


    def show(model, inputs, targets):
        predictions = model(inputs)
        plt.plot(targets.cpu().numpy())
        plt.plot(predictions[0])


    def histogram(scores, labels):
        labels = labels.cpu()
        return np.histogram(scores.flatten(), bins=10)
    """
    found = _found(src)
    assert [(f.code, f.line) for f in found] == [("DL007", 8), ("DL007", 13)]
    assert "`plt.plot` reads `predictions[0]` into NumPy" in found[0].message


def test_without_a_host_copy_or_with_every_value_copied_it_stays_silent() -> None:
    src = """\
    import matplotlib.pyplot as plt
    import numpy as np


    def show(model, inputs):
        plt.plot(model(inputs)[0])


    def histogram(scores):
        return np.histogram(scores.flatten(), bins=10)


    def show_copied(model, inputs, targets):
        plt.plot(targets.cpu().numpy())
        plt.plot(model(inputs)[0].cpu())
    """
    assert _found(src) == []
