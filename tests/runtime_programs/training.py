"""Train small models and print the losses exactly (`repr`), on `cuda` when available:
run as a plain CPU program and under the emulated accelerator, the losses must be
bit-identical (see tests/test_runtime_emulation.py)."""

import sys

import torch
import torch.nn as nn

torch.set_num_threads(1)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def models():
    yield (
        "mlp",
        nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4)),
        (8, 16),
    )
    yield (
        "cnn",
        nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 4),
        ),
        (8, 3, 8, 8),
    )
    yield "lstm", LSTMHead(), (8, 5, 6)
    yield "transformer", TransformerHead(), (8, 6, 16)
    yield "packed_lstm", PackedHead(nn.LSTM(6, 12, batch_first=True)), (8, 5, 6)
    yield "packed_gru", PackedHead(nn.GRU(6, 12, batch_first=True)), (8, 5, 6)


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 12, batch_first=True)
        self.out = nn.Linear(12, 4)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h[:, -1])


class PackedHead(nn.Module):
    """An RNN over sequences of different lengths: the lengths stay on the CPU, as
    `pack_padded_sequence` requires on every device."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn
        self.out = nn.Linear(12, 4)

    def forward(self, x):
        lengths = torch.tensor([5, 4, 3, 5, 2, 5, 1, 5])
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        _, hidden = self.rnn(packed)
        h = hidden[0] if isinstance(hidden, tuple) else hidden
        return self.out(h[-1])


class TransformerHead(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.enc(x).mean(1))


for name, model, shape in models():
    for opt_name in ("sgd", "adam"):
        torch.manual_seed(0)
        for p in model.parameters():
            nn.init.normal_(p, std=0.1)
        model = model.to(device)
        opt = (
            torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            if opt_name == "sgd"
            else torch.optim.Adam(model.parameters(), lr=1e-3)
        )
        losses = []
        for _step in range(4):
            x = torch.randn(*shape).to(device)
            y = torch.randint(0, 4, (shape[0],)).to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(repr(loss.item()))
        print(name, opt_name, str(device), " ".join(losses))
sys.stdout.flush()
