"""Confirm every fixture on one device and write the per-rule table: the script to run on
a GPU machine (`--device cuda`), also runnable here (`--device emulated`).

Usage: python benchmarks/fixture_confirmation.py [--device cuda] [--out FILE.md] [--jobs N]

Each buggy fixture runs under the harness with `--keep-going --max-batches 1`; its
`# expect:` lines get their verdicts.  DL002 fixtures run with no accelerator (`cpu`),
where a hard-coded `'cuda'` fails; on a GPU machine their bug is invisible.  DL008
fixtures save and reload their checkpoint in one run, so no load fails: each expects the
verdict `tests/test_runtime_fixtures.py` names for it (UNTESTED, "would fail on a CPU-only
machine", on a real or emulated accelerator).  Every clean fixture runs without
`--keep-going` and must show no device event.  The table names the device, torch version
and each verdict; the exit status is 1 if any expected line does not get its expected
verdict or any clean fixture has an event.

On the lent GPU machine (Python 3.12, torch, click and pytest) nothing needs to be
carried: devlint's own requirement is click (its analysis reads Python's `ast`).  From
the repository root:

    PYTHONPATH=src python3 benchmarks/fixture_confirmation.py --device cuda --out $OUT/cuda.md
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fixture_expectations

from tests.fixture_expectations import expectations, fixture_files  # noqa: E402
from tests.test_runtime_fixtures import expected_verdict  # noqa: E402

from devlint.runtime.confirm import (  # noqa: E402
    CONFIRMED,
    Options,
    Program,
    confirm_findings,
    files_that_ran,
    run_many,
    static_findings,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cuda, mps, emulated")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    buggy, clean = fixture_files("buggy"), fixture_files("clean")
    jobs: list[tuple[str, Path, Options]] = []
    for path in buggy:
        device = "cpu" if path.name.startswith("dl002") else args.device
        jobs.append(("buggy", path, Options(device=device, keep_going=True, max_batches=1)))
    for path in clean:
        jobs.append(("clean", path, Options(device=args.device, max_batches=1)))
    results = run_many(
        [Program(script=str(p)) for _, p, _ in jobs], [o for *_, o in jobs], args.jobs
    )

    rows, per_rule, failures = [], Counter(), 0
    torch_version, device = "?", "?"
    for (kind, path, _), result in zip(jobs, results):
        torch_version = result.torch_version or torch_version
        if kind == "clean":
            # A load without map_location that did not fail is recorded, and is no error
            # (as in tests/test_runtime_fixtures.py and gpu_check.py): only errors count.
            errors = [
                e
                for e in result.events
                if not (e.get("kind") == "load" and e.get("outcome") != "failed")
            ]
            ok = result.status == "ok" and not errors
            failures += not ok
            rows.append(
                f"| clean/{path.name} | - | {'no device event' if ok else 'EVENTS: ' + str(len(errors))} | |"
            )
            continue
        if not path.name.startswith("dl002"):
            device = result.device or device
        items, _missed = confirm_findings(
            static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"]), result
        )
        verdicts = {(f.code, f.line): c for f, c in items}
        for code, line in sorted(expectations(path)):
            conf = verdicts.get((code, line))
            verdict = conf.verdict if conf else "NO STATIC FINDING"
            per_rule[(code, verdict)] += 1
            # A real accelerator behaves as the emulated one: a DL008 load would fail.
            want = expected_verdict(path.name, code, "cpu" if code == "DL002" else "emulated")
            failures += verdict != want
            if verdict != want:
                verdict += f" (expected {want})"
            message = (conf.message if conf else "").replace("|", "\\|").splitlines()
            rows.append(
                f"| {path.name}:{line} | {code} | {verdict} | {message[0][:110] if message else ''} |"
            )

    codes = sorted({c for c, _ in per_rule})
    summary = [
        f"device: {device} (DL002 fixtures: no accelerator), torch {torch_version}",
        "",
        "| rule | confirmed | other verdicts |",
        "|---|---|---|",
    ]
    for code in codes:
        other = {v: n for (c, v), n in per_rule.items() if c == code and v != CONFIRMED}
        summary.append(f"| {code} | {per_rule[(code, CONFIRMED)]} | {other or ''} |")
    text = "\n".join(
        [
            *summary,
            "",
            "| fixture:line | rule | verdict | runtime message |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
