"""Shapes of library bugs from issue 14: a layer a function builds for itself and applies
to its tensor parameter (DL001), and a cast to a CUDA tensor type used as a move (DL002)."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list:
    return check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)


def test_a_layer_built_in_the_function_meets_its_tensor_parameter() -> None:
    src = """\
    import torch
    from torch import nn


    def project(features):
        layer = nn.Linear(features.shape[-1], 4)
        return layer(features)


    def project_moved(features):
        layer = nn.Linear(features.shape[-1], 4).to(features.device)
        return layer(features)


    def _private(features):
        layer = nn.Linear(features.shape[-1], 4)
        return layer(features)
    """
    found = _found(src)
    assert [(f.code, f.line) for f in found] == [("DL001", 7)]
    assert "`project` is a public function of library code" in found[0].message
    assert "`layer` is built here, on the CPU" in found[0].message
    assert _found(src, role="program") == []


def test_a_cast_to_a_cuda_tensor_type_is_a_hard_coded_move() -> None:
    src = """\
    import torch


    def to_gpu(x):
        return x.type("torch.cuda.FloatTensor")


    def to_gpu_named(x):
        return x.type(torch.cuda.FloatTensor)


    def checked(x):
        if torch.cuda.is_available():
            return x.type(torch.cuda.FloatTensor)
        return x


    def dtype_only(x):
        return x.type(torch.float32), x.type("torch.FloatTensor")
    """
    found = _found(src)
    assert [(f.code, f.line) for f in found] == [("DL002", 5), ("DL002", 9)]
    assert "casts to a CUDA tensor type" in found[0].message


def test_a_parameter_moved_as_a_statement_then_fed_to_a_model_is_a_tensor() -> None:
    src = """\
    import torch


    def predict(model, x, device):
        x.to(device)
        return model(x)


    def predict_graph(model, data, device):
        data.to(device)
        return model(data)


    def predict_kept(model, x, device):
        x = x.to(device)
        return model(x)
    """
    found = _found(src)
    assert [(f.code, f.line) for f in found] == [("DL004", 5)]


def test_a_sparse_tensor_is_made_where_its_values_are_and_its_indices_must_be_there() -> None:
    src = """\
    import torch


    def unit_weights(edge_index: torch.Tensor, n: int):
        return torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1)), (n, n))


    def propagate(edge_index: torch.Tensor, weight: torch.Tensor, x: torch.Tensor):
        adj = torch.sparse_coo_tensor(edge_index, weight, (x.size(0), x.size(0)))
        return torch.sparse.mm(adj, x) + x
    """
    assert [(f.code, f.line) for f in _found(src)] == [("DL005", 5)]
