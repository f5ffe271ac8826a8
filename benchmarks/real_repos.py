"""Run devlint over checkouts of real repositories and tabulate findings per rule.

Usage: python benchmarks/real_repos.py CHECKOUT [CHECKOUT ...] [--show] [--out FILE.md]

Fetches nothing: give it paths to checkouts you already have.  For each checkout it
counts `.py` files and lines, times one `devlint --no-cache --select ALL --output-format
json` run (wall clock, end to end; every rule selected, those off by default included) and
counts findings per rule.  `--show` also prints every
finding (path:line:col code message), for reading a sample by hand.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", "node_modules"}


def count_lines(root: Path) -> tuple[int, int]:
    files = lines = 0
    for path in root.rglob("*.py"):
        if SKIP_DIRS & set(path.relative_to(root).parts):
            continue
        files += 1
        with contextlib.suppress(OSError):
            lines += path.read_bytes().count(b"\n")
    return files, lines


def run(root: Path) -> tuple[float, list[dict]]:
    cmd = [
        sys.executable,
        "-m",
        "devlint",
        "--no-cache",
        "--exit-zero",
        "--select",
        "ALL",
        "--output-format",
        "json",
        str(root),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"devlint failed on {root} (exit {proc.returncode}):\n{proc.stderr}")
    return elapsed, json.loads(proc.stdout or "[]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print every finding")
    parser.add_argument("--out", type=Path, help="write the table as Markdown")
    args = parser.parse_args()

    codes = [f"DL00{i}" for i in range(0, 10)]
    rows = []
    totals: collections.Counter[str] = collections.Counter()
    for root in args.checkouts:
        files, lines = count_lines(root)
        elapsed, findings = run(root)
        per_rule = collections.Counter(f["code"] for f in findings)
        totals.update(per_rule)
        rows.append((root.name, files, lines, elapsed, per_rule))
        if args.show:
            for f in findings:
                rel = Path(f["filename"]).relative_to(root.resolve())
                loc = f["location"]
                print(f"{root.name}/{rel}:{loc['row']}:{loc['column']}: {f['code']} {f['message']}")

    header = "| repository | files | lines | seconds | " + " | ".join(codes) + " |"
    lines_out = [header, "|" + "---|" * (4 + len(codes))]
    for name, files, lines, elapsed, per_rule in rows:
        cells = " | ".join(str(per_rule.get(c, 0)) for c in codes)
        lines_out.append(f"| {name} | {files} | {lines} | {elapsed:.2f} | {cells} |")
    tf = sum(r[1] for r in rows)
    tl = sum(r[2] for r in rows)
    ts = sum(r[3] for r in rows)
    lines_out.append(
        f"| **total** | {tf} | {tl} | {ts:.2f} | "
        + " | ".join(str(totals.get(c, 0)) for c in codes)
        + " |"
    )
    table = "\n".join(lines_out)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
