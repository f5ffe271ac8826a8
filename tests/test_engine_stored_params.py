"""In a program every caller is in sight: a factory meeting what a constructor stored
(`self.model = model`) is reported when a call of the constructor passes a placed model,
and not when every call passes a CPU one."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES

PROGRAM = """\
    import torch
    import torch.nn as nn
    class Trainer:
        def __init__(self, model, device):
            self.model = model
            self.device = device
        def train(self, text):
            total = torch.zeros(1)
            for _ in range(3):
                out = self.model(text.to(self.device))
                total += nn.functional.cross_entropy(out, text.to(self.device))
            return total.item()
    def main():
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = nn.Linear(3, 3).to(device)
        print(Trainer(model, device).train(torch.randint(0, 3, (8,))))
    if __name__ == "__main__":
        main()
"""


def _found(src: str) -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role="script")
    return sorted((f.code, f.line) for f in found)


def test_a_constructor_given_a_placed_model_is_the_evidence() -> None:
    assert _found(PROGRAM) == [("DL005", 8)]


def test_a_constructor_only_ever_given_a_cpu_model_is_not() -> None:
    src = PROGRAM.replace("model = nn.Linear(3, 3).to(device)", "model = nn.Linear(3, 3)")
    assert "to(device)\n" not in src.split("def main")[1].split("print")[0]
    # (the CPU model meeting placed text is another defect; the factory is not one)
    assert ("DL005", 8) not in _found(src)
