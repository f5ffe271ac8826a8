"""Overhead of the runtime harness: time per training step, plain CPU vs emulated accelerator.

    python benchmarks/runtime_overhead.py            # prints a markdown table
    python benchmarks/runtime_overhead.py --steps 50

Each configuration runs in its own process: once as a plain CPU program, once under
`devlint confirm --device emulated` (the same child entry point, events and line coverage
on).  The step time is the median of the timed steps after warm-up.  The numbers in
docs/runtime.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

STEP_SCRIPT = r"""
import json, sys, time
import torch
import torch.nn as nn

torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[5]))
kind, hidden, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if kind == "mlp":
    model = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, 10))
    x = torch.randn(batch, hidden)
elif kind == "cnn":
    model = nn.Sequential(nn.Conv2d(3, hidden, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, 10))
    x = torch.randn(batch, 3, 32, 32)
else:
    layer = nn.TransformerEncoderLayer(hidden, 4, 4 * hidden, batch_first=True)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Flatten(), nn.Linear(hidden * 16, 10))
    x = torch.randn(batch, 16, hidden)
y = torch.randint(0, 10, (batch,))
model = model.to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
times = []
for step in range(steps):
    t0 = time.perf_counter()
    xb, yb = x.to(device), y.to(device)
    loss = nn.functional.cross_entropy(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    loss.item()
    times.append(time.perf_counter() - t0)
warm = sorted(times[min(5, steps // 4):])
print(json.dumps({"median": warm[len(warm) // 2], "device": str(device)}))
"""

CONFIGS = [
    ("tiny MLP", "mlp", 32, 16),
    ("MLP", "mlp", 1024, 256),
    ("CNN", "cnn", 32, 64),
    ("Transformer", "transformer", 64, 32),
]


def run_one(script: str, args: list[str], emulated: bool) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"))
    if not emulated:
        out = subprocess.run(
            [sys.executable, script, *args], capture_output=True, text=True, env=env, check=True
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    work = tempfile.mkdtemp()
    spec = {
        "script": script,
        "argv": args,
        "device": "emulated",
        "events": f"{work}/ev",
        "results": f"{work}/res.json",
    }
    with open(f"{work}/spec.json", "w") as fh:
        json.dump(spec, fh)
    out = subprocess.run(
        [sys.executable, "-m", "devlint.runtime.child", f"{work}/spec.json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(STEP_SCRIPT)
        script = fh.name
    print(
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, {args.threads} thread(s), "
        f"{args.steps} steps, median step time"
    )
    print()
    print("| model | size | plain CPU (ms/step) | emulated (ms/step) | overhead |")
    print("|---|---|---|---|---|")
    for name, kind, hidden, batch in CONFIGS:
        a = [kind, str(hidden), str(batch), str(args.steps), str(args.threads)]
        plain = run_one(script, a, emulated=False)
        emu = run_one(script, a, emulated=True)
        assert emu["device"].startswith("cuda"), emu
        ratio = emu["median"] / plain["median"]
        print(
            f"| {name} | hidden {hidden}, batch {batch} | {plain['median'] * 1e3:.2f} | "
            f"{emu['median'] * 1e3:.2f} | {ratio:.2f}x |"
        )
    os.unlink(script)


if __name__ == "__main__":
    main()
