"""Recall on library code (issue 14): members of module containers, tensors that stand in
for an omitted argument, and in-place accumulation into a 0-dim CPU tensor."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


CONTAINERS = """\
    import torch
    from torch import nn
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 1)})
            self.scales = nn.ParameterList([nn.Parameter(torch.ones(4))])
        def by_list(self, x):
            acc = torch.zeros(2, 4)
            for block in self.blocks:
                acc = acc + block(x)
            return acc
        def by_index(self, x):
            return torch.zeros(2, 4) + self.blocks[0](x)
        def by_sequential(self, x):
            acc = torch.zeros(2, 4)
            for layer in self.seq:
                acc = acc + layer(x)
            return acc
        def by_zip(self, xs):
            acc = torch.zeros(2, 4)
            for block, x in zip(self.blocks, xs):
                acc = acc + block(x)
            return acc
        def by_dict_values(self, x):
            acc = torch.zeros(2, 1)
            for head in self.heads.values():
                acc = acc + head(x)
            return acc
        def by_dict_items(self, x):
            acc = torch.zeros(2, 1)
            for name, head in self.heads.items():
                acc = acc + head(x)
            return acc
        def dict_keys(self, x):
            acc = torch.zeros(2, 1)
            for name in self.heads:
                acc = acc + len(name)
            return acc
        def by_parameters(self, x):
            acc = torch.zeros(4)
            for scale in self.scales:
                acc = acc * scale
            return acc
    """


def test_members_of_module_containers_live_where_the_container_does() -> None:
    assert _found(CONTAINERS) == [
        ("DL005", 11),
        ("DL005", 16),
        ("DL005", 18),
        ("DL005", 23),
        ("DL005", 28),
        ("DL005", 33),
        ("DL005", 43),
    ]


def test_members_placed_with_the_sum_are_fine() -> None:
    src = """\
        import torch
        from torch import nn
        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            def forward(self, x):
                acc = torch.zeros(2, 4, device=x.device)
                for block in self.blocks:
                    acc = acc + block(x)
                first = torch.zeros_like(acc)
                for block in self.blocks:
                    first = first + block(x)
                return acc + first
        """
    assert _found(src) == []


DEFAULTS = """\
    import torch
    def if_none(est, mask=None):
        if mask is None:
            mask = torch.ones(est.shape[0], 1)
        return est * mask
    def if_expression(est, mask=None):
        mask = mask if mask is not None else torch.ones(est.shape[0], 1)
        return est * mask
    def if_expression_reversed(est, mask=None):
        mask = torch.ones(est.shape[0], 1) if mask is None else mask
        return est * mask
    def dict_default(est, batch):
        weight = batch.get("weight", torch.ones(est.shape[0], 1))
        return est * weight
    def given_or_made(est, mask=None):
        if mask is not None:
            mask = mask.transpose(0, 1)
        else:
            mask = torch.ones(est.shape[0], 1)
        return est * mask
    """


def test_a_tensor_standing_in_for_an_omitted_argument_is_that_path_s_value() -> None:
    assert _found(DEFAULTS) == [
        ("DL005", 4),
        ("DL005", 7),
        ("DL005", 10),
        ("DL005", 13),
        ("DL005", 19),
    ]


def test_defaults_placed_or_moved_or_with_other_branches_are_not_reported() -> None:
    src = """\
        import torch
        def placed(est, mask=None):
            if mask is None:
                mask = torch.ones(est.shape[0], 1, device=est.device)
            return est * mask
        def moved(est, mask=None):
            if mask is None:
                mask = torch.ones(est.shape[0], 1)
            return est * mask.to(est.device)
        def other_name(est, mask=None, scale=None):
            if scale is None:
                mask = torch.ones(est.shape[0], 1)
            return est * mask
        def like(est, batch):
            return est * batch.get("weight", torch.ones_like(est))
        def both_on_host(est, mask=None):
            if mask is not None:
                mask = mask.cpu()
            else:
                mask = torch.ones(est.shape[0], 1)
            return est.cpu() * mask
        """
    assert _found(src) == []


def test_a_caller_that_passes_the_argument_takes_the_other_branch() -> None:
    # closed world (a script): the helper is evaluated with its caller's arguments
    src = """\
        import torch
        def scaled(est, mask=None):
            if mask is None:
                mask = torch.ones(est.shape[0], 1)
            return est * mask
        def main():
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            est = torch.rand(3, 2, device=device)
            print(scaled(est, torch.ones(3, 1, device=device)))
        if __name__ == "__main__":
            main()
        """
    assert _found(src, "script") == []
    omitted = src.replace("scaled(est, torch.ones(3, 1, device=device))", "scaled(est)")
    assert _found(omitted, "script") == [("DL005", 4)]


def test_in_place_accumulation_into_a_0_dim_cpu_tensor_fails() -> None:
    src = """\
        import torch
        def total_loss(parts):
            total = torch.tensor(0.0)
            total += parts.sum()
            return total
        def total_out_of_place(parts):
            total = torch.tensor(0.0)
            total = total + parts.sum()
            return total
        def total_of_numbers(values):
            total = torch.tensor(0.0)
            for value in values:
                total += value
            return total
        def total_of_cpu(parts):
            total = torch.tensor(0.0)
            total += parts.cpu().sum()
            return total
        """
    assert _found(src) == [("DL005", 3)]


def test_data_of_a_parameter_is_the_tensor_itself() -> None:
    src = """\
        import numpy as np
        import torch
        class TripletLoss:
            def batch_hard(self, y, distances):
                return distances.data.numpy()
            def on_host(self, y, distances):
                return distances.data.cpu().numpy()
        def view_of(buffer):
            return np.asarray(buffer.data)
        """
    assert _found(src) == [("DL007", 5)]


PLAIN_LIST = """\
    import torch
    from torch import nn
    class Stacked(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.sizes = sizes
            self.layers_ = []
            for i, size in enumerate(sizes):
                layer = nn.GRU(4, size)
                {register}
                self.layers_.append(layer)
        def forward(self, x):
            out = x
            for size, layer in zip(self.sizes, self.layers_):
                out, _ = layer(out, torch.zeros(1, x.size(1), size))
            return out
    """


def test_a_plain_list_of_registered_submodules_moves_with_the_module() -> None:
    registered = PLAIN_LIST.format(register='self.add_module(f"gru_{i}", layer)')
    assert _found(registered) == [("DL005", 15)]
    # not registered: `.to()` does not move them, and where they are is not known here
    assert _found(PLAIN_LIST.format(register="pass")) == []


def test_lists_grown_in_a_loop_hold_the_modules_appended() -> None:
    src = """\
        import torch
        from torch import nn
        def stack(sizes, x):
            layers = []
            for size in sizes:
                layers.append(nn.Linear(4, size).to(x.device))
            return [layer(x) + torch.zeros(2, 4) for layer in layers]
        def gather(x):
            parts = []
            for scale in range(3):
                parts.append(x.abs() * scale)
            return torch.cat(parts) + torch.zeros(3)
        """
    # tensors gathered in a list stay untracked (indices and lengths often stay on the CPU)
    assert _found(src) == [("DL005", 7)]


CALLEE = """\
    import torch
    from torch import nn
    class Spectral(nn.Module):
        def __init__(self, bins):
            super().__init__()
            self.register_buffer("weights", torch.ones(bins))
            self.norm = self.level(torch.ones(1, 1, bins), torch.ones(1, 1, 1))
        def forward(self, est, target, pad_mask=None):
            if pad_mask is None:
                pad_mask = torch.ones(est.shape[0], est.shape[1], 1)
            return self.level(est, pad_mask) - self.level(target, pad_mask)
        def level(self, spectra, pad_mask):
            return (spectra * pad_mask * self.weights).sum(-1)
    def reduce(x, lower=True):
        if not lower:
            return reduce(x, lower=True).flip(-1)
        return x * torch.tril(torch.ones(x.shape[-2], x.shape[-1]))
    """


def test_a_factory_passed_to_a_callee_is_reported_where_it_is_made() -> None:
    found = check_source(textwrap.dedent(CALLEE), "m.py", ALL_RULES, role="library")
    # `__init__` calls `level` with CPU tensors on a CPU module: fine; a recursive call
    # does not make the factory "passed to" itself
    assert sorted((f.code, f.line) for f in found) == [("DL005", 10), ("DL005", 17)]
    by_line = {f.line: f.message for f in found}
    assert "combined with `spectra` in `Spectral.level`, which it is passed to," in by_line[10]
    assert "which it is passed to" not in by_line[17]


def test_buffers_met_while_the_module_is_built_are_on_the_cpu() -> None:
    src = """\
        import torch
        from torch import nn
        class Quantizer(nn.Module):
            def __init__(self, bits):
                super().__init__()
                self.register_buffer("mask", 2 ** torch.arange(bits - 1, -1, -1))
                codes = (torch.arange(2**bits)[..., None] & self.mask) != 0
                self.register_buffer("codebook", codes.float())
            def forward(self, x):
                return (x.long() & self.mask) + torch.arange(x.shape[-1])
        """
    assert _found(src) == [("DL005", 10)]


def test_a_module_handed_to_init_is_probed_while_it_is_built() -> None:
    """Models are built, then moved: a module the caller hands to a constructor is on the
    CPU while the constructor (or a method it calls, however deep) probes its output
    shape.  The same probe in a method that runs on the moved module still fires."""
    src = """\
        import torch
        from torch import nn
        class PatchEmbedding(nn.Module):
            def __init__(self, size, backbone=None):
                super().__init__()
                self.backbone = backbone or nn.Conv2d(3, 8, 4, stride=4)
                self.own = nn.Conv2d(3, 8, 4, stride=4)
                self.dims = self.probe(size)
            def probe(self, size):
                own = self.own(torch.zeros(1, 3, size, size))
                return self.feature_size(size) + own.shape[-1]
            def feature_size(self, size):
                return self.backbone(torch.zeros(1, 3, size, size)).shape[-1]
            def resize(self, size):
                return self.backbone(torch.zeros(1, 3, size, size)).shape[-1]
        """
    assert _found(src) == [("DL005", 15)]
    # a caller that hands in a backbone it already moved: the probe meets GPU weights
    placed = src + """\
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = PatchEmbedding(32, nn.Conv2d(3, 8, 4, stride=4).to(device))
        """
    assert _found(placed) == [("DL005", 13), ("DL005", 15)]


def test_a_public_method_only_given_host_copies_is_their_helper() -> None:
    src = """\
        import torch
        class Pipeline:
            def to_waveform(self, mel):
                waveform = self.vocoder(mel)
                return waveform.cpu().float()
            def score_waveforms(self, text, audio):
                return audio.numpy()
            def __call__(self, prompt):
                mel = self.vae.decode(prompt).sample
                audio = self.to_waveform(mel)[:, :16000]
                return self.score_waveforms(prompt, audio)
        """
    assert _found(src) == []
    # without the host copy the caller may pass an accelerator tensor: reported
    assert _found(src.replace("waveform.cpu().float()", "waveform.float()")) == [("DL007", 7)]
