"""Precision and recall (issue 13): a module that keeps a module it is given
(`self.gp = gp`) holds that module's parameters, so it is where that module is."""

from __future__ import annotations

import textwrap

import libcst as cst

from devlint.checker import check_source
from devlint.engine.summary import stored_parameters
from devlint.rules import ALL_RULES


def _found(src: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
    return sorted((f.code, f.line) for f in found)


PROGRAM = """\
    import torch
    from torch import nn
    class Wrapper(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
        def forward(self, x):
            return self.inner(x).mean()
    class WithHead(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.head = nn.Linear(2, 1)
        def forward(self, x):
            return self.head(self.inner(x))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.randn(3, 4, device=device)
    {call}
    """


def _program(call: str) -> str:
    return PROGRAM.replace("{call}", call)


def test_a_wrapper_of_a_moved_model_is_on_its_device() -> None:
    assert _found(_program("print(Wrapper(nn.Linear(4, 2).to(device))(x))")) == []


def test_a_wrapper_of_a_cpu_model_is_on_the_cpu() -> None:
    assert _found(_program("print(Wrapper(nn.Linear(4, 2))(x))")) == [("DL001", 18)]


def test_a_wrapper_that_makes_layers_of_its_own_is_of_unknown_place() -> None:
    # the head stays on the CPU while the given model is on the device: partly moved
    assert _found(_program("print(WithHead(nn.Linear(4, 2).to(device))(x))")) == []


def test_a_wrapper_of_a_moved_model_meets_a_cpu_input() -> None:
    src = _program("print(Wrapper(nn.Linear(4, 2).to(device))(torch.randn(3, 4)))")
    assert _found(src) == [("DL005", 18)]


def test_which_parameters_a_constructor_keeps() -> None:
    init = cst.parse_module(
        "def __init__(self, a, b, c, *, d, width=8):\n"
        "    self.a = a\n"
        "    self.parts = nn.ModuleList([b, nn.Linear(8, width)])\n"
        "    self.scale = c * 2\n"
        "    self.d = (d,)\n"
    ).body[0]
    assert isinstance(init, cst.FunctionDef)
    assert stored_parameters(init) == {"a", "b", "d"}


HELPER = """\
    import torch
    from torch import nn
    def grads(model):
        batch = torch.randn(16, 20)
        model(batch).sum().backward()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    grads({model})
    """


def test_a_helper_fed_only_wrappers_that_move_inputs_is_silent() -> None:
    for model in (
        "nn.DataParallel(nn.Linear(20, 1).to(device))",
        "nn.parallel.DistributedDataParallel(nn.Linear(20, 1).to(device), device_ids=[0])",
    ):
        assert _found(HELPER.replace("{model}", model)) == [], model


def test_a_helper_fed_a_bare_placed_model_fires() -> None:
    assert _found(HELPER.replace("{model}", "nn.Linear(20, 1).to(device)")) == [("DL005", 4)]
    # DDP without `device_ids` does not move its inputs
    src = HELPER.replace(
        "{model}", "nn.parallel.DistributedDataParallel(nn.Linear(20, 1).to(device))"
    )
    assert _found(src) == [("DL005", 4)]


GRAFT = """\
    import torch
    from torch import nn
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    model.to(device)
    {after}
    print(model(torch.randn(4, 8, device=device)))
    """


def test_a_new_cpu_layer_on_a_moved_model_is_reported_where_it_is_set() -> None:
    src = GRAFT.replace("{after}", "model.head = nn.Linear(8, 2)")
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
    assert [(f.code, f.line) for f in found] == [("DL001", 6)]
    assert "`model.head` is a new layer on the CPU" in found[0].message


def test_a_new_layer_that_is_moved_or_holds_no_parameters_is_fine() -> None:
    for after in (
        "model.head = nn.Linear(8, 2).to(device)",
        "model.head = nn.Linear(8, 2); model.to(device)",
        "model.head = nn.Identity()",
        "model.head = nn.Linear(8, 2); model = model.to(device)",
    ):
        assert _found(GRAFT.replace("{after}", after)) == [], after


def test_a_layer_set_on_a_model_that_was_never_moved_is_not_a_graft() -> None:
    src = GRAFT.replace("    model.to(device)\n", "").replace("{after}", "model.head = nn.Linear(8, 2)")
    # the whole model is on the CPU: the call with a device input is the ordinary DL001
    assert _found(src) == [("DL001", 6)]


PROBE = """\
    import torch
    from torch import nn
    class Head(nn.Module):
        def __init__(self, backbone, width):
            super().__init__()
            self.backbone = backbone
            self.proj = nn.Linear(4, width)
            {probe}
        def forward(self, x):
            return self.proj(self.backbone(x))
    """


def test_a_shape_probe_of_a_layer_built_in_init_is_on_the_cpu() -> None:
    # `nn.Linear(4, width)` is new: built from a parameter, not handed in
    src = PROBE.replace("{probe}", "self.out_dim = self.proj(torch.zeros(1, 4)).shape[-1]")
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
    assert found == []


def test_a_shape_probe_of_a_module_handed_in_stays_reported() -> None:
    src = PROBE.replace("{probe}", "self.feat = self.backbone(torch.zeros(1, 3)).shape[-1]")
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
    assert [(f.code, f.line) for f in found] == [("DL005", 8)]
