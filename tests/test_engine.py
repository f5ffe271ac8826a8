"""Unit tests of the engine's facts: where values live after each construct."""

from __future__ import annotations

import textwrap

import libcst as cst

from devlint.engine.facts import Cause, Context
from devlint.engine.flow import DeviceFlowVisitor, analyze
from devlint.engine.values import (
    DEV_CPU,
    NUMBER,
    Kind,
    Origin,
    describe_device,
    join_values,
    sym,
    tensor,
)

PRELUDE = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
"""


def run(src: str) -> DeviceFlowVisitor:
    text = PRELUDE + textwrap.dedent(src)
    module = cst.parse_module(text)
    a = DeviceFlowVisitor(module, text)
    module.visit(a)
    return a


def env(src: str) -> dict:
    return run(src).module_env


def facts(src: str):
    text = PRELUDE + textwrap.dedent(src)
    return analyze(cst.parse_module(text), text)


def test_canonical_device_is_symbolic_accelerator() -> None:
    e = env("")
    assert e["device"].kind is Kind.DEVICE
    assert e["device"].device == sym("device")  # "the value of `device`"


def test_module_to_moves_in_place_and_aliases_follow() -> None:
    e = env(
        """
        model = nn.Linear(2, 2)
        alias = model
        model.to(device)
        """
    )
    assert e["model"].device == sym("device")
    assert e["alias"].device == sym("device")


def test_tensor_to_returns_new_tensor_and_leaves_original() -> None:
    e = env(
        """
        x = torch.randn(3)
        y = x.to(device)
        """
    )
    assert e["x"].device == DEV_CPU and e["x"].origin is Origin.FACTORY
    assert e["y"].device == sym("device") and e["y"].kind is Kind.TENSOR


def test_a_tensor_of_a_python_number_is_zero_dim() -> None:
    """`torch.as_tensor(n)` of an int/float literal or parameter is a 0-dim tensor, which
    PyTorch lets meet tensors on any device; of an unknown value, it may be anything."""
    e = env(
        """
        def f(steps: int, scale=0.5, other=None):
            return steps, scale, other
        a = torch.as_tensor(3)
        b = torch.tensor(1.5)
        n: int = 4
        c = torch.as_tensor(n)
        d = torch.tensor(unknown_values)
        """
    )
    assert e["a"].scalar is True and e["b"].scalar is True and e["c"].scalar is True
    assert e["d"].scalar is None
    func = run("def f(steps: int, scale=0.5, other=None):\n    pass\n")
    fdef = func.functions["f"]
    from devlint.engine.scope import Scope

    params = func.param_values(fdef, None, Scope(env={}, report=False))
    assert params["steps"] is NUMBER and params["scale"] is NUMBER
    assert params["other"] is not NUMBER


def test_factory_device_keyword_and_inheriting_factories() -> None:
    e = env(
        """
        a = torch.zeros(3, device=device)
        b = torch.zeros_like(a)
        c = a.new_ones(4)
        d = torch.ones(2).type_as(a)
        """
    )
    for name in "abcd":
        assert e[name].device == sym("device"), name


def test_default_device_context_changes_factories() -> None:
    e = env(
        """
        with torch.device("cuda"):
            a = torch.zeros(3)
        b = torch.zeros(3)
        """
    )
    assert e["a"].device == frozenset({"cuda"})
    assert e["b"].device == DEV_CPU


def test_loader_yields_cpu_batches_and_moves_follow() -> None:
    e = env(
        """
        loader = DataLoader(TensorDataset(torch.randn(4, 2), torch.randn(4)), batch_size=2)
        for x, y in loader:
            x = x.to(device)
        """
    )
    assert e["x"].device == sym("device")
    assert e["y"].device == DEV_CPU and e["y"].origin is Origin.LOADER


def test_dataset_of_device_tensors_yields_device_batches() -> None:
    e = env(
        """
        ds = TensorDataset(torch.randn(4, 2, device=device), torch.randn(4, device=device))
        for x, y in DataLoader(ds, batch_size=2):
            pass
        """
    )
    assert e["x"].device == sym("device")


def test_dict_comprehension_moves_every_entry() -> None:
    e = env(
        """
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            ids = batch["input_ids"]
        """
    )
    assert e["ids"].device == sym("device")


def test_join_of_move_on_one_branch_is_partly_cpu() -> None:
    e = env(
        """
        x = torch.randn(2)
        if flag:
            x = x.to(device)
        """
    )
    assert e["x"].device == frozenset({"cpu", "sym:device"})


def test_join_under_availability_check_is_the_accelerator_device() -> None:
    e = env(
        """
        x = torch.randn(2)
        if torch.cuda.is_available():
            x = x.cuda()
        """
    )
    assert e["x"].device == sym("auto")


def test_same_file_function_return_and_in_place_move_flow_back() -> None:
    e = env(
        """
        def build(dev):
            m = nn.Linear(2, 2)
            return m.to(dev)

        def place(m, dev):
            m.to(dev)

        a = build(device)
        b = nn.Linear(2, 2)
        place(b, device)
        """
    )
    assert e["a"].kind is Kind.MODULE and e["a"].device == sym("device")
    assert e["b"].device == sym("device")


def test_buffers_and_parameters_follow_the_module_plain_tensors_do_not() -> None:
    f = facts(
        """
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("buf", torch.ones(3))
                self.p = nn.Parameter(torch.ones(3))
                self.plain = torch.ones(3)

            def forward(self, x):
                a = x * self.buf
                b = x * self.p
                return x * self.plain
        """
    )
    causes = [(m.cause, m.culprit.text) for m in f.mismatches]
    assert causes == [(Cause.PLAIN_ATTR, "self.plain")]


def test_zero_dim_cpu_tensor_and_plain_indexing_are_allowed() -> None:
    f = facts(
        """
        x = torch.randn(4, device=device)
        s = x * torch.tensor(2.0)
        idx = torch.tensor([0, 1])
        y = x[idx]
        """
    )
    assert f.mismatches == []


def test_index_select_with_cpu_index_is_a_mismatch() -> None:
    f = facts(
        """
        x = torch.randn(4, 3).to(device)
        idx = torch.tensor([0, 1])
        y = x.index_select(0, idx)
        """
    )
    assert [(m.cause, m.context) for m in f.mismatches] == [(Cause.FACTORY, Context.OPERATION)]


def test_loop_reaches_fixpoint_for_carried_state() -> None:
    e = env(
        """
        h = torch.zeros(2, device=device)
        for step in range(3):
            h = h * 2
        """
    )
    assert e["h"].device == sym("device")


def test_parameters_are_symbolic_not_unknown() -> None:
    f = facts(
        """
        def pad(x):
            return torch.cat([x, torch.zeros(x.size(0), 1)], dim=1)
        """
    )
    assert len(f.mismatches) == 1
    m = f.mismatches[0]
    assert m.cause is Cause.FACTORY and m.partner.value.device == sym("param:x")


def test_dataparallel_moves_inputs_itself() -> None:
    f = facts(
        """
        model = nn.DataParallel(nn.Linear(2, 2).to(device))
        x = torch.randn(4, 2)
        y = model(x)
        """
    )
    assert f.mismatches == []


def test_discarded_move_is_a_fact_and_silences_the_later_use() -> None:
    f = facts(
        """
        model = nn.Linear(2, 2).to(device)
        for x, y in loader:
            x.to(device)
            out = model(x)
        """
    )
    assert [d.call_text for d in f.discarded_moves] == ["x.to(device)"]
    assert f.mismatches == []


def test_values_join_and_describe() -> None:
    a = tensor(DEV_CPU, origin=Origin.FACTORY)
    b = tensor(sym("device"))
    assert join_values(a, b).device == frozenset({"cpu", "sym:device"})
    assert describe_device(sym("device")) == "`device`"
    assert describe_device(DEV_CPU) == "the CPU"


def test_configured_device_names_are_device_values() -> None:
    src = PRELUDE + (
        "model = nn.Linear(2, 2).to(tgt)\n"
        "for a, b in loader:\n"
        "    b = b.to(tgt)\n"
        "    out = model(a)\n"
    )
    assert analyze(cst.parse_module(src), src).mismatches == []
    found = analyze(cst.parse_module(src), src, device_names=["tgt"]).mismatches
    assert [(m.cause, m.culprit.text) for m in found] == [(Cause.BATCH, "a")]


def test_loader_known_only_by_name_needs_evidence_of_cpu_batches() -> None:
    # a `loader` parameter may be a prefetcher yielding device batches: silent...
    quiet = facts(
        """
        def evaluate(model, loader, device):
            model.to(device)
            for x, y in loader:
                out = model(x)
        """
    )
    assert quiet.mismatches == []
    # ...unless the loop moves part of the batch itself
    loud = facts(
        """
        def evaluate(model, loader, device):
            model.to(device)
            for x, y in loader:
                y = y.to(device)
                out = model(x)
        """
    )
    assert [(m.cause, m.culprit.text) for m in loud.mismatches] == [(Cause.BATCH, "x")]


def test_tokenizer_outputs_are_cpu_batches_until_moved() -> None:
    src = """
        from transformers import AutoModel, AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
        model = AutoModel.from_pretrained("bert-base-uncased").to(device)
        inputs = tokenizer(["hi"], return_tensors="pt")
        out = model(**inputs)
        inputs.to(device)
        out = model(**inputs)
        words = tokenizer(["hi"])
        out = model(**words)
        """
    found = facts(src).mismatches
    assert [(m.cause, m.culprit.text, m.module_text) for m in found] == [
        (Cause.OTHER, "inputs", "model")
    ]


def test_tuple_of_plain_tensors_in_init_is_a_plain_attribute() -> None:
    f = facts(
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(10, 20)
                self.hidden = (torch.zeros(1, 1, 20), torch.zeros(1, 1, 20))

            def forward(self, x):
                out, self.hidden = self.lstm(x, self.hidden)
                return out
        """
    )
    assert {m.cause for m in f.mismatches} == {Cause.PLAIN_ATTR}


def test_numpy_under_a_cpu_test_is_on_the_cpu() -> None:
    """`.numpy()` where a test says the tensor is on the CPU is not reported; in the other
    branch, or under an inverted test, it is."""
    from devlint.checker import check_source
    from devlint.rules import ALL_RULES

    src = textwrap.dedent(
        """\
        import torch
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        def export(x):
            x = x.to(device)
            if device == "cpu":
                a = x.numpy()
            if device.type != "cpu":
                b = x.numpy()  # line 8: reported
            else:
                c = x.numpy()
            if x.is_cuda:
                d = x.numpy()  # line 12: reported
            else:
                e = x.numpy()
            if device != torch.device("cpu"):
                f = x.numpy()  # line 16: reported
        export(torch.ones(2))
        """
    )
    found = check_source(src, "t.py", ALL_RULES)
    assert sorted(f.line for f in found if f.code == "DL007") == [8, 12, 16]


def _findings(src: str, role: str = "script") -> list[tuple[str, int]]:
    from devlint.checker import check_source
    from devlint.rules import ALL_RULES

    found = check_source(textwrap.dedent(src), "t.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


def test_modules_that_hold_no_cpu_state_meet_inputs_anywhere() -> None:
    """False positives found in kornia, peft and LLMs-from-scratch: none of these modules
    is on the CPU while its input is on the device."""
    assert (
        _findings(
            """\
            import torch
            import torch.nn as nn
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            class Warp(nn.Module):
                def __init__(self, h: int, w: int, align=False):
                    super().__init__()
                    self.h, self.w = h, w
                    self.align = align
                def forward(self, x):
                    return x[..., : self.h, : self.w]
            def stages(augmentations):
                return nn.Sequential(*augmentations)
            base = nn.Linear(4, 4).to(device)
            x = torch.randn(2, 4, device=device)
            wrapped = Adapter.from_pretrained(base, "adapter/")
            placed = Encoder.from_pretrained("ckpt", device=device)
            activations = nn.Sequential(nn.ReLU(), nn.Dropout())
            with device:
                built = nn.Linear(4, 4)
            pipeline = stages(load_augmentations())
            for out in (Warp(2, 2)(x), pipeline(x), wrapped(x), placed(x), activations(x), built(x)):
                print(out.shape)
            """
        )
        == []
    )


def test_a_module_of_cpu_layers_still_mismatches() -> None:
    assert _findings(
        """\
        import torch
        import torch.nn as nn
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        x = torch.randn(2, 4, device=device)
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        print(model(x))
        """
    ) == [("DL001", 6)]


def test_pytest_fixtures_of_the_file_give_test_parameters_their_values() -> None:
    src = """\
        import pytest
        import torch
        import torch.nn as nn
        class TestMerge:
            @pytest.fixture
            def model(self):
                return nn.Linear(8, 3)
            def test_merge(self, model):
                assert model(torch.ones(2, 8)).shape == (2, 3)
        @pytest.fixture
        def net():
            return nn.Linear(8, 3)
        def test_net(net):
            assert net(torch.ones(2, 8)).shape == (2, 3)
        def helper(model):
            return model(torch.ones(2, 8))
        """
    # the helper's model could be anywhere: its CPU input is still reported
    assert _findings(src) == [("DL005", 16)]


def test_a_parameter_shadows_a_function_of_the_same_name() -> None:
    src = """\
        import torch
        import torch.nn as nn
        def model():
            return nn.Linear(8, 3)
        def run(model):
            return model(torch.ones(2, 8))
        """
    assert _findings(src) == [("DL005", 6)]


def test_a_float_or_tensor_parameter_is_not_taken_for_a_tensor() -> None:
    src = """\
        from typing import Union
        import torch
        import torch.nn as nn
        from torch import Tensor
        class LayerScale(nn.Module):
            def __init__(self, dim: int, init: Union[float, Tensor] = 1e-5):
                super().__init__()
                self.gamma = nn.Parameter(init * torch.ones(dim))
        """
    assert _findings(src) == []


def test_a_helper_only_ever_given_a_cpu_model_makes_cpu_inputs_safely() -> None:
    """`select_action(policy, obs)` of a script whose policy stays on the CPU: a factory
    meeting the parameter is reported only if a call could pass something placed.  In
    library code, a public function's callers are elsewhere: reported, unless the file's
    own calls all pass that parameter CPU values (it is their helper first: diffusers'
    `get_guidance_scale_embedding`, labelled FALSE/DEBATABLE by the third audit)."""
    helper = """\
        import numpy as np
        import torch
        import torch.nn as nn
        def select_action(policy, observation):
            return policy(torch.from_numpy(observation).float())
        """.rstrip(" ")
    cpu_caller = "policy = nn.Linear(4, 2)\nselect_action(policy, np.zeros(4))\n"
    gpu_caller = (
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "policy = nn.Linear(4, 2).to(device)\n"
        "select_action(policy, np.zeros(4))\n"
    )

    def script(caller: str) -> str:
        return helper + "        if __name__ == '__main__':\n" + textwrap.indent(caller, " " * 12)

    assert _findings(script(cpu_caller)) == []
    assert _findings(script(gpu_caller)) == [("DL005", 5)]
    assert _findings(helper + textwrap.indent(cpu_caller, " " * 8), "library") == []
    assert _findings(helper + textwrap.indent(gpu_caller, " " * 8), "library") == [("DL005", 5)]
    assert _findings(helper, "library") == [("DL005", 5)]
    # a script's module without `__main__` (a helper module beside it): its callers here
    # pass CPU values; with no caller in sight it is reported
    assert _findings(helper + textwrap.indent(cpu_caller, " " * 8)) == []
    assert _findings(helper) == [("DL005", 5)]


def test_a_block_expected_to_raise_is_not_reported() -> None:
    src = """\
        import pytest
        import torch
        import torch.nn as nn
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = nn.Linear(3, 3).to(device)
        def test_mixing_devices_raises():
            with pytest.raises(RuntimeError):
                model(torch.randn(2, 3))
        def test_mixing_devices():
            model(torch.randn(2, 3))
        """
    assert _findings(src) == [("DL005", 10)]


def test_torch_load_through_forwarded_kwargs_is_left_to_the_callers() -> None:
    """`torch.load(path, **kwargs)` in a wrapper: the callers choose the map location.
    A dict the same scope builds without `map_location` still gets DL008."""
    from devlint.checker import check_source
    from devlint.rules import RULES_BY_CODE

    src = textwrap.dedent(
        """
        import torch

        def forwards(path, *args, **kwargs):
            return torch.load(path, *args, **kwargs)

        def local_dict(path):
            kwargs = {"weights_only": True}
            return torch.load(path, **kwargs)

        def local_dict_with_location(path):
            kwargs = {"weights_only": True, "map_location": "cpu"}
            return torch.load(path, **kwargs)

        def either_dict(path, flag):
            if flag:
                kwargs = {"weights_only": False}
            else:
                kwargs = {}
            return torch.load(path, **kwargs)

        def adds_the_key_later(path, location=None):
            kwargs = {"weights_only": True}
            if location is not None:
                kwargs["map_location"] = location
            return torch.load(path, **kwargs)
        """
    )
    found = check_source(src, "load.py", [RULES_BY_CODE["DL008"]])
    assert [f.line for f in found] == [9, 20]
