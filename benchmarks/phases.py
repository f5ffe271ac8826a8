"""Where a cold run's time goes, phase by phase, in one process.

Usage: python benchmarks/phases.py CHECKOUT [--repeat 3]

For every `.py` file: reading and the prefilter, the syntax check (Python's `compile()`,
every file); for those the prefilter lets through: the parse (`libcst.parse_module`), the
flow analysis (`engine.analyze`, the LibCST visitor), the rules (messages and fixes), and
positions with the fixes rendered (only for files with findings, as the checker does).  Prints the best of `--repeat` passes per phase, in seconds and as a share.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import libcst as cst

from devlint.checker import _locate
from devlint.engine.flow import analyze
from devlint.prefilter import may_have_findings
from devlint.rules import ALL_RULES
from devlint.runner import tune_gc

SKIP = {".git", ".venv", "venv", "build", "dist", "__pycache__"}


def one_pass(files: list[Path]) -> dict[str, float]:
    phases = ("read + prefilter", "compile()", "parse", "analysis", "rules", "positions")
    spent = dict.fromkeys(phases, 0.0)
    rules = {r.code: r for r in ALL_RULES}
    for path in files:
        t0 = time.perf_counter()
        text = path.read_text(encoding="utf-8", errors="replace")
        keep = may_have_findings(text)
        tc = time.perf_counter()
        spent["read + prefilter"] += tc - t0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(text, str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError):
            continue  # reported by devlint itself
        t1 = time.perf_counter()
        spent["compile()"] += t1 - tc
        if not keep:
            continue
        try:
            module = cst.parse_module(text)
        except Exception:  # syntax errors are reported by devlint itself
            continue
        t2 = time.perf_counter()
        try:
            facts = analyze(module, text)
        except RecursionError:
            continue
        t3 = time.perf_counter()
        reports = [r for rule in ALL_RULES for r in rule.check(facts)]
        t4 = time.perf_counter()
        if reports:
            _locate(module, text, reports, str(path), rules)
        t5 = time.perf_counter()
        spent["parse"] += t2 - t1
        spent["analysis"] += t3 - t2
        spent["rules"] += t4 - t3
        spent["positions"] += t5 - t4
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = [
        p
        for p in sorted(args.checkout.rglob("*.py"))
        if not SKIP & set(p.relative_to(args.checkout).parts)
    ]
    tune_gc()  # as the command line does
    passes = [one_pass(files) for _ in range(args.repeat)]
    best = {k: min(p[k] for p in passes) for k in passes[0]}
    total = sum(best.values())
    print(f"{args.checkout.name}: {len(files)} files, best of {args.repeat} passes")
    print("| phase | seconds | share |")
    print("|---|---|---|")
    for phase, secs in best.items():
        print(f"| {phase} | {secs:.3f} | {secs / total:.0%} |")
    print(f"| total (one process, imports excluded) | {total:.3f} | |")


if __name__ == "__main__":
    main()
