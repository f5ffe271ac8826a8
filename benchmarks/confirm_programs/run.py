"""Run the public-programs benchmark of `devlint confirm` and write its table (issue 15).

    python benchmarks/confirm_programs/prepare.py --snapshots /work/.mirror
    .venv/bin/python benchmarks/confirm_programs/run.py --table table.md
    .venv/bin/python benchmarks/confirm_programs/run.py --render-only --table table.md

For each program of the manifest that `prepare.py` wrote, and each variant (`clean`: the
program with synthetic data, `planted`: the same with one device bug), sequentially:

1. a plain run of the program's command (wall time, exit status);
2. `devlint confirm --output-format json [OPTIONS] -- COMMAND` (wall time, exit status,
   the verdict of every static finding, the MISSED BY STATIC errors);
3. for the planted variant, the same with `--keep-going` as well.

Every run starts from a fresh copy of the variant's folder, so a checkpoint written by
one run is never read by the next.  The results go to a JSON file; the Markdown table is
rendered from it, with a judgement per run:

* clean: right when the run completed with no CONFIRMED finding and no MISSED BY STATIC
  error (the originals have no device bug that these runs reach);
* planted: right when the planted bug was caught, by a CONFIRMED finding or a MISSED BY
  STATIC error on one of the plant's lines (the planted line and the lines `prepare.py`
  lists as related: where the bad value is used), and nothing else was CONFIRMED or
  missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

DEFAULT_ROOT = Path("/tmp/confirm_programs")
VERDICTS = ("CONFIRMED", "REFUTED", "NOT REACHED", "INCONCLUSIVE", "UNTESTED")


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def timed_run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run `argv` in `cwd`; return wall and CPU time, exit status and both streams.

    The CPU time is that of every process of the run that was waited for (the program,
    devlint's child, DataLoader workers, torchrun's workers), from `RUSAGE_CHILDREN`.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "argv": argv,
        "wall": round(wall, 2),
        "cpu": round(cpu, 2),
        "rc": rc,
        "stdout": out,
        "stderr_tail": _tail(err, 6),
    }


def _signature(report: Optional[dict[str, Any]], workdir: str) -> str:
    """What a confirm run concluded, without paths or times: to compare repeated runs."""
    if report is None:
        return "no report"
    findings = sorted(
        (
            f["code"],
            _rel(f["filename"], workdir),
            f["location"]["row"],
            f["confirmation"]["verdict"],
        )
        for f in report["findings"]
    )
    missed = sorted(
        (_rel(e["filename"], workdir), e["row"], e["op"]) for e in report["missed_by_static"]
    )
    return json.dumps([findings, missed, report["run"].get("completed")])


def _has_dl002(report: Optional[dict[str, Any]]) -> bool:
    return bool(report) and any(f["code"] == "DL002" for f in report["findings"])


def run_program(
    entry: dict[str, Any],
    devlint: str,
    env: dict[str, str],
    timeout: float,
    scratch: Path,
    repeat: int,
) -> dict[str, Any]:
    """Plain and confirm runs of both variants of one program, each `repeat` times.

    A run's record is its first repetition's, with `wall` the fastest of the repetitions
    (the machine is shared: the minimum is the least disturbed) and `stable` whether
    every repetition of a confirm run reached the same verdicts.
    """
    result: dict[str, Any] = {"name": entry["name"], "variants": {}}
    for variant, folder in entry["variants"].items():
        runs: dict[str, Any] = {}
        queue: list[tuple[str, Optional[list[str]]]] = [("plain", None), ("confirm", [])]
        if variant == "planted":
            queue.append(("keep-going", ["--keep-going"]))
        while queue:
            kind, extra = queue.pop(0)
            if extra is None:
                argv = list(entry["plain_argv"])
            else:
                argv = [
                    devlint,
                    "confirm",
                    "--output-format",
                    "json",
                    *extra,
                    *entry["confirm_options"],
                    "--",
                    *entry["argv"],
                ]
            first: Optional[dict[str, Any]] = None
            walls: list[float] = []
            cpus: list[float] = []
            signatures: set[str] = set()
            for attempt in range(repeat):
                work = scratch / f"{entry['name']}-{variant}-{kind}"
                if work.exists():
                    shutil.rmtree(work)
                shutil.copytree(folder, work)
                print(
                    f"{entry['name']} {variant} {kind} #{attempt + 1}: {' '.join(argv)}",
                    file=sys.stderr,
                    flush=True,
                )
                run = timed_run(argv, work, env, timeout)
                if extra is not None:
                    try:
                        run["report"] = json.loads(run["stdout"])
                    except json.JSONDecodeError:
                        run["report"] = None
                    run["workdir"] = str(work)
                    signatures.add(_signature(run["report"], str(work)))
                del run["stdout"]
                print(f"  {run['wall']:.1f}s exit {run['rc']}", file=sys.stderr, flush=True)
                walls.append(run["wall"])
                cpus.append(run["cpu"])
                first = first or run
                shutil.rmtree(work, ignore_errors=True)
            assert first is not None
            first["walls"] = walls
            first["wall"] = min(walls)
            first["cpus"] = cpus
            first["cpu"] = min(cpus)
            first["stable"] = len(signatures) <= 1
            runs[kind] = first
            if kind == "confirm" and variant == "clean" and _has_dl002(first.get("report")):
                # a hard-coded accelerator shows only without one: its own verdict
                queue.append(("cpu", ["--device", "cpu"]))
        result["variants"][variant] = runs
    return result


# --------------------------------------------------------------------------------------
# Judging and rendering


def _rel(path: str, workdir: str) -> str:
    try:
        return str(Path(path).relative_to(workdir))
    except ValueError:
        return path


def _site(item: Any) -> Optional[tuple[str, int]]:
    """A (path, line) from the report's ways of writing a site."""
    if isinstance(item, (list, tuple)) and len(item) >= 2 and isinstance(item[1], int):
        return str(item[0]), item[1]
    if isinstance(item, dict):
        path = item.get("path") or item.get("filename") or item.get("file")
        line = item.get("line") or item.get("row")
        if path and isinstance(line, int):
            return str(path), line
    return None


def missed_sites(event: dict[str, Any], workdir: str) -> set[tuple[str, int]]:
    """The error's own line and the creation and move sites of its operands."""
    sites = {(_rel(event.get("filename", ""), workdir), int(event.get("row", 0)))}
    for operand in event.get("operands", []):
        for item in [operand.get("origin"), *operand.get("moves", [])]:
            site = _site(item)
            if site:
                sites.add((_rel(site[0], workdir), site[1]))
    return sites


def judge(
    run: dict[str, Any], variant: str, plant: dict[str, Any], kind: str = "confirm"
) -> tuple[bool, str]:
    """Whether the run's verdicts are right, and why.

    The `--device cpu` run of a clean copy (`kind == "cpu"`) may confirm DL002 only: a
    hard-coded accelerator that a CPU-only machine does not have is a real defect of the
    original program, the one thing such a run can show.
    """
    report = run.get("report")
    if not report:
        return False, f"no report (exit {run['rc']}): {run['stderr_tail']}"
    if not run.get("stable", True):
        return False, "the repetitions reached different verdicts"
    workdir = run["workdir"]
    status = report["run"]
    confirmed = [f for f in report["findings"] if f["confirmation"]["verdict"] == "CONFIRMED"]
    missed = report["missed_by_static"]
    exception = status.get("exception") or {}
    crashed = not status.get("completed") and not exception.get("device_error")
    if kind == "cpu":
        others = [f for f in confirmed if f["code"] != "DL002"]
        if others or missed or crashed:
            return False, f"{len(others)} confirmed other than DL002, {len(missed)} missed"
        sites = ", ".join(
            f"{_rel(f['filename'], workdir)}:{f['location']['row']}" for f in confirmed
        )
        return True, (
            f"CONFIRMED DL002 at {sites}: the original hard-codes the accelerator"
            if confirmed
            else "no CONFIRMED, no device error"
        )
    if variant == "clean":
        if confirmed or missed or crashed or not status.get("completed"):
            why = status.get("stop_reason") or ""
            return (
                False,
                f"{len(confirmed)} confirmed, {len(missed)} missed, completed={status.get('completed')} {why}",
            )
        return True, "no CONFIRMED, no device error"
    related = {(r["file"], r["line"]) for r in plant["related"]}
    caught, stray = [], []
    for finding in confirmed:
        site = (_rel(finding["filename"], workdir), finding["location"]["row"])
        text = f"CONFIRMED {finding['code']} at {site[0]}:{site[1]}"
        (caught if site in related else stray).append(text)
    planted_lines = {(plant["file"], plant["line"])}
    for event in missed:
        sites = missed_sites(event, workdir)
        where = (_rel(event["filename"], workdir), int(event["row"]))
        text = f"MISSED BY STATIC at {where[0]}:{where[1]}"
        if sites & related:
            made = sorted((sites - {where}) & planted_lines)
            if made:
                text += f" (its CPU operand made at the planted line {made[0][0]}:{made[0][1]})"
            caught.append(text)
        else:
            stray.append(text)
    if crashed:
        stray.append(f"did not complete: {status.get('stop_reason')}")
    ok = bool(caught) and not stray
    text = "; ".join(caught) if caught else "planted bug NOT caught"
    if stray:
        text += "; WRONG: " + "; ".join(stray)
    return ok, text


def _findings_cell(report: dict[str, Any], workdir: str) -> tuple[str, str]:
    if not report["findings"]:
        return "none", "-"
    names, verdicts = [], []
    for f in report["findings"]:
        site = f"{f['code']} {_rel(f['filename'], workdir)}:{f['location']['row']}"
        names.append(site)
        verdicts.append(f"{f['code']}: {f['confirmation']['verdict']}")
    return "<br>".join(names), "<br>".join(verdicts)


def _missed_cell(report: dict[str, Any], workdir: str) -> str:
    cells = []
    for event in report["missed_by_static"]:
        origins = [
            f"{_rel(o['origin'][0], workdir)}:{o['origin'][1]}"
            for o in event.get("operands", [])
            if _site(o.get("origin")) and o.get("device") == "cpu"
        ]
        made = f" (cpu operand made at {', '.join(origins)})" if origins else ""
        cells.append(
            f"{_rel(event['filename'], workdir)}:{event['row']} `{event['op']}` "
            f"[{', '.join(event['devices'])}]{made}"
        )
    return "<br>".join(cells) or "-"


def render(results: dict[str, Any]) -> str:
    """The Markdown tables of a results file."""
    manifest = {p["name"]: p for p in results["manifest"]["programs"]}
    lines = [
        "| program | source | command (confirm options) | planted bug |",
        "|---|---|---|---|",
    ]
    for name, entry in manifest.items():
        plant = entry["plant"]
        where = f"`{plant['file']}:{plant['line']}`" + (" (deleted)" if plant["deleted"] else "")
        options = " ".join(entry["confirm_options"])
        command = f"`{' '.join(entry['argv'])}`" + (f" ({options})" if options else "")
        if entry["plain_argv"] != entry["argv"]:
            command += f"; plain: `{' '.join(entry['plain_argv'])}`"
        lines.append(
            f"| {name} | {entry['repo']}@{entry['commit'][:10]} `{entry['entry']}` | {command} | "
            f"{where}: {plant['what']} |"
        )
    lines += [
        "",
        "| program | variant | static findings | verdict per finding | MISSED BY STATIC | "
        "INCONCLUSIVE | plain s (exit) | confirm s (exit) | confirm/plain: wall (CPU) | right? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    total = inconclusive = right = runs = 0
    ratios: list[float] = []
    for result in results["results"]:
        entry = manifest[result["name"]]
        for variant, variant_runs in result["variants"].items():
            plain = variant_runs["plain"]
            for kind in ("confirm", "cpu", "keep-going"):
                run = variant_runs.get(kind)
                if run is None:
                    continue
                label = variant + {"confirm": "", "cpu": " `--device cpu`"}.get(
                    kind, " `--keep-going`"
                )
                report = run.get("report")
                ok, why = judge(run, variant, entry["plant"], kind)
                runs += 1
                right += ok
                if report is None:
                    lines.append(
                        f"| {result['name']} | {label} | ? | ? | ? | ? | {plain['wall']:.1f} "
                        f"({plain['rc']}) | {run['wall']:.1f} ({run['rc']}) | | NO: {why} |"
                    )
                    continue
                counts = report["run"]["verdicts"]
                n = sum(counts.get(v, 0) for v in VERDICTS)
                total += n
                inconclusive += counts.get("INCONCLUSIVE", 0)
                share = f"{counts.get('INCONCLUSIVE', 0)}/{n}"
                names, verdicts = _findings_cell(report, run["workdir"])
                ratio = run["wall"] / plain["wall"] if plain["wall"] else 0.0
                cpu_ratio = run.get("cpu", 0.0) / plain["cpu"] if plain.get("cpu") else 0.0
                if variant == "clean" and kind == "confirm" and plain["rc"] == 0:
                    ratios.append(ratio)
                ratio_cell = (
                    f"{ratio:.1f}x ({cpu_ratio:.1f}x)"
                    if plain["rc"] == 0
                    else "- (the plain run failed)"
                )
                lines.append(
                    f"| {result['name']} | {label} | {names} | {verdicts} | "
                    f"{_missed_cell(report, run['workdir'])} | {share} | {plain['wall']:.1f} "
                    f"({plain['rc']}) | {run['wall']:.1f} ({run['rc']}) | {ratio_cell} | "
                    f"{'yes' if ok else 'NO'}: {why} |"
                )
    share = f"{inconclusive}/{total} = {100 * inconclusive / total:.0f}%" if total else "0/0"
    ratios.sort()
    median = ratios[len(ratios) // 2] if ratios else 0.0
    lines += [
        "",
        f"Right: {right} of {runs} confirm runs.  INCONCLUSIVE: {share} of all verdicts.  "
        f"Wall time of `confirm` against the plain run on the clean copies whose plain "
        f"run works: median "
        f"{median:.1f}x, from {ratios[0] if ratios else 0:.1f}x to "
        f"{ratios[-1] if ratios else 0:.1f}x.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: run every program of the manifest (or those named), then render."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"what prepare.py wrote (default {DEFAULT_ROOT})",
    )
    parser.add_argument("--results", type=Path, help="default ROOT/results.json")
    parser.add_argument(
        "--table", type=Path, help="write the Markdown table here (default: stdout)"
    )
    parser.add_argument(
        "--only", nargs="*", help="run only these programs (others kept from results)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each command N times; wall time: the fastest"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for every run (default 1: on a shared machine, several "
        "intra-op threads make times vary tenfold; 0 leaves the environment as it is)",
    )
    parser.add_argument("--devlint", help="the devlint executable (default: next to this Python)")
    parser.add_argument("--render-only", action="store_true", help="render the saved results")
    args = parser.parse_args(argv)

    results_path = args.results or args.root / "results.json"
    manifest = json.loads((args.root / "manifest.json").read_text(encoding="utf-8"))
    if args.render_only:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    else:
        bindir = Path(sys.executable).parent
        devlint = args.devlint or str(bindir / "devlint")
        env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("PYTHONPATH", None)
        if args.threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
        previous: dict[str, Any] = {}
        if args.only and results_path.exists():
            previous = {r["name"]: r for r in json.loads(results_path.read_text())["results"]}
        scratch = Path(tempfile.mkdtemp(prefix="confirm_programs_runs_"))
        out = []
        for entry in manifest["programs"]:
            if args.only and entry["name"] not in args.only:
                if entry["name"] in previous:
                    out.append(previous[entry["name"]])
                continue
            out.append(run_program(entry, devlint, env, args.timeout, scratch, args.repeat))
        shutil.rmtree(scratch, ignore_errors=True)
        results = {
            "manifest": manifest,
            "results": out,
            "python": sys.version.split()[0],
            "cores": os.cpu_count(),
            "repeat": args.repeat,
            "threads": args.threads,
        }
        results_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    table = render(results)
    if args.table:
        args.table.write_text(table, encoding="utf-8")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
