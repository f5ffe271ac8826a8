"""`pack_padded_sequence(data, lengths)` reads its lengths on the host: lengths on an
accelerator raise `'lengths' argument should be a 1D CPU int64 tensor` (PyTorch 1.7 and
later), whatever device the data is on (sentence-transformers' LSTM module).  DL009,
with a safe fix that copies the lengths to the host."""

from __future__ import annotations

from devlint.checker import check_source
from devlint.fix import fix_source
from devlint.rules import RULES_BY_CODE

DL009 = [RULES_BY_CODE["DL009"]]

LIBRARY = """\
import torch
from torch import nn


class LSTM(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.encoder = nn.LSTM(dim, dim, batch_first=True)

    def forward(self, features):
        lengths = torch.clamp(features["sentence_lengths"], min=1)
        packed = nn.utils.rnn.pack_padded_sequence(
            features["token_embeddings"], lengths, batch_first=True, enforce_sorted=False
        )
        return self.encoder(packed)


class Encoder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.rnn = nn.GRU(dim, dim, batch_first=True)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        return self.rnn(packed)

    def forward_copied(self, features):
        lengths = features["sentence_lengths"].cpu()
        return nn.utils.rnn.pack_padded_sequence(features["x"], lengths, batch_first=True)
"""


def test_library_lengths_moved_with_the_data_fire() -> None:
    """Under the library contract, lengths taken from the same parameter as the data are
    on the accelerator with it; a lengths parameter of its own is the caller's to give on
    the CPU, and a copy to the host is right."""
    found = check_source(LIBRARY, "pkg/lstm.py", DL009, role="library")
    assert [(f.code, f.line) for f in found] == [("DL009", 12)]
    assert "`features` on an accelerator" in found[0].message


SCRIPT = """\
import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.rnn = nn.GRU(4, 4, batch_first=True)

    def forward(self, ids):
        lengths = (ids != 0).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True)
        return self.rnn(packed)


def main(on_device):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Tagger().to(device)
    ids = torch.randint(1, 10, (2, 3), device=device if on_device else "cpu")
    return model(ids)
"""


def test_script_lengths_fire_where_a_call_passes_placed_ids() -> None:
    found = check_source(SCRIPT, "tag.py", DL009)
    assert [(f.code, f.line) for f in found] == [("DL009", 13)]
    result = fix_source(SCRIPT, "tag.py", lambda text: check_source(text, "tag.py", DL009))
    assert "self.embed(ids), lengths.cpu(), batch_first=True" in result.fixed
    assert check_source(result.fixed, "tag.py", DL009) == []


def test_script_lengths_of_cpu_ids_stay_silent() -> None:
    cpu_only = SCRIPT.replace('device=device if on_device else "cpu"', "")
    assert check_source(cpu_only, "tag.py", DL009) == []
