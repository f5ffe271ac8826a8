"""Draw the random sample of findings that a fresh reader labels (issue 13's audit).

Runs devlint (every rule selected) once per checkout of the corpus in `corpus.txt`,
then draws, per rule, a random sample of at most `--per-rule` findings with a fixed seed
(all of them when there are fewer).  The sample is written as a Markdown table with an
empty verdict column, for a reader who did not write the rules to fill in under
`../shared/AUDIT.md`.

    python benchmarks/audit/sample.py --repos /work/realrepos --seed 20261204 \\
        --out benchmarks/audit/sample.md --findings /tmp/audit-findings.json

Checkouts are looked up as `<repos>/<owner>+<name>`; a missing one is an error (the
corpus is fixed before the audit starts, so nothing is silently left out).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def corpus(path: Path) -> list[str]:
    """`owner/name` of each repository of the corpus file (comments skipped)."""
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split()[0])
    return names


def findings_of(checkout: Path, devlint: str) -> list[dict]:
    """Every finding devlint reports on one checkout, with paths relative to it."""
    proc = subprocess.run(
        [devlint, "--no-cache", "--exit-zero", "--select", "ALL", "--output-format", "json", "."],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        sys.exit(f"devlint failed on {checkout} (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout or "[]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=Path, required=True, help="folder of <owner>+<name> checkouts")
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus.txt")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--per-rule", type=int, default=30)
    ap.add_argument("--devlint", default="devlint")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--findings", type=Path, help="also write every finding here (JSON)")
    args = ap.parse_args()

    by_rule: dict[str, list[dict]] = defaultdict(list)
    every: list[dict] = []
    for name in corpus(args.corpus):
        checkout = args.repos / name.replace("/", "+")
        if not checkout.is_dir():
            sys.exit(f"missing checkout for {name}: {checkout}")
        for f in findings_of(checkout, args.devlint):
            f["repository"] = name
            every.append(f)
            if f["code"] != "DL000":  # unreadable files are not findings to judge
                by_rule[f["code"]].append(f)
    rng = random.Random(args.seed)
    lines = [
        f"Sample drawn by `benchmarks/audit/sample.py --seed {args.seed} --per-rule "
        f"{args.per_rule}` over the {len(corpus(args.corpus))} repositories of `corpus.txt`.",
        "",
        "| # | rule | repository | file:line | message | verdict | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    n = 0
    totals = []
    for rule in sorted(by_rule):
        found = sorted(
            by_rule[rule], key=lambda f: (f["repository"], f["filename"], f["location"]["row"])
        )
        picked = found if len(found) <= args.per_rule else rng.sample(found, args.per_rule)
        picked.sort(key=lambda f: (f["repository"], f["filename"], f["location"]["row"]))
        totals.append(f"{rule}: {len(picked)} of {len(found)}")
        for f in picked:
            n += 1
            msg = f["message"].replace("|", "\\|").replace("\n", " ")
            where = f"{f['filename'].lstrip('./')}:{f['location']['row']}"
            if f.get("cell") is not None:
                # a notebook finding: its line is within the cell
                where = f"{f['filename'].lstrip('./')}:cell {f['cell']}:{f['location']['row']}"
            lines.append(f"| {n} | {rule} | {f['repository']} | {where} | {msg} | | |")
    lines[1:1] = ["", "Per rule (sampled of total): " + "; ".join(totals) + "."]
    args.out.write_text("\n".join(lines) + "\n")
    if args.findings is not None:
        args.findings.write_text(json.dumps(every, indent=1))
    print("; ".join(totals))


if __name__ == "__main__":
    main()
