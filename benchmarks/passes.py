"""How many files the project-wide phase analyses a second time.

    python benchmarks/passes.py CHECKOUT [--workers N]

Runs `devlint.runner.run` over every `.py` file of CHECKOUT (every rule, no cache) and
prints the number of jobs of each analysis pass (the first: every file on its own; the
second: the files whose imports the project says something about), the findings and
the wall time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from devlint import runner
from devlint.rules import ALL_RULES


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout", type=Path)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    passes: list[int] = []
    real = runner._analyse

    def counted(jobs, *rest, **kw):  # type: ignore[no-untyped-def]
        passes.append(len(jobs))
        return real(jobs, *rest, **kw)

    runner._analyse = counted  # type: ignore[assignment]
    jobs = [runner.Job(p, str(p)) for p in sorted(args.checkout.rglob("*.py"))]
    start = time.perf_counter()
    result = runner.run(jobs, ALL_RULES, workers=args.workers)
    elapsed = time.perf_counter() - start
    print(f"files {len(jobs)}; jobs per pass {passes}; findings {len(result.findings)}; "
          f"internal errors {len(result.errors)}; {elapsed:.2f} s")


if __name__ == "__main__":
    main()
