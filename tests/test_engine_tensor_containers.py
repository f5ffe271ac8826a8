"""Parameters that hold tensors (issue 14): a loop over a parameter whose elements the
body uses as tensors (`for out in outputs: total += out.sum()`) makes those elements
tensors on the caller's device, like a tensor parameter's; so are the attributes of a
parameter that the body uses as tensors (`graph.edge_index.size(1)`)."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

TOTAL = """\
import torch


def total(outputs):
    acc = torch.zeros(1)
    for out in outputs:
        acc += out.sum()
    return acc
"""


def _found(src: str, role: str = "library") -> list:
    return [
        (f.code, f.line) for f in check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    ]


def test_elements_used_as_tensors_meet_a_cpu_accumulator() -> None:
    src = TOTAL + textwrap.dedent(
        """

    def indexed(parts):
        acc = torch.zeros(1)
        for i, part in enumerate(parts):
            acc += part.mean()
        return acc


    def by_name(losses):
        acc = torch.zeros(1)
        for name, loss in losses.items():
            acc += loss.sum()
        return acc
    """
    )
    assert _found(src) == [("DL005", 5), ("DL005", 12), ("DL005", 19)]


def test_elements_not_used_as_tensors_stay_unknown() -> None:
    src = """\
    import torch


    def counts(groups):
        acc = torch.zeros(1)
        for group in groups:
            acc += len(group)
        return acc


    def plain(values):
        acc = torch.zeros(1)
        for value in values:
            acc += value
        return acc


    def keys_only(table):
        acc = torch.zeros(1)
        for key in table.keys():
            acc += key.sum()
        return acc
    """
    assert _found(src) == []


def test_a_script_needs_a_caller_that_passes_placed_tensors() -> None:
    src = TOTAL + textwrap.dedent(
        """

        if __name__ == "__main__":
            print(total([torch.rand(3), torch.rand(2)]))
        """
    )
    assert _found(src, role="program") == []


def test_attributes_of_a_parameter_used_as_tensors_are_on_its_device() -> None:
    src = """\
    import torch


    def degree(graph):
        out = torch.zeros(graph.num_nodes)
        out.scatter_add_(0, graph.edge_index[0], torch.ones(graph.edge_index.size(1)))
        return out


    def count(graph):
        return torch.zeros(graph.num_nodes) + graph.num_edges
    """
    assert _found(src) == [("DL005", 5)]
