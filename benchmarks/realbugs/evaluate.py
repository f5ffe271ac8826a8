"""Run devlint on the extracted real-bug cases and report recall per kind and split.

Usage:
    python benchmarks/realbugs/evaluate.py OUT [--cases cases.jsonl] [--split dev|held-out]
        [--devlint PATH] [--results results.jsonl] [--markdown report.md] [--reuse]

OUT is the directory written by extract.py.  For every case devlint is run twice, as

    devlint --no-cache --exit-zero --output-format json --select ALL OUT/<id>/before
    devlint --no-cache --exit-zero --output-format json --select ALL OUT/<id>/after

so it sees the buggy file together with the rest of its package (project-wide analysis).

Definitions (what the table reports):

* bug region: the case's `bug_lines` (1-based lines of the buggy file in the parent commit
  that the fix changes; for a pure insertion, the lines on both sides of it), each widened
  to the whole statement it belongs to.  "Statement" is the innermost Python statement
  (from `ast`) whose own lines contain the line; for a compound statement (if/for/while/
  with/try/def/class) only its header counts (from its first line to the line before its
  body), so a bug line in a loop header does not swallow the whole loop.  A line that
  belongs to no statement (blank, comment) stays as it is.
* found: devlint reports, in the buggy file, a finding whose code is the rule the case's
  kind maps to (cases.jsonl `rule`) and whose span (location.row .. end_location.row)
  intersects the bug region.
* recall: found cases / cases.  `any rule` counts a finding of any DL code in the bug
  region instead (it shows where the right place is flagged under another rule).
* fires on the fixed line: devlint reports, in the fixed file (the after version), a
  finding of the case's rule whose span intersects the fixed region (the case's
  `fixed_lines`, widened to statements of the fixed file the same way).  The rate is over
  all cases; the target is at most 3%.

The markdown table goes to stdout (and --markdown); per-case results to --results
(one JSON object a line: id, kind, split, found, any_codes, fixed_fire, seconds).
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DEVLINT = "/work/main/.venv/bin/devlint"
KINDS = [
    ("factory-without-device", "DL005"), ("numpy-on-accelerator", "DL007"),
    ("load-without-map-location", "DL008"), ("discarded-to", "DL004"),
    ("hardcoded-accelerator", "DL002"), ("plain-tensor-attribute", "DL006"),
    ("batch-not-moved", "DL003"), ("module-input-mismatch", "DL001"),
    ("mixed-device-other", "DL009"),
]


def statement_spans(source: str) -> list[tuple[int, int]]:
    """Own line span of every statement: headers only for compound statements."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        start = node.lineno
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.decorator_list:
            start = min(d.lineno for d in node.decorator_list)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = max(start, body[0].lineno - 1)
        else:
            end = node.end_lineno or node.lineno
        spans.append((start, end))
    return spans


def widen(lines: list[int], source: str | None) -> set[int]:
    region: set[int] = set(lines)
    if source is None:
        return region
    spans = statement_spans(source)
    for line in lines:
        best = None
        for s, e in spans:
            if s <= line <= e and (best is None or (e - s) < (best[1] - best[0])):
                best = (s, e)
        if best:
            region.update(range(best[0], best[1] + 1))
    return region


def run_devlint(devlint: str, target: Path, timeout: float) -> list[dict]:
    cmd = [devlint, "--no-cache", "--exit-zero", "--output-format", "json", "--select", "ALL", str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"devlint exit {proc.returncode} on {target}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout or "[]")


def findings_in(findings: list[dict], root: Path, path: str) -> list[dict]:
    want = (root / path).resolve()
    return [f for f in findings if Path(f["filename"]).resolve() == want]


def hits(findings: list[dict], region: set[int], code: str | None) -> list[str]:
    out = []
    for f in findings:
        if code is not None and f["code"] != code:
            continue
        start = f["location"]["row"]
        end = (f.get("end_location") or f["location"])["row"]
        if any(start <= line <= end for line in region):
            out.append(f["code"])
    return out


def evaluate_case(case: dict, out: Path, devlint: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    before = out / case["id"] / "before"
    after = out / case["id"] / "after"
    src_before = (before / case["path"]).read_text(encoding="utf-8", errors="replace")
    after_file = after / case["path"]
    src_after = after_file.read_text(encoding="utf-8", errors="replace") if after_file.exists() else None
    f_before = findings_in(run_devlint(devlint, before, timeout), before, case["path"])
    region = widen(case["bug_lines"], src_before)
    found_codes = hits(f_before, region, case["rule"])
    any_codes = sorted(set(hits(f_before, region, None)))
    fixed_fire = False
    if src_after is not None:
        f_after = findings_in(run_devlint(devlint, after, timeout), after, case["path"])
        fixed_region = widen(case["fixed_lines"], src_after)
        fixed_fire = bool(hits(f_after, fixed_region, case["rule"]))
    return {
        "id": case["id"], "kind": case["kind"], "rule": case["rule"], "split": case["split"],
        "code": case.get("code"), "found": bool(found_codes), "any_codes": any_codes,
        "fixed_fire": fixed_fire, "findings_in_file": len(f_before),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"


def table(results: list[dict]) -> str:
    splits = ["dev", "held-out"]
    lines = [
        "| kind (rule) | dev recall | held-out recall | all recall | all, any rule | fires on fixed line |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, rs: list[dict]) -> str:
        cells = [label]
        for sp in splits:
            sub = [r for r in rs if r["split"] == sp]
            cells.append(pct(sum(r["found"] for r in sub), len(sub)))
        cells.append(pct(sum(r["found"] for r in rs), len(rs)))
        cells.append(pct(sum(bool(r["any_codes"]) for r in rs), len(rs)))
        cells.append(pct(sum(r["fixed_fire"] for r in rs), len(rs)))
        return "| " + " | ".join(cells) + " |"

    for kind, rule in KINDS:
        rs = [r for r in results if r["kind"] == kind]
        if rs:
            lines.append(row(f"{kind} ({rule})", rs))
    lines.append(row("**all**", results))
    by_code = collections.defaultdict(list)
    for r in results:
        by_code[r.get("code") or "?"].append(r)
    lines.append("")
    lines.append("| code kind | cases | recall | fires on fixed line |")
    lines.append("|---|---|---|---|")
    for k in sorted(by_code):
        rs = by_code[k]
        lines.append(f"| {k} | {len(rs)} | {pct(sum(r['found'] for r in rs), len(rs))} | "
                     f"{pct(sum(r['fixed_fire'] for r in rs), len(rs))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory written by extract.py")
    parser.add_argument("--cases", type=Path, default=HERE / "cases.jsonl")
    parser.add_argument("--split", choices=["dev", "held-out"])
    parser.add_argument("--devlint", default=DEFAULT_DEVLINT)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--results", type=Path, help="write per-case results (JSON lines)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--reuse", action="store_true", help="skip cases already in --results")
    args = parser.parse_args()
    cases = [json.loads(x) for x in args.cases.read_text().splitlines() if x.strip()]
    if args.split:
        cases = [c for c in cases if c["split"] == args.split]
    done: dict[str, dict] = {}
    if args.reuse and args.results and args.results.exists():
        for x in args.results.read_text().splitlines():
            if x.strip():
                r = json.loads(x)
                done[r["id"]] = r
    results = []
    sink = open(args.results, "a" if args.reuse else "w") if args.results else None
    for i, case in enumerate(cases, 1):
        if case["id"] in done:
            results.append(done[case["id"]])
            continue
        if not (args.out / case["id"] / "before" / case["path"]).exists():
            sys.exit(f"{case['id']}: not extracted under {args.out} (run extract.py first)")
        r = evaluate_case(case, args.out, args.devlint, args.timeout)
        results.append(r)
        print(f"[{i}/{len(cases)}] {r['id']}: found={r['found']} any={r['any_codes']} "
              f"fixed_fire={r['fixed_fire']} ({r['seconds']}s)", file=sys.stderr)
        if sink:
            sink.write(json.dumps(r) + "\n")
            sink.flush()
    if sink:
        sink.close()
    md = table(results)
    print(md)
    if args.markdown:
        args.markdown.write_text(md + "\n")


if __name__ == "__main__":
    main()
