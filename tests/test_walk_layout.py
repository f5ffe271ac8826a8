"""The pre-order layout behind `engine.walk.walk` inside `remembering(module)`: every
walk is the same node list, in the same order, as the plain traversal."""

from __future__ import annotations

import libcst as cst

from devlint.engine import walk as W

SOURCE = '''
import torch

def outer(x, device):
    def inner(y):
        z = torch.zeros(3)
        return lambda t: t + z
    class Local:
        def method(self):
            return torch.ones(2)
    w = [v.to(device) for v in x]
    return inner(w[0]), Local

class Model(torch.nn.Module):
    def forward(self, x):
        return (lambda q: q.cuda())(x)
'''


def _plain(node: cst.CSTNode, into: bool) -> list[cst.CSTNode]:
    return list(W._walk(node, into))


def test_every_walk_matches_the_plain_traversal() -> None:
    module = cst.parse_module(SOURCE)
    with W.remembering(module):
        for node in _plain(module, True):
            for into in (True, False):
                got = list(W.walk(node, into_functions=into))
                want = _plain(node, into)
                assert len(got) == len(want)
                assert all(a is b for a, b in zip(got, want))


def test_nested_defs_are_kept_but_not_entered() -> None:
    module = cst.parse_module(SOURCE)
    outer = module.body[1]
    with W.remembering(module):
        nodes = list(W.walk(outer, into_functions=False))
    kinds = [type(n) for n in nodes]
    assert kinds.count(cst.FunctionDef) == 2  # `outer` itself and `inner`, not `method`
    assert kinds.count(cst.ClassDef) == 1
    assert cst.Lambda not in kinds  # inside `inner`
    names = {n.value for n in nodes if isinstance(n, cst.Name)}
    assert "device" in names and "z" not in names and "method" not in names


def test_a_node_outside_the_module_is_walked_plainly() -> None:
    module = cst.parse_module(SOURCE)
    built = cst.parse_expression("torch.zeros(3, device=d)")
    with W.remembering(module):
        got = list(W.walk(built))
    assert [type(n) for n in got] == [type(n) for n in _plain(built, True)]
    assert got[0] is built
