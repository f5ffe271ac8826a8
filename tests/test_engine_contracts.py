"""Library contracts (open world) against scripts (closed world), default devices, and
project-declared GPU guards: engine-level checks (issues 13 and 14)."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "script", **options: object) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role, **options)
    return sorted((f.code, f.line) for f in found)


METRIC = """\
    import torch
    def accuracy(logits, target):
        hits = (logits.argmax(1) == target).float()
        return hits.mean().numpy()
    def _ratio(logits):
        return logits.sigmoid().numpy()
    class Meter:
        def update(self, preds):
            return preds.softmax(-1).numpy()
        def _peek(self, preds):
            return preds.softmax(-1).numpy()
    class _Hidden:
        def update(self, preds):
            return preds.softmax(-1).numpy()
    def outer(x):
        def inner(y):
            return y.abs().numpy()
        return inner(x.float())
    """


def test_numpy_on_a_parameter_of_public_library_code_needs_no_caller() -> None:
    assert _found(METRIC, "library") == [("DL007", 4), ("DL007", 9)]
    # private functions and methods, private classes and nested functions are judged by
    # their callers; a script's are too
    assert _found(METRIC, "script") == []


def test_a_library_module_with_a_demo_keeps_its_contract() -> None:
    # a package module that ends in `if __name__ == "__main__":` is imported all the
    # same: its public API keeps the library contract; the function the demo calls with
    # CPU tensors only is judged by that call, as any call in its own file
    main = "if __name__ == '__main__':\n    print(accuracy(torch.randn(4, 3), torch.zeros(4)))\n"
    assert _found(textwrap.dedent(METRIC) + main, "library") == [("DL007", 9)]


def test_the_message_names_the_contract() -> None:
    found = check_source(textwrap.dedent(METRIC), "m.py", ALL_RULES, role="library")
    assert "`accuracy` is a public function of library code: callers may pass `logits`" in (
        found[0].message
    )
    assert "`Meter.update` is a public function of library code" in found[1].message


def test_a_parameter_given_to_a_torch_op_is_a_tensor() -> None:
    src = """\
        import torch
        import torch.nn.functional as F
        def smooth(signal, width):
            kernel = torch.ones(1, 1, width) / width
            return F.conv1d(signal, kernel)
        def gate(x):
            return torch.sigmoid(x) * torch.ones(4)
        def count(items):
            return len(items) + torch.zeros(1)
        """
    assert _found(src, "library") == [("DL005", 4), ("DL005", 7)]


def test_indexing_with_none_keeps_a_tensor_more_than_0_dim() -> None:
    src = """\
        import torch
        def pad_mask(values, lengths):
            steps = torch.arange(values.size(1))
            return values * steps[None, :]
        def pick(values):
            steps = torch.arange(values.size(1))
            return values * steps[0]
        """
    # `steps[0]` is a 0-dim CPU tensor: fine in elementwise operations on any device
    assert _found(src, "library") == [("DL005", 3)]


DEFAULT_DEVICE = """\
    import torch
    import torch.nn as nn
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    def noisy(x):
        return x + torch.randn(x.shape)
    def main():
        with torch.device(device):
            model = nn.Linear(4, 4)
            print(noisy(model(torch.randn(2, 4))))
    {extra}
    if __name__ == "__main__":
        main()
    """


def test_a_helper_only_ever_called_under_a_default_device_follows_it() -> None:
    assert _found(DEFAULT_DEVICE.format(extra="")) == []
    # one call outside the `with` block: the helper may run with the CPU as the default
    outside = "def other():\n        model = nn.Linear(4, 4).to(device)\n        return noisy(model(torch.randn(2, 4, device=device)))"
    assert _found(DEFAULT_DEVICE.format(extra=outside)) == [("DL005", 5)]


def test_numpy_arrays_and_legacy_constructors_ignore_the_default_device() -> None:
    src = """\
        import numpy as np
        import torch
        import torch.nn as nn
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        with torch.device(device):
            model = nn.Linear(4, 4)
            a = model(torch.randn(2, 4)) + torch.from_numpy(np.ones(4, dtype=np.float32))
            b = model(torch.randn(2, 4)) + torch.FloatTensor([1.0, 2.0, 3.0, 4.0])
            c = model(torch.randn(2, 4)) + torch.ones(4)
        """
    assert _found(src) == [("DL005", 7), ("DL005", 8)]


def test_declared_gpu_guards_silence_dl002_only() -> None:
    src = """\
        import torch
        from project.testing import on_cluster
        @on_cluster
        def test_big():
            x = torch.randn(4, device="cuda")
            return x + torch.ones(4)
        """
    assert _found(src) == [("DL002", 5), ("DL005", 6)]
    assert _found(src, gpu_guards=("on_cluster",)) == [("DL005", 6)]
    assert _found(src, gpu_guards=("project.testing.on_cluster",)) == [("DL002", 5), ("DL005", 6)]


def test_helpers_called_only_from_the_data_pipeline_hold_cpu_data() -> None:
    src = """\
        import torch
        from torch.utils.data import Dataset
        def pad(tokens, size):
            out = torch.zeros(size, dtype=torch.long)
            return out + tokens.view(-1).min()
        class Tokens(Dataset):
            def __getitem__(self, i):
                return pad(self.rows[i], 16)
        def collate(batch):
            return [pad(b, 16) for b in batch]
        {extra}
        """
    assert _found(src.format(extra="")) == []
    placed = "def on_device(x, device):\n            return pad(x.to(device), 16)"
    assert _found(src.format(extra=placed)) == [("DL005", 4)]
    # library code: `pad` is public, but every call in its file passes CPU data (a data
    # processor of the pipeline, issue 13 class 4): the file's own use decides; one call
    # with a placed tensor brings it back
    assert _found(src.format(extra=""), "library") == []
    assert _found(src.format(extra=placed), "library") == [("DL005", 4)]


def test_library_modules_and_the_models_objects_keep_may_be_moved() -> None:
    src = """\
        import torch
        import torch.nn as nn
        from torch.autograd import Variable
        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(8, 4)
            def forward(self, x):
                return self.proj(x)
            def predict(self, x):
                return self.forward(x).argmax(-1).numpy()
            def init_state(self, x):
                h0 = Variable(torch.zeros(1, 4))
                return self.proj(x) + h0
        class Runner:
            def __init__(self, model):
                self.model = model
            def embed(self, x):
                return self.model(x).detach().numpy()
        """
    assert _found(src, "library") == [("DL005", 13), ("DL007", 11), ("DL007", 19)]
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="library")
    messages = {f.line: f.message for f in found}
    assert "callers may move the module to an accelerator" in messages[11]
    assert "callers may construct `Runner` with `model` on an accelerator" in messages[19]
    assert _found(src, "script") == [("DL005", 13)]  # a factory meeting the module, as before


def test_a_script_helper_that_reads_a_parameter_into_numpy_is_written_for_cpu_data() -> None:
    """`.numpy()` on the parameter's data as it is (no `.cpu()`): the helper expects host
    data, so a CPU factory meeting that parameter is no finding in a script's helper
    module.  A call here that passes a placed tensor, a helper without the `.numpy()`,
    and library code (public: its callers may pass anything) keep the finding."""
    src = """\
        import torch
        import torch.nn.functional as F

        def energy(waveform: torch.Tensor):
            basis = torch.ones(4, 1, 4)
            frames = F.conv1d(waveform[None, None], basis)
            return frames.norm(dim=1).squeeze(0).numpy()

        def weights(waveform: torch.Tensor):
            return waveform * torch.hann_window(waveform.shape[-1])
        """
    assert _found(src) == [("DL005", 10)]
    assert sorted(_found(src, role="library")) == [("DL005", 5), ("DL005", 10), ("DL007", 7)]
    placed = src + "\n        energy(torch.zeros(64, device='cuda'))\n"
    assert ("DL005", 5) in _found(placed)


def test_a_private_helper_no_call_here_binds_is_no_library_contract() -> None:
    """A private layer reached only through a `ModuleList` (no call here binds its
    arguments) has callers in this module alone, none seen: where its parameters are is
    unknown, and the finding would not be certain.  A public layer is a contract; a
    private one that a call here hands a placed tensor is a finding."""
    src = """\
        import torch
        from torch import nn

        class _Layer(nn.Module):
            def forward(self, x: torch.Tensor, lengths: torch.Tensor):
                mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
                return x * mask[..., None]

        class Layer(nn.Module):
            def forward(self, x: torch.Tensor, lengths: torch.Tensor):
                mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
                return x * mask[..., None]

        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([_Layer() for _ in range(2)])

            def forward(self, x, lengths):
                for layer in self.layers:
                    x = layer(x, lengths)
                return x
        """
    assert _found(src, role="library") == [("DL005", 11)]
    placed = src + "\n        _Layer()(torch.zeros(2, 3, 4), torch.ones(2, device='cuda'))\n"
    assert ("DL005", 6) in _found(placed, role="library")


HOOKS = """\
    import torch
    from pkg.base import Estimator
    from torch import nn
    class Binary(Estimator):
        def _loss(self, theta, x):
            return (theta * x).sum(1) - torch.ones(theta.shape[0])
    class Other(Estimator):
        def _loss(self, theta, x):
            return (theta - x).sum(1) - torch.ones(theta.shape[0])
    class Called(Estimator):
        def _score(self, theta):
            return theta.sum(1) - torch.ones(theta.shape[0])
        def score(self):
            return self._score(torch.randn(4, 2))
    class Layer(nn.Module):
        def _shift(self, x):
            return x - torch.ones(x.shape[-1])
    class _Private(Estimator):
        def _step(self, x):
            return x - torch.ones(x.shape[-1])
    """


def test_a_private_hook_of_a_project_base_class_is_called_with_any_device() -> None:
    """A private method nothing in its file calls, of a class whose base is another module
    of the project, is that base's hook (`fit` calls `self._loss(theta, x)`): open world,
    in every class that defines it.  A private method this file calls is judged by its
    calls; one of a third-party base's subclass, or of a private class, by callers out
    of sight (silent); a file outside a package has no project base class."""
    assert _found(HOOKS, "library", package="pkg") == [("DL005", 6), ("DL005", 9)]
    assert _found(HOOKS, "library") == []


RELAYED = """\
    import numpy as np
    import torch
    from torch import nn


    def quality(preds):
        model = _load_model()
        feats = torch.from_numpy(np.abs(preds.cpu().numpy())).float()
        n_wins = torch.tensor([feats.shape[1]])
        return model(feats, n_wins)


    def _load_model():
        model = _Outer()
        model.load_state_dict(torch.load("w.pt", map_location="cpu"))
        return model


    class _Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = Pool()

        def forward(self, x, n_wins):
            return self.pool(x, n_wins)


    class Pool(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(8, 1)

        def forward(self, x, n_wins):
            att = self.linear(x).transpose(2, 1)
            mask = torch.arange(att.shape[2])[None, :] < n_wins[:, None]
            return att.masked_fill(~mask.unsqueeze(1), 0.0)
    """


def test_a_parameter_handed_on_is_what_the_callers_of_the_caller_pass() -> None:
    """`self.pool(x, n_wins)` in a private module's `forward` passes what that `forward`
    was given: here only this file's CPU model and CPU tensors (torchmetrics' NISQA), so
    the pool's factory meets no accelerator.  When the pool is private too, it is silent;
    a public pool is open world (its callers are anywhere) and fires, as does the private
    pool when the outer module is public."""
    private = RELAYED.replace("class Pool", "class _Pool").replace("= Pool()", "= _Pool()")
    assert _found(private, "library", package="pkg") == []
    assert _found(RELAYED, "library", package="pkg") == [("DL005", 35)]
    public_outer = private.replace("_Outer", "Outer")
    assert _found(public_outer, "library", package="pkg") == [("DL005", 35)]
