"""Time devlint on a checkout, side by side with the LibCST parse floor and peers.

Usage: python benchmarks/speed.py CHECKOUT [--repeat 5] [--peers-bin DIR] [--out FILE.md]

Fetches nothing.  Measures, as the median of `--repeat` runs of wall-clock time:
- the floor: `libcst.parse_module` of every `.py` file that mentions torch, in one
  process, the import of LibCST excluded (the process times its own loop);
- devlint cold (`--no-cache`, default `--jobs`, and `--jobs 1`);
- devlint warm (second run on an unchanged tree with a cache), and after touching one file;
- peers found in `--peers-bin` (a virtualenv's bin with `torchfix`, `torch-preflight`,
  `flake8`, `ruff`), each over the same checkout.
Ratios are against the parse floor and against TorchFix, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBCST_FLOOR = """
import sys, time
from pathlib import Path
import libcst
skip = {".git", ".venv", "venv", "build", "dist", "__pycache__"}
start = time.perf_counter()
for p in sorted(Path(sys.argv[1]).rglob("*.py")):
    if skip & set(p.relative_to(sys.argv[1]).parts):
        continue
    data = p.read_bytes()
    if b"torch" not in data:
        continue
    try:
        libcst.parse_module(data)
    except Exception:
        pass
print(time.perf_counter() - start)
"""


def timed(cmd: list[str], repeat: int, env: dict | None = None, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(commands: dict[str, list[str]], repeat: int) -> list[tuple[str, float]]:
    """Medians of `repeat` rounds, each round running every command once: a busy
    neighbour on a shared machine then slows all of them alike, and the ratios hold."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            if name.startswith(FLOOR):
                # the floor process reports its own time, without start-up and import
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                times[name].append(float(out.split()[-1]))
            else:
                times[name].append(timed(cmd, 1))
    return [(name, statistics.median(ts)) for name, ts in times.items()]


FLOOR = "LibCST parse of the torch files, one process, import excluded (floor)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peers-bin", type=Path, help="bin folder holding peer linters")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root = args.checkout.resolve()
    # time what users run: with byte-code caches written (some sandboxes turn them off)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(__file__).parent.parent / "src")]
    )
    py = sys.executable
    devlint = [py, "-m", "devlint", "--exit-zero", "--output-format", "concise"]
    rows: list[tuple[str, float]] = []

    commands = {FLOOR: [py, "-c", LIBCST_FLOOR, str(root)]}
    commands["devlint cold (--no-cache)"] = [*devlint, "--no-cache", str(root)]
    commands["devlint cold, --jobs 1"] = [*devlint, "--no-cache", "--jobs", "1", str(root)]
    rows.extend(interleaved(commands, args.repeat))

    cache_dir = Path(tempfile.mkdtemp(prefix="devlint-bench-cache-"))
    try:
        warm_cmd = [*devlint, "--cache-dir", str(cache_dir), str(root)]
        subprocess.run(warm_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        rows.append(("devlint warm (nothing changed)", timed(warm_cmd, args.repeat)))
        # the worst single change: the largest file that the analysis does not skip
        victim = max(
            (p for p in root.rglob("*.py") if b"torch" in p.read_bytes()),
            key=lambda p: (p.stat().st_size, str(p)),
        )
        original = victim.read_bytes()
        counter = [0]

        def touch() -> None:
            counter[0] += 1
            victim.write_bytes(original + f"\n# bench {counter[0]}\n".encode())

        try:
            rows.append(
                ("devlint warm, one file changed", timed(warm_cmd, args.repeat, before=touch))
            )
        finally:
            victim.write_bytes(original)
        rows.append(
            (
                f"devlint cold on that file alone ({victim.relative_to(root)})",
                timed([*devlint, "--no-cache", str(victim)], args.repeat),
            )
        )
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    if args.peers_bin:
        peers = {
            "TorchFix": ["torchfix", "--select=ALL", str(root)],
            "torch-preflight": ["torch-preflight", "check", str(root)],
            "flake8 (alone)": ["flake8", "--select=E9", str(root)],
            "ruff (reference)": ["ruff", "check", "--no-cache", "--exit-zero", str(root)],
        }
        env = dict(os.environ, PATH=f"{args.peers_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        for name, cmd in peers.items():
            exe = args.peers_bin / cmd[0]
            if exe.exists():
                rows.append((name, timed([str(exe), *cmd[1:]], args.repeat, env=env)))

    floor = rows[0][1]
    torchfix = dict(rows).get("TorchFix")
    lines = [
        f"checkout: {root.name}, {args.repeat} runs each (median), {os.cpu_count()} cores",
        "",
        "| what | seconds | / parse floor | / TorchFix |",
        "|---|---|---|---|",
    ]
    for name, secs in rows:
        vs_tf = f"{secs / torchfix:.3f}" if torchfix else "-"
        lines.append(f"| {name} | {secs:.2f} | {secs / floor:.2f} | {vs_tf} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
