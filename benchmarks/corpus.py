"""Run devlint once over many trees: internal errors, DL000s, time and peak memory.

Usage: python benchmarks/corpus.py PATH [PATH ...] [--jobs N]

Fetches nothing.  One `devlint --no-cache --exit-zero --select ALL --output-format
json-lines` run over all PATHS (every rule, those off by default included); prints lines
of Python, wall time, lines per second, the peak resident memory of the largest devlint
process, the number of internal errors reported on stderr (the robustness target is
zero) and the DL000 findings (files that cannot be parsed).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def count_lines(paths: list[Path]) -> tuple[int, int]:
    files = lines = 0
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*.py"):
            files += 1
            with contextlib.suppress(OSError):
                lines += path.read_bytes().count(b"\n")
    return files, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--jobs", default="0")
    args = parser.parse_args()
    files, lines = count_lines(args.paths)
    cmd = [
        sys.executable,
        "-m",
        "devlint",
        "--no-cache",
        "--exit-zero",
        "--isolated",
        "--no-respect-gitignore",
        "--select",
        "ALL",
        "--jobs",
        args.jobs,
        "--output-format",
        "json-lines",
        *map(str, args.paths),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    findings = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    per_rule = collections.Counter(f["code"] for f in findings)
    internal = [line for line in proc.stderr.splitlines() if "internal error" in line]
    print(f"paths: {len(args.paths)}, .py files: {files}, lines: {lines}")
    print(f"exit status: {proc.returncode} (0 expected with --exit-zero)")
    print(f"wall time: {elapsed:.1f} s, {lines / elapsed:,.0f} lines/s, --jobs {args.jobs}")
    print(f"peak RSS of the largest devlint process: {peak_mb:.0f} MB")
    print(f"internal errors: {len(internal)}")
    for line in internal[:20]:
        print("  " + line)
    print("findings per rule: " + ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items())))
    dl000 = [f for f in findings if f["code"] == "DL000"]
    reasons = collections.Counter(f["message"].split(":")[0] for f in dl000)
    print("DL000 by reason: " + ", ".join(f"{k!r} {v}" for k, v in reasons.most_common(8)))


if __name__ == "__main__":
    main()
